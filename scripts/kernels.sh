#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian kernels skex is tested on, kept under build/kernels/ and never
# installed on the host: each is Debian's own linux-image, linux-headers
# (arch and common) and linux-kbuild packages, fetched with `apt-get download`
# and unpacked with `dpkg-deb -x` into build/kernels/KVER/ (boot/vmlinuz-KVER,
# lib/modules/KVER with its modules.dep, usr/src/linux-headers-KVER as the
# build tree). Versions are discovered from Debian's meta-packages
# (linux-image-amd64: 6.1, linux-image-6.12-amd64: 6.12), never hard-coded.
#
#   scripts/kernels.sh              the unpacked kernels, one per line, oldest
#                                   first (the newest of each series)
#   scripts/kernels.sh newest       only the newest one
#   scripts/kernels.sh fetch        download and unpack what is missing (what
#                                   scripts/deps.sh runs; cached, idempotent)
#   scripts/kernels.sh kdir KVER    the build tree (KDIR) of an unpacked kernel
#   scripts/kernels.sh root KVER    its unpacked root (build/kernels/KVER)
#   scripts/kernels.sh installed    supported kernels whose headers are
#                                   installed on this machine (/lib/modules/
#                                   KVER/build): for `make` on a real host
#
# The unpacked trees are fixed up to work where they are: the headers'
# Makefile includes the common headers under build/, lib/modules/KVER/build
# and source point into build/ (absolute paths, so they work in the test VMs,
# which see the repository at the same path and bind-mount
# lib/modules/KVER over /lib/modules/KVER, see scripts/mkinitramfs.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KROOT=${SKEX_KERNELS_DIR:-$ROOT/build/kernels}
SERIES=(6.1 6.12)
# series -> Debian meta-package of its newest image
declare -A META=([6.1]=linux-image-amd64 [6.12]=linux-image-6.12-amd64)

UPDATED=0

log() { echo "kernels.sh: $*" >&2; }

# usable KVER: unpacked completely (at this path, which may be reached through
# a symlink, e.g. build/kernels of a git worktree) with a kernel and headers
usable() {
	local k=$1 d=$KROOT/$1
	[ -d "$d" ] &&
		[ "$(sed -n 's/^base=//p' "$d/.complete" 2>/dev/null)" = "$(cd "$d" && pwd -P)" ] &&
		[ -r "$d/boot/vmlinuz-$k" ] &&
		[ -e "$d/usr/src/linux-headers-$k/Makefile" ] &&
		[ -r "$d/lib/modules/$k/modules.dep" ]
}

# pick SERIES: the newest usable unpacked kernel of that series
pick() {
	local series=$1 d k best=
	for d in "$KROOT/$series".*; do
		[ -d "$d" ] || continue
		k=${d##*/}
		usable "$k" || continue
		best+="$k"$'\n'
	done
	printf '%s' "$best" | sort -V | tail -n1
}

list() {
	local -a found=()
	local s k
	for s in "${SERIES[@]}"; do
		k=$(pick "$s")
		[ -n "$k" ] && found+=("$k")
	done
	if [ ${#found[@]} -eq 0 ]; then
		log "no kernel unpacked under ${KROOT#"$ROOT"/}: run scripts/deps.sh (make deps)"
		exit 1
	fi
	printf '%s\n' "${found[@]}"
}

# installed: supported kernels with headers installed on this host
installed() {
	local d k
	for d in /lib/modules/*; do
		k=${d##*/}
		case "$k" in
		6.1.* | 6.12.*) ;;
		*) continue ;;
		esac
		[ -e "$d/build/Makefile" ] && echo "$k"
	done | sort -V
}

# deps_of PKG REGEX: PKG's direct Depends whose names match REGEX
deps_of() {
	apt-cache depends --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances "$1" 2>/dev/null |
		sed -n 's/^ *|\{0,1\}Depends: \([^ <>]*\)$/\1/p' | grep -E "$2" | sort -u
}

# Point an absolute path (symlink target, include) into the unpacked root.
fixup() {
	local k=$1 d=$KROOT/$1 l t mk
	# symlinks such as lib/modules/KVER/build -> /usr/src/linux-headers-KVER
	while IFS= read -r -d '' l; do
		t=$(readlink "$l")
		case "$t" in
		/*) [ -e "$d$t" ] && ln -sfn "$d$t" "$l" ;;
		esac
	done < <(find "$d" -type l -print0)
	# the arch headers' Makefile: include /usr/src/linux-headers-*-common/Makefile
	mk=$d/usr/src/linux-headers-$k/Makefile
	sed -i -e "s|^include /usr/src/|include $d/usr/src/|" "$mk"
	grep -q "^include $d/" "$mk" || { log "$mk: unexpected content"; return 1; }
	# modules.dep & co (Debian's postinst makes them with depmod)
	depmod -b "$d" -F "$d/boot/System.map-$k" "$k"
}

# fetch_series SERIES: make sure the newest kernel of SERIES is unpacked
fetch_series() {
	local series=$1 meta=${META[$1]} image k d tmp p
	local -a pkgs
	image=$(deps_of "$meta" '^linux-image-[0-9]' | head -n1)
	if [ -z "$image" ] && [ -z "$(pick "$series")" ] && [ "$UPDATED" = 0 ]; then
		# a fresh machine (or a container) may have no package lists yet
		log "apt does not know $meta: apt-get update"
		UPDATED=1
		apt-get update -q >&2 || true
		image=$(deps_of "$meta" '^linux-image-[0-9]' | head -n1)
	fi
	if [ -z "$image" ]; then
		k=$(pick "$series")
		if [ -n "$k" ]; then
			log "apt does not know $meta (offline?): keeping $k"
			return 0
		fi
		log "apt does not know $meta: run apt-get update"
		return 1
	fi
	k=${image#linux-image-}
	k=${k%-unsigned}
	d=$KROOT/$k
	if usable "$k"; then
		return 0
	fi
	pkgs=("$image" "linux-headers-$k")
	mapfile -t -O 2 pkgs < <(deps_of "linux-headers-$k" '^linux-(headers-.*-common|kbuild-)')
	[ ${#pkgs[@]} -ge 4 ] || { log "cannot find the headers' packages of $k (${pkgs[*]})"; return 1; }
	log "fetching $k: ${pkgs[*]}"
	mkdir -p "$KROOT"
	tmp=$KROOT/.fetch
	rm -rf "$tmp"
	mkdir -p "$tmp"
	# _apt (apt's download user) must be able to write there
	chmod 755 "$tmp"
	chown _apt "$tmp" 2>/dev/null || true
	if ! (cd "$tmp" && apt-get download -q "${pkgs[@]}" >"$tmp.log" 2>&1); then
		cat "$tmp.log" >&2
		log "apt-get download failed"
		return 1
	fi
	rm -f "$tmp.log"
	for p in "${pkgs[@]}"; do
		compgen -G "$tmp/${p}_*.deb" >/dev/null || { log "download of $p failed"; return 1; }
	done
	rm -rf "$d"
	mkdir -p "$d"
	for p in "$tmp"/*.deb; do
		dpkg-deb -x "$p" "$d"
	done
	fixup "$k"
	{
		echo "base=$d"
		for p in "$tmp"/*.deb; do
			dpkg-deb -f "$p" Package Version | paste -sd' '
		done
	} >"$d/.complete"
	rm -rf "$tmp"
	log "unpacked $k in ${d#"$ROOT"/} ($(du -sh "$d" | cut -f1))"
}

fetch() {
	local s rc=0
	command -v apt-get >/dev/null || { log "apt-get not found (Debian 12 needed)"; exit 1; }
	mkdir -p "$KROOT"
	# one fetch at a time (make check and make demo may start together)
	exec 8>"$KROOT/.lock"
	flock 8
	for s in "${SERIES[@]}"; do
		fetch_series "$s" || rc=1
	done
	return $rc
}

main() {
	case "${1:-all}" in
	all) list ;;
	newest) list | sort -V | tail -n1 ;;
	fetch) fetch ;;
	kdir)
		usable "${2:?usage: $0 kdir KVER}" || { log "$2 is not unpacked (run scripts/deps.sh)"; exit 1; }
		echo "$KROOT/$2/usr/src/linux-headers-$2"
		;;
	root)
		usable "${2:?usage: $0 root KVER}" || { log "$2 is not unpacked (run scripts/deps.sh)"; exit 1; }
		# the physical path: the VMs bind-mount from it before a symlink
		# in the way (build/kernels of a git worktree) could resolve
		(cd "$KROOT/$2" && pwd -P)
		;;
	installed) installed ;;
	*) echo "usage: $0 [newest | fetch | kdir KVER | root KVER | installed]" >&2; exit 2 ;;
	esac
}

main "$@"
