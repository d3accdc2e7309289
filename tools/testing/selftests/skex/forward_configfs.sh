#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Forwarding rules through configfs (/sys/kernel/config/skex/forward/):
#  1. mkdir makes a disabled rule with defaults; bad names, bad values and
#     attributes of another type are refused (EINVAL, ERANGE, EBUSY,
#     EEXIST, EADDRINUSE) and change nothing; reads are normalised;
#  2. an address rule with IPv4 and IPv6 sources, clients from 127.0.0.x,
#     fd00::/64 and ::1 (extra addresses on lo): the longest prefix wins,
#     v4 clients match v4 branches, the rest goes to default_port;
#  3. a rule made through setsockopt shows up here and is edited here, a
#     rule made here is seen and edited through setsockopt; branches of
#     either front go in rules of either; each object is deleted through
#     the front that made it (rmdir EPERM, setsockopt EBUSY), a mkdir-made
#     rule holding sockopt-made branches cannot be rmdir'ed;
#  4. rmdir frees the port;
#  5. in another namespace, setsockopt rules work there only and are not
#     in configfs; the namespace goes with its rule enabled.
source "$(dirname "$0")/lib.sh"

skex_need_module
FWT=$SKEX_BIN_DIR/forward_tool
[ -x "$FWT" ] || skex_die "$FWT missing: build with make -C tools/testing/selftests/skex"
CFS=/sys/kernel/config/skex/forward
[ -d "$CFS" ] || skex_die "$CFS missing (configfs not mounted?)"
skex_tmpdir tmp fwcfs

# wr FILE VALUE: write(2) like echo; prints the errno name or "ok"
wr()
{
	local out
	out=$( (printf '%s\n' "$2" >"$1") 2>&1)
	case $out in
	"") echo ok ;;
	*"Invalid argument"*) echo EINVAL ;;
	*"result too large"*|*"out of range"*) echo ERANGE ;;
	*"busy"*) echo EBUSY ;;
	*"exists"*) echo EEXIST ;;
	*"Address already in use"*) echo EADDRINUSE ;;
	*"not permitted"*) echo EPERM ;;
	*"No such device"*) echo ENODEV ;;
	*) echo "$out" ;;
	esac
}

# ok_if WHAT CMD...: passes when CMD succeeds; ok_unless when it fails
ok_if() { local what=$1; shift; if "$@"; then skex_pass "$what"; else skex_fail "$what"; fi; }
ok_unless() { local what=$1; shift; if "$@"; then skex_fail "$what"; else skex_pass "$what"; fi; }
nothing_deleted() { [ -e "$B/host" ] && [ -e "$B/br5" ]; }

# check_wr FILE VALUE EXPECTED
check_wr() { skex_check_eq "write '$2' to ${1#"$CFS"/}" "$3" "$(wr "$1" "$2")"; }
check_rd() { skex_check_eq "read ${1#"$CFS"/}" "$2" "$(cat "$1" 2>&1)"; }

# start_server VAR: forward_tool serve on [::]:any, log in $tmp/VAR.log
start_server()
{
	local line
	"$FWT" serve :: 0 >"$tmp/$1.log" 2>&1 &
	skex_track_pid $!
	line=$(skex_wait_line "$tmp/$1.log" '^port [0-9]+$' 30) || skex_die "server $1"
	printf -v "$1" %s "${line#port }"
}

start_server R1
start_server R2
start_server R3
start_server D
P=$("$SKEX_BIN_DIR"/skex_net freeport 127.0.0.1 ::1) || skex_die freeport
P2=$("$SKEX_BIN_DIR"/skex_net freeport 127.0.0.1 ::1) || skex_die freeport
skex_log "incoming $P $P2, R1 $R1 R2 $R2 R3 $R3 D $D"

# ---- 1. a rule's life and its validation ----
for bad in 0 65536 080 abc; do
	mkdir "$CFS/$bad" 2>/dev/null && { rmdir "$CFS/$bad"; skex_fail "mkdir $bad worked"; }
done
skex_pass "bad rule names refused"
mkdir "$CFS/$P" || skex_die "mkdir $CFS/$P"
R=$CFS/$P
check_rd "$R/type" none
check_rd "$R/enable" 0
check_rd "$R/default_port" 0
check_rd "$R/timeout_ms" 1000
check_rd "$R/window" 2048
check_rd "$R/default_hits" 0
check_rd "$R/dropped" 0
check_wr "$R/enable" 1 EINVAL
check_wr "$R/type" bogus EINVAL
check_wr "$R/type" address ok
check_rd "$R/type" address
check_wr "$R/timeout_ms" 5 EINVAL
check_wr "$R/window" 5 EINVAL
check_wr "$R/default_port" 0 EINVAL
check_wr "$R/default_port" 70000 ERANGE
check_wr "$R/default_port" "$P" EINVAL
check_wr "$R/default_port" x12 EINVAL
check_wr "$R/default_port" "$D" ok
check_rd "$R/default_port" "$D"
check_wr "$R/enable" 2 EINVAL
check_rd "$R/enable" 0

mkdir "$R/branches/net8" "$R/branches/host" "$R/branches/v6" "$R/branches/v6host" ||
	skex_die "mkdir branches"
check_wr "$R/type" dice EBUSY
B=$R/branches
check_wr "$B/net8/pattern" abc EINVAL
check_wr "$B/net8/chance" 5 EINVAL
check_wr "$B/net8/source" 300.1.1.1/8 EINVAL
check_wr "$B/net8/source" 10.0.0.0/33 EINVAL
check_wr "$B/net8/source" 10.0.0.0/255.0.255.0 EINVAL
check_wr "$B/net8/source" fd00::/129 EINVAL
check_rd "$B/net8/source" ""
check_wr "$B/net8/source" 127.1.2.3/255.0.0.0 ok
check_rd "$B/net8/source" 127.0.0.0/8
check_wr "$B/host/source" 127.0.0.0/8 EEXIST
check_wr "$B/host/source" 127.0.0.2 ok
check_rd "$B/host/source" 127.0.0.2/32
check_wr "$B/v6/source" fd00::1234/64 ok
check_rd "$B/v6/source" fd00::/64
check_wr "$B/v6host/source" fd00::10/128 ok
check_wr "$B/net8/port" 0 EINVAL
check_wr "$B/net8/port" "$P" EINVAL
for b in net8:$R1 host:$R2 v6:$R1 v6host:$R3; do
	check_wr "$B/${b%%:*}/port" "${b#*:}" ok
done

# P taken: enabling fails and changes nothing
"$FWT" serve 127.0.0.1 "$P" >"$tmp/squat.log" 2>&1 &
squat=$!
skex_track_pid $squat
skex_wait_line "$tmp/squat.log" '^port' 30 >/dev/null || skex_die "squatter"
check_wr "$R/enable" 1 EADDRINUSE
check_rd "$R/enable" 0
kill $squat
wait $squat 2>/dev/null
check_wr "$R/enable" 1 ok
check_rd "$R/enable" 1
ok_if "the rule listens on $P" skex_port_listening "" "$P"

# ---- 2. traffic from several sources ----
ip -6 addr add fd00::10/128 dev lo 2>/dev/null
ip -6 addr add fd00::20/128 dev lo 2>/dev/null
ip -6 addr add fd01::1/128 dev lo 2>/dev/null
for ((i = 0; i < 50; i++)); do  # DAD is off on lo, but be patient
	ip -6 addr show dev lo | grep -q fd01::1 && break
	sleep 0.1
done

# client SRC DST WANT_SERVER
client()
{
	local out log want=$3 n
	out=$("$FWT" client -s "$1" "$2" "$P" "from-$1") ||
		{ skex_fail "client $1 -> $2: $out"; return; }
	log=$tmp/$want.log
	for ((n = 0; n < 50; n++)); do
		grep -q " from-$1\$" "$log" && break
		sleep 0.1
	done
	if grep -q "^conn ${!want} $1 [0-9]* from-$1\$" "$log"; then
		skex_pass "client $1 -> $want (peer address kept)"
	else
		skex_fail "client $1 did not reach $want: $(grep -h "from-$1" "$tmp"/*.log)"
	fi
}
client 127.0.0.2 127.0.0.1 R2
client 127.0.0.3 127.0.0.1 R1
client fd00::10 fd00::10 R3
client fd00::20 ::1 R1
client fd01::1 ::1 D
client ::1 ::1 D
check_rd "$B/net8/hits" 1
check_rd "$B/host/hits" 1
check_rd "$B/v6/hits" 1
check_rd "$B/v6host/hits" 1
check_rd "$R/default_hits" 2
check_rd "$R/dropped" 0

# ---- 3. the other front ----
skex_check_eq "sockopt ADD_RULE on its port" EEXIST \
	"$("$FWT" rule add dice "$P" "$D")"
skex_check_eq "sockopt EDIT_RULE of a mkdir-made rule" ok \
	"$("$FWT" rule edit address "$P" "$R3")"
check_rd "$R/default_port" "$R3"
skex_check_eq "sockopt ADD_BRANCH to a mkdir-made rule" ok \
	"$("$FWT" branch add address "$P" "$R2" 127.0.0.9 255.255.255.255)"
check_rd "$B/br5/source" 127.0.0.9/32
check_rd "$B/br5/port" "$R2"
client 127.0.0.9 127.0.0.1 R2
check_rd "$B/br5/hits" 1
ok_unless "rmdir of a sockopt-made branch refused" rmdir "$B/br5" 2>/dev/null
skex_check_eq "sockopt DEL_BRANCH of a mkdir-made branch" EBUSY \
	"$("$FWT" branch del address "$P" "$R2" 127.0.0.2 255.255.255.255)"
skex_check_eq "sockopt FLUSH_BRANCH with mkdir-made branches" EBUSY \
	"$("$FWT" branch flush address "$P")"
skex_check_eq "sockopt DEL_RULE of a mkdir-made rule" EBUSY \
	"$("$FWT" rule del address "$P")"
ok_if "refused commands deleted nothing" nothing_deleted

skex_check_eq "sockopt ADD_RULE" ok "$("$FWT" rule add dice "$P2" "$D")"
skex_check_eq "sockopt ADD_BRANCH" ok "$("$FWT" branch add dice "$P2" "$R1" 30)"
S=$CFS/$P2
check_rd "$S/type" dice
check_rd "$S/enable" 1
check_rd "$S/default_port" "$D"
check_rd "$S/branches/br1/chance" 30
check_rd "$S/branches/br1/port" "$R1"
check_wr "$S/branches/br1/chance" 101 EINVAL
check_wr "$S/branches/br1/chance" 100 ok
check_wr "$S/branches/br1/source" 10.0.0.0/8 EINVAL
out=$("$FWT" client 127.0.0.1 "$P2" dice100)
skex_check_eq "all dice to R1" "bye 7" "$out"
check_rd "$S/branches/br1/hits" 1
ok_unless "rmdir of a sockopt-made rule refused" rmdir "$S" 2>/dev/null
# a mkdir-made branch in a sockopt-made rule
mkdir "$S/branches/user" || skex_fail "mkdir under a sockopt-made rule"
check_wr "$S/branches/user/chance" 1 EINVAL
check_wr "$S/branches/br1/chance" 60 ok
check_wr "$S/branches/user/chance" 40 ok
check_wr "$S/branches/user/port" "$R2" ok
skex_check_eq "sockopt DEL_RULE with a mkdir-made branch" EBUSY \
	"$("$FWT" rule del dice "$P2")"
rmdir "$S/branches/user" || skex_fail "rmdir of the mkdir-made branch"
check_wr "$S/enable" 0 ok
skex_port_listening "" "$P2" && skex_fail "$P2 still listening when disabled"
check_wr "$S/enable" 1 ok
skex_check_eq "sockopt DEL_BRANCH (chance as edited)" ok \
	"$("$FWT" branch del dice "$P2" "$R1" 60)"
[ -e "$S/branches/br1" ] && skex_fail "br1 still in configfs"
skex_check_eq "sockopt DEL_RULE" ok "$("$FWT" rule del dice "$P2")"
ok_unless "$S gone" [ -e "$S" ]

# content attributes
mkdir "$CFS/$P2" || skex_die "mkdir $P2"
check_wr "$S/type" content ok
check_wr "$S/timeout_ms" 0 ERANGE
check_wr "$S/timeout_ms" 3600001 ERANGE
check_wr "$S/timeout_ms" 250 ok
check_wr "$S/window" 65537 ERANGE
check_wr "$S/window" 100 ok
mkdir "$S/branches/img" || skex_die "mkdir img"
check_wr "$S/branches/img/source" 10.0.0.0/8 EINVAL
check_wr "$S/branches/img/pattern" "" EINVAL
check_wr "$S/branches/img/pattern" "$(head -c 257 /dev/zero | tr '\0' x)" EINVAL
check_wr "$S/branches/img/pattern" "GET /images/" ok
check_rd "$S/branches/img/pattern" "GET /images/"
rmdir "$S/branches/img" "$S" || skex_fail "rmdir $S"

# ---- 4. rmdir frees the port ----
rmdir "$B"/net8 "$B"/host "$B"/v6 "$B"/v6host || skex_fail "rmdir branches"
# the sockopt-made branch pins the rule
ok_unless "rule with a sockopt-made branch not removable" rmdir "$R" 2>/dev/null
skex_check_eq "sockopt DEL_BRANCH" ok \
	"$("$FWT" branch del address "$P" "$R2" 127.0.0.9 255.255.255.255)"
rmdir "$R" || skex_fail "rmdir $R"
[ -e "$R" ] && skex_fail "$R still there"
ok_unless "$P free" skex_port_listening "" "$P"
ip -6 addr del fd00::10/128 dev lo 2>/dev/null
ip -6 addr del fd00::20/128 dev lo 2>/dev/null
ip -6 addr del fd01::1/128 dev lo 2>/dev/null

# ---- 5. another namespace ----
skex_ns_add ns fwcfs
ip netns exec "$ns" "$FWT" serve :: 0 >"$tmp/ns.log" 2>&1 &
nspid=$!
line=$(skex_wait_line "$tmp/ns.log" '^port [0-9]+$' 30) || skex_die "server in $ns"
ND=${line#port }
skex_check_eq "rule in $ns" ok "$(ip netns exec "$ns" "$FWT" rule add content "$P" "$ND")"
ok_unless "$ns's rule not in configfs" [ -e "$CFS/$P" ]
skex_port_listening "" "$P" && skex_fail "$P listening outside $ns"
skex_port_listening "$ns" "$P" || skex_fail "$P not listening in $ns"
skex_check_eq "client in $ns" "bye 4" "$(ip netns exec "$ns" "$FWT" client 127.0.0.1 "$P" ns-1)"
skex_check_eq "EDIT_RULE in $ns" ok "$(ip netns exec "$ns" "$FWT" rule edit content "$P" "$R1")"
skex_check_eq "no rule on $P outside $ns" ENOENT "$("$FWT" rule edit content "$P" "$R1")"
kill $nspid
wait $nspid 2>/dev/null
ip netns del "$ns"
sleep 1
skex_pass "namespace deleted with its rule enabled"
skex_exit
