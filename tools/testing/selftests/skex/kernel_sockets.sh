#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sockets of in-kernel users never run the module's wrappers, even when a
# user task drives them (issue 14): `mount -t cifs` connects a kernel
# socket (sock_create_kern()) to a server on loopback and sends its SMB
# NEGOTIATE on it from the mount task itself, while socket groups have
# every wrapper installed (accept_rate and output_rate_ftp ports).
# kprobes on the wrappers record which tasks enter them:
#  - a user's own socket (bash's /dev/tcp) enters them: the probes work;
#  - the mount task, which connected and sent, enters none;
#  - an accept() on an MPTCP listener (through its listening subflow, a
#    kernel socket) enters the accept wrapper: MPTCP is a user's socket.
# The server reads the request and closes: the mount fails, as it should
# (no SMB server), after the kernel socket has carried the request.
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_cmd mount timeout
skex_tmpdir tmp kernsock

tracefs=$(skex_tracefs) || skex_die "no tracefs with kprobe_events and enabled_functions"
if ! modprobe cifs 2>/dev/null; then
	skex_required && skex_die "modprobe cifs failed"
	skex_skip "no module cifs"
fi

wrappers=$(printf "skex_%s " $SKEX_DEMAND_HOOKS)
grep -qw skex_tcp_sendpage /proc/kallsyms && wrappers+=" skex_tcp_sendpage"
at_exit()
{
	umount "$tmp/mnt" 2>/dev/null
	skex_kprobes_del "$tracefs"
	skex_group_rmdirs >/dev/null
	skex_cleanup
}
trap at_exit EXIT

# every wrapper installed: accept_rate and output_rate_ftp ports
g0=$((30000 + $$ % 20000))
skex_group_port "$g0" accept_rate $((g0 + 1)) || skex_die "accept_rate group"
skex_group_port $((g0 + 1)) output_rate_ftp $((g0 + 2)) ||
	skex_die "output_rate_ftp group"
demand=$SKEX_DEMAND_HOOKS
if skex_hooks_within "$tracefs" 50 "$demand" ""; then
	skex_pass "demand hooks installed: $demand"
else
	skex_fail "demand hooks: want $demand"
fi

for w in $wrappers; do
	skex_kprobe "$tracefs" "skex_ks_${w#skex_}_$$" "$w" ||
		skex_die "cannot set a kprobe on $w"
done
echo 1 >"$tracefs/tracing_on"
# entries PID [WRAPPER]: the entries of task PID in the wrappers (or in
# skex_WRAPPER only) since the trace was cleared
entries()
{
	grep -E "^ *[^ ]+-$1 " "$tracefs/trace" | grep -c ": skex_ks_${2:-}"
}

# a server that reads what comes and closes; "port N" once listening
skex_start_server srv_port "" "$tmp/srv" "$PYTHON" -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print("port", s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(10)
    try:
        print("got", len(c.recv(65536)), flush=True)
    except OSError:
        pass
    c.close()
'

# the probes see a user socket: bash sends through /dev/tcp
echo >"$tracefs/trace"
bash -c 'echo $$ >"$1"; exec 3<>"/dev/tcp/127.0.0.1/$2"; echo ping >&3' \
	_ "$tmp/bash.pid" "$srv_port" || skex_fail "bash /dev/tcp to $srv_port"
e=$(entries "$(cat "$tmp/bash.pid")")
if [ "$e" -ge 1 ]; then
	skex_pass "a user socket enters the wrappers ($e entries)"
else
	skex_fail "a user socket's send entered no wrapper: the probes see nothing"
fi

# CIFS connects and sends its NEGOTIATE from the mount task
mkdir "$tmp/mnt"
echo >"$tracefs/trace"
got0=$(grep -c '^got' "$tmp/srv")
timeout 60 bash -c 'echo $$ >"$1"; exec mount -t cifs "//127.0.0.1/x" "$2" \
	-o "ip=127.0.0.1,port=$3,username=x,password=x,vers=3.0,echo_interval=1"' \
	_ "$tmp/mount.pid" "$tmp/mnt" "$srv_port" >"$tmp/mount.out" 2>&1
rc=$?
got1=$(grep -c '^got' "$tmp/srv")
skex_check_eq "the mount fails (no SMB server)" 1 $((rc != 0 && rc != 124))
if [ "$got1" -gt "$got0" ] && grep -q '^got [1-9]' "$tmp/srv"; then
	skex_pass "the server got the NEGOTIATE from the mount's kernel socket"
else
	skex_fail "no request reached the server: $(cat "$tmp/mount.out")"
fi
skex_check_eq "wrapper entries of the mount task" 0 \
	"$(entries "$(cat "$tmp/mount.pid")")"

# MPTCP's subflows are kernel sockets of a user's socket: an accept() on an
# MPTCP listener reaches inet_csk_accept() through its listening subflow,
# and the wrapper (so the accept_rate group of its port) still applies
if [ "$(cat /proc/sys/net/mptcp/enabled 2>/dev/null)" = 1 ]; then
	echo >"$tracefs/trace"
	skex_start_server mp_port "" "$tmp/mptcp" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)  # IPPROTO_MPTCP
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print("port", s.getsockname()[1], flush=True)
c, _ = s.accept()
print("accepted", flush=True)
c.close()
' $((g0 + 1))
	mp_pid=$skex_last_pid
	(exec 3<>"/dev/tcp/127.0.0.1/$mp_port") || skex_fail "connect to $mp_port"
	skex_wait_line "$tmp/mptcp" '^accepted$' 30 >/dev/null ||
		skex_fail "the MPTCP listener accepted nothing: $(cat "$tmp/mptcp")"
	if [ "$(entries "$mp_pid" inet_csk_accept)" -ge 1 ]; then
		skex_pass "an accept() on an MPTCP listener enters the wrapper"
	else
		skex_fail "an accept() on an MPTCP listener skipped the wrapper"
	fi
else
	skex_log "MPTCP off (net.mptcp.enabled): its accept not checked"
fi
skex_exit
