#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The ways docs/deploy.md installs skex work on this kernel (test VM only:
# it installs packages and modules, which the VM's overlay root discards):
#  1. the DKMS package: `dpkg -i build/deb/skex-dkms_VERSION_all.deb` (made
#     on the host by `make deb`) builds the module with DKMS against this
#     kernel's headers (/lib/modules/KVER/build); `dkms status` says
#     installed; `modinfo -n skex` is /lib/modules/KVER/updates/dkms/skex.ko*
#     with VERSION as its version; `modprobe skex` loads it (and configfs
#     first); a configfs mkdir/rmdir of a forwarding rule works;
#     `modprobe -r skex` unloads it; `dpkg -r skex-dkms` removes the module
#     file, and modprobe no longer finds one.
#  2. `make install` (for the running kernel, by default): installs into
#     /lib/modules/KVER/updates/skex.ko*, depmod; modprobe loads that one
#     and it works; `make uninstall` removes it.
# The module the suite runs with (SKEX_KO) is unloaded first and loaded again
# at the end. Each step's time is printed (DKMS compiles under TCG: slow).
# DEB_INSTALL_PARTS (default "deb make") picks the parts.
source "$(dirname "$0")/lib.sh"

[ "${SKEX_VM:-0}" = 1 ] || skex_skip "installs packages: runs in a test VM only (scripts/vm.sh)"
[ "$(id -u)" = 0 ] || skex_skip "needs root"
skex_need_cmd dpkg dkms modprobe modinfo make gcc

kver=$(uname -r)
version=$(head -n1 "$SKEX_REPO/VERSION")
deb=$SKEX_REPO/build/deb/skex-dkms_${version}_all.deb
parts=${DEB_INSTALL_PARTS:-deb make}
cfs=/sys/kernel/config/skex
was_loaded=0
grep -qw '^skex' /proc/modules && was_loaded=1

[ -e "/lib/modules/$kver/build/Makefile" ] ||
	skex_die "no headers for $kver in /lib/modules/$kver/build"
tmp=
skex_tmpdir tmp deb

# shellcheck disable=SC2317  # invoked by trap
restore()
{
	modprobe -r skex 2>/dev/null
	dpkg -r skex-dkms >/dev/null 2>&1
	rm -f /lib/modules/"$kver"/updates/skex.ko*
	if [ "$was_loaded" = 1 ] && ! grep -qw '^skex' /proc/modules; then
		skex_load || echo "FAIL: could not load $SKEX_KO again"
	fi
	skex_cleanup
}
trap restore EXIT

if [ "$was_loaded" = 1 ]; then
	skex_unload || skex_die "cannot unload the suite's skex"
fi

t0=$EPOCHSECONDS
step() { # what: prints the time since the last step
	echo "# $1: $((EPOCHSECONDS - t0)) s"
	t0=$EPOCHSECONDS
}

# check_loaded WHERE: modprobe finds skex at WHERE (a glob), loads and uses it
check_loaded()
{
	local where=$1 path v port=$((20000 + $$ % 20000))

	path=$(modinfo -n skex 2>&1)
	# shellcheck disable=SC2053  # WHERE is a glob
	if [[ $path == $where ]]; then
		skex_pass "modinfo -n skex: $path"
	else
		skex_fail "modinfo -n skex: '$path', expected $where"
	fi
	v=$(modinfo -F version skex 2>&1)
	if [ "$v" = "$version" ]; then
		skex_pass "version $v"
	else
		skex_fail "modinfo -F version skex: '$v', expected '$version'"
	fi
	if ! modprobe skex; then
		skex_fail "modprobe skex failed"
		return
	fi
	if [ "$(cat /sys/module/skex/version 2>/dev/null)" = "$version" ]; then
		skex_pass "modprobe skex: loaded, version $version"
	else
		skex_fail "/sys/module/skex/version is not $version"
	fi
	# configfs is a module on Debian's kernels: modprobe loads it first
	# (skex uses its symbols: modinfo's depends)
	[ -d /sys/module/configfs ] || skex_fail "configfs not loaded with skex"
	if mkdir "$cfs/forward/$port" && [ -f "$cfs/forward/$port/type" ] &&
		rmdir "$cfs/forward/$port"; then
		skex_pass "configfs: forward/$port made and removed"
	else
		skex_fail "configfs mkdir/rmdir $cfs/forward/$port"
	fi
	if modprobe -r skex && ! grep -qw '^skex' /proc/modules; then
		skex_pass "modprobe -r skex"
	else
		skex_fail "modprobe -r skex"
	fi
}

# ---- 1. the DKMS package ----
if [[ " $parts " == *" deb "* ]]; then
	[ -f "$deb" ] || skex_die "no $deb: run make deb on the host"
	# streamed: DKMS compiles under TCG for minutes
	dpkg -i "$deb" 2>&1 | tee "$tmp/dpkg.log" | sed -u 's/^/dpkg: /'
	if [ "${PIPESTATUS[0]}" = 0 ]; then
		skex_pass "dpkg -i ${deb##*/}"
	else
		tail -n 30 /var/lib/dkms/skex/"$version"/build/make.log 2>/dev/null
		skex_die "dpkg -i ${deb##*/} failed"
	fi
	step "dpkg -i (DKMS build)"
	st=$(dkms status -m skex -v "$version" -k "$kver" 2>&1)
	if [[ $st == *installed* ]]; then
		skex_pass "dkms status: $st"
	else
		skex_fail "dkms status: '$st'"
	fi
	check_loaded "/lib/modules/$kver/updates/dkms/skex.ko*"
	if dpkg -r skex-dkms >"$tmp/dpkg-r.log" 2>&1; then
		skex_pass "dpkg -r skex-dkms"
	else
		sed 's/^/dpkg: /' "$tmp/dpkg-r.log"
		skex_fail "dpkg -r skex-dkms failed"
	fi
	if compgen -G "/lib/modules/$kver/updates/dkms/skex.ko*" >/dev/null; then
		skex_fail "module still in updates/dkms after dpkg -r"
	elif modinfo -n skex >/dev/null 2>&1; then
		skex_fail "modprobe still finds skex after dpkg -r: $(modinfo -n skex)"
	else
		skex_pass "dpkg -r: the module is gone"
	fi
	step "DKMS package checks and removal"
fi

# ---- 2. make install ----
# With the objects scripts/build.sh made on the host for this kernel (same
# headers, same flags: kbuild has nothing to redo), else a fresh build of a
# copy of the source (minutes under TCG, as the DKMS one).
if [[ " $parts " == *" make "* ]]; then
	margs=(-C "$SKEX_REPO")
	if [ -f "$SKEX_REPO/build/$kver/kernel/skex.ko" ]; then
		margs+=(MODDIR="$SKEX_REPO/build/$kver/kernel" W=1)
	else
		src=$tmp/src
		mkdir -p "$src"
		cp -a "$SKEX_REPO"/{Makefile,VERSION,kernel,uapi} "$src/"
		mkdir -p "$src/scripts"
		cp -a "$SKEX_REPO/scripts/kernels.sh" "$src/scripts/"
		(cd "$src/kernel" && rm -f -- *.o *.ko *.mod *.mod.c .*.cmd Module.symvers modules.order)
		margs=(-C "$src")
	fi
	make "${margs[@]}" install 2>&1 | tee "$tmp/make.log" | sed -u 's/^/make: /'
	if [ "${PIPESTATUS[0]}" = 0 ]; then
		skex_pass "make install"
	else
		skex_die "make install failed"
	fi
	step "make install"
	check_loaded "/lib/modules/$kver/updates/skex.ko*"
	make "${margs[@]}" uninstall >"$tmp/make.log" 2>&1 || skex_fail "make uninstall"
	if modinfo -n skex >/dev/null 2>&1; then
		skex_fail "modprobe still finds skex after make uninstall: $(modinfo -n skex)"
	else
		skex_pass "make uninstall: the module is gone"
	fi
	step "make install checks"
fi

skex_exit
