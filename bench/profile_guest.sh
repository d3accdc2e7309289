#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the VM of scripts/profile.sh: perf record -a -g (cpu-clock, which
# under the counted clock samples by instructions) around two of s1's loads,
# wrk against nginx with a connection per request (conn) and skex_bench
# calls, a 1-byte send/recv ping-pong (calls), in each state:
#   unloaded    the module not loaded
#   loaded      loaded, nothing configured (the netmeter counts)
#   configured  non-binding socket groups on the loads' ports, as s1's
#
#   bench/profile_guest.sh KO
#
# Writes to $SKEX_OUT, per LOAD-STATE: .out (the load's own output), .sym
# (samples by dso and symbol, self), .children (the same with callees).
# Environment: PROFILE_SECS (each load's seconds, default 12),
# PROFILE_STATES (default: all three, in that order).
set -u
cd "$SKEX_REPO" || exit 1
# shellcheck source=tools/testing/selftests/skex/lib.sh
source tools/testing/selftests/skex/lib.sh
KO=${1:?module}
BIN=$SKEX_REPO/build/bench/skex_bench
OUT=${SKEX_OUT:?not in the VM}
SECS=${PROFILE_SECS:-12}
P_CALLS=47103 P_NGINX=47104
GROUPS_DIR=/sys/kernel/config/skex/groups

www=$(mktemp -d)
mkdir -p "$www/www"
head -c 100 /dev/zero >"$www/www/small.html"
skex_nginx_conf "$www" "127.0.0.1:$P_NGINX" "access_log off; sendfile on;"
nginx -p "$www" -e "$www/error.log" -c "$www/nginx.conf" >/dev/null 2>&1 &
nginx_pid=$!
skex_wait_port "" "$P_NGINX" || { echo "profile: nginx did not start"; exit 1; }

group() # GID TYPE PORT QUOTA
{
	mkdir "$GROUPS_DIR/$1" && echo "$2" >"$GROUPS_DIR/$1/type" &&
		mkdir "$GROUPS_DIR/$1/ports/$3" &&
		echo "$4" >"$GROUPS_DIR/$1/ports/$3/quota"
}

unload()
{
	local g
	[ -d /sys/module/skex ] || return 0
	for g in "$GROUPS_DIR"/*; do
		[ -d "$g" ] || continue
		rmdir "$g"/ports/* && rmdir "$g"
	done
	# the demand hooks go a second after their last group
	sleep 2
	rmmod skex
}

profile() # NAME CMD...
{
	local n=$1 data=/tmp/$1.data
	shift
	perf record -q -a -g -e cpu-clock -F 2999 -o "$data" -- "$@" \
		>"$OUT/$n.out" 2>&1 || echo "profile: $n: $* failed"
	perf report -i "$data" -n --no-children --sort dso,sym --stdio -g none \
		2>/dev/null | grep -v '^#' | grep -v '^$' >"$OUT/$n.sym"
	perf report -i "$data" -n --children --sort dso,sym --stdio -g none \
		2>/dev/null | grep -v '^#' | grep -v '^$' | head -1000 >"$OUT/$n.children"
	rm -f "$data"
}

# warm up nginx and the page cache
wrk -t1 -c8 -d1s -H 'Connection: close' "http://127.0.0.1:$P_NGINX/small.html" >/dev/null
rc=0
for st in ${PROFILE_STATES:-unloaded loaded configured}; do
	unload
	case $st in
	unloaded) ;;
	loaded | configured)
		insmod "$KO" || { echo "profile: insmod $KO failed"; rc=1; break; } ;;
	*) echo "profile: unknown state $st"; rc=1; break ;;
	esac
	if [ "$st" = configured ] &&
		! { group 1 output_rate $P_NGINX 4294967295 &&
			group 2 output_rate $P_CALLS 4294967295 &&
			group 3 accept_rate $P_NGINX 65535; }; then
		echo "profile: groups refused"
		rc=1
		break
	fi
	echo "profile: $st"
	profile "conn-$st" wrk -t1 -c8 -d"${SECS}s" -H 'Connection: close' \
		"http://127.0.0.1:$P_NGINX/small.html"
	profile "calls-$st" "$BIN" calls "$SECS" $P_CALLS
done
unload
kill "$nginx_pid" 2>/dev/null
wait
exit $rc
