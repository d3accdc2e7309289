#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make profile: where the cost of skex's hooks goes. For every supported
# kernel, build skex.ko, boot a VM on the counted clock (as make bench does:
# one vCPU, 4 ns per instruction, so that a cpu-clock sample is a fixed
# number of instructions whatever else the host runs) and profile with perf
# two of s1's loads, connections (wrk, nginx) and 1-byte send/recv calls,
# with the module unloaded, loaded and configured with non-binding groups
# (bench/profile_guest.sh); then write the report (bench/profile_report.py):
# samples per operation, the module's own share, and the symbols that grew.
#
#   scripts/profile.sh [--kernel KVER]...
#
# Output: build/profile/last/KVER/{report.md,out/*}. Exit non-zero when a
# build or a VM fails. Environment: SKEX_PROFILE_SECS (seconds per load and
# state, default 12), SKEX_PROFILE_STATES (default "unloaded loaded
# configured"), SKEX_PROFILE_TIMEOUT (seconds per VM, default 2400: the
# reports are slow to make under TCG).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
kernels=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernels+=("${2:?}"); shift 2 ;;
	-h | --help) sed -n '4,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "profile.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
"$ROOT/scripts/deps.sh"
[ ${#kernels[@]} -gt 0 ] || mapfile -t kernels < <("$ROOT/scripts/kernels.sh")
command -v perf >/dev/null || { echo "profile.sh: perf missing (linux-perf)" >&2; exit 1; }

run=$ROOT/build/profile/run-$(date +%Y%m%d-%H%M%S).$$
mkdir -p "$run"
ln -sfn "$run" "$ROOT/build/profile/last"
make -s -C "$ROOT/bench"

fail=0
for k in "${kernels[@]}"; do
	echo "profile: ===== $k ====="
	if ! "$ROOT/scripts/build.sh" "$k" >"$run/build-$k.log" 2>&1; then
		echo "profile: $k: module build FAILED ($run/build-$k.log)"
		fail=1
		continue
	fi
	# a copy: the guest loads it late, and the tree may be rebuilt meanwhile
	# (not in the VM's directory, which vm.sh makes afresh)
	cp "build/$k/kernel/skex.ko" "$run/skex-$k.ko"
	if ! SKEX_VM_RUNDIR=$run/$k SKEX_VM_SLUB_DEBUG='' "$ROOT/scripts/vm.sh" \
		--kernel "$k" --smp 1 --icount 2 --timeout "${SKEX_PROFILE_TIMEOUT:-2400}" -- \
		env PROFILE_SECS="${SKEX_PROFILE_SECS:-12}" \
		PROFILE_STATES="${SKEX_PROFILE_STATES:-unloaded loaded configured}" \
		bench/profile_guest.sh "$run/skex-$k.ko" </dev/null >"$run/vm-$k.log" 2>&1; then
		echo "profile: $k: VM run FAILED ($run/vm-$k.log)"
		fail=1
		continue
	fi
	python3 "$ROOT/bench/profile_report.py" "$run/$k/out" >"$run/$k/report.md" || fail=1
	echo "profile: $k: $run/$k/report.md"
done
exit $fail
