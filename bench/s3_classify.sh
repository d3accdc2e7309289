#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scenario 3: classification scale. The connection rate and latency through
# a forwarding rule as its number of branches grows, for address rules (N-1
# /32 sources that do not match, and 127.0.0.1/32 that does) and content
# rules (N-1 patterns that do not match, and 'GET /' that does). All rules
# exist at once on separate ports; they are measured in rotation. Rules up
# to 128 branches are made through configfs (mkdir per branch); bigger
# ones (4096 address, 1000 content branches) through the sockopt front
# (TCP_FW_ADD_BRANCH), in one process (skex_bench fwrule). Both are timed.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

P_BACK=48301
T_WRK=$(bench_secs 1 1)
# (4096: the engine's limit of branches per rule)
if [ "$BENCH_SMOKE" = 1 ]; then
	ADDR_SIZES=(1 4096)
	CONT_SIZES=(1 1000)
else
	ADDR_SIZES=(1 100 4096)
	CONT_SIZES=(1 10 100 1000)
fi
# address rules with more branches than this: through the sockopt front, and
# deleted whole. A configfs-made rule is taken apart by rmdir of each
# branch, and on 6.1 deleting one branch of a rule of more than about 128
# trips a kernel warning (an order > 1 __GFP_NOFAIL kcalloc of the
# classifier table in __skex_fw_rule_commit; panic_on_warn ends the VM).
CFS_MAX=128

bench_begin s3 "Classification scale"
bench_desc "Per-connection classification cost: connection rate and median latency (wrk --latency, 8 connections, Connection: close, 100-byte file from nginx, ${T_WRK} s) through a forwarding rule with N branches: address rules with ${ADDR_SIZES[*]} branches (N-1 non-matching /32 sources, then 127.0.0.1/32) and content rules with ${CONT_SIZES[*]} branches (N-1 non-matching 16-byte patterns, and 'GET /'). Ratios against N = 1: neither lookup may grow with N (longest prefix wins; content: one automaton per rule, issue 13 targets ≥ 0.95 × one branch at 1,000). Rules of up to $CFS_MAX branches are made through configfs (mkdir of all branch directories at once, then one write per attribute, no fork); bigger ones through the sockopt front in one process (skex_bench fwrule: TCP_FW_ADD_RULE, then TCP_FW_ADD_BRANCH per branch, the matching branch first so that none has to be deleted when the engine's per-rule limit cuts the rule short; an address match is the longest prefix whatever the order). In configfs-made rules the matching branch is created last. setup_s: the time it took. Rules are deleted whole (sockopt TCP_FW_DEL_RULE) or branch by branch (configfs rmdir; scale:rules_init deletes one branch of a 3072-branch rule)."

command -v wrk >/dev/null || bench_fail "wrk missing"
command -v nginx >/dev/null || bench_fail "nginx missing"
[ -x "$BENCH_BIN" ] || bench_fail "$BENCH_BIN missing"
[ -d "$SKEX_CFS/forward" ] || bench_skip "$SKEX_CFS/forward missing (module not loaded?)"

# rule ports: address 48310+i, content 48320+i
ports=()
for ((i = 0; i < ${#ADDR_SIZES[@]}; i++)); do
	ports+=($((48310 + i)))
done
for ((i = 0; i < ${#CONT_SIZES[@]}; i++)); do
	ports+=($((48320 + i)))
done
sock_ports=()
sock_clear()
{
	local p
	for p in "${sock_ports[@]}"; do
		"$BENCH_BIN" fwdel address "$p" >/dev/null
		"$BENCH_BIN" fwdel content "$p" >/dev/null
	done
}
bench_at_exit "sock_clear; fw_clear ${ports[*]}"
fw_clear "${ports[@]}"

# make_rule PORT TYPE N (one mkdir for all branches: forks are dear here)
make_rule()
{
	local p=$1 type=$2 n=$3 j d pat
	local -a dirs=()
	fw_rule "$p" "$type" $P_BACK || return 1
	d=$SKEX_CFS/forward/$p/branches
	for ((j = 1; j < n; j++)); do
		dirs+=("$d/b$j")
	done
	if [ ${#dirs[@]} -gt 0 ]; then
		fw_why=$(mkdir "${dirs[@]}" 2>&1) || { fw_why="mkdir branches: ${fw_why##*: }"; return 1; }
	fi
	for ((j = 1; j < n; j++)); do
		if [ "$type" = address ]; then
			fw_attrs "$d/b$j" source "10.$((j >> 16 & 255)).$((j >> 8 & 255)).$((j & 255))/32" \
				port $P_BACK || return 1
		else
			printf -v pat 'X-NoMatch-%06d' "$j"
			fw_attrs "$d/b$j" pattern "$pat" port $P_BACK || return 1
		fi
	done
	if [ "$type" = address ]; then
		fw_branch "$p" match source 127.0.0.1/32 port $P_BACK || return 1
	else
		fw_branch "$p" match pattern "GET /" port $P_BACK || return 1
	fi
	fw_enable "$p"
}

# the variants: every size of either kind, named by the branches made
declare -A made_addr made_cont setup_addr setup_cont
addr_vars=() cont_vars=()
for ((i = 0; i < ${#ADDR_SIZES[@]}; i++)); do
	n=${ADDR_SIZES[$i]} p=$((48310 + i))
	bench_log "making an address rule with $n branches"
	t0=$EPOCHREALTIME
	if [ "$n" -le "$CFS_MAX" ]; then
		make_rule "$p" address "$n" || { fw_clear "${ports[@]}"; bench_skip "forwarding not available: $fw_why"; }
		m=$n
	else
		sock_ports+=("$p")
		out=$("$BENCH_BIN" fwrule address "$p" $P_BACK "$n" 2>&1) ||
			bench_fail "skex_bench fwrule address $n: $out"
		bench_kv "$out" branches
		m=$REPLY
		bench_kv "$out" limited
		[ "$REPLY" = 1 ] && bench_note "address rule: $n branches wanted, the engine took $m (TCP_FW_ADD_BRANCH: ENOSPC, its per-rule limit); measured with $m"
	fi
	t1=$EPOCHREALTIME
	made_addr[$i]=$m
	setup_addr[$i]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	bench_log "address rule with $m branches made in ${setup_addr[$i]} s"
	addr_vars+=("$m")
done
for ((i = 0; i < ${#CONT_SIZES[@]}; i++)); do
	n=${CONT_SIZES[$i]} p=$((48320 + i))
	bench_log "making a content rule with $n branches"
	t0=$EPOCHREALTIME
	if [ "$n" -le "$CFS_MAX" ]; then
		make_rule "$p" content "$n" || { fw_clear "${ports[@]}"; bench_skip "forwarding not available: $fw_why"; }
	else
		sock_ports+=("$p")
		out=$("$BENCH_BIN" fwrule content "$p" $P_BACK "$n" 2>&1) ||
			bench_fail "skex_bench fwrule content $n: $out"
	fi
	t1=$EPOCHREALTIME
	made_cont[$i]=$n
	setup_cont[$i]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	cont_vars+=("$n")
done
mapfile -t all_vars < <(printf '%s\n' "${addr_vars[@]}" "${cont_vars[@]}" | sort -n -u)
for v in "${all_vars[@]}"; do
	bench_variant "$v" "$v branches"
done
bench_metric address_rate conn/s higher 1 - "connection rate through an address rule"
bench_metric address_p50 ms lower 1 - "median request latency through an address rule"
bench_metric content_rate conn/s higher 1 "1000:ratio>=0.95" "connection rate through a content rule"
bench_metric content_p50 ms lower 1 - "median request latency through a content rule"
bench_metric address_setup_s s none - - "time to make the address rule (configfs up to $CFS_MAX branches, else sockopt)"
bench_metric content_setup_s s none - - "time to make the content rule (configfs up to $CFS_MAX branches, else sockopt)"
bench_summary address_rate content_rate
for ((i = 0; i < ${#ADDR_SIZES[@]}; i++)); do
	bench_result address_setup_s "${made_addr[$i]}" 1 "${setup_addr[$i]}"
done
for ((i = 0; i < ${#CONT_SIZES[@]}; i++)); do
	bench_result content_setup_s "${made_cont[$i]}" 1 "${setup_cont[$i]}"
done

www=''
bench_tmpdir www nginx
bench_nginx "$www" $P_BACK
for p in "${ports[@]}"; do
	bench_wait_port "$p" || bench_fail "no listener on the rule's port $p"
done

# measure TYPE INDEX REP
measure()
{
	local type=$1 i=$2 rep=$3 p v r cr p50
	if [ "$type" = address ]; then
		p=$((48310 + i)) v=${made_addr[$i]}
	else
		p=$((48320 + i)) v=${made_cont[$i]}
	fi
	r=$(bench_wrk_lat "http://127.0.0.1:$p/small.html" "$T_WRK" 8 close) || bench_fail "wrk ($type, $v)"
	read -r cr _ _ p50 _ <<<"$r"
	bench_result "${type}_rate" "$v" "$rep" "$cr"
	bench_result "${type}_p50" "$v" "$rep" "$p50"
}

for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	k=${#ADDR_SIZES[@]}
	for ((i = 0; i < k; i++)); do
		measure address $(((i + rep - 1) % k)) "$rep"
	done
	k=${#CONT_SIZES[@]}
	for ((i = 0; i < k; i++)); do
		measure content $(((i + rep - 1) % k)) "$rep"
	done
done
for ((i = 0; i < ${#ADDR_SIZES[@]}; i++)); do
	read -r dh dr <<<"$(fw_counters $((48310 + i)))"
	[ "${dh:-0}" = 0 ] && [ "${dr:-0}" = 0 ] && continue
	bench_note "address rule with ${made_addr[$i]} branches: default_hits ${dh:-?}, dropped ${dr:-?}"
done
bench_end
