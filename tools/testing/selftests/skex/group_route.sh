#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A send decides at its call site which wrapper it needs
# (skex_group_send_route()), and an accept whether it needs one, so that a
# group on one port costs the sends and accepts of every other socket of
# the host nothing but a lookup. With an output_rate group on port A and an
# accept_rate group on port D, kprobes on the wrappers count the entries of
# a task that accepts a connection and sends 200 1-byte messages on it:
#  - on port B, which no group covers: no wrapper at all;
#  - on port D: the accept wrapper once, no send wrapper;
#  - on port A with a quota that never binds: the paid wrapper on every
#    send but the first of the port's group, which fills its pool;
#  - on port A with a quota that binds (100 bytes/s, 200 bytes): the
#    throttled wrapper, and the sends take their time;
#  - on port B again while an output_rate_ftp group exists (it covers
#    sockets by process): the throttled wrapper, which finds no group.
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_cfs
skex_tmpdir tmp route

tracefs=$(skex_tracefs) || skex_die "no tracefs with kprobe_events and enabled_functions"

# 6.1 also sends pages through tcp_sendpage, with its own pair
wrappers="skex_inet_csk_accept skex_tcp_sendmsg skex_tcp_sendmsg_paid"
grep -qw skex_tcp_sendpage /proc/kallsyms &&
	wrappers+=" skex_tcp_sendpage skex_tcp_sendpage_paid"
at_exit()
{
	skex_kprobes_del "$tracefs"
	skex_group_rmdirs >/dev/null
	skex_cleanup
}
trap at_exit EXIT

ports=$(skex_net freeport -n 4 127.0.0.1) || skex_die "freeport"
read -r a b c d <<<"${ports//$'\n'/ }"
g=$((30000 + $$ % 20000))
skex_group_port "$g" output_rate "$a" || skex_die "output_rate group on $a"
q=/sys/kernel/config/skex/groups/$g/ports/$a/quota
echo 4294967295 >"$q" || skex_die "quota"
skex_group_port $((g + 2)) accept_rate "$d" || skex_die "accept_rate group on $d"
echo 1000 >"/sys/kernel/config/skex/groups/$((g + 2))/ports/$d/quota" ||
	skex_die "accept quota"
if skex_hooks_within "$tracefs" 50 "tcp_sendmsg inet_csk_accept" ""; then
	skex_pass "send and accept hooks installed"
else
	skex_die "the send and accept hooks are not installed"
fi

for w in $wrappers; do
	if ! grep -qw "$w" /proc/kallsyms; then
		skex_fail "no wrapper $w"
		continue
	fi
	skex_kprobe "$tracefs" "skex_rt_${w#skex_}_$$" "$w" ||
		skex_die "cannot set a kprobe on $w"
done
echo 1 >"$tracefs/tracing_on"

cat >"$tmp/send.py" <<'EOF'
import socket, sys, time

port, n = int(sys.argv[1]), int(sys.argv[2])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(1)
c = socket.create_connection(("127.0.0.1", port))
s, _ = l.accept()
t0 = time.monotonic()
for _ in range(n):
	s.send(b"x")
t = time.monotonic() - t0
got = 0
c.settimeout(5)
while got < n:
	got += len(c.recv(n))
print("secs %.3f got %d" % (t, got))
EOF

# send PORT: 200 1-byte sends on a connection accepted on PORT; sets
# $secs, and $sendmsg / $paid: the task's entries in the throttled and the
# paid wrappers
send()
{
	local pid out
	echo >"$tracefs/trace"
	out=$(bash -c 'echo $$ >"$1"; exec "$2" "$3" "$4" 200' _ \
		"$tmp/send.pid" "$PYTHON" "$tmp/send.py" "$1") ||
		{ skex_fail "sender on port $1: $out"; secs=0 sendmsg=-1 paid=-1; return; }
	pid=$(cat "$tmp/send.pid")
	[ "${out#*got }" = 200 ] || skex_fail "port $1: the peer got ${out#*got }, not 200 bytes"
	secs=${out#secs }
	secs=${secs%% *}
	sendmsg=$(grep -E "^ *[^ ]+-$pid " "$tracefs/trace" |
		grep -cE ": skex_rt_tcp_(sendmsg|sendpage)_$$:")
	paid=$(grep -E "^ *[^ ]+-$pid " "$tracefs/trace" |
		grep -cE ": skex_rt_tcp_(sendmsg|sendpage)_paid_$$:")
	accept=$(grep -E "^ *[^ ]+-$pid " "$tracefs/trace" |
		grep -cE ": skex_rt_inet_csk_accept_$$:")
}

send "$b"
skex_check_eq "port $b (no group): throttled wrapper entries" 0 "$sendmsg"
skex_check_eq "port $b (no group): paid wrapper entries" 0 "$paid"
skex_check_eq "port $b (no group): accept wrapper entries" 0 "$accept"
send "$d"
skex_check_eq "port $d (accept_rate): accept wrapper entries" 1 "$accept"
skex_check_eq "port $d (accept_rate): send wrapper entries" "0 0" "$sendmsg $paid"

# the pool is empty until a send through the group's lock has found the
# quota not binding: the first send takes the throttled wrapper
send "$a"
skex_check_eq "port $a (quota never binds): throttled, paid wrapper entries" \
	"1 199" "$sendmsg $paid"
send "$a"
skex_check_eq "port $a (quota never binds), again: throttled, paid wrapper entries" \
	"0 200" "$sendmsg $paid"

# 100 bytes/s: the bucket holds 50 ms worth at first, so 200 bytes take
# about 1.95 s
echo 100 >"$q" || skex_die "quota 100"
send "$a"
if [ "$sendmsg" -ge 1 ] && awk -v s="$secs" 'BEGIN { exit !(s >= 1.5) }'; then
	skex_pass "port $a (100 bytes/s): throttled wrapper ($sendmsg entries, paid $paid), $secs s"
else
	skex_fail "port $a (100 bytes/s): throttled $sendmsg, paid $paid entries, $secs s (want >= 1, >= 1.5 s)"
fi

skex_group_port $((g + 1)) output_rate_ftp "$c" ||
	skex_die "output_rate_ftp group on $c"
send "$b"
skex_check_eq "port $b with an FTP group: throttled wrapper entries" 200 "$sendmsg"
skex_check_eq "port $b with an FTP group: paid wrapper entries" 0 "$paid"

skex_exit
