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
#                      (check-debug: 1000000, with SKEX_TIMEOUT_SCALE to match)
#
# Usage: run_all.sh [-l] [--clock real|counted] [TEST...]
#   -l       list the tests (those --clock selects)
#   --clock  only the tests meant for that VM (the last column below):
#            real: a VM with two CPUs on the host's clock, for the tests
#            whose point is concurrency; counted: one CPU on a counted
#            clock (scripts/vm.sh --icount), for the tests that hold a
#            rate, a ratio or a CPU share to a bound, which a host busy
#            with something else must not move (make check runs both)

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

# name, kind (bin: C harness in $SKEX_BIN_DIR; sh: script here), timeout (s),
# clock (see --clock). On the counted clock an idle guest's time jumps to its
# next timer, so waiting for the host (a program's first reads over 9p) can
# take a minute of guest time: tests there that start programs get room.
TESTS=(
	"interfaces          sh   60   real"
	"transparency        bin  300  real"
	"netmeter            bin  300  real"
	"netmeter_netns      sh   120  real"
	"netmeter_nginx      sh   120  real"
	"netmeter_preload    sh   120  real"
	"group_api           bin  120  real"
	"group_output        bin  300  counted"
	"group_accept        bin  300  counted"
	"group_nginx         sh   300  counted"
	"group_ftp           sh   300  counted"
	"group_unload        sh   180  real"
	"load_unload         sh   300  real"
	"forward             bin  420  real"
	"forward_configfs    sh   300  real"
	"forward_nginx       sh   120  real"
	"forward_unload      sh   600  real"
	"fuzz                bin  240  real"
	"bench_smoke         sh   600  counted"
)

list=0
clock=
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
	*) break ;;
	esac
	shift
done
if [ -n "$clock" ]; then
	kept=()
	for t in "${TESTS[@]}"; do
		read -r _ _ _ c <<<"$t"
		[ "$c" = "$clock" ] && kept+=("$t")
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
for t in "${TESTS[@]}"; do
	read -r name _ <<<"$t"
	if [ $# -eq 0 ]; then
		selected+=("$t")
		continue
	fi
	for want in "$@"; do
		[ "$want" = "$name" ] || [ "$want" = "$name.sh" ] && selected+=("$t")
	done
done
if [ $# -gt 0 ] && [ ${#selected[@]} -eq 0 ]; then
	echo "run_all.sh: no test named $*; tests: $("$0" -l | tr '\n' ' ')" >&2
	exit 2
fi

# new kernel log lines that mean the kernel is unhappy
KERNEL_BAD='WARNING:|BUG:|Oops|general protection|kernel BUG|Call Trace:|UBSAN:|KASAN:|kmemleak:.*new suspected|RCU stall|rcu_sched detected stall|INFO: task .* blocked|refcount_t:|list_(add|del) corruption|unreferenced object|slab error|Poison overwritten'

klog_lines() { dmesg 2>/dev/null | wc -l; }

tmp=$(mktemp -d /tmp/skex-run_all.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

echo "TAP version 13"
echo "1..${#selected[@]}"
echo "# skex selftests on $(uname -r), binaries from $SKEX_BIN_DIR, SKEX_KO=${SKEX_KO:-unset}"

n=0
passed=0
failed=0
skipped=0
for t in "${selected[@]}"; do
	read -r name kind limit _ <<<"$t"
	n=$((n + 1))
	limit=$((limit * scale))
	if [ "$kind" = bin ]; then
		cmd=("$SKEX_BIN_DIR/$name")
	else
		cmd=(bash "$SKEX_DIR/$name.sh")
	fi

	k0=$(klog_lines)
	start=$(date +%s)
	if [ "$kind" = bin ] && [ ! -x "${cmd[0]}" ]; then
		echo "${cmd[0]} missing: build with make -C tools/testing/selftests/skex" >"$tmp/out"
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
			grep -E "$KERNEL_BAD" >"$tmp/klog"; then
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
echo "# skex selftests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
