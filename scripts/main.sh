#!/usr/bin/env bash
# The main job: set up a fresh Debian machine, build stock and tricolor
# CPython 3.13.5t side by side (cached), run the measurements and print the
# stock-vs-tricolor tables, then the collector core's concurrent-vs-STW
# table, then, where a pyperformance suite is beside the clone
# (../shared/third_party), pyperformance's benchmarks on both interpreters.
# Results land in papers/results/.
#
#   scripts/main.sh [--tarball PATH] [--quick]
#
# --quick runs fewer repetitions (for a look, not for the paper).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

tarball_arg=() quick=0
while (($#)); do
    case $1 in
        --tarball) tarball_arg=(--tarball "${2:?--tarball needs a path}"); shift 2 ;;
        --quick) quick=1; shift ;;
        *) die "unknown argument: $1 (usage: main.sh [--tarball PATH] [--quick])" ;;
    esac
done

start=$SECONDS
"$here/setup.sh" "${tarball_arg[@]}" >/dev/null
"$here/build-cpython.sh" "${tarball_arg[@]}"
cd "$TRICOLOR_ROOT"
py=(--stock build/bin/python3.13t-stock --tricolor build/bin/python3.13t-tricolor --out papers/results)
if ((quick)); then
    repeat=(--repeat 1) runs=(--runs 3)
else
    repeat=(--repeat 3) runs=(--runs 11)
fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTRICOLOR_RUNTIME_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target core_pause hiccup >/dev/null
log "(0) this machine's noise floor: gaps of a thread that never blocks"
/usr/bin/python3 bench/core/hiccup.py --binary build/release/bench/hiccup --out papers/results \
    --seconds "$( ((quick)) && echo 5 || echo 20)"
log "(a) the collector: stock vs -X gc=stw vs concurrent (pause and stall vs heap, throughput, RSS)"
/usr/bin/python3 bench/cpython/gc_modes.py "${py[@]}" \
    $( ((quick)) && echo --collects 3 --repeat 3 || echo --collects 5 --repeat 7)
log "(b) time-to-safepoint: unrelated-thread stall during long native calls"
/usr/bin/python3 bench/cpython/safepoint.py "${py[@]}" "${repeat[@]}"
log "(c) overhead with nothing pending"
/usr/bin/python3 bench/cpython/overhead.py "${py[@]}" "${runs[@]}"
log "(d) the collector core: concurrent vs full-STW pauses, 1 M to 16 M objects"
if ((quick)); then sizes=(--sizes 1,4 --collections 4); else sizes=(--sizes 1,2,4,8,16); fi
/usr/bin/python3 bench/core/core_pause.py --binary build/release/bench/core_pause --out papers/results "${sizes[@]}"
log "(f) a large cyclic structure dying at once: pause, stall and MMU, five shapes"
/usr/bin/python3 bench/cpython/dying.py "${py[@]}" --sizes 100000,1000000 \
    $( ((quick)) && echo --repeat 1 || echo --repeat 3)
log "(h) heaps of types marking once could not read: deques, generators, partials, OrderedDicts, asyncio tasks"
/usr/bin/python3 bench/cpython/opaque.py "${py[@]}" $( ((quick)) && echo --repeat 1)
# (g) only where a pyperformance suite is (bench/cpython/pyperformance.py's default: beside the clone)
if [[ -d ../shared/third_party/pyperformance && -d ../shared/third_party/pyperf ]]; then
    log "(g) pyperformance's own benchmarks: stock vs -X gc=stw vs concurrent (time, CPU, RSS, GC pauses)"
    /usr/bin/python3 bench/cpython/pyperformance.py "${py[@]}" $( ((quick)) && echo --quick )
else
    log "(g) skipped: no pyperformance at ../shared/third_party; to run it, clone github.com/python/pyperformance and github.com/psf/pyperf and pass --suite/--pyperf to bench/cpython/pyperformance.py"
fi
log "done in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s; results in papers/results/"
