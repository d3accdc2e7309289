#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unloading the module releases every task a socket group holds: with an
# accept_rate and an output_rate group of quota 0 on port P, a task asleep
# in accept(), one asleep in send() and one in epoll_wait() for EPOLLOUT
# stay asleep; after rmmod all three complete normally (the calls restart
# without the module: no EINTR), the data arrives intact, and the module
# loads again.
source "$(dirname "$0")/lib.sh"

TOOL=$SKEX_BIN_DIR/group_tool

skex_need_ko
skex_need_module
[ -x "$TOOL" ] || skex_die "$TOOL missing: build with make -C tools/testing/selftests/skex"
skex_tmpdir tmp group-unload

reload_at_exit()
{
	grep -qw '^skex' /proc/modules || skex_load || echo "FAIL: could not reload skex"
	skex_cleanup
}
trap reload_at_exit EXIT

"$TOOL" flush || skex_die "cannot flush groups"
port=$(skex_net freeport 127.0.0.1) || skex_die "freeport"

cat >"$tmp/sleepers.py" <<'EOF'
import os, select, socket, sys, threading, time

port, go = int(sys.argv[1]), sys.argv[2]
l = socket.socket()
l.bind(("127.0.0.1", port))
l.listen(8)
c1 = socket.create_connection(("127.0.0.1", port))
s1, _ = l.accept()
c2 = socket.create_connection(("127.0.0.1", port))
c3 = socket.create_connection(("127.0.0.1", port))
s3, _ = l.accept()
s3.setblocking(False)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.05)

res = {}
data = bytes(range(256)) * 800


def do_accept():
    s, _ = l.accept()
    res["accept"] = "ok"
    s.close()


def do_send():
    try:
        s1.sendall(data)
        res["send"] = "ok"
    except OSError as e:
        res["send"] = "error %s" % e


def do_recv():
    got = b""
    while len(got) < len(data):
        d = c1.recv(65536)
        if not d:
            break
        got += d
    res["recv"] = "ok" if got == data else "corrupt %d" % len(got)


def do_epoll():
    ep = select.epoll()
    ep.register(s3.fileno(), select.EPOLLOUT | select.EPOLLET)
    # the quota hides EPOLLOUT; the socket's buffer is empty
    ev = ep.poll(120)
    res["epoll"] = "ok" if ev else "timeout"


ts = [threading.Thread(target=f) for f in (do_accept, do_send, do_recv, do_epoll)]
for t in ts:
    t.start()
time.sleep(1)
print("asleep" + "".join(" " + k for k in sorted(res)), flush=True)
for t in ts:
    t.join(120)
print("done " + " ".join("%s=%s" % kv for kv in sorted(res.items())), flush=True)
EOF

"$PYTHON" "$tmp/sleepers.py" "$port" "$tmp/go" >"$tmp/out" 2>&1 &
pid=$!
skex_track_pid "$pid"
skex_wait_line "$tmp/out" '^ready' 60 >/dev/null || skex_die "sleepers did not start: $(cat "$tmp/out")"
ga=$("$TOOL" add accept_rate "$port:0") || skex_die "group_tool add accept_rate"
go=$("$TOOL" add output_rate "$port:0") || skex_die "group_tool add output_rate"
touch "$tmp/go"
line=$(skex_wait_line "$tmp/out" '^asleep' 60) || skex_die "no asleep line: $(cat "$tmp/out")"
skex_check_eq "calls done before rmmod" "asleep" "$line"
cfs=/sys/kernel/config/skex/groups
sleep 1
for g in "$ga" "$go"; do
	th=$(cat "$cfs/$g/ports/$port/throttled")
	[ "$th" -gt 0 ] && skex_pass "group $g throttled $th" || skex_fail "group $g throttled 0"
done

out=$(skex_unload) || skex_fail "rmmod with sleepers: $out"
line=$(skex_wait_line "$tmp/out" '^done' 60) || skex_fail "sleepers still asleep after rmmod: $(cat "$tmp/out")"
skex_check_eq "sleepers after rmmod" "done accept=ok epoll=ok recv=ok send=ok" "$line"
wait "$pid"
out=$(skex_load) || skex_fail "insmod: $out"
[ -e "$cfs" ] && [ -z "$(ls "$cfs")" ] && skex_pass "no group after reload" ||
	skex_fail "groups after reload: $(ls "$cfs" 2>&1)"
skex_exit
