#!/usr/bin/env bash
# Secrets redacted in every message (issue 20, item 7): a secret written as a literal where a
# reference or a secret's name belongs is reported with its position, never echoed, in text
# and JSON, from the file or from --set, by every command that loads the profile.
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT"
m=tests/profiles/valid/minimal.yaml
PW='hunter2-s3cr3t'

never_echoed() { # DESC WANT-REGEX CMD...
	local d=$1 re=$2; shift 2
	"$@" >"$T/out" 2>&1
	local rc=$?
	if grep -q -- "$PW" "$T/out"; then
		not_ok "$d: the secret is echoed"
		grep -- "$PW" "$T/out" | head -2 | sed 's/^/#   /'
	elif [ $rc -ne 2 ] || ! grep -qE -- "$re" "$T/out"; then
		not_ok "$d (exit $rc, wanted 2 and /$re/)"
		head -3 "$T/out" | sed 's/^/#   /'
	else
		ok "$d"
	fi
}

sed "s|nasPass: env:NAS_PASS|nasPass: $PW|" $m >"$T/literal.yaml"
never_echoed "literal under secrets: validate" ":30:12: error: secrets.nasPass: a secret must be a reference 'env:NAME' or 'file:PATH', never a literal value \(found 14 characters; value not shown\)" \
	"$APPLIANCE" validate "$T/literal.yaml"
never_echoed "literal under secrets: validate --json" '"path": ?"secrets.nasPass"' "$APPLIANCE" validate "$T/literal.yaml" --json
never_echoed "literal under secrets: plan" "secrets.nasPass: a secret must be a reference" "$APPLIANCE" plan "$T/literal.yaml" --node n1
never_echoed "literal under secrets: render" "secrets.nasPass: a secret must be a reference" "$APPLIANCE" render "$T/literal.yaml" --out "$T/o"
never_echoed "literal under secrets from --set" "secrets.nasPass: a secret must be a reference" \
	"$APPLIANCE" validate $m --set "secrets.nasPass=$PW"
never_echoed "a malformed env: reference is not echoed either" "'env:' must be followed by an environment variable name \(found [0-9]+ characters; value not shown\)" \
	"$APPLIANCE" validate $m --set "secrets.nasPass=env:$PW x"

sed "s|password: nasPass|password: $PW|" $m >"$T/inplace.yaml"
never_echoed "the password itself in place of its secret's name" \
	":25:13: error: nas.password: names no secret defined under 'secrets:' \(value not shown; defined: 'nasUser', 'nasPass', 's3'\)" \
	"$APPLIANCE" validate "$T/inplace.yaml"
never_echoed "the same from --set" "nas.password: names no secret defined" "$APPLIANCE" validate $m --set "nas.password=$PW"
expect_rc_out "a misspelt secret name gets a suggestion" 2 "nas.password: names no secret defined under 'secrets:' \(value not shown\); did you mean 'nasPass'\?" \
	"$APPLIANCE" validate $m --set "nas.password=nasPas"
