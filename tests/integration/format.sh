#!/usr/bin/env bash
# One format, checked by a tool: every C file is clang-formatted (.clang-format).
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT"
check "clang-format: every C source and header" make -s format-check
