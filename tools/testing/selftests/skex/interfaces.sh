#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module's interfaces exist and are per network namespace:
#  - configfs: /sys/kernel/config/skex/{forward,groups}/ directories
#  - /proc/net/skex: exact header, then one well-formed line per port
#  - a new netns has its own /proc/net/skex: only the header at first; a
#    listener opened there is listed there and not in the initial netns,
#    and the initial netns' listeners are not listed there; with 900
#    listeners, every one is listed and a read walks the ports once
#    (a kprobe on skex_port_stats counts the walks).
#  - the data-path hooks are there only while socket groups of their kind
#    exist (tracefs enabled_functions): with none, inet_csk_accept,
#    tcp_sendmsg, tcp_recvmsg and tcp_poll carry no ftrace hook (the
#    netmeter's observer on security_sock_graft always does); an
#    output_rate port installs send and poll only, an output_rate_ftp port
#    receive too, an accept_rate port accept and poll; they go within a
#    few seconds of the groups' deletion.
#  - sysctl kernel.ftrace_enabled=0, which would silence the hooks, is
#    refused while the module is loaded.
#
#   init netns                        netns skex-if-PID
#   listener 127.0.0.1:P4             (empty: header only)
#   listener [::1]:P6                 listener 127.0.0.1:PN
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_bin
skex_tmpdir tmp interfaces

# ---- configfs ----
cfs=/sys/kernel/config/skex
if [ -d "$cfs" ]; then
	skex_pass "$cfs is a directory"
else
	skex_fail "$cfs missing ($(grep configfs /proc/mounts || echo 'configfs not mounted'))"
fi
for d in forward groups; do
	if [ -d "$cfs/$d" ]; then
		skex_pass "$cfs/$d/ exists"
	else
		skex_fail "$cfs/$d/ missing"
	fi
done

# ---- /proc/net/skex format ----
# skex_check_format NS: header exact, lines of >= 6 decimal columns, ports
# 1-65535 and unique
check_format()
{
	local where=${1:-init netns} out
	out=$(skex_in_ns "$1" cat "$SKEX_PROC") || { skex_fail "$where: cat $SKEX_PROC"; return; }
	skex_check_eq "$where: $SKEX_PROC header" "$SKEX_HEADER" "$(echo "$out" | head -n1)"
	echo "$out" | awk -v w="$where" '
		NR == 1 { next }
		NF < 6 { print "FAIL: " w ": short line: " $0; bad = 1; next }
		{
			for (i = 1; i <= NF; i++)
				if ($i !~ /^[0-9]+$/) { print "FAIL: " w ": not decimal: " $0; bad = 1; next }
			if ($1 < 1 || $1 > 65535) { print "FAIL: " w ": bad port: " $0; bad = 1 }
			if (seen[$1]++) { print "FAIL: " w ": port listed twice: " $1; bad = 1 }
		}
		END { exit bad }' || skex_ret=$KSFT_FAIL
}

check_format ""

skex_start_server p4 "" "$tmp/l4" "$SKEX_NET" listen 127.0.0.1 0
skex_start_server p6 "" "$tmp/l6" "$SKEX_NET" listen ::1 0
skex_wait_port "" "$p4" && skex_wait_port "" "$p6" || skex_die "listeners not up"
for p in "$p4" "$p6"; do
	if skex_line "" "$p" >/dev/null; then
		skex_pass "init netns lists its listener on port $p: $(skex_line "" "$p")"
	else
		skex_fail "init netns: listener on port $p not listed once"
	fi
done
check_format ""

# ---- a second netns ----
skex_ns_add ns skex-if
out=$(ip netns exec "$ns" cat "$SKEX_PROC" 2>&1) ||
	skex_die "$ns: no $SKEX_PROC: $out"
skex_check_eq "new netns $ns: $SKEX_PROC before any listener" "$SKEX_HEADER" "$out"

pn=$(skex_net freeport 127.0.0.1) || skex_die "freeport"
skex_start_server pn_srv "$ns" "$tmp/ln" "$SKEX_NET" listen 127.0.0.1 "$pn"
skex_check_eq "listener port in $ns" "$pn" "$pn_srv"
skex_wait_port "$ns" "$pn" || skex_die "listener in $ns not up"
check_format "$ns"

if skex_line "$ns" "$pn" >/dev/null; then
	skex_pass "$ns lists its listener on port $pn"
else
	skex_fail "$ns: its listener on port $pn is not listed once"
fi
for p in "$p4" "$p6"; do
	if skex_in_ns "$ns" cat "$SKEX_PROC" | awk -v p="$p" 'NR > 1 && $1 == p { f = 1 } END { exit !f }'; then
		skex_fail "$ns lists port $p, a listener of the initial netns"
	else
		skex_pass "$ns does not list init's port $p"
	fi
done
if skex_port_listening "" "$pn"; then
	skex_log "port $pn is also listening in the initial netns: skipping that check"
elif cat "$SKEX_PROC" | awk -v p="$pn" 'NR > 1 && $1 == p { f = 1 } END { exit !f }'; then
	skex_fail "initial netns lists port $pn, a listener of $ns"
else
	skex_pass "initial netns does not list $ns's port $pn"
fi
st=$(skex_stat "$ns" "$pn")
skex_check_eq "TCP_SKEX_STAT ref_count for $pn in $ns" 1 "$(skex_stat_field "$st" ref_count)"
if ! skex_port_listening "" "$pn"; then
	skex_check_eq "TCP_SKEX_STAT for $pn in the initial netns" "error=ENOENT" "$(skex_stat "" "$pn")"
fi

# the listener goes, its line goes (no rule or group uses the port)
kill "$skex_last_pid"
for ((i = 0; i < 100; i++)); do
	skex_port_listening "$ns" "$pn" || break
	sleep 0.1
done
out=$(ip netns exec "$ns" cat "$SKEX_PROC")
skex_check_eq "$SKEX_PROC in $ns after its listener closed" "$SKEX_HEADER" "$out"

# ---- many ports: all listed, walked once per read ----
# 900 listeners make about 16 KB, four times seq_file's first buffer: a
# read walks the ports once (twice the first time, to learn the size).
ip netns exec "$ns" "$PYTHON" -c '
import socket, sys, time
ls = []
for i in range(900):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    ls.append(s)
for s in ls:
    print(s.getsockname()[1])
print("port 0", flush=True)
time.sleep(300)' >"$tmp/many" 2>&1 &
many_pid=$!
skex_track_pid "$many_pid"
skex_wait_line "$tmp/many" '^port 0$' 60 >/dev/null || skex_die "900 listeners: $(tail -n 3 "$tmp/many")"
# tracefs, for the kprobe here and enabled_functions below
tracefs=$(skex_tracefs) || tracefs=""
kp=skex_if_stats_$$
if [ -n "$tracefs" ] && echo "p:$kp skex:skex_port_stats" >>"$tracefs/kprobe_events" &&
   echo 1 >"$tracefs/events/kprobes/$kp/enable"; then
	hits() { awk -v k="$kp" '$1 == k || $1 == "kprobes/" k { print $2 }' "$tracefs/kprobe_profile"; }
	h0=$(hits)
	ip netns exec "$ns" cat "$SKEX_PROC" >"$tmp/many.1"
	h1=$(hits)
	ip netns exec "$ns" cat "$SKEX_PROC" >"$tmp/many.2"
	h2=$(hits)
	echo 0 >"$tracefs/events/kprobes/$kp/enable"
	echo "-:$kp" >>"$tracefs/kprobe_events"
	skex_log "ports walked: $((h1 - h0)) time(s) for the first read, $((h2 - h1)) for the next"
	if [ $((h1 - h0)) -le 2 ] && [ $((h2 - h1)) -eq 1 ]; then
		skex_pass "900 ports: at most 2 walks for the first read, 1 for the next"
	else
		skex_fail "900 ports: $((h1 - h0)) and $((h2 - h1)) walks for two reads"
	fi
else
	skex_fail "cannot set a kprobe on skex_port_stats"
fi
grep -E '^[0-9]+$' "$tmp/many" | sort -n >"$tmp/many.want"
awk 'NR > 1 { print $1 }' "$tmp/many.2" >"$tmp/many.got"
if cmp -s "$tmp/many.want" "$tmp/many.got"; then
	skex_pass "900 ports: the listeners' ports, once each, in order"
else
	skex_fail "900 ports: rows differ: $(diff "$tmp/many.want" "$tmp/many.got" | head -n 5 | tr '\n' ' ')"
fi
skex_check_eq "900 ports: rows" 900 "$(($(wc -l <"$tmp/many.2") - 1))"
kill "$many_pid" 2>/dev/null


# ---- demand hooks ----
ef=${tracefs:+$tracefs/enabled_functions}
demand=$SKEX_DEMAND_HOOKS
# hooks_now: the demand hooks there now, for a message
hooks_now() { grep -oE "^(${demand// /|}) " "$ef" | tr -d ' ' | sort | tr '\n' ' '; }
g0=$((40000 + $$ % 20000))
# check_hooks WHAT "F..." "G..."
check_hooks()
{
	if skex_hooks_within "$tracefs" 30 "$2" "$3"; then
		skex_pass "$1: hooked: ${2:-none}; not: ${3:-none}"
	else
		skex_fail "$1: want ${2:-none} hooked and ${3:-none} not; hooked: $(hooks_now)"
	fi
}
if [ -z "$ef" ]; then
	skex_fail "no enabled_functions in tracefs"
elif [ -n "$(ls "$cfs/groups")" ]; then
	skex_log "groups exist ($(ls "$cfs/groups" | tr '\n' ' ')): skipping the demand hook checks"
else
	check_hooks "no group" "security_sock_graft" "$demand"
	if skex_group_port "$g0" output_rate "$p4"; then
		check_hooks "an output_rate port" "tcp_sendmsg tcp_poll" \
			"inet_csk_accept tcp_recvmsg"
	else
		skex_fail "cannot make an output_rate group with port $p4"
	fi
	if skex_group_port $((g0 + 1)) output_rate_ftp "$p6"; then
		check_hooks "and an output_rate_ftp port" \
			"tcp_sendmsg tcp_recvmsg tcp_poll" "inet_csk_accept"
	else
		skex_fail "cannot make an output_rate_ftp group with port $p6"
	fi
	if skex_group_port $((g0 + 2)) accept_rate "$p4"; then
		check_hooks "and an accept_rate port" "$demand" ""
	else
		skex_fail "cannot make an accept_rate group with port $p4"
	fi
	for d in $(skex_group_rmdirs); do
		skex_fail "rmdir $d"
	done
	t0=${EPOCHREALTIME/./}
	if skex_hooks_within "$tracefs" 50 "" "$demand"; then
		t=$(((${EPOCHREALTIME/./} - t0) / 1000))
		skex_pass "groups gone: the hooks went within $t ms"
	else
		skex_fail "groups gone 5 s ago, still hooked: $(hooks_now)"
	fi
fi

# ---- the hooks cannot be switched off under the module ----
# (the netmeter would go on reading sockets freed without its hook)
if [ -w /proc/sys/kernel/ftrace_enabled ]; then
	if echo 0 2>/dev/null >/proc/sys/kernel/ftrace_enabled; then
		echo 1 >/proc/sys/kernel/ftrace_enabled
		skex_fail "kernel.ftrace_enabled=0 accepted while skex is loaded"
	else
		skex_pass "kernel.ftrace_enabled=0 refused while skex is loaded"
	fi
	skex_check_eq "kernel.ftrace_enabled" 1 "$(cat /proc/sys/kernel/ftrace_enabled)"
else
	skex_fail "no /proc/sys/kernel/ftrace_enabled"
fi

skex_exit
