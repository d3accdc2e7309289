#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# skex selftest suite runner, run as root inside the test VM (or on a host
# with the module loaded). Runs each test under a timeout and prints KTAP:
#
#   TAP version 13
#   1..N
#   # <test output>
#   ok 1 name | not ok 1 name | ok 1 name # SKIP reason
#   ...
#   # skex selftests: P passed, F failed, S skipped
#
# Exits 1 if any test failed (a timeout, or a kernel WARNING/BUG/oops logged
# while it ran, counts as a failure), else 0.
#
# Nothing is built here (the VM's root is read-only): the C tests must have
# been built on the host with `make -C tools/testing/selftests/skex`, into
# $SKEX_BIN_DIR (default <repo>/build/selftests).
#
# Environment:
#   SKEX_KO            path of skex.ko, for the tests that reload it (else
#                      SKEX_MODULE, as scripts/vm.sh sets it); when set,
#                      SKEX_REQUIRE=1 is exported: a missing module fails
#   SKEX_REQUIRE       1: module interfaces must be there (no SKIP)
#   SKEX_BIN_DIR       where the built tests are
#   SKEX_TIMEOUT_SCALE multiply every timeout (integer, default 1)
#   SKEX_FUZZ_CALLS    fuzz: make this many calls instead of a 40 s run
#                      (check-debug: 1000000); its timeout then leaves room
#                      for SKEX_FUZZ_MIN_RATE calls/s (default 100) if that
#                      is more than tests.list's
#   SKEX_FUZZ_SECS     fuzz: stop after this many seconds, even short of
#                      SKEX_FUZZ_CALLS (a run that has to fit a window)
#
# Usage: run_all.sh [-l] [--clock real|counted] [--queue DIR] [TEST...]
#   TEST     a name of tests.list (the list of tests, with each one's kind,
#            timeout and clock); none: all of them. NAME:CASE runs one
#            TEST/TEST_F case (or FIXTURE.CASE) of a harness binary.
#   -l       list the tests (those --clock selects)
#   --clock  only the tests meant for that VM (tests.list's last column):
#            real: a VM with two CPUs on the host's clock; counted: one CPU
#            on a counted clock (make check runs both)
#   --queue  share the tests with other runners of the same kernel (VMs
#            side by side, scripts/check.sh): take them longest timeout
#            first, and run each one that DIR/NAME could be made for (mkdir
#            is atomic); the plan line (1..N) comes last then, and
#            DIR/.drained tells that the last test is taken
#
# One test in a VM of one kernel, from the host: make check T=NAME K=6.1
# (scripts/check.sh --kernel 6.1 NAME); one case: T=forward:address_lpm.

SKEX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SKEX_REPO=$(cd "$SKEX_DIR/../../../.." && pwd)
export SKEX_BIN_DIR=${SKEX_BIN_DIR:-$SKEX_REPO/build/selftests}
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
# scripts/vm.sh names the loaded module SKEX_MODULE
if [ -z "${SKEX_KO:-}" ] && [ -n "${SKEX_MODULE:-}" ]; then
	export SKEX_KO=$SKEX_MODULE
fi
if [ -n "${SKEX_KO:-}" ] && [ -z "${SKEX_REQUIRE:-}" ]; then
	export SKEX_REQUIRE=1
fi
scale=${SKEX_TIMEOUT_SCALE:-1}
fuzz_calls=${SKEX_FUZZ_CALLS:-}
fuzz_rate=${SKEX_FUZZ_MIN_RATE:-100}
number() {
	case $2 in
	'' | *[!0-9]* | 0) echo "run_all.sh: $1 must be a number > 0" >&2; exit 2 ;;
	esac
}
number SKEX_TIMEOUT_SCALE "$scale"
[ -z "$fuzz_calls" ] || number SKEX_FUZZ_CALLS "$fuzz_calls"
number SKEX_FUZZ_MIN_RATE "$fuzz_rate"

# The tests: tests.list (name, kind, timeout, clock[, kernels]), one per line.
TESTS=()
while IFS= read -r line; do
	case $line in
	'#'* | '') continue ;;
	esac
	TESTS+=("$line")
done <"$SKEX_DIR/tests.list"

list=0
clock=
queue=
while [ $# -gt 0 ]; do
	case $1 in
	-l) list=1 ;;
	--clock)
		clock=${2:-}
		case $clock in
		real | counted) ;;
		*) echo "run_all.sh: --clock real|counted" >&2; exit 2 ;;
		esac
		shift
		;;
	--queue)
		queue=${2:-}
		[ -d "$queue" ] || { echo "run_all.sh: --queue DIR: no directory '$queue'" >&2; exit 2; }
		shift
		;;
	*) break ;;
	esac
	shift
done
if [ -n "$clock" ]; then
	kept=()
	for t in "${TESTS[@]}"; do
		read -r _ _ _ c _ <<<"$t"
		[ "$c" = "$clock" ] && kept+=("$t")
	done
	TESTS=("${kept[@]}")
fi
# A test with a kernels column runs in a whole-suite run only on those
# kernel series (named, it runs on any; -l lists it).
if [ $# -eq 0 ] && [ "$list" = 0 ]; then
	kept=()
	for t in "${TESTS[@]}"; do
		read -r _ _ _ _ only <<<"$t"
		if [ -n "$only" ]; then
			match=0
			for s in ${only//,/ }; do
				case $(uname -r) in "$s".*) match=1 ;; esac
			done
			[ $match = 1 ] || continue
		fi
		kept+=("$t")
	done
	TESTS=("${kept[@]}")
fi

if [ "$list" = 1 ]; then
	for t in "${TESTS[@]}"; do
		read -r name _ <<<"$t"
		echo "$name"
	done
	exit 0
fi

selected=()
cases=()	# NAME:CASE: that case only (SKEX_TEST_CASE, skex_common.h)
for t in "${TESTS[@]}"; do
	read -r name kind _ <<<"$t"
	if [ $# -eq 0 ]; then
		selected+=("$t")
		cases+=("")
		continue
	fi
	for want in "$@"; do
		wname=${want%%:*}
		wcase=${want#"$wname"}
		wcase=${wcase#:}
		[ "$wname" = "$name" ] || [ "$wname" = "$name.sh" ] || continue
		if [ -n "$wcase" ] && [ "$kind" != bin ]; then
			echo "run_all.sh: $name is a script: no cases to pick" >&2
			exit 2
		fi
		selected+=("$t")
		cases+=("$wcase")
	done
done
if [ $# -gt 0 ] && [ ${#selected[@]} -eq 0 ]; then
	echo "run_all.sh: no test named $*; tests: $("$0" -l | tr '\n' ' ')" >&2
	exit 2
fi

# time_limit NAME TIMEOUT: the seconds a test gets
time_limit() {
	local limit=$(($2 * scale))

	# fuzz with a call count (check-debug): room for fuzz_rate calls/s
	if [ "$1" = fuzz ] && [ -n "$fuzz_calls" ] &&
	   [ $((fuzz_calls / fuzz_rate + 300)) -gt "$limit" ]; then
		limit=$((fuzz_calls / fuzz_rate + 300))
	fi
	echo "$limit"
}

# A shared queue: the longest first, so that the runners end together.
if [ -n "$queue" ]; then
	order=$(for i in "${!selected[@]}"; do
			read -r name _ limit _ <<<"${selected[$i]}"
			echo "$(time_limit "$name" "$limit") $i"
		done | sort -s -k1,1nr | cut -d' ' -f2)
	sel=() cas=()
	for i in $order; do
		sel+=("${selected[$i]}")
		cas+=("${cases[$i]}")
	done
	selected=("${sel[@]}") cases=("${cas[@]}")
fi

klog_lines() { dmesg 2>/dev/null | wc -l; }

tmp=$(mktemp -d /tmp/skex-run_all.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

# new kernel log lines that mean the kernel is unhappy (shared with
# scripts/vm.sh): kernel_bad.ere without its comments
grep -v -e '^#' -e '^[[:space:]]*$' "$SKEX_DIR/kernel_bad.ere" >"$tmp/kernel_bad" || exit 1

echo "TAP version 13"
[ -n "$queue" ] || echo "1..${#selected[@]}"
echo "# skex selftests on $(uname -r), binaries from $SKEX_BIN_DIR, SKEX_KO=${SKEX_KO:-unset}"

n=0
passed=0
failed=0
skipped=0
for i in "${!selected[@]}"; do
	read -r name kind limit _ <<<"${selected[$i]}"
	limit=$(time_limit "$name" "$limit")
	if [ "$kind" = bin ]; then
		cmd=("$SKEX_BIN_DIR/$name")
		if [ -n "${cases[$i]}" ]; then
			cmd=(env SKEX_TEST_CASE="${cases[$i]}" "${cmd[@]}")
			name+=":${cases[$i]}"
		fi
	else
		cmd=(bash "$SKEX_DIR/$name.sh")
	fi
	if [ -n "$queue" ]; then
		taken=0
		mkdir "$queue/${name//\//_}" 2>/dev/null || taken=1
		# the list's last test is taken: a runner that starts now finds
		# nothing to run (scripts/check.sh does not start it)
		[ "$i" -lt $((${#selected[@]} - 1)) ] || : >"$queue/.drained"
		[ "$taken" = 0 ] || continue	# another runner took it
	fi
	n=$((n + 1))

	k0=$(klog_lines)
	start=$(date +%s)
	if [ "$kind" = bin ] && [ ! -x "$SKEX_BIN_DIR/${name%%:*}" ]; then
		echo "$SKEX_BIN_DIR/${name%%:*} missing: build with make -C tools/testing/selftests/skex" >"$tmp/out"
		sed 's/^/# /' "$tmp/out"
		rc=1
	else
		# streamed, so a kernel crash shows where the test was
		(cd "$tmp" && timeout --kill-after=10 "$limit" "${cmd[@]}") \
			</dev/null 2>&1 | tee "$tmp/out" | sed -u 's/^/# /'
		rc=${PIPESTATUS[0]}
	fi
	secs=$(($(date +%s) - start))

	verdict=
	reason=
	case $rc in
	0)
		# a harness binary whose every case skipped exits 0
		if [ "$kind" = bin ] &&
		   grep -q '^# Totals: pass:0 fail:0 .*skip:[1-9]' "$tmp/out"; then
			verdict=skip
			reason=$(sed -n 's/^ok [0-9]* # SKIP //p' "$tmp/out" | head -n1)
		else
			verdict=ok
		fi
		;;
	4)
		verdict=skip
		reason=$(sed -n 's/^SKIP: //p' "$tmp/out" | head -n1)
		;;
	124|137)
		verdict=fail
		echo "# $name: killed after ${limit}s timeout"
		;;
	*)
		verdict=fail
		;;
	esac

	k1=$(klog_lines)
	if [ "$k1" -gt "$k0" ] && dmesg 2>/dev/null | tail -n +$((k0 + 1)) |
			grep -E -f "$tmp/kernel_bad" >"$tmp/klog"; then
		echo "# $name: kernel log while it ran:"
		dmesg | tail -n +$((k0 + 1)) | head -n 80 | sed 's/^/# dmesg: /'
		verdict=fail
	fi

	echo "# $name: ${secs}s, exit $rc"
	case $verdict in
	ok)
		passed=$((passed + 1))
		echo "ok $n $name"
		;;
	skip)
		skipped=$((skipped + 1))
		echo "ok $n $name # SKIP ${reason:-skipped}"
		;;
	*)
		failed=$((failed + 1))
		echo "not ok $n $name"
		;;
	esac
done

if [ -n "${SKEX_KO:-}" ] && ! grep -qw '^skex' /proc/modules; then
	echo "# FAIL: skex is not loaded at the end of the suite"
	failed=$((failed + 1))
fi
[ -z "$queue" ] || echo "1..$n"
echo "# skex selftests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
