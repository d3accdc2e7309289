#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# skexctl restore --check and failing restores:
#  1. a valid configuration is restored (the one the bad files change);
#  2. every kind of bad file (JSON syntax, unknown keys, ports, types,
#     ranges, sources, patterns, chances over 100, attributes of another
#     type, duplicates, clashing group ports, absolute groups with two
#     ports, ratio weights of 0, quotas, an incoming port held by a
#     process) is rejected by --check and by restore with exit code 3 and a
#     message naming the object (the process by its pid), and nothing in
#     the kernel changes (show -j byte for byte, configfs inodes);
#  3. a file that passes the check but fails in the kernel half-way (an
#     attribute the module does not have, on a changed rule after a new
#     rule was made) exits 4, and the previous configuration is back:
#     show -j equal, the unchanged objects never touched;
#  4. --check never needs the module's state to change: running it with
#     the module's configuration empty touches nothing either.
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_bin
skex_need_cfs
tmp=
skex_tmpdir tmp skexctl_check

skex_freeports 8

# a process holding P[7], for the EADDRINUSE check
"$SKEX_NET" listen 127.0.0.1 "${P[7]}" >/dev/null 2>&1 &
holder=$!
skex_track_pid "$holder"
skex_wait_port "" "${P[7]}" || skex_die "listener on ${P[7]} did not start"

skexctl clear || skex_die "skexctl clear at start"

# ---- 1. the valid configuration, and the bad files made from it ----
"$PYTHON" - "$tmp" "${P[@]}" <<'PY' || skex_die "cannot write the files"
import copy, json, os, sys
d = sys.argv[1]
P = [int(x) for x in sys.argv[2:]]
good = {
 "format": 1,
 "forward": [
  {"port": P[0], "type": "content", "default_port": P[1], "enable": 1,
   "timeout_ms": 700, "branches": [{"name": "img", "port": P[2], "pattern": "GET /i"}]},
  {"port": P[3], "type": "address", "default_port": P[1], "enable": 1,
   "branches": [{"name": "lan", "port": P[2], "source": "10.0.0.0/8"}]},
  {"port": P[4], "type": "dice", "default_port": P[1], "enable": 0,
   "branches": [{"name": "a", "port": P[2], "chance": 60}]}],
 "groups": [
  {"gid": 11, "type": "output_rate", "ports": [{"port": P[1], "quota": 1000000}]},
  {"gid": 12, "type": "accept_ratio", "ports": [{"port": P[2], "quota": 2}, {"port": P[5], "quota": 1.5}]}]}
json.dump(good, open(os.path.join(d, "good.json"), "w"), indent=1)

def fw(i):
    return lambda c: c["forward"][i]
bad = []  # (name, expected words in the message, change)
def b(name, words, f):
    bad.append((name, words, f))
def setk(get, **kv):
    return lambda c: get(c).update(kv)
def br(i, j):
    return lambda c: c["forward"][i]["branches"][j]
def gp(i, j):
    return lambda c: c["groups"][i]["ports"][j]
b("port0", "forward[0]/port", setk(fw(0), port=0))
b("port_text", "forward[0]/port", setk(fw(0), port="eighty"))
b("type", "forward/%d/type" % P[3], setk(fw(1), type="adress"))
b("default_self", "forward/%d/default_port" % P[0], setk(fw(0), default_port=P[0]))
b("enable2", "forward/%d/enable" % P[0], setk(fw(0), enable=2))
b("timeout", "forward/%d/timeout_ms" % P[0], setk(fw(0), timeout_ms=0))
b("window", "forward/%d/window" % P[0], setk(fw(0), window=65537))
b("window_dice", "forward/%d/window" % P[4], setk(fw(2), window=100))
b("source_content", "forward/%d/branches/img/source" % P[0], setk(br(0, 0), source="10.0.0.0/8"))
b("no_source", "forward/%d/branches/lan" % P[3], lambda c: br(1, 0)(c).pop("source"))
b("cidr", "forward/%d/branches/lan/source" % P[3], setk(br(1, 0), source="10.0.0.0/33"))
b("mask", "forward/%d/branches/lan/source" % P[3], setk(br(1, 0), source="10.0.0.0/255.0.255.0"))
b("addr", "forward/%d/branches/lan/source" % P[3], setk(br(1, 0), source="10.0.0.256"))
b("same_net", "forward/%d/branches/lan2/source" % P[3], lambda c: fw(1)(c)["branches"].append(
    {"name": "lan2", "port": P[5], "source": "10.9.9.9/8"}))
b("pattern_long", "forward/%d/branches/img/pattern" % P[0], setk(br(0, 0), pattern="x" * 257))
b("pattern_hex", "forward/%d/branches/img/pattern_hex" % P[0],
  lambda c: (br(0, 0)(c).pop("pattern"), br(0, 0)(c).update(pattern_hex="zz")))
b("same_pattern", "forward/%d/branches/img2/pattern" % P[0], lambda c: fw(0)(c)["branches"].append(
    {"name": "img2", "port": P[5], "pattern": "GET /i"}))
b("chances", "forward/%d" % P[4], lambda c: fw(2)(c)["branches"].append(
    {"name": "b", "port": P[5], "chance": 41}))
b("branch_name", "forward/%d/branches[0]" % P[4], setk(br(2, 0), name="a/b"))
b("branch_twice", "forward/%d/branches/a" % P[4], lambda c: fw(2)(c)["branches"].append(
    {"name": "a", "port": P[5], "chance": 1}))
b("branch_port", "forward/%d/branches/a/port" % P[4], setk(br(2, 0), port=P[4]))
b("rule_twice", "forward/%d" % P[0], lambda c: c["forward"].append(copy.deepcopy(c["forward"][0])))
b("unknown_top", "unknown key 'rules'", lambda c: c.update(rules=[]))
b("format", "format", lambda c: c.update(format=2))
b("gid0", "groups[0]/gid", setk(lambda c: c["groups"][0], gid=0))
b("gid_twice", "groups/11", lambda c: c["groups"].append(
    {"gid": 11, "type": "output_rate", "ports": [{"port": P[6], "quota": 5}]}))
b("group_type", "groups/11/type", setk(lambda c: c["groups"][0], type="output"))
b("abs_two", "groups/11", lambda c: c["groups"][0]["ports"].append({"port": P[6], "quota": 5}))
b("ratio_one", "groups/12", lambda c: c["groups"][1]["ports"].pop())
b("weight0", "groups/12/ports/%d/quota" % P[5], setk(gp(1, 1), quota=0))
b("decimals", "groups/12/ports/%d/quota" % P[5], setk(gp(1, 1), quota="1.2345"))
b("whole", "groups/12/ports/%d/quota" % P[5], setk(gp(1, 1), quota=65536))
b("out_float", "groups/11/ports/%d/quota" % P[1], setk(gp(0, 0), quota=1.5))
b("out_range", "groups/11/ports/%d/quota" % P[1], setk(gp(0, 0), quota=4294967296))
b("nonblock", "groups/11/ports/%d/nonblock" % P[1], setk(gp(0, 0), nonblock=2))
b("clash", "groups/13/ports/%d" % P[1], lambda c: c["groups"].append(
    {"gid": 13, "type": "output_rate_ftp", "ports": [{"port": P[1], "quota": 5}]}))
b("held", "forward/%d/enable: EADDRINUSE: port %d is held by skex_net (pid " % (P[7], P[7]),
  lambda c: c["forward"].append({"port": P[7], "type": "dice", "default_port": P[1], "enable": 1}))
for name, words, f in bad:
    c = copy.deepcopy(good)
    f(c)
    json.dump(c, open(os.path.join(d, "bad-%s.json" % name), "w"), indent=1)
    open(os.path.join(d, "bad-%s.words" % name), "w").write(words)
open(os.path.join(d, "bad-syntax.json"), "w").write('{"forward": [\n  {"port": 1,}\n]}\n')
open(os.path.join(d, "bad-syntax.words"), "w").write("bad-syntax.json:2:")
# passes the check, fails in the kernel: a new rule first, then a changed
# rule with an attribute the module does not have
c = copy.deepcopy(good)
c["forward"][2]["branches"][0]["chance"] = 50
c["forward"][2]["zz_no_such_attr"] = 1
c["forward"].append({"port": P[6], "type": "dice", "default_port": P[1], "enable": 1})
json.dump(c, open(os.path.join(d, "kernel-fails.json"), "w"), indent=1)
PY

skexctl restore "$tmp/good.json" || skex_die "restore of the valid file failed"
skexctl show -j >"$tmp/before.json" || skex_die "show -j"
inodes() { stat -c %i "$CFS/forward/${P[0]}" "$CFS/forward/${P[3]}" "$CFS/forward/${P[4]}" "$CFS/groups/11" "$CFS/groups/12" | tr '\n' ' '; }
ino0=$(inodes)

unchanged()
{
	skexctl show -j >"$tmp/now.json" 2>&1
	if cmp -s "$tmp/before.json" "$tmp/now.json" && [ "$(inodes)" = "$ino0" ]; then
		return 0
	fi
	skex_fail "$1: the configuration changed: $(diff "$tmp/before.json" "$tmp/now.json" | head -10)"
	return 1
}

# ---- 2. bad files ----
for f in "$tmp"/bad-*.json; do
	name=${f##*/bad-}
	name=${name%.json}
	words=$(cat "${f%.json}.words")
	out=$(skexctl restore --check "$f" 2>&1)
	rc=$?
	if [ "$rc" = 3 ] && [[ $out == *"$words"* ]]; then
		skex_pass "--check $name: ${out%%$'\n'*}"
	else
		skex_fail "--check $name: rc $rc (want 3), want '$words' in: $out"
	fi
done
unchanged "--check of the bad files" && skex_pass "--check touched nothing"
# restore (without --check) refuses them the same way; a few suffice
for name in chances held clash syntax window_dice; do
	out=$(skexctl restore "$tmp/bad-$name.json" 2>&1)
	rc=$?
	skex_check_eq "restore bad-$name.json exit code" 3 "$rc"
	unchanged "restore bad-$name.json" && skex_pass "restore bad-$name.json touched nothing"
done

# ---- 3. a kernel error half-way: roll back ----
out=$(skexctl restore "$tmp/kernel-fails.json" 2>&1)
rc=$?
skex_check_eq "restore kernel-fails.json exit code" 4 "$rc"
case $out in
*"forward/${P[4]}/zz_no_such_attr: ENOENT"*"previous configuration is back"*)
	skex_pass "message: $(echo "$out" | tr '\n' '|')" ;;
*) skex_fail "message: $out" ;;
esac
skexctl show -j >"$tmp/now.json"
if cmp -s "$tmp/before.json" "$tmp/now.json"; then
	skex_pass "previous configuration back after the failed restore"
else
	skex_fail "configuration differs after the failed restore: $(diff "$tmp/before.json" "$tmp/now.json" | head -10)"
fi
[ -e "$CFS/forward/${P[6]}" ] && skex_fail "rule ${P[6]} of the failed restore is still there"
skex_port_listening "" "${P[6]}" && skex_fail "port ${P[6]} of the failed restore still listening"
# the rules and groups the file did not change were not touched
skex_check_eq "inodes of the untouched objects" \
	"$(echo "$ino0" | awk '{ print $1, $2, $4, $5 }')" "$(inodes | awk '{ print $1, $2, $4, $5 }')"

# ---- 4. --check with nothing configured touches nothing ----
skexctl clear || skex_fail "clear"
skexctl restore --check "$tmp/good.json" >/dev/null 2>&1 || skex_fail "--check good.json on an empty configuration"
made=$(find "$CFS/forward" "$CFS/groups" -mindepth 1 -maxdepth 1)
if [ -z "$made" ]; then
	skex_pass "--check on an empty configuration touched nothing"
else
	skex_fail "--check made objects: $made"
fi

skex_exit
