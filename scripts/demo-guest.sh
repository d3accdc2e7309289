#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The narrated skex tour, run inside the demo VM (scripts/demo.sh) with the
# module loaded. Each feature is one function demo_<name>, listed in SECTIONS:
# read one to see how to use that feature by hand. Every command that
# configures or measures something is shown ("$ ...") before it runs, so the
# output is a transcript you can copy from; every number printed is read from
# curl -w, wrk, /proc/net/skex or a configfs counter, none is typed in.
#
# Helpers:
#   say TEXT...      narrate
#   run CMD...       show "$ CMD" and run it (a failure is reported and
#                    counted, the tour goes on)
#   run_sh 'SHELL'   the same for a shell line (pipes, redirections)
#   put VALUE FILE   show and run "echo VALUE > FILE" (configfs writes)
#   bg_run 'SHELL'   show it and start it in the background (PID in BG_PID)
#   backends         start the nginx servers every part uses (once)
#   netmeter_watch SECS [PORT...]   a controller's loop over /proc/net/skex
#
# Servers (one nginx each, 127.0.0.1, one request per connection so that
# every request is a new connection the module classifies):
#   8080 the default backend, 8081 backend A, 8082 backend B: each answers
#   one line naming itself, the request and the client address;
#   8090 a file server (sendfile) for the throttled download.
# Rules: content on port 80, address on 81, dice on 82. Groups: 1
# (output_rate on 8090) and 2 (accept_rate on 8080).
#
# Everything runs as root in the VM; /tmp is private to it. Files for the
# host (the download's rate samples) go to $SKEX_OUT.
# Usage: demo-guest.sh [SECTION...]   (default: all)
# Environment: SKEXCTL, the skexctl to show (default tools/skexctl/skexctl).
set -euo pipefail

SECTIONS=(module content address dice output_rate accept_rate netmeter skexctl teardown)

CFS=/sys/kernel/config/skex
DEMO_TMP=$(mktemp -d /tmp/skex-demo.XXXXXX)
OUT=${SKEX_OUT:-$DEMO_TMP}
REPO=${SKEX_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FAILED=0
PIDS=()

bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
[ "${NO_COLOR:-}" = "" ] || bold='' dim='' off=''

title() { printf '\n%s==== %s ====%s\n' "$bold" "$*" "$off"; }
# say TEXT...: narrate, wrapped at 78 columns (no fork: see below)
say() {
	local w line='' words
	read -r -a words <<<"$*"
	for w in "${words[@]}"; do
		if [ -n "$line" ] && [ $((${#line} + 1 + ${#w})) -gt 78 ]; then
			printf '%s\n' "$line"
			line=$w
		else
			line=${line:+$line }$w
		fi
	done
	printf '%s\n' "$line"
}
failed() {
	echo "  ($*)"
	FAILED=$((FAILED + 1))
}
# show_line 'SHELL LINE': print it as typed at a prompt
show_line() { printf '%s$ %s%s\n' "$dim" "$1" "$off"; }
# show CMD...: the same for a command's words, quoted where a shell needs it
show() {
	local a out=()
	for a in "$@"; do
		[[ ! $a =~ [^A-Za-z0-9_./:=@%+,-] ]] || a="'$a'"
		out+=("$a")
	done
	show_line "${out[*]}"
}
run() {
	show "$@"
	"$@" || failed "that failed with exit $?"
}
run_sh() {
	show_line "$1"
	bash -c "$1" || failed "that failed with exit $?"
}
# put VALUE FILE: show "echo VALUE > FILE" and do it (bash's own echo: no
# fork, so it can run inside a sampling loop)
put() {
	local v=$1
	[[ ! $v =~ [^A-Za-z0-9_./:-] ]] || v="'$v'"
	show_line "echo $v > $2"
	echo "$1" >"$2" || failed "that failed"
}
# bg_run 'SHELL LINE': show it with "&" and start it in the background; its
# PID (the program's own: exec) in BG_PID
bg_run() {
	show_line "$1 &"
	bash -c "exec $1" &
	BG_PID=$!
	PIDS+=("$BG_PID")
}
# wait_port PORT: wait (10 s at most) until something listens on PORT
wait_port() {
	local i pat lines
	printf -v pat ':%04X 00000000:0000 0A ' "$1"
	for ((i = 0; i < 100; i++)); do
		mapfile -t lines </proc/net/tcp
		[[ "${lines[*]}" != *"$pat"* ]] || return 0
		nap 0.1
	done
	failed "nothing listens on port $1"
	return 1
}
# The loops that sample once a second or faster use bash builtins only: a
# fork costs tens of ms in a TCG VM and would skew what they measure.
# now_us: microseconds since the epoch, in $NOW
now_us() { NOW=$((${EPOCHREALTIME/./})); }
# nap SECS: sleep without a fork (a read that times out on a FIFO nobody
# writes)
nap() { read -r -t "$1" -u "$NAP_FD" _ || true; }
NAP_FIFO=$DEMO_TMP/nap
mkfifo "$NAP_FIFO"
exec {NAP_FD}<>"$NAP_FIFO"
# skex_rows: /proc/net/skex into SKEX_ROWS. One read of the whole file, as a
# controller does: read line by line (bash's read seeks back after each
# line) a line may be torn when a counter grows in between.
skex_rows() { mapfile -t SKEX_ROWS </proc/net/skex; }
# skex_row PORT: that port's row of /proc/net/skex in ROW (port conns
# waiting delay_us bytes_in bytes_out), zeros if it has none
skex_row() {
	local line
	skex_rows
	ROW=("$1" 0 0 0 0 0)
	for line in "${SKEX_ROWS[@]}"; do
		if [ "${line%% *}" = "$1" ]; then
			read -r -a ROW <<<"$line"
			return 0
		fi
	done
}
# wait_moving PORT FIELD: wait (10 s at most) until field FIELD (1 conns,
# ..., 5 bytes_out) of PORT's row in /proc/net/skex changes
wait_moving() {
	local i v
	skex_row "$1"
	v=${ROW[$2]}
	for ((i = 0; i < 100 && ROW[$2] == v; i++)); do
		nap 0.1
		skex_row "$1"
	done
}
# fixed VAR N DIGITS: VAR = N / 10^DIGITS as a decimal ("1234" 1 -> "123.4")
fixed() {
	local p=$((10 ** $3))
	printf -v "$1" '%d.%0*d' $(($2 / p)) "$3" $(($2 % p))
}

# nginx_server NAME PORT BODY: an nginx on 127.0.0.1:PORT. BODY is the
# server block's content. keepalive_timeout 0: one request per connection.
nginx_server() {
	local name=$1 port=$2 body=$3 d=$DEMO_TMP/$1
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_timeout 0;
	sendfile on;
	default_type text/plain;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server {
		listen 127.0.0.1:$port;
		$body
	}
}
EOF
	nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" || failed "nginx $name did not start"
	wait_port "$port"
}

backends() {
	local name port
	[ ! -e "$DEMO_TMP/started" ] || return 0
	: >"$DEMO_TMP/started"
	say "Backends: one nginx per port on 127.0.0.1, each answering with its name, the request and the client address it sees:"
	for name in default:8080 A:8081 B:8082; do
		port=${name#*:} name=${name%:*}
		nginx_server "$name" "$port" \
			"location / { return 200 \"backend $name (port $port): \$request_method \$request_uri from \$remote_addr\\n\"; }"
		printf '  %-7s 127.0.0.1:%s\n' "$name" "$port"
	done
	mkdir -p "$DEMO_TMP/www"
	truncate -s 4000000 "$DEMO_TMP/www/4MB.bin"
	truncate -s 40000000 "$DEMO_TMP/www/40MB.bin"
	nginx_server files 8090 "root $DEMO_TMP/www;"
	printf '  %-7s 127.0.0.1:8090 (static files: 4MB.bin, 40MB.bin)\n' files
}

# curl_line URL [CURL-OPTION...]: the body, when the connection was
# established and when the answer's first byte came (curl's own clock)
curl_line() {
	local url=$1
	shift
	run curl -sS "$@" -w '    (connected %{time_connect} s, answer %{time_starttransfer} s)\n' "$url"
}

# netmeter_watch SECS [PORT...]: what a controller does: read /proc/net/skex
# once a second and print, per port that moved (or per PORT given), new
# connections per second, connections waiting in the accept queue, the mean
# accept delay of the new connections and the bytes per second in and out.
netmeter_watch() {
	local secs=$1 i t0=0 us line port conns waiting delay bin bout dc r dl ri ro
	shift
	local only=" $* "
	local -A c0 d0 i0 o0
	printf '  %5s %6s %8s %7s %9s %10s %10s\n' t port conns/s waiting delay_ms in_KB/s out_KB/s
	for ((i = 0; i <= secs; i++)); do
		[ "$i" -eq 0 ] || nap 1
		now_us
		skex_rows
		us=$((NOW - t0)) t0=$NOW
		for line in "${SKEX_ROWS[@]:1}"; do
			read -r port conns waiting delay bin bout _ <<<"$line"
			[ "$only" = "  " ] || [[ $only == *" $port "* ]] || continue
			if [ "$i" -gt 0 ] && [ -n "${c0[$port]:-}" ]; then
				dc=$((conns - c0[$port])) dl=-
				if [ "$only" != "  " ] || [ "$dc" -ne 0 ] ||
				   [ "$bin" -ne "${i0[$port]}" ] || [ "$bout" -ne "${o0[$port]}" ]; then
					fixed r $((dc * 10000000 / us)) 1
					[ "$dc" -eq 0 ] || fixed dl $(((delay - d0[$port]) / dc / 100)) 1
					fixed ri $(((bin - i0[$port]) * 10000 / us)) 1
					fixed ro $(((bout - o0[$port]) * 10000 / us)) 1
					printf '  %5s %6s %8s %7s %9s %10s %10s\n' \
						"$i.0s" "$port" "$r" "$waiting" "$dl" "$ri" "$ro"
				fi
			fi
			c0[$port]=$conns d0[$port]=$delay i0[$port]=$bin o0[$port]=$bout
		done
	done
}

demo_module() {
	title "The module"
	say "skex is a loadable module for Debian's stock $(uname -r) kernel: no patch, no rebuild. It is loaded now:"
	run_sh "lsmod | grep -w skex"
	say "It is configured with mkdir and echo under $CFS (forwarding rules, socket groups) or with setsockopt, and counts per port in /proc/net/skex:"
	run ls "$CFS"
	run cat /proc/net/skex
	backends
}

demo_content() {
	local t
	title "Forwarding by content: HTTP paths to different servers"
	backends
	say "A content rule on port 80: requests starting 'GET /images/' go to backend A, 'GET /api/' to backend B, anything else to the default, 8080. The connection is handed over already established: no proxy copies bytes."
	run cd "$CFS/forward"
	run mkdir 80
	put content 80/type
	put 8080 80/default_port
	put 300 80/timeout_ms
	run mkdir 80/branches/images 80/branches/api
	put 'GET /images/' 80/branches/images/pattern
	put 8081 80/branches/images/port
	put 'GET /api/' 80/branches/api/pattern
	put 8082 80/branches/api/port
	if [ -e 80/until ]; then
		say "A request is complete at its blank line: with until set to that delimiter, a request that matches no pattern goes to the default as soon as its headers are in."
		put '\r\n\r\n' 80/until
	else
		read -r t <80/timeout_ms
		say "(This kernel has no 'until' attribute yet: a request that matches no pattern reaches the default when timeout_ms = $t ms have passed since the connection was established, as the third curl shows.)"
	fi
	put 1 80/enable
	say "Three requests to port 80:"
	curl_line http://127.0.0.1/images/cat.png
	curl_line http://127.0.0.1/api/v1/users
	curl_line http://127.0.0.1/index.html
	say "The rule's counters, one per branch and one for the default:"
	run grep -H . 80/branches/*/hits 80/default_hits 80/dropped
}

demo_address() {
	title "Forwarding by client address"
	backends
	say "An address rule on port 81: the client 127.0.0.2 goes to backend A, 127.0.0.3 to backend B, every other client to the default. (Any 127.x address is local: curl --interface picks the source.)"
	run cd "$CFS/forward"
	run mkdir 81
	put address 81/type
	put 8080 81/default_port
	run mkdir 81/branches/two 81/branches/three
	put 127.0.0.2 81/branches/two/source
	put 8081 81/branches/two/port
	put 127.0.0.3/32 81/branches/three/source
	put 8082 81/branches/three/port
	put 1 81/enable
	say "The same URL from three source addresses; each backend sees the real client:"
	curl_line http://127.0.0.1:81/ --interface 127.0.0.2
	curl_line http://127.0.0.1:81/ --interface 127.0.0.3
	curl_line http://127.0.0.1:81/
	run grep -H . 81/branches/*/source 81/branches/*/hits 81/default_hits
}

demo_dice() {
	local a b d
	title "Forwarding by chance (dice)"
	backends
	say "A dice rule on port 82: 30% of the connections to backend A, 20% to B, the rest to the default. One curl, 100 URLs: nginx closes each connection, so each request is a new connection and a new draw."
	run cd "$CFS/forward"
	run mkdir 82
	put dice 82/type
	put 8080 82/default_port
	run mkdir 82/branches/a 82/branches/b
	put 30 82/branches/a/chance
	put 8081 82/branches/a/port
	put 20 82/branches/b/chance
	put 8082 82/branches/b/port
	put 1 82/enable
	run_sh "curl -sS http://127.0.0.1:82/roll{1..100} | sed 's/roll[0-9]*/roll/' | sort | uniq -c"
	read -r a <82/branches/a/hits
	read -r b <82/branches/b/hits
	read -r d <82/default_hits
	run grep -H . 82/branches/*/hits 82/default_hits 82/dropped
	say "Counted: A $a + B $b + default $d = $((a + b + d)) connections."
	[ $((a + b + d)) -eq 100 ] || failed "the hit counters do not add up to 100"
}

demo_output_rate() {
	local g=$CFS/groups/1 q csv=$OUT/output_rate.csv dl=$DEMO_TMP/download.bin
	local curl_pid t0 t sent0 next raised=0 sent got=0 sent1=0 got1=0 tl us th k v ts rs rg
	title "Socket groups: output_rate throttles a download"
	backends
	say "Group 1 limits what the processes behind port 8090 may send, all their connections together, to 200000 bytes/s. nginx needs no change: its sendfile() calls are held back."
	run cd "$CFS/groups"
	run mkdir 1
	put output_rate 1/type
	run mkdir 1/ports/8090
	put 200000 1/ports/8090/quota
	say "curl downloads 4MB.bin in the background. From nginx's first byte, once a second: what nginx sent (bytes_out in /proc/net/skex) and what curl wrote to its file (wchar in /proc/PID/io). After 4 s the quota is raised to 800000 while the download runs."
	bg_run "curl -sS -o $dl -w '%{size_download} bytes in %{time_total} s, mean %{speed_download} B/s\n' http://127.0.0.1:8090/4MB.bin > $DEMO_TMP/curl.out"
	curl_pid=$BG_PID
	skex_row 8090
	sent0=${ROW[5]}
	# the clock starts with the first byte nginx sends
	while kill -0 "$curl_pid" 2>/dev/null && [ "${ROW[5]}" = "$sent0" ]; do
		nap 0.02
		skex_row 8090
	done
	now_us
	t0=$NOW tl=$NOW next=$((NOW + 1000000))
	echo "t_s,sent_bytes,received_bytes,quota_Bps" >"$csv"
	printf '  %5s %12s %12s %9s %9s\n' t sent_KB/s recvd_KB/s quota throttled
	while :; do
		now_us
		t=$NOW
		skex_row 8090
		sent=$((ROW[5] - sent0))
		# what curl has written to its file: wchar of /proc/PID/io (no fork)
		while read -r k v; do
			[ "$k" != wchar: ] || got=$v
		done 2>/dev/null <"/proc/$curl_pid/io" || true
		read -r q <"$g/ports/8090/quota"
		fixed ts $(((t - t0) / 1000)) 3
		echo "$ts,$sent,$got,$q" >>"$csv"
		kill -0 "$curl_pid" 2>/dev/null || break
		if [ "$t" -ge "$next" ]; then
			read -r th <"$g/ports/8090/throttled"
			us=$((t - tl))
			fixed ts $(((t - t0) / 100000)) 1
			fixed rs $(((sent - sent1) * 10000 / us)) 1
			fixed rg $(((got - got1) * 10000 / us)) 1
			printf '  %5s %12s %12s %9s %9s\n' "${ts}s" "$rs" "$rg" "$q" "$th"
			next=$((t + 1000000))
			sent1=$sent got1=$got tl=$t
		fi
		if [ "$raised" = 0 ] && [ $((t - t0)) -ge 4000000 ]; then
			raised=1
			put 800000 "$g/ports/8090/quota"
			continue # a sample right away: the plot shows when it changed
		fi
		nap 0.25
	done
	wait "$curl_pid" || failed "curl failed"
	now_us
	skex_row 8090
	fixed ts $(((NOW - t0) / 1000)) 3
	echo "$ts,$((ROW[5] - sent0)),$(stat -c %s "$dl"),$q" >>"$csv"
	printf 'curl: %s' "$(cat "$DEMO_TMP/curl.out")"
	echo
	run grep -H . 1/ports/8090/quota 1/ports/8090/throttled
	say "The rate samples (every 0.25 s) are in $csv; make demo plots them on the host."
}
# wrk_rate SECS URL: wrk's requests per second (one connection each here)
wrk_rate() {
	wrk -t1 -c8 -d"$1"s -H 'Connection: close' "$2" 2>&1 | tee "$DEMO_TMP/wrk.out" |
		awk '/Requests\/sec/ { print $2 }'
}

demo_accept_rate() {
	local g=$CFS/groups/2 q c0 c1 t0 r wrk_pid
	title "Socket groups: accept_rate holds wrk to a connection rate"
	backends
	say "wrk hammers the default backend (8080) with 8 connections, each request on a new connection. First without a limit, 3 s:"
	show_line "wrk -t1 -c8 -d3s -H 'Connection: close' http://127.0.0.1:8080/"
	r=$(wrk_rate 3 http://127.0.0.1:8080/)
	say "wrk: $r connections/s."
	say "Group 2 lets the processes behind port 8080 accept 20 connections per second: nginx's accept() gets a connection only when the quota allows (its epoll does not report the listener readable before), the clients wait in the accept queue."
	run cd "$CFS/groups"
	run mkdir 2
	put accept_rate 2/type
	run mkdir 2/ports/8080
	put 20 2/ports/8080/quota
	read -r q <"$g/ports/8080/quota"
	say "wrk again for 8 s; once it has started, /proc/net/skex once a second for port 8080:"
	show_line "wrk -t1 -c8 -d8s -H 'Connection: close' http://127.0.0.1:8080/ &"
	wrk_rate 8 http://127.0.0.1:8080/ >"$DEMO_TMP/wrk.rate" &
	wrk_pid=$!
	PIDS+=("$wrk_pid")
	wait_moving 8080 1
	c0=${ROW[1]}
	now_us
	t0=$NOW
	netmeter_watch 4 8080
	now_us
	skex_row 8080
	c1=${ROW[1]}
	wait "$wrk_pid" || failed "wrk failed"
	fixed r $(((c1 - c0) * 10000000 / (NOW - t0))) 1
	printf '  %-32s %s/s\n' "quota (configfs):" "$q" \
		"wrk, connections:" "$(cat "$DEMO_TMP/wrk.rate")" \
		"netmeter, accepted on 8080 (4 s):" "$r"
	run grep -H . 2/ports/8080/throttled
	say "The quota is a ceiling: over any T seconds at most 20*T+1 accepts. An acceptor that wakes late (a busy VM) loses that time: it shows as a rate below the quota, never above."
	grep -E 'Socket errors|Non-2xx' "$DEMO_TMP/wrk.out" | sed 's/^/  wrk: /' || true
}

# (its load goes through the content rule of demo_content, on port 80)
demo_netmeter() {
	local wrk_pid curl_pid p
	title "The netmeter, read the way a controller would"
	backends
	local limit=''
	[ ! -d "$CFS/groups/1" ] || limit=", still limited by group 1"
	say "A controller reads /proc/net/skex once a second and works with the differences. The load: wrk through the content rule on port 80 (/images/: handed to backend A, counted on 8081) and a download from 8090$limit:"
	bg_run "wrk -t1 -c4 -d60s -H 'Connection: close' http://127.0.0.1/images/x > /dev/null"
	wrk_pid=$BG_PID
	bg_run "curl -s -o /dev/null http://127.0.0.1:8090/40MB.bin"
	curl_pid=$BG_PID
	wait_moving 8081 1
	wait_moving 8090 5
	say "Both are running; 5 s of the controller's view:"
	netmeter_watch 5
	say "Stop the load:"
	for p in "$wrk_pid" "$curl_pid"; do
		! kill -0 "$p" 2>/dev/null || run kill "$p"
		wait "$p" 2>/dev/null || true # killed on purpose
	done
	say "(A connection whose request did not come within timeout_ms, such as one wrk opened but had not used yet when it was stopped, goes to the rule's default port: any 8080 line above.)"
	say "The whole table now (counters since the module was loaded):"
	run cat /proc/net/skex
}

demo_skexctl() {
	local ctl=${SKEXCTL:-$REPO/tools/skexctl/skexctl}
	title "The same state with skexctl"
	if [ ! -x "$ctl" ]; then
		say "(skipped: tools/skexctl/skexctl is not in this tree)"
		return 0
	fi
	say "skexctl, the command-line tool, reads the same configfs tree and /proc/net/skex: the rules and groups made above with mkdir and echo, with their counters:"
	run "$ctl" show
	run "$ctl" stats
}

demo_teardown() {
	title "Teardown"
	say "Groups: ports first, then the group (a deleted group releases any waiting caller). Rules: disable (connections still waiting for a decision go to the default port), then branches, then the rule, which frees its port:"
	teardown show
}

# teardown [show]: remove every group and rule made in configfs, in the
# order the kernel needs (shown with "show"; the exit trap runs it quietly
# for whatever an interrupted tour left)
teardown() {
	local r x do=(quiet)
	[ "${1:-}" != show ] || do=(run)
	for r in "$CFS"/groups/*; do
		[ -d "$r" ] || continue
		for x in "$r"/ports/*; do
			[ ! -d "$x" ] || "${do[@]}" rmdir "$x"
		done
		"${do[@]}" rmdir "$r"
	done
	for r in "$CFS"/forward/*; do
		[ -d "$r" ] || continue
		if [ "${1:-}" = show ]; then
			put 0 "$r/enable"
		else
			quiet tee "$r/enable" <<<0 >/dev/null
		fi
		for x in "$r"/branches/*; do
			[ ! -d "$x" ] || "${do[@]}" rmdir "$x"
		done
		"${do[@]}" rmdir "$r"
	done
}
quiet() { "$@" 2>/dev/null || true; }

cleanup() {
	local p d
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	teardown
	for d in "$DEMO_TMP"/*/; do
		[ ! -f "$d/nginx.pid" ] || nginx -p "$d" -c "$d/nginx.conf" -s stop 2>/dev/null || true
	done
}
trap cleanup EXIT

main() {
	local s t0 t1 d times=()
	[ $# -eq 0 ] || SECTIONS=("$@")
	now_us
	t0=$NOW
	say "skex demo on $(uname -r) ($(nproc) vCPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MB)"
	for s in "${SECTIONS[@]}"; do
		now_us
		t1=$NOW
		"demo_$s"
		now_us
		fixed d $(((NOW - t1) / 100000)) 1
		times+=("$s $d")
	done
	echo
	now_us
	fixed t0 $(((NOW - t0) / 100000)) 1
	d=$(printf '%s, ' "${times[@]}")
	say "Tour time: $t0 s (${d%, })."
	if [ "$FAILED" -eq 0 ]; then
		say "Demo complete."
	else
		say "Demo complete, $FAILED step(s) failed."
	fi
	[ "$FAILED" -eq 0 ]
}

main "$@"
