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
"""
import gc
import itertools
import json
import math
import re
import sys
import threading
import time
from collections import deque

sys.set_int_max_str_digits(0)

# name -> (build(size) -> args, call(*args)); each call is a single native call
# that runs for a long time without returning to the eval loop.
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
    "sorted": (lambda n: ([(i * 7919) % n for i in range(n)],), sorted),
    "sum": (lambda n: (range(n),), sum),
    "min": (lambda n: (range(n),), min),
    "max": (lambda n: (range(n),), max),
    "any": (lambda n: (itertools.repeat(0, n),), any),
    "all": (lambda n: (itertools.repeat(1, n),), all),
    "str_join": (lambda n: ([str(i % 10) * 8 for i in range(n)],), "".join),
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


def measure(case, size):
    build, call = CASES[case]
    args = build(size)
    started = threading.Event()
    done = threading.Event()
    out = {}

    def caller():
        started.set()
        t0 = time.perf_counter()
        call(*args)
        out["call_s"] = time.perf_counter() - t0

    def collector():
        started.wait()
        time.sleep(0.02)          # let the call get well under way
        t0 = time.perf_counter()
        gc.collect()
        out["collect_s"] = time.perf_counter() - t0

    def ticker():
        worst = 0.0
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(TICK_S)
            now = time.perf_counter()
            worst = max(worst, now - last - TICK_S)
            last = now
        out["stall_s"] = worst

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
    return out


def main():
    case, size = sys.argv[1], int(sys.argv[2])
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
    runs = [measure(case, size) for _ in range(repeat)]
    pauses = getattr(gc, "get_pause_stats", None)
    print(json.dumps({
        "case": case, "size": size, "runs": runs,
        "pause_stats": {k: v for k, v in pauses().items() if k != "pauses"} if pauses else None,
    }))


if __name__ == "__main__":
    main()
