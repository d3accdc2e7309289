#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scenario 1: hook overhead. The same loads with the module unloaded, loaded
# with nothing configured (the netmeter still tracks and counts every
# connection the loads accept), loaded with the loads' ports polled by a
# controller (TCP_SKEX_STAT every 100 ms, which folds their counters), and
# loaded with socket groups on the loads' ports whose quotas never bind (the
# group path runs on every call: what a feature costs), and with the same
# groups on ports no load uses (what a group costs every other socket of the
# host: a lookup at each hooked call's site). Targets (issue 17): loaded at
# least 0.99 of unloaded in throughput and connection rate, polled and
# configured 0.97; configured at most 1 us more per send() and recv(). States
# alternate within each repetition, in a rotating order, so that drift in the
# (shared, emulated) machine spreads over all of them.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

bench_begin s1 "Hook overhead"
bench_desc "The cost of skex's hooks on the TCP paths it wraps, for a workload that does not use any feature: the same loads with the module unloaded, loaded with nothing configured (the netmeter still tracks and counts every connection the loads accept: that is the common case), loaded with each load's port polled by a controller (getsockopt TCP_SKEX_STAT every 100 ms, which folds the port's counters: the netmeter in use), and loaded with socket groups on the loads' ports whose quotas never bind (output_rate of 4294967295 bytes/s, the largest, on each port, accept_rate of 65535/s (the largest) on nginx's port), so that the group path runs on every call: what the feature costs; and loaded with the same groups on ports no load uses (elsewhere: what a group costs the other sockets of the host, whose sends, accepts and polls are let through at their call site after a lookup). States alternate within each repetition in a rotating order. Targets: every throughput and rate at least 0.99 of the unloaded figure loaded, 0.97 polled and configured; configured, at most 1 µs more per send() and recv()."

P_WRITE=47101 P_SENDFILE=47102 P_CALLS=47103 P_NGINX=47104
T_BULK=$(bench_secs 1 0.5)
T_CALLS=$(bench_secs 1 0.5)
T_WRK=$(bench_secs 1 1)

bench_variant unloaded "module not loaded"
bench_variant loaded "module loaded, nothing configured (netmeter counting)"
bench_variant polled "module loaded, the loads' ports polled with TCP_SKEX_STAT every 100 ms"
bench_variant configured "module loaded, non-binding socket groups on the loads' ports"
bench_variant elsewhere "module loaded, the same groups on ports no load uses"
bench_metric write_mbps MB/s higher unloaded "loaded:ratio>=0.99;polled,configured:ratio>=0.97" "loopback bulk throughput, one connection, the accepted side write()s 64 KB blocks for ${T_BULK} s"
bench_metric sendfile_mbps MB/s higher unloaded "loaded:ratio>=0.99;polled,configured:ratio>=0.97" "the same with sendfile() of 64 KB from a tmpfs file (6.1: tcp_sendpage; 6.12: tcp_sendmsg with MSG_SPLICE_PAGES)"
bench_metric conn_rate req/s higher unloaded "loaded:ratio>=0.99;polled,configured:ratio>=0.97" "connection rate: wrk, 8 connections, Connection: close (one connection per request), 100-byte file from nginx, ${T_WRK} s"
bench_metric send_ns ns/call lower unloaded "configured:diff<=1000" "cost of one 1-byte send() on an accepted socket (timed one by one in ${T_CALLS} s of ping-pong; median of batches of 64)"
bench_metric recv_ns ns/call lower unloaded "configured:diff<=1000" "cost of one 1-byte recv() on an accepted socket, data already queued"
bench_metric accept_ns ns/call lower unloaded - "cost of one accept() of a connection already queued (median of 32 batches of 16)"

command -v wrk >/dev/null || bench_fail "wrk missing"
command -v nginx >/dev/null || bench_fail "nginx missing"
[ -x "$BENCH_BIN" ] || bench_fail "$BENCH_BIN missing"
was_loaded=0
bench_loaded && was_loaded=1
bench_at_exit 'cfg_clear'
# leave the module as we found it
if [ "$was_loaded" = 1 ]; then
	bench_at_exit 'bench_load'
fi

states=()
if bench_can_reload; then
	states+=(unloaded)
else
	bench_vskip unloaded "no module file to reload (SKEX_MODULE)"
fi
if bench_loaded || bench_can_reload; then
	states+=(loaded polled)
else
	bench_vskip loaded "module not loaded and no module file"
	bench_vskip polled "module not loaded and no module file"
fi

# ---- the configured state: socket groups that never bind ----
CFG_GROUPS=()
cfg_clear() { bench_group_clear "${CFG_GROUPS[@]}"; }

# cfg_group GID TYPE PORT QUOTA...: bench_group, remembered for cfg_clear
cfg_group()
{
	CFG_GROUPS+=("$1")
	bench_group "$@"
}

# cfg_apply [OFF]: the groups on the loads' ports, or on those ports + OFF,
# which no load uses
cfg_apply()
{
	local p g=47100 off=${1:-0}
	bench_why=''
	[ -d "$SKEX_CFS/groups" ] || { bench_why="$SKEX_CFS/groups missing"; return 1; }
	for p in $P_WRITE $P_SENDFILE $P_CALLS $P_NGINX; do
		g=$((g + 1))
		cfg_group $g output_rate $((p + off)) 4294967295 1000000000 || return 1
	done
	cfg_group 47199 accept_rate $((P_NGINX + off)) 65535 || return 1
}

if bench_loaded || bench_load; then
	if cfg_apply; then
		states+=(configured elsewhere)
	else
		bench_vskip configured "socket groups not available: $bench_why"
		bench_vskip elsewhere "socket groups not available: $bench_why"
	fi
	cfg_clear
fi
[ ${#states[@]} -gt 0 ] || bench_skip "no state to measure"

www=''
bench_tmpdir www nginx
bench_nginx "$www" $P_NGINX

# the controller of the polled state: one poller per load port
POLLERS=()
poll_stop()
{
	[ ${#POLLERS[@]} -gt 0 ] || return 0
	kill "${POLLERS[@]}" 2>/dev/null
	wait "${POLLERS[@]}" 2>/dev/null
	POLLERS=()
}
bench_at_exit 'poll_stop'
poll_start()
{
	local p
	for p in $P_WRITE $P_SENDFILE $P_CALLS $P_NGINX; do
		"$BENCH_BIN" poll "$p" 100 >/dev/null &
		POLLERS+=($!)
	done
}

set_state()
{
	poll_stop
	case $1 in
	unloaded) cfg_clear; bench_unload ;;
	loaded) bench_load && cfg_clear ;;
	polled) bench_load && cfg_clear && poll_start ;;
	configured) bench_load && cfg_clear && cfg_apply ;;
	elsewhere) bench_load && cfg_clear && cfg_apply 100 ;;
	esac
}

proc_conns() { awk -v p="$1" '$1 == p { print $2 }' /proc/net/skex 2>/dev/null; }

counted=0 requested=0
measure()
{
	local state=$1 rep=$2 out r c0 c1
	out=$("$BENCH_BIN" bulk write "$T_BULK" $P_WRITE) || bench_fail "skex_bench bulk write: $out"
	bench_kv "$out" mbps
	bench_result write_mbps "$state" "$rep" "$REPLY"
	out=$("$BENCH_BIN" bulk sendfile "$T_BULK" $P_SENDFILE) || bench_fail "skex_bench bulk sendfile: $out"
	bench_kv "$out" mbps
	bench_result sendfile_mbps "$state" "$rep" "$REPLY"
	out=$("$BENCH_BIN" calls "$T_CALLS" $P_CALLS) || bench_fail "skex_bench calls: $out"
	bench_kv "$out" send_ns
	bench_result send_ns "$state" "$rep" "$REPLY"
	bench_kv "$out" recv_ns
	bench_result recv_ns "$state" "$rep" "$REPLY"
	bench_kv "$out" accept_ns
	bench_result accept_ns "$state" "$rep" "$REPLY"
	c0=$(proc_conns $P_NGINX)
	r=$(bench_wrk "http://127.0.0.1:$P_NGINX/small.html" "$T_WRK" 8 close) || bench_fail "wrk"
	c1=$(proc_conns $P_NGINX)
	bench_result conn_rate "$state" "$rep" "${r%% *}"
	if [ "$state" = loaded ] && [ -n "$c0" ] && [ -n "$c1" ]; then
		counted=$((counted + c1 - c0))
		requested=$((requested + ${r##* }))
	fi
}

for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	n=${#states[@]}
	for ((i = 0; i < n; i++)); do
		state=${states[$(((i + rep - 1) % n))]}
		bench_log "rep $rep: $state"
		set_state "$state" || bench_fail "cannot switch to state $state"
		measure "$state" "$rep"
	done
done
poll_stop
if [ "$counted" -gt 0 ]; then
	bench_note "the netmeter counted $counted connections on nginx's port during the 'loaded' runs (wrk completed $requested requests, one connection each; the rest were cut off at the end of a run)"
fi
bench_end
