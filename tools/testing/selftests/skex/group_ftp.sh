#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# output_rate_ftp with a real FTP server: vsftpd (standalone, anonymous,
# sendfile) with its control port P in an output_rate_ftp group of QUOTA.
# The data connections are not accepted on P (passive: a port of vsftpd's
# choosing; active: vsftpd connects to curl), yet the group's quota covers
# them, since the process sending is serving a control connection of P:
#   - curl --ftp-pasv and curl -P (active) both download at QUOTA (4%; on
#     a debug kernel, at most 4% over it, and the bucket gave out within 4%
#     of the quota of the time vsftpd was there to take it, in its own
#     clock: skex_output_rate), and in the quota's own clock (trace event
#     skex:skex_output) the bucket kept its bound and lost tokens only when
#     full
#   - without the group the same downloads are much faster
source "$(dirname "$0")/lib.sh"

QUOTA=200000
SECS=5
TOOL=$SKEX_BIN_DIR/group_tool

skex_need_module
skex_need_cmd vsftpd curl
skex_need_bin "$TOOL" "$SKEX_BIN_DIR/output_trace"
skex_tmpdir tmp group-ftp
chmod 755 "$tmp"
mkdir -p "$tmp/ftp" "$tmp/empty"
chmod 755 "$tmp/ftp"
chmod 555 "$tmp/empty"
head -c $((QUOTA * SECS)) /dev/urandom >"$tmp/ftp/file.bin"
chmod 644 "$tmp/ftp/file.bin"
"$TOOL" flush || skex_die "cannot flush groups"

port=$(skex_net freeport 127.0.0.1) || skex_die "freeport"
cat >"$tmp/vsftpd.conf" <<EOC
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$tmp/ftp
local_enable=NO
write_enable=NO
ftp_username=daemon
nopriv_user=nobody
secure_chroot_dir=$tmp/empty
pasv_enable=YES
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
use_sendfile=YES
xferlog_enable=NO
syslog_enable=NO
dual_log_enable=NO
vsftpd_log_file=$tmp/vsftpd.log
EOC
vsftpd "$tmp/vsftpd.conf" >"$tmp/vsftpd.out" 2>&1 &
skex_track_pid $!
skex_wait_port "" "$port" 60 || skex_die "vsftpd not listening on $port: $(cat "$tmp/vsftpd.out")"

url=ftp://127.0.0.1:$port/file.bin
fmt='%{size_download} %{time_pretransfer} %{time_total}'
size=$((QUOTA * SECS))

# fetch MODE: "bytes rate" of one download, timed from curl's pretransfer
# (its start time of an active transfer is taken late, after data queued)
fetch()
{
	local out
	if [ "$1" = passive ]; then
		out=$(curl -sS --ftp-pasv -o /dev/null -w "$fmt" "$url") || return 1
	else
		out=$(curl -sS -P 127.0.0.1 -o /dev/null -w "$fmt" "$url") || return 1
	fi
	awk '{ printf "%d %.0f\n", $1, $1 / ($3 - $2) }' <<<"$out"
}

declare -A base
for mode in passive active; do
	read -r got rate <<<"$(fetch $mode)" || skex_die "curl $mode: $(cat "$tmp/vsftpd.out")"
	skex_check_eq "$mode download size without a group" "$size" "$got"
	base[$mode]=$rate
	skex_log "$mode without a group: $rate B/s"
done

gid=$("$TOOL" add output_rate_ftp "$port:$QUOTA") || skex_die "group_tool add"
for mode in passive active; do
	"$SKEX_BIN_DIR/output_trace" start "$port" || skex_die "output_trace start $port"
	read -r got rate <<<"$(fetch $mode)" || { skex_fail "curl $mode"; continue; }
	skex_check_eq "$mode download size" "$size" "$got"
	dev=$(awk -v r="$rate" -v q=$QUOTA 'BEGIN { printf "%.2f", 100 * (r - q) / q }')
	skex_log "$mode with output_rate_ftp $QUOTA: $rate B/s ($dev%)"
	skex_output_rate "$mode data connection" "$port" $QUOTA "$rate" 4
	if [ "${base[$mode]}" -lt $((QUOTA * 2)) ]; then
		skex_log "(unthrottled $mode was only ${base[$mode]} B/s)"
	fi
done
th=$(cat "/sys/kernel/config/skex/groups/$gid/ports/$port/throttled")
[ "$th" -gt 0 ] && skex_pass "throttled counter $th" || skex_fail "throttled counter 0"
"$TOOL" del "$gid" || skex_fail "group_tool del $gid"
skex_exit
