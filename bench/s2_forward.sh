#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scenario 2: what forwarding costs. nginx on a backend port, reached
# directly, through a skex forwarding rule (address and content
# classification; the connection is handed over established, no byte is
# copied after that) and through HAProxy in TCP mode (which copies every
# byte), in the same boot.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

P_BACK=48201 P_ADDR=48202 P_CONTENT=48203 P_HAP=48204
T_WRK=$(bench_secs 2 1)

bench_begin s2 "Forwarding vs direct vs HAProxy"
bench_desc "nginx (1 worker) on a backend port, reached directly, through a skex forwarding rule on another port that hands the connection, established, to nginx (address: one branch 127.0.0.0/8; content: one branch matching 'GET /' in the request), and through HAProxy (TCP mode, 1 thread), which relays every byte. Connection rate: wrk, 8 connections, Connection: close, 100-byte file, ${T_WRK} s. Bulk: wrk, 1 keep-alive connection fetching a 1 MB file, ${T_WRK} s. Variants alternate within each repetition."

bench_variant direct "wrk -> nginx"
bench_variant address "wrk -> skex address rule -> nginx"
bench_variant content "wrk -> skex content rule -> nginx"
bench_variant haproxy "wrk -> HAProxy (mode tcp) -> nginx"
bench_metric conn_rate req/s higher direct - "connection rate, one connection per request"
bench_metric bulk_mbps MB/s higher direct - "keep-alive throughput of 1 MB responses"

command -v wrk >/dev/null || bench_fail "wrk missing"
command -v nginx >/dev/null || bench_fail "nginx missing"
[ -d "$SKEX_CFS/forward" ] || bench_skip "$SKEX_CFS/forward missing (module not loaded?)"

bench_at_exit "fw_clear $P_ADDR $P_CONTENT"
fw_clear $P_ADDR $P_CONTENT
have_fw=1
if ! { fw_rule $P_ADDR address $P_BACK &&
	fw_branch $P_ADDR lo source 127.0.0.0/8 port $P_BACK &&
	fw_rule $P_CONTENT content $P_BACK &&
	fw_branch $P_CONTENT get pattern "GET /" port $P_BACK; }; then
	fw_clear $P_ADDR $P_CONTENT
	# BENCH_FORCE=1: measure the baselines all the same (to try them out)
	[ "${BENCH_FORCE:-0}" = 1 ] || bench_skip "forwarding not available: $fw_why"
	bench_vskip address "forwarding not available: $fw_why"
	bench_vskip content "forwarding not available: $fw_why"
	have_fw=0
fi

www=''
bench_tmpdir www nginx
bench_nginx "$www" $P_BACK
variants=(direct)
if [ "$have_fw" = 1 ]; then
	if ! fw_enable $P_ADDR || ! fw_enable $P_CONTENT; then
		bench_skip "forwarding not available: $fw_why"
	fi
	bench_wait_port $P_ADDR || bench_fail "no listener on the rule's port $P_ADDR"
	bench_wait_port $P_CONTENT || bench_fail "no listener on the rule's port $P_CONTENT"
	variants+=(address content)
fi

if command -v haproxy >/dev/null; then
	cat >"$www/haproxy.cfg" <<EOC
global
	maxconn 4096
	nbthread 1
	pidfile $www/haproxy.pid
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend f
	bind 127.0.0.1:$P_HAP
	default_backend b
backend b
	server s1 127.0.0.1:$P_BACK
EOC
	haproxy -db -f "$www/haproxy.cfg" >"$www/haproxy.out" 2>&1 &
	bench_track_pid $!
	bench_wait_port $P_HAP || bench_fail "haproxy not listening: $(cat "$www/haproxy.out")"
	variants+=(haproxy)
else
	bench_vskip haproxy "haproxy not installed"
fi

port_of() {
	case $1 in
	direct) echo $P_BACK ;; address) echo $P_ADDR ;;
	content) echo $P_CONTENT ;; haproxy) echo $P_HAP ;;
	esac
}

for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	n=${#variants[@]}
	for ((i = 0; i < n; i++)); do
		v=${variants[$(((i + rep - 1) % n))]}
		p=$(port_of "$v")
		r=$(bench_wrk "http://127.0.0.1:$p/small.html" "$T_WRK" 8 close) || bench_fail "wrk ($v)"
		bench_result conn_rate "$v" "$rep" "${r%% *}"
		r=$(bench_wrk "http://127.0.0.1:$p/big.bin" "$T_WRK" 1) || bench_fail "wrk bulk ($v)"
		r=${r#* }
		bench_result bulk_mbps "$v" "$rep" "${r%% *}"
	done
done
if [ "$have_fw" = 1 ]; then
	for p in $P_ADDR $P_CONTENT; do
		read -r dh dr <<<"$(fw_counters "$p")"
		bench_note "rule on $p: default_hits ${dh:-?}, dropped ${dr:-?}"
	done
fi
bench_end
