#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench / make bench-smoke: for every supported kernel, build skex.ko,
# boot one VM with it loaded and run every benchmark scenario there against
# its baselines (bench/guest.sh, bench/s*.sh), then write the tables
# (bench/report.py) and print the ratios.
#
#   scripts/bench.sh [--smoke] [--kernel KVER]... [SCENARIO...]
#
# Full run: 3 repetitions of every figure, bench/results.md and its plots
# (bench/*.png) rewritten. --smoke: one short repetition of each scenario,
# the report goes to build/bench/last/results.md only. SCENARIO: s1 ... s5.
#
# Benchmarks never fail on a number. Exit non-zero only when the machinery
# breaks: a build, a VM (crash, kernel warning, module that will not
# unload), a scenario script or the report.
#
# Environment: SKEX_BENCH_KERNELS (space-separated, default: all supported),
# SKEX_BENCH_TIMEOUT (seconds per VM; default 1800, smoke 600),
# SKEX_BENCH_MODDIR (use DIR/KVER/kernel/skex.ko, built elsewhere, e.g. from
# another branch, instead of building this tree's).
# Logs: build/bench/last/KVER/{console.log,out/cmd.log,out/bench/*.tsv}.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

smoke=0
kernels=()
scen=()
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) smoke=1; shift ;;
	--kernel) kernels+=("${2:?}"); shift 2 ;;
	-h | --help) sed -n '4,21s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
	*) scen+=("$1"); shift ;;
	esac
done
if [ ${#kernels[@]} -eq 0 ]; then
	if [ -n "${SKEX_BENCH_KERNELS:-}" ]; then
		read -r -a kernels <<<"$SKEX_BENCH_KERNELS"
	else
		"$ROOT/scripts/deps.sh"
		mapfile -t kernels < <("$ROOT/scripts/kernels.sh")
	fi
fi
if [ "$smoke" = 1 ]; then
	timeout=${SKEX_BENCH_TIMEOUT:-600}
	gargs=(--smoke)
else
	timeout=${SKEX_BENCH_TIMEOUT:-1800}
	gargs=()
fi

t0=$(date +%s)
host_load=$(cut -d' ' -f1-3 /proc/loadavg)
run=$ROOT/build/bench/run-$(date +%Y%m%d-%H%M%S).$$
mkdir -p "$run"
ln -sfn "$run" "$ROOT/build/bench/last"
# shellcheck disable=SC2012  # names are ours
ls -1dt "$ROOT"/build/bench/run-* 2>/dev/null | tail -n +6 | xargs -r rm -rf || true

echo "bench: building the tool (make -C bench)"
make -s -C "$ROOT/bench"

fail=0
pairs=()
for k in "${kernels[@]}"; do
	echo "bench: ===== $k ====="
	ko=build/$k/kernel/skex.ko
	if [ -n "${SKEX_BENCH_MODDIR:-}" ]; then
		ko=$SKEX_BENCH_MODDIR/$k/kernel/skex.ko
		[ -f "$ko" ] || { echo "bench: $k: no $ko"; fail=1; continue; }
		echo "bench: $k: module $ko"
	elif ! "$ROOT/scripts/build.sh" "$k" >"$run/build-$k.log" 2>&1; then
		echo "bench: $k: module build FAILED (build/bench/last/build-$k.log)"
		fail=1
		continue
	fi
	set +e
	# The console is in the run directory; show the guest's progress.
	SKEX_VM_RUNDIR=$run/$k "$ROOT/scripts/vm.sh" --kernel "$k" \
		--module "$ko" --timeout "$timeout" \
		-- bench/guest.sh "${gargs[@]}" "${scen[@]}" </dev/null 2>&1 |
		grep -a --line-buffered -E '^(bench:|vm: FAIL|vm.sh:)'
	rc=${PIPESTATUS[0]}
	set -e
	if [ "$rc" != 0 ]; then
		echo "bench: $k: VM run FAILED (rc $rc): $(sed -n 's/^vm_error=//p' "$run/$k/result" 2>/dev/null)"
		echo "bench:   logs: build/bench/last/$k/console.log, out/cmd.log"
		fail=1
	fi
	pairs+=("$k=$run/$k/out/bench")
done

secs=$(($(date +%s) - t0))
runtime="$((secs / 60)) min $((secs % 60)) s"
if [ ${#pairs[@]} -gt 0 ]; then
	if [ "$smoke" = 1 ]; then
		out=(--out "$run/results.md" --plots "$run")
	else
		out=(--out "$ROOT/bench/results.md" --plots "$ROOT/bench")
	fi
	# Debian's interpreter (python3-matplotlib), not a PATH shim
	py=/usr/bin/python3
	[ -x "$py" ] || py=python3
	if [ -n "${SKEX_BENCH_MODDIR:-}" ]; then
		modnote="$SKEX_BENCH_MODDIR/KVER/kernel/skex.ko"
	else
		modnote="built from this tree, commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
	fi
	"$py" "$ROOT/bench/report.py" "${out[@]}" --host-load "$host_load" --module "$modnote" \
		--runtime "$runtime" "${pairs[@]}" || fail=1
fi
echo "bench: $([ "$smoke" = 1 ] && echo smoke run || echo run) took $runtime"
if [ "$fail" != 0 ]; then
	echo "bench: FAILED (the machinery, not a number): see above"
	exit 1
fi
