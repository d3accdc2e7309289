#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark machinery must not rot: one short repetition of every
# scenario (bench/guest.sh --smoke), then the report (bench/report.py).
# Fails only when that machinery breaks (a scenario script or a tool that
# fails, a report that cannot be made, scenarios 1 and 5 without a figure);
# never on a number.
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_cmd nginx wrk gcc
skex_tmpdir tmp bench
bench=$SKEX_REPO/bench

SECONDS=0
if bash "$bench/guest.sh" --smoke --out "$tmp/out"; then
	skex_pass "bench/guest.sh --smoke (${SECONDS}s)"
else
	skex_fail "bench/guest.sh --smoke exited $?"
fi
sed 's/^/status: /' "$tmp/out/status.tsv"
for s in s1 s5; do
	if grep -q "^result	" "$tmp/out/$s.tsv" 2>/dev/null; then
		skex_pass "$s recorded figures"
	else
		skex_fail "$s recorded no figure"
	fi
done
if $PYTHON "$bench/report.py" --no-plots --out "$tmp/results.md" \
		"$(uname -r)=$tmp/out" >"$tmp/report.out" 2>&1; then
	skex_pass "bench/report.py (${SECONDS}s in all)"
else
	skex_fail "bench/report.py: $(tail -n 5 "$tmp/report.out")"
fi
for s in $(cut -f1 "$tmp/out/status.tsv"); do
	grep -q "^## $s: " "$tmp/results.md" 2>/dev/null ||
		skex_fail "no section for $s in the report"
done
skex_exit
