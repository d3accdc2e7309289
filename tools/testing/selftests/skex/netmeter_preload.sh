#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Listeners older than the module: with skex unloaded, servers listen on
# 127.0.0.1:P4 and [::1]:P6; after insmod both ports are listed with every
# counter at 0 (counters run from module load), and the connections made
# from then on are counted exactly. The module stays loaded.
#
# The IPv6 server starts accepting only after insmod. The IPv4 one is a
# plain server already asleep in accept() when the module loads, as any
# idle server is: the connection that wakes it is accepted after load and
# must be counted like the others.
source "$(dirname "$0")/lib.sh"

skex_need_ko
skex_need_bin
skex_tmpdir tmp preload

# whatever happens below, leave the module loaded
reload_at_exit()
{
	grep -qw '^skex' /proc/modules || skex_load || echo "FAIL: could not reload skex"
	skex_cleanup
}
trap reload_at_exit EXIT

out=$(skex_unload) || skex_die "$out"
skex_pass "skex unloaded"

skex_start_server p4 "" "$tmp/s4" "$SKEX_NET" serve 127.0.0.1 0 500
skex_start_server p6 "" "$tmp/s6" "$SKEX_NET" serve ::1 0 1234 "$tmp/go6"
skex_wait_port "" "$p4" && skex_wait_port "" "$p6" || skex_die "servers not up"
# a connection accepted and served before the module exists
skex_net client 127.0.0.1 "$p4" 10 500 ||
	skex_fail "traffic before insmod"

out=$(skex_load) || skex_die "$out"
skex_pass "skex loaded with listeners on $p4 and [::1]:$p6 already open"

skex_check_counters "" "$p4" 0 0 0 0
skex_check_counters "" "$p6" 0 0 0 0
skex_check_eq "ref_count of $p4" 1 "$(skex_stat_field "$(skex_stat "" "$p4")" ref_count)"
skex_check_eq "ref_count of $p6" 1 "$(skex_stat_field "$(skex_stat "" "$p6")" ref_count)"

touch "$tmp/go6"
skex_net client ::1 "$p6" 7 1234 2 ||
	skex_fail "IPv6 traffic after insmod"
skex_check_counters "" "$p6" 2 0 14 2468

skex_log "IPv4: the server was already asleep in accept() when skex loaded"
skex_net client 127.0.0.1 "$p4" 100 500 4 ||
	skex_fail "IPv4 traffic after insmod"
skex_check_counters "" "$p4" 4 0 400 2000

skex_exit
