#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what skex needs to build, test, demo and benchmark, and unpack the few
# kernel-tree files we use (kselftest harness, checkpatch) into build/linux-src/.
# Idempotent and quick when everything is present; safe without a tty (CI=true).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

PKGS=(
	qemu-system-x86 busybox-static cpio kmod
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-source-6.1
	build-essential gcc make python3 xz-utils
	nginx curl vsftpd wrk haproxy iperf3 iproute2 nftables
)

# Files taken from the kernel source tarball, relative to its top directory.
SRC_FILES=(
	tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h
	tools/testing/selftests/lib.mk
	scripts/checkpatch.pl
	scripts/spelling.txt
	scripts/const_structs.checkpatch
)
SRC_TARBALL=/usr/src/linux-source-6.1.tar.xz
SRC_DIR=$ROOT/build/linux-src

log() { echo "deps: $*" >&2; }

missing_pkgs() {
	local p st
	for p in "${PKGS[@]}"; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || echo "$p"
	done
}

SERVICES=(nginx vsftpd haproxy iperf3)

stop_services() {
	# Package scripts may have started daemons (e.g. when no policy-rc.d was
	# honoured): nothing of ours may stay running on the host.
	local s pid
	for s in "${SERVICES[@]}"; do
		if command -v service >/dev/null 2>&1; then
			service "$s" stop >/dev/null 2>&1 || true
		fi
		for pid in $(pgrep -x "$s" 2>/dev/null || true); do
			kill "$pid" 2>/dev/null || true
		done
	done
}

install_pkgs() {
	local -a todo=("$@")
	local sudo=() policy=/usr/sbin/policy-rc.d created_policy=0

	[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
	log "installing: ${todo[*]}"
	# Keep invoke-rc.d from starting nginx, vsftpd, haproxy, ... on the host.
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		created_policy=1
	fi
	# shellcheck disable=SC2317  # invoked by trap
	cleanup_policy() {
		if [ "$created_policy" = 1 ]; then
			"${sudo[@]}" rm -f "$policy"
		fi
	}
	trap cleanup_policy EXIT

	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${todo[@]}" </dev/null
	stop_services
	cleanup_policy
	trap - EXIT
}

unpack_src() {
	local f need=()
	for f in "${SRC_FILES[@]}"; do
		[ -s "$SRC_DIR/$f" ] || need+=("$f")
	done
	[ ${#need[@]} -gt 0 ] || return 0
	[ -r "$SRC_TARBALL" ] || { log "missing $SRC_TARBALL"; return 1; }

	local top tmp
	top=$(tar -tJf "$SRC_TARBALL" 2>/dev/null | head -n1 | cut -d/ -f1) || true
	[ -n "$top" ] || { log "cannot read $SRC_TARBALL"; return 1; }
	log "unpacking ${need[*]} from $SRC_TARBALL"
	mkdir -p "$SRC_DIR"
	tmp=$(mktemp -d "$SRC_DIR/.unpack.XXXXXX")
	tar -xJf "$SRC_TARBALL" -C "$tmp" --strip-components=1 \
		"${need[@]/#/$top/}"
	for f in "${need[@]}"; do
		mkdir -p "$(dirname "$SRC_DIR/$f")"
		mv -f "$tmp/$f" "$SRC_DIR/$f"
	done
	rm -rf "$tmp"
	chmod +x "$SRC_DIR/scripts/checkpatch.pl"
}

main() {
	local -a todo
	mapfile -t todo < <(missing_pkgs)
	if [ ${#todo[@]} -gt 0 ]; then
		install_pkgs "${todo[@]}"
	fi
	unpack_src
}

main "$@"
