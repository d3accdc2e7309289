#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# output_rate with a real server: nginx (sendfile on, non-blocking sockets,
# edge-triggered epoll) on 127.0.0.1:P serves a file of QUOTA * 10 bytes;
# curl fetches it. With an output_rate group of QUOTA on P:
#   - the download rate (from the first byte) is within 2% of QUOTA (on a
#     debug kernel, at most 2% over it, and the bucket gave out within 2%
#     of the quota of the time nginx was there to take it, in its own
#     clock: skex_output_rate)
#   - in the quota's own clock (trace event skex:skex_output) the bucket
#     kept its bound and lost tokens only when full, on every kernel
#   - nginx's worker uses less than 5% of the wall time in CPU (15% on a
#     debug kernel)
#   - groups/<gid>/ports/P/throttled counts the delays
# Without the group the same download is much faster.
source "$(dirname "$0")/lib.sh"

QUOTA=100000
SECS=10
TOOL=$SKEX_BIN_DIR/group_tool

skex_need_module
skex_need_cmd nginx curl
skex_need_bin "$TOOL" "$SKEX_BIN_DIR/output_trace"
skex_tmpdir tmp group-nginx
chmod 755 "$tmp"
mkdir -p "$tmp/www" "$tmp/temp"
head -c $((QUOTA * SECS)) /dev/urandom >"$tmp/www/file.bin"
chmod -R a+rX "$tmp/www"
"$TOOL" flush || skex_die "cannot flush groups"

port=$(skex_net freeport 127.0.0.1) || skex_die "freeport"
skex_nginx "$tmp" "127.0.0.1:$port" "access_log off; sendfile on;"
nginx_pid=$skex_last_pid
worker=
for ((i = 0; i < 100; i++)); do
	worker=$(pgrep -P "$nginx_pid" | head -n1)
	[ -n "$worker" ] && break
	sleep 0.1
done
[ -n "$worker" ] || skex_die "no nginx worker"

# CPU ticks (user + system) of a process
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
fmt='%{http_code} %{size_download} %{time_starttransfer} %{time_total}'
url=http://127.0.0.1:$port/file.bin

# unthrottled, for comparison
read -r code size tfirst ttotal <<<"$(curl -sS -o /dev/null -w "$fmt" "$url")"
skex_check_eq "HTTP code without a group" 200 "$code"
skex_log "without a group: $size bytes in ${ttotal}s"

gid=$("$TOOL" add output_rate "$port:$QUOTA") || skex_die "group_tool add"
cfs=/sys/kernel/config/skex/groups/$gid/ports/$port
"$SKEX_BIN_DIR/output_trace" start "$port" || skex_die "output_trace start $port"
t0=$(ticks "$worker")
w0=$(date +%s%N)
read -r code size tfirst ttotal <<<"$(curl -sS -o /dev/null -w "$fmt" "$url")"
w1=$(date +%s%N)
t1=$(ticks "$worker")
skex_check_eq "HTTP code" 200 "$code"
skex_check_eq "bytes downloaded" $((QUOTA * SECS)) "$size"

hz=$(getconf CLK_TCK)
read -r rate dev cpu <<<"$(awk -v s="$size" -v a="$tfirst" -v b="$ttotal" \
	-v q=$QUOTA -v t=$((t1 - t0)) -v hz="$hz" -v w=$((w1 - w0)) 'BEGIN {
		r = s / (b - a)
		printf "%.0f %.2f %.2f\n", r, 100 * (r - q) / q, 100 * t / hz / (w / 1e9)
	}')"
skex_log "quota $QUOTA B/s: $size bytes at $rate B/s ($dev%) from the first byte;" \
	"nginx worker CPU $cpu% of ${ttotal}s; throttled $(cat "$cfs/throttled")"
skex_output_rate download "$port" $QUOTA "$rate" 2
# Throttled, not spinning: 0.38% on the production kernels. A debug
# kernel's sends take 30 to 40 times the CPU (4.02-4.98% there), where a
# busy loop would still take most of the vCPU.
maxcpu=5
[ "${SKEX_TIMEOUT_SCALE:-1}" -le 1 ] || maxcpu=15
skex_check_cmp "nginx worker CPU, % of the wall time" "$cpu" "<" $maxcpu
th=$(cat "$cfs/throttled")
[ "$th" -gt 0 ] && skex_pass "throttled counter $th" || skex_fail "throttled counter 0"

"$TOOL" del "$gid" || skex_fail "group_tool del $gid"
kill "$nginx_pid"
wait "$nginx_pid" 2>/dev/null
grep -E '\[(alert|emerg|crit)\]' "$tmp/error.log" && skex_fail "nginx errors (above)"
skex_exit
