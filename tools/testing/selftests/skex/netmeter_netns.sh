#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Netmeter state is per network namespace: the same port number serves
# different traffic in two namespaces (and in the initial one); each
# namespace's /proc/net/skex and TCP_SKEX_STAT show exactly its own.
#
#   netns A (skex-nmA-PID)   127.0.0.1:P  3 conns, 1000 in / 2000 out each
#   netns B (skex-nmB-PID)   127.0.0.1:P  5 conns, 3333 in / 4444 out each
#                            [::1]:P      2 conns,   10 in / 4444 out each
#   init netns               127.0.0.1:P  1 conn,    77 in /  555 out
#
# Then the listener of A closes: P disappears from A only.
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_bin
skex_tmpdir tmp netns

skex_ns_add nsa skex-nmA
skex_ns_add nsb skex-nmB

port=$(skex_net freeport 127.0.0.1 ::1) || skex_die "freeport"
skex_log "port $port"

skex_start_server p "$nsa" "$tmp/a" "$SKEX_NET" serve 127.0.0.1 "$port" 2000
pid_a=$skex_last_pid
skex_start_server p "$nsb" "$tmp/b4" "$SKEX_NET" serve 127.0.0.1 "$port" 4444
skex_start_server p "$nsb" "$tmp/b6" "$SKEX_NET" serve ::1 "$port" 4444
skex_start_server p "" "$tmp/i" "$SKEX_NET" serve 127.0.0.1 "$port" 555
for ns in "$nsa" "$nsb" ""; do
	skex_wait_port "$ns" "$port" || skex_die "port $port not listening in ${ns:-init}"
done

# counters of this port in the initial netns before our traffic (the number
# may have served earlier tests); the new namespaces start from nothing
line=$(skex_line "" "$port") ||
	skex_die "port $port not listed once in the initial netns' $SKEX_PROC"
read -r _ i_conns _ _ i_in i_out _ <<<"$line"

skex_check_counters "$nsa" "$port" 0 0 0 0
skex_check_counters "$nsb" "$port" 0 0 0 0

ip netns exec "$nsa" "$SKEX_NET" client 127.0.0.1 "$port" 1000 2000 3 || skex_fail "traffic in $nsa"
ip netns exec "$nsb" "$SKEX_NET" client 127.0.0.1 "$port" 3333 4444 5 || skex_fail "IPv4 traffic in $nsb"
ip netns exec "$nsb" "$SKEX_NET" client ::1 "$port" 10 4444 2 || skex_fail "IPv6 traffic in $nsb"
skex_net client 127.0.0.1 "$port" 77 555 ||
	skex_fail "traffic in the initial netns"

skex_check_counters "$nsa" "$port" 3 0 3000 6000
skex_check_counters "$nsb" "$port" 7 0 $((5 * 3333 + 2 * 10)) $((7 * 4444))
skex_check_counters "" "$port" $((i_conns + 1)) 0 $((i_in + 77)) $((i_out + 555))

skex_check_eq "ref_count of $port in $nsa" 1 "$(skex_stat_field "$(skex_stat "$nsa" "$port")" ref_count)"
skex_check_eq "ref_count of $port in $nsb" 2 "$(skex_stat_field "$(skex_stat "$nsb" "$port")" ref_count)"

# A's listener closes: A has nothing on the port any more, B is untouched
kill "$pid_a"
wait "$pid_a" 2>/dev/null
for ((i = 0; i < 100; i++)); do
	skex_port_listening "$nsa" "$port" || break
	sleep 0.1
done
skex_check_eq "$SKEX_PROC in $nsa after its listener closed" "$SKEX_HEADER" \
	"$(ip netns exec "$nsa" cat "$SKEX_PROC")"
skex_check_eq "TCP_SKEX_STAT of $port in $nsa" "error=ENOENT" "$(skex_stat "$nsa" "$port")"
skex_check_counters "$nsb" "$port" 7 0 $((5 * 3333 + 2 * 10)) $((7 * 4444))

# a namespace going away while the module is loaded leaves the rest alone
ip netns del "$nsa" || skex_fail "ip netns del $nsa"
skex_check_counters "$nsb" "$port" 7 0 $((5 * 3333 + 2 * 10)) $((7 * 4444))
skex_check_counters "" "$port" $((i_conns + 1)) 0 $((i_in + 77)) $((i_out + 555))

skex_exit
