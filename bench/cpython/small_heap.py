"""What an explicit gc.collect() costs on a small heap: stock vs the fork.

On a big heap a collection's fixed costs vanish; on a small one they are the
whole bill, and programs that call gc.collect() often (tests, pyperformance's
gc_collect and gc_traversal, servers between requests) pay them every time.
Issue 13 point 5 asks that gc.collect() on a small heap cost what stock's
does.  Each shape builds its heap, automatic GC off, then times --collects
gc.collect() calls (wall time; the median is reported):

  empty      a bare interpreter: the collector's fixed cost
  rings      each collect first drops --rings rings of 21 instances (a cycle
             of objects with a __dict__, as a program's graph of records):
             the collect frees them
  tree       a live tree: --n // 3 instances, each holding a list that holds
             it, in lists of ten; nothing to free: the cost of proving that
             everything is alive
  churn      --n live objects (lists), and a second thread making garbage
             cycles all the while: the collect runs beside a mutator

Configurations interleaved (report.alternate), one worker process per
(configuration, shape, repeat): stock, stw (-X gc=stw), concurrent
(-X gc=concurrent); with --before PY a fourth, before (PY, -X gc=concurrent;
written as small_heap_before_after.*).

    python3 bench/cpython/small_heap.py --stock PY --tricolor PY [--out DIR]
        [--shapes empty,rings,tree,churn] [--n 250000] [--rings 100]
        [--collects 200] [--repeat 3] [--timeout 300] [--before PY]

Writes small_heap.json (every run, the command, the machine) and small_heap.md.
"""
import gc
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/report.py

CONFIGS = ("stock", "stw", "concurrent")
SHAPES = ("empty", "rings", "tree", "churn")


class Record:
    def __init__(self, nxt=None):
        self.next = nxt
        self.payload = [self]


def ring(k):
    first = Record()
    node = first
    for _ in range(k - 1):
        node = Record(node)
    first.next = node
    return first


def tree(n):
    leaves = [Record() for _ in range(n // 3)]
    return [leaves[i:i + 10] for i in range(0, len(leaves), 10)]


def worker(shape, n, rings, collects):
    gc.disable()
    gc.collect()
    live = tree(n) if shape == "tree" else [[] for _ in range(n)] if shape == "churn" else None
    stop = threading.Event()
    churner = None
    if shape == "churn":
        def churn():
            while not stop.is_set():
                for _ in range(100):
                    a = []
                    a.append(a)
        churner = threading.Thread(target=churn)
        churner.start()
    gc.collect()
    gc.collect()
    times, freed = [], []
    for _ in range(collects):
        if shape == "rings":
            for _ in range(rings):
                ring(21)
        t0 = time.perf_counter()
        freed.append(gc.collect())
        times.append(time.perf_counter() - t0)
    stop.set()
    if churner:
        churner.join()
    import report
    tracked = len(gc.get_objects())
    del live
    print(json.dumps({"collect_ms": report.median(times) * 1e3,
                      "collect_ms_p90": sorted(times)[int(0.9 * len(times))] * 1e3,
                      "freed": report.median(freed), "tracked": tracked}))


def main():
    import report
    p = report.parser(__doc__)
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--n", type=int, default=250_000, help="objects of tree and churn (default 250000)")
    p.add_argument("--rings", type=int, default=100, help="rings dropped before each collect (default 100)")
    p.add_argument("--collects", type=int, default=200, help="gc.collect() per worker (default 200)")
    p.add_argument("--repeat", type=int, default=3, help="workers per configuration and shape (default 3)")
    p.add_argument("--timeout", type=float, default=300, help="seconds per worker (default 300)")
    p.add_argument("--before", help="a tricolor interpreter of an earlier tree (config 'before')")
    args = p.parse_args()
    global CONFIGS
    if args.before:
        CONFIGS = ("stock", "stw", "before", "concurrent")
    name = "small_heap_before_after" if args.before else "small_heap"
    shapes = args.shapes.split(",")
    for s in shapes:
        if s not in SHAPES:
            p.error(f"unknown shape {s!r} (have {', '.join(SHAPES)})")
    ctx = report.context(args)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    runs = []
    for k, (shape, rep) in enumerate((s, r) for s in shapes for r in range(args.repeat)):
        for config in report.alternate(CONFIGS, k):
            cmd = [*report.config_argv(args, config), __file__, "--worker", shape, args.n,
                   args.rings, args.collects]
            r = {"config": config, "repeat": rep, "shape": shape,
                 **report.try_run_json(cmd, timeout=args.timeout)}
            runs.append(r)
            print(f"{shape} {config} #{rep}: " + (
                f"FAILED ({r['failed'].strip().splitlines()[-1:]})" if "failed" in r else
                f"collect {r['collect_ms']:.3f} ms (p90 {r['collect_ms_p90']:.3f}), "
                f"freed {r['freed']}, tracked {r['tracked']}"), flush=True)
    get = {}
    for shape in shapes:
        for config in CONFIGS:
            ok = [r for r in runs if (r["shape"], r["config"]) == (shape, config) and "failed" not in r]
            get[shape, config] = {k: report.median([r[k] for r in ok])
                                  for k in ("collect_ms", "collect_ms_p90", "tracked", "freed")}

    def ratio(shape, config):
        s = get[shape, "stock"]["collect_ms"]
        return get[shape, config]["collect_ms"] / s if s else float("nan")

    others = [c for c in CONFIGS if c != "stock"]
    table = report.md_table(
        ["shape", "tracked", *(f"{c} collect ms" for c in CONFIGS),
         *(f"{c} / stock" for c in others), *(f"{c} freed" for c in CONFIGS)],
        [[s, get[s, "stock"]["tracked"], *(get[s, c]["collect_ms"] for c in CONFIGS),
          *(ratio(s, c) for c in others), *(get[s, c]["freed"] for c in CONFIGS)]
         for s in shapes])
    p90 = report.md_table(["shape", *(f"{c} p90 ms" for c in CONFIGS)],
                          [[s, *(get[s, c]["collect_ms_p90"] for c in CONFIGS)] for s in shapes])
    failed = [f"{r['shape']} {r['config']}" for r in runs if "failed" in r]
    notes = (f"Medians over {args.repeat} worker(s) per cell of each worker's median of "
             f"{args.collects} gc.collect() wall times; configurations interleaved.  n = {args.n}, "
             f"rings = {args.rings} rings of 21 instances dropped before each collect.  tracked = "
             "len(gc.get_objects()) at the end of stock's run; freed = gc.collect()'s return "
             "value (its median).  churn: stock and stw stop the garbage-making thread for each "
             "collection, and with collections back to back it barely runs (it freed nothing "
             "per collect); the concurrent mode lets it run, so each collect frees what it made "
             "meanwhile (the freed columns): a collect costs more, but the program got work done." + (f"  Failed runs: {', '.join(failed)}." if failed else ""))
    report.write(args.out, name, "gc.collect() on small heaps", ctx, {"runs": runs},
                 f"## gc.collect() wall time\n\n{table}\n\n## 90th percentile\n\n{p90}", notes)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
