#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The narrated skex tour, run inside the demo VM (scripts/demo.sh) with the
# module loaded. Each part is a function demo_<name> listed in SECTIONS; add a
# part by writing a function and listing it. Helpers:
#   say TEXT...    narrate
#   run CMD...     show "$ CMD" and run it (a failure is reported and counted,
#                  the tour goes on)
#   wait_port PORT wait until something listens on 127.0.0.1:PORT
# Everything runs as root in the VM; /tmp is private to the VM.
# Usage: demo-guest.sh [SECTION...]   (default: all)
set -euo pipefail

SECTIONS=(module configfs proc nginx)

DEMO_TMP=$(mktemp -d /tmp/skex-demo.XXXXXX)
chmod 755 "$DEMO_TMP" # servers drop privileges (nginx workers: www-data)
FAILED=0
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	if [ -f "$DEMO_TMP/nginx/nginx.pid" ]; then
		nginx -c "$DEMO_TMP/nginx/nginx.conf" -s stop 2>/dev/null || true
	fi
}
trap cleanup EXIT

bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
[ "${NO_COLOR:-}" = "" ] || bold='' dim='' off=''

title() { printf '\n%s==== %s ====%s\n' "$bold" "$*" "$off"; }
say() { printf '%s\n' "$*" | fold -s -w 78; }
run() {
	printf '%s$ %s%s\n' "$dim" "$*" "$off"
	if ! "$@"; then
		echo "  (that failed with exit $?)"
		FAILED=$((FAILED + 1))
	fi
}
# Shell snippets (pipes, redirections) are shown and run with bash -c.
run_sh() {
	printf '%s$ %s%s\n' "$dim" "$1" "$off"
	if ! bash -c "$1"; then
		echo "  (that failed)"
		FAILED=$((FAILED + 1))
	fi
}
wait_port() {
	local _
	for _ in $(seq 100); do
		if grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "  nothing listens on port $1"
	return 1
}

demo_module() {
	title "The module"
	say "skex is a loadable module for Debian's stock $(uname -r) kernel: no patch, no rebuild. It is loaded now:"
	run_sh "lsmod | grep -w skex"
	run_sh "modinfo -F description ${SKEX_MODULE:-skex} 2>/dev/null || true"
}

demo_configfs() {
	title "Configuration: configfs"
	say "Forwarding rules and socket groups are directories and files under /sys/kernel/config/skex, made with mkdir and echo:"
	run ls -R /sys/kernel/config/skex
}

demo_proc() {
	title "Netmeter: /proc/net/skex"
	say "One line per listening TCP port: connections accepted, waiting, accept delay, bytes in and out."
	run cat /proc/net/skex
}

demo_nginx() {
	title "A real server: nginx"
	local d=$DEMO_TMP/nginx port=8080
	mkdir -p "$d/html"
	echo "hello from nginx on $(uname -r)" >"$d/html/index.html"
	head -c 100000 /dev/urandom >"$d/html/big.bin"
	cat >"$d/nginx.conf" <<NGINX
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server { listen 127.0.0.1:$port; root $d/html; }
}
NGINX
	say "nginx listening on 127.0.0.1:$port (config in $d/nginx.conf):"
	run nginx -c "$d/nginx.conf"
	wait_port $port || { FAILED=$((FAILED + 1)); return 0; }
	say "A few requests with curl:"
	for _ in 1 2 3; do
		run curl -fsS "http://127.0.0.1:$port/"
	done
	run_sh "curl -fsS -o /dev/null -w '%{size_download} bytes in %{time_total} s\n' http://127.0.0.1:$port/big.bin"
	say "The netmeter counted them on port $port:"
	run cat /proc/net/skex
	run nginx -c "$d/nginx.conf" -s stop
}

main() {
	local s
	[ $# -eq 0 ] || SECTIONS=("$@")
	say "skex demo on $(uname -r) ($(nproc) vCPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MB)"
	for s in "${SECTIONS[@]}"; do
		"demo_$s"
	done
	echo
	if [ "$FAILED" -eq 0 ]; then
		say "Demo complete."
	else
		say "Demo complete, $FAILED step(s) failed."
	fi
	[ "$FAILED" -eq 0 ]
}

main "$@"
