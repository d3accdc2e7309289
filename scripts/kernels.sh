#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the installed Debian kernels skex is tested on, one per line, oldest
# first: the newest installed 6.1.* and the newest installed 6.12.* that have
# both /boot/vmlinuz-KVER and their headers. Versions are discovered, never
# hard-coded (Debian bumps ABI numbers).
#
#   scripts/kernels.sh          all of them
#   scripts/kernels.sh newest   only the newest one
set -euo pipefail

SERIES=(6.1 6.12)

usable() {
	local k=$1
	[ -e "/boot/vmlinuz-$k" ] || return 1
	[ -d "/usr/src/linux-headers-$k" ] || [ -e "/lib/modules/$k/build/Makefile" ]
}

pick() {
	local series=$1 k best=
	for f in /boot/vmlinuz-"$series".*; do
		[ -e "$f" ] || continue
		k=${f#/boot/vmlinuz-}
		usable "$k" || continue
		best+="$k"$'\n'
	done
	printf '%s' "$best" | sort -V | tail -n1
}

main() {
	local -a found=()
	local s k
	for s in "${SERIES[@]}"; do
		k=$(pick "$s")
		[ -n "$k" ] && found+=("$k")
	done
	if [ ${#found[@]} -eq 0 ]; then
		echo "kernels.sh: no usable 6.1 or 6.12 kernel (vmlinuz + headers) installed" >&2
		exit 1
	fi
	case "${1:-all}" in
	all) printf '%s\n' "${found[@]}" ;;
	newest) printf '%s\n' "${found[@]}" | sort -V | tail -n1 ;;
	*) echo "usage: $0 [newest]" >&2; exit 2 ;;
	esac
}

main "$@"
