# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers of the benchmark scenarios (bench/s*.sh), sourced by each. A
# scenario runs as root in the VM (bench/guest.sh starts it) and writes its
# records to $BENCH_OUT/<id>.tsv, one per line, tab-separated, which
# bench/report.py turns into bench/results.md:
#
#   scenario ID TITLE             desc TEXT (a paragraph of the method)
#   layout metrics|variants       (table rows; default metrics: a column per
#                                  variant and ratios against the baseline)
#   variant NAME DESCRIPTION      vskip NAME REASON (a variant not measured)
#   metric NAME UNIT BETTER BASELINE TARGET DESCRIPTION
#          BETTER: higher|lower|none; BASELINE: a variant or -;
#          TARGET: ratio>=X (every variant against the baseline),
#                  max<=X / min>=X / abs<=X (every repetition),
#                  in=LO..HI (every median), or -; VARIANT[,VARIANT]:TARGET
#                  for some variants only; several: TARGET;TARGET
#   result METRIC VARIANT REP VALUE
#   xratio METRIC VARIANT OTHER TARGET (a further ratio, against OTHER;
#                                 TARGET: ratio>=X or -)
#   note TEXT                     skip REASON (the whole scenario)
#   summary METRIC...             the metrics of the summary line (default all)
#   plot NAME TITLE YLABEL [XLABEL [lines|points]]
#                                 series PLOT LABEL FILE (FILE: "x y" lines
#                                 next to the .tsv; x: time in s unless
#                                 XLABEL says otherwise; a LABEL beginning
#                                 with quota, set or exact is a reference,
#                                 drawn dashed)
#
# A scenario never fails on a number: it exits 0 when it measured or skipped,
# non-zero only when its own machinery broke (a tool that does not run, a
# server that does not start).
#
# Environment (from bench/guest.sh): BENCH_OUT, BENCH_SMOKE (0|1), BENCH_BIN
# (the skex_bench tool), BENCH_REPS, SKEX_MODULE (the .ko, for reloading);
# BENCH_TRACE=1: a timestamped shell trace on stderr.

# the selftests' helpers (skex_nginx_conf); bench_cleanup replaces its trap
# shellcheck source=tools/testing/selftests/skex/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/testing/selftests/skex/lib.sh"

BENCH_OUT=${BENCH_OUT:?BENCH_OUT not set: run through bench/guest.sh}
BENCH_SMOKE=${BENCH_SMOKE:-0}
BENCH_BIN=${BENCH_BIN:-skex_bench}
BENCH_REPS=${BENCH_REPS:-3}
SKEX_CFS=/sys/kernel/config/skex
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

if [ "${BENCH_TRACE:-0}" = 1 ]; then	# timestamped trace, for slow spots
	PS4='+ ${EPOCHREALTIME} '
	set -x
fi

bench_id=''
bench_tsv=''
bench_cleanups=()

bench_log() { echo "bench: ${bench_id:+$bench_id: }[${SECONDS}s] $*"; }

bench_rec()
{
	local IFS=$'\t'
	echo "$*" >>"$bench_tsv"
}

# bench_begin ID TITLE: start the scenario's record file
bench_begin()
{
	bench_id=$1
	bench_tsv=$BENCH_OUT/$1.tsv
	: >"$bench_tsv"
	bench_rec scenario "$1" "$2"
	SECONDS=0
}

bench_desc()    { bench_rec desc "$*"; }
bench_note()    { bench_rec note "$*"; bench_log "note: $*"; }
bench_layout()  { bench_rec layout "$1"; }
bench_summary() { bench_rec summary "$@"; }
# bench_xratio METRIC VARIANT OTHER TARGET: also show VARIANT / OTHER
bench_xratio()  { bench_rec xratio "$1" "$2" "$3" "$4"; }
bench_variant() { bench_rec variant "$1" "$2"; }
bench_vskip()   { bench_rec vskip "$1" "$2"; bench_log "$1: skipped: $2"; }
# bench_metric NAME UNIT BETTER BASELINE TARGET DESCRIPTION
bench_metric()  { bench_rec metric "$1" "$2" "$3" "$4" "$5" "$6"; }
# bench_result METRIC VARIANT REP VALUE (not a number: bench_fail)
bench_result()
{
	case "$4" in
	'' | *[!0-9.eE+-]*)
		bench_fail "$1/$2 rep $3: no number from the tool ('$4')"
		;;
	esac
	bench_rec result "$1" "$2" "$3" "$4"
	bench_log "$1 $2 #$3: $4"
}

# bench_skip REASON: the scenario's feature is not there; exit 0
bench_skip()
{
	bench_rec skip "$*"
	bench_log "skipped: $*"
	exit 0
}

bench_end()
{
	bench_rec end "$SECONDS"
	exit 0
}

# bench_fail MSG: the machinery broke; exit 1
bench_fail()
{
	bench_rec note "FAILED: $*"
	bench_log "FAILED: $*"
	exit 1
}

bench_tmpdir()
{
	local d
	d=$(mktemp -d "/tmp/skex-bench-${2:-x}.XXXXXX") || bench_fail "mktemp"
	chmod 755 "$d"
	skex_tmpdirs+=("$d")
	printf -v "$1" %s "$d"
}

# pids and directories go with the selftests' (skex_cleanup)
bench_track_pid() { skex_track_pid "$@"; }
bench_at_exit() { bench_cleanups+=("$*"); }

bench_cleanup()
{
	local c
	for c in "${bench_cleanups[@]}"; do
		eval "$c" >/dev/null 2>&1
	done
	skex_cleanup
}
trap bench_cleanup EXIT

# ---- durations ----

# bench_secs FULL SMOKE: a duration for the mode
bench_secs() { if [ "$BENCH_SMOKE" = 1 ]; then echo "$2"; else echo "$1"; fi; }

# ---- the module ----

bench_loaded() { grep -qw '^skex' /proc/modules; }

bench_can_reload() { [ -n "${SKEX_MODULE:-}" ] && [ -f "$SKEX_MODULE" ]; }

bench_unload()
{
	bench_loaded || return 0
	timeout 120 rmmod skex || { bench_log "rmmod skex failed"; return 1; }
}

bench_load()
{
	bench_loaded && return 0
	timeout 120 insmod "$SKEX_MODULE" || { bench_log "insmod $SKEX_MODULE failed"; return 1; }
	# configfs must be populated before a configuring step
	local i
	for ((i = 0; i < 50; i++)); do
		[ -e /proc/net/skex ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- ports and servers ----

# bench_listening PORT: a TCP listener on PORT. ss asks the kernel for
# listeners only; reading /proc/net/tcp in the shell would walk every
# TIME_WAIT socket the earlier loads left, slowly under TCG.
bench_listening()
{
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# bench_wait_port PORT [TENTHS]: wait for a listener (default 10 s)
bench_wait_port()
{
	local i
	for ((i = 0; i < ${2:-100}; i++)); do
		bench_listening "$1" && return 0
		sleep 0.1
	done
	return 1
}

# bench_nginx DIR PORT...: nginx (1 worker, sendfile) on 127.0.0.1:PORT
# serving DIR/www: small.html (100 bytes) and big.bin (1 MB). Sets nginx_pid.
bench_nginx()
{
	local dir=$1 p listen=''
	shift
	for p in "$@"; do
		listen+="127.0.0.1:$p "
	done
	mkdir -p "$dir/www"
	head -c 100 /dev/zero | tr '\0' a >"$dir/www/small.html"
	head -c $((1024 * 1024)) /dev/zero >"$dir/www/big.bin"
	chmod -R a+rX "$dir"
	SKEX_NGINX_CONNS=1024 SKEX_NGINX_LISTEN=backlog=4096 \
		skex_nginx_conf "$dir" "$listen" "access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 60;
	keepalive_requests 1000000;"
	nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/nginx.out" 2>&1 &
	nginx_pid=$!
	bench_track_pid "$nginx_pid"
	for p in "$@"; do
		bench_wait_port "$p" || bench_fail "nginx not listening on $p: $(cat "$dir/error.log" "$dir/nginx.out")"
	done
}

# bench_wrk URL SECS CONNS [close]: prints requests/s, MB/s and the number
# of requests ("R M N")
bench_wrk()
{
	local r
	r=$(bench_wrk_lat "$@") || return 1
	echo "${r% * *}"
}

# bench_wrk_lat URL SECS CONNS [close] [LUA_SCRIPT]: as bench_wrk, and the
# latency percentiles 50 and 99 in ms (wrk --latency): "R M N P50 P99"
bench_wrk_lat()
{
	local url=$1 secs=$2 conns=$3 out
	local -a hdr=()
	[ "${4:-}" = close ] && hdr=(-H 'Connection: close')
	[ -n "${5:-}" ] && hdr+=(-s "$5")
	out=$(wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s --latency "${hdr[@]}" "$url" 2>&1) ||
		{ bench_log "wrk failed: $out"; return 1; }
	awk '
		function ms(v) {
			if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
			if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
			if (v ~ /m$/) { sub(/m$/, "", v); return v * 60000 }
			sub(/s$/, "", v); return v * 1000
		}
		/requests in/ { n = $1 }
		/^Requests\/sec:/ { r = $2 }
		/^Transfer\/sec:/ {
			v = $2; m = 1e-6
			if (v ~ /GB$/) m = 1073741824 / 1e6
			else if (v ~ /MB$/) m = 1048576 / 1e6
			else if (v ~ /KB$/) m = 1024 / 1e6
			sub(/[KMG]?B$/, "", v); t = v * m
		}
		$1 == "50%" && p50 == "" { p50 = ms($2) }
		$1 == "99%" && p99 == "" { p99 = ms($2) }
		END {
			if (r == "") exit 1
			printf "%s %.3f %d %.3f %.3f\n", r, t, n, p50 == "" ? -1 : p50, p99 == "" ? -1 : p99
		}' <<<"$out" ||
		{ bench_log "wrk gave no rate: $out"; return 1; }
}

# bench_kv OUTPUT KEY: REPLY = the value of KEY=value in the tool's last
# line, empty if none (no subshell: forks cost tens of ms in the guest)
bench_kv()
{
	local last=${1##*$'\n'} kv
	REPLY=''
	for kv in $last; do
		if [ "${kv%%=*}" = "$2" ]; then
			REPLY=${kv#*=}
			return 0
		fi
	done
	return 1
}

# ---- configfs ----

# bench_cfs_write FILE VALUE: write VALUE, log why when it fails (no fork
# when it works: rules with a thousand branches are written this way)
bench_cfs_write()
{
	local err
	{ printf '%s\n' "$2" >"$1"; } 2>/dev/null && return 0
	err=$( { printf '%s\n' "$2" >"$1"; } 2>&1)
	bench_log "write '$2' > ${1#"$SKEX_CFS"/}: ${err##*: }"
	return 1
}

# ---- socket groups (SPEC: groups/<G>/ type, ports/<P>/ quota) ----

# bench_group GID TYPE PORT QUOTA...: a group of one port, with the first
# QUOTA the module accepts (an older one may cap them); sets bench_why on
# failure
bench_group()
{
	local g=$1 type=$2 port=$3 d q
	shift 3
	d=$SKEX_CFS/groups/$g
	bench_why=$(mkdir "$d" 2>&1) || { bench_why="mkdir groups/$g: ${bench_why##*: }"; return 1; }
	bench_cfs_write "$d/type" "$type" || { bench_why="type $type refused"; return 1; }
	bench_why=$(mkdir "$d/ports/$port" 2>&1) ||
		{ bench_why="mkdir groups/$g/ports/$port: ${bench_why##*: }"; return 1; }
	for q in "$@"; do
		bench_cfs_write "$d/ports/$port/quota" "$q" && return 0
	done
	bench_why="no quota among $* accepted for $type"
	return 1
}

# bench_group_clear GID...: remove these groups (and their ports) if there
bench_group_clear()
{
	local g
	for g in "$@"; do
		[ -d "$SKEX_CFS/groups/$g" ] || continue
		rmdir "$SKEX_CFS/groups/$g/ports/"* 2>/dev/null
		rmdir "$SKEX_CFS/groups/$g" 2>/dev/null
	done
	return 0
}

# ---- forwarding rules (SPEC: forward/<P>/ type default_port enable,
# ---- branches/<name>/ port source pattern chance) ----

# fw_rule PORT TYPE DEFAULT_PORT: a disabled rule; sets fw_why on failure
fw_rule()
{
	local d=$SKEX_CFS/forward/$1
	[ -d "$SKEX_CFS/forward" ] || { fw_why="$SKEX_CFS/forward missing"; return 1; }
	fw_why=$(mkdir "$d" 2>&1) || { fw_why="mkdir forward/$1: ${fw_why##*: }"; return 1; }
	bench_cfs_write "$d/type" "$2" || { fw_why="forward/$1/type $2 refused"; return 1; }
	bench_cfs_write "$d/default_port" "$3" || { fw_why="forward/$1/default_port $3 refused"; return 1; }
}

# fw_branch PORT NAME ATTR VALUE [ATTR VALUE]...
fw_branch()
{
	local d=$SKEX_CFS/forward/$1/branches/$2
	shift 2
	fw_why=$(mkdir "$d" 2>&1) || { fw_why="mkdir ${d#"$SKEX_CFS"/}: ${fw_why##*: }"; return 1; }
	fw_attrs "$d" "$@"
}

# fw_attrs DIR ATTR VALUE [ATTR VALUE]...: write a made branch's attributes
fw_attrs()
{
	local d=$1
	shift
	while [ $# -ge 2 ]; do
		bench_cfs_write "$d/$1" "$2" || { fw_why="${d#"$SKEX_CFS"/}/$1 '$2' refused"; return 1; }
		shift 2
	done
}

fw_enable()
{
	bench_cfs_write "$SKEX_CFS/forward/$1/enable" 1 || { fw_why="forward/$1/enable refused"; return 1; }
}

# fw_clear PORT...: disable and remove the rules (no error if absent)
fw_clear()
{
	local p d
	for p in "$@"; do
		d=$SKEX_CFS/forward/$p
		[ -d "$d" ] || continue
		echo 0 >"$d/enable" 2>/dev/null
		find "$d/branches" -mindepth 1 -maxdepth 1 -type d -exec rmdir {} + 2>/dev/null
		rmdir "$d" 2>/dev/null
	done
	return 0
}

# fw_counters PORT: "default_hits dropped" of a rule
fw_counters()
{
	local d=$SKEX_CFS/forward/$1
	echo "$(cat "$d/default_hits" 2>/dev/null) $(cat "$d/dropped" 2>/dev/null)"
}
