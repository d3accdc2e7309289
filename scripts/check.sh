#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: install what is missing, then for every supported kernel
# (scripts/kernels.sh) build skex.ko and run the kselftest suite
# (tools/testing/selftests/skex/run_all.sh) in two VMs with it loaded:
#
#   real     two vCPUs on the host's clock: the tests whose point is
#            concurrency (run_all.sh --clock real)
#   counted  one vCPU on a counted clock (vm.sh --icount 2): the tests that
#            hold a rate, a ratio or a CPU share to a bound (run_all.sh
#            --clock counted), so that a busy host cannot move them
#
# A TCG VM runs on one host thread: SKEX_CHECK_JOBS VMs run at once (default:
# the host's cores), first each kernel's real VM, then the counted ones. With
# more jobs than kernels, a kernel's real tests are shared by several VMs
# side by side (KVER, KVER-2, ...): each takes the next test no other has
# taken from a queue directory they share (run_all.sh --queue; a debug
# kernel's suite takes hours, which SKEX_DEBUG_SERIES=6.1 make check-debug
# halves on two cores). Each VM's console: build/check/last/TAG/console.log,
# printed when the VM is done.
#
# Prints the KTAP of every run, test names prefixed with the kernel, and as
# its last line "N passed, N failed[, N skipped]". Exits non-zero on any
# failure.
#
# A VM-level failure (no result: crash, panic, timeout; insmod failure; the
# module will not unload; a kernel warning, oops or leak report) counts as one
# more failed test, named vm-KVER (vm-KVER-counted); a failed build as
# build-KVER.
#
# Usage: scripts/check.sh [--kernel K]... [TEST...]
#   --kernel K  only kernel K: a KVER of scripts/kernels.sh, or its series
#               (6.1, 6.12); repeatable
#   TEST        only these tests of tools/testing/selftests/skex/tests.list,
#               each in the VM its clock column names (make check T=a,b K=6.1);
#               NAME:CASE one TEST_F case of a harness binary
#
# Environment: SKEX_CHECK_KERNELS (space-separated list, default: all),
# SKEX_CHECK_TIMEOUT (seconds per VM, default 4200), SKEX_CHECK_SUITE (a
# command run instead of the suite, in the real VM only), SKEX_CHECK_JOBS
# (VMs at once, default: the host's cores).
# Logs: build/check/last/KVER{,-counted}/{console.log,out/cmd.log,
# out/dmesg.txt,result} and build/check/last/summary.tap (build/check/last:
# the latest run).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TIMEOUT=${SKEX_CHECK_TIMEOUT:-4200}
JOBS=${SKEX_CHECK_JOBS:-$(nproc)}
case $JOBS in
'' | *[!0-9]* | 0) echo "check.sh: SKEX_CHECK_JOBS must be a number > 0" >&2; exit 2 ;;
esac
# One directory per run (people may run make check side by side).
CHECKDIR=$ROOT/build/check/run-$(date +%Y%m%d-%H%M%S).$$

WANT_K=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) WANT_K+=("${2:?--kernel K}"); shift 2 ;;
	--kernel=*) WANT_K+=("${1#*=}"); shift ;;
	-h | --help) sed -n '3,40s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
	--) shift; break ;;
	-*) echo "check.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
WANT_T=("$@")

[ -n "${SKEX_CHECK_NO_DEPS:-}" ] || "$ROOT/scripts/deps.sh"

if [ -n "${SKEX_CHECK_KERNELS:-}" ]; then
	read -r -a KERNELS <<<"$SKEX_CHECK_KERNELS"
else
	mapfile -t KERNELS < <("$ROOT/scripts/kernels.sh")
fi
# no kernel is no test run, not a pass (kernels.sh said why)
[ ${#KERNELS[@]} -gt 0 ] || exit 2
if [ ${#WANT_K[@]} -gt 0 ]; then
	sel=()
	for w in "${WANT_K[@]}"; do
		n=0
		for k in "${KERNELS[@]}"; do
			case "$k" in
			"$w" | "$w".*) sel+=("$k"); n=$((n + 1)) ;;
			esac
		done
		[ $n -gt 0 ] || { echo "check.sh: no kernel $w (have: ${KERNELS[*]})" >&2; exit 2; }
	done
	KERNELS=("${sel[@]}")
fi

RUN_ALL=tools/testing/selftests/skex/run_all.sh
# The suite's own environment in the guest (scripts/check-debug.sh scales the
# timeouts of a slower, debug kernel and asks for a long fuzz run).
RUN_SUITE=(env)
for v in SKEX_TIMEOUT_SCALE SKEX_FUZZ_CALLS SKEX_FUZZ_SECS SKEX_FUZZ_MIN_RATE \
	SKEX_LOAD_CYCLES; do
	[ -z "${!v:-}" ] || RUN_SUITE+=("$v=${!v}")
done
RUN_SUITE+=("$RUN_ALL")
# The tests of each clock (tests.list) to run: all, or those named.
declare -A CLOCK_TESTS=([real]='' [counted]='')
for c in real counted; do
	mapfile -t all < <("$RUN_ALL" -l --clock "$c")
	if [ ${#WANT_T[@]} -eq 0 ]; then
		CLOCK_TESTS[$c]=all
		continue
	fi
	for t in "${WANT_T[@]}"; do
		for a in "${all[@]}"; do
			[ "${t%%:*}" = "$a" ] || [ "${t%%:*}" = "$a.sh" ] || continue
			CLOCK_TESTS[$c]+=" $t"
		done
	done
done
# the whole list first: grep -q closing the pipe early would fail it (pipefail)
listed=$("$RUN_ALL" -l)
for t in "${WANT_T[@]}"; do
	n=${t%%:*}
	grep -qx -e "$n" -e "${n%.sh}" <<<"$listed" ||
		{ echo "check.sh: no test $n in tests.list (run_all.sh -l)" >&2; exit 2; }
done

# suite_args CLOCK [QUEUE]: run_all.sh's arguments for that VM (none: skip
# the VM)
suite_args() {
	local c=$1 q=${2:+ --queue $2}
	[ -n "${CLOCK_TESTS[$c]}" ] || return 1
	if [ "${CLOCK_TESTS[$c]}" = all ]; then
		echo "--clock $c$q"
	else
		echo "--clock $c$q${CLOCK_TESTS[$c]}"
	fi
}

mkdir -p "$CHECKDIR"
echo $$ >"$CHECKDIR/pid"
ln -sfn "$CHECKDIR" "$ROOT/build/check/last"
# The five newest runs stay, and any still running (a check-debug takes
# hours, and make check runs beside it): their pid is alive.
# shellcheck disable=SC2012  # names are ours
for old in $(ls -1dt "$ROOT"/build/check/run-* 2>/dev/null | tail -n +6); do
	pid=$(cat "$old/pid" 2>/dev/null) || pid=
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && continue
	rm -rf "$old"
done
TAP=()          # "ok|not ok<TAB>name<TAB>directive"
add() { TAP+=("$1"$'\t'"$2"$'\t'"${3:-}"); }

selftests_ok=1
if [ -f tools/testing/selftests/skex/Makefile ]; then
	echo "check: building the selftests (make -C tools/testing/selftests/skex)" >&2
	if ! make -C tools/testing/selftests/skex; then
		selftests_ok=0
		add "not ok" "selftests-build" ""
	fi
fi

# deb_install installs the DKMS package in the VMs: make it here.
if ! "$ROOT/scripts/mkdeb.sh" >/dev/null; then
	selftests_ok=0
	add "not ok" "deb-build" ""
fi

# bench_smoke runs the benchmark tool: build it here, not under TCG.
if [ -f bench/Makefile ] && ! make -s -C bench; then
	selftests_ok=0
	add "not ok" "bench-build" ""
fi

ICOUNT_SHIFT=2

# vm_start KVER TAG VM-ARGS... -- CMD...: boot KVER's VM into $CHECKDIR/TAG
vm_start() {
	local k=$1 tag=$2
	shift 2
	SKEX_VM_RUNDIR=$CHECKDIR/$tag "$ROOT/scripts/vm.sh" --kernel "$k" \
		--module "build/$k/kernel/skex.ko" --timeout "$TIMEOUT" "$@" \
		</dev/null
}

# collect KVER TAG [shared]: the verdicts of the VM run in $CHECKDIR/TAG
# (shared: one of VMs sharing a queue, which may find none left to run)
collect() {
	local k=$1 tag=$2 shared=${3:-} run=$CHECKDIR/$2 plan='' seen=0 notok=0
	local line st rest name dir vm_error='' cmd_rc=''

	if [ -f "$run/out/cmd.log" ]; then
		while IFS= read -r line; do
			line=${line%$'\r'}
			case "$line" in
			1..*)
				plan=${line#1..}
				plan=${plan%% *}
				;;
			"ok "[0-9]* | "not ok "[0-9]*)
				st=ok
				rest=${line#ok }
				if [ "${line#not ok }" != "$line" ]; then
					st="not ok"
					rest=${line#not ok }
					notok=$((notok + 1))
				fi
				rest=${rest#* }      # drop the number
				name=$rest dir=
				if [ "${rest#* # }" != "$rest" ]; then
					name=${rest%% # *}
					dir=${rest#* # }
				fi
				[ -n "$name" ] || name="test$((seen + 1))"
				add "$st" "$k/$name" "$dir"
				seen=$((seen + 1))
				;;
			esac
		done <"$run/out/cmd.log"
	fi

	if [ -f "$run/result" ]; then
		vm_error=$(sed -n 's/^vm_error=//p' "$run/result")
		cmd_rc=$(sed -n 's/^cmd_rc=//p' "$run/result")
	else
		vm_error="vm.sh gave no result"
	fi
	if [ -n "$vm_error" ]; then
		add "not ok" "vm-$tag" "$vm_error"
	elif [ "$seen" -lt "${plan:-0}" ]; then
		add "not ok" "$tag/results-missing" "$((plan - seen)) of $plan tests did not report"
	elif [ "${cmd_rc:-1}" != 0 ] && [ "$notok" -eq 0 ]; then
		add "not ok" "$tag/suite" "exited $cmd_rc without a failing test"
	elif [ "$seen" -eq 0 ] && ! { [ -n "$shared" ] && [ "$plan" = 0 ]; }; then
		add "not ok" "$tag/suite" "no test results"
	fi
}

built=()
for k in "${KERNELS[@]}"; do
	echo "check: ===== building for $k =====" >&2
	if ! "$ROOT/scripts/build.sh" "$k"; then
		add "not ok" "build-$k" ""
		continue
	fi
	built+=("$k")
done

# The VMs, in the order they start: each kernel's real VM, the counted ones,
# then the real VMs that join a kernel's queue (KVER-2, ...).
shards=1
if [ -z "${SKEX_CHECK_SUITE:-}" ] && [ ${#built[@]} -gt 0 ] &&
	[ "$JOBS" -gt ${#built[@]} ] && suite_args real >/dev/null; then
	shards=$((JOBS / ${#built[@]}))
fi
UNITS=()	# "KVER TAG CLOCK"
later=()
for k in "${built[@]}"; do
	if [ -n "${SKEX_CHECK_SUITE:-}" ] || suite_args real >/dev/null; then
		UNITS+=("$k $k real")
	fi
	for ((j = 2; j <= shards; j++)); do
		later+=("$k $k-$j real")
	done
done
if [ -z "${SKEX_CHECK_SUITE:-}" ] && suite_args counted >/dev/null; then
	for k in "${built[@]}"; do
		UNITS+=("$k $k-counted counted")
	done
fi
UNITS+=("${later[@]}")

# run_unit KVER TAG CLOCK: one VM
run_unit() {
	local k=$1 tag=$2 clock=$3 args q=''

	if [ -n "${SKEX_CHECK_SUITE:-}" ]; then
		vm_start "$k" "$tag" -- "$SKEX_CHECK_SUITE"
	elif [ "$clock" = real ]; then
		if [ "$shards" -gt 1 ]; then
			q=$CHECKDIR/$k.queue
			mkdir -p "$q"
		fi
		args=$(suite_args real ${q:+/mnt/share})
		# shellcheck disable=SC2086  # words
		SKEX_VM_SHARE=$q vm_start "$k" "$tag" -- "${RUN_SUITE[@]}" $args
	else
		args=$(suite_args counted)
		# shellcheck disable=SC2086  # words
		vm_start "$k" "$tag" --smp 1 --icount "$ICOUNT_SHIFT" -- \
			"${RUN_SUITE[@]}" $args
	fi
}

declare -A UNIT_OF=()	# pid -> tag
running=0
# reap: wait for a VM to end, print its output
reap() {
	local pid=''

	wait -n -p pid || true
	if [ -z "$pid" ] || [ -z "${UNIT_OF[$pid]:-}" ]; then
		running=0	# no VM left to wait for
		return
	fi
	echo "check: ----- ${UNIT_OF[$pid]}: done -----" >&2
	cat "$CHECKDIR/${UNIT_OF[$pid]}.out"
	unset "UNIT_OF[$pid]"
	running=$((running - 1))
}
declare -A NOT_RUN=()	# tag -> 1: a queue VM not started
for u in "${UNITS[@]}"; do
	read -r k tag clock <<<"$u"
	while [ "$running" -ge "$JOBS" ]; do
		reap
	done
	if [ "$tag" != "$k" ] && [ "$clock" = real ] &&
		[ -e "$CHECKDIR/$k.queue/.drained" ]; then
		echo "check: ----- $tag: not started, no test of $k is left -----" >&2
		NOT_RUN[$tag]=1
		continue
	fi
	echo "check: ===== $tag: $clock clock (console: ${CHECKDIR#"$ROOT"/}/$tag/console.log) =====" >&2
	run_unit "$k" "$tag" "$clock" >"$CHECKDIR/$tag.out" 2>&1 &
	UNIT_OF[$!]=$tag
	running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
	reap
done
for u in "${UNITS[@]}"; do
	read -r k tag clock <<<"$u"
	[ -z "${NOT_RUN[$tag]:-}" ] || continue
	shared=''
	[ "$clock" != real ] || [ "$shards" -eq 1 ] || shared=1
	collect "$k" "$tag" $shared
done

passed=0 failed=0 skipped=0 i=0
{
	echo "TAP version 13"
	echo "1..${#TAP[@]}"
	for t in "${TAP[@]}"; do
		IFS=$'\t' read -r st name dir <<<"$t"
		i=$((i + 1))
		if [ "$st" = ok ]; then
			case "$dir" in
			[Ss][Kk][Ii][Pp]*) skipped=$((skipped + 1)) ;;
			*) passed=$((passed + 1)) ;;
			esac
		else
			failed=$((failed + 1))
		fi
		if [ "$st" = ok ]; then
			echo "ok $i $name${dir:+ # $dir}"
		else
			echo "not ok $i $name"
			[ -z "$dir" ] || echo "# $name: $dir"
		fi
	done
	summary="$passed passed, $failed failed"
	[ "$skipped" -eq 0 ] || summary+=", $skipped skipped"
	echo "$summary"
} >"$CHECKDIR/summary.tap"

echo
echo "check: summary (${CHECKDIR#"$ROOT"/}/summary.tap, logs in ${CHECKDIR#"$ROOT"/}/KVER{,-counted}/)"
cat "$CHECKDIR/summary.tap"
[ "$failed" -eq 0 ] && [ "$selftests_ok" = 1 ]
