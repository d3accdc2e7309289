#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a debug kernel for make check-debug from Debian's own kernel source
# (linux-source-6.1, linux-source-6.12), trimmed to what the test VMs need:
#
#   scripts/debug-kernel.sh SERIES       (SERIES: 6.1 or 6.12)
#
# Config: x86_64_defconfig + kernel/configs/kvm_guest.config +
# scripts/debug-kernel/skex.config (what the VMs, the selftests and the bench
# tools use) + scripts/debug-kernel/debug.config (KASAN, UBSAN, lockdep with
# PROVE_LOCKING/PROVE_RCU, DEBUG_ATOMIC_SLEEP, KMEMLEAK, DEBUG_OBJECTS, ...).
# The kernel is installed the way scripts/kernels.sh lays out Debian's
# unpacked kernels, but in a root of its own, build/debug-kernel/kernels/
# RELEASE/{boot/vmlinuz-RELEASE,lib/modules/RELEASE/,usr/src/linux-headers-
# RELEASE -> the object tree}, so that with SKEX_KERNELS_DIR set to that root
# scripts/build.sh and scripts/vm.sh take it like any other kernel (and make
# check never picks it up). Prints RELEASE.
#
# Cached: nothing is rebuilt while the source package, the fragments and this
# script are unchanged (build/debug-kernel/SERIES.stamp). A first build takes
# about 25 minutes per kernel on 2 cores; nothing here touches /boot.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERIES=${1:?usage: $0 6.1|6.12}
TARBALL=/usr/src/linux-source-$SERIES.tar.xz
FRAG=$ROOT/scripts/debug-kernel
WORK=$ROOT/build/debug-kernel
SRC=$WORK/linux-source-$SERIES
OBJ=$WORK/obj-$SERIES
KROOT=$WORK/kernels
JOBS=${SKEX_DEBUG_JOBS:-$(($(nproc) + 1))}

log() { echo "debug-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

[ -r "$TARBALL" ] || die "no $TARBALL (make deps installs linux-source-$SERIES)"
for t in flex bison bc; do
	command -v "$t" >/dev/null || die "$t missing (make deps)"
done

# what the kernel is made of, not where this checkout is (worktrees share it)
key=$(
	{
		stat -c '%s %Y' "$TARBALL"
		for f in "${BASH_SOURCE[0]}" "$FRAG"/*.config; do
			echo "${f##*/} $(sha256sum <"$f")"
		done
	} | sha256sum | cut -d' ' -f1
)
stamp=$WORK/$SERIES.stamp
if [ -s "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$key" ]; then
	rel=$(sed -n 2p "$stamp")
	if [ -e "$KROOT/$rel/.complete" ]; then
		echo "$rel"
		exit 0
	fi
fi

mkdir -p "$WORK"
if [ ! -e "$SRC/Makefile" ] || [ "$(cat "$SRC/.skex-tarball" 2>/dev/null)" != "$(stat -c '%s %Y' "$TARBALL")" ]; then
	log "unpacking $TARBALL"
	rm -rf "$SRC" "$OBJ"
	mkdir -p "$SRC"
	tar -xJf "$TARBALL" -C "$SRC" --strip-components=1
	stat -c '%s %Y' "$TARBALL" >"$SRC/.skex-tarball"
fi

mkdir -p "$OBJ"
make -s -C "$SRC" O="$OBJ" x86_64_defconfig >/dev/null
"$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" \
	"$SRC/kernel/configs/kvm_guest.config" "$FRAG/skex.config" \
	"$FRAG/debug.config" >"$WORK/merge-$SERIES.log"
make -s -C "$SRC" O="$OBJ" olddefconfig >/dev/null

# Every option the fragments ask for must have made it into the config.
missing=0
while IFS= read -r l; do
	case "$l" in
	"# CONFIG_"*" is not set")
		n=${l#\# }
		n=${n%% *}
		if grep -q "^$n=" "$OBJ/.config"; then
			log "config: $n is set, the fragments want it unset"
			missing=1
		fi
		;;
	CONFIG_*)
		if ! grep -qxF "$l" "$OBJ/.config"; then
			log "config: wanted $l, got '$(grep "^${l%%=*}=" "$OBJ/.config" || echo unset)'"
			missing=1
		fi
		;;
	esac
done < <(cat "$FRAG"/*.config)
[ "$missing" = 0 ] || die "the fragments ask for options this tree cannot give"

log "building $SERIES in ${OBJ#"$ROOT"/} (-j$JOBS, log ${WORK#"$ROOT"/}/build-$SERIES.log)"
t0=$(date +%s)
if ! nice -n 10 make -C "$SRC" O="$OBJ" -j"$JOBS" bzImage modules >"$WORK/build-$SERIES.log" 2>&1; then
	tail -n 30 "$WORK/build-$SERIES.log" >&2
	die "build of $SERIES failed"
fi
rel=$(make -s -C "$SRC" O="$OBJ" kernelrelease)
log "built $rel in $(($(date +%s) - t0)) s"

dest=$KROOT/$rel
rm -rf "$dest"
mkdir -p "$dest/boot" "$dest/usr/src"
make -s -C "$SRC" O="$OBJ" INSTALL_MOD_PATH="$dest" INSTALL_MOD_STRIP=1 modules_install >/dev/null
cp "$OBJ/arch/x86/boot/bzImage" "$dest/boot/vmlinuz-$rel"
cp "$OBJ/System.map" "$dest/boot/System.map-$rel"
cp "$OBJ/.config" "$dest/boot/config-$rel"
rm -f "$dest/lib/modules/$rel/build" "$dest/lib/modules/$rel/source"
ln -s "$OBJ" "$dest/lib/modules/$rel/build"
ln -s "$OBJ" "$dest/usr/src/linux-headers-$rel"
# what scripts/kernels.sh checks before it takes a tree (its physical path:
# build/ may be a symbolic link)
printf 'base=%s\n' "$(cd "$dest" && pwd -P)" >"$dest/.complete"
printf '%s\n%s\n' "$key" "$rel" >"$stamp"
echo "$rel"
