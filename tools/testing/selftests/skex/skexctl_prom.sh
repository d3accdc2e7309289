#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# skexctl stats: tables, JSON, rates and the Prometheus text format.
#
#   client --> P0 (content rule, branch 'we"ird\name' pattern zzz -> P2)
#                  no match: default P1 (skex_net serve, 100 bytes back)
#   groups: output_rate on P2 (gid 21)
#
# Three connections (10 bytes each) go to P1 by default. Then:
#  1. stats --prom parses with a strict parser (prom_check.py: TYPE lines,
#     names, label escaping, no duplicate series, counters *_total), and
#     shows exactly the netmeter's numbers (conns, bytes) and the rule's
#     default hits, the branch's label unescaped to its configfs name;
#  2. stats -j gives the same numbers as /proc/net/skex, joined with the
#     rule's counters and the group;
#  3. stats --rate 1 -j gives a rate line per port.
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_bin
skex_need_cfs
tmp=
skex_tmpdir tmp skexctl_prom
PROM_CHECK=$SKEX_DIR/prom_check.py

skex_freeports 3
skexctl clear || skex_die "skexctl clear at start"

skex_start_server p1 "" "$tmp/serve" "$SKEX_NET" serve 127.0.0.1 "${P[1]}" 100
skex_wait_port "" "${P[1]}" || skex_die "server on ${P[1]} not listening"
name='we"ird\name'
skexctl rule add content "${P[0]}" --default "${P[1]}" || skex_die "rule add"
skexctl branch add "${P[0]}" "$name" --port "${P[2]}" --pattern zzz || skex_die "branch add"
skexctl group add 21 output_rate "${P[2]}=5000" || skex_die "group add"
[ -d "$CFS/forward/${P[0]}/branches/$name" ] || skex_fail "branch directory '$name' missing"

line=$(skex_line "" "${P[1]}") || skex_die "no line for ${P[1]}"
read -r _ c0 _ _ i0 o0 _ <<<"$line"
"$SKEX_NET" client 127.0.0.1 "${P[0]}" 10 100 3 || skex_fail "clients"
c=$((c0 + 3)) i=$((i0 + 30)) o=$((o0 + 300))
skex_check_counters "" "${P[1]}" "$c" 0 "$i" "$o"

# ---- 1. Prometheus ----
skexctl stats --prom >"$tmp/prom" || skex_fail "stats --prom"
"$PYTHON" "$PROM_CHECK" "$tmp/prom" \
	"skex_port_connections_total{port=\"${P[1]}\"}=$c" \
	"skex_port_received_bytes_total{port=\"${P[1]}\"}=$i" \
	"skex_port_sent_bytes_total{port=\"${P[1]}\"}=$o" \
	"skex_port_waiting_connections{port=\"${P[1]}\"}=0" \
	"skex_forward_rule_enabled{port=\"${P[0]}\",type=\"content\"}=1" \
	"skex_forward_default_hits_total{port=\"${P[0]}\",type=\"content\"}=3" \
	"skex_forward_dropped_total{port=\"${P[0]}\",type=\"content\"}=0" \
	"skex_forward_branch_hits_total{port=\"${P[0]}\",type=\"content\",branch=\"$name\",target=\"${P[2]}\"}=0" \
	"skex_group_port_quota{gid=\"21\",type=\"output_rate\",port=\"${P[2]}\"}=5000" \
	"skex_group_port_throttled_total{gid=\"21\",type=\"output_rate\",port=\"${P[2]}\"}=0" ||
	skex_fail "stats --prom: $(cat "$tmp/prom")"
if grep -F "branch=\"we\\\"ird\\\\name\"" "$tmp/prom" >/dev/null; then
	skex_pass "label escaped as we\\\"ird\\\\name"
else
	skex_fail "label not escaped"
fi

# ---- 2. JSON ----
skexctl stats -j >"$tmp/stats.json" || skex_fail "stats -j"
"$PYTHON" - "$tmp/stats.json" "${P[@]}" "$c" "$i" "$o" <<'PY' || skex_fail "stats -j: $(cat "$tmp/stats.json")"
import json, sys
s = {r["port"]: r for r in json.load(open(sys.argv[1]))["ports"]}
p0, p1, p2, c, i, o = (int(x) for x in sys.argv[2:])
ok = s[p1]["conns"] == c and s[p1]["bytes_in"] == i and s[p1]["bytes_out"] == o
ok = ok and s[p0]["rule"] == "content" and s[p0]["default_hits"] == 3
ok = ok and s[p0]["branch_hits"] == 0 and s[p0]["dropped"] == 0
ok = ok and s[p2]["output_group"] == 21 and s[p2]["output_throttled"] == 0
print("ok: stats -j" if ok else "stats -j: %s" % s)
sys.exit(0 if ok else 1)
PY

# ---- 3. rates ----
skexctl stats --rate 1 -j >"$tmp/rate.json" || skex_fail "stats --rate 1 -j"
"$PYTHON" - "$tmp/rate.json" "${P[1]}" <<'PY' || skex_fail "stats --rate: $(cat "$tmp/rate.json")"
import json, sys
r = json.load(open(sys.argv[1]))
row = [x for x in r["ports"] if x["port"] == int(sys.argv[2])][0]
want = {"conn_per_s", "in_bytes_per_s", "out_bytes_per_s", "mean_accept_delay_us", "waiting"}
ok = r["interval_s"] == 1 and want <= set(row) and row["conn_per_s"] == 0
print("ok: stats --rate 1 -j" if ok else "rate row %s" % row)
sys.exit(0 if ok else 1)
PY
skexctl stats >"$tmp/table" || skex_fail "stats"
if grep -Eq "^ *${P[1]} +$c +0 +[0-9]+ +$i +$o" "$tmp/table"; then
	skex_pass "stats table line of ${P[1]}"
else
	skex_fail "stats table: $(cat "$tmp/table")"
fi

skexctl clear || skex_fail "clear"
skex_exit
