#!/usr/bin/env bash
# The test command: set up a fresh Debian machine, build both interpreters
# (cached), build the tests and run them with ctest.
#
#   scripts/test.sh [--tarball PATH] [-- CTEST_ARGS...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

tarball_arg=() ctest_args=()
while (($#)); do
    case $1 in
        --tarball) tarball_arg=(--tarball "${2:?--tarball needs a path}"); shift 2 ;;
        --) shift; ctest_args=("$@"); break ;;
        *) die "unknown argument: $1 (usage: test.sh [--tarball PATH] [-- CTEST_ARGS...])" ;;
    esac
done

start=$SECONDS
"$here/setup.sh" "${tarball_arg[@]}" >/dev/null
"$here/build-cpython.sh" "${tarball_arg[@]}"
cd "$TRICOLOR_ROOT"
cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/cmake -j"$(nproc)"
log "running ctest"
ctest --test-dir build/cmake --output-on-failure "${ctest_args[@]}"
log "tests passed in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
