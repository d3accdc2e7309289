#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# skexctl round trip, and skexctl beside the seed's programs:
#  1. a configuration of every kind made with skexctl's verbs (content
#     rule with a text and a binary pattern, address rule with IPv4 and
#     IPv6 sources, disabled dice rule, the four group types) reads back
#     as made (show -j);
#  2. save, clear (configfs empty, ports free), restore: show -j is equal
#     byte for byte;
#  3. restore of the same file leaves every object alone (same configfs
#     inodes); a file changing one rule replaces that rule only, in one
#     step (TCP_FW_REPLACE_RULE): its directory, kept branches and
#     listener stay, a changed type and branches show in configfs;
#  4. objects made by forward_tool/group_tool (the sockopt front) are seen,
#     saved and restored by skexctl; objects made by skexctl are edited and
#     deleted by the seed's programs;
#  5. in a non-initial namespace: restore goes through the sockopt front
#     (rules there, not in configfs); /proc/net/skex_forward and
#     skex_groups list them back (header rows, a branch row); show -j reads
#     back what was made, branch names, a non-default until, window,
#     timeout_ms and offset, and an IPv6 source included; save, clear,
#     restore gives the same show -j; a changed rule is replaced with its
#     listener kept; stats lists the rules' ports; the per-object verbs
#     say why not.
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_bin
FWT=$SKEX_BIN_DIR/forward_tool
GRT=$SKEX_BIN_DIR/group_tool
if [ ! -x "$FWT" ] || [ ! -x "$GRT" ]; then skex_die "forward_tool/group_tool missing: build with make -C tools/testing/selftests/skex"; fi
skex_need_cfs
tmp=
skex_tmpdir tmp skexctl

skex_freeports 10

# run CMD... and report it; fails the test when it fails
must() { local out; out=$("$@" 2>&1) || { skex_fail "$*: $out"; return 1; }; skex_pass "$*"; }
empty_tree()
{
	local d
	for d in "$CFS"/forward/* "$CFS"/groups/*; do
		[ -e "$d" ] && return 1
	done
	return 0
}
ino() { stat -c %i "$CFS/$1"; }
# lsn_ino NS PORT: the inode of the listening socket on PORT
lsn_ino()
{
	skex_in_ns "$1" cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v h="$(printf ':%04X' "$2")" '$4 == "0A" && substr($2, length($2) - 4) == h { print $10 }'
}

skexctl clear || skex_die "skexctl clear at start"
empty_tree || skex_die "configfs not empty after clear at start"

# ---- 1. every kind, with the verbs ----
must skexctl rule add content "${P[0]}" --default "${P[1]}" --timeout-ms 500 --window 4096
must skexctl branch add "${P[0]}" img --port "${P[2]}" --pattern 'GET /images/'
must skexctl branch add "${P[0]}" bin --port "${P[3]}" --pattern-hex ff00fe0d0a
must skexctl rule add address "${P[4]}" --default "${P[1]}"
must skexctl branch add "${P[4]}" lan --port "${P[2]}" --source 10.1.2.3/255.0.0.0
must skexctl branch add "${P[4]}" v6 --port "${P[3]}" --source fd00::/64
must skexctl rule add dice "${P[5]}" --default "${P[1]}" --disabled
must skexctl branch add "${P[5]}" a --port "${P[2]}" --chance 30
must skexctl branch add "${P[5]}" b --port "${P[3]}" --chance 70
must skexctl group add 101 output_rate "${P[1]}=250000,nonblock"
must skexctl group add 102 accept_ratio "${P[2]}=2.5" "${P[3]}=1"
must skexctl group add 103 accept_rate "${P[1]}=12.125,burst=5"
must skexctl group add 104 output_rate_ftp "${P[6]}=100000"
must skexctl rule set "${P[5]}" default_port="${P[6]}"
must skexctl branch set "${P[5]}" a chance=25

skexctl show -j >"$tmp/a.json" || skex_fail "show -j"
"$PYTHON" - "$tmp/a.json" "${P[@]}" <<'PY' || skex_fail "show -j does not read back what was made"
import json, sys
c = json.load(open(sys.argv[1]))
P = [int(x) for x in sys.argv[2:]]
want = {
 "forward": [
  {"port": P[0], "type": "content", "default_port": P[1], "enable": 1,
   "timeout_ms": 500, "window": 4096, "until": r"\r\n\r\n",
   "default_hits": 0, "dropped": 0,
   "branches": [{"name": "img", "port": P[2], "pattern": "GET /images/", "offset": "any", "hits": 0},
                {"name": "bin", "port": P[3], "pattern_hex": "ff00fe0d0a", "offset": "any", "hits": 0}]},
  {"port": P[4], "type": "address", "default_port": P[1], "enable": 1,
   "default_hits": 0, "dropped": 0,
   "branches": [{"name": "lan", "port": P[2], "source": "10.0.0.0/8", "hits": 0},
                {"name": "v6", "port": P[3], "source": "fd00::/64", "hits": 0}]},
  {"port": P[5], "type": "dice", "default_port": P[6], "enable": 0,
   "default_hits": 0, "dropped": 0,
   "branches": [{"name": "a", "port": P[2], "chance": 25, "hits": 0},
                {"name": "b", "port": P[3], "chance": 70, "hits": 0}]}],
 "groups": [
  {"gid": 101, "type": "output_rate", "ports": [{"port": P[1], "quota": 250000, "nonblock": 1, "throttled": 0}]},
  {"gid": 102, "type": "accept_ratio", "ports": [
     {"port": min(P[2], P[3]), "quota": 2.5 if P[2] < P[3] else 1, "nonblock": 0, "throttled": 0},
     {"port": max(P[2], P[3]), "quota": 1 if P[2] < P[3] else 2.5, "nonblock": 0, "throttled": 0}]},
  {"gid": 103, "type": "accept_rate", "ports": [{"port": P[1], "quota": 12.125, "nonblock": 0, "burst": 5, "throttled": 0}]},
  {"gid": 104, "type": "output_rate_ftp", "ports": [{"port": P[6], "quota": 100000, "nonblock": 0, "throttled": 0}]}]}
want["forward"].sort(key=lambda r: r["port"])
if c != want:
    print("got ", json.dumps(c, sort_keys=True))
    print("want", json.dumps(want, sort_keys=True))
    sys.exit(1)
PY
skex_port_listening "" "${P[0]}" || skex_fail "content rule on ${P[0]} not listening"
skex_port_listening "" "${P[5]}" && skex_fail "disabled dice rule on ${P[5]} listening"

# ---- 2. save, clear, restore ----
must skexctl save "$tmp/conf.json"
must skexctl clear
if empty_tree; then skex_pass "configfs empty after clear"; else skex_fail "configfs not empty after clear: $(ls -R $CFS)"; fi
skex_port_listening "" "${P[0]}" && skex_fail "port ${P[0]} still listening after clear"
must skexctl restore "$tmp/conf.json"
skexctl show -j >"$tmp/b.json"
if cmp -s "$tmp/a.json" "$tmp/b.json"; then
	skex_pass "show -j equal after save, clear, restore"
else
	skex_fail "show -j differs after restore: $(diff "$tmp/a.json" "$tmp/b.json" | head -20)"
fi

# ---- 3. unchanged objects are left alone ----
i0=$(ino "forward/${P[0]}"); i4=$(ino "forward/${P[4]}"); i5=$(ino "forward/${P[5]}"); g1=$(ino groups/101)
must skexctl restore "$tmp/conf.json"
skex_check_eq "inodes after restoring the same file" "$i0 $i4 $i5 $g1" \
	"$(ino "forward/${P[0]}") $(ino "forward/${P[4]}") $(ino "forward/${P[5]}") $(ino groups/101)"
ib=$(ino "forward/${P[5]}/branches/b")
sed "s/\"chance\": 70/\"chance\": 60/" "$tmp/conf.json" >"$tmp/conf2.json"
must skexctl restore "$tmp/conf2.json"
skex_check_eq "unchanged rules, group kept" "$i0 $i4 $g1" \
	"$(ino "forward/${P[0]}") $(ino "forward/${P[4]}") $(ino groups/101)"
skex_check_eq "changed rule's chance" 60 "$(cat "$CFS/forward/${P[5]}/branches/b/chance")"
skex_check_eq "changed rule replaced in place (rule, branch inodes)" "$i5 $ib" \
	"$(ino "forward/${P[5]}") $(ino "forward/${P[5]}/branches/b")"
# the content rule becomes an address rule with other branches: one step,
# its listener stays, configfs shows the new branches only
l0=$(lsn_ino "" "${P[0]}")
[ -n "$l0" ] || skex_fail "no listener on ${P[0]}"
"$PYTHON" - "$tmp/conf.json" "$tmp/conf3.json" "${P[@]}" <<'PY' || skex_fail "conf3"
import json, sys
c = json.load(open(sys.argv[1]))
P = [int(x) for x in sys.argv[3:]]
r = [r for r in c["forward"] if r["port"] == P[0]][0]
for k in ("timeout_ms", "window", "until"):
    r.pop(k, None)
r["type"] = "address"
r["branches"] = [{"name": "img", "port": P[3], "source": "fd00:1::/48"},
                 {"name": "new", "port": P[2], "source": "192.168.1.0/24"}]
json.dump(c, open(sys.argv[2], "w"))
PY
must skexctl restore "$tmp/conf3.json"
skex_check_eq "replaced rule: type, branches" "address img new" \
	"$(cat "$CFS/forward/${P[0]}/type") $(cd "$CFS/forward/${P[0]}/branches" && echo *)"
skex_check_eq "replaced rule: sources" "fd00:1::/48 192.168.1.0/24" \
	"$(cat "$CFS/forward/${P[0]}/branches/img/source") $(cat "$CFS/forward/${P[0]}/branches/new/source")"
skex_check_eq "replaced rule: directory and listener kept" "$i0 $l0" \
	"$(ino "forward/${P[0]}") $(lsn_ino "" "${P[0]}")"
must skexctl restore "$tmp/conf.json"
skexctl show -j >"$tmp/b2.json"
if cmp -s "$tmp/a.json" "$tmp/b2.json"; then
	skex_pass "show -j equal after replacing back"
else
	skex_fail "show -j differs after replacing back: $(diff "$tmp/a.json" "$tmp/b2.json" | head -20)"
fi
skex_check_eq "replaced back: listener kept" "$l0" "$(lsn_ino "" "${P[0]}")"

# ---- 4. the seed's programs ----
skex_check_eq "forward_tool rule add address ${P[7]}" ok "$("$FWT" rule add address "${P[7]}" "${P[1]}")"
skex_check_eq "forward_tool branch add" ok \
	"$("$FWT" branch add address "${P[7]}" "${P[2]}" 192.168.0.0 255.255.0.0)"
gid=$("$GRT" add output_rate "${P[8]}:5000") || skex_fail "group_tool add"
skexctl show -j >"$tmp/c.json"
"$PYTHON" - "$tmp/c.json" "${P[7]}" "${P[2]}" "$gid" "${P[8]}" <<'PY' || skex_fail "skexctl does not see the seed's objects"
import json, sys
c = json.load(open(sys.argv[1]))
port, redir, gid, gport = (int(x) for x in sys.argv[2:])
r = [r for r in c["forward"] if r["port"] == port]
g = [g for g in c["groups"] if g["gid"] == gid]
ok = r and r[0]["enable"] == 1 and r[0]["branches"] == [
    {"name": "br1", "port": redir, "source": "192.168.0.0/16", "hits": 0}] and \
    g and g[0]["ports"] == [{"port": gport, "quota": 5000, "nonblock": 0, "throttled": 0}]
if not ok:
    print(json.dumps(r), json.dumps(g))
sys.exit(0 if ok else 1)
PY
must skexctl save "$tmp/seed.json"
must skexctl clear
must skexctl restore "$tmp/seed.json"
skex_check_eq "seed's branch restored" "192.168.0.0/16" "$(cat "$CFS/forward/${P[7]}/branches/br1/source" 2>&1)"
skex_check_eq "forward_tool branch add to skexctl's rule" ok \
	"$("$FWT" branch add dice "${P[5]}" "${P[9]}" 5)"
skex_check_eq "forward_tool rule del of skexctl's rule" ok "$("$FWT" rule del content "${P[0]}")"
[ -e "$CFS/forward/${P[0]}" ] && skex_fail "forward/${P[0]} still there"
skex_check_eq "group_tool edit of skexctl's group" "" "$("$GRT" edit 103 accept_rate "${P[1]}:20" 2>&1)"
skex_check_eq "its burst kept by the seed's edit" "20 5" \
	"$(cat "$CFS/groups/103/ports/${P[1]}/quota" "$CFS/groups/103/ports/${P[1]}/burst" | tr '\n' ' ' | sed 's/ $//')"
skex_check_eq "group_tool del of skexctl's group" "" "$("$GRT" del 103 2>&1)"
[ -e "$CFS/groups/103" ] && skex_fail "groups/103 still there"
must skexctl clear
if empty_tree; then skex_pass "configfs empty at the end"; else skex_fail "configfs not empty at the end"; fi

# ---- 5. a non-initial namespace ----
ns=
skex_ns_add ns skexctl
cat >"$tmp/ns.json" <<JSON
{"forward": [{"port": ${P[0]}, "type": "address", "default_port": ${P[1]}, "enable": 1,
              "branches": [{"name": "x", "port": ${P[2]}, "source": "10.0.0.0/8"},
                           {"name": "x6", "port": ${P[3]}, "source": "fd00:1:2::/48"}]},
             {"port": ${P[4]}, "type": "content", "default_port": ${P[1]}, "enable": 1,
              "timeout_ms": 700, "window": 1024, "until": "END \\\\r\\\\n",
              "branches": [{"name": "y", "port": ${P[2]}, "pattern": "abc", "offset": 3},
                           {"name": "z", "port": ${P[3]}, "pattern_hex": "ff0a"}]},
             {"port": ${P[5]}, "type": "dice", "default_port": ${P[1]}, "enable": 1,
              "branches": [{"name": "w", "port": ${P[3]}, "chance": 40}]}],
 "groups": [{"gid": 1, "type": "output_rate", "ports": [{"port": ${P[3]}, "quota": 1000}]},
            {"gid": 2, "type": "accept_ratio", "ports": [{"port": ${P[2]}, "quota": 1.5},
                                                         {"port": ${P[6]}, "quota": 2, "nonblock": 1}]},
            {"gid": 3, "type": "accept_rate", "ports": [{"port": ${P[7]}, "quota": 20}]}]}
JSON
sed 's/"quota": 20}/"quota": 20, "burst": 5}/' "$tmp/ns.json" >"$tmp/ns-burst.json"
out=$(skexctl -n "$ns" restore "$tmp/ns-burst.json" 2>&1) && skex_fail "-n restore of a burst succeeded"
case $out in *"burst: cannot be set through the sockopt front"*) skex_pass "-n restore refuses a burst: $out" ;; *) skex_fail "-n restore of a burst: $out" ;; esac
must skexctl -n "$ns" restore "$tmp/ns.json"
skex_port_listening "$ns" "${P[0]}" || skex_fail "rule ${P[0]} not listening in $ns"
skex_port_listening "" "${P[0]}" && skex_fail "rule ${P[0]} listening in the initial netns"
empty_tree || skex_fail "the namespace's objects appear in configfs"
skex_check_eq "the namespace's rule through setsockopt" EEXIST \
	"$(skex_in_ns "$ns" "$FWT" rule add address "${P[0]}" "${P[1]}")"
skex_check_eq "/proc/net/skex_forward header" \
	"port branch type target enable timeout_ms window source pattern chance hits dropped until offset" \
	"$(skex_in_ns "$ns" head -n1 /proc/net/skex_forward)"
skex_check_eq "/proc/net/skex_groups header" "gid type port quota nonblock throttled burst" \
	"$(skex_in_ns "$ns" head -n1 /proc/net/skex_groups)"
skex_check_eq "the content rule's branch row" \
	"${P[4]} z content ${P[3]} - - - - ff0a - 0 - - any" \
	"$(skex_in_ns "$ns" grep "^${P[4]} z " /proc/net/skex_forward)"
skex_check_eq "the content rule's row" \
	"${P[4]} - content ${P[1]} 1 700 1024 - - - 0 0 END\\x20\\r\\n -" \
	"$(skex_in_ns "$ns" grep "^${P[4]} - " /proc/net/skex_forward)"
skexctl -n "$ns" show -j >"$tmp/ns-a.json" || skex_fail "-n show -j"
"$PYTHON" - "$tmp/ns-a.json" "${P[@]}" <<'PY' || skex_fail "-n show -j does not read back what was made"
import json, sys
c = json.load(open(sys.argv[1]))
P = [int(x) for x in sys.argv[2:]]
want = {
 "forward": sorted([
  {"port": P[0], "type": "address", "default_port": P[1], "enable": 1,
   "default_hits": 0, "dropped": 0,
   "branches": [{"name": "x", "port": P[2], "source": "10.0.0.0/8", "hits": 0},
                {"name": "x6", "port": P[3], "source": "fd00:1:2::/48", "hits": 0}]},
  {"port": P[4], "type": "content", "default_port": P[1], "enable": 1,
   "timeout_ms": 700, "window": 1024, "until": "END \\r\\n", "default_hits": 0, "dropped": 0,
   "branches": [{"name": "y", "port": P[2], "pattern": "abc", "offset": 3, "hits": 0},
                {"name": "z", "port": P[3], "pattern_hex": "ff0a", "offset": "any", "hits": 0}]},
  {"port": P[5], "type": "dice", "default_port": P[1], "enable": 1,
   "default_hits": 0, "dropped": 0,
   "branches": [{"name": "w", "port": P[3], "chance": 40, "hits": 0}]}],
  key=lambda r: r["port"]),
 "groups": [
  {"gid": 1, "type": "output_rate", "ports": [{"port": P[3], "quota": 1000, "nonblock": 0, "throttled": 0}]},
  {"gid": 2, "type": "accept_ratio", "ports": sorted([
     {"port": P[2], "quota": 1.5, "nonblock": 0, "throttled": 0},
     {"port": P[6], "quota": 2, "nonblock": 1, "throttled": 0}], key=lambda p: p["port"])},
  {"gid": 3, "type": "accept_rate", "ports": [{"port": P[7], "quota": 20, "nonblock": 0, "burst": 1, "throttled": 0}]}]}
if c != want:
    print("got ", json.dumps(c, sort_keys=True))
    print("want", json.dumps(want, sort_keys=True))
    sys.exit(1)
PY
must skexctl -n "$ns" save "$tmp/ns-saved.json"
must skexctl -n "$ns" clear
skex_port_listening "$ns" "${P[0]}" && skex_fail "rule ${P[0]} still listening in $ns after clear"
skex_check_eq "the namespace's group after clear" "del: No such file or directory" \
	"$(skex_in_ns "$ns" "$GRT" del 1 2>&1)"
skex_check_eq "rows of /proc/net/skex_forward after clear" 1 \
	"$(skex_in_ns "$ns" wc -l </proc/net/skex_forward)"
must skexctl -n "$ns" restore "$tmp/ns-saved.json"
skexctl -n "$ns" show -j >"$tmp/ns-b.json"
if cmp -s "$tmp/ns-a.json" "$tmp/ns-b.json"; then
	skex_pass "-n: show -j equal after save, clear, restore"
else
	skex_fail "-n: show -j differs after restore: $(diff "$tmp/ns-a.json" "$tmp/ns-b.json" | head -20)"
fi
# a changed rule in the namespace: replaced, its listener kept
l4=$(lsn_ino "$ns" "${P[4]}")
l0=$(lsn_ino "$ns" "${P[0]}")
[ -n "$l4" ] || skex_fail "no listener on ${P[4]} in $ns"
sed -e 's/"window": 1024/"window": 2000/' -e 's/"offset": 3/"offset": 5/' \
	-e 's/"name": "x6"/"name": "v6"/' "$tmp/ns.json" >"$tmp/ns2.json"
must skexctl -n "$ns" restore "$tmp/ns2.json"
skex_check_eq "-n: replaced rule's row" \
	"${P[4]} - content ${P[1]} 1 700 2000 - - - 0 0 END\\x20\\r\\n -" \
	"$(skex_in_ns "$ns" grep "^${P[4]} - " /proc/net/skex_forward)"
skex_check_eq "-n: replaced rule's branch row" \
	"${P[4]} y content ${P[2]} - - - - 616263 - 0 - - 5" \
	"$(skex_in_ns "$ns" grep "^${P[4]} y " /proc/net/skex_forward)"
skex_check_eq "-n: renamed branch's row" \
	"${P[0]} v6 address ${P[3]} - - - fd00:1:2::/48 - - 0 - - -" \
	"$(skex_in_ns "$ns" grep "^${P[0]} v6 " /proc/net/skex_forward)"
skex_check_eq "-n: x6 gone" "" "$(skex_in_ns "$ns" grep "^${P[0]} x6 " /proc/net/skex_forward)"
skex_check_eq "-n: listeners kept" "$l4 $l0" "$(lsn_ino "$ns" "${P[4]}") $(lsn_ino "$ns" "${P[0]}")"
skexctl -n "$ns" stats >"$tmp/ns.stats" || skex_fail "-n stats"
for p in "${P[0]}" "${P[4]}" "${P[3]}"; do
	grep -q "^ *$p " "$tmp/ns.stats" || skex_fail "port $p not in -n stats: $(cat "$tmp/ns.stats")"
done
out=$(skexctl -n "$ns" rule del "${P[0]}" 2>&1) && skex_fail "-n rule del succeeded: $out"
case $out in *"initial network namespace only"*) skex_pass "-n rule del: $out" ;; *) skex_fail "-n rule del: $out" ;; esac
empty_tree || skex_fail "configfs not empty after the namespace's restore"
must skexctl -n "$ns" clear

skex_exit
