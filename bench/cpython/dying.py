"""Issue 18: a large cyclic structure that dies at once.

For each shape and size, in a worker process per configuration: automatic GC
off, build one connected cyclic structure of about SIZE tracked objects,
settle it (gc.collect() twice), start an unrelated "ticker" thread that spins
on perf_counter(), sleep 50 ms, drop the structure's root (del) and time one
gc.collect() (wall time).  Every object of the structure is garbage once the
root is dropped and none is freed by its reference count: that one collect
must find them all.

Configurations, each in its own worker process, in alternating order (as in
gc_modes.py):
  stock       the stock interpreter (its stop-the-world collector)
  stw         the tricolor interpreter with -X gc=stw (stock's algorithm: the
              in-run control)
  concurrent  the tricolor interpreter with -X gc=concurrent (the default)
With --before PY, a fourth:
  before      PY, a tricolor interpreter built from an earlier tree, with
              -X gc=concurrent (written as dying_before_after.*)
One worker process per (configuration, shape, size, repeat).

Shapes (--shapes, default all), each one connected component; the tracked
objects a unit makes were counted with len(gc.get_objects()) before building
and after settling (the same under both interpreters), and every run records
the count it measured ("tracked"):
  ring        instances of a class with __slots__ = ('next', 'data') in one
              ring, each holding a small list ([i]) as its data: 2 per
              instance (the instance and its list)
  tree        a binary tree of instances (__slots__ = ('parent', 'children'))
              with a back-pointer to the parent and the children in a list
              (empty at a leaf): 2 per node
  graph       a random graph (seeded) of dicts {"id": i, "links": [...]}, each
              linking to the next (a ring through all, so it is connected) and
              to 3 others drawn at random: 2 per node (the dict and its list)
  instances   plain instances (a __dict__, no slots) in a doubly linked ring:
              1 per instance (3.13 keeps their attributes inline, no dict
              object is made)
  mixed       ring, but every 100th instance has a __del__ (a finalizer class)
              and every 100th other one is the referent of a weakref.ref held
              in the next instance's data list: 2 per instance, plus 1 per
              weakref (2.01 per instance); the run also reports how many
              finalizers ran and whether a weakref held outside the
              structure (to its root) was cleared

Per run:
  pause       the longest stop-the-world pause of the collect: under tricolor
              gc.get_pause_stats()'s max_pause_ns (reset just before it); under
              stock, which has no pause statistics, the interval from its
              gc.callbacks 'start' to 'stop', all of it counted as a pause
  stall       the longest gap between two iterations of the ticker (an
              unrelated thread spinning on perf_counter(), ticker.py) that
              overlaps the collect (the ticker keeps every gap > 20 us, as
              start and length)
  MMU         the ticker's minimum mutator utilisation over the collect at
              1, 10 and 100 ms windows (report.mmu(); a collect shorter than
              the window is extended to one window from its start)
  collected   gc.collect()'s return; found_all: it is >= the tracked objects
              the structure was measured to have
On a machine with two or more CPUs the collecting (main) thread is pinned to
the first CPU and the ticker to the last, for every interpreter, as in
stall_worker.py; --no-pin turns it off.  Each worker has --timeout seconds; a
worker that fails (MemoryError, killed, timed out) is recorded as failed and
the run goes on.

    python3 bench/cpython/dying.py --stock PY --tricolor PY [--out DIR]
        [--shapes ring,tree,graph,instances,mixed]
        [--sizes 100000,250000,500000,1000000,2000000,4000000] [--repeat 3]
        [--quick] [--timeout 600] [--no-pin] [--before PY]

--quick: sizes 100000,1000000 and one repeat (where --sizes or --repeat is not
given).  Writes dying.json (every run, the command line, the machine),
dying.md and dying.png (worst pause vs size, one plot per shape) to --out.
"""
import gc
import json
import random
import resource
import sys
import time
import weakref
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/report.py

CONFIGS = ("stock", "stw", "concurrent")
SIZES = "100000,250000,500000,1000000,2000000,4000000"
QUICK_SIZES = "100000,1000000"
PIN = "--no-pin" not in sys.argv


class Link:
    __slots__ = ("next", "data")


def ring(n):
    head = cur = Link()
    head.data = [0]
    for i in range(1, n):
        nxt = Link()
        nxt.data = [i]
        cur.next = nxt
        cur = nxt
    cur.next = head
    return head


class TreeNode:
    __slots__ = ("parent", "children")

    def __init__(self, parent):
        self.parent = parent
        self.children = []


def tree(n):
    nodes = [TreeNode(None)]
    for i in range(1, n):
        parent = nodes[(i - 1) // 2]
        node = TreeNode(parent)
        parent.children.append(node)
        nodes.append(node)
    return nodes[0]


def graph(n):
    rnd = random.Random(18)
    nodes = [{"id": i, "links": []} for i in range(n)]
    for i, node in enumerate(nodes):
        node["links"] += [nodes[(i + 1) % n], *(nodes[rnd.randrange(n)] for _ in range(3))]
    return nodes[0]


class Plain:
    def __init__(self, i):
        self.i = i
        self.prev = self.next = None


def instances(n):
    first = last = Plain(0)
    for i in range(1, n):
        p = Plain(i)
        p.prev = last
        last.next = p
        last = p
    last.next, first.prev = first, last
    return first


FINALIZED = []                  # one item per MFinal.__del__ call


class MLink:
    __slots__ = ("next", "data", "__weakref__")


class MFinal(MLink):
    __slots__ = ()

    def __del__(self):
        FINALIZED.append(None)


def mixed(n):
    head = cur = MFinal()
    head.data = [0]
    for i in range(1, n):
        nxt = MFinal() if i % 100 == 0 else MLink()
        nxt.data = [i, weakref.ref(cur)] if i % 100 == 51 else [i]
        cur.next = nxt
        cur = nxt
    cur.next = head
    return head


# name -> (build(units) -> root, tracked objects per unit)
SHAPES = {"ring": (ring, 2), "tree": (tree, 2), "graph": (graph, 2),
          "instances": (instances, 1), "mixed": (mixed, 2.01)}


def worker(shape, size):
    from ticker import Ticker
    build, per_unit = SHAPES[shape]
    units = max(1, round(size / per_unit))
    gc.disable()
    gc.collect()
    before = len(gc.get_objects())
    t = time.perf_counter()
    root = build(units)
    build_s = time.perf_counter() - t
    gc.collect()
    gc.collect()
    tracked = len(gc.get_objects()) - before
    probe = weakref.ref(root) if shape == "mixed" else None

    tk = Ticker(PIN).start()
    cb = {}

    def callback(phase, info):
        cb[phase] = time.perf_counter()
        if phase == "stop":
            cb["collected"] = info["collected"]

    gc.callbacks.append(callback)
    stats = getattr(gc, "get_pause_stats", None)          # tricolor only
    tstats = getattr(gc, "get_tricolor_stats", None)
    collections = tstats()["collections"] if tstats else None
    if stats:
        gc.reset_pause_stats()
    del root
    t0 = time.perf_counter()
    collected = gc.collect()
    t1 = time.perf_counter()
    s = stats() if stats else None
    ts = tstats() if tstats else None
    gc.callbacks.remove(callback)
    # The ticker runs on until the longest MMU window from t0 is over, and a
    # little past the collect: a stall that ends just after it still counts.
    tk.wait_past(t0, t1)
    tk.stop()

    run = {"shape": shape, "size": size, "units": units, "expected": round(units * per_unit),
           "tracked": tracked, "build_s": build_s, "collect_ms": (t1 - t0) * 1e3,
           "collected": collected, "found_all": collected >= tracked,
           "callback_ms": (cb["stop"] - cb["start"]) * 1e3 if "start" in cb and "stop" in cb
           else None, "callback_collected": cb.get("collected")}
    if s:
        by_reason = {}
        for p in s["pauses"]:
            by_reason[p["reason"]] = max(by_reason.get(p["reason"], 0), p["pause_ns"] / 1e6)
        run.update(pause_source="gc.get_pause_stats", max_pause_ms=s["max_pause_ns"] / 1e6,
                   max_wait_ms=s["max_wait_ns"] / 1e6, pauses=s["count"],
                   pause_by_reason_ms=by_reason)
    else:
        run.update(pause_source="gc.callbacks",
                   max_pause_ms=run["callback_ms"] if run["callback_ms"] is not None
                   else run["collect_ms"], max_wait_ms=None, pauses=1, pause_by_reason_ms={})
    if ts:
        run.update(collections=ts["collections"] - collections, tricolor_stats=ts)
    if shape == "mixed":
        run.update(finalized=len(FINALIZED), finalizers=len(range(0, units, 100)),
                   weakref_cleared=probe() is None)
    end, gaps = tk.end(t0, t1), tk.gaps
    run.update(
        stall_ms=tk.stall_ms(t0, t1),
        run_stall_ms=max((d for a, d in gaps), default=0.0) * 1e3,
        **tk.mmu(t0, t1),
        # the gaps over the MMU interval, in ms from t0
        gaps_ms=[[round((a - t0) * 1e3, 4), round(d * 1e3, 4)] for a, d in gaps
                 if a <= end and a + d >= t0],
        gaps_total=len(gaps), pinned=tk.pinned,
        maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(run))


def parse_sizes(text):
    """'100000,1M,250k' -> [100000, 1000000, 250000]."""
    scale = {"k": 1000, "m": 1000000}
    out = []
    for s in text.lower().replace("_", "").split(","):
        s = s.strip()
        out.append(int(float(s[:-1]) * scale[s[-1]]) if s[-1] in scale else int(s))
    return out


def run_one(args, config, shape, size, repeat):
    import report
    cmd = [*report.config_argv(args, config), __file__, "--worker", shape, size,
           *(["--no-pin"] if args.no_pin else [])]
    return {"config": config, "repeat": repeat, "shape": shape, "size": size,
            **report.try_run_json(cmd, timeout=args.timeout)}


def summarize(runs, shapes, sizes):
    import report
    rows = []
    for shape in shapes:
        for size in sizes:
            for config in CONFIGS:
                rs = [r for r in runs if (r["shape"], r["size"], r["config"]) == (shape, size, config)]
                ok = [r for r in rs if "failed" not in r]
                med = lambda key: report.median([r[key] for r in ok])  # noqa: E731
                rows.append({"shape": shape, "size": size, "config": config, "runs": len(rs),
                             "failed": len(rs) - len(ok), "max_pause_ms": med("max_pause_ms"),
                             "stall_ms": med("stall_ms"), "mmu_1ms": med("mmu_1ms"),
                             "mmu_10ms": med("mmu_10ms"), "mmu_100ms": med("mmu_100ms"),
                             "collect_ms": med("collect_ms"),
                             "found_all": sum(r["found_all"] for r in ok),
                             "tracked": med("tracked"), "collected": med("collected")})
    return rows


def tables(rows, shapes, sizes, repeat):
    import report
    def cell(r, key):           # .3g but no exponent: 1490, not 1.49e+03
        v = r[key]
        return "failed" if r["failed"] == r["runs"] else round(v) if v >= 1000 else v
    sections = []
    for shape in shapes:
        lines = []
        for size in sizes:
            rs = {r["config"]: r for r in rows if (r["shape"], r["size"]) == (shape, size)}
            missed = [f"{c} {rs[c]['runs'] - rs[c]['failed'] - rs[c]['found_all']}"
                      f"/{rs[c]['runs'] - rs[c]['failed']}"
                      for c in CONFIGS if rs[c]["found_all"] < rs[c]["runs"] - rs[c]["failed"]]
            failed = [f"{c} {rs[c]['failed']}/{rs[c]['runs']}" for c in CONFIGS if rs[c]["failed"]]
            lines.append([size, *(cell(rs[c], key) for key in
                                  ("max_pause_ms", "stall_ms", "mmu_10ms", "collect_ms")
                                  for c in CONFIGS),
                          rs[CONFIGS[0]]["tracked"],
                          ("no: " + ", ".join(missed) if missed else "yes") +
                          ("; failed: " + ", ".join(failed) if failed else "")])
        sections.append(f"## {shape}\n\n" + report.md_table(
            ["size", *(f"{c} {m}" for m in ("pause ms", "stall ms", "MMU@10ms", "collect ms")
                       for c in CONFIGS), "tracked", "all found"], lines))
    ratio = []
    for size in sizes:
        line = [size]
        for shape in shapes:
            rs = {r["config"]: r for r in rows if (r["shape"], r["size"]) == (shape, size)}
            con, st = rs["concurrent"]["stall_ms"], rs["stock"]["stall_ms"]
            line.append(con / st if st and st == st and con == con else float("nan"))
        ratio.append(line)
    sections.append("## Summary: concurrent stall / stock stall\n\n" +
                    report.md_table(["size", *shapes], ratio))
    return ("\n\n".join(sections) +
            f"\n\nMedians of {repeat} run(s) per cell, one worker process each.  pause = the "
            "longest stop-the-world pause of the one gc.collect() (tricolor: "
            "gc.get_pause_stats(); stock has none, so its pause is the gc.callbacks 'start' to "
            "'stop' interval, all of it counted: an upper bound, since 3.13t's collector restarts "
            "the world before it calls finalizers and clears and frees the garbage).  stall = the "
            "longest gap of an unrelated thread spinning on perf_counter() that overlaps the "
            "collect; MMU@10ms = that thread's least share of any 10 ms window of the collect "
            "(a collect shorter than 10 ms: of the 10 ms from its start) that it ran.  "
            "collect ms = the collect's wall time.  tracked = the objects the structure was "
            "measured to have (len(gc.get_objects()) before building and after settling); all "
            "found: every run's gc.collect() returned at least that many (else, per "
            "configuration, the runs that did not).  The summary divides the median stalls.\n")


def plot(rows, shapes, sizes, path):
    import report
    plt = report.pyplot()
    from matplotlib.ticker import NullFormatter
    cols = min(3, len(shapes))
    nrows = (len(shapes) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.6 * nrows), squeeze=False)
    style = {"stock": ("o", "tab:blue"), "stw": ("^", "tab:green"), "concurrent": ("s", "tab:orange"),
             "before": ("D", "tab:red")}
    for ax in axes.flat[len(shapes):]:
        ax.set_visible(False)
    for i, (shape, ax) in enumerate(zip(shapes, axes.flat)):
        for name in CONFIGS:
            pts = [r for r in rows if (r["shape"], r["config"]) == (shape, name)
                   and r["failed"] < r["runs"]]
            marker, color = style[name]
            ax.plot([r["size"] for r in pts], [r["max_pause_ms"] for r in pts], marker=marker,
                    color=color, label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes, [f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k" for n in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        title = f"{shape}: worst stop-the-world pause"
        if i < len(shapes) - 1:
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("structure size (tracked objects)")
            ax.set_ylabel("ms (log)")
            ax.legend(fontsize=8)
        else:
            report.save_plot(fig, ax, path, title, "ms (log)", "structure size (tracked objects)",
                             title_size=10)


def main():
    import report
    p = report.parser(__doc__)
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--sizes", help=f"structure sizes in tracked objects (default {SIZES})")
    p.add_argument("--repeat", type=int, help="worker processes per configuration, shape and "
                   "size (default 3)")
    p.add_argument("--quick", action="store_true",
                   help=f"sizes {QUICK_SIZES} and 1 repeat, where not given")
    p.add_argument("--timeout", type=float, default=600, help="seconds per worker process")
    p.add_argument("--no-pin", action="store_true", help="do not pin the threads to CPUs")
    p.add_argument("--before", help="a tricolor interpreter of an earlier tree (config 'before')")
    args = p.parse_args()
    global CONFIGS
    if args.before:
        CONFIGS = ("stock", "stw", "before", "concurrent")
    name = "dying_before_after" if args.before else "dying"
    shapes = args.shapes.split(",")
    for s in shapes:
        if s not in SHAPES:
            p.error(f"unknown shape {s!r} (have {', '.join(SHAPES)})")
    sizes = parse_sizes(args.sizes or (QUICK_SIZES if args.quick else SIZES))
    repeat = args.repeat or (1 if args.quick else 3)
    ctx = report.context(args)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    runs, k = [], 0
    for shape in shapes:
        for size in sizes:
            for rep in range(repeat):
                for config in report.alternate(CONFIGS, k):
                    r = run_one(args, config, shape, size, rep)
                    runs.append(r)
                    why = r.get("failed", "").strip().splitlines() or [""]
                    print(f"{shape} {size} {config} #{rep}: " + (
                        f"FAILED ({why[-1]})" if "failed" in r else
                        f"pause {r['max_pause_ms']:.2f} ms, stall {r['stall_ms']:.2f} ms, "
                        f"collect {r['collect_ms']:.1f} ms, collected {r['collected']}"
                        f"/{r['tracked']}"), flush=True)
                k += 1
    rows = summarize(runs, shapes, sizes)
    plot(rows, shapes, sizes, f"{args.out}/{name}.png")
    title = ("Before vs after: a large cyclic structure that dies at once"
             if args.before else "A large cyclic structure that dies at once (issue 18)")
    report.write(args.out, name, title, ctx,
                 {"args": vars(args), "configs": list(CONFIGS), "summary": rows, "runs": runs},
                 tables(rows, shapes, sizes, repeat))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        main()
