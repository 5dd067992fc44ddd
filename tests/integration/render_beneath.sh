#!/usr/bin/env bash
# appliance render writes only beneath its output root (issue 17, item 4): a symbolic link
# inside the GitOps checkout that points outside it (a directory on the way, or a generated
# file itself) is refused with its message, and nothing outside the checkout is written or
# removed. Controls: a plain checkout renders, and a re-render after a stale file removes it.
. "$(dirname "$0")/../lib/tap.sh"

PROFILE=$ROOT/profiles/demo.yaml
render() { "$APPLIANCE" render "$PROFILE" --out "$T/out" "$@"; }
# a hash of every path and file below DIR
tree_hash() { (cd "$1" && find . -print0 | sort -z | xargs -0 -n1 sh -c \
	'if [ -f "$0" ] && [ ! -L "$0" ]; then echo "$0 $(sha256sum <"$0")"; else echo "$0 $(stat -c %F "$0")"; fi' |
	sha256sum); }

mkdir -p "$T/outside" "$T/out"
echo "not the checkout's" >"$T/outside/keep.txt"

# --- a directory of the checkout is a link to somewhere else -------------------------
ln -s "$T/outside" "$T/out/clusters"
before=$(tree_hash "$T/outside")
expect_fail "a symlinked directory in the checkout: exit 1" 1 render
cp "$T/.out" "$T/dir.out"
check "a symlinked directory in the checkout: the exact message" grep -qxF \
	"appliance: 'clusters' below '$T/out' is a symbolic link; refusing to follow it out of '$T/out'" "$T/dir.out"
check "a symlinked directory in the checkout: nothing outside was written" \
	test "$(tree_hash "$T/outside")" = "$before"
rm "$T/out/clusters"

# --- control: a plain checkout renders ---------------------------------------------------
check "control: a plain checkout renders" render
f=clusters/talos-demo/kustomization.yaml
check "control: the generated file is a regular file" test -f "$T/out/$f" -a ! -L "$T/out/$f"

# --- a generated file is a link to a file outside ---------------------------------------
cp "$T/out/$f" "$T/outside/target.yaml"
echo "# changed" >>"$T/outside/target.yaml" # so render wants to rewrite it
rm "$T/out/$f"
ln -s "$T/outside/target.yaml" "$T/out/$f"
before=$(tree_hash "$T/outside")
expect_fail "a generated file that is a symlink out of the checkout: exit 1" 1 render
cp "$T/.out" "$T/file.out"
check "a generated file that is a symlink: the exact message" grep -qxF \
	"appliance: '$T/out/$f' is a symbolic link; refusing to write through it" "$T/file.out"
check "a generated file that is a symlink: the file outside is unchanged" \
	test "$(tree_hash "$T/outside")" = "$before"
check "a generated file that is a symlink: the link itself is left as it was" \
	test "$(readlink "$T/out/$f")" = "$T/outside/target.yaml"
