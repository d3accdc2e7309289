#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scenario 3: classification scale. The connection rate through a forwarding
# rule as its number of branches grows, for address rules (N-1 /32 sources
# that do not match, and 127.0.0.1/32 that does) and content rules (N-1
# patterns that do not match, and 'GET /' that does). All rules exist at
# once on separate ports; they are measured in rotation.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

P_BACK=48301
T_WRK=$(bench_secs 2 1)
if [ "$BENCH_SMOKE" = 1 ]; then
	SIZES=(1 16)
else
	SIZES=(1 64 1024)
fi

bench_begin s3 "Classification scale"
bench_desc "Connection rate (wrk, 8 connections, Connection: close, 100-byte file from nginx, ${T_WRK} s) through a forwarding rule with N branches, the matching one created last: address rules (N-1 non-matching /32 sources, then 127.0.0.1/32) and content rules (N-1 non-matching 16-byte patterns, then 'GET /'). Ratios against N = 1."

for n in "${SIZES[@]}"; do
	bench_variant "$n" "$n branches"
done
bench_metric address_rate req/s higher 1 - "connection rate through an address rule"
bench_metric content_rate req/s higher 1 - "connection rate through a content rule"

command -v wrk >/dev/null || bench_fail "wrk missing"
command -v nginx >/dev/null || bench_fail "nginx missing"
[ -d "$SKEX_CFS/forward" ] || bench_skip "$SKEX_CFS/forward missing (module not loaded?)"

# rule ports: address 48310+i, content 48320+i
ports=()
for ((i = 0; i < ${#SIZES[@]}; i++)); do
	ports+=($((48310 + i)) $((48320 + i)))
done
bench_at_exit "fw_clear ${ports[*]}"
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
}

for ((i = 0; i < ${#SIZES[@]}; i++)); do
	n=${SIZES[$i]}
	bench_log "making rules with $n branches"
	if ! make_rule $((48310 + i)) address "$n" || ! make_rule $((48320 + i)) content "$n"; then
		fw_clear "${ports[@]}"
		bench_skip "forwarding not available: $fw_why"
	fi
done

www=''
bench_tmpdir www nginx
bench_nginx "$www" $P_BACK
for p in "${ports[@]}"; do
	fw_enable "$p" || bench_skip "forwarding not available: $fw_why"
	bench_wait_port "$p" || bench_fail "no listener on the rule's port $p"
done

for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	k=${#SIZES[@]}
	for ((i = 0; i < k; i++)); do
		j=$(((i + rep - 1) % k))
		n=${SIZES[$j]}
		r=$(bench_wrk "http://127.0.0.1:$((48310 + j))/small.html" "$T_WRK" 8 close) ||
			bench_fail "wrk (address, $n)"
		bench_result address_rate "$n" "$rep" "${r%% *}"
		r=$(bench_wrk "http://127.0.0.1:$((48320 + j))/small.html" "$T_WRK" 8 close) ||
			bench_fail "wrk (content, $n)"
		bench_result content_rate "$n" "$rep" "${r%% *}"
	done
done
bench_end
