#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unloading restores the kernel, and sockets outlive the module:
#  1. an echo server plus a client streaming verified data on one
#     long-lived connection and fetching a file over sendfile() on short
#     connections run, while a reader loops over /proc/net/skex and
#     TCP_SKEX_STAT; the module is removed and inserted 10 times: every
#     rmmod/insmod succeeds, traffic progresses across each step, and in the
#     end no byte was lost or corrupted;
#  2. a listener and a connected pair opened while the module is loaded,
#     plus tasks asleep in accept(), recv() and send() on such sockets, keep
#     working after rmmod (data both ways, a new connection accepted, the
#     sleepers complete normally) and again after the next insmod.
# The module is loaded at the end.
source "$(dirname "$0")/lib.sh"

CYCLES=${SKEX_LOAD_CYCLES:-10}

skex_need_ko
skex_need_bin
skex_tmpdir tmp load

reload_at_exit()
{
	grep -qw '^skex' /proc/modules || skex_load || echo "FAIL: could not reload skex"
	skex_cleanup
}
trap reload_at_exit EXIT

# progress of the stream client, as "bytes conns errors" (builtins only:
# forks are slow in the TCG guest)
progress()
{
	local line b c e
	{ read -r line <"$tmp/status"; } 2>/dev/null || return 0
	[[ $line =~ ^bytes=([0-9]+)\ conns=([0-9]+)\ errors=([0-9]+)$ ]] || return 0
	echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}"
}

# wait_progress WHAT: the client's byte count must grow past its value now
wait_progress()
{
	local b0 b i p
	p=$(progress)
	b0=${p%% *}
	for ((i = 0; i < 300; i++)); do
		sleep 0.1
		p=$(progress)
		b=${p%% *}
		[ "${b:-0}" -gt "${b0:-0}" ] && return 0
		kill -0 "$client_pid" 2>/dev/null || break
	done
	skex_fail "traffic stalled $1 (bytes ${b0:-?} -> ${b:-?}): $(cat "$tmp/client.out")"
	return 1
}

# ---- 1. reload cycles under traffic ----
skex_start_server port "" "$tmp/echo.out" "$PYTHON" "$SKEX_TOOL" echo-server --addr 127.0.0.1
"$PYTHON" "$SKEX_TOOL" stream --addr 127.0.0.1 --port "$port" \
	--stop "$tmp/stop" --status "$tmp/status" >"$tmp/client.out" 2>&1 &
client_pid=$!
skex_track_pid "$client_pid"

(
	while [ ! -e "$tmp/stop" ]; do
		cat "$SKEX_PROC" >/dev/null 2>&1
		"$SKEX_STAT" "$port" >/dev/null 2>&1
		sleep 0.5
	done
) &
skex_track_pid $!

wait_progress "before the first rmmod" || skex_die "no traffic"

ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
for ((c = 1; c <= CYCLES; c++)); do
	t0=$(ms)
	out=$(skex_unload) || { skex_fail "cycle $c: $out"; break; }
	t1=$(ms)
	wait_progress "after rmmod #$c" || break
	t2=$(ms)
	out=$(skex_load) || { skex_fail "cycle $c: $out"; break; }
	t3=$(ms)
	skex_line "" "$port" >/dev/null ||
		skex_fail "cycle $c: echo server's port $port not listed after insmod"
	wait_progress "after insmod #$c" || break
	t4=$(ms)
	skex_log "cycle $c: rmmod $((t1 - t0)) ms, traffic $((t2 - t1)) ms, insmod $((t3 - t2)) ms, traffic $((t4 - t3)) ms"
done
skex_log "$((c - 1)) rmmod/insmod cycles done, traffic: $(progress)"

touch "$tmp/stop"
if wait "$client_pid"; then
	skex_pass "stream client: $(cat "$tmp/client.out")"
else
	skex_fail "stream client: $(cat "$tmp/client.out")"
fi
read -r bytes conns errors <<<"$(progress)"
skex_check_eq "traffic errors" 0 "$errors"
[ "${conns:-0}" -gt "$CYCLES" ] ||
	skex_fail "only ${conns:-0} short connections over $CYCLES cycles"

# ---- 2. sockets and sleepers that outlive the module ----
grep -qw '^skex' /proc/modules || { out=$(skex_load) || skex_die "$out"; }
coproc HOLD { exec "$PYTHON" "$SKEX_TOOL" hold --addr 127.0.0.1 2>&1; }
skex_track_pid "$HOLD_PID"

# hold_cmd CMD: one command to the holder, one answer line back
hold_cmd()
{
	local reply
	echo "$1" >&"${HOLD[1]}"
	if read -r -t 120 reply <&"${HOLD[0]}"; then
		echo "$reply"
	else
		echo "fail no answer to $1"
	fi
}

read -r -t 120 reply <&"${HOLD[0]}" || reply="no answer"
case $reply in
ready*) skex_pass "sockets opened with skex loaded: $reply" ;;
*) skex_die "holder: $reply" ;;
esac
sleep 1	# let the sleepers sleep

out=$(skex_unload) || skex_die "with sleepers in accept/recv/send: $out"
skex_pass "rmmod with tasks asleep in accept(), recv(), send()"
reply=$(hold_cmd check)
case $reply in ok*) skex_pass "after rmmod: $reply" ;; *) skex_fail "after rmmod: $reply" ;; esac
reply=$(hold_cmd release)
case $reply in ok*) skex_pass "after rmmod: $reply" ;; *) skex_fail "after rmmod: $reply" ;; esac

out=$(skex_load) || skex_die "$out"
reply=$(hold_cmd check)
case $reply in ok*) skex_pass "after insmod: $reply" ;; *) skex_fail "after insmod: $reply" ;; esac
echo quit >&"${HOLD[1]}"

skex_exit
