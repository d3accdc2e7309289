#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb: build the Debian packages of skex from a staged tree with
# dpkg-deb (no debhelper needed):
#
#   build/deb/skex-dkms_VERSION_all.deb   the module's source for DKMS
#                                         (/usr/src/skex-VERSION), built and
#                                         installed for every supported kernel
#                                         with headers, at install time and on
#                                         each kernel upgrade (AUTOINSTALL)
#   build/deb/skex-tools_VERSION_all.deb  the CLI, when tools/skexctl/Makefile
#                                         exists (its `install` target, with
#                                         DESTDIR and PREFIX=/usr)
#
# VERSION is the top-level VERSION file. Prints the paths of the packages.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=$(head -n1 "$ROOT/VERSION")
OUT=$ROOT/build/deb
MAINT=${SKEX_DEB_MAINTAINER:-skex authors <skex@localhost>}

case "$VERSION" in
'' | *[!0-9A-Za-z.+~-]*) echo "mkdeb.sh: bad version '$VERSION' in VERSION" >&2; exit 1 ;;
esac
command -v dpkg-deb >/dev/null || { echo "mkdeb.sh: dpkg-deb not found" >&2; exit 1; }

mkdir -p "$OUT"
STAGE=$(mktemp -d "$OUT/.stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

# doc PKG DIR: copyright and changelog where lintian wants them
doc() {
	local pkg=$1 d=$2/usr/share/doc/$1
	mkdir -p "$d"
	cat >"$d/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: skex

Files: *
Copyright: The skex authors
License: GPL-2.0
 On Debian systems, the full text of the GNU General Public License
 version 2 can be found in the file '/usr/share/common-licenses/GPL-2'.
EOF
	printf '%s (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
		"$pkg" "$VERSION" "$VERSION" "$MAINT" \
		"$(date -R -d "@$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)")" |
		gzip -9n >"$d/changelog.Debian.gz"
}

# build PKG DIR: DEBIAN/control from stdin, then the .deb
build() {
	local pkg=$1 dir=$2 size
	mkdir -p "$dir/DEBIAN"
	size=$(du -sk --exclude=DEBIAN "$dir" | cut -f1)
	{
		cat
		echo "Installed-Size: $size"
	} >"$dir/DEBIAN/control"
	find "$dir" -type d -exec chmod 755 {} +
	dpkg-deb --root-owner-group -Zxz --build "$dir" "$OUT/${pkg}_${VERSION}_all.deb" >/dev/null
	echo "$OUT/${pkg}_${VERSION}_all.deb"
}

# --- skex-dkms ---
P=$STAGE/skex-dkms
SRC=$P/usr/src/skex-$VERSION
mkdir -p "$SRC/kernel" "$SRC/uapi/linux"
cp "$ROOT"/kernel/Kbuild "$ROOT"/kernel/*.[ch] "$SRC/kernel/"
rm -f "$SRC"/kernel/*.mod.c
cp "$ROOT"/uapi/linux/*.h "$SRC/uapi/linux/"
cp "$ROOT/VERSION" "$SRC/VERSION"
sed "s/@VERSION@/$VERSION/" "$ROOT/dkms.conf" >"$SRC/dkms.conf"
find "$SRC" -type f -exec chmod 644 {} +
doc skex-dkms "$P"
mkdir -p "$P/DEBIAN"
sed "s/@VERSION@/$VERSION/g" "$ROOT/packaging/debian/skex-dkms.postinst" >"$P/DEBIAN/postinst"
sed "s/@VERSION@/$VERSION/g" "$ROOT/packaging/debian/skex-dkms.prerm" >"$P/DEBIAN/prerm"
chmod 755 "$P/DEBIAN/postinst" "$P/DEBIAN/prerm"
build skex-dkms "$P" <<EOF
Package: skex-dkms
Version: $VERSION
Architecture: all
Section: kernel
Priority: optional
Maintainer: $MAINT
Depends: dkms (>= 2.1.0.0), make, gcc
Recommends: linux-headers-amd64 | linux-headers-6.12-amd64
Description: skex kernel module (DKMS source)
 skex brings connection forwarding between local ports (address, content
 and dice rules), socket groups (accept rate, accept ratio, output rate per
 listening port) and a per-port netmeter (/proc/net/skex) to Debian 12's
 stock 6.1 and 6.12 kernels, configured through configfs or socket options.
 .
 This package holds the module's source; DKMS builds and installs it for
 every installed supported kernel that has its headers, now and on each
 kernel upgrade. Other kernels are refused.
EOF

# --- skex-tools (when the CLI exists) ---
if [ -f "$ROOT/tools/skexctl/Makefile" ]; then
	T=$STAGE/skex-tools
	make -s -C "$ROOT/tools/skexctl" install DESTDIR="$T" PREFIX=/usr >&2
	doc skex-tools "$T"
	build skex-tools "$T" <<EOF
Package: skex-tools
Version: $VERSION
Architecture: all
Section: admin
Priority: optional
Maintainer: $MAINT
Depends: python3
Recommends: skex-dkms (= $VERSION)
Description: skex command-line tools
 skexctl shows and changes skex's forwarding rules, socket groups and net
 meters (configfs and /proc/net/skex) and saves or restores them as a file.
EOF
fi
