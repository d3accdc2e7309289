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
KO=${1:?module}
OUT=${SKEX_OUT:?not in the VM}
# s1's helpers: its server, its groups; bench_load loads SKEX_MODULE
BENCH_OUT=$OUT BENCH_BIN=$SKEX_REPO/build/bench/skex_bench SKEX_MODULE=$KO
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_begin profile "perf profiles of s1's loads"
SECS=${PROFILE_SECS:-12}
P_CALLS=47103 P_NGINX=47104
GIDS=(47101 47102 47103)
www=''
bench_tmpdir www profile
bench_nginx "$www" $P_NGINX

unload()
{
	bench_loaded || return 0
	bench_group_clear "${GIDS[@]}"
	# the demand hooks go a second after their last group
	sleep 2
	bench_unload
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
		bench_load || { rc=1; break; } ;;
	*) echo "profile: unknown state $st"; rc=1; break ;;
	esac
	if [ "$st" = configured ] &&
		! { bench_group "${GIDS[0]}" output_rate $P_NGINX 4294967295 &&
			bench_group "${GIDS[1]}" output_rate $P_CALLS 4294967295 &&
			bench_group "${GIDS[2]}" accept_rate $P_NGINX 65535; }; then
		echo "profile: groups refused: $bench_why"
		rc=1
		break
	fi
	echo "profile: $st"
	profile "conn-$st" wrk -t1 -c8 -d"${SECS}s" -H 'Connection: close' \
		"http://127.0.0.1:$P_NGINX/small.html"
	profile "calls-$st" "$BENCH_BIN" calls "$SECS" $P_CALLS
done
unload
exit $rc
