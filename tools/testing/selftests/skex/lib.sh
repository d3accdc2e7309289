# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared helpers of the skex shell selftests; source it from bash.
#
# A test script is one KTAP test of run_all.sh: it prints its steps as plain
# lines ("ok: ...", "FAIL: ...", which the runner turns into "# " comments)
# and exits KSFT_PASS, KSFT_FAIL or KSFT_SKIP. Failure does not stop a
# script by itself: skex_fail records it and the script goes on, unless the
# step is a precondition (skex_die).

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

SKEX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SKEX_REPO=$(cd "$SKEX_DIR/../../../.." && pwd)
SKEX_BIN_DIR=${SKEX_BIN_DIR:-$SKEX_REPO/build/selftests}
SKEX_STAT=$SKEX_BIN_DIR/skex_stat
SKEX_NET=$SKEX_BIN_DIR/skex_net
SKEX_TOOL=$SKEX_DIR/skex_tool.py
SKEX_PROC=/proc/net/skex
SKEX_HEADER="port conns waiting delay_us bytes_in bytes_out"
# the distribution's interpreter, not whatever a PATH shim points to
if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi

# scripts/vm.sh names the loaded module SKEX_MODULE
SKEX_KO=${SKEX_KO:-${SKEX_MODULE:-}}

skex_ret=$KSFT_PASS
if [ -n "${SKEX_TRACE:-}" ]; then	# timestamped trace, for slow spots
	PS4='+ ${EPOCHREALTIME} '
	set -x
fi
skex_pids=()
skex_netns=()
skex_tmpdirs=()

skex_log()  { echo "$*"; }
skex_pass() { echo "ok: $*"; }
skex_fail() { echo "FAIL: $*"; skex_ret=$KSFT_FAIL; }
skex_die()  { echo "FAIL: $*"; skex_ret=$KSFT_FAIL; exit $KSFT_FAIL; }
skex_skip() { echo "SKIP: $*"; exit $KSFT_SKIP; }
skex_exit() { exit "$skex_ret"; }

skex_required() { [ -n "${SKEX_REQUIRE:-}" ] && [ "${SKEX_REQUIRE}" != 0 ]; }

# The module's interfaces must be there; skip without them unless required.
skex_need_module()
{
	[ -e "$SKEX_PROC" ] && return 0
	skex_required && skex_die "$SKEX_PROC missing (SKEX_REQUIRE is set)"
	skex_skip "$SKEX_PROC missing: skex not loaded"
}

# skex_need_cfs: skex's configfs tree is there; sets CFS to its root
skex_need_cfs()
{
	CFS=/sys/kernel/config/skex
	[ -d "$CFS/forward" ] || skex_die "$CFS missing (configfs not mounted?)"
}

# Tests that unload and reload the module need SKEX_KO.
skex_need_ko()
{
	if [ -z "${SKEX_KO:-}" ] || [ ! -f "$SKEX_KO" ]; then
		skex_required && skex_die "SKEX_KO='${SKEX_KO:-}' is not a module file"
		skex_skip "SKEX_KO not set: cannot reload the module"
	fi
	grep -qw '^skex' /proc/modules ||
		skex_die "module skex is not loaded at start"
}

skex_need_cmd()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		skex_required && skex_die "command $c missing"
		skex_skip "command $c missing"
	done
}

# skex_need_bin [BIN...]: the helper programs BIN (default: skex_stat and
# skex_net) are built
skex_need_bin()
{
	local b
	[ $# -gt 0 ] || set -- "$SKEX_STAT" "$SKEX_NET"
	for b in "$@"; do
		[ -x "$b" ] ||
			skex_die "$b missing: build with make -C tools/testing/selftests/skex"
	done
}

# ---- module load/unload (bounded, so a hang fails instead of blocking) ----

skex_unload()
{
	local out
	out=$(timeout 120 rmmod skex 2>&1) || { echo "rmmod skex: rc $? $out"; return 1; }
	[ ! -e "$SKEX_PROC" ] || { echo "$SKEX_PROC still present after rmmod"; return 1; }
}

skex_load()
{
	local out
	# shellcheck disable=SC2086
	out=$(timeout 120 insmod "$SKEX_KO" ${SKEX_KO_ARGS:-} 2>&1) ||
		{ echo "insmod $SKEX_KO: rc $? $out"; return 1; }
	[ -e "$SKEX_PROC" ] || { echo "$SKEX_PROC missing after insmod"; return 1; }
}

# ---- socket groups (configfs) ----

# skex_group_port GID TYPE PORT: configfs group GID of TYPE with PORT; its
# directories are remembered for skex_group_rmdirs
skex_gdirs=()
skex_group_port()
{
	local d=/sys/kernel/config/skex/groups/$1
	mkdir "$d" && skex_gdirs+=("$d") && echo "$2" >"$d/type" &&
		mkdir "$d/ports/$3" && skex_gdirs+=("$d/ports/$3")
}

# skex_group_rmdirs: rmdir them, the newest first; prints those that failed
skex_group_rmdirs()
{
	local i
	for ((i = ${#skex_gdirs[@]} - 1; i >= 0; i--)); do
		rmdir "${skex_gdirs[i]}" || echo "${skex_gdirs[i]}"
	done
}

# ---- ftrace ----

# skex_tracefs: the tracefs mount (with kprobe_events and
# enabled_functions), or nothing
skex_tracefs()
{
	local d
	for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
		[ -r "$d/kprobe_events" ] && [ -r "$d/enabled_functions" ] &&
			echo "$d" && return 0
	done
	return 1
}

# skex_output_rate WHAT PORT QUOTA RATE TOL: a transfer WHAT that came in
# at RATE B/s (the client's count), sent on output group port PORT of QUOTA
# B/s after "output_trace start PORT". In the quota's own clock (trace event
# skex:skex_output, output_trace check) the bucket must keep its bound and
# lose tokens only when full, and RATE must be at most TOL% over QUOTA.
# On the production kernels RATE must also be at least TOL% under QUOTA.
# On a debug kernel (SKEX_TIMEOUT_SCALE > 1) the server's sends take 30 to
# 40 times the CPU on one vCPU others share: it is away for 200 to 400 ms at
# times, and the client as long, so the client's count moves with where
# its ends fall. There the bucket itself, from its first decision to its
# last, must have given out at least TOL% under the quota of the time the
# server was there to take it (what it lost while the server was away or
# late left out; group_output.c, check_quota()), and the server must have
# been there half the time.
skex_output_rate()
{
	local what=$1 port=$2 quota=$3 rate=$4 tol=$5 trace gave present

	if trace=$("$SKEX_BIN_DIR/output_trace" check "$port" "$quota"); then
		skex_pass "$what: in the quota's own clock: $trace"
	else
		skex_fail "$what: in the quota's own clock: $trace (why: above)"
	fi
	skex_check_cmp "$what: B/s, at most $tol% over the quota" "$rate" "<=" \
		"$(awk -v q="$quota" -v t="$tol" 'BEGIN { print q * (1 + t / 100) }')"
	if [ "${SKEX_TIMEOUT_SCALE:-1}" -le 1 ]; then
		skex_check_cmp "$what: B/s, at most $tol% under the quota" \
			"$rate" ">=" \
			"$(awk -v q="$quota" -v t="$tol" 'BEGIN { print q * (1 - t / 100) }')"
		return
	fi
	# "gave G span S ... lost_away A lost_full F"
	read -r gave present <<<"$(awk -v q="$quota" '{
		for (i = 1; i < NF; i++)
			v[$i] = $(i + 1)
		if (v["span"] > 0)
			printf "%.0f %.0f\n", v["gave"] / v["span"],
				q - (v["lost_away"] + v["lost_full"]) / v["span"]
	}' <<<"$trace")"
	if [ -z "$present" ]; then
		skex_fail "$what: no span of decisions to measure in ($trace)"
		return
	fi
	skex_log "$what: the quota of the time the server was there: $present B/s;" \
		"the bucket gave out $gave B/s, the client counted $rate B/s"
	skex_check_cmp "$what: the quota of the time the server was there, at least half the quota" \
		"$present" ">=" $((quota / 2))
	skex_check_cmp "$what: the bucket's B/s, at most $tol% under that" \
		"$gave" ">=" \
		"$(awk -v p="$present" -v t="$tol" 'BEGIN { print p * (1 - t / 100) }')"
}

# The kernel functions skex hooks only while a group needs them (the rest
# are hooked while the module is loaded); their wrappers are skex_F.
SKEX_DEMAND_HOOKS="inet_csk_accept tcp_sendmsg tcp_recvmsg tcp_poll"

# skex_hooked TRACEFS F: kernel function F has an ftrace hook
skex_hooked()
{
	awk -v f="$2" '$1 == f { x = 1 } END { exit !x }' "$1/enabled_functions"
}

# skex_hooks_within TRACEFS TENTHS "F..." "G...": every F hooked and no G,
# waiting up to TENTHS x 0.1 s for it (the demand hooks follow the groups
# from a work item)
skex_hooks_within()
{
	local i f ok
	for ((i = 0; i <= $2; i++)); do
		ok=1
		for f in $3; do skex_hooked "$1" "$f" || ok=0; done
		for f in $4; do ! skex_hooked "$1" "$f" || ok=0; done
		[ "$ok" = 1 ] && return 0
		[ "$i" -lt "$2" ] && sleep 0.1
	done
	return 1
}

# skex_kprobe TRACEFS EVENT FUNCTION: an enabled kprobe event EVENT at the
# entry of the module's FUNCTION; skex_kprobes_del removes it
skex_kprobes=()
skex_kprobe()
{
	echo "p:$2 skex:$3" >>"$1/kprobe_events" || return
	skex_kprobes+=("$2")
	echo 1 >"$1/events/kprobes/$2/enable"
}

# skex_kprobes_del TRACEFS: remove the events skex_kprobe made
skex_kprobes_del()
{
	local k
	for k in "${skex_kprobes[@]}"; do
		echo 0 >"$1/events/kprobes/$k/enable"
		echo "-:$k" >>"$1/kprobe_events"
	done
	skex_kprobes=()
}

# ---- cleanup ----

skex_track_pid() { skex_pids+=("$@"); }

# skex_tmpdir VAR [NAME]: a directory under /tmp, removed at exit
skex_tmpdir()
{
	local d
	d=$(mktemp -d "/tmp/skex-${2:-test}.$$.XXXXXX") || skex_die "mktemp"
	skex_tmpdirs+=("$d")
	printf -v "$1" %s "$d"
}

skex_cleanup()
{
	local p n d
	for p in "${skex_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${skex_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	for n in "${skex_netns[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	for d in "${skex_tmpdirs[@]}"; do
		rm -rf "$d"
	done
}
trap skex_cleanup EXIT

# ---- network namespaces ----

# skex_ns_add VAR BASE: creates netns BASE-$$ with lo up, deleted at exit
skex_ns_add()
{
	local n=$2-$$
	ip netns add "$n" || skex_die "ip netns add $n"
	skex_netns+=("$n")
	ip -n "$n" link set lo up || skex_die "lo up in $n"
	printf -v "$1" %s "$n"
}

# skex_in_ns NS CMD...: runs CMD in NS, or here when NS is empty
skex_in_ns()
{
	local ns=$1
	shift
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$@"
	else
		"$@"
	fi
}

# ---- ports ----

# skex_port_listening NS PORT: a TCP listener (IPv4 or IPv6) on PORT
skex_port_listening()
{
	local hex
	hex=$(printf ':%04X' "$2")
	skex_in_ns "$1" cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v h="$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 }
				 END { exit !f }'
}

# skex_listen_count NS PORT: number of TCP listening sockets on PORT
skex_listen_count()
{
	local hex
	hex=$(printf ':%04X' "$2")
	skex_in_ns "$1" cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v h="$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { n++ }
				 END { print n + 0 }'
}

# skex_wait_port NS PORT [TIMEOUT_S]: poll /proc/net/tcp* until listening
skex_wait_port()
{
	local i n=$(( ${3:-30} * 10 ))
	for ((i = 0; i < n; i++)); do
		skex_port_listening "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}

# skex_wait_line FILE REGEX [TIMEOUT_S]: first line of FILE matching REGEX
skex_wait_line()
{
	local i n=$(( ${3:-30} * 10 ))
	for ((i = 0; i < n; i++)); do
		if grep -m1 -E "$2" "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# skex_start_server VAR NS OUTFILE CMD...: runs CMD in NS (empty: here) in
# the background, killed at exit; waits for its "port N" line, sets VAR to N
# and skex_last_pid to its pid
skex_start_server()
{
	local var=$1 ns=$2 out=$3 line
	local -a cmd=()
	shift 3
	[ -n "$ns" ] && cmd=(ip netns exec "$ns")
	"${cmd[@]}" "$@" >"$out" 2>&1 &
	skex_last_pid=$!
	skex_track_pid "$skex_last_pid"
	line=$(skex_wait_line "$out" '^port [0-9]+$' 60) ||
		skex_die "server $* did not start: $(cat "$out")"
	printf -v "$var" %s "${line#port }"
}

# ---- nginx ----

# skex_nginx_conf DIR LISTEN [HTTP [SERVER]]: DIR/nginx.conf of an nginx
# (one worker, in the foreground) with prefix DIR and root DIR/www,
# listening on each address of LISTEN ("127.0.0.1:P [::1]:P"); HTTP and
# SERVER are more directives of its http and server blocks. Environment:
# SKEX_NGINX_CONNS, its worker_connections (64); SKEX_NGINX_LISTEN, more
# parameters of every listen ("backlog=4096"). bench/lib.sh uses it too.
skex_nginx_conf()
{
	local dir=$1 listen=$2 http=${3:-} server=${4:-} l
	mkdir -p "$dir/temp"
	{
		cat <<EOC
user root;
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections ${SKEX_NGINX_CONNS:-64}; use epoll; }
http {
	default_type application/octet-stream;
	client_body_temp_path $dir/temp/body;
	proxy_temp_path $dir/temp/proxy;
	fastcgi_temp_path $dir/temp/fastcgi;
	uwsgi_temp_path $dir/temp/uwsgi;
	scgi_temp_path $dir/temp/scgi;
	$http
	server {
		root $dir/www;
		$server
EOC
		for l in $listen; do
			printf '\t\tlisten %s%s;\n' "$l" \
				"${SKEX_NGINX_LISTEN:+ $SKEX_NGINX_LISTEN}"
		done
		printf '\t}\n}\n'
	} >"$dir/nginx.conf"
}

# skex_nginx DIR LISTEN [HTTP [SERVER]]: the nginx of skex_nginx_conf,
# killed at exit. Waits until the first address listens; sets
# skex_last_pid to the master's pid.
skex_nginx()
{
	local dir=$1 listen=$2 port
	skex_nginx_conf "$@"
	nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/nginx.out" 2>&1 &
	skex_last_pid=$!
	skex_track_pid "$skex_last_pid"
	port=${listen%% *}
	port=${port##*:}
	skex_wait_port "" "$port" 60 ||
		skex_die "nginx in $dir not listening on $port: $(cat "$dir/error.log" "$dir/nginx.out")"
}

skex_tool() { "$PYTHON" "$SKEX_TOOL" "$@"; }
SKEXCTL=$SKEX_REPO/tools/skexctl/skexctl
# -S: no site (a .pth can cost a second in TCG); skexctl needs the stdlib only
skexctl() { "$PYTHON" -SE "$SKEXCTL" "$@"; }
skex_net() { "$SKEX_NET" "$@"; }
# skex_freeports N: N free TCP ports (skex_net freeport) in the array P
skex_freeports()
{
	mapfile -t P < <(skex_net freeport -n "$1") || skex_die "freeport"
	[ "${#P[@]}" = "$1" ] || skex_die "freeport gave ${#P[*]} ports"
	skex_log "ports ${P[*]}"
}

# ---- /proc/net/skex ----

# skex_line NS PORT: the port's line of /proc/net/skex in NS, or nothing
skex_line()
{
	skex_in_ns "$1" cat "$SKEX_PROC" 2>/dev/null |
		awk -v p="$2" 'NR > 1 && $1 == p { print; n++ } END { exit n != 1 }'
}

# skex_col NS PORT COLUMN: one column (by header name) of the port's line
skex_col()
{
	local line name i=0
	local -a v
	line=$(skex_line "$1" "$2") || return 1
	read -r -a v <<<"$line"
	for name in $SKEX_HEADER; do
		[ "$name" = "$3" ] && { echo "${v[$i]}"; return 0; }
		i=$((i + 1))
	done
	return 1
}

# skex_stat NS PORT: "conn=.. waiting=.. accept_delay=.. bin=.. bout=.. ref_count=.."
skex_stat() { skex_in_ns "$1" "$SKEX_STAT" "$2"; }

# skex_stat_field "STAT OUTPUT" FIELD (no subprocess: forks are slow in TCG)
skex_stat_field()
{
	local kv
	for kv in $1; do
		[ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return 0; }
	done
	return 1
}

# ---- checks ----

# skex_check_eq WHAT EXPECTED GOT
skex_check_eq()
{
	if [ "$2" = "$3" ]; then
		skex_pass "$1 = $3"
	else
		skex_fail "$1: expected '$2', got '$3'"
	fi
}

# skex_check_cmp WHAT GOT OP BOUND: numbers (decimals too), OP one of
# < <= >= >
skex_check_cmp()
{
	if awk -v g="$2" -v op="$3" -v b="$4" 'BEGIN {
		if (op == "<") ok = g < b
		else if (op == "<=") ok = g <= b
		else if (op == ">=") ok = g >= b
		else if (op == ">") ok = g > b
		exit !ok
	}'; then
		skex_pass "$1: $2 $3 $4"
	else
		skex_fail "$1: $2 is not $3 $4"
	fi
}

# skex_check_counters NS PORT CONNS WAITING BYTES_IN BYTES_OUT: the port's
# line and TCP_SKEX_STAT both show exactly these (delay_us is not checked,
# but accept_delay must be delay_us / 10000)
skex_check_counters()
{
	local ns=$1 port=$2 want="conns=$3 waiting=$4 bytes_in=$5 bytes_out=$6"
	local where="port $2${1:+ in $1}" line st got c w delay bi bo kv
	local -A stat=()
	line=$(skex_line "$ns" "$port") ||
		{ skex_fail "$where: no (single) line in $SKEX_PROC"; return; }
	read -r _ c w delay bi bo _ <<<"$line"
	got="conns=$c waiting=$w bytes_in=$bi bytes_out=$bo"
	skex_check_eq "$where $SKEX_PROC" "$want" "$got"
	st=$(skex_stat "$ns" "$port")
	for kv in $st; do
		stat[${kv%%=*}]=${kv#*=}
	done
	got="conns=${stat[conn]:-} waiting=${stat[waiting]:-} bytes_in=${stat[bin]:-}"
	got+=" bytes_out=${stat[bout]:-} accept_delay=${stat[accept_delay]:-}"
	case $st in conn=*) ;; *) got=$st ;; esac
	case $delay in ''|*[!0-9]*) delay=-10000 ;; esac
	skex_check_eq "$where TCP_SKEX_STAT" \
		"$want accept_delay=$((delay / 10000))" "$got"
}
