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
# (bench/*.png) rewritten. --smoke: one short repetition of each scenario.
# A smoke run, or one of some scenarios (SCENARIO: s1 ... s5) or kernels
# (--kernel) only, reports to build/bench/last/results.md only.
#
# Benchmarks never fail on a number. Exit non-zero only when the machinery
# breaks: a build, a VM (crash, kernel warning, module that will not
# unload), a scenario script or the report.
#
# Environment: SKEX_BENCH_KERNELS (space-separated, default: all supported),
# SKEX_BENCH_TIMEOUT (seconds per VM; default 3600: a full run takes 21 min
# on a quiet host, over 30 beside other VMs; smoke 600),
# SKEX_BENCH_ICOUNT (the guest clock: 2^N ns per instruction, default 2, or
# off for real time with 2 vCPUs), SKEX_BENCH_JOBS (VMs at once; default:
# the host's cores with a counted clock, else 1), SKEX_BENCH_SLUB_DEBUG
# (slub_debug= flags in the guest, default none),
# SKEX_BENCH_MODDIR (use DIR/KVER/kernel/skex.ko, built elsewhere, e.g. from
# another branch, instead of building this tree's), SKEX_BENCH_REPS
# (repetitions per figure instead of 3, or 1 for --smoke: a quick look),
# SKEX_BENCH_REAL (scenarios run again with the real-time clock, default
# "s1 s4"; empty: none; see below).
#
# Real-clock pass: after the counted-clock one, SKEX_BENCH_REAL's scenarios
# (those among the SCENARIOs asked for, if any) run again on each kernel,
# one VM at a time, with 2 vCPUs and the real-time clock, loading the very
# file the counted pass loaded (build/bench/last/KVER/out/skex.ko); the
# report puts their figures beside the counted ones. Not with
# SKEX_BENCH_ICOUNT=off (the whole run is real-clock then). --smoke runs it
# too, shortened alike.
# Logs: build/bench/last/KVER/{console.log,out/cmd.log,out/bench/*.tsv};
# the real-clock pass's in build/bench/last/real/KVER/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

smoke=0
partial=0
kernels=()
scen=()
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) smoke=1; shift ;;
	--kernel) kernels+=("${2:?}"); partial=1; shift 2 ;;
	-h | --help) sed -n '4,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	-*) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
	*) scen+=("$1"); partial=1; shift ;;
	esac
done
if [ ${#kernels[@]} -eq 0 ]; then
	if [ -n "${SKEX_BENCH_KERNELS:-}" ]; then
		read -r -a kernels <<<"$SKEX_BENCH_KERNELS"
		partial=1
	else
		"$ROOT/scripts/deps.sh"
		mapfile -t kernels < <("$ROOT/scripts/kernels.sh")
	fi
fi
icount=${SKEX_BENCH_ICOUNT:-2}
# the real-clock pass's scenarios: SKEX_BENCH_REAL's, among those asked for
real_scen=()
if [ "$icount" != off ]; then
	read -r -a want <<<"${SKEX_BENCH_REAL-s1 s4}"
	for s in "${want[@]}"; do
		ls "$ROOT/bench/${s%%_*}"_*.sh >/dev/null 2>&1 ||
			{ echo "bench.sh: SKEX_BENCH_REAL: no scenario $s" >&2; exit 2; }
		if [ ${#scen[@]} -eq 0 ]; then
			real_scen+=("${s%%_*}")
			continue
		fi
		for a in "${scen[@]}"; do
			[ "${a%%_*}" = "${s%%_*}" ] && real_scen+=("${s%%_*}")
		done
	done
fi
reps=${SKEX_BENCH_REPS:-$([ "$smoke" = 1 ] && echo 1 || echo 3)}
case $reps in [1-9] | [1-9][0-9]) ;; *) echo "bench.sh: SKEX_BENCH_REPS=$reps: 1-99" >&2; exit 2 ;; esac
[ "$reps" = 3 ] || [ "$smoke" = 1 ] || partial=1
if [ "$smoke" = 1 ]; then
	timeout=${SKEX_BENCH_TIMEOUT:-600}
	gargs=(--smoke)
else
	timeout=${SKEX_BENCH_TIMEOUT:-3600}
	gargs=()
fi

t0=$(date +%s)
host_load=$(cut -d' ' -f1-3 /proc/loadavg)
run=$ROOT/build/bench/run-$(date +%Y%m%d-%H%M%S).$$
mkdir -p "$run"
ln -sfn "$run" "$ROOT/build/bench/last"
# shellcheck disable=SC2012  # names are ours
ls -1dt "$ROOT"/build/bench/run-* 2>/dev/null | tail -n +6 | xargs -r rm -rf || true

# the tree the modules are built from now, not whatever it is at the report
commit=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')
echo "bench: building the tool (make -C bench)"
make -s -C "$ROOT/bench"

# run_vm KVER KO DIR TAG [SCENARIO...]: boot KVER in run directory DIR
# (under $run) with module KO and vmargs, run the scenarios; progress lines
# on stdout prefixed with TAG.
run_vm()
{
	local k=$1 ko=$2 dir=$3 tag=$4 rc
	shift 4
	set +e
	# The console is in the run directory; show the guest's progress.
	SKEX_VM_RUNDIR=$run/$dir SKEX_VM_SLUB_DEBUG=$slub "$ROOT/scripts/vm.sh" --kernel "$k" \
		--module "$ko" --timeout "$timeout" "${vmargs[@]}" \
		-- env BENCH_REPS="$reps" bench/guest.sh "${gargs[@]}" "$@" </dev/null 2>&1 |
		grep -a --line-buffered -E '^(bench:|vm: FAIL|vm.sh:)' |
		while IFS= read -r line; do
			# the host's time: the guest's ([Ns]) need not be it
			printf '%(%H:%M:%S)T %s\n' -1 "${line/#bench: /bench: [$tag] }"
		done
	rc=${PIPESTATUS[0]}
	set -e
	if [ "$rc" != 0 ]; then
		echo "bench: $tag: VM run FAILED (rc $rc): $(sed -n 's/^vm_error=//p' "$run/$dir/result" 2>/dev/null)"
		echo "bench:   logs: build/bench/last/$dir/console.log, out/cmd.log"
		return 1
	fi
}

# run_kernel KVER: build (unless SKEX_BENCH_MODDIR), boot, run; status in
# $run/KVER.rc, progress lines on stdout prefixed with the kernel.
run_kernel()
{
	local k=$1 ko
	ko=build/$k/kernel/skex.ko
	if [ -n "${SKEX_BENCH_MODDIR:-}" ]; then
		ko=$SKEX_BENCH_MODDIR/$k/kernel/skex.ko
		[ -f "$ko" ] || { echo "bench: $k: no $ko"; return 1; }
		echo "bench: $k: module $ko"
	elif ! "$ROOT/scripts/build.sh" "$k" >"$run/build-$k.log" 2>&1; then
		echo "bench: $k: module build FAILED (build/bench/last/build-$k.log)"
		return 1
	fi
	run_vm "$k" "$ko" "$k" "$k" "${scen[@]}"
}

# Guest clock: instructions (vm.sh --icount), so that what the host does
# meanwhile, other VMs included, changes no figure; the kernels then run
# side by side, one VM per host core.
vmargs=()
real_machine="QEMU TCG (no KVM), 2 vCPUs on one host thread, 2 GB, real-time clock"
machine=$real_machine
if [ "$icount" != off ]; then
	vmargs=(--smp 1 --icount "$icount")
	machine="QEMU TCG (no KVM), 1 vCPU, 2 GB; guest clock counting instructions"
	machine+=" (-icount shift=$icount: $((1 << icount)) ns each; idle time passes at the host's speed):"
	machine+=" figures count instructions, whatever else the host runs"
fi
# A production kernel, not make check's: slub_debug poisons and checks every
# allocation, which made an accept() 20 times dearer here and distorted
# every ratio of a path that allocates.
slub=${SKEX_BENCH_SLUB_DEBUG:-}
jobs=${SKEX_BENCH_JOBS:-$([ "$icount" != off ] && nproc || echo 1)}

fail=0
pairs=()
pids=()
for k in "${kernels[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	echo "bench: ===== $k ====="
	{
		rc=0
		run_kernel "$k" || rc=$?
		echo $rc >"$run/$k.rc"
	} &
	pids+=($!)
	pairs+=("$k=$run/$k/out/bench")
done
wait "${pids[@]}" || true
for k in "${kernels[@]}"; do
	[ "$(cat "$run/$k.rc" 2>/dev/null)" = 0 ] || fail=1
done

# The real-clock pass: one VM at a time (the host's time is the guest's
# now), 2 vCPUs, the module file the counted pass loaded (vm.sh's copy).
hmin() { echo "$(($1 / 60)) min $(($1 % 60)) s"; }
real_pairs=()
real_load=()
real_runtime=''
if [ ${#real_scen[@]} -gt 0 ]; then
	t1=$(date +%s)
	vmargs=()
	for k in "${kernels[@]}"; do
		echo "bench: ===== $k, real clock (${real_scen[*]}) ====="
		ko=$run/$k/out/skex.ko
		if [ "$(cat "$run/$k.rc" 2>/dev/null)" != 0 ] || [ ! -f "$ko" ]; then
			echo "bench: $k: no real-clock pass (the counted pass failed)"
			continue
		fi
		real_load+=("$(cut -d' ' -f1-3 /proc/loadavg) ($k)")
		real_pairs+=(--real "$k=$run/real/$k/out/bench")
		run_vm "$k" "$ko" "real/$k" "$k real" "${real_scen[@]}" || fail=1
	done
	[ ${#real_pairs[@]} -eq 0 ] || real_runtime=$(hmin $(($(date +%s) - t1)))
fi

secs=$(($(date +%s) - t0))
runtime=$(hmin "$secs")
if [ ${#pairs[@]} -gt 0 ]; then
	if [ "$smoke" = 1 ] || [ "$partial" = 1 ]; then
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
		modnote="built from this tree, commit $commit"
	fi
	clock=(--clock counted)
	[ "$icount" != off ] || clock=(--clock real)
	if [ ${#real_pairs[@]} -gt 0 ]; then
		real_text=$(printf '%s, ' "${real_load[@]}")
		clock+=(--real-load "${real_text%, }" --real-runtime "$real_runtime"
			--real-machine "$real_machine"
			"${real_pairs[@]}")
	fi
	"$py" "$ROOT/bench/report.py" "${out[@]}" --host-load "$host_load" --module "$modnote" \
		--runtime "$runtime" --machine "$machine" "${clock[@]}" "${pairs[@]}" || fail=1
fi
echo "bench: $([ "$smoke" = 1 ] && echo smoke run || echo run) took $runtime${real_runtime:+ (the real-clock pass $real_runtime)}"
if [ "$fail" != 0 ]; then
	echo "bench: FAILED (the machinery, not a number): see above"
	exit 1
fi
