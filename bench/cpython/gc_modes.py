"""Issue 4: the concurrent collector against stock and the stw mode, in one run.

Three configurations, each in its own worker process, in alternating order:
  stock       the stock interpreter (its stop-the-world collector)
  stw         the tricolor interpreter with -X gc=stw (stock's algorithm: the
              in-run control)
  concurrent  the tricolor interpreter with -X gc=concurrent (the default)
With --before PY, a fourth:
  before      PY, a tricolor interpreter built from an earlier tree, with
              -X gc=concurrent: a before/after comparison in the same run,
              interleaved with the others (written as gc_modes_before_after.*)

Parts (--parts, default all):
  pause       N live objects (N empty lists held in one list, as in issue 2's
              baseline), automatic GC off; --collects gc.collect() calls.  Per
              collect: the longest stop-the-world pause and the time-to-
              safepoint (gc.get_pause_stats(); for stock, which has no pause
              statistics, the collect's wall time, all of it a pause), the
              phase names of the pauses, and the worst stall of an unrelated
              Python thread that spins on perf_counter() (the longest gap
              between two of its iterations that overlaps the collect) and
              its minimum mutator utilisation at 1, 10 and 100 ms windows
              over the collect (report.mmu(), its gaps over 20 us).
  throughput  a cycle-free, allocation-heavy workload: build a live heap of
              1 M lists, then make and drop dicts, lists, tuples and
              instances; automatic GC on; wall time of the whole workload
              (and of the second phase alone), single-threaded and with the
              churn split over 2 threads.  --repeat runs per configuration.
  rss         a cycle-heavy workload (rings of instances dropped), automatic
              GC on; peak RSS (ru_maxrss) at the end.

    python3 bench/cpython/gc_modes.py --stock PY --tricolor PY [--out DIR]
        [--sizes 200000,2000000,8000000] [--collects 5] [--repeat 5]
        [--parts pause,throughput,rss] [--before PY]

Writes gc_modes.json, gc_modes.md and gc_modes.png (pause vs heap) to --out.
"""
import gc
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/report.py

CONFIGS = ("stock", "stw", "concurrent")
MMU_WINDOWS_MS = (1, 10, 100)


def pause_worker(n, collects):
    gc.disable()
    live = [[] for _ in range(n)]
    import report
    state = {"collecting": False, "stop": False, "worst": 0.0, "gaps": []}

    def ticker():
        last = time.perf_counter()
        while not state["stop"]:
            t = time.perf_counter()
            if state["collecting"]:
                if t - last > state["worst"]:
                    state["worst"] = t - last
                if t - last > 20e-6:
                    state["gaps"].append((last, t - last))
            last = t

    th = threading.Thread(target=ticker)
    th.start()
    time.sleep(0.05)
    stats = getattr(gc, "get_pause_stats", None)
    runs = []
    for _ in range(collects):
        if stats:
            gc.reset_pause_stats()
        state["worst"] = 0.0
        state["gaps"] = []
        state["collecting"] = True
        t0 = time.perf_counter()
        gc.collect()
        t1 = time.perf_counter()
        wall = t1 - t0
        time.sleep(0.002)  # a stall that ends just after the collect still counts
        state["collecting"] = False
        run = {"collect_ms": wall * 1e3, "stall_ms": state["worst"] * 1e3}
        # The ticker's minimum mutator utilisation over the collect.
        run.update({f"mmu_{w}ms": report.mmu(state["gaps"], t0, t1, w / 1e3) for w in MMU_WINDOWS_MS})
        if stats:
            p = stats()["pauses"]
            run.update(max_pause_ms=max((x["pause_ns"] for x in p), default=0) / 1e6,
                       max_wait_ms=max((x["wait_ns"] for x in p), default=0) / 1e6,
                       pauses=len(p), reasons=sorted({x["reason"] for x in p}))
        else:
            run.update(max_pause_ms=wall * 1e3, max_wait_ms=float("nan"), pauses=1, reasons=[])
        runs.append(run)
        time.sleep(0.02)
    state["stop"] = True
    th.join()
    print(json.dumps({"n": n, "live": len(live), "runs": runs}))


class Node:
    def __init__(self, i):
        self.i = i
        self.next = None


def churn(iters):
    for i in range(iters):
        d = {"a": [i, i + 1], "b": (i, str(i))}
        n = Node(i)
        n.next = [d, (d,)]


def throughput_worker(threads, iters):
    start = time.perf_counter()
    live = [[] for _ in range(1_000_000)]
    t0 = time.perf_counter()
    if threads == 1:
        churn(iters)
    else:
        ts = [threading.Thread(target=churn, args=(iters // threads,)) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    end = time.perf_counter()
    print(json.dumps({"s": end - start, "churn_s": end - t0, "live": len(live)}))


def rss_worker(rings):
    import resource
    live = [[] for _ in range(500_000)]
    for r in range(rings):
        a, b, c = Node(r), Node(r), Node(r)
        a.next, b.next, c.next = b, c, [a, {"x": a}]
    print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "live": len(live)}))


def plot(rows, path):
    import report
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    style = {"stock": ("o", "tab:blue"), "stw": ("^", "tab:green"), "concurrent": ("s", "tab:orange"),
             "before": ("D", "tab:red")}
    for name in CONFIGS:
        pts = [r for r in rows if r["config"] == name]
        marker, color = style[name]
        n = [r["n"] for r in pts]
        ax.plot(n, [r["max_pause_ms"] for r in pts], marker=marker, color=color,
                label=f"{name}: max STW pause")
        ax.plot(n, [r["max_stall_ms"] for r in pts], marker=marker, color=color, ls=":",
                label=f"{name}: worst stall of another thread")
    ax.set_xscale("log")
    ax.set_yscale("log")
    report.save_plot(fig, ax, path, "Stop-the-world pause per collection vs live heap",
                     "ms (log)", "live tracked objects")


def main():
    import report
    p = report.parser(__doc__)
    p.add_argument("--sizes", default="200000,2000000,8000000")
    p.add_argument("--collects", type=int, default=5)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--iters", type=int, default=3_000_000)
    p.add_argument("--rings", type=int, default=1_000_000)
    p.add_argument("--parts", default="pause,throughput,rss")
    p.add_argument("--before", help="a tricolor interpreter of an earlier tree (config 'before')")
    args = p.parse_args()
    global CONFIGS
    if args.before:
        CONFIGS = ("stock", "stw", "before", "concurrent")
    name = "gc_modes_before_after" if args.before else "gc_modes"
    parts = set(args.parts.split(","))
    ctx = report.context(args)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    data, sections = {}, []
    if "pause" in parts:
        rows = []
        for i, n in enumerate(int(s) for s in args.sizes.split(",")):
            for config in report.alternate(CONFIGS, i):
                res = report.run_json([*report.config_argv(args, config), __file__, "--pause-worker", n,
                                       args.collects])
                rs = res["runs"]
                rows.append({"config": config, "n": n,
                             "max_pause_ms": max(r["max_pause_ms"] for r in rs),
                             "median_pause_ms": report.median([r["max_pause_ms"] for r in rs]),
                             "max_wait_ms": max(r["max_wait_ms"] for r in rs),
                             "max_stall_ms": max(r["stall_ms"] for r in rs),
                             **{f"min_mmu_{w}ms": min(r[f"mmu_{w}ms"] for r in rs) for w in MMU_WINDOWS_MS},
                             "median_collect_ms": report.median([r["collect_ms"] for r in rs]),
                             "reasons": sorted({x for r in rs for x in r["reasons"]}),
                             "runs": rs})
        rows.sort(key=lambda r: (r["n"], CONFIGS.index(r["config"])))
        data["pause"] = rows
        plot(rows, f"{args.out}/{name}.png")
        sections.append("## Pause vs live heap\n\n" + report.md_table(
            ["live objects", "config", "max STW pause ms", "median of per-collect max ms",
             "max wait ms", "worst stall ms", *(f"MMU {w} ms" for w in MMU_WINDOWS_MS),
             "collect ms median", "pauses named"],
            [[r["n"], r["config"], r["max_pause_ms"], r["median_pause_ms"], r["max_wait_ms"],
              r["max_stall_ms"], *(r[f"min_mmu_{w}ms"] for w in MMU_WINDOWS_MS), r["median_collect_ms"],
              ", ".join(r["reasons"]) or "-"]
             for r in rows]) +
            f"\n\n{args.collects} gc.collect() per process; stock has no pause statistics, so its "
            "pause is the collect's wall time.  The stall is the longest gap of a Python thread "
            "spinning on perf_counter() that overlaps a collect (it includes time-to-safepoint "
            "and scheduling on this machine); MMU W ms is that thread's minimum mutator utilisation, "
            "the least share of any W ms window of a collect that it ran (a collect shorter than W: "
            "the W ms from its start), the lowest over the collects.\n")
    if "throughput" in parts:
        rows = []
        for threads in (1, 2):
            times = {c: [] for c in CONFIGS}
            churn = {c: [] for c in CONFIGS}
            for k in range(args.repeat):
                for config in report.alternate(CONFIGS, k):
                    res = report.run_json([*report.config_argv(args, config), __file__, "--throughput-worker",
                                           threads, args.iters])
                    times[config].append(res["s"])
                    churn[config].append(res["churn_s"])
            med = {c: report.median(times[c]) for c in CONFIGS}
            cmed = {c: report.median(churn[c]) for c in CONFIGS}
            rows.append({"threads": threads, "median_s": med, "runs_s": times,
                         "churn_median_s": cmed, "churn_runs_s": churn,
                         "concurrent_over_stock": med["concurrent"] / med["stock"],
                         "stw_over_stock": med["stw"] / med["stock"],
                         "churn_concurrent_over_stock": cmed["concurrent"] / cmed["stock"]})
            if args.before:
                rows[-1]["concurrent_over_before"] = med["concurrent"] / med["before"]
        data["throughput"] = rows
        before = ["concurrent / before"] if args.before else []
        sections.append("## Throughput (cycle-free, allocation-heavy)\n\n" + report.md_table(
            ["threads", *(f"{c} s" for c in CONFIGS), "concurrent / stock", "stw / stock",
             *before, "churn phase only: concurrent / stock"],
            [[r["threads"], *(r["median_s"][c] for c in CONFIGS), r["concurrent_over_stock"],
              r["stw_over_stock"], *([r["concurrent_over_before"]] if before else []),
              r["churn_concurrent_over_stock"]]
             for r in rows]) +
            f"\n\nMedians of {args.repeat} runs per configuration, alternating order.  The "
            "workload builds a live heap of 1 M lists, then runs "
            f"{args.iters} iterations of churn() (a dict, a list, tuples, a str and an instance "
            "made and dropped per iteration); the time is the whole workload's, and the last "
            "column the churn phase's alone (collections the heap's growth started may still "
            "run concurrently in it).\n")
    if "rss" in parts:
        rss = {c: [] for c in CONFIGS}
        for k in range(args.repeat):
            for config in report.alternate(CONFIGS, k):
                res = report.run_json([*report.config_argv(args, config), __file__, "--rss-worker", args.rings])
                rss[config].append(res["maxrss_kb"])
        med = {c: report.median(rss[c]) for c in CONFIGS}
        data["rss"] = {"median_kb": med, "runs_kb": rss,
                       "concurrent_over_stock": med["concurrent"] / med["stock"]}
        ratios = ["concurrent / stock"] + (["concurrent / before"] if args.before else [])
        sections.append("## Peak RSS (cycle-heavy)\n\n" + report.md_table(
            [*(f"{c} MiB" for c in CONFIGS), *ratios],
            [[*(med[c] / 1024 for c in CONFIGS), med["concurrent"] / med["stock"],
              *([med["concurrent"] / med["before"]] if args.before else [])]]) +
            f"\n\nMedian ru_maxrss of {args.repeat} runs; {args.rings} garbage rings of 3 "
            "instances (with a list and a dict) over a live heap of 0.5 M lists.\n")
    title = ("Before vs after: the concurrent collector of two trees, with stock and stw"
             if args.before else "The concurrent collector vs stock and stw (issue 4)")
    report.write(args.out, name, title,
                 ctx, data, "\n".join(sections))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--pause-worker":
        pause_worker(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--throughput-worker":
        throughput_worker(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--rss-worker":
        rss_worker(int(sys.argv[2]))
    else:
        main()
