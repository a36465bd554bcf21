"""Heaps of types the concurrent marker once could not read (opaque objects).

The concurrent collector traces only the types it can read with the world
running (docs/cpython.md §5).  Before runtime-patch 0006 that list stopped at
tuple, list, dict, set, cell, method, module, function, type and instances of
`class` statements: a deque, a generator, a functools.partial, an
OrderedDict, a defaultdict, an asyncio task or future was opaque -- marked,
not traced.  Everything behind a live opaque object then stays unmarked and
is a candidate; the opaque candidates share one batch, closed in its pause
over all they reference (papers/design.md §6.2), so that one pause grows
with everything behind an opaque object and can exceed stock's whole
gc.collect().  Patch 0006 reads these types concurrently (papers/design.md
§9); this measures each shape on a live heap, and with --before PY the build
before it, side by side with stock.

Shapes (--shapes, default all): N units (--n) held live by one root, each
unit holding [i] (a small list) and a reference back to its container, so that
the heap is cyclic:
  lists        a list of lists [i, [i], root]: the baseline, traced concurrently
  deque        a deque of deques deque([i, [i], root])
  generators   a deque of generators, each suspended at a yield with the locals
               i, owner (the deque), str(i) and [i, owner]
  partial      partial(f, *units), a unit partial(f, partial(f, [i]), holder),
               holder a list holding the root
  odict        an OrderedDict of OrderedDicts (a=[i], b=i, up=root)
  defaultdict  a defaultdict of defaultdict(list)s with the same items
  tasks        a list of asyncio tasks of one running event loop, each
               suspended awaiting its own pending Future, its coroutine holding
               [future, root]; the measurements run inside the loop (from a
               coroutine), then the tasks are cancelled and awaited
  mixed        N // 7 units of each of the above, in one list
Every run records the tracked objects its heap has (len(gc.get_objects())
before building and after settling).

Configurations as in dying.py, interleaved (report.alternate), one worker
process per (configuration, shape, repeat): stock, stw (-X gc=stw), concurrent
(-X gc=concurrent); with --before PY a fourth, before (PY, -X gc=concurrent;
written as opaque_before_after.*).  A worker: automatic GC off, build,
gc.collect() twice to settle, start the ticker (an unrelated thread spinning
on perf_counter(), ticker.py; pinned as in dying.py, --no-pin), then
--collects gc.collect() calls, each followed by a sleep to 100 ms past its
start (and 5 ms past its end).  Per collect:
  pause    the longest stop-the-world pause: under the fork
           gc.get_pause_stats()'s max_pause_ns (reset just before); under
           stock, which has none, its gc.callbacks 'start' to 'stop' interval,
           all of it counted as a pause (as dying.py)
  stall    the ticker's longest gap that overlaps the collect
  MMU      the ticker's over the collect at 1, 10, 100 ms (report.mmu())
  collect  gc.collect()'s wall time
  tricolor gc.get_tricolor_stats() after it (its collection's allowlist
           coverage, marked, opaque_marked, candidates, verified,
           opaque_candidates, expanded, and opaque_types where the build has
           it)
A run's figures: the worst over its collects (pause, stall, MMU), the median
collect, the last collect's tricolor figures, the peak RSS (ru_maxrss).
With --churn M, then also automatic collections: GC on, the main thread makes
M garbage cycles (a list holding itself), and the same figures over that
interval, the pause the longest of any collection in it (a collection still
running at its end counts only its pauses so far) and the collections counted
(those gc.callbacks saw end in it).

    python3 bench/cpython/opaque.py --stock PY --tricolor PY [--out DIR]
        [--shapes lists,deque,generators,partial,odict,defaultdict,tasks,mixed]
        [--n 100000] [--collects 3] [--repeat 3] [--churn 0] [--timeout 600]
        [--no-pin] [--before PY]

Writes opaque.json (every run, the command line, the machine, the load),
opaque.md and opaque.png (the longest pause per shape and configuration) to
--out.
"""
import collections
import functools
import gc
import inspect
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/report.py

CONFIGS = ("stock", "stw", "concurrent")
PIN = "--no-pin" not in sys.argv
TRICOLOR = ("allowlist_coverage", "marked", "opaque_marked", "candidates", "verified",
            "opaque_candidates", "expanded")
WINDOWS = ("mmu_1ms", "mmu_10ms", "mmu_100ms")


def f(*args):
    pass


def lists(n):
    root = []
    root.extend([i, [i], root] for i in range(n))
    return root


def deque(n):
    root = collections.deque()
    root.extend(collections.deque([i, [i], root]) for i in range(n))
    return root


def suspended(i, owner):
    name, local = str(i), [i, owner]
    yield local
    yield name


def generators(n):
    root = collections.deque()
    for i in range(n):
        g = suspended(i, root)
        next(g)
        root.append(g)
    return root


def partial(n):
    holder = []
    root = functools.partial(f, *(functools.partial(f, functools.partial(f, [i]), holder)
                                  for i in range(n)))
    holder.append(root)
    return root


def odict(n):
    root = collections.OrderedDict()
    for i in range(n):
        root[i] = collections.OrderedDict(a=[i], b=i, up=root)
    return root


def defaultdict(n):
    root = collections.defaultdict(collections.defaultdict)
    for i in range(n):
        root[i] = collections.defaultdict(list, a=[i], b=i, up=root)
    return root


async def waiting(future, owner):
    local = [future, owner]     # held by the suspended coroutine's frame
    await future
    return local


def tasks(n):
    """Tasks of the running loop: each starts at its next iteration."""
    import asyncio
    loop = asyncio.get_running_loop()
    root = []
    root.extend(loop.create_task(waiting(loop.create_future(), root)) for _ in range(n))
    return root


def mixed(n):
    return [build(n // 7) for name, build in SHAPES.items() if name != "mixed"]


SHAPES = {"lists": lists, "deque": deque, "generators": generators, "partial": partial,
          "odict": odict, "defaultdict": defaultdict, "tasks": tasks, "mixed": mixed}
IN_LOOP = ("tasks", "mixed")


def cycles(m):
    for _ in range(m):
        a = []
        a.append(a)


def measure(before, collects, churn):
    """Settle, then time `collects` gc.collect() calls (and, with churn, the
    automatic collections of making `churn` garbage cycles) beside the ticker."""
    import report
    from ticker import Ticker
    gc.collect()
    gc.collect()
    tracked = len(gc.get_objects()) - before
    pstats = getattr(gc, "get_pause_stats", None)          # the fork only
    tstats = getattr(gc, "get_tricolor_stats", None)
    tk = Ticker(PIN).start()
    spans = []                  # gc.callbacks' [start, stop] of each collection

    def callback(phase, info):
        if phase == "start":
            spans.append([time.perf_counter(), None])
        elif spans:
            spans[-1][1] = time.perf_counter()

    def interval(action):
        spans.clear()
        if pstats:
            gc.reset_pause_stats()
        t0 = time.perf_counter()
        ret = action()
        t1 = time.perf_counter()
        s = pstats() if pstats else None
        ts = tstats() if tstats else None
        done = [b - a for a, b in spans if b is not None]
        tk.wait_past(t0, t1)
        r = {"wall_ms": (t1 - t0) * 1e3, "returned": ret, "collections": len(done),
             "callback_ms": max(done, default=0.0) * 1e3,
             "stall_ms": tk.stall_ms(t0, t1), **tk.mmu(t0, t1)}
        if s:
            by_reason = {}
            for p in s["pauses"]:
                by_reason[p["reason"]] = max(by_reason.get(p["reason"], 0), p["pause_ns"] / 1e6)
            r.update(pause_source="gc.get_pause_stats", max_pause_ms=s["max_pause_ns"] / 1e6,
                     max_wait_ms=s["max_wait_ns"] / 1e6, pauses=s["count"],
                     pause_by_reason_ms=by_reason)
        else:
            r.update(pause_source="gc.callbacks", max_pause_ms=r["callback_ms"] if done
                     else r["wall_ms"] if action is gc.collect else 0.0)
        if ts and ts["mode"] == "concurrent":   # opaque_types: in later builds only
            r["tricolor"] = {k: ts[k] for k in ("collections", *TRICOLOR, "opaque_types")
                             if k in ts}
        return r

    gc.callbacks.append(callback)
    runs = [interval(gc.collect) for _ in range(collects)]
    auto = None
    if churn:
        gc.enable()
        auto = interval(lambda: cycles(churn))
        gc.disable()
    gc.callbacks.remove(callback)
    tk.stop()
    return {"tracked": tracked, "max_pause_ms": max(r["max_pause_ms"] for r in runs),
            "stall_ms": max(r["stall_ms"] for r in runs),
            **{w: min(r[w] for r in runs) for w in WINDOWS},
            "collect_ms": report.median([r["wall_ms"] for r in runs]),
            "tricolor": runs[-1].get("tricolor"), "auto": auto, "collects": runs,
            "pinned": tk.pinned,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


async def in_loop(shape, n, collects, churn):
    import asyncio
    gc.collect()
    before = len(gc.get_objects())
    root = SHAPES[shape](n)
    await asyncio.sleep(0)      # every task runs to its await of a pending future
    pending = asyncio.all_tasks() - {asyncio.current_task()}
    suspended = sum(inspect.getcoroutinestate(t.get_coro()) == "CORO_SUSPENDED" for t in pending)
    run = measure(before, collects, churn)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    del root
    return {**run, "tasks": len(pending), "suspended": suspended,
            "cancelled": sum(t.cancelled() for t in pending)}


def worker(shape, n, collects, churn):
    import ticker  # noqa: F401 (with report.py, imported before the heap is counted)
    gc.disable()
    if shape in IN_LOOP:
        import asyncio
        run = asyncio.run(in_loop(shape, n, collects, churn))
    else:
        gc.collect()
        before = len(gc.get_objects())
        root = SHAPES[shape](n)  # noqa: F841 (live through the measurements)
        run = measure(before, collects, churn)
        del root
    print(json.dumps({"n": n, **run}))


def summarize(runs, shapes):
    import report
    rows = []
    for shape in shapes:
        for config in CONFIGS:
            rs = [r for r in runs if (r["shape"], r["config"]) == (shape, config)]
            ok = [r for r in rs if "failed" not in r]
            med = lambda get: report.median([get(r) for r in ok])  # noqa: E731
            row = {"shape": shape, "config": config, "runs": len(rs), "failed": len(rs) - len(ok),
                   **{k: med(lambda r: r[k]) for k in ("max_pause_ms", "stall_ms", *WINDOWS,
                                                        "collect_ms", "maxrss_mb", "tracked")}}
            if ok and ok[0]["tricolor"]:
                row.update({k: med(lambda r: r["tricolor"][k]) for k in TRICOLOR})
                types = ok[0]["tricolor"].get("opaque_types")   # the first run's
                row["opaque_types"] = "; ".join(
                    f"{t} {c}" for t, c in sorted(types.items(), key=lambda x: -x[1])[:3]
                ) if types else "-"
            if ok and ok[0]["auto"]:
                row.update({f"auto_{k}": med(lambda r: r["auto"][k]) for k in
                            ("collections", "max_pause_ms", "stall_ms", "mmu_10ms", "wall_ms")})
            rows.append(row)
    return rows


def tables(rows, shapes, args):
    import report
    get = {(r["shape"], r["config"]): r for r in rows}

    def cell(shape, config, key):   # .3g but no exponent: 1490, not 1.49e+03
        r = get[shape, config]
        v = r.get(key, float("nan"))
        return "failed" if r["failed"] == r["runs"] else round(v) if v >= 1000 else v

    def ratio(shape, a, b):
        x, y = get[shape, a]["max_pause_ms"], get[shape, b]["collect_ms"]
        return x / y if y and x == x and y == y else float("nan")

    conc = [c for c in CONFIGS if c in ("before", "concurrent")]
    main = report.md_table(
        ["shape", "tracked", "stock collect ms", *(f"{c} pause ms" for c in CONFIGS),
         *(f"{c} pause / stock collect" for c in conc), *(f"{c} stall ms" for c in CONFIGS)],
        [[s, cell(s, "stock", "tracked"), cell(s, "stock", "collect_ms"),
          *(cell(s, c, "max_pause_ms") for c in CONFIGS), *(ratio(s, c, "stock") for c in conc),
          *(cell(s, c, "stall_ms") for c in CONFIGS)] for s in shapes])
    mmu = report.md_table(
        ["shape", *(f"{c} MMU@{w[4:]}" for w in WINDOWS for c in CONFIGS)],
        [[s, *(cell(s, c, w) for w in WINDOWS for c in CONFIGS)] for s in shapes])
    counts = report.md_table(
        ["shape", "config", *TRICOLOR, "opaque_types (most marked)"],
        [[s, c, *(cell(s, c, k) for k in TRICOLOR), get[s, c].get("opaque_types", "-")]
         for s in shapes for c in conc])
    cost = report.md_table(
        ["shape", *(f"{c} collect ms" for c in CONFIGS), *(f"{c} peak RSS MiB" for c in CONFIGS)],
        [[s, *(cell(s, c, k) for k in ("collect_ms", "maxrss_mb") for c in CONFIGS)]
         for s in shapes])
    sections = [f"## Longest pause and worst stall over {args.collects} gc.collect()\n\n{main}",
                f"## MMU of the unrelated thread\n\n{mmu}",
                f"## The concurrent collection's figures (gc.get_tricolor_stats())\n\n{counts}",
                f"## gc.collect() wall time and peak RSS\n\n{cost}"]
    if args.churn:
        keys = {"auto_collections": "collections", "auto_max_pause_ms": "pause ms",
                "auto_stall_ms": "stall ms", "auto_mmu_10ms": "MMU@10ms", "auto_wall_ms": "wall ms"}
        sections.append(
            f"## Automatic collections while making {args.churn} garbage cycles\n\n" +
            report.md_table(["shape", *(f"{c} {h}" for h in keys.values() for c in CONFIGS)],
                            [[s, *(cell(s, c, k) for k in keys for c in CONFIGS)]
                             for s in shapes]))
    failed = [f"{r['shape']} {r['config']} {r['failed']}/{r['runs']}" for r in rows if r["failed"]]
    if failed:                  # the medians are of the runs that did not fail
        sections.append("Failed runs (see the JSON): " + ", ".join(failed) + ".")
    return ("\n\n".join(sections) +
            f"\n\nN = {args.n} units per shape (tracked = the tracked objects the heap has); "
            f"medians of {args.repeat} run(s) per cell, one worker process each, configurations "
            "interleaved.  pause = the longest stop-the-world pause of any of a run's "
            f"{args.collects} gc.collect() (the fork: gc.get_pause_stats(), any reason; stock has "
            "none, so its pause is the gc.callbacks 'start' to 'stop' interval, all of it counted: "
            "an upper bound).  stock collect ms = its gc.collect()'s wall time (the median of the "
            "run's collects), the column to read the concurrent pause against.  stall = the "
            "longest gap of an unrelated thread spinning on perf_counter() that overlaps a "
            "collect; MMU@W = that thread's least share of any W window of a collect (a collect "
            "shorter than W: the W from its start), the lowest of the run's collects.  The "
            "concurrent figures are the last collect's: allowlist_coverage = the share of "
            "marked objects traced concurrently; opaque_candidates = the candidates the "
            "marker could not read, verified = those the filter left for the pauses, "
            "expanded = what the pause's closure over them added; opaque_types = the three types with the most "
            "opaque marked objects, from the first run (gc.get_tricolor_stats()['opaque_types'], "
            "where the build has it).")


def plot(rows, shapes, path):
    import report
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(1.3 * len(shapes) + 2, 4.5))
    color = {"stock": "tab:blue", "stw": "tab:green", "concurrent": "tab:orange",
             "before": "tab:red"}
    width, top = 0.8 / len(CONFIGS), 0.0
    for j, config in enumerate(CONFIGS):
        ys = [r["max_pause_ms"] for s in shapes for r in rows
              if (r["shape"], r["config"]) == (s, config)]
        ax.bar([i + (j - (len(CONFIGS) - 1) / 2) * width for i in range(len(shapes))], ys,
               width, color=color[config], label=config)
        top = max([top, *(y for y in ys if y == y)])
    ax.set_xticks(range(len(shapes)), shapes)
    if top > 0:                 # else every run failed: nothing to scale
        ax.set_yscale("log")
    report.save_plot(fig, ax, path, "Longest stop-the-world pause of gc.collect() over a live "
                     "heap behind opaque objects", "ms (log)", title_size=10)


def main():
    import report
    p = report.parser(__doc__)
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--n", type=int, default=100_000, help="units per shape (default 100000)")
    p.add_argument("--collects", type=int, default=3, help="gc.collect() per worker (default 3)")
    p.add_argument("--repeat", type=int, default=3,
                   help="worker processes per configuration and shape (default 3)")
    p.add_argument("--churn", type=int, default=0,
                   help="then also time the automatic collections of making this many garbage "
                   "cycles (default 0: not measured)")
    p.add_argument("--timeout", type=float, default=600, help="seconds per worker process")
    p.add_argument("--no-pin", action="store_true", help="do not pin the threads to CPUs")
    p.add_argument("--before", help="a tricolor interpreter of an earlier tree (config 'before')")
    args = p.parse_args()
    global CONFIGS
    if args.before:
        CONFIGS = ("stock", "stw", "before", "concurrent")
    name = "opaque_before_after" if args.before else "opaque"
    shapes = args.shapes.split(",")
    for s in shapes:
        if s not in SHAPES:
            p.error(f"unknown shape {s!r} (have {', '.join(SHAPES)})")
    ctx = report.context(args)
    load = os.getloadavg()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    runs = []
    for k, (shape, rep) in enumerate((s, r) for s in shapes for r in range(args.repeat)):
        for config in report.alternate(CONFIGS, k):
            cmd = [*report.config_argv(args, config), __file__, "--worker", shape, args.n,
                   args.collects, args.churn, *(["--no-pin"] if args.no_pin else [])]
            r = {"config": config, "repeat": rep, "shape": shape,
                 **report.try_run_json(cmd, timeout=args.timeout)}
            runs.append(r)
            why = r.get("failed", "").strip().splitlines() or [""]
            print(f"{shape} {config} #{rep}: " + (
                f"FAILED ({why[-1]})" if "failed" in r else
                f"pause {r['max_pause_ms']:.2f} ms, stall {r['stall_ms']:.2f} ms, "
                f"collect {r['collect_ms']:.1f} ms, tracked {r['tracked']}"), flush=True)
    rows = summarize(runs, shapes)
    plot(rows, shapes, f"{args.out}/{name}.png")
    load_note = (f"Load average (1, 5, 15 min) at the start {', '.join(f'{x:.2f}' for x in load)}, "
                 f"at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    title = ("Before vs after: heaps of types the concurrent marker cannot read" if args.before
             else "Heaps of types the concurrent marker cannot read (opaque objects)")
    report.write(args.out, name, title, ctx,
                 {"args": vars(args), "configs": list(CONFIGS), "loadavg_start": load,
                  "loadavg_end": os.getloadavg(), "summary": rows, "runs": runs},
                 tables(rows, shapes, args), notes=load_note)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], *map(int, sys.argv[3:6]))
    else:
        main()
