#!/usr/bin/env bash
# The man page and the shell completions cannot drift from the program: they
# are made from its command table and the options each command's --help names,
# described by the option tables (`appliance _man`, `appliance _complete`);
# here the listed options are held against
#   - the command's --help (the same option names),
#   - the parsers: every option name in installer/cmd/*.c is named by a
#     --help, and each command's parser accepts every option listed for it
#     and, per sub-command, refuses the others (a nonexistent PROFILE, so
#     nothing can act);
# then appliance(1) is rendered (man -l, no groff warnings) and checked for
# every command, option, exit code, environment variable and file, and the
# bash completion is driven (COMP_WORDS/COMP_CWORD) for commands, options and
# node names; the zsh completion is loaded by compinit.
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT" || exit 1
[ -x "$APPLIANCE" ] || skip_all "no $APPLIANCE (run make)"
A=$APPLIANCE
NOPROF=/nonexistent/appliance-cli-docs/p.yaml

mapfile -t CMDS < <("$A" _complete commands | cut -f1)
if [ "${#CMDS[@]}" -ge 14 ]; then ok "${#CMDS[@]} commands in the table"; else not_ok "only ${#CMDS[@]} commands"; fi
help_cmds=$("$A" help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | tr '\n' ' ')
if [ "$help_cmds" = "$(printf '%s ' "${CMDS[@]}")" ]; then ok "appliance help lists the same commands"; else
	not_ok "appliance help lists '$help_cmds'"; fi
if "$A" help | grep -q '_complete\|_man'; then not_ok "internal commands shown by help"; else ok "internal commands are not in appliance help"; fi

# the tables, read once: $T/opt/CMD[.SUB] holds `_complete options` lines
mkdir -p "$T/opt"
for c in "${CMDS[@]}"; do
	"$A" _complete options "$c" >"$T/opt/$c"
	"$A" _complete subcommands "$c" >"$T/opt/$c.subs"
	for s in $(cat "$T/opt/$c.subs"); do "$A" _complete options "$c" "$s" >"$T/opt/$c.$s"; done
done
opts_of() { cut -f1 "$T/opt/$1${2:+.$2}" | grep -vx -- --help | sort -u; }
help_opts() { "$A" "$@" --help | grep -oE '(^|[][ (|,])--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | grep -vx -- --help | sort -u; }

# ---- what the man page and the completions list == what --help names -------------------
bad=""
for c in "${CMDS[@]}"; do
	[ "$c" = help ] && continue
	if ! diff <(opts_of "$c") <(help_opts "$c") >"$T/d" 2>&1; then
		bad="$bad $c"
		sed "s/^/#   $c: /" "$T/d" | grep -E '^#   [a-z]+: [<>]'
	fi
done
if [ -z "$bad" ]; then ok "every command's listed options are exactly those its --help names"; else not_ok "listed options and --help differ:$bad (< listed, > --help)"; fi
# the table describes them, else the option's own line in --help; an option with
# neither is still listed (its text: see --help)
rows=$(grep -oE '\{ "--[a-z][a-z0-9-]*"' installer/cmd/options.c | grep -oE -- '--[a-z0-9-]+' | sort -u)
for c in "${CMDS[@]}"; do
	norow=$(cut -f1,3 "$T/opt/$c" | awk -F'\t' '$2 == "" { print $1 }' | tr '\n' ' ')
	[ -n "$norow" ] && diag "note: $c: no description (no row in installer/cmd/options.c, no line of its own in --help): $norow"
done

# ---- every option a parser knows is documented by a --help -----------------------------
# the "--name" literals of the parsers in installer/cmd/ (render.c's '--label' is diff's)
# (options.c and complete.c are the tables and their reader, not parsers); an
# option a parser names only to refuse it ("--x is gone: ...") is no option
for f in installer/cmd/*.c; do
	case $f in */options.c | */complete.c) continue ;; esac
	grep -ohE '"--[a-z][a-z0-9-]*"' "$f" | tr -d '"' | while read -r o; do
		grep -q -- "$o is gone" "$f" || echo "$o"
	done
done | grep -vxE -- '--label|--help' | sort -u >"$T/src"
for c in "${CMDS[@]}"; do help_opts "$c"; done | sort -u >"$T/helped"
undoc=$(comm -23 "$T/src" "$T/helped" | tr '\n' ' ')
if [ -z "$undoc" ]; then ok "every option the parsers in installer/cmd/ know is named by a command's --help ($(wc -l <"$T/src"))"; else
	not_ok "options no --help names: $undoc"; fi
# and the check can fail: a literal no --help names is found by the same pipeline
printf '%s\n' --no-such-option | comm -23 - "$T/helped" | grep -q . && ok "an undocumented option would be found" || not_ok "the undocumented-option check cannot fail"

# ---- each command's parser accepts every option listed for it (a nonexistent PROFILE, so
# ---- nothing can act); per sub-command, and refuses the command's others there -------------
cd "$T" || exit 1
bad="" n=0
for c in "${CMDS[@]}"; do
	case $c in help | version) continue ;; esac
	subs=$(cat "$T/opt/$c.subs")
	for s in ${subs:--}; do
		[ "$s" = - ] && s=
		case "$c $s" in
		"image write") pos=(/nonexistent/a /nonexistent/b) ;;
		"image add-config") pos=(/nonexistent/a) ;;
		*) pos=("$NOPROF") ;;
		esac
		while IFS=$'\t' read -r o arg _; do
			# the shared parser's --site/--set/--json: once per command is enough
			[ "$o" = --help ] && continue
			[ -z "$s" ] || [ "$c" = image ] || case $o in --site | --set | --json) continue ;; esac
			val=()
			[ "$arg" != - ] && val=(x=y)
			out=$("$A" $c $s "$o" "${val[@]}" "${pos[@]}" 2>&1 </dev/null)
			n=$((n + 1))
			if echo "$out" | grep -qE "unknown option '$o'|'$o' does not apply"; then
				bad="$bad [$c $s $o refused]"
			fi
		done <"$T/opt/$c${s:+.$s}"
		[ -n "$s" ] || continue
		for o in $(comm -23 <(opts_of "$c") <(opts_of "$c" "$s")); do
			out=$("$A" $c $s "$o" x "${pos[@]}" 2>&1 </dev/null)
			rc=$?
			n=$((n + 1))
			[ $rc -eq 2 ] && echo "$out" | grep -qE "unknown option '$o'|'$o' does not apply" || bad="$bad [$c $s $o accepted]"
		done
	done
done
cd "$ROOT" || exit 1
if [ -z "$bad" ]; then ok "each parser accepts every option listed for its command (and sub-command) and refuses the others ($n runs)"; else
	not_ok "parser and listed options disagree:$bad"; fi

# ---- a command without a table still gets the options its --help names ---------------------
if [ "$("$A" _complete options _complete | cut -f1,2 | tr '\t\n' ' ')" = "--site FILE --set KEY=VALUE --help - " ]; then
	ok "a command without a table: options (and their values) read from its --help"
else
	not_ok "fallback options: $("$A" _complete options _complete | tr '\n' ' ')"
fi
bad=""
for c in "${CMDS[@]}"; do
	"$A" "$c" --help | head -1 | grep -qE "^usage: appliance $c \[?PROFILE" || continue
	"$A" _complete args "$c" | grep -qE '^\[?PROFILE' || bad="$bad $c"
done
[ -z "$bad" ] && ok "every command whose usage starts with PROFILE has PROFILE as its argument (table or usage line)" ||
	not_ok "no PROFILE argument listed for:$bad"
expect_fail "_complete with an unknown command is a usage error" 2 "$A" _complete options nosuch
expect_fail "_complete nodes of a broken profile exits 1" 1 "$A" _complete nodes "$NOPROF"
expect_rc_out "_complete nodes honours --set" 0 '^renamed$' "$A" _complete nodes profiles/demo.yaml --set nodes[0].name=renamed

# ---- the man page --------------------------------------------------------------------
make -s man >"$T/make.out" 2>&1 || { not_ok "make man"; sed 's/^/#   /' "$T/make.out"; }
MAN=$ROOT/build/man/appliance.1
if command -v man >/dev/null && command -v groff >/dev/null; then
	LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$MAN" >"$T/man.txt" 2>"$T/man.err"
	if [ -s "$T/man.txt" ] && [ ! -s "$T/man.err" ]; then ok "man -l renders appliance(1) with no warnings ($(wc -l <"$T/man.txt") lines)"; else
		not_ok "man -l: $(head -5 "$T/man.err")"; fi
	groff -man -ww -z "$MAN" 2>"$T/groff.err"
	if [ ! -s "$T/groff.err" ]; then ok "groff -ww finds nothing to warn about"; else not_ok "groff: $(head -3 "$T/groff.err")"; fi
	grep -q '^APPLIANCE(1)' "$T/man.txt" && ok "the page is appliance(1)" || not_ok "no APPLIANCE(1) header"
	miss=""
	for c in "${CMDS[@]}"; do
		grep -qE "^   appliance $c( |$)" "$T/man.txt" || miss="$miss $c"
		for o in $(opts_of "$c"); do grep -qE -- "^       $o( |$)" "$T/man.txt" || miss="$miss $c:$o"; done
	done
	if [ -z "$miss" ]; then ok "the page describes every command and every option"; else not_ok "missing from the page:$miss"; fi
	for s in NAME SYNOPSIS DESCRIPTION COMMANDS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
		grep -qx "$s" "$T/man.txt" || not_ok "no section $s"
	done
	ok "sections NAME, SYNOPSIS, DESCRIPTION, COMMANDS, EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO"
	sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p' "$T/man.txt" >"$T/exit"
	for x in 0 1 2; do grep -qE "^       $x( |$)" "$T/exit" || not_ok "exit code $x not described"; done
	ok "exit codes 0, 1 and 2 described"
	miss=""
	for v in $(grep -rhoE 'getenv\("[A-Z_]+"\)' installer | grep -oE '[A-Z_]{3,}' | sort -u); do
		sed -n '/^ENVIRONMENT/,/^FILES/p' "$T/man.txt" | grep -q "$v" || miss="$miss $v"
	done
	if [ -z "$miss" ]; then ok "every environment variable the program reads is in ENVIRONMENT"; else not_ok "not in ENVIRONMENT:$miss"; fi
	miss=""
	for c in "${CMDS[@]}"; do "$A" "$c" --help 2>/dev/null; done | grep -oE '(/var|/usr/lib|/etc)/[a-z/_-]*[a-z]' | sort -u >"$T/paths"
	sed -n '/^FILES/,/^EXAMPLES/p' "$T/man.txt" >"$T/files"
	# a path is described when FILES names it or a folder above it
	while read -r p; do
		q=$p
		until grep -qE -- "(^| )$q( |$)" "$T/files" || [ "$(dirname "$q")" = / ]; do q=$(dirname "$q"); done
		grep -qE -- "(^| )$q( |$)" "$T/files" || miss="$miss $p"
	done <"$T/paths"
	if [ -z "$miss" ]; then ok "every system path the commands' help names is in FILES, or its folder ($(wc -l <"$T/paths"))"; else not_ok "not in FILES:$miss"; fi
	for e in "A USB stick on new hardware" "Unattended PXE install" "Rebuilding a failed site"; do
		grep -q "$e" "$T/man.txt" || not_ok "no example: $e"
	done
	ok "examples for the USB stick, PXE and rebuild"
else
	not_ok "man or groff missing (packages.txt, group test: man-db)"
fi

# ---- bash completion ---------------------------------------------------------------
if command -v bash >/dev/null; then
	cat >"$T/drive.sh" <<'DRIVE'
# complete WORD...: COMPREPLY for the line, the last word being completed
complete_line() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_appliance
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
	echo
}
[ "$WITH_BASH_COMPLETION" = 1 ] && . /usr/share/bash-completion/bash_completion
. "$ROOT/completions/appliance.bash"
complete -p appliance | grep -q -- '-F _appliance' || echo "NOT REGISTERED"
cd "$ROOT"
complete_line appliance ''
complete_line appliance in
complete_line appliance talos ''
complete_line appliance talos gen --
complete_line appliance talos schematic --
complete_line appliance wipe profiles/demo.yaml --node ''
complete_line appliance install profiles/demo.yaml --apply --node demo-
complete_line appliance plan profiles/immich.yaml --set nodes[0].name=first --node ''
complete_line appliance render profiles/demo.yaml --out tests/gold
complete_line appliance validate profiles/d
complete_line appliance help ren
complete_line appliance install --
DRIVE
	for wbc in 0 1; do
		[ $wbc = 1 ] && [ ! -f /usr/share/bash-completion/bash_completion ] && { not_ok "bash-completion not installed"; continue; }
		label=$([ $wbc = 1 ] && echo "with bash-completion" || echo "plain bash")
		env -i PATH="$(dirname "$A"):/usr/bin:/bin" ROOT="$ROOT" WITH_BASH_COMPLETION=$wbc HOME="$T" \
			bash --norc --noprofile "$T/drive.sh" >"$T/comp.$wbc" 2>"$T/comp.err.$wbc"
		mapfile -t R <"$T/comp.$wbc"
		all_cmds="$(printf '%s\n' "${CMDS[@]}" | sort | tr '\n' ' ')"
		[ "${R[0]}" = "$all_cmds" ] && ok "$label: 'appliance <TAB>' offers every command" || not_ok "$label: commands: '${R[0]}'"
		[ "${R[1]}" = "init install " ] && ok "$label: 'appliance in<TAB>' -> init, install" || not_ok "$label: in -> '${R[1]}'"
		[ "${R[2]}" = "config-volume gen schematic secrets " ] && ok "$label: talos sub-commands" || not_ok "$label: talos subs: '${R[2]}'"
		[ "${R[3]}" = "--help --json --node --out --secrets --set --site " ] && ok "$label: 'talos gen --' offers gen's options only" || not_ok "$label: talos gen options: '${R[3]}'"
		[ "${R[4]}" = "--help --id --json --set --site --urls " ] && ok "$label: 'talos schematic --' offers schematic's options" || not_ok "$label: schematic options: '${R[4]}'"
		[ "${R[5]}" = "demo-1 demo-2 demo-3 " ] && ok "$label: 'wipe profiles/demo.yaml --node <TAB>' offers demo.yaml's nodes" || not_ok "$label: nodes: '${R[5]}'"
		[ "${R[6]}" = "demo-1 demo-2 demo-3 " ] && ok "$label: node names after a flag, from a prefix" || not_ok "$label: nodes after --apply: '${R[6]}'"
		[ "${R[7]}" = "first silver stone titan " ] && ok "$label: node names honour --set on the line" || not_ok "$label: nodes with --set: '${R[7]}'"
		[ "${R[8]}" = "tests/golden " ] && ok "$label: --out DIR completes folders" || not_ok "$label: --out: '${R[8]}'"
		[ "${R[9]}" = "profiles/defaults.yaml profiles/demo.yaml " ] && ok "$label: PROFILE completes files" || not_ok "$label: profile: '${R[9]}'"
		[ "${R[10]}" = "render " ] && ok "$label: 'help ren' -> render" || not_ok "$label: help: '${R[10]}'"
		echo "${R[11]}" | grep -q -- '--apply .*--unattended' && ! echo "${R[11]}" | grep -q -- '--rotate' &&
			ok "$label: install's options (and no other command's)" || not_ok "$label: install options: '${R[11]}'"
		[ -s "$T/comp.err.$wbc" ] && not_ok "$label: stderr: $(head -3 "$T/comp.err.$wbc")"
	done
fi

# ---- zsh completion ----------------------------------------------------------------
if command -v zsh >/dev/null; then
	check "zsh -n completions/_appliance" zsh -n completions/_appliance
	got=$(env -i PATH=/usr/bin:/bin HOME="$T" zsh -fc "fpath=($ROOT/completions \$fpath); autoload -Uz compinit; compinit -u -d $T/zcd; print -r -- \${_comps[appliance]}" 2>&1)
	[ "$got" = _appliance ] && ok "zsh: compinit binds _appliance to appliance" || not_ok "zsh: compinit gave '$got'"
	# drive it in a terminal (zsh/zpty): type a line and TAB, read until the completion shows
	cat >"$T/zdrive.zsh" <<'ZSH'
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='%% '; fpath=($ROOT/completions \$fpath); path=(${APPLIANCE:h} \$path); cd $ROOT"
zpty -w z "autoload -Uz compinit; compinit -u -d $T/zcompdump; print READY"
zpty -r z out '*READY*' || exit 1
# tab LINE PATTERN: type LINE, TAB, wait for PATTERN on the screen (the whole run has a
# timeout); the screen has escape sequences, so PATTERN ends before any trailing space
tab() {
	zpty -w -n z "$1"$'\t'
	if zpty -r z out "*$2*"; then print -r -- "ok: $1 -> $2"; else print -r -- "FAILED: $1"; fi
	zpty -w -n z $'\C-u'
}
tab 'appliance ta' 'appliance talos'
tab 'appliance talos ge' 'talos gen'
tab 'appliance talos gen --no' 'gen --node'
tab 'appliance wipe profiles/demo.yaml --node ' '--node demo-'
zpty -d z
ZSH
	ROOT=$ROOT T=$T APPLIANCE=$A timeout 60 zsh -f "$T/zdrive.zsh" >"$T/zdrive.out" 2>&1
	for w in "appliance ta -> appliance talos" "appliance talos ge -> talos gen" "appliance talos gen --no -> gen --node" \
		"appliance wipe profiles/demo.yaml --node  -> --node demo-"; do
		grep -qxF "ok: $w" "$T/zdrive.out" && ok "zsh: $w" || not_ok "zsh: $w ($(grep -a 'FAILED' "$T/zdrive.out" | head -2))"
	done
else
	not_ok "zsh missing (packages.txt, group test)"
fi
