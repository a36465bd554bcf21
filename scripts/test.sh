#!/usr/bin/env bash
# The test command: set up a fresh Debian machine, build both interpreters
# (cached), build the tests and run them with ctest: CPython's regression
# tests on both interpreters, the fork's own tests, the collector core's
# tests, the stress suite (time-boxed) -- then the stress suite's mutants,
# and the core's tests and stress suite again under ASan+UBSan and TSan.
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
# Debug: the core's misuse checks (tricolor::UsageError) are on.
cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build/cmake -j"$(nproc)"
log "running ctest"
ctest --test-dir build/cmake --output-on-failure "${ctest_args[@]}"

# The stress suite's mutants (stress/README.md): the collector built with
# its known bugs, each of which the suite must catch within its time box.
log "stress suite: killing the mutants"
/usr/bin/python3 stress/run mutants --seconds 120 --report build/mutants/report.md

# The core under the sanitizers (time-boxed: 1000 rapidcheck cases, a
# timeout per test).  TSan cannot see inside the uninstrumented libtbb, so
# its run keeps TBB on the calling threads (tests/support/main.cc).
for san in address,undefined thread; do
    dir=build/san-${san%%,*}
    log "core tests under -fsanitize=$san"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DTRICOLOR_RUNTIME_TESTS=OFF \
          -DTRICOLOR_SANITIZE="$san" -DTRICOLOR_RC_CASES=1000 >/dev/null
    cmake --build "$dir" -j"$(nproc)" >/dev/null
    env TRICOLOR_TBB_THREADS="$([[ $san == thread ]] && echo 1 || echo 0)" \
        TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
        ctest --test-dir "$dir" -L core --timeout 900 --output-on-failure "${ctest_args[@]}"
done
log "tests passed in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
