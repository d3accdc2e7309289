#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build skex.ko out of place for one kernel, against its headers unpacked
# under build/kernels/KVER (scripts/kernels.sh fetch, run by scripts/deps.sh):
#
#   scripts/build.sh KVER      -> build/KVER/kernel/skex.ko
#
# kernel/, uapi/ and VERSION are copied to build/KVER/ (keeping their relative layout,
# kernel/Kbuild adds -I$(src)/../uapi) and built there with W=1. Any compiler
# or kbuild warning fails the build. Extra make arguments can be passed in
# SKEX_BUILD_ARGS (e.g. SKEX_BUILD_ARGS="C=1"). SKEX_SRC names another
# directory holding kernel/ and uapi/ (default: the repository).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=${SKEX_SRC:-$ROOT}
KVER=${1:?usage: $0 KVER}
# Debian's headers of KVER as unpacked under build/kernels/ (scripts/kernels.sh)
KDIR=$("$ROOT/scripts/kernels.sh" kdir "$KVER") || exit 1
OUT=$ROOT/build/$KVER

[ -e "$KDIR/Makefile" ] || { echo "build.sh: no headers for $KVER ($KDIR)" >&2; exit 1; }
[ -d "$SRC/kernel" ] || { echo "build.sh: $SRC/kernel does not exist" >&2; exit 1; }

mkdir -p "$OUT"
# One build per kernel at a time (make check, make demo and people share build/).
exec 9>"$OUT/.build.lock"
flock 9

for d in kernel uapi; do
	[ -d "$SRC/$d" ] || continue
	if command -v rsync >/dev/null 2>&1; then
		# Keep build products from earlier runs (incremental builds), drop
		# sources that were removed from the tree.
		rsync -a --delete \
			--exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
			--exclude='*.mod.c' --exclude='.*.cmd' --exclude='*.a' \
			--exclude='Module.symvers' --exclude='modules.order' \
			--exclude='.tmp_versions' --exclude='*.d' \
			"$SRC/$d/" "$OUT/$d/"
	else
		rm -rf "${OUT:?}/$d"
		cp -a "$SRC/$d" "$OUT/$d"
		# Products built in place by a plain `make` must not leak in.
		find "$OUT/$d" \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
			-o -name '*.mod.c' -o -name '.*.cmd' -o -name '*.a' \
			-o -name Module.symvers -o -name modules.order \) -delete
	fi
done

# kernel/Kbuild reads MODULE_VERSION from ../VERSION
cp -p "$SRC/VERSION" "$OUT/VERSION"

log=$OUT/build.log
echo "build.sh: building skex for $KVER in ${OUT#"$ROOT"/}" >&2
set +e
# shellcheck disable=SC2086  # SKEX_BUILD_ARGS is a list of make arguments
make -C "$KDIR" M="$OUT/kernel" W=1 ${SKEX_BUILD_ARGS:-} modules 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
	echo "build.sh: build for $KVER FAILED (make exit $rc), log: $log" >&2
	exit 1
fi
if grep -E -i 'warning:' "$log" >/dev/null; then
	echo "build.sh: build for $KVER emitted warnings (treated as errors):" >&2
	grep -E -i 'warning:' "$log" >&2
	# Objects that compiled with a warning must compile (and warn) again.
	find "$OUT" -name '*.o' -delete
	rm -f "$OUT/kernel/skex.ko"
	exit 1
fi
if [ ! -f "$OUT/kernel/skex.ko" ]; then
	echo "build.sh: $OUT/kernel/skex.ko was not produced" >&2
	exit 1
fi
echo "build.sh: OK ${OUT#"$ROOT"/}/kernel/skex.ko" >&2
