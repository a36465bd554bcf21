#!/usr/bin/env bash
# The fork's collector with CPython's debug checks: build the tricolor
# interpreter --with-pydebug (cached like the others; about 10 minutes cold)
# and run test_gc, test_weakref and test_finalization on it in concurrent
# mode.  In a debug build every verification pause also walks the whole
# heap and fails if a live object references an object found garbage
# (Python/gc_tricolor_embedder.c, GC_DEBUG), on top of CPython's own
# assertions.
# Separate from scripts/test.sh because of the extra build.
#
#   scripts/test-pydebug.sh [--tarball PATH]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

tarball_arg=()
while (($#)); do
    case $1 in
        --tarball) tarball_arg=(--tarball "${2:?--tarball needs a path}"); shift 2 ;;
        *) die "unknown argument: $1 (usage: test-pydebug.sh [--tarball PATH])" ;;
    esac
done

start=$SECONDS
"$here/setup.sh" "${tarball_arg[@]}" >/dev/null
"$here/build-cpython.sh" "${tarball_arg[@]}" --only tricolor-debug
py=$TRICOLOR_ROOT/build/bin/python3.13td-tricolor
mode=$("$py" -c 'import gc; print(gc.get_tricolor_stats()["mode"])')
[[ $mode == concurrent ]] || die "the debug interpreter runs in $mode mode, not concurrent"
# Less the tests whose result differs in concurrent mode, as in ctest.
ignores=()
while read -r id; do ignores+=(-i "$id"); done \
    < <(grep '^test\.' "$TRICOLOR_ROOT/tests/runtime/concurrent_mode_differences.txt")
log "test_gc test_weakref test_finalization on $py (concurrent mode, debug checks on)"
"$py" -m test -j2 -u-network --timeout 1800 "${ignores[@]}" test_gc test_weakref test_finalization
log "passed in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
