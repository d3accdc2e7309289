#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scenario 4: rate accuracy of socket groups against the kernel's own tools.
# Output rate at 100 KB/s, 10 MB/s and 200 MB/s: one loopback connection per
# method whose accepted side writes as fast as it can, limited by an
# output_rate group (skex), an htb class on lo that matches the port (tc) or
# an nftables byte limit on the port; achieved / target over 10 s and the
# sender's CPU per MB. Accept rate at 10, 100 and 1000 conn/s: clients offer
# twice the quota, limited by an accept_rate group (skex) or an nftables
# limit on SYNs. What the load offers without a limit is measured in the
# same boot: a limit above it is not binding and is reported so. Step
# response: the quota steps 1 -> 4 -> 2 MB/s; plot from repetition 1. The
# methods run side by side (each on its own port) when the machine carries
# twice their load together, else one after the other.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

W=$(bench_secs 10 1.5)		# accuracy window
SKIP=$(bench_secs 1 0.5)	# its settling part, left out
W_NB=$(bench_secs 1.5 1)		# a window when the limit does not bind
W_OFF=$(bench_secs 2 1)		# measuring what is offered
W_ALL=$(bench_secs 5 1)		# the whole guest's CPU, each limit alone
STEP=$(bench_secs 3 0.5)
OUT_Q=(100000 10000000 200000000)
OUT_N=(100k 10m 200m)
OUT_L=("100 KB/s" "10 MB/s" "200 MB/s")
# the sender's SO_SNDBUF (0: autotuned): below a qdisc (tc), autotuning grows
# the socket's queue to megabytes, which write() takes at once and the limit
# lets out over the next tens of seconds; at 100 KB/s that is several times
# what the run delivers
OUT_SB=(65536 0 0)
ACC_Q=(10 100 1000)
SQ=(1000000 4000000 2000000)
# how many of the rates (smoke: the lowest only, 100 KB/s and 10 conn/s
# side by side; the others are measured the same way)
N_RATES=$(bench_secs 3 1)
P_SK=48101 P_TC=48103 P_NF=48104 P_NO=48105
A_SK=48111 A_NF=48112 A_NO=48113 A_SK5=48114 A_SKE=48115
G_OUT=48101 G_ACC=48111 G_ACC5=48114 G_ACCE=48115

bench_begin s4 "Rate accuracy (socket groups vs tc and nftables)"
bench_desc "Output rate: one loopback connection per method whose accepted side writes 64 KB blocks as fast as it can for $W s, limited to 100 KB/s, 10 MB/s or 200 MB/s by an output_rate socket group on the server port (skex, quota in bytes/s), an htb class on lo that a u32 filter on the server port feeds (tc; burst 128 KB, the smallest that passes lo's 64 KB packets; other traffic bypasses it) or an nftables byte limit on the server port (limit rate over, drop); achieved / target is the rate received after the first $SKIP s. The three methods run at the same time, each on its own port, when the unlimited load (none, below) reached at least twice the sum of their quotas, else one after the other. cpu: the sender's user + system time (getrusage) per MB its write()s took after the first $SKIP s; cpu_all: the whole guest's per MB received, each method alone at 100 KB/s for ${W_ALL} s beside a SCHED_IDLE soaker on each CPU whose lost loops, against an idle second, are the CPU the load took wherever the kernel did the work. At 100 KB/s the sender's SO_SNDBUF is 64 KB for every method: with autotuning, write() fills tc's socket queue with megabytes that the limit sends over the next tens of seconds (3.8 MB written, 1.1 MB received in 10 s), and a CPU per MB written counted bytes that never went out. Accept rate: clients open 1.5 × the quota per second for $W s (non-blocking connect); limit 10, 100 or 1000 conn/s by an accept_rate group (skex: burst 1, the default, a blocking accept(); skex5: burst 5; skexep: burst 1, an edge-triggered epoll acceptor, as nginx) or an nftables limit on SYNs to the port; achieved / target after the first $SKIP s (side by side when the unlimited rate is at least twice what they offer together). The 100 KB/s output and 10 conn/s accept runs share their window when both run side by side. none: the same load without a limit, measured in this boot (${W_OFF} s): where it stays below the quota, the limit cannot bind, the run is shorter ($W_NB s) and its ratio only says what the load reached. Step response: the three output limits side by side while the quota steps 1 → 4 → 2 MB/s every $STEP s, received bytes counted every 100 ms; settling: from the step until the trailing 0.5 s average is within 10% of the new quota (0.5 s at best; the step's length when never). The changes are made at once for the three methods, but tc and nft are programs that take a second or more to start under TCG: apply_*_ms say how late each change took effect, and it is part of their settling. SPEC: output within 2% over 10 s; accepts at most rate·T + burst."

bench_variant skex "socket group (configfs)"
bench_variant skex5 "accept_rate group with burst 5 (nftables' default burst)"
bench_variant skexep "accept_rate group (burst 1), an edge-triggered epoll acceptor (as nginx)"
bench_variant tc "tc: htb class on lo, u32 filter on the port"
bench_variant nft "nftables limit rate over ... drop"
bench_variant none "no limit: what the load offers"

[ -x "$BENCH_BIN" ] || bench_fail "$BENCH_BIN missing"

# ---- is the group engine there? ----
gdir() { echo "$SKEX_CFS/groups/$1"; }
bench_at_exit "bench_group_clear $G_OUT $G_ACC $G_ACC5 $G_ACCE"
bench_group_clear $G_OUT $G_ACC $G_ACC5 $G_ACCE
have_skex=1
if ! bench_group $G_OUT output_rate $P_SK "${OUT_Q[0]}"; then
	bench_group_clear $G_OUT
	# BENCH_FORCE=1: measure the baselines all the same (to try them out)
	[ "${BENCH_FORCE:-0}" = 1 ] || bench_skip "socket groups not available: $bench_why"
	bench_vskip skex "socket groups not available: $bench_why"
	have_skex=0
fi
bench_group_clear $G_OUT
have_burst=0
if [ "$have_skex" = 1 ] && bench_group $G_ACC accept_rate $A_SK 1 &&
	[ -e "$(gdir $G_ACC)/ports/$A_SK/burst" ]; then
	have_burst=1
fi
bench_group_clear $G_ACC
[ "$have_burst" = 1 ] || bench_vskip skex5 "no accept_rate burst in this module"

# ---- baselines ----
# tc: htb without a default class (what no filter picks is sent directly)
tc_set()
{
	local r=$(($1 * 8))bit
	tc class "$2" dev lo parent 1: classid 1:10 htb rate "$r" ceil "$r" \
		burst 131072 cburst 131072 quantum 65536
}
tc_setup()
{
	tc qdisc replace dev lo root handle 1: htb &&
		tc_set "$1" add &&
		tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip sport $P_TC 0xffff flowid 1:10
}
tc_clear() { tc qdisc del dev lo root 2>/dev/null; return 0; }
have_tc=0 have_nft=0
bench_at_exit tc_clear
command -v tc >/dev/null && tc_setup 1000000 2>/dev/null && have_tc=1
tc_clear
[ "$have_tc" = 1 ] || bench_vskip tc "tc htb + u32 on lo not available"
nft_clear() { nft delete table inet skexbench 2>/dev/null; return 0; }
# nft_drop CHAIN: one chain (the other may be in use)
nft_drop() { printf 'flush chain inet skexbench %s\ndelete chain inet skexbench %s\n' "$1" "$1" | nft -f - 2>/dev/null; return 0; }
bench_at_exit nft_clear
if command -v nft >/dev/null && nft add table inet skexbench 2>/dev/null; then
	have_nft=1
	nft_clear
else
	bench_vskip nft "nftables not available"
fi

# ---- output limits ----
nft_out()
{
	nft -f - <<EON
flush chain inet skexbench out
add rule inet skexbench out tcp sport $P_NF limit rate over $1 bytes/second burst 131072 bytes drop
EON
}

# set_out METHOD QUOTA: (re)apply the output limit
set_out()
{
	case $1 in
	skex) bench_cfs_write "$(gdir $G_OUT)/ports/$P_SK/quota" "$2" ;;
	tc) tc_set "$2" change ;;
	nft) nft_out "$2" ;;
	esac
}

setup_out()
{
	case $1 in
	skex) bench_group $G_OUT output_rate $P_SK "$2" || { bench_log "group: $bench_why"; return 1; } ;;
	tc) tc_setup "$2" ;;
	nft) nft -f - <<EON ;;	# one nft run: each costs a second under TCG
add table inet skexbench
add chain inet skexbench out { type filter hook output priority 0; }
flush chain inet skexbench out
add rule inet skexbench out tcp sport $P_NF limit rate over $2 bytes/second burst 131072 bytes drop
EON
	esac
}

clear_out()
{
	case $1 in
	skex) bench_group_clear $G_OUT ;;
	tc) tc_clear ;;
	nft) nft_drop out ;;
	esac
	return 0
}

port_out()
{
	case $1 in
	skex) echo $P_SK ;; tc) echo $P_TC ;; nft) echo $P_NF ;; none) echo $P_NO ;;
	esac
}

# rate_file METHOD: where a rate run's output goes
rate_file() { echo "$BENCH_OUT/s4-$1.raw"; }

# rate_start METHOD SECS [SNDBUF]: start a rate run in the background (pid:
# rate_pid)
rate_start()
{
	"$BENCH_BIN" rate "$(port_out "$1")" "$2" 100 "$SKIP" "${3:-0}" \
		>"$(rate_file "$1")" 2>&1 &
	rate_pid=$!
}

# rate_wait PID METHOD: win_rate and cpu_ms_per_mb of the run (REPLY, cpu)
rate_wait()
{
	local out
	wait "$1" || bench_fail "skex_bench rate ($2): $(tail -n 3 "$(rate_file "$2")")"
	out=$(<"$(rate_file "$2")")
	bench_kv "$out" cpu_ms_per_mb
	cpu=$REPLY
	bench_kv "$out" win_rate || bench_fail "skex_bench rate ($2): no summary"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }

methods=()
[ "$have_skex" = 1 ] && methods+=(skex)
[ "$have_tc" = 1 ] && methods+=(tc)
[ "$have_nft" = 1 ] && methods+=(nft)
acc_methods=()
[ "$have_skex" = 1 ] && acc_methods+=(skex)
[ "$have_burst" = 1 ] && acc_methods+=(skex5)
[ "$have_skex" = 1 ] && acc_methods+=(skexep)
[ "$have_nft" = 1 ] && acc_methods+=(nft)

# ---- what the loads offer without a limit ----
off_out=() off_acc=()
for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	bench_log "rep $rep: offered load, no limit"
	rate_start none "$W_OFF"
	rate_wait $rate_pid none
	off_out+=("$REPLY")
	out=$("$BENCH_BIN" accepts $A_NO "$W_OFF" 4000 "$(awk -v t="$W_OFF" 'BEGIN { print t / 4 }')") ||
		bench_fail "skex_bench accepts (none): $out"
	bench_kv "$out" rate
	off_acc+=("$REPLY")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
off_out_med=$(median "${off_out[@]}")
off_acc_med=$(median "${off_acc[@]}")
binds() { awk -v o="$1" -v q="$2" 'BEGIN { exit !(o >= 1.05 * q) }'; }

for ((i = 0; i < N_RATES; i++)); do
	q=${OUT_Q[$i]} t="skex:in=0.98..1.02"
	what="output rate ${OUT_L[$i]}: achieved / target"
	if ! binds "$off_out_med" "$q"; then
		t=-
		what+=" (not binding here: offered $(awk -v o="$off_out_med" 'BEGIN { printf "%.1f", o / 1e6 }') MB/s < quota)"
		bench_note "output ${OUT_L[$i]}: offered $(awk -v o="$off_out_med" 'BEGIN { printf "%.1f", o / 1e6 }') MB/s without a limit (median) < quota $((q / 1000000)) MB/s: limit not binding, the ratio is what the load reached"
	fi
	bench_metric "out_${OUT_N[$i]}" ratio none - "$t" "$what"
done
for ((i = 0; i < N_RATES; i++)); do
	bench_metric "cpu_${OUT_N[$i]}" ms/MB lower - - "sender CPU per MB written after the first ${SKIP} s at the ${OUT_L[$i]} limit"
done
bench_metric cpu_all_100k ms/MB lower - - "the whole guest's CPU per MB received at the ${OUT_L[0]} limit, each method alone for ${W_ALL} s: what SCHED_IDLE soakers, one per CPU, lost against an idle run (getrusage() misses the work a softirq does in the idle task: tc's qdisc releasing packets from its timer, and the receiver's TCP behind it)"
# the sender's CPU per MB at most 1.2 × tc's (a cost: the ratio is tc / skex)
bench_xratio cpu_100k skex tc "ratio>=0.8333"
bench_xratio cpu_all_100k skex tc -
for ((i = 0; i < N_RATES; i++)); do
	q=${ACC_Q[$i]} t="skex:in=0.97..1.03"
	# at 1000/s a token a millisecond: burst 1 keeps up with what a
	# wake-up's latency under TCG leaves, burst 5 with nft
	[ "$q" = 1000 ] && t="skex:in=0.95..1.03;skex5:in=0.98..1.03;skexep:in=0.95..1.03"
	what="accept rate $q conn/s ($((3 * q / 2))/s offered): achieved / target"
	if ! binds "$off_acc_med" "$q"; then
		t=-
		what+=" (not binding here: $(printf %.0f "$off_acc_med") conn/s offered)"
		bench_note "accepts $q/s: the load reached $(printf %.0f "$off_acc_med") conn/s without a limit (median) < quota: limit not binding, the ratio is what the load reached"
	fi
	bench_metric "acc_$q" ratio none - "$t" "$what"
done
bench_metric offered_mbps MB/s none - - "no limit: loopback rate one writer reaches (${W_OFF} s)"
bench_metric offered_cps conn/s none - - "no limit: accepts per second the client reaches (offering up to 4000/s)"
bench_metric settle_up_ms ms lower - - "settling after the step up (1 → 4 MB/s)"
bench_metric settle_down_ms ms lower - - "settling after the step down (4 → 2 MB/s)"
bench_metric apply_up_ms ms lower - - "how late the step up took effect: the limit's command (configfs write, tc, nft) done, after the nominal step"
bench_metric apply_down_ms ms lower - - "the same for the step down"
bench_summary out_100k out_10m out_200m acc_10 acc_100 acc_1000 cpu_10m
[ "$N_RATES" = 3 ] || bench_note "smoke run: the lowest limits only"
for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	bench_result offered_mbps none "$rep" "$(awk -v o="${off_out[$((rep - 1))]}" 'BEGIN { printf "%.2f", o / 1e6 }')"
	bench_result offered_cps none "$rep" "${off_acc[$((rep - 1))]}"
done

# out_side INDEX: are the output limits at OUT_Q[INDEX] measured side by
# side (the machine carries twice their sum)?
out_side() { binds "$off_out_med" $((2 * ${#methods[@]} * OUT_Q[$1])); }
out_secs() { if binds "$off_out_med" "${OUT_Q[$1]}"; then echo "$W"; else echo "$W_NB"; fi; }

# out_start INDEX: set up and start every method's run side by side
declare -A opid apid
out_start()
{
	local m
	for m in "${methods[@]}"; do
		setup_out "$m" "${OUT_Q[$1]}" || bench_fail "cannot set up $m"
	done
	for m in "${methods[@]}"; do
		rate_start "$m" "$(out_secs "$1")" "${OUT_SB[$1]}"
		opid[$m]=$rate_pid
	done
}

# out_collect INDEX REP
out_collect()
{
	local m
	for m in "${methods[@]}"; do
		rate_wait "${opid[$m]}" "$m"
		bench_result "out_${OUT_N[$1]}" "$m" "$2" "$(ratio "$REPLY" "${OUT_Q[$1]}")"
		bench_result "cpu_${OUT_N[$1]}" "$m" "$2" "$cpu"
		clear_out "$m"
	done
}

# out_run INDEX REP: side by side or in turn
out_run()
{
	local i=$1 rep=$2 m
	if out_side "$i"; then
		out_start "$i"
		out_collect "$i" "$rep"
		return
	fi
	for m in "${methods[@]}"; do
		setup_out "$m" "${OUT_Q[$i]}" || bench_fail "cannot set up $m"
		rate_start "$m" "$(out_secs "$i")" "${OUT_SB[$i]}"
		rate_wait $rate_pid "$m"
		clear_out "$m"
		bench_result "out_${OUT_N[$i]}" "$m" "$rep" "$(ratio "$REPLY" "${OUT_Q[$i]}")"
		bench_result "cpu_${OUT_N[$i]}" "$m" "$rep" "$cpu"
	done
}

# soak_read: the loops, secs and cpus (the caller's) of the last soak
soak_read()
{
	local out
	out=$(<"$BENCH_OUT/s4-soak.raw")
	bench_kv "$out" loops && loops=$REPLY
	bench_kv "$out" secs && secs=$REPLY
	bench_kv "$out" cpus && cpus=$REPLY
}

# cpu_all_run REP: each output method alone at the lowest limit beside a
# soaker: the whole guest's CPU per MB received (cpu_all_100k), wherever the
# kernel did the work
cpu_all_run()
{
	local m base loops secs cpus spid got
	"$BENCH_BIN" soak 1 >"$BENCH_OUT/s4-soak.raw" || bench_fail "skex_bench soak"
	soak_read
	# loops per second of one CPU
	base=$(awk -v l="$loops" -v s="$secs" -v c="$cpus" 'BEGIN { printf "%.0f", l / s / c }')
	for m in "${methods[@]}"; do
		setup_out "$m" "${OUT_Q[0]}" || bench_fail "cannot set up $m"
		"$BENCH_BIN" soak "$W_ALL" >"$BENCH_OUT/s4-soak.raw" &
		spid=$!
		rate_start "$m" "$W_ALL" "${OUT_SB[0]}"
		rate_wait $rate_pid "$m"
		wait $spid || bench_fail "skex_bench soak ($m)"
		clear_out "$m"
		bench_kv "$(<"$(rate_file "$m")")" bytes
		got=$REPLY
		soak_read
		bench_result cpu_all_100k "$m" "$1" "$(awk -v b="$base" -v l="$loops" \
			-v s="$secs" -v c="$cpus" -v n="$got" 'BEGIN {
				busy = c * s - l / b; if (busy < 0) busy = 0
				printf "%.3f", busy * 1000 / (n / 1e6) }')"
	done
}

# ---- accept limits ----
acc_port() { case $1 in skex) echo $A_SK ;; skex5) echo $A_SK5 ;; skexep) echo $A_SKE ;; nft) echo $A_NF ;; esac; }
setup_acc()
{
	case $1 in
	skex) bench_group $G_ACC accept_rate $A_SK "$2" || bench_fail "accept_rate group: $bench_why" ;;
	skex5)
		bench_group $G_ACC5 accept_rate $A_SK5 "$2" || bench_fail "accept_rate group: $bench_why"
		bench_cfs_write "$(gdir $G_ACC5)/ports/$A_SK5/burst" 5 || bench_fail "burst 5 refused"
		;;
	skexep) bench_group $G_ACCE accept_rate $A_SKE "$2" || bench_fail "accept_rate group: $bench_why" ;;
	nft) nft -f - <<EON || bench_fail "nft SYN limit"
add table inet skexbench
add chain inet skexbench in { type filter hook input priority 0; }
add rule inet skexbench in tcp dport $A_NF tcp flags & (syn | ack) == syn limit rate over $2/second drop
EON
		;;
	esac
}
clear_acc() { case $1 in skex) bench_group_clear $G_ACC ;; skex5) bench_group_clear $G_ACC5 ;; skexep) bench_group_clear $G_ACCE ;; nft) nft_drop in ;; esac; }

acc_offer() { echo $((3 * ACC_Q[$1] / 2)); }
acc_side() { binds "$off_acc_med" $((2 * ${#acc_methods[@]} * $(acc_offer "$1"))); }
acc_secs() { if binds "$off_acc_med" "${ACC_Q[$1]}"; then echo "$W"; else echo "$W_NB"; fi; }

# acc_start1 INDEX METHOD
acc_start1()
{
	local how=()
	[ "$2" = skexep ] && how=(epoll)
	setup_acc "$2" "${ACC_Q[$1]}"
	"$BENCH_BIN" accepts "$(acc_port "$2")" "$(acc_secs "$1")" "$(acc_offer "$1")" "$SKIP" \
		"${how[@]}" >"$BENCH_OUT/s4-acc-$2.raw" 2>&1 &
	apid[$2]=$!
}

# acc_collect1 INDEX METHOD REP
acc_collect1()
{
	local f=$BENCH_OUT/s4-acc-$2.raw
	wait "${apid[$2]}" || bench_fail "skex_bench accepts ($2): $(tail -n 3 "$f")"
	clear_acc "$2"
	bench_kv "$(<"$f")" rate
	bench_result "acc_${ACC_Q[$1]}" "$2" "$3" "$(ratio "$REPLY" "${ACC_Q[$1]}")"
}

acc_start() { local m; for m in "${acc_methods[@]}"; do acc_start1 "$1" "$m"; done; }
acc_collect() { local m; for m in "${acc_methods[@]}"; do acc_collect1 "$1" "$m" "$2"; done; }

# acc_run INDEX REP: side by side or in turn
acc_run()
{
	local m
	if acc_side "$1"; then
		acc_start "$1"
		acc_collect "$1" "$2"
		return
	fi
	for m in "${acc_methods[@]}"; do
		acc_start1 "$1" "$m"
		acc_collect1 "$1" "$m" "$2"
	done
}

# ---- step response ----
# analyse FILE: prints "settle_up settle_down" (ms)
analyse()
{
	awk -v T="$STEP" -v q1="${SQ[0]}" -v q2="${SQ[1]}" -v q3="${SQ[2]}" '
	NF == 2 && $1 ~ /^[0-9]+$/ {
		t = ($1 - 50) / 1000; r = $2 * 10   # mid-sample; 100 ms -> bytes/s
		st = int(t / T) + 1
		if (st > 3) next
		q = (st == 1) ? q1 : (st == 2) ? q2 : q3
		# the trailing 0.5 s average (lo moves 64 KB packets: single
		# 100 ms samples are too coarse at 1 MB/s)
		k = NR % 5; win[k] = r; cnt++
		if (st >= 2 && cnt >= 5 && !(st in settle) && t - (st - 1) * T >= 0.44) {
			a = (win[0] + win[1] + win[2] + win[3] + win[4]) / 5
			if (a >= 0.9 * q && a <= 1.1 * q)
				settle[st] = (t + 0.05 - (st - 1) * T) * 1000
		}
	}
	END {
		for (i = 2; i <= 3; i++)
			printf "%.0f ", (i in settle) ? (settle[i] < 0 ? 0 : settle[i]) : T * 1000
		printf "\n"
	}' "$1"
}

step_run()
{
	local rep=$1 m su sd changer
	local -A pid
	for m in "${methods[@]}"; do
		setup_out "$m" "${SQ[0]}" || bench_fail "cannot set up $m"
	done
	# the methods' changes at once (tc and nft take a fork each)
	# and when each took effect (tc and nft start slowly under TCG)
	: >"$BENCH_OUT/s4-step-applied"
	# step WHICH QUOTA: every method to QUOTA, skex first, in this shell
	# (no fork), the others side by side; log when each took effect
	step()
	{
		local m
		for m in "${methods[@]}"; do
			[ "$m" = skex ] || continue
			set_out "$m" "$2"; echo "$m $1 $t0 $EPOCHREALTIME" >>"$BENCH_OUT/s4-step-applied"
		done
		for m in "${methods[@]}"; do
			[ "$m" = skex ] && continue
			{ set_out "$m" "$2"; echo "$m $1 $t0 $EPOCHREALTIME" >>"$BENCH_OUT/s4-step-applied"; } &
		done
		wait
	}
	(
		t0=$EPOCHREALTIME
		sleep "$STEP"
		step up "${SQ[1]}"
		# a step's own time makes the next one late: that is in apply_down_ms
		sleep "$STEP"
		step down "${SQ[2]}"
	) &
	changer=$!
	for m in "${methods[@]}"; do
		"$BENCH_BIN" rate "$(port_out "$m")" "$(awk -v t="$STEP" 'BEGIN { print 3 * t }')" 100 \
			>"$BENCH_OUT/s4-step-$m.raw" 2>&1 &
		pid[$m]=$!
	done
	for m in "${methods[@]}"; do
		wait "${pid[$m]}" || bench_fail "skex_bench rate (step, $m): $(tail -n 3 "$BENCH_OUT/s4-step-$m.raw")"
	done
	wait "$changer"
	for m in "${methods[@]}"; do
		clear_out "$m"
		read -r su sd <<<"$(analyse "$BENCH_OUT/s4-step-$m.raw")"
		bench_result settle_up_ms "$m" "$rep" "$su"
		bench_result settle_down_ms "$m" "$rep" "$sd"
		read -r au ad <<<"$(awk -v m="$m" -v T="$STEP" '$1 == m {
			d[$2] = ($4 - $3 - ($2 == "up" ? T : 2 * T)) * 1000 }
			END { printf "%.0f %.0f\n", d["up"], d["down"] }' "$BENCH_OUT/s4-step-applied")"
		bench_result apply_up_ms "$m" "$rep" "$au"
		bench_result apply_down_ms "$m" "$rep" "$ad"
		if [ "$rep" = 1 ]; then
			awk 'NF == 2 && $1 ~ /^[0-9]+$/ { printf "%.1f %.3f\n", $1 / 1000, $2 * 10 / 1e6 }' \
				"$BENCH_OUT/s4-step-$m.raw" >"$BENCH_OUT/s4-out-$m.dat"
			bench_rec series out "$m" "s4-out-$m.dat"
		fi
	done
}

bench_rec plot out "Output rate, quota stepping 1 → 4 → 2 MB/s" "MB/s received (100 ms samples)"
for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	# the light ones together: 100 KB/s out and 10 conn/s in
	if out_side 0 && acc_side 0; then
		bench_log "rep $rep: output rate ${OUT_L[0]} and accept rate ${ACC_Q[0]}/s, side by side"
		out_start 0
		acc_start 0
		out_collect 0 "$rep"
		acc_collect 0 "$rep"
		first=1
	else
		first=0
	fi
	for ((i = first; i < N_RATES; i++)); do
		bench_log "rep $rep: output rate ${OUT_L[$i]}"
		out_run "$i" "$rep"
	done
	bench_log "rep $rep: the whole guest's CPU at ${OUT_L[0]}"
	cpu_all_run "$rep"
	bench_log "rep $rep: step response"
	step_run "$rep"
	for ((i = first; i < N_RATES; i++)); do
		bench_log "rep $rep: accept rate ${ACC_Q[$i]}/s"
		acc_run "$i" "$rep"
	done
done
awk -v T="$STEP" -v q1="${SQ[0]}" -v q2="${SQ[1]}" -v q3="${SQ[2]}" 'BEGIN {
	printf "0 %g\n%g %g\n%g %g\n%g %g\n%g %g\n%g %g\n", q1 / 1e6, T, q1 / 1e6, T, q2 / 1e6,
		2 * T, q2 / 1e6, 2 * T, q3 / 1e6, 3 * T, q3 / 1e6 }' >"$BENCH_OUT/s4-out-quota.dat"
bench_rec series out "quota" "s4-out-quota.dat"
rm -f "$BENCH_OUT"/s4-*.raw "$BENCH_OUT"/s4-step-applied
bench_end
