"""Benchmark of the collector core: pauses of the concurrent mode and of the
full-STW mode of the same collector, in one run, against the live heap.

For each size (live objects) and mode, runs core_pause (the synthetic
runtime, 2 mutator threads that keep mutating and making garbage cycles
while collections run; see core_pause.cc) and reports, over its collections
after the first: the longest pause (world stopped -> restarted), the p99
pause, the p99 and longest time-to-safepoint, the mutators' throughput
(operations/s) and the marking rate (objects marked per second of
concurrent mark, per worker).  Sizes run in order, modes alternate.  The
modes: concurrent, concurrent without the candidate filter ("unfiltered"),
and full-STW.  With --before BINARY, a fourth, "before": BINARY (core_pause
built from an earlier tree) in the concurrent mode, for a before/after
comparison in the same run, alternating with the others (written as
core_pause_before_after.*).

    python3 bench/core/core_pause.py --binary build/release/bench/core_pause
        [--sizes 1,2,4,8,16] [--collections 8] [--out papers/results]
        [--before BINARY]

Writes core_pause.json (every collection), core_pause.md and core_pause.png.
"""
import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/report.py
import report  # noqa: E402

# name -> core_pause arguments; "unfiltered" is the concurrent mode without
# the candidate filter (the verification then pauses over every unmarked
# object), the comparison for design.md §4.6.
MODES = {"concurrent": ["--mode", "concurrent"], "unfiltered": ["--mode", "concurrent", "--no-filter"],
         "stw": ["--mode", "stw"]}


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def summarize(res):
    cols = res["collections"][1:] or res["collections"]   # the first settles the build
    pauses = [p for c in cols for p in c["pause_ns"]]
    waits = [w for c in cols for w in c["wait_ns"]]
    mark_ns = sum(c["phase_ns"]["concurrent-mark"] for c in cols)
    marked = sum(c["marked"] for c in cols)
    workers = max(c["workers"] for c in cols)
    return {
        "max_pause_ms": max(pauses) / 1e6, "p99_pause_ms": pct(pauses, 0.99) / 1e6,
        "pauses_per_collection": len(pauses) / len(cols),
        "p99_wait_ms": pct(waits, 0.99) / 1e6, "max_wait_ms": max(waits) / 1e6,
        "ops_per_s": res["mutator_ops"] / (res["elapsed_ns"] / 1e9),
        "mark_rate_per_worker": marked / (mark_ns / 1e9) / workers if mark_ns else float("nan"),
        "candidates_median": statistics.median(c["candidates"] for c in cols),
        "verified_median": statistics.median(c["verified"] for c in cols),
        "garbage_median": statistics.median(c["garbage"] for c in cols),
        "fell_back": any(c["fell_back"] for c in cols),
    }


def plot(rows, path):
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for mode, style in zip(MODES, ("o-", "^-.", "s--", "D:")):
        pts = [(r["objects"] / 1e6, r[mode]["max_pause_ms"]) for r in rows]
        ax.plot(*zip(*pts), style, label=f"{mode}: max pause")
    pts = [(r["objects"] / 1e6, r["concurrent"]["p99_wait_ms"]) for r in rows]
    ax.plot(*zip(*pts), "k:", label="concurrent: p99 time-to-safepoint")
    ax.axhline(1.0, color="green", ls="--", lw=1, label="1 ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    report.save_plot(fig, ax, path, "Collector core: STW pause vs live objects (2 mutators)",
                     "ms", "live objects (millions)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", required=True)
    p.add_argument("--sizes", default="1,2,4,8,16", help="millions of live objects")
    p.add_argument("--collections", type=int, default=8)
    p.add_argument("--mutators", type=int, default=2)
    p.add_argument("--out", default=str(report.REPO / "papers" / "results"))
    p.add_argument("--before", help="core_pause built from an earlier tree (mode 'before')")
    args = p.parse_args()
    if args.before:
        MODES["before"] = MODES["concurrent"]
    name = "core_pause_before_after" if args.before else "core_pause"
    ctx = report.context(args)
    rows = []
    for k, size in enumerate(float(s) for s in args.sizes.split(",")):
        n = int(size * 1e6)
        row = {"objects": n}
        for mode in (list(MODES) if k % 2 == 0 else list(MODES)[::-1]):
            binary = args.before if mode == "before" else args.binary
            res = report.run_json([binary, "--objects", n, *MODES[mode], "--mutators",
                                   args.mutators, "--collections", args.collections])
            row[mode] = summarize(res)
            row[mode + "_raw"] = res
            print(f"{n}: {mode} max pause {row[mode]['max_pause_ms']:.3f} ms", flush=True)
        rows.append(row)
    table = report.md_table(
        ["live objects", "mode", "max pause ms", "p99 pause ms", "pauses/collection",
         "p99 wait ms", "max wait ms", "mutator ops/s", "marked/s/worker", "candidates (med)",
         "verified (med)", "garbage (med)", "fell back"],
        [[r["objects"], m, r[m]["max_pause_ms"], r[m]["p99_pause_ms"], r[m]["pauses_per_collection"],
          r[m]["p99_wait_ms"], r[m]["max_wait_ms"], r[m]["ops_per_s"], r[m]["mark_rate_per_worker"],
          r[m]["candidates_median"], r[m]["verified_median"], r[m]["garbage_median"], r[m]["fell_back"]]
         for r in rows for m in MODES])
    ratio = "; ".join(f"{r['objects'] / 1e6:g} M: stw/concurrent max pause = "
                      f"{r['stw']['max_pause_ms'] / r['concurrent']['max_pause_ms']:.0f}x" for r in rows)
    growth = (f"concurrent max pause {rows[-1]['objects'] / 1e6:g} M / {rows[0]['objects'] / 1e6:g} M = "
              f"{rows[-1]['concurrent']['max_pause_ms'] / rows[0]['concurrent']['max_pause_ms']:.2f}x")
    notes = (f"{args.collections} collections per run, {args.mutators} mutator threads mutating "
             f"throughout; statistics over the collections after the first. A pause runs from the "
             f"world stopped to the world restarted; wait = time-to-safepoint (stop requested -> "
             f"stopped). Candidates = unmarked live objects; verified = those left for the STW "
             f"verification after the concurrent candidate filter (unfiltered: all of them). "
             f"{ratio}; {growth}.")
    title = ("Collector core, before vs after: concurrent vs full-STW pauses" if args.before
             else "Collector core: concurrent vs full-STW pauses")
    report.write(args.out, name, title, ctx,
                 {"args": vars(args), "rows": rows}, table, notes)
    plot(rows, report.REPO / args.out / f"{name}.png" if not args.out.startswith("/")
         else f"{args.out}/{name}.png")


if __name__ == "__main__":
    main()
