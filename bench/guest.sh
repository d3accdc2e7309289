#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the benchmark scenarios in this (VM) boot, as root, one after the other:
#
#   bench/guest.sh [--smoke] [--out DIR] [SCENARIO...]
#
# SCENARIO: s1 ... s5 (default: all of bench/s[0-9]*.sh). --smoke: one short
# repetition of each. Records land in DIR (default $SKEX_OUT/bench, the
# VM's out share, else /tmp/skex-bench): <id>.tsv per scenario (bench/lib.sh
# describes them), info.tsv, status.tsv ("ID ok|skipped|failed SECONDS").
# bench/report.py makes the tables. Progress lines start with "bench:".
#
# Exit 0 when every scenario measured or skipped; 1 when one broke (its own
# machinery, never a number).
#
# The tool (build/bench/skex_bench) is built on the host by scripts/bench.sh;
# when it is missing or older than its source it is compiled into /tmp.
set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

smoke=0 out=''
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) smoke=1; shift ;;
	--out) out=${2:?}; shift 2 ;;
	-h | --help) sed -n '4,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "guest.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ -z "$out" ]; then
	if [ -n "${SKEX_OUT:-}" ] && [ -d "$SKEX_OUT" ]; then
		out=$SKEX_OUT/bench
	else
		out=/tmp/skex-bench
	fi
fi
mkdir -p "$out" || exit 1
rm -f "$out"/*.tsv "$out"/*.dat

scripts=()
if [ $# -eq 0 ]; then
	for f in "$BENCH_DIR"/s[0-9]*.sh; do
		scripts+=("$f")
	done
else
	for s in "$@"; do
		f=$(ls "$BENCH_DIR/${s%%_*}"_*.sh 2>/dev/null | head -n 1)
		[ -n "$f" ] || { echo "guest.sh: no scenario $s" >&2; exit 2; }
		scripts+=("$f")
	done
fi

# the tool
bin=$REPO/build/bench/skex_bench
src=$BENCH_DIR/skex_bench.c
if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
	bin=/tmp/skex_bench.$$
	echo "bench: compiling $src (no up-to-date build/bench/skex_bench)"
	gcc -O2 -Wall -o "$bin" "$src" || { echo "bench: FAILED: cannot build skex_bench"; exit 1; }
fi

export BENCH_OUT=$out BENCH_SMOKE=$smoke BENCH_BIN=$bin
if [ "$smoke" = 1 ]; then
	export BENCH_REPS=${BENCH_REPS:-1}
else
	export BENCH_REPS=${BENCH_REPS:-3}
fi

# Many short connections: a wide port range; TIME_WAIT reuse on loopback.
# The scenarios listen on 47000-48999: no client may take one of those as
# its own port, or a listener (a rule's too) cannot bind there after it.
sysctl -q -w net.ipv4.ip_local_port_range="10000 65000" 2>/dev/null
sysctl -q -w net.ipv4.ip_local_reserved_ports=47000-48999 2>/dev/null
sysctl -q -w net.ipv4.tcp_tw_reuse=1 2>/dev/null
sysctl -q -w net.core.somaxconn=4096 2>/dev/null

{
	printf 'kernel\t%s\n' "$(uname -r)"
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'mode\t%s\n' "$([ "$smoke" = 1 ] && echo smoke || echo full)"
	printf 'reps\t%s\n' "$BENCH_REPS"
	printf 'cpus\t%s\n' "$(nproc)"
	printf 'module\t%s\n' "${SKEX_MODULE:-none}"
} >"$out/info.tsv"
: >"$out/status.tsv"

rc=0
if grep -qw '^skex' /proc/modules; then loaded0=1; else loaded0=0; fi
for f in "${scripts[@]}"; do
	id=$(basename "$f" .sh)
	id=${id%%_*}
	echo "bench: ===== $id ($(basename "$f")) ====="
	t0=$(date +%s)
	# times SKEX_TIMEOUT_SCALE under make check-debug (selftest bench_smoke):
	# a debug kernel's insmod and rmmod alone take minutes
	timeout --kill-after=10 \
		"$((($([ "$smoke" = 1 ] && echo 240 || echo 900)) * ${SKEX_TIMEOUT_SCALE:-1}))" \
		bash "$f"
	src_rc=$?
	secs=$(($(date +%s) - t0))
	if [ "$src_rc" != 0 ]; then
		st=failed
		rc=1
		echo "bench: $id: FAILED (exit $src_rc) after ${secs}s"
		[ -f "$out/$id.tsv" ] || printf 'scenario\t%s\t%s\n' "$id" "$(basename "$f")" >"$out/$id.tsv"
		printf 'note\tFAILED: exit %s\n' "$src_rc" >>"$out/$id.tsv"
	elif grep -q '^skip	' "$out/$id.tsv" 2>/dev/null; then
		st=skipped
		echo "bench: $id: skipped ($(sed -n 's/^skip\t//p' "$out/$id.tsv" | head -n 1))"
	else
		st=ok
		echo "bench: $id: done in ${secs}s"
	fi
	printf '%s\t%s\t%s\n' "$id" "$st" "$secs" >>"$out/status.tsv"
	# every scenario starts with the module as the run began
	if [ "$loaded0" = 1 ] && ! grep -qw '^skex' /proc/modules; then
		insmod "$SKEX_MODULE" || { echo "bench: FAILED: cannot reload skex"; exit 1; }
	fi
done
[ "$bin" = "$REPO/build/bench/skex_bench" ] || rm -f "$bin"
exit $rc
