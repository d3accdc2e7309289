#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what skex needs to build, test, demo and benchmark, unpack the few
# kernel-tree files we use (kselftest harness, checkpatch) into build/linux-src/,
# and fetch the test VMs' kernels with their headers into build/kernels/
# (scripts/kernels.sh fetch: apt-get download + dpkg-deb -x, cached).
# Idempotent and quick when everything is present; safe without a tty (CI=true).
#
# It never installs, removes or changes a bootable kernel on this machine
# (no linux-image-*, nor linux-headers-* packages, which may depend on one)
# and starts no service (a policy-rc.d keeps package scripts from it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

# Keep README.md's "Requirements" in step with this list.
PKGS=(
	# the test VMs
	qemu-system-x86 busybox-static cpio kmod file
	# building against the unpacked headers: what linux-headers-* and
	# linux-kbuild-* depend on, without them (gcc-12 is Debian's kernel compiler)
	build-essential gcc gcc-12 make libelf1 libssl3 zlib1g pahole xz-utils
	# the kselftest harness and checkpatch come from the kernel source (not bootable)
	linux-source-6.1
	# the DKMS package test (tools/testing/selftests/skex/deb_install.sh, in a VM)
	dkms dpkg-dev
	# programs the tests, the demo and the benchmarks run in the VMs
	python3 nginx curl vsftpd wrk haproxy iperf3 iproute2 nftables
	python3-matplotlib
	# make profile (perf in the VMs; user space only, no kernel package)
	linux-perf
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

# `deps.sh debug` (make check-debug): also what building a debug kernel from
# Debian's kernel sources needs (scripts/debug-kernel.sh).
DEBUG_PKGS=(linux-source-6.12 flex bison bc libelf-dev libssl-dev)

main() {
	local -a todo
	[ "${1:-}" != debug ] || PKGS+=("${DEBUG_PKGS[@]}")
	mapfile -t todo < <(missing_pkgs)
	if [ ${#todo[@]} -gt 0 ]; then
		install_pkgs "${todo[@]}"
	fi
	unpack_src
	"$ROOT/scripts/kernels.sh" fetch
}

main "$@"
