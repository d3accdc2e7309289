# SPDX-License-Identifier: GPL-2.0
# bash completion for skexctl(8)
# shellcheck shell=bash disable=SC2207,SC2012
# (COMPREPLY=($(compgen ...)) is the idiom: words never hold blanks here)

_skexctl_ports()
{
	local d=/sys/kernel/config/skex/$1
	[ -d "$d" ] && compgen -W "$(cd "$d" 2>/dev/null && ls -d -- */ 2>/dev/null | tr -d /)" -- "$2"
}

_skexctl()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local i cmd="" verb="" nargs=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-n | --netns) ((i++)) ;;
		-*) ;;
		*)
			if [ -z "$cmd" ]; then
				cmd=${words[i]}
			elif [ -z "$verb" ] && [[ $cmd == @(rule|branch|group) ]]; then
				verb=${words[i]}
			else
				((nargs++))
			fi
			;;
		esac
	done

	case $prev in
	-n | --netns)
		COMPREPLY=($(compgen -W "$(ls /run/netns 2>/dev/null)" -- "$cur"))
		return
		;;
	--rate | --port | --default | --chance | --source | --pattern | --pattern-hex)
		return
		;;
	esac

	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "show stats save restore clear rule branch group -n --netns -V --version -h --help" -- "$cur"))
		return
	fi
	case $cmd in
	show) COMPREPLY=($(compgen -W "-j --json" -- "$cur")) ;;
	stats) COMPREPLY=($(compgen -W "-j --json --rate --prom" -- "$cur")) ;;
	save) COMPREPLY=($(compgen -f -- "$cur")) ;;
	restore)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--check" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	rule)
		if [ -z "$verb" ]; then
			COMPREPLY=($(compgen -W "add set del" -- "$cur"))
		elif [ "$verb" = add ] && [ "$nargs" = 0 ]; then
			COMPREPLY=($(compgen -W "address content dice" -- "$cur"))
		elif [ "$verb" = add ]; then
			COMPREPLY=($(compgen -W "--default --disabled --timeout-ms --window" -- "$cur"))
		elif [ "$nargs" = 0 ]; then
			COMPREPLY=($(_skexctl_ports forward "$cur"))
		elif [ "$verb" = set ]; then
			COMPREPLY=($(compgen -W "default_port= enable= timeout_ms= window=" -- "$cur"))
			compopt -o nospace 2>/dev/null
		fi
		;;
	branch)
		if [ -z "$verb" ]; then
			COMPREPLY=($(compgen -W "add set del" -- "$cur"))
		elif [ "$nargs" = 0 ]; then
			COMPREPLY=($(_skexctl_ports forward "$cur"))
		elif [ "$nargs" = 1 ] && [ "$verb" != add ]; then
			local p=${words[cword - 1]}
			COMPREPLY=($(_skexctl_ports "forward/$p/branches" "$cur"))
		elif [ "$verb" = add ]; then
			COMPREPLY=($(compgen -W "--port --source --pattern --pattern-hex --chance" -- "$cur"))
		elif [ "$verb" = set ]; then
			COMPREPLY=($(compgen -W "port= source= pattern= chance=" -- "$cur"))
			compopt -o nospace 2>/dev/null
		fi
		;;
	group)
		if [ -z "$verb" ]; then
			COMPREPLY=($(compgen -W "add set del" -- "$cur"))
		elif [ "$verb" = add ] && [ "$nargs" = 1 ]; then
			COMPREPLY=($(compgen -W "accept_rate accept_ratio output_rate output_rate_ftp" -- "$cur"))
		elif [ "$verb" != add ] && [ "$nargs" = 0 ]; then
			COMPREPLY=($(_skexctl_ports groups "$cur"))
		fi
		;;
	esac
}
complete -F _skexctl skexctl
