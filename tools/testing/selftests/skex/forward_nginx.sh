#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# HTTP content switching with real programs: two nginx backends, "images"
# and "web", each with its own files; a content rule on P sends requests
# for /images/ to the first and everything else to the second (its default
# port). curl fetches over IPv4 and IPv6: every body arrives intact (same
# sha256 as the file), each backend's access log shows only its requests
# with the real client address, and the rule's counters match.
source "$(dirname "$0")/lib.sh"

skex_need_module
skex_need_cmd nginx curl sha256sum
FWT=$SKEX_BIN_DIR/forward_tool
[ -x "$FWT" ] || skex_die "$FWT missing: build with make -C tools/testing/selftests/skex"
CFS=/sys/kernel/config/skex/forward
skex_tmpdir tmp fwnginx
chmod 755 "$tmp"

# backend NAME PORT: an nginx serving $tmp/NAME/www on 127.0.0.1 and ::1,
# logging each request's client address and URI
backend()
{
	mkdir -p "$tmp/$1/www/images"
	skex_nginx "$tmp/$1" "127.0.0.1:$2 [::1]:$2" \
		"log_format fw '\$remote_addr \$request_uri'; access_log $tmp/$1/access.log fw; sendfile on;"
}

# three distinct ports: separate calls could return one port twice
ports=$("$SKEX_BIN_DIR"/skex_net freeport -n 3 127.0.0.1 ::1) || skex_die freeport
read -r IMG WEB P <<<"${ports//$'\n'/ }"
backend images "$IMG"
backend web "$WEB"
head -c 300001 /dev/urandom >"$tmp/images/www/images/logo.png"
head -c 123457 /dev/urandom >"$tmp/images/www/images/photo.jpg"
head -c 2000000 /dev/urandom >"$tmp/web/www/index.html"
head -c 777 /dev/urandom >"$tmp/web/www/about.html"
# the same names on the wrong backend would hide a misrouting
head -c 10 /dev/zero >"$tmp/web/www/images/logo.png"
chmod -R a+rX "$tmp"

skex_check_eq "content rule on $P" ok "$("$FWT" rule add content "$P" "$WEB")"
skex_check_eq "branch /images/" ok \
	"$("$FWT" branch add content "$P" "$IMG" 'GET /images/')"

# fetch URL PATH_ON_BACKEND
fetch()
{
	local url=$1 file=$2 got want
	got=$(curl -sS -g --max-time 20 "$url" | sha256sum | cut -d' ' -f1)
	want=$(sha256sum <"$file" | cut -d' ' -f1)
	skex_check_eq "body of $url" "$want" "$got"
}
fetch "http://127.0.0.1:$P/images/logo.png" "$tmp/images/www/images/logo.png"
fetch "http://127.0.0.1:$P/index.html" "$tmp/web/www/index.html"
fetch "http://[::1]:$P/images/photo.jpg" "$tmp/images/www/images/photo.jpg"
fetch "http://[::1]:$P/about.html" "$tmp/web/www/about.html"
fetch "http://127.0.0.1:$P/about.html?/images/" "$tmp/web/www/about.html"
# a POST with a body: the method is not GET, the default port gets it
got=$(curl -sS -g --max-time 20 -o /dev/null -w '%{http_code}' \
	--data-binary @"$tmp/images/www/images/photo.jpg" "http://127.0.0.1:$P/images/logo.png")
skex_check_eq "POST /images/logo.png answered by web (405 for static files)" 405 "$got"

sleep 0.5	# nginx writes its log after the response
skex_check_eq "images access log" \
	"127.0.0.1 /images/logo.png|::1 /images/photo.jpg" \
	"$(paste -sd'|' "$tmp/images/access.log")"
skex_check_eq "web access log" \
	"127.0.0.1 /index.html|::1 /about.html|127.0.0.1 /about.html?/images/|127.0.0.1 /images/logo.png" \
	"$(paste -sd'|' "$tmp/web/access.log")"
skex_check_eq "hits of /images/" 2 "$(cat "$CFS/$P/branches/br1/hits")"
skex_check_eq "default_hits" 4 "$(cat "$CFS/$P/default_hits")"
skex_check_eq "dropped" 0 "$(cat "$CFS/$P/dropped")"
skex_check_eq "delete the rule" ok "$("$FWT" rule del content "$P")"
skex_exit
