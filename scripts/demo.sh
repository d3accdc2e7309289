#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: install what is missing, build skex for the newest supported
# kernel (or SKEX_DEMO_KERNEL), boot a throwaway QEMU VM with the module
# loaded and run the narrated tour, scripts/demo-guest.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

scripts/deps.sh
KVER=${SKEX_DEMO_KERNEL:-$(scripts/kernels.sh newest)}
scripts/build.sh "$KVER"
echo
echo "demo: booting Debian's $KVER in QEMU (TCG, no KVM: allow ~15 s) with skex loaded"
echo
color=()
[ -t 1 ] || color=(env NO_COLOR=1)
exec scripts/vm.sh --kernel "$KVER" --module "build/$KVER/kernel/skex.ko" \
	--timeout "${SKEX_DEMO_TIMEOUT:-900}" -- "${color[@]}" scripts/demo-guest.sh "$@" </dev/null
