#!/usr/bin/env bash
# The fork under ThreadSanitizer (issue 5; separate from scripts/test.sh,
# whose CI time it would exceed): CPython 3.13.5 with the series, built
# --with-thread-sanitizer, its collector core with -fsanitize=thread
# (build-cpython.sh --only tricolor-tsan, cached like the others), then
#   * CPython's test_gc in both collector modes, and
#   * stress/python/stress_graph in both modes and in the safepoint
#     stress mode,
# with TSan halting on the first report.  CPython's own suppressions for
# the free-threaded build (Tools/tsan/suppressions_free_threading.txt, kept
# next to the build) apply; nothing of tricolor's is suppressed.  The
# binding's concurrent reads of objects that mutators write -- racy by
# design (Python/gc_tricolor_concurrent_trace.c) -- are left out of
# TSan's analysis by annotations (AnnotateIgnoreReadsBegin/End) in the
# binding; its writes, its synchronisation and every read made while the
# world is stopped are checked.  The collector mode is chosen through
# PYTHON_GC, which regrtest's worker processes inherit (-X would not be).
#
#   scripts/test-tsan-fork.sh [--tarball PATH] [--seconds S]
# Measured on the 2-core machine: the build takes about 25 min cold.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

tarball_arg=() seconds=60
while (($#)); do
    case $1 in
        --tarball) tarball_arg=(--tarball "${2:?--tarball needs a path}"); shift 2 ;;
        --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
        *) die "unknown argument: $1 (usage: test-tsan-fork.sh [--tarball PATH] [--seconds S])" ;;
    esac
done

start=$SECONDS
"$here/setup.sh" "${tarball_arg[@]}" >/dev/null
"$here/build-cpython.sh" "${tarball_arg[@]}" --only tricolor-tsan
py=$TRICOLOR_ROOT/build/bin/python3.13t-tricolor-tsan
prefix=$(cd "$(dirname "$(readlink -f "$py")")/.." && pwd)
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$prefix/tsan-suppressions.txt"

ignores=()
while read -r id; do ignores+=(-i "$id"); done < <(grep '^test\.' "$TRICOLOR_ROOT/tests/runtime/concurrent_mode_differences.txt")
failed=()
run() {  # run NAME COMMAND...: one step; a failure is remembered, not fatal
    local name=$1; shift
    log "tsan: $name"
    if "$@"; then log "tsan: $name passed"; else log "tsan: $name FAILED"; failed+=("$name"); fi
}
run "test_gc, concurrent" env PYTHON_GC=concurrent "$py" -m test -u-network --timeout 1800 "${ignores[@]}" test_gc
run "test_gc, stw" env PYTHON_GC=stw "$py" -m test -u-network --timeout 1800 test_gc
graph=$TRICOLOR_ROOT/stress/python/stress_graph
run "stress_graph, concurrent" env PYTHON_GC=concurrent "$py" "$graph" --seconds "$seconds"
run "stress_graph, stw" env PYTHON_GC=stw "$py" "$graph" --seconds "$seconds"
run "stress_graph, stress mode" env PYTHON_GC=concurrent PYTHON_SAFEPOINT_STRESS=200 "$py" "$graph" --seconds "$seconds"
log "tsan: done in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
((${#failed[@]} == 0)) || die "failed under ThreadSanitizer: ${failed[*]}"
