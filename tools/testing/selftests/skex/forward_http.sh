#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A content rule made in configfs with its defaults (until \r\n\r\n,
# offset any) in front of two nginx that answer differently: B for the
# branch `GET /images`, A as the default port. Every request, matching or
# not, is answered within 50 ms (real clock; x SKEX_TIMEOUT_SCALE, at most
# 500 ms): curl
# with HTTP/1.1 and 1.0, a POST with a body, and a raw client that splits
# its request over two writes 100 ms apart (timed from the second). Each
# case runs up to seven times until one is fast enough: a host busy with
# other VMs only makes some slower, while a decision waiting for a timer
# makes all of them slow; every answer must come from the right backend. Before issue 13, a request matching no branch
# waited timeout_ms (1 s).
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_cmd nginx curl
CFS=/sys/kernel/config/skex/forward
# times SKEX_TIMEOUT_SCALE on a debug kernel, but always under half the
# rule's timeout_ms (1 s), so that a decision by the timer still fails
scale=${SKEX_TIMEOUT_SCALE:-1}
LIMIT_MS=${SKEX_HTTP_LIMIT_MS:-$((50 * scale > 500 ? 500 : 50 * scale))}
skex_tmpdir tmp fwhttp
chmod 755 "$tmp"

# backend NAME PORT: an nginx answering "NAME <method> <uri>" on 127.0.0.1
backend()
{
	skex_nginx "$tmp/$1" "127.0.0.1:$2" "access_log off;" \
		"location / { return 200 \"$1 \$request_method \$request_uri\\n\"; }"
}

ports=$("$SKEX_BIN_DIR"/skex_net freeport -n 3 127.0.0.1 ::1) || skex_die freeport
read -r A B P <<<"${ports//$'\n'/ }"
backend A "$A"
backend B "$B"
head -c 20000 /dev/urandom >"$tmp/body"

mkdir "$CFS/$P" || skex_die "mkdir rule"
echo content >"$CFS/$P/type"
echo "$A" >"$CFS/$P/default_port"
mkdir "$CFS/$P/branches/images"
echo 'GET /images' >"$CFS/$P/branches/images/pattern"
echo "$B" >"$CFS/$P/branches/images/port"
echo 1 >"$CFS/$P/enable" || skex_die "enable"
skex_check_eq "until (default)" '\r\n\r\n' "$(cat "$CFS/$P/until")"
skex_check_eq "offset (default)" any "$(cat "$CFS/$P/branches/images/offset")"

nA=0 nB=0	# requests answered by A and B
# count WANT: one more answer of the backend WANT names
count() { if [ "${1%% *}" = B ]; then nB=$((nB + 1)); else nA=$((nA + 1)); fi; }

# fastest NUMBERS...: the smallest
fastest() { printf '%s\n' "$@" | sort -n | head -n 1; }

# check_curl NAME WANT_BODY CURL_ARGS...: the right body each time, one
# time_total under the limit in seven tries
check_curl()
{
	local name=$1 want=$2 i out ms=() body t
	shift 2
	for i in 1 2 3 4 5 6 7; do
		out=$(curl -sS --max-time 10 -w '|%{time_total}' "$@") || out="curl failed"
		body=${out%|*}
		body=${body%$'\n'}
		t=${out##*|}
		[ "$body" = "$want" ] || { skex_fail "$name: '$body', want '$want'"; return; }
		count "$want"
		ms+=("$(awk -v t="$t" 'BEGIN { printf "%d", t * 1000 }')")
		[ "${ms[-1]}" -lt "$LIMIT_MS" ] && break
	done
	t=$(fastest "${ms[@]}")
	if [ "$t" -lt "$LIMIT_MS" ]; then
		skex_pass "$name: $want in ${ms[*]} ms"
	else
		skex_fail "$name: ${ms[*]} ms, none under $LIMIT_MS"
	fi
}

U=http://127.0.0.1:$P
# warm up both backends (their first answers are slow), untimed
for u in "$U/images/warm" "$U/warm"; do
	curl -sS --max-time 10 -o /dev/null "$u" || skex_fail "warm-up $u"
done
nA=1 nB=1	# the warm-up
direct=$(curl -sS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$A/")
skex_log "direct to nginx A: ${direct}s"
check_curl "GET /images/a.png" "B GET /images/a.png" "$U/images/a.png"
check_curl "GET /" "A GET /" "$U/"
check_curl "GET /index.html?x=/images" "A GET /index.html?x=/images" "$U/index.html?x=/images"
check_curl "HTTP/1.0 /images/b" "B GET /images/b" -0 "$U/images/b"
check_curl "HTTP/1.0 /" "A GET /" -0 "$U/"
check_curl "POST /images/a with a body" "A POST /images/a" \
	--data-binary @"$tmp/body" "$U/images/a"

# split REQUEST_HEAD REQUEST_TAIL: the answer and the ms from the last write
split()
{
	"$PYTHON" - "$P" "$1" "$2" <<'EOP'
import socket, sys, time
port, head, tail = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(head.encode().decode("unicode_escape").encode())
time.sleep(0.1)
t0 = time.monotonic()
s.sendall(tail.encode().decode("unicode_escape").encode())
data = b""
while not data.endswith(b"\n") or b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
ms = int((time.monotonic() - t0) * 1000)
print(data.split(b"\r\n\r\n", 1)[-1].decode().strip(), ms)
EOP
}

# check_split NAME WANT HEAD TAIL
check_split()
{
	local name=$1 want=$2 i out ms=()
	for i in 1 2 3 4 5 6 7; do
		out=$(split "$3" "$4") || out="client failed"
		[ "${out% *}" = "$want" ] || { skex_fail "$name: '${out% *}', want '$want'"; return; }
		count "$want"
		ms+=("${out##* }")
		[ "${ms[-1]}" -lt "$LIMIT_MS" ] && break
	done
	i=$(fastest "${ms[@]}")
	if [ "$i" -lt "$LIMIT_MS" ]; then
		skex_pass "$name: $want in ${ms[*]} ms after the last write"
	else
		skex_fail "$name: ${ms[*]} ms, none under $LIMIT_MS"
	fi
}
check_split "split /images/ request" "B GET /images/s.png" \
	"GET /ima" 'ges/s.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
check_split "split / request" "A GET /s.png" \
	"GET /s.p" 'ng HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
check_split "split in the headers' end" "A GET /" \
	"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" '\r\n'

skex_check_eq "hits of /images" "$nB" "$(cat "$CFS/$P/branches/images/hits")"
skex_check_eq "default_hits" "$nA" "$(cat "$CFS/$P/default_hits")"
skex_check_eq "dropped" 0 "$(cat "$CFS/$P/dropped")"
echo 0 >"$CFS/$P/enable"
rmdir "$CFS/$P/branches/images" "$CFS/$P"
skex_exit
