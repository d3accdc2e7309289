#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-debug: make check on debug kernels. Builds (once, cached under
# build/debug-kernel/) a kernel of each supported series from Debian's own
# source (scripts/debug-kernel.sh: KASAN, UBSAN, lockdep with PROVE_LOCKING
# and PROVE_RCU, DEBUG_ATOMIC_SLEEP, KMEMLEAK, DEBUG_OBJECTS, ...), then runs
# scripts/check.sh on them: the whole suite on both clocks, with every run
# failing on any report of those checkers, and on any kmemleak report of a
# scan after the module is unloaded (scripts/vm.sh).
#
# The fuzzer makes SKEX_FUZZ_CALLS calls (default 1,000,000; make check runs
# it for 40 s) while its traffic and namespace churners run; its timeout
# leaves room for SKEX_FUZZ_MIN_RATE calls/s (run_all.sh; default 30: the
# debug kernels make 35 to 170 calls/s, the fewer the busier the host with
# other VMs, so a million calls take 2 to 3 hours per kernel).
#
# scripts/check.sh runs SKEX_CHECK_JOBS VMs at once (default: the host's
# cores). With one kernel (SKEX_DEBUG_SERIES=6.1) on 2 cores, two VMs share
# its real-clock tests through a queue, the longest (the fuzzer) first, and
# the counted-clock VM runs beside them: the fuzzer's hours pass beside the
# rest of the suite.
#
# Environment: SKEX_DEBUG_SERIES (default "6.1 6.12"), SKEX_TIMEOUT_SCALE
# (each test's timeout, and each harness case's, is multiplied by it;
# default 8: with KASAN and lockdep, on a host busy with other VMs, 4 was
# too little for forward's dice_chi2, 1000 connections, and netmeter's
# 4 GiB), SKEX_FUZZ_CALLS, SKEX_FUZZ_MIN_RATE, SKEX_FUZZ_SECS (a time
# budget: the fuzzer stops there short of its calls, e.g. 3600 for an hour),
# SKEX_CHECK_TIMEOUT (seconds per VM, default 14400 plus the fuzzer's room),
# and whatever scripts/check.sh takes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

"$ROOT/scripts/deps.sh" debug
rels=()
for s in ${SKEX_DEBUG_SERIES:-6.1 6.12}; do
	rels+=("$("$ROOT/scripts/debug-kernel.sh" "$s")")
done
export SKEX_KERNELS_DIR=$ROOT/build/debug-kernel/kernels
export SKEX_CHECK_KERNELS="${rels[*]}"
export SKEX_TIMEOUT_SCALE=${SKEX_TIMEOUT_SCALE:-8}
export SKEX_FUZZ_CALLS=${SKEX_FUZZ_CALLS:-1000000}
export SKEX_FUZZ_MIN_RATE=${SKEX_FUZZ_MIN_RATE:-30}
# load_unload: an insmod/rmmod cycle takes 3-5 minutes there (10 in make check)
export SKEX_LOAD_CYCLES=${SKEX_LOAD_CYCLES:-3}
export SKEX_CHECK_TIMEOUT=${SKEX_CHECK_TIMEOUT:-$((14400 + SKEX_FUZZ_CALLS / SKEX_FUZZ_MIN_RATE))}
# 5-level paging off: under the counted clock (icount) the 6.1 debug kernel
# takes an interrupt during identify_boot_cpu() whose descriptor KASAN sees
# as a wild access with LA57 (-cpu max), and panics before the module loads
export SKEX_VM_EXTRA_CMDLINE="${SKEX_VM_EXTRA_CMDLINE:+$SKEX_VM_EXTRA_CMDLINE }no5lvl"
export SKEX_CHECK_NO_DEPS=1
exec "$ROOT/scripts/check.sh" "$@"
