#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scenario 2: what forwarding costs. nginx on a backend port, reached
# directly, through a skex forwarding rule (address and content
# classification; the connection is handed over established, no byte is
# copied after that) and through HAProxy, which copies every byte: plain
# TCP mode, HTTP mode with a path ACL, and TCP mode inspecting the payload
# (the content rule's equivalent), in the same boot. Three request mixes:
# all match the content rule's branch (GET /images/...), none does (the
# default port), half and half.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

P_BACK=48201 P_ADDR=48202 P_CONTENT=48203 P_HAP=48204 P_HAPHTTP=48205 P_HAPINSP=48206
T_WRK=$(bench_secs 1 1)

bench_begin s2 "Forwarding vs direct vs HAProxy"
bench_desc "nginx (1 worker) on a backend port, reached directly, through a skex forwarding rule on another port that hands the connection, established, to nginx (address: one branch 127.0.0.0/8; content: one branch 'GET /images' and the default port, both nginx, made in configfs with the default until, the end of the headers), and through HAProxy (1 thread), which relays every byte: mode tcp without rules; mode http with a path ACL (acl img path_beg /images, use_backend, else the default backend: both nginx); mode tcp with tcp-request inspect-delay and a payload match (req.payload(0,11) -m str 'GET /images' picks the backend, like the content rule). Three request mixes for direct, content, hap_http and hap_inspect: every request for /images/small.html (matches the branch: the variant's plain name), every request for /small.html (no branch: the default port, *_def), and the two alternating (wrk script, *_mix). Connection rate and latency: wrk --latency, 8 connections, Connection: close (one connection per request), 100-byte file, ${T_WRK} s; p50/p99 are wrk's per-request latency percentiles. Bulk: wrk, 1 keep-alive connection fetching a 1 MB file, ${T_WRK} s (HAProxy: mode tcp only; smoke runs: the content rule only). Variants alternate within each repetition, in a rotating order. Targets (issue 13): for each mix, the content rule ≥ 0.95 × direct and ≥ 2 × HAProxy (http and inspecting tcp) in connections/s; forwarded connections ≥ 0.97 × direct in bulk."

bench_variant direct "wrk -> nginx"
bench_variant address "wrk -> skex address rule -> nginx"
bench_variant content "wrk -> skex content rule -> nginx"
bench_variant haproxy "wrk -> HAProxy (mode tcp, no rule) -> nginx"
bench_variant hap_http "wrk -> HAProxy (mode http, path_beg ACL) -> nginx"
bench_variant hap_inspect "wrk -> HAProxy (mode tcp, inspect-delay + req.payload match) -> nginx"
for m in def mix; do
	what="no request matches: the default port"
	[ $m = mix ] && what="half the requests match"
	bench_variant direct_$m "wrk -> nginx ($what)"
	bench_variant content_$m "wrk -> skex content rule -> nginx ($what)"
	bench_variant hap_http_$m "wrk -> HAProxy (mode http) -> nginx ($what)"
	bench_variant hap_inspect_$m "wrk -> HAProxy (mode tcp, inspect) -> nginx ($what)"
done
bench_metric conn_rate conn/s higher direct "content:ratio>=0.95" "connection rate, one connection per request"
bench_metric lat_p50 ms lower direct - "median request latency during the connection-rate run"
bench_metric lat_p99 ms lower direct - "99th percentile request latency during the connection-rate run"
bench_metric bulk_mbps MB/s higher direct "address,content:ratio>=0.97" "keep-alive throughput of 1 MB responses"
bench_xratio conn_rate content hap_http "ratio>=2"
bench_xratio conn_rate content hap_inspect "ratio>=2"
bench_xratio conn_rate content haproxy -
for m in def mix; do
	bench_xratio conn_rate content_$m direct_$m "ratio>=0.95"
	bench_xratio conn_rate content_$m hap_http_$m "ratio>=2"
	bench_xratio conn_rate content_$m hap_inspect_$m "ratio>=2"
done
bench_summary conn_rate lat_p99 bulk_mbps

command -v wrk >/dev/null || bench_fail "wrk missing"
command -v nginx >/dev/null || bench_fail "nginx missing"
[ -d "$SKEX_CFS/forward" ] || bench_skip "$SKEX_CFS/forward missing (module not loaded?)"

bench_at_exit "fw_clear $P_ADDR $P_CONTENT"
fw_clear $P_ADDR $P_CONTENT
have_fw=1
if ! { fw_rule $P_ADDR address $P_BACK &&
	fw_branch $P_ADDR lo source 127.0.0.0/8 port $P_BACK &&
	fw_rule $P_CONTENT content $P_BACK &&
	fw_branch $P_CONTENT images pattern "GET /images" port $P_BACK; }; then
	fw_clear $P_ADDR $P_CONTENT
	# BENCH_FORCE=1: measure the baselines all the same (to try them out)
	[ "${BENCH_FORCE:-0}" = 1 ] || bench_skip "forwarding not available: $fw_why"
	bench_vskip address "forwarding not available: $fw_why"
	for v in content content_def content_mix; do
		bench_vskip $v "forwarding not available: $fw_why"
	done
	have_fw=0
fi

www=''
bench_tmpdir www nginx
bench_nginx "$www" $P_BACK
mkdir -p "$www/www/images"
cp "$www/www/small.html" "$www/www/big.bin" "$www/www/images/"
chmod -R a+rX "$www/www"
# the half-and-half mix: /images/small.html and /small.html in turn
cat >"$www/mix.lua" <<'EOL'
local n = 0
request = function()
	n = n + 1
	if n % 2 == 0 then
		return wrk.format("GET", "/images/small.html")
	end
	return wrk.format("GET", "/small.html")
end
EOL
variants=(direct direct_def direct_mix)
if [ "$have_fw" = 1 ]; then
	if ! fw_enable $P_ADDR || ! fw_enable $P_CONTENT; then
		bench_skip "forwarding not available: $fw_why"
	fi
	bench_wait_port $P_ADDR || bench_fail "no listener on the rule's port $P_ADDR"
	bench_wait_port $P_CONTENT || bench_fail "no listener on the rule's port $P_CONTENT"
	variants+=(address content content_def content_mix)
fi

if command -v haproxy >/dev/null; then
	cat >"$www/haproxy.cfg" <<EOC
global
	maxconn 4096
	nbthread 1
	pidfile $www/haproxy.pid
defaults
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend f
	mode tcp
	bind 127.0.0.1:$P_HAP
	default_backend b
frontend fhttp
	mode http
	bind 127.0.0.1:$P_HAPHTTP
	acl img path_beg /images
	use_backend bhttp_img if img
	default_backend bhttp
frontend finsp
	mode tcp
	bind 127.0.0.1:$P_HAPINSP
	tcp-request inspect-delay 1s
	tcp-request content accept if { req.len gt 0 }
	use_backend b if { req.payload(0,11) -m str "GET /images" }
	default_backend b2
backend b
	mode tcp
	server s1 127.0.0.1:$P_BACK
backend b2
	mode tcp
	server s1 127.0.0.1:$P_BACK
backend bhttp
	mode http
	server s1 127.0.0.1:$P_BACK
backend bhttp_img
	mode http
	server s1 127.0.0.1:$P_BACK
EOC
	haproxy -db -f "$www/haproxy.cfg" >"$www/haproxy.out" 2>&1 &
	bench_track_pid $!
	for p in $P_HAP $P_HAPHTTP $P_HAPINSP; do
		bench_wait_port $p || bench_fail "haproxy not listening on $p: $(cat "$www/haproxy.out")"
	done
	variants+=(haproxy hap_http hap_inspect hap_http_def hap_http_mix
		   hap_inspect_def hap_inspect_mix)
else
	for v in haproxy hap_http hap_inspect hap_http_def hap_http_mix \
		 hap_inspect_def hap_inspect_mix; do
		bench_vskip $v "haproxy not installed"
	done
fi

port_of() {
	case ${1%_def} in
	direct | direct_mix) echo $P_BACK ;; address) echo $P_ADDR ;;
	content | content_mix) echo $P_CONTENT ;; haproxy) echo $P_HAP ;;
	hap_http | hap_http_mix) echo $P_HAPHTTP ;;
	hap_inspect | hap_inspect_mix) echo $P_HAPINSP ;;
	esac
}

for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	n=${#variants[@]}
	for ((i = 0; i < n; i++)); do
		v=${variants[$(((i + rep - 1) % n))]}
		p=$(port_of "$v")
		case $v in
		*_def) url=/small.html script='' ;;
		*_mix) url=/small.html script=$www/mix.lua ;;
		*) url=/images/small.html script='' ;;
		esac
		r=$(bench_wrk_lat "http://127.0.0.1:$p$url" "$T_WRK" 8 close "$script") || bench_fail "wrk ($v)"
		read -r cr _ _ p50 p99 <<<"$r"
		bench_result conn_rate "$v" "$rep" "$cr"
		bench_result lat_p50 "$v" "$rep" "$p50"
		bench_result lat_p99 "$v" "$rep" "$p99"
		# bulk: one HAProxy mode is enough (they all relay the same way)
		case $v in hap_* | *_def | *_mix) continue ;; esac
		[ "$BENCH_SMOKE" = 1 ] && [ "$v" != content ] && continue
		r=$(bench_wrk "http://127.0.0.1:$p/images/big.bin" "$T_WRK" 1) || bench_fail "wrk bulk ($v)"
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
