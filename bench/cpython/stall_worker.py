"""Time-to-safepoint worker: run one long native call and measure how long an
unrelated Python thread stalls while a third thread requests a collection.

Run by bench/cpython/safepoint.py under each interpreter; prints one JSON object.

    python3.13t-stock bench/cpython/stall_worker.py CASE SIZE [--repeat N]

Three threads:
  caller     runs CASE at SIZE (the argument is built before timing starts);
  collector  waits until the call is under way, then calls gc.collect(), which
             must stop the world and so wait for the caller to reach a
             safepoint;
  ticker     an unrelated thread that sleeps 0.5 ms in a loop; its stall is
             the longest gap between two wake-ups, less the sleep, among the
             gaps that overlap the collection (gc.collect() called to
             returned).
The ticker keeps ticking until the call and the collection are both done, so
a stall that the collection's stop-the-world request causes is always seen.
The longest gap of the whole run is reported beside it ("run_stall_s"): a gap
outside the collection is the OS's or the thread machinery's, not the
stop-the-world request's.  "majflt" counts the process's major page faults
during the collection.

On a machine with two or more CPUs the caller is pinned to the first and the
ticker and collector to the last (per-thread affinity), for both interpreters.
Otherwise the OS adds its own delay: a woken thread that lands on the core of
the CPU-bound caller waits for the next scheduler tick (4 ms at HZ=250), and
when the collector wakes the caller at the end of a pause, the caller can
preempt the collector on its core and delay the restart by a tick.  Pass
--no-pin to measure without it.  The ticker also runs at a real-time priority
where the OS allows it (root or CAP_SYS_NICE; --no-rt turns it off), so that
its wake-up is not queued behind the collector on its core; each run reports
whether it did ("ticker_rt").
The caller frees what the call built (its result, the list it extended)
before it exits.  If the main thread freed it instead, the caller's heap
segments -- a million-item call fills dozens -- would be abandoned full at
its exit and emptied by cross-thread frees, and the next run's caller would
reclaim them inside one allocation: mimalloc walks every freed block of a
reclaimed segment, 5-12 ms with no way to poll (measured, design.md §3).
That stall is the allocator's, whatever call makes the allocation, and it
came from the previous run's teardown, not from the call measured.
Under tricolor each run also reports gc.get_pause_stats()'s max_wait_ns
(time-to-safepoint) and max_pause_ns over that run.
"""
import gc
import itertools
import json
import math
import os
import re
import resource
import sys
import threading
import time
from collections import deque

sys.set_int_max_str_digits(0)

# A C-level producer of slow items, for the calls that collect what an
# iterator yields: each item costs ~20 us of C code (counting in a 100 kB
# string) and is the same small int, so the container the call builds stays
# small and cheap to traverse.
_HAYSTACK = "x" * 100000


def slow_items(n):
    return map(_HAYSTACK.count, itertools.repeat("y", n))


# name -> (build(size) -> args, call(*args)); each call is a single native call
# that runs for a long time without returning to the eval loop.
#
# The benchmark measures the time to reach a safepoint, so the collection that
# waits for it should itself be short: the stock collector's pause grows with
# the tracked heap (benchmark (a)), and that is issue 4's to remove.  So the
# worker freezes everything built before the call (gc.freeze(): a frozen
# object is never traversed, in either interpreter), and each call's own
# container stays small: sorted() and `in` get few items with costly
# comparisons (strings with a long common prefix, equal-length big ints), and
# list()/extend/tuple()/set() collect from slow_items().  The BULK cases
# collect millions of cheap items instead: there the collection's pause over
# the container being built is part of the stall, so their verdict rests on
# the time-to-safepoint alone (gc.get_pause_stats()).
BIG = 3 ** 380000          # ~20000 30-bit digits: one comparison reads them all
CASES = {
    "int_mul": (lambda n: (3 ** n, 7 ** n), lambda a, b: a * b),
    "int_floordiv": (lambda n: (7 ** n, 3 ** 5000), lambda a, b: a // b),
    "int_pow_mod": (lambda n: (3, 10 ** n, 10 ** 40 + 3), pow),
    "int_to_str": (lambda n: (7 ** n,), str),
    "int_from_str_base36": (lambda n: ("z" * n, 36), int),
    "math_factorial": (lambda n: (n,), math.factorial),
    "math_comb": (lambda n: (10 ** 3000, n), math.comb),
    "math_prod": (lambda n: (range(1, n),), math.prod),
    "math_fsum": (lambda n: (itertools.repeat(0.1, n),), math.fsum),
    "list_sort": (lambda n: ([((i * 7919) % n) + 0.5 for i in range(n)],), lambda l: l.sort()),
    "sorted": (lambda n: (tuple("x" * 500 + "%09d" % ((i * 7919) % n) for i in range(n)),), sorted),
    "sum": (lambda n: (range(n),), sum),
    "min": (lambda n: (range(n),), min),
    "max": (lambda n: (range(n),), max),
    "any": (lambda n: (itertools.repeat(0, n),), any),
    "all": (lambda n: (itertools.repeat(1, n),), all),
    "str_join": (lambda n: (["ab"] * n + ["\u20ac"],), "".join),
    "bytes_join": (lambda n: (tuple(b"x" * (i % 10) for i in range(n)),), b"".join),
    "list_from_iter": (lambda n: (slow_items(n),), list),
    "list_extend": (lambda n: ([], slow_items(n)), lambda l, it: l.extend(it)),
    "tuple_from_iter": (lambda n: (slow_items(n),), tuple),
    "set_from_iter": (lambda n: (slow_items(n),), set),
    "list_contains": (lambda n: ([BIG] * n, BIG + 2), lambda l, x: x in l),
    "deque_consume": (lambda n: (itertools.repeat(0, n),), lambda it: deque(it, maxlen=0)),
    "re_search": (lambda n: (re.compile(r"(?:a|b)*c"), "ab" * n), lambda p, s: p.search(s)),
    "re_findall": (lambda n: (re.compile(r"[ab]+c"), "ab" * n), lambda p, s: p.findall(s)),
    # BULK: millions of cheap items; the pause over them is part of the stall.
    "bulk_list_from_range": (lambda n: (range(n),), list),
    "bulk_list_extend_range": (lambda n: ([], range(n)), lambda l, r: l.extend(r)),
    "bulk_tuple_from_repeat": (lambda n: (itertools.repeat(0, n),), tuple),
    "bulk_set_from_range": (lambda n: (range(n),), set),
}

# The control (not a case): the caller sleeps SIZE ms, detached, so the
# collection never waits for it and the stall is the collection's own pause
# plus the machine's noise -- the floor under every case.
CONTROL = "control_sleep"
CONTROLS = {CONTROL: (lambda n: (n / 1000,), time.sleep)}

TICK_S = 0.0005
CPUS = sorted(os.sched_getaffinity(0))
PIN = "--no-pin" not in sys.argv


RT = "--no-rt" not in sys.argv
# --no-collect: the control -- the same three threads, no collection: what
# the ticker stalls with nothing asking for a safepoint is this machine's
# noise floor.
COLLECT = "--no-collect" not in sys.argv


def realtime():
    """Give the calling thread a real-time priority (SCHED_FIFO 1), so that a
    wake-up preempts the CPU-bound thread on its core at once instead of at
    the scheduler's convenience: the stall then measures the interpreter, not
    the OS.  Returns whether it took (it needs CAP_SYS_NICE)."""
    if not RT or not hasattr(os, "SCHED_FIFO"):
        return False
    try:
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(1))
        return True
    except OSError:
        return False


def pin(cpu):
    """Pin the calling thread to one CPU (no-op with --no-pin or one CPU)."""
    if PIN and len(CPUS) > 1:
        os.sched_setaffinity(threading.get_native_id(), {cpu})


def measure(case, size):
    build, call = CASES[case] if case in CASES else CONTROLS[case]
    args = build(size)
    gc.collect()   # the steady state: tuples of untracked items get untracked
    gc.freeze()    # and what exists now is not traversed by the collection
    started = threading.Event()
    done = threading.Event()
    out = {}
    window = []

    def caller():
        pin(CPUS[0])
        started.set()
        t0 = time.perf_counter()
        result = call(*args)
        out["call_s"] = time.perf_counter() - t0
        # Free what the call built here, on the thread that allocated it
        # (see the docstring: otherwise the next run's first allocations
        # reclaim this thread's abandoned segments, inside mimalloc).
        del result
        for a in args:
            if type(a) is list:
                a.clear()

    def collector():
        pin(CPUS[-1])
        started.wait()
        time.sleep(0.02)          # let the call get well under way
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
        t0 = time.perf_counter()
        if COLLECT:
            gc.collect()
        t1 = time.perf_counter()
        out["majflt"] = resource.getrusage(resource.RUSAGE_SELF).ru_majflt - f0
        out["collect_s"] = t1 - t0
        window[:] = [t0, t1]

    def ticker():
        pin(CPUS[-1])
        out["ticker_rt"] = realtime()
        gaps = []
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(TICK_S)
            now = time.perf_counter()
            gaps.append((now - last - TICK_S, last, now))
            last = now
        out["gaps"] = gaps

    stats = getattr(gc, "get_pause_stats", None)   # tricolor only
    if stats:
        gc.reset_pause_stats()
    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.01)
    threads = [threading.Thread(target=caller), threading.Thread(target=collector)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    time.sleep(0.005)
    done.set()
    t.join()
    # The stall the collection causes: the worst gap that overlaps the
    # collection (request to return).  A gap wholly outside it (thread start
    # and exit, the OS) is reported apart as the worst gap of the whole run.
    t0, t1 = window
    gaps = out.pop("gaps")
    out["stall_s"] = max((g for g, a, b in gaps if b >= t0 and a <= t1), default=0.0)
    out["run_stall_s"] = max(g for g, a, b in gaps)
    if stats:
        s = stats()
        out.update(max_wait_ns=s["max_wait_ns"], max_pause_ns=s["max_pause_ns"])
    gc.unfreeze()
    return out


def main():
    case, size = sys.argv[1], int(sys.argv[2])
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
    print(json.dumps({"case": case, "size": size,
                      "runs": [measure(case, size) for _ in range(repeat)]}))


if __name__ == "__main__":
    main()
