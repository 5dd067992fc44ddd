# bash completion for appliance(1). Everything it offers comes from the
# program itself (`appliance _complete ...`, made from its command and option
# tables), so it knows every command, sub-command and option of the binary it
# completes for, and the node names of the PROFILE on the line.
_appliance() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null 2>&1; then
		_init_completion -n =: || return
	else
		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
		cur=${words[cword]} prev=${words[cword - 1]:-}
	fi
	local app=${words[0]} cmd sub="" subs opts arg i w profile="" skip=0 start=2
	local -a extra=()
	app=$(command -v -- "$app" 2>/dev/null) || return
	COMPREPLY=()
	if ((cword == 1)); then
		COMPREPLY=($(compgen -W "$("$app" _complete commands 2>/dev/null | cut -f1)" -- "$cur"))
		return
	fi
	cmd=${words[1]}
	if [[ $cmd == help ]]; then
		((cword == 2)) && COMPREPLY=($(compgen -W "$("$app" _complete commands 2>/dev/null | cut -f1)" -- "$cur"))
		return
	fi
	subs=$("$app" _complete subcommands "$cmd" 2>/dev/null)
	if [[ -n $subs ]]; then
		if ((cword == 2)); then
			COMPREPLY=($(compgen -W "$subs" -- "$cur"))
			return
		fi
		sub=${words[2]} start=3
	fi
	opts=$("$app" _complete options "$cmd" $sub 2>/dev/null) || return
	# the PROFILE (first argument that is no option's value) and its overlays
	for ((i = start; i < cword; i++)); do
		w=${words[i]}
		if ((skip)); then
			skip=0
			continue
		fi
		case $w in
		--site | --set)
			extra+=("$w" "${words[i + 1]}")
			skip=1
			;;
		--*)
			arg=$(awk -F'\t' -v o="$w" '$1 == o { print $2 }' <<<"$opts")
			[[ -n $arg && $arg != - ]] && skip=1
			;;
		*) [[ -z $profile ]] && profile=$w ;;
		esac
	done
	arg=$(awk -F'\t' -v o="$prev" '$1 == o { print $2 }' <<<"$opts")
	if [[ $prev == --* && -n $arg && $arg != - ]]; then
		case $prev:$arg in
		--node:NAME)
			[[ -n $profile ]] &&
				COMPREPLY=($(compgen -W "$("$app" _complete nodes "$profile" "${extra[@]}" 2>/dev/null)" -- "$cur"))
			;;
		*:DIR) COMPREPLY=($(compgen -d -- "$cur")) ;;
		*:FILE | *:PATH) COMPREPLY=($(compgen -f -- "$cur")) ;;
		esac
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(cut -f1 <<<"$opts")" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _appliance appliance
