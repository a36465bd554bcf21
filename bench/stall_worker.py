"""Time-to-safepoint worker: run one long native call and measure how long an
unrelated Python thread stalls while a third thread requests a collection.

Run by bench/safepoint.py under each interpreter; prints one JSON object.

    python3.13t-stock bench/stall_worker.py CASE SIZE [--repeat N]

Three threads:
  caller     runs CASE at SIZE (the argument is built before timing starts);
  collector  waits until the call is under way, then calls gc.collect(), which
             must stop the world and so wait for the caller to reach a
             safepoint;
  ticker     an unrelated thread that sleeps 0.5 ms in a loop; its stall is
             the longest gap between two wake-ups, less the sleep.
The ticker keeps ticking until the call and the collection are both done, so
a stall that the collection's stop-the-world request causes is always seen.

On a machine with two or more CPUs the caller is pinned to the first and the
ticker and collector to the last (per-thread affinity), for both interpreters.
Otherwise the OS adds its own delay: a woken thread that lands on the core of
the CPU-bound caller waits for the next scheduler tick (4 ms at HZ=250), and
when the collector wakes the caller at the end of a pause, the caller can
preempt the collector on its core and delay the restart by a tick.  Pass
--no-pin to measure without it.
Under tricolor each run also reports gc.get_pause_stats()'s max_wait_ns
(time-to-safepoint) and max_pause_ns over that run.
"""
import gc
import itertools
import json
import math
import os
import re
import sys
import threading
import time
from collections import deque

sys.set_int_max_str_digits(0)

# name -> (build(size) -> args, call(*args)); each call is a single native call
# that runs for a long time without returning to the eval loop.  Arguments are
# kept out of large GC-tracked containers where the call allows it (sorted()
# reads a tuple of floats, which a collection untracks; join() gets few long
# strings): a stop-the-world collector's pause grows with the tracked heap, and
# this benchmark is about the time to reach a safepoint.  Calls that must build
# or scan a large list (list(), extend, `in`, bytes.join's many items) show
# that pause too.
CASES = {
    "int_mul": (lambda n: (3 ** n, 7 ** n), lambda a, b: a * b),
    "int_floordiv": (lambda n: (7 ** n, 3 ** 5000), lambda a, b: a // b),
    "int_pow_mod": (lambda n: (3, 10 ** n, 10 ** 40 + 3), pow),
    "int_to_str": (lambda n: (7 ** n,), str),
    "int_from_str_base36": (lambda n: ("z" * n, 36), int),
    "math_factorial": (lambda n: (n,), math.factorial),
    "math_comb": (lambda n: (n, n // 2), math.comb),
    "math_prod": (lambda n: (range(1, n),), math.prod),
    "math_fsum": (lambda n: (itertools.repeat(0.1, n),), math.fsum),
    "list_sort": (lambda n: ([((i * 7919) % n) + 0.5 for i in range(n)],), lambda l: l.sort()),
    "sorted": (lambda n: (tuple(((i * 7919) % n) + 0.5 for i in range(n)),), sorted),
    "sum": (lambda n: (range(n),), sum),
    "min": (lambda n: (range(n),), min),
    "max": (lambda n: (range(n),), max),
    "any": (lambda n: (itertools.repeat(0, n),), any),
    "all": (lambda n: (itertools.repeat(1, n),), all),
    "str_join": (lambda n: (["x" * 20000] * n + ["\u20ac"],), "".join),
    "bytes_join": (lambda n: ([b"x" * (i % 10) for i in range(n)],), b"".join),
    "list_from_range": (lambda n: (range(n),), list),
    "list_extend": (lambda n: ([], range(n)), lambda l, r: l.extend(r)),
    "tuple_from_iter": (lambda n: (itertools.repeat(0, n),), tuple),
    "set_from_range": (lambda n: (range(n),), set),
    "list_contains": (lambda n: ([0] * n, 1), lambda l, x: x in l),
    "deque_consume": (lambda n: (itertools.repeat(0, n),), lambda it: deque(it, maxlen=0)),
    "re_search": (lambda n: (re.compile(r"(?:a|b)*c"), "ab" * n), lambda p, s: p.search(s)),
    "re_findall": (lambda n: (re.compile(r"[ab]+c"), "ab" * n), lambda p, s: p.findall(s)),
}

TICK_S = 0.0005
CPUS = sorted(os.sched_getaffinity(0))
PIN = "--no-pin" not in sys.argv


def pin(cpu):
    """Pin the calling thread to one CPU (no-op with --no-pin or one CPU)."""
    if PIN and len(CPUS) > 1:
        os.sched_setaffinity(threading.get_native_id(), {cpu})


def measure(case, size):
    build, call = CASES[case]
    args = build(size)
    gc.collect()   # the steady state: tuples of untracked items get untracked
    started = threading.Event()
    done = threading.Event()
    out = {}

    def caller():
        pin(CPUS[0])
        started.set()
        t0 = time.perf_counter()
        call(*args)
        out["call_s"] = time.perf_counter() - t0

    def collector():
        pin(CPUS[-1])
        started.wait()
        time.sleep(0.02)          # let the call get well under way
        t0 = time.perf_counter()
        gc.collect()
        out["collect_s"] = time.perf_counter() - t0

    def ticker():
        pin(CPUS[-1])
        worst = 0.0
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(TICK_S)
            now = time.perf_counter()
            worst = max(worst, now - last - TICK_S)
            last = now
        out["stall_s"] = worst

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
    if stats:
        s = stats()
        out.update(max_wait_ns=s["max_wait_ns"], max_pause_ns=s["max_pause_ns"])
    return out


def main():
    case, size = sys.argv[1], int(sys.argv[2])
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
    print(json.dumps({"case": case, "size": size,
                      "runs": [measure(case, size) for _ in range(repeat)]}))


if __name__ == "__main__":
    main()
