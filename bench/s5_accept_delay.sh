#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scenario 5: accept-queue sensing. The accept delay skex reports
# (/proc/net/skex delay_us, per connection: its growth across one accept())
# against the delay the application measures itself (accept() return minus
# the client's connect() return, sent by the client), under a few loads.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

bench_begin s5 "Accept-queue sensing error"
bench_desc "How well skex senses the accept queue: for every connection, the accept delay skex adds to /proc/net/skex delay_us (read right after each accept()) against the delay the application measures itself (accept() return minus the client's connect() return, which the client sends as its first bytes). One server accepts one connection every 'service' ms; a client connects every 'interval' ms (or in bursts). SPEC: within 10 ms per connection."
bench_layout variants

N=$(bench_secs 40 6)
# name interval_us service_us burst description
LOADS=(
	"idle 20000 0 1 connection every 20 ms, accepted at once (delay: the wake-up)"
	"half 10000 5000 1 connection every 10 ms, 5 ms service (load 0.5)"
	"overload 5000 10000 1 connection every 5 ms, 10 ms service (load 2: the queue grows)"
	"burst 400000 10000 $((N / 2)) two bursts of $((N / 2)) connections, 10 ms service"
)
bench_metric app_ms ms none - - "mean accept delay the application measured"
bench_metric skex_ms ms none - - "mean accept delay skex reported"
bench_metric err_ms ms none - - "mean error, skex - application"
bench_metric maxerr_ms ms lower - "max<=10" "largest error of one connection (absolute)"
bench_summary err_ms maxerr_ms
bench_metric bad count lower - "max<=0" "connections for which conns did not grow by exactly one across the accept"

bench_rec plot delay "Accept delay per connection: skex vs the application (repetition 1)" \
	"skex's delay (ms)" "the application's delay (ms)" points

[ -x "$BENCH_BIN" ] || bench_fail "$BENCH_BIN missing"
[ -r /proc/net/skex ] || bench_skip "/proc/net/skex missing: skex not loaded"

port=47501
for l in "${LOADS[@]}"; do
	read -r name _ _ _ desc <<<"$l"
	bench_variant "$name" "$desc"
done
for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	for l in "${LOADS[@]}"; do
		read -r name interval service burst _ <<<"$l"
		port=$((port + 1))
		out=$("$BENCH_BIN" delay $port "$N" "$interval" "$service" "$burst") ||
			bench_fail "skex_bench delay: $out"
		for m in app_ms skex_ms err_ms maxerr_ms bad; do
			bench_kv "$out" $m
			bench_result $m "$name" "$rep" "$REPLY"
		done
		if [ "$rep" = 1 ]; then
			# "conn I app_us A skex_us S ...": one point (app, skex) in ms
			awk '$1 == "conn" && $6 >= 0 { printf "%.3f %.3f\n", $4 / 1000, $6 / 1000 }' \
				<<<"$out" >"$BENCH_OUT/s5-delay-$name.dat"
			bench_rec series delay "$name" "s5-delay-$name.dat"
			awk '{ if ($1 > m) m = $1 } END { printf "0 0\n%.3f %.3f\n", m, m }' \
				"$BENCH_OUT/s5-delay-$name.dat" >>"$BENCH_OUT/s5-delay-exact.dat"
		fi
	done
done
if [ -s "$BENCH_OUT/s5-delay-exact.dat" ]; then
	sort -n "$BENCH_OUT/s5-delay-exact.dat" | sed -n '1p;$p' >"$BENCH_OUT/s5-delay-exact.tmp"
	mv "$BENCH_OUT/s5-delay-exact.tmp" "$BENCH_OUT/s5-delay-exact.dat"
	bench_rec series delay "exact (skex = application)" "s5-delay-exact.dat"
fi
bench_end
