#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: install what is missing, build skex for the newest supported
# kernel (or KVER=..., also SKEX_DEMO_KERNEL), boot a throwaway QEMU VM with
# the module loaded and run the narrated tour, scripts/demo-guest.sh
# (arguments: its sections, default all). Then plot the throttled download's
# rate (build/demo/output_rate.png) from the samples the tour wrote.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

scripts/deps.sh
KVER=${KVER:-${SKEX_DEMO_KERNEL:-$(scripts/kernels.sh newest)}}
scripts/build.sh "$KVER"
DEMO=$ROOT/build/demo
mkdir -p "$DEMO"
rm -f "$DEMO/output_rate.png"
echo
echo "demo: booting Debian's $KVER in QEMU (TCG, no KVM: allow ~20 s) with skex loaded"
echo
color=()
[ -t 1 ] || color=(env NO_COLOR=1)
t0=$(date +%s)
rc=0
# A tour, not a test: no slub_debug (it makes every allocation, so every
# fork and connection, several times dearer under TCG). make check keeps it.
export SKEX_VM_SLUB_DEBUG=${SKEX_VM_SLUB_DEBUG-}
SKEX_VM_RUNDIR=$DEMO/vm scripts/vm.sh --kernel "$KVER" --module "build/$KVER/kernel/skex.ko" \
	--timeout "${SKEX_DEMO_TIMEOUT:-900}" -- "${color[@]}" scripts/demo-guest.sh "$@" </dev/null || rc=$?
secs=$(($(date +%s) - t0))

csv=$DEMO/vm/out/output_rate.csv
if [ -s "$csv" ]; then
	# Debian's interpreter (python3-matplotlib), not a PATH shim
	py=/usr/bin/python3
	[ -x "$py" ] || py=python3
	if "$py" scripts/demo-plot.py "$csv" "$DEMO/output_rate.png" "$KVER"; then
		echo "demo: the throttled download's rate over time: build/demo/output_rate.png"
	else
		echo "demo: could not plot $csv" >&2
		rc=1
	fi
fi
echo "demo: ${secs} s from boot to power-off on $KVER; transcript in build/demo/vm/out/cmd.log"
exit "$rc"
