#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Forwarding rules through configfs (/sys/kernel/config/skex/forward/):
#  1. mkdir makes a disabled rule with defaults; bad names, bad values and
#     attributes of another type are refused (EINVAL, ERANGE, EBUSY,
#     EEXIST, EADDRINUSE), as is a NUL inside a written value, and change
#     nothing; the kernel log quotes a refused value short and escaped;
#     reads are normalised;
#  2. an address rule with IPv4 and IPv6 sources, clients from 127.0.0.x,
#     fd00::/64 and ::1 (extra addresses on lo): the longest prefix wins,
#     v4 clients match v4 branches, the rest goes to default_port;
#  3. a rule made through setsockopt shows up here and is edited here, a
#     rule made here is seen and edited through setsockopt; branches of
#     either front go in rules of either; either front deletes what either
#     made: TCP_FW_DEL_BRANCH and FLUSH_BRANCH of mkdir-made branches take
#     their directories away, rmdir of sockopt-made branches and rules
#     deletes them in the engine (traffic changes, the port is free,
#     setsockopt sees ENOENT); a rule's rmdir waits for its branches'
#     (ENOTEMPTY);
#  4. TCP_FW_DEL_RULE of a mkdir-made rule, and with port 0 of every rule
#     of the type, whichever front made them: directories gone, ports free;
#  5. in another namespace, setsockopt rules work there only and are not
#     in configfs; the namespace goes with its rule enabled;
#  6. (with SKEX_KO) directories mirrored from setsockopt do not pin the
#     module, mkdir-made ones do until setsockopt deletes them; nothing
#     can be mounted on them (rmmod could not remove them); rmmod then
#     works and takes the mirrored directories away.
source "$(dirname "$0")/lib.sh"

skex_need_module
FWT=$SKEX_BIN_DIR/forward_tool
[ -x "$FWT" ] || skex_die "$FWT missing: build with make -C tools/testing/selftests/skex"
CFS=/sys/kernel/config/skex/forward
[ -d "$CFS" ] || skex_die "$CFS missing (configfs not mounted?)"
skex_tmpdir tmp fwcfs

# wr FILE VALUE [FORMAT]: write(2) like echo (or printf FORMAT VALUE, in
# one write); prints the errno name or "ok"
wr()
{
	local out
	out=$( (printf "${3:-%s\n}" "$2" >"$1") 2>&1)
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

# rd DIR...: rmdir(2); prints the errno name or "ok"
rd()
{
	local out
	out=$(rmdir "$@" 2>&1)
	case $out in
	"") echo ok ;;
	*"not empty"*) echo ENOTEMPTY ;;
	*"busy"*) echo EBUSY ;;
	*"not permitted"*) echo EPERM ;;
	*"No such file"*) echo ENOENT ;;
	*) echo "$out" ;;
	esac
}

# ok_if WHAT CMD...: passes when CMD succeeds; ok_unless when it fails
ok_if() { local what=$1; shift; if "$@"; then skex_pass "$what"; else skex_fail "$what"; fi; }
ok_unless() { local what=$1; shift; if "$@"; then skex_fail "$what"; else skex_pass "$what"; fi; }
# fw CMD...: forward_tool's answer, "ok" or an errno name
fw() { "$FWT" "$@"; }

# check_wr FILE VALUE EXPECTED
check_wr() { skex_check_eq "write '$2' to ${1#"$CFS"/}" "$3" "$(wr "$1" "$2")"; }
# check_nul FILE VALUE: VALUE, a NUL and more in one write: EINVAL
check_nul() { skex_check_eq "write '$2\\0junk' to ${1#"$CFS"/}" EINVAL "$(wr "$1" "$2" '%s\0junk\n')"; }
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
# three distinct ports: separate calls could return one port twice
ports=$("$SKEX_BIN_DIR"/skex_net freeport -n 3 127.0.0.1 ::1) || skex_die freeport
read -r P P2 P3 <<<"${ports//$'\n'/ }"
skex_log "incoming $P $P2 $P3, R1 $R1 R2 $R2 R3 $R3 D $D"

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
# the kernel log quotes a refused value short and escaped: a bad delimiter
# (an unknown escape after 208 bytes) is quoted to 32 bytes, not the page,
# and a terminal escape comes out as text (syslog(2), dmesg -S --noescape,
# gives the bytes as logged)
klog_has() { dmesg -S --noescape 2>/dev/null | grep -qF -- "$1"; }
long=$(printf 'a%.0s' $(seq 200))
skex_check_eq "write a bad 210-byte delimiter to until" EINVAL \
	"$(wr "$R/until" "${long}skexlong\\q")"
ok_unless "a refused value is quoted to 32 bytes in the kernel log" klog_has skexlong
check_wr "$R/type" "$(printf 'bogus\033[2Jskexesc')" EINVAL
ok_unless "a refused value's control bytes reach the kernel log escaped" \
	klog_has "$(printf '\033[2Jskexesc')"
check_nul "$R/type" address
check_rd "$R/type" none
check_wr "$R/type" address ok
check_rd "$R/type" address
check_wr "$R/timeout_ms" 5 EINVAL
check_wr "$R/window" 5 EINVAL
check_wr "$R/default_port" 0 EINVAL
check_wr "$R/default_port" 70000 ERANGE
check_wr "$R/default_port" "$P" EINVAL
check_wr "$R/default_port" x12 EINVAL
check_nul "$R/default_port" "$D"
check_nul "$R/timeout_ms" 2000
check_rd "$R/default_port" 0
check_rd "$R/timeout_ms" 1000
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
check_wr "$B/net8/source" 10.0.0.1:80 EINVAL
check_wr "$B/net8/source" 10.0.0.0/255.0.0.0:9 EINVAL
check_nul "$B/net8/source" 127.0.0.0/8
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

# client SRC DST WANT_SERVER: a connection to $CPORT (default $P)
client()
{
	local out log want=$3 n
	out=$("$FWT" client -s "$1" "$2" "${CPORT:-$P}" "from-$1") ||
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
# either front deletes what either made
skex_check_eq "rmdir of a rule with branch directories" ENOTEMPTY "$(rd "$R")"
ok_if "the rule still listens" skex_port_listening "" "$P"
skex_check_eq "sockopt DEL_BRANCH of a mkdir-made branch" ok \
	"$(fw branch del address "$P" "$R2" 127.0.0.2 255.255.255.255)"
ok_unless "its directory gone" [ -e "$B/host" ]
client 127.0.0.2 127.0.0.1 R1
skex_check_eq "sockopt DEL_BRANCH again" ENOENT \
	"$(fw branch del address "$P" "$R2" 127.0.0.2 255.255.255.255)"
skex_check_eq "rmdir of a sockopt-made branch" ok "$(rd "$B/br5")"
skex_check_eq "sockopt DEL_BRANCH of the rmdir'ed branch" ENOENT \
	"$(fw branch del address "$P" "$R2" 127.0.0.9 255.255.255.255)"
# the next sockopt name would be br7: taken by mkdir, it is skipped
ok_if "mkdir br7" mkdir "$B/br7"
skex_check_eq "sockopt ADD_BRANCH past br7 made by mkdir" ok \
	"$(fw branch add address "$P" "$R2" 127.0.0.9 255.255.255.255)"
check_rd "$B/br8/source" 127.0.0.9/32
skex_check_eq "rmdir of br7 and br8" ok "$(rd "$B/br7" "$B/br8")"
client 127.0.0.9 127.0.0.1 R1
skex_check_eq "sockopt FLUSH_BRANCH of mkdir-made branches" ok \
	"$(fw branch flush address "$P")"
skex_check_eq "branch directories after the flush" "" "$(ls "$B")"
client 127.0.0.4 127.0.0.1 R3
client fd00::20 ::1 R3
check_rd "$R/enable" 1
check_rd "$R/default_hits" 4

skex_check_eq "sockopt ADD_RULE" ok "$(fw rule add dice "$P2" "$D")"
skex_check_eq "sockopt ADD_BRANCH" ok "$(fw branch add dice "$P2" "$R1" 30)"
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
skex_check_eq "rmdir of a sockopt-made rule with branches" ENOTEMPTY "$(rd "$S")"
ok_if "the rule still listens" skex_port_listening "" "$P2"
# a mkdir-made branch in a sockopt-made rule
mkdir "$S/branches/user" || skex_fail "mkdir under a sockopt-made rule"
check_wr "$S/branches/user/chance" 1 EINVAL
check_wr "$S/branches/br1/chance" 60 ok
check_wr "$S/branches/user/chance" 40 ok
check_wr "$S/branches/user/port" "$R2" ok
check_wr "$S/enable" 0 ok
skex_port_listening "" "$P2" && skex_fail "$P2 still listening when disabled"
check_wr "$S/enable" 1 ok
skex_check_eq "sockopt DEL_BRANCH (chance as edited)" ok \
	"$(fw branch del dice "$P2" "$R1" 60)"
[ -e "$S/branches/br1" ] && skex_fail "br1 still in configfs"
skex_check_eq "sockopt DEL_RULE with a mkdir-made branch" ok \
	"$(fw rule del dice "$P2")"
ok_unless "$S gone" [ -e "$S" ]
ok_unless "$P2 free" skex_port_listening "" "$P2"

# a sockopt-made rule and its branches removed with rmdir
skex_check_eq "sockopt ADD_RULE" ok "$(fw rule add address "$P2" "$D")"
skex_check_eq "sockopt ADD_BRANCH" ok \
	"$(fw branch add address "$P2" "$R1" 127.0.0.0 255.0.0.0)"
skex_check_eq "sockopt ADD_BRANCH" ok \
	"$(fw branch add address "$P2" "$R2" 127.0.0.5 255.255.255.255)"
check_rd "$S/branches/br2/source" 127.0.0.5/32
CPORT=$P2 client 127.0.0.5 127.0.0.1 R2
skex_check_eq "rmdir of the rule before its branches" ENOTEMPTY "$(rd "$S")"
skex_check_eq "rmdir of br2" ok "$(rd "$S/branches/br2")"
skex_check_eq "sockopt DEL_BRANCH of the rmdir'ed branch" ENOENT \
	"$(fw branch del address "$P2" "$R2" 127.0.0.5 255.255.255.255)"
CPORT=$P2 client 127.0.0.6 127.0.0.1 R1
skex_check_eq "rmdir of br1 and the rule" ok "$(rd "$S/branches/br1" "$S")"
ok_unless "$S gone" [ -e "$S" ]
ok_unless "$P2 free" skex_port_listening "" "$P2"
skex_check_eq "sockopt EDIT_RULE of the rmdir'ed rule" ENOENT \
	"$(fw rule edit address "$P2" "$R1")"
skex_check_eq "sockopt DEL_RULE of the rmdir'ed rule" ENOENT \
	"$(fw rule del address "$P2")"
skex_check_eq "sockopt ADD_RULE on the freed port" ok \
	"$(fw rule add address "$P2" "$D")"
ok_if "it listens" skex_port_listening "" "$P2"
skex_check_eq "and rmdir again" ok "$(rd "$S")"
ok_unless "$P2 free again" skex_port_listening "" "$P2"

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

# ---- 4. TCP_FW_DEL_RULE of what mkdir made ----
# content: $P2 (mkdir, branch img, disabled) and $P3 (sockopt); address: $P
T=$CFS/$P3
skex_check_eq "sockopt ADD_RULE" ok "$(fw rule add content "$P3" "$D")"
skex_check_eq "sockopt ADD_BRANCH" ok "$(fw branch add content "$P3" "$R1" "GET /")"
mkdir "$T/branches/user" || skex_fail "mkdir $T/branches/user"
check_wr "$T/branches/user/pattern" "POST /" ok
check_wr "$T/branches/user/port" "$R2" ok
check_wr "$S/default_port" "$D" ok
check_wr "$S/enable" 1 ok
skex_check_eq "DEL_RULE content, port 0" ok "$(fw rule del content 0)"
ok_unless "mkdir-made content rule gone" [ -e "$S" ]
ok_unless "sockopt-made content rule gone" [ -e "$T" ]
ok_unless "$P2 free" skex_port_listening "" "$P2"
ok_unless "$P3 free" skex_port_listening "" "$P3"
ok_if "the address rule stays" [ -d "$R" ]
skex_check_eq "DEL_RULE content, port 0, again" ok "$(fw rule del content 0)"
skex_check_eq "sockopt DEL_RULE of a mkdir-made rule" ok \
	"$(fw rule del address "$P")"
ok_unless "$R gone" [ -e "$R" ]
ok_unless "$P free" skex_port_listening "" "$P"
skex_check_eq "no rule on $P" ENOENT "$(fw rule edit address "$P" "$R1")"
skex_check_eq "forward/ empty" "" "$(ls "$CFS")"
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

# ---- 6. unloading with mirrored directories ----
refcnt() { cat /sys/module/skex/refcnt; }
if [ -n "${SKEX_KO:-}" ] && [ -f "$SKEX_KO" ]; then
	trap 'grep -qw "^skex" /proc/modules || skex_load ||
		echo "FAIL: could not reload skex"; skex_cleanup' EXIT
	base=$(refcnt)
	skex_check_eq "ADD_RULE" ok "$(fw rule add address "$P" "$D")"
	skex_check_eq "ADD_BRANCH" ok \
		"$(fw branch add address "$P" "$R1" 127.0.0.0 255.0.0.0)"
	skex_check_eq "ADD_BRANCH" ok \
		"$(fw branch add address "$P" "$R2" 10.0.0.0 255.0.0.0)"
	skex_check_eq "ADD_RULE" ok "$(fw rule add dice "$P3" "$D")"
	ok_if "mirrored directories there" \
		test -d "$CFS/$P/branches/br2" -a -d "$CFS/$P3"
	# a mount would keep rmmod from removing them (module text left behind)
	mkdir -p "$tmp/mnt"
	ok_unless "nothing mounts on a mirrored rule" \
		mount --bind "$tmp/mnt" "$CFS/$P3" 2>/dev/null
	ok_unless "nor on a mirrored branch" \
		mount --bind "$tmp/mnt" "$CFS/$P/branches/br2" 2>/dev/null
	umount "$CFS/$P3" 2>/dev/null
	umount "$CFS/$P/branches/br2" 2>/dev/null
	skex_check_eq "module references with mirrored directories" "$base" "$(refcnt)"
	mkdir "$CFS/$P2" || skex_fail "mkdir $P2"
	skex_check_eq "module references with a mkdir-made directory" \
		"$((base + 2))" "$(refcnt)"
	ok_unless "rmmod refused while it exists" rmmod skex 2>/dev/null
	check_wr "$CFS/$P2/type" dice ok
	skex_check_eq "sockopt DEL_RULE of it" ok "$(fw rule del dice 0)"
	ok_unless "its directory gone" [ -e "$CFS/$P2" ]
	ok_unless "and the sockopt-made dice rule's" [ -e "$CFS/$P3" ]
	skex_check_eq "module references after" "$base" "$(refcnt)"
	if out=$(skex_unload); then
		skex_pass "rmmod with mirrored rules and branches"
	else
		skex_fail "rmmod with mirrored rules and branches: $out"
	fi
	ok_unless "$P free after rmmod" skex_port_listening "" "$P"
	out=$(skex_load) || skex_die "insmod: $out"
	skex_check_eq "forward/ empty after reload" "" "$(ls "$CFS")"
	skex_check_eq "no rule after reload" ENOENT "$(fw rule edit address "$P" "$D")"
elif skex_required; then
	skex_fail "SKEX_KO='${SKEX_KO:-}' is not a module file: unload not tested"
else
	skex_log "SKEX_KO not set: unloading not tested"
fi
skex_exit
