#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a throwaway QEMU (TCG) VM of a Debian kernel (unpacked under
# build/kernels/ by scripts/kernels.sh, never the host's own), with the host
# root shared read-only (under a tmpfs overlay, so it is writable in the VM
# and every change is discarded), optionally load a module, run a command,
# unload the module and check the kernel log.
#
#   scripts/vm.sh [--kernel KVER] [--module PATH.ko] [--timeout SECS]
#                 [--mem MB] [--smp N] [--icount SHIFT] [--] CMD...
#
# CMD runs with bash in the guest, in the repository (same absolute path as on
# the host), stdin /dev/null. One argument is taken as a shell command line;
# several are quoted as words. With no CMD and a terminal, an interactive shell.
#
# Guest environment: SKEX_VM=1, SKEX_KVER, SKEX_REPO, SKEX_OUT=/mnt/out (a
# directory shared read-write with the host: build/vm/<run>/out/),
# SKEX_MODULE (path of the loaded .ko in the guest, empty if none),
# SKEX_MODULE_NAME, PYTHONUNBUFFERED=1.
#
# The run fails (exit non-zero) when CMD fails, insmod fails, the module will
# not unload, the kernel log shows a warning/BUG/oops/... or the kernel is
# tainted by one, and when the VM never reports (crash, panic, timeout).
# Exit: CMD's status; 1 for a VM-level failure when CMD itself succeeded.
#
# Files: build/vm/<run>/console.log (all console output, also on stdout),
# out/cmd.log (CMD's stdout+stderr), out/dmesg.txt, out/status, result
# (rc=, cmd_rc=, vm_error=). SKEX_VM_RUNDIR chooses <run>'s directory.
#
# --icount SHIFT: the guest's clock counts instructions, 2^SHIFT ns each,
# while the vCPU runs (QEMU -icount, align=off); while it idles, the clock
# passes at the host's speed (sleep=on). CPU-bound timings in the guest then
# no longer depend on how busy the host is (repeated loads agree to about
# 1%), and idle time is real time. (sleep=off would skip idle time, but then
# every wait on the host, a 9p read, jumps the clock to the next timer: on a
# busy host a boot took 205 guest-seconds and timeouts fired after a few
# host-seconds.) QEMU supports it with one vCPU only (--smp 1).
# Environment: SKEX_VM_EXTRA_CMDLINE (appended to the kernel command line),
# SKEX_VM_QEMU_ARGS (extra QEMU arguments), SKEX_VM_TIMEOUT (default 600),
# SKEX_VM_MODULE_PARAMS (insmod parameters), SKEX_VM_TRACE=1 (trace the guest
# side with timestamps), SKEX_VM_TCG_THREAD (single, the default, or multi),
# SKEX_VM_SLUB_DEBUG (slub_debug= flags, default FZPU; empty: none),
# SKEX_VM_SHARE (a host directory the guest gets read-write at /mnt/share,
# e.g. one that VMs running side by side share: scripts/check.sh's queue).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QEMU=${QEMU:-qemu-system-x86_64}

usage() {
	sed -n '4,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

KVER='' MODULE='' TIMEOUT=${SKEX_VM_TIMEOUT:-600} MEM=2048 SMP=2 ICOUNT=''
SLUB_DEBUG=${SKEX_VM_SLUB_DEBUG-FZPU}
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KVER=${2:?}; shift 2 ;;
	--kernel=*) KVER=${1#*=}; shift ;;
	--module) MODULE=${2:?}; shift 2 ;;
	--module=*) MODULE=${1#*=}; shift ;;
	--timeout) TIMEOUT=${2:?}; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	--mem) MEM=${2:?}; shift 2 ;;
	--smp) SMP=${2:?}; shift 2 ;;
	--icount) ICOUNT=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "vm.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done

[ -n "$KVER" ] || KVER=$("$ROOT/scripts/kernels.sh" newest)
# Debian's kernel as unpacked under build/kernels/KVER (scripts/kernels.sh),
# never the host's /boot: the guest's /lib/modules/KVER is bind-mounted from there.
KTREE=$("$ROOT/scripts/kernels.sh" root "$KVER") || exit 1
VMLINUZ=$KTREE/boot/vmlinuz-$KVER
[ -r "$VMLINUZ" ] || { echo "vm.sh: no $VMLINUZ" >&2; exit 1; }
case "$KTREE" in
*[[:space:]]*) echo "vm.sh: $KTREE has blanks: move the repository" >&2; exit 1 ;;
esac
command -v "$QEMU" >/dev/null || { echo "vm.sh: $QEMU not found (run scripts/deps.sh)" >&2; exit 1; }

INTERACTIVE=0
if [ $# -eq 0 ]; then
	if ! [ -t 0 ] || ! [ -t 1 ]; then
		echo "vm.sh: no command given (and no terminal for a shell)" >&2
		exit 2
	fi
	INTERACTIVE=1
fi

INITRD=$ROOT/build/$KVER/initramfs.cpio
"$ROOT/scripts/mkinitramfs.sh" "$KVER" "$INITRD"

# The run directory and its out share.
if [ -n "${SKEX_VM_RUNDIR:-}" ]; then
	RUNDIR=$SKEX_VM_RUNDIR
	rm -rf "$RUNDIR"
else
	RUNDIR=$ROOT/build/vm/$KVER.$(date +%Y%m%d-%H%M%S).$$
	# keep the 20 latest runs
	# shellcheck disable=SC2012  # names are ours, no odd characters
	ls -1dt "$ROOT"/build/vm/*.*.* 2>/dev/null | tail -n +20 | xargs -r rm -rf || true
fi
mkdir -p "$RUNDIR/out"
RUNDIR=$(cd "$RUNDIR" && pwd)
OUT=$RUNDIR/out
LOG=$RUNDIR/console.log
# build/vm/last: the latest run in build/vm (by anyone; scripts should set
# SKEX_VM_RUNDIR and read that instead).
[ -n "${SKEX_VM_RUNDIR:-}" ] || ln -sfn "$RUNDIR" "$ROOT/build/vm/last"

GMOD='' MODNAME=''
if [ -n "$MODULE" ]; then
	[ -f "$MODULE" ] || { echo "vm.sh: no module $MODULE" >&2; exit 1; }
	MODNAME=$(basename "$MODULE" .ko)
	MODNAME=${MODNAME//-/_}
	# The guest sees the host root, but not the host's /tmp or /run: hand
	# the module over through the out share.
	cp "$MODULE" "$OUT/$MODNAME.ko"
	GMOD=/mnt/out/$MODNAME.ko
fi

# The kernel log patterns that fail a run, shared with run_all.sh.
BAD_RE=$ROOT/tools/testing/selftests/skex/kernel_bad.ere
grep -v -e '^#' -e '^[[:space:]]*$' "$BAD_RE" >"$OUT/kernel_bad" ||
	{ echo "vm.sh: no patterns in $BAD_RE" >&2; exit 1; }

if [ $# -eq 1 ]; then
	printf '%s\n' "$1" >"$OUT/cmd.sh"
elif [ $# -gt 1 ]; then
	printf '%q ' "$@" >"$OUT/cmd.sh"
	echo >>"$OUT/cmd.sh"
fi

# The guest side, run by the initramfs' /init chrooted into the host root.
cat >"$OUT/run.sh" <<GUEST
#!/bin/bash
# generated by scripts/vm.sh
set -u
export SKEX_VM=1 SKEX_OUT=/mnt/out SKEX_REPO=$(printf %q "$ROOT")
export SKEX_MODULE=$(printf %q "$GMOD") SKEX_MODULE_NAME=$(printf %q "$MODNAME")
SKEX_MODULE_PARAMS=$(printf %q "${SKEX_VM_MODULE_PARAMS:-}")
export SKEX_KVER=\$(uname -r) PYTHONUNBUFFERED=1 LANG=C.UTF-8
if [ "${SKEX_VM_TRACE:-0}" = 1 ]; then PS4='+ \${EPOCHREALTIME} '; set -x; fi
GUEST
cat >>"$OUT/run.sh" <<'GUEST'
# Reports that fail a run (dmesg): /mnt/out/kernel_bad, the patterns of
# tools/testing/selftests/skex/kernel_bad.ere (run_all.sh uses them too).
# Taint flags that mean trouble: B(ad page) D(ied) W(arning) L(ockup).
BAD_TAINT=$((32 | 128 | 512 | 16384))

errors=()
err() { errors+=("$*"); echo "vm: FAIL: $*"; }

cd "$SKEX_REPO" || err "cannot cd to $SKEX_REPO"
taint0=$(</proc/sys/kernel/tainted)
cmd_rc=0
# Debug kernels (make check-debug): what kmemleak knows of before the module
# and the command is not theirs.
KMEMLEAK=/sys/kernel/debug/kmemleak
if [ -w "$KMEMLEAK" ]; then
	echo scan >"$KMEMLEAK" 2>/dev/null
	echo clear >"$KMEMLEAK" 2>/dev/null
fi
if [ -n "$SKEX_MODULE" ]; then
	echo "vm: insmod $SKEX_MODULE"
	# shellcheck disable=SC2086  # parameters are words
	insmod "$SKEX_MODULE" $SKEX_MODULE_PARAMS || err "insmod $SKEX_MODULE failed"
fi
if [ ${#errors[@]} -eq 0 ] && [ -f /mnt/out/cmd.sh ]; then
	echo "vm: running: $(</mnt/out/cmd.sh)"
	start=${EPOCHREALTIME/./}
	# Through a FIFO read by tee (console + cmd.log): daemons the command
	# leaves behind may hold it open, so tee gets a grace period, not a wait.
	fifo=$(mktemp -u /tmp/skex-vm-out.XXXXXX)
	mkfifo "$fifo"
	tee /mnt/out/cmd.log <"$fifo" &
	teepid=$!
	bash /mnt/out/cmd.sh >"$fifo" 2>&1 </dev/null &
	pid=$!
	wait $pid
	cmd_rc=$?
	for _ in {1..30}; do
		kill -0 $teepid 2>/dev/null || break
		sleep 0.1
	done
	kill $teepid 2>/dev/null
	wait $teepid 2>/dev/null
	rm -f "$fifo"
	ms=$(((${EPOCHREALTIME/./} - start) / 1000))
	echo "vm: command exited with $cmd_rc after $((ms / 1000)).$(printf %03d $((ms % 1000)))s"
fi
if [ -n "$SKEX_MODULE" ] && [ -d "/sys/module/$SKEX_MODULE_NAME" ]; then
	echo "vm: rmmod $SKEX_MODULE_NAME"
	ok=0
	# "in use" may pass while processes the command left exit: retry a bit.
	for _ in {1..10}; do
		if rmmod "$SKEX_MODULE_NAME" 2>/mnt/out/rmmod.err; then
			ok=1
			break
		fi
		grep -q 'in use' /mnt/out/rmmod.err || break
		sleep 0.5
	done
	if [ $ok = 0 ]; then
		cat /mnt/out/rmmod.err
		err "module will not unload (refcnt $(cat "/sys/module/$SKEX_MODULE_NAME/refcnt" 2>/dev/null))"
	fi
fi
# kmemleak reports an object only once it is 5 s old and two scans found no
# reference to it: scan, wait, scan again, after the module is gone.
if [ -w "$KMEMLEAK" ]; then
	echo scan >"$KMEMLEAK" 2>/dev/null
	sleep 6
	echo scan >"$KMEMLEAK" 2>/dev/null
	cat "$KMEMLEAK" >/mnt/out/kmemleak.txt 2>/dev/null
	leaks=$(grep -c '^unreferenced object' /mnt/out/kmemleak.txt)
	if [ "$leaks" -gt 0 ]; then
		echo "vm: kmemleak:"
		head -n 60 /mnt/out/kmemleak.txt
		err "kmemleak: $leaks unreferenced objects (out/kmemleak.txt)"
	fi
fi
dmesg >/mnt/out/dmesg.txt 2>&1
if grep -E -n -f /mnt/out/kernel_bad /mnt/out/dmesg.txt >/mnt/out/dmesg.bad; then
	echo "vm: kernel log reports:"
	grep -E -A 30 -f /mnt/out/kernel_bad /mnt/out/dmesg.txt | head -n 200
	err "kernel log: $(head -n 1 /mnt/out/dmesg.bad | cut -d: -f2- | cut -c1-160)"
fi
taint=$(</proc/sys/kernel/tainted)
if [ $((taint & BAD_TAINT & ~taint0)) -ne 0 ]; then
	err "kernel tainted ($taint)"
fi

vm_error=$(IFS=';'; echo "${errors[*]}")
printf 'cmd_rc=%s\nvm_error=%s\n' "$cmd_rc" "$vm_error" >/mnt/out/status
echo "SKEX-VM-STATUS cmd_rc=$cmd_rc vm_error=${vm_error:-none}"
rc=$cmd_rc
[ ${#errors[@]} -eq 0 ] || [ "$rc" -ne 0 ] || rc=1
exit "$rc"
GUEST

# Interactive: load the module, then a login shell in the repository.
cat >"$OUT/shell.sh" <<GUEST
#!/bin/bash
export SKEX_VM=1 SKEX_OUT=/mnt/out SKEX_REPO=$(printf %q "$ROOT") SKEX_MODULE=$(printf %q "$GMOD")
export SKEX_MODULE_NAME=$(printf %q "$MODNAME") SKEX_KVER=\$(uname -r)
cd "\$SKEX_REPO" || exit 1
if [ -n "\$SKEX_MODULE" ]; then
	echo "vm: insmod \$SKEX_MODULE"
	insmod "\$SKEX_MODULE" || echo "vm: insmod failed"
fi
echo "vm: interactive shell; exit (or poweroff -f) to stop the VM"
exec bash -l
GUEST

CMDLINE="console=ttyS0 panic_on_warn=1 panic=-1 oops=panic quiet"
[ -z "$SLUB_DEBUG" ] || CMDLINE+=" slub_debug=$SLUB_DEBUG"
CMDLINE+=" skex.kmods=$KTREE/lib/modules/$KVER"
CMDLINE+=" net.ifnames=0 mitigations=off nokaslr tsc=reliable i8042.noaux i8042.nokbd"
if [ "$INTERACTIVE" = 1 ]; then
	CMDLINE+=" skex.cmd=/mnt/out/shell.sh skex.tty=1"
else
	CMDLINE+=" skex.cmd=/mnt/out/run.sh"
fi
CMDLINE+=" ${SKEX_VM_EXTRA_CMDLINE:-}"

SHARE=()
if [ -n "${SKEX_VM_SHARE:-}" ]; then
	[ -d "$SKEX_VM_SHARE" ] || { echo "vm.sh: SKEX_VM_SHARE: no directory $SKEX_VM_SHARE" >&2; exit 2; }
	CMDLINE+=" skex.share=1"
	SHARE=(-virtfs "local,path=$SKEX_VM_SHARE,mount_tag=share,security_model=none,multidevs=remap")
fi

# The guest gets fresh /tmp, /var/tmp, /run and its own /mnt: a repository
# there is shared separately (read-only) at the same path.
REPO_SHARE=()
case "$ROOT/" in
/tmp/* | /var/tmp/* | /run/* | /var/run/* | /mnt/* | /dev/* | /proc/* | /sys/*)
	if [[ "$ROOT" = *[[:space:]]* ]]; then
		echo "vm.sh: the repository path has blanks and is under a VM-private directory: move it" >&2
		exit 1
	fi
	CMDLINE+=" skex.repo=$ROOT"
	REPO_SHARE=(-virtfs "local,path=$ROOT,mount_tag=repo,security_model=none,readonly=on,multidevs=remap")
	;;
esac

# TCG: one host thread for all vCPUs by default. Multi-threaded TCG (MTTCG)
# was both slower here (2 host cores, shared) and unsafe for us: a vCPU can
# keep running a stale translation of code another vCPU patched (text_poke_bp,
# as static keys and ftrace do), and the kernel dies on a spurious int3
# ("Oops: int3" in sched_clock_cpu, seen at boot). SKEX_VM_TCG_THREAD=multi
# brings it back, e.g. for stress runs.
TCG_THREAD=${SKEX_VM_TCG_THREAD:-single}

# shellcheck disable=SC2054  # commas are QEMU's
QARGS=(
	-accel "tcg,thread=$TCG_THREAD" -cpu max -smp "$SMP" -m "$MEM"
	-nographic -nodefaults -no-reboot -monitor none -nic none
	-kernel "$VMLINUZ" -initrd "$INITRD" -append "$CMDLINE"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$OUT,mount_tag=out,security_model=none,multidevs=remap"
	"${REPO_SHARE[@]}" "${SHARE[@]}"
)
# shellcheck disable=SC2054
if [ -n "$ICOUNT" ]; then
	if [ "$SMP" != 1 ]; then
		echo "vm.sh: --icount needs --smp 1 (secondary vCPUs do not come up)" >&2
		exit 2
	fi
	QARGS+=(-icount "shift=$ICOUNT,align=off,sleep=on")
fi
# shellcheck disable=SC2054
if [ "$INTERACTIVE" = 1 ]; then
	QARGS+=(-chardev stdio,id=con0,signal=on -serial chardev:con0)
else
	# No terminal needed: the console goes to our stdout, stdin is unused.
	QARGS+=(-chardev file,id=con0,path=/dev/stdout -serial chardev:con0)
fi
# shellcheck disable=SC2206  # extra arguments are words by design
QARGS+=(${SKEX_VM_QEMU_ARGS:-})

echo "vm.sh: booting $KVER${MODULE:+ with $MODULE} (timeout ${TIMEOUT}s, log ${LOG#"$ROOT"/})" >&2
t0=$(date +%s%N)
set +e
if [ "$INTERACTIVE" = 1 ]; then
	timeout --foreground -k 10 "$TIMEOUT" "$QEMU" "${QARGS[@]}" 2> >(grep -v 'multidevs' >&2)
	qrc=$?
	exit $qrc
fi
timeout -k 10 "$TIMEOUT" "$QEMU" "${QARGS[@]}" </dev/null 2>&1 |
	sed -u -e 's/\r$//' -e 's/\x1bc\|\x1b\[?7l\|\x1b\[2J//g' \
		-e '1,/Booting from ROM/s/\x1b\[[0-9;]*m//g' | tee "$LOG"
qrc=${PIPESTATUS[0]}
set -e
ms=$((($(date +%s%N) - t0) / 1000000))
secs=$((ms / 1000)).$(printf %03d $((ms % 1000)))

rc='' cmd_rc='' vm_error=''
marker=$(grep -a -o 'SKEX-VM-RESULT rc=[0-9]*' "$LOG" | tail -n 1 || true)
if [ -n "$marker" ]; then
	rc=${marker##*=}
	if [ -f "$OUT/status" ]; then
		cmd_rc=$(sed -n 's/^cmd_rc=//p' "$OUT/status")
		vm_error=$(sed -n 's/^vm_error=//p' "$OUT/status")
	else
		cmd_rc=$rc
	fi
else
	rc=1
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		vm_error="VM timed out after ${TIMEOUT}s"
	elif grep -a -q 'Kernel panic' "$LOG"; then
		vm_error="VM panicked: $(grep -a -o 'Kernel panic.*' "$LOG" | head -n 1 | cut -c1-160)"
	elif grep -a -q 'SKEX-VM-INIT-FAILED' "$LOG"; then
		vm_error="VM init failed: $(grep -a -o 'SKEX-VM-INIT-FAILED.*' "$LOG" | head -n 1)"
	else
		vm_error="VM crashed or stopped without a result (qemu exit $qrc)"
	fi
	if [ -f "$OUT/status" ]; then
		cmd_rc=$(sed -n 's/^cmd_rc=//p' "$OUT/status")
	fi
fi
printf 'rc=%s\ncmd_rc=%s\nvm_error=%s\nseconds=%s\n' "$rc" "$cmd_rc" "$vm_error" "$secs" >"$RUNDIR/result"
if [ -n "$vm_error" ]; then
	echo "vm.sh: $KVER: FAIL: $vm_error (rc=$rc, ${secs}s, log ${LOG#"$ROOT"/})" >&2
else
	echo "vm.sh: $KVER: rc=$rc (${secs}s, log ${LOG#"$ROOT"/})" >&2
fi
exit "$rc"
