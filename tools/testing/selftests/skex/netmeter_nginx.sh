#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Netmeter with a real server: nginx (sendfile on) listening on 127.0.0.1:P
# and [::1]:P serves a ~1 MB file from /tmp; curl fetches it over separate
# connections and over one keep-alive connection, plus a 404. Then exactly:
#   conns     = sum of curl's %{num_connects}
#   bytes_in  = sum of %{size_request}
#   bytes_out = sum of %{size_download} + %{size_header}
#   ref_count = 2 (two listening sockets), waiting = 0
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_bin
skex_need_cmd nginx curl
skex_tmpdir tmp nginx
chmod 755 "$tmp"
mkdir -p "$tmp/www" "$tmp/temp"
head -c $((1024 * 1024 + 4321)) /dev/urandom >"$tmp/www/big.bin"
chmod -R a+rX "$tmp/www"

port=$(skex_net freeport 127.0.0.1 ::1) || skex_die "freeport"
skex_nginx "$tmp" "127.0.0.1:$port [::1]:$port" \
	"access_log off; sendfile on; keepalive_timeout 60; keepalive_requests 1000;"
nginx_pid=$skex_last_pid
# both listening sockets
for ((i = 0; i < 100; i++)); do
	[ "$(skex_listen_count "" "$port")" = 2 ] && break
	sleep 0.1
done
skex_check_eq "nginx's listening sockets on $port" 2 "$(skex_listen_count "" "$port")"

line=$(skex_line "" "$port") || skex_die "nginx's port $port not listed once in $SKEX_PROC"
read -r _ c0 _ _ in0 out0 _ <<<"$line"
skex_log "before: $line"
st=$(skex_stat "" "$port")
skex_check_eq "TCP_SKEX_STAT ref_count of nginx's port" 2 "$(skex_stat_field "$st" ref_count)"

fmt='%{num_connects} %{size_request} %{size_download} %{size_header} %{http_code}\n'
url4=http://127.0.0.1:$port
url6=http://[::1]:$port
: >"$tmp/curl.out"
fetch() { curl -sS -g -w "$fmt" "$@" >>"$tmp/curl.out" || skex_fail "curl $*"; }

# separate connections, both families
for i in 1 2 3; do
	fetch -o /dev/null "$url4/big.bin"
done
fetch -o /dev/null "$url6/big.bin"
# one keep-alive connection, several requests, a 404 among them
fetch -o /dev/null "$url4/big.bin" -o /dev/null "$url4/missing" \
	-o /dev/null "$url4/big.bin" -o /dev/null "$url4/big.bin?x=1"
# IPv6 keep-alive
fetch -o /dev/null "$url6/big.bin" -o /dev/null "$url6/big.bin"

sed 's/^/curl: /' "$tmp/curl.out"
read -r conns req down hdr codes <<<"$(awk '
	{ c += $1; r += $2; d += $3; h += $4; codes = codes $5 "," }
	END { print c, r, d, h, codes }' "$tmp/curl.out")"
skex_check_eq "HTTP codes" "200,200,200,200,200,404,200,200,200,200," "$codes"
skex_check_eq "connections curl made" 6 "$conns"

skex_check_counters "" "$port" $((c0 + conns)) 0 $((in0 + req)) $((out0 + down + hdr))

# bytes of the file crossed as many times as curl says it downloaded it
skex_log "nginx served $((down + hdr)) bytes in $conns connections"
kill "$nginx_pid"
wait "$nginx_pid" 2>/dev/null
grep -E '\[(alert|emerg|crit)\]' "$tmp/error.log" && skex_fail "nginx errors (above)"

skex_exit
