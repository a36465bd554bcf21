"""Benchmark (a): gc.collect() pause versus live-heap size (issue-2 baseline).

A worker process per (interpreter, size) builds N live GC-tracked objects
(N empty lists held in one list, automatic GC disabled while building), then
times --collects calls of gc.collect() with perf_counter. Under tricolor it
also resets gc pause statistics before each collect and reads back
gc.get_pause_stats(): the longest stop-the-world pause and the longest
time-to-safepoint wait of that collect. Both interpreters still use the stock
stop-the-world collector, so the numbers should be similar.

    python3 bench/gc_pause.py --stock PY --tricolor PY [--out DIR]
        [--sizes 200000,2000000,8000000] [--collects 5]

Writes gc_pause.json (raw per-collect times), gc_pause.md (median and max
collect time per interpreter and size) and gc_pause.png (log-log) to --out.
"""
import gc
import json
import sys
import time


def worker(n, collects):
    gc.disable()
    t0 = time.perf_counter()
    live = [[] for _ in range(n)]
    build_s = time.perf_counter() - t0
    stats = getattr(gc, "get_pause_stats", None)
    runs = []
    for _ in range(collects):
        if stats:
            gc.reset_pause_stats()
        t0 = time.perf_counter()
        gc.collect()
        run = {"collect_s": time.perf_counter() - t0}
        if stats:
            s = stats()
            run.update(max_pause_ns=s["max_pause_ns"], max_wait_ns=s["max_wait_ns"], pauses=s["count"])
        runs.append(run)
    print(json.dumps({"n": n, "live": len(live), "build_s": build_s, "runs": runs}))


def plot(rows, path):
    import report
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, marker, color in (("stock", "o", "tab:blue"), ("tricolor", "s", "tab:orange")):
        pts = [r for r in rows if r["interp"] == name]
        n = [r["n"] for r in pts]
        ax.plot(n, [r["median_ms"] for r in pts], marker=marker, color=color, label=f"{name} median")
        ax.plot(n, [r["max_ms"] for r in pts], marker=marker, color=color, ls=":", label=f"{name} max")
    ax.set_xscale("log")
    ax.set_yscale("log")
    report.save_plot(fig, ax, path, "gc.collect() pause vs live heap",
                     "gc.collect() wall time (ms)", "live tracked objects")


def main():
    import report
    p = report.parser(__doc__)
    p.add_argument("--sizes", default="200000,2000000,8000000")
    p.add_argument("--collects", type=int, default=5)
    args = p.parse_args()
    ctx = report.context(args)
    rows = []
    for i, n in enumerate(int(s) for s in args.sizes.split(",")):
        for name, py in report.interpreters(args, i):
            res = report.run_json([py, __file__, "--worker", n, args.collects])
            t = [r["collect_s"] * 1e3 for r in res["runs"]]
            rows.append({"interp": name, "n": n, "median_ms": report.median(t), "max_ms": max(t),
                         "max_pause_ms": max((r.get("max_pause_ns", float("nan")) for r in res["runs"])) / 1e6,
                         "max_wait_ms": max((r.get("max_wait_ns", float("nan")) for r in res["runs"])) / 1e6,
                         **res})
    rows.sort(key=lambda r: (r["n"], r["interp"]))
    table = report.md_table(
        ["live objects", "interpreter", "collect ms median", "collect ms max",
         "STW pause ms max", "wait ms max", "build s"],
        [[r["n"], r["interp"], r["median_ms"], r["max_ms"], r["max_pause_ms"], r["max_wait_ms"],
          r["build_s"]] for r in rows])
    notes = (f"{args.collects} gc.collect() calls per process; live objects = N empty lists held "
             "by one list. STW pause / wait from gc.get_pause_stats() (tricolor only; nan for "
             "stock), max over the collects.")
    out = report.write(args.out, "gc_pause", "Benchmark (a): gc.collect() pause vs live heap",
                       ctx, {"args": vars(args), "rows": rows}, table, notes)
    plot(rows, out / "gc_pause.png")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
