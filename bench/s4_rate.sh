#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scenario 4: rate accuracy of socket groups against the kernel's own tools.
# Output rate: one connection whose accepted side writes as fast as it can,
# the limit stepping 2 -> 6 -> 1 MB/s, enforced by an output_rate group
# (skex), a tbf qdisc on lo (tc) and an nftables byte limit. Accept rate:
# clients offer 40 connections/s, the limit is 12.5/s, by an accept_rate
# group (skex) and an nftables SYN limit. Step-response plot from repetition 1.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

STEP=$(bench_secs 3 0.6)
A_SECS=$(bench_secs 4 1)
A_SKIP=$(bench_secs 1 0.5)
Q=(2000000 6000000 1000000)
P_OUT=48101 P_ACC=48102 G_OUT=48101 G_ACC=48102

bench_begin s4 "Rate accuracy (socket groups vs tc and nftables)"
bench_desc "Output rate: one loopback connection whose accepted side writes 16 KB blocks as fast as it can while the limit steps 2 → 6 → 1 MB/s (every $STEP s): an output_rate socket group on the server port (skex, quota in bytes/s), a tbf qdisc on lo (tc, burst 128 KB, the smallest that passes lo's 64 KB packets) or an nftables byte limit on the server port (limit rate over, drop). The receiver counts bytes every 100 ms. Error: the rate received over each step, its first second left out (smoke runs: half a step), against the limit. Settling: from the step until the average of the last 0.5 s is within 10% of the new limit (0.5 s at best). Accept rate: clients offer 40 connections/s; limit 12.5/s by an accept_rate group (skex) or an nftables limit on SYNs (750/minute); the rate of accepts after the first second. SPEC: output within 2% over 10 s."

bench_variant skex "socket group (configfs)"
bench_variant tbf "tc qdisc tbf on lo"
bench_variant nft "nftables limit rate over ... drop"
for i in 1 2 3; do
	bench_metric out_err_$i % none - "skex:abs<=2" "output rate error during step $i (limit $((Q[i - 1] / 1000)) KB/s)"
done
bench_metric settle_up_ms ms lower - - "settling after the step up (2 → 6 MB/s)"
bench_metric settle_down_ms ms lower - - "settling after the step down (6 → 1 MB/s)"
bench_metric acc_err % none - - "accept rate error (limit 12.5/s, 40/s offered)"
bench_summary out_err_1 out_err_2 out_err_3 acc_err

[ -x "$BENCH_BIN" ] || bench_fail "$BENCH_BIN missing"

# ---- is the group engine there? ----
gdir() { echo "$SKEX_CFS/groups/$1"; }
grp_clear()
{
	local g
	for g in $G_OUT $G_ACC; do
		[ -d "$(gdir "$g")" ] || continue
		rmdir "$(gdir "$g")"/ports/* 2>/dev/null
		rmdir "$(gdir "$g")" 2>/dev/null
	done
	return 0
}
# grp_make GID TYPE PORT QUOTA: sets why on failure
grp_make()
{
	local d
	d=$(gdir "$1")
	why=$(mkdir "$d" 2>&1) || { why="mkdir groups/$1: ${why##*: }"; return 1; }
	bench_cfs_write "$d/type" "$2" || { why="type $2 refused"; return 1; }
	why=$(mkdir "$d/ports/$3" 2>&1) || { why="mkdir groups/$1/ports/$3: ${why##*: }"; return 1; }
	bench_cfs_write "$d/ports/$3/quota" "$4" || { why="quota $4 refused"; return 1; }
}
bench_at_exit grp_clear
have_skex=1
if ! grp_make $G_OUT output_rate $P_OUT "${Q[0]}"; then
	grp_clear
	# BENCH_FORCE=1: measure the baselines all the same (to try them out)
	[ "${BENCH_FORCE:-0}" = 1 ] || bench_skip "socket groups not available: $why"
	bench_vskip skex "socket groups not available: $why"
	have_skex=0
fi
grp_clear

# ---- baselines ----
have_tc=0 have_nft=0
command -v tc >/dev/null && tc qdisc replace dev lo root tbf rate 8mbit burst 131072 latency 200ms 2>/dev/null &&
	have_tc=1
tc qdisc del dev lo root 2>/dev/null
[ "$have_tc" = 1 ] || bench_vskip tbf "tc tbf on lo not available"
bench_at_exit 'tc qdisc del dev lo root'
if command -v nft >/dev/null && nft add table inet skexbench 2>/dev/null; then
	have_nft=1
	nft delete table inet skexbench
else
	bench_vskip nft "nftables not available"
fi
bench_at_exit 'nft delete table inet skexbench'

# set_out METHOD QUOTA: (re)apply the output limit
set_out()
{
	case $1 in
	skex) bench_cfs_write "$(gdir $G_OUT)/ports/$P_OUT/quota" "$2" ;;
	tbf) tc qdisc replace dev lo root tbf rate $(($2 * 8))bit burst 131072 latency 200ms ;;
	nft) nft -f - <<EON ;;
flush chain inet skexbench out
add rule inet skexbench out tcp sport $P_OUT limit rate over $2 bytes/second burst 131072 bytes drop
EON
	esac
}

setup_out()
{
	case $1 in
	skex) grp_make $G_OUT output_rate $P_OUT "${Q[0]}" || { bench_log "group: $why"; return 1; } ;;
	tbf) set_out tbf "${Q[0]}" ;;
	nft) nft add table inet skexbench && nft add chain inet skexbench out '{ type filter hook output priority 0; }' &&
		set_out nft "${Q[0]}" ;;
	esac
}

clear_out()
{
	case $1 in
	skex) grp_clear ;;
	tbf) tc qdisc del dev lo root 2>/dev/null ;;
	nft) nft delete table inet skexbench 2>/dev/null ;;
	esac
	return 0
}

# analyse OUTFILE: prints "err1 err2 err3 settle_up settle_down"
analyse()
{
	awk -v T="$STEP" -v q1="${Q[0]}" -v q2="${Q[1]}" -v q3="${Q[2]}" '
	BEGIN { skip = T >= 2 ? 1 : T / 2 }
	NF == 2 && $1 ~ /^[0-9]+$/ {
		t = ($1 - 50) / 1000; r = $2 * 10   # mid-sample; 100 ms -> bytes/s
		st = int(t / T) + 1
		if (st > 3) next
		q = (st == 1) ? q1 : (st == 2) ? q2 : q3
		if (t - (st - 1) * T >= skip) { sum[st] += r; n[st]++ }
		# settling: the trailing 0.5 s average (lo moves 64 KB packets:
		# single 100 ms samples are too coarse at 1 MB/s)
		k = NR % 5; win[k] = r; cnt++
		if (st >= 2 && cnt >= 5 && !(st in settle) && t - (st - 1) * T >= 0.44) {
			a = (win[0] + win[1] + win[2] + win[3] + win[4]) / 5
			if (a >= 0.9 * q && a <= 1.1 * q)
				settle[st] = (t + 0.05 - (st - 1) * T) * 1000
		}
	}
	END {
		for (i = 1; i <= 3; i++) {
			q = (i == 1) ? q1 : (i == 2) ? q2 : q3
			printf "%.2f ", n[i] ? (sum[i] / n[i] - q) / q * 100 : -100
		}
		for (i = 2; i <= 3; i++)
			printf "%.0f ", (i in settle) ? (settle[i] < 0 ? 0 : settle[i]) : T * 1000
		printf "\n"
	}' "$1"
}

bench_plot_file() { echo "s4-out-$1.dat"; }

run_out()
{
	local m=$1 rep=$2 f="$BENCH_OUT/s4-out-$1.raw" e1 e2 e3 su sd
	setup_out "$m" || bench_fail "cannot set up $m"
	( sleep "$STEP"; set_out "$m" "${Q[1]}"; sleep "$STEP"; set_out "$m" "${Q[2]}" ) &
	local changer=$!
	"$BENCH_BIN" rate $P_OUT "$(awk -v t="$STEP" 'BEGIN { print 3 * t }')" 100 >"$f" ||
		bench_fail "skex_bench rate ($m)"
	wait "$changer"
	clear_out "$m"
	read -r e1 e2 e3 su sd <<<"$(analyse "$f")"
	bench_result out_err_1 "$m" "$rep" "$e1"
	bench_result out_err_2 "$m" "$rep" "$e2"
	bench_result out_err_3 "$m" "$rep" "$e3"
	bench_result settle_up_ms "$m" "$rep" "$su"
	bench_result settle_down_ms "$m" "$rep" "$sd"
	if [ "$rep" = 1 ]; then
		awk 'NF == 2 && $1 ~ /^[0-9]+$/ { printf "%.1f %.3f\n", $1 / 1000, $2 * 10 / 1e6 }' \
			"$f" >"$BENCH_OUT/$(bench_plot_file "$m")"
		bench_rec series out "$m" "$(bench_plot_file "$m")"
	fi
}

run_acc()
{
	local m=$1 rep=$2 out
	case $m in
	skex) grp_make $G_ACC accept_rate $P_ACC 12.5 || bench_fail "accept_rate group: $why" ;;
	nft) nft -f - <<EON || bench_fail "nft SYN limit"
add table inet skexbench
add chain inet skexbench in { type filter hook input priority 0; }
add rule inet skexbench in tcp dport $P_ACC tcp flags & (syn | ack) == syn limit rate over 750/minute drop
EON
		;;
	esac
	out=$("$BENCH_BIN" accepts $P_ACC "$A_SECS" 40 "$A_SKIP") || bench_fail "skex_bench accepts ($m): $out"
	clear_out "$m"
	bench_kv "$out" rate
	bench_result acc_err "$m" "$rep" "$(awk -v r="$REPLY" 'BEGIN { printf "%.2f", (r - 12.5) / 12.5 * 100 }')"
}

methods=()
[ "$have_skex" = 1 ] && methods+=(skex)
[ "$have_tc" = 1 ] && methods+=(tbf)
[ "$have_nft" = 1 ] && methods+=(nft)
bench_rec plot out "Output rate, limit stepping 2 → 6 → 1 MB/s" "MB/s received (100 ms samples)"
for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	for m in "${methods[@]}"; do
		bench_log "rep $rep: output rate, $m"
		run_out "$m" "$rep"
	done
	for m in "${methods[@]}"; do
		[ "$m" = tbf ] && continue
		bench_log "rep $rep: accept rate, $m"
		run_acc "$m" "$rep"
	done
done
awk -v T="$STEP" -v q1="${Q[0]}" -v q2="${Q[1]}" -v q3="${Q[2]}" 'BEGIN {
	printf "0 %g\n%g %g\n%g %g\n%g %g\n%g %g\n%g %g\n", q1 / 1e6, T, q1 / 1e6, T, q2 / 1e6,
		2 * T, q2 / 1e6, 2 * T, q3 / 1e6, 3 * T, q3 / 1e6 }' >"$BENCH_OUT/s4-out-quota.dat"
bench_rec series out "quota" "s4-out-quota.dat"
bench_end
