"""Benchmark (b): time-to-safepoint during long native calls.

For each case of bench/cpython/stall_worker.py (one long C call: big-int arithmetic,
sum/min/sorted/join/..., regex), the SIZE is first calibrated on the STOCK
interpreter so that the call takes >= --target-ms: start at INITIAL[case] and
grow by x1.5..x3 (linear extrapolation from the measured call_s, clamped),
at most 8 probes (each the second of two runs in one process, so that
page faults of fresh memory do not count), each probe process killed after
10 s. Then stall_worker runs
that SIZE with --repeat N under stock and tricolor (order alternating per
case). stall_worker reports, per run, how long an unrelated ticker thread
stalled while gc.collect() waited to stop the world during the call.

Verdict: PASS if the stock median (over runs) of the per-run worst stall is
>= 150 ms and the tricolor worst stall over all runs, and its worst
time-to-safepoint of any pause in them, are <= 2 ms (for the
bulk_ cases, whose stall includes the stock collector's pause over the
millions of items they build: tricolor's worst time-to-safepoint <= 2 ms);
"stock<150" if stock could not be made to stall 150 ms (the comparison then
proves little); FAIL otherwise. The stock stall is bounded by the call duration (call_ms) less
the collector's 20 ms head start.

    python3 bench/cpython/safepoint.py --stock PY --tricolor PY [--out DIR]
        [--cases a,b] [--repeat 3] [--target-ms 300]

Writes safepoint.json (raw runs, calibration probes, command line),
safepoint.md and safepoint.png to --out.
"""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/report.py
import report  # noqa: E402
from stall_worker import CASES, CONTROL  # noqa: E402

WORKER = Path(__file__).resolve().parent / "stall_worker.py"
INITIAL = {
    "int_mul": 100000, "int_floordiv": 100000, "int_pow_mod": 3000, "int_to_str": 300000,
    "int_from_str_base36": 20000, "math_factorial": 20000, "math_comb": 300,
    "math_prod": 20000, "math_fsum": 2000000, "list_sort": 300000, "sorted": 100000,
    "sum": 2000000, "min": 2000000, "max": 2000000, "any": 3000000, "all": 3000000,
    "str_join": 3000000, "bytes_join": 300000, "list_from_iter": 3000, "list_extend": 3000,
    "tuple_from_iter": 3000, "set_from_iter": 3000, "list_contains": 3000,
    "deque_consume": 5000000, "re_search": 2000, "re_findall": 2000,
    "bulk_list_from_range": 2000000, "bulk_list_extend_range": 2000000,
    "bulk_tuple_from_repeat": 2000000, "bulk_set_from_range": 1000000,
}
MAX_PROBES, PROBE_TIMEOUT_S = 8, 10
STOCK_MIN_MS, TRI_MAX_MS = 150, 2


def calibrate(stock, case, target_s):
    """Grow SIZE until the stock call takes >= target_s; return (size, probes)."""
    size, probes, best = INITIAL.get(case, 100000), [], None
    for _ in range(MAX_PROBES):
        try:
            # Two runs, the second counts: a first run also pays for fresh
            # memory (page faults), which later runs of a process reuse.
            call_s = report.run_json([stock, WORKER, case, size, "--repeat", 2],
                                     PROBE_TIMEOUT_S)["runs"][-1]["call_s"]
        except (subprocess.TimeoutExpired, RuntimeError) as e:
            probes.append({"size": size, "error": type(e).__name__})
            break
        probes.append({"size": size, "call_s": call_s})
        best = size
        if call_s >= target_s:
            break
        size = int(size * min(3.0, max(1.5, 1.1 * target_s / max(call_s, 1e-6))))
    return best, probes


def summarize(case, size, probes, stock, tri):
    st = [r["stall_s"] * 1e3 for r in stock["runs"]]
    tr = [r["stall_s"] * 1e3 for r in tri["runs"]]
    s_med, t_max = report.median(st), max(tr)
    wait_ms = max(r["max_wait_ns"] for r in tri["runs"]) / 1e6
    bulk = case.startswith("bulk_")
    # A BULK case's stall includes the stock collector's pause over the
    # millions of items the call builds (issue 4's to remove): it is judged
    # on the time-to-safepoint, and its stall is reported for what it is.
    # Every case is also held to its time-to-safepoint over the whole run:
    # a stop requested at any moment of the call (an automatic collection
    # triggered by another thread, say) must not wait longer either.
    judged = wait_ms if bulk else max(t_max, wait_ms)
    verdict = ("stock<150" if s_med < STOCK_MIN_MS
               else "PASS" if judged <= TRI_MAX_MS else "FAIL")
    return {
        "case": case, "size": size, "bulk": bulk, "verdict": verdict,
        "stock_stall_ms_max": max(st), "stock_stall_ms_median": s_med,
        "tri_stall_ms_max": t_max, "tri_stall_ms_median": report.median(tr),
        "stock_call_ms_median": report.median([r["call_s"] * 1e3 for r in stock["runs"]]),
        "tri_call_ms_median": report.median([r["call_s"] * 1e3 for r in tri["runs"]]),
        "tri_max_wait_ms": wait_ms,
        "tri_run_stall_ms_max": max(r["run_stall_s"] for r in tri["runs"]) * 1e3,
        "tri_majflt": sum(r["majflt"] for r in tri["runs"]),
        "tri_max_pause_ms": max(r["max_pause_ns"] for r in tri["runs"]) / 1e6,
        "ticker_rt": all(r.get("ticker_rt") for r in stock["runs"] + tri["runs"]),
        "calibration": probes, "stock": stock, "tricolor": tri,
    }


def plot(rows, path):
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(rows) + 2), 4.5))
    x = range(len(rows))
    floor = 1e-3  # log axis: show a zero stall as 1 us
    ax.bar([i - 0.2 for i in x], [max(r["stock_stall_ms_max"], floor) for r in rows], 0.4, label="stock")
    ax.bar([i + 0.2 for i in x], [max(r["tri_stall_ms_max"], floor) for r in rows], 0.4, label="tricolor")
    ax.plot([i + 0.2 for i in x], [max(r["tri_max_wait_ms"], floor) for r in rows], "k_", ms=12,
            label="tricolor time-to-safepoint")
    ax.axhline(TRI_MAX_MS, color="green", ls="--", lw=1, label=f"{TRI_MAX_MS} ms")
    ax.axhline(STOCK_MIN_MS, color="red", ls="--", lw=1, label=f"{STOCK_MIN_MS} ms")
    ax.set_yscale("log")
    ax.set_xticks(list(x), [r["case"] for r in rows], rotation=60, ha="right")
    report.save_plot(fig, ax, path, "Time-to-safepoint: unrelated-thread stall during gc.collect()",
                     "worst ticker stall (ms)")


def main():
    p = report.parser(__doc__)
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--target-ms", type=float, default=300)
    args = p.parse_args()
    ctx = report.context(args)
    rows = []
    for i, case in enumerate(args.cases.split(",")):
        size, probes = calibrate(args.stock, case, args.target_ms / 1e3)
        if size is None:
            print(f"{case}: calibration failed {probes}")
            continue
        res = {name: report.run_json([py, WORKER, case, size, "--repeat", args.repeat])
               for name, py in report.interpreters(args, i)}
        rows.append(summarize(case, size, probes, res["stock"], res["tricolor"]))
        r = rows[-1]
        print(f"{case}: size={size} stock {r['stock_stall_ms_median']:.1f} ms, "
              f"tricolor {r['tri_stall_ms_max']:.3f} ms -> {r['verdict']}", flush=True)
    header = ["case", "size", "stock call ms", "stock stall ms med", "stock stall ms max",
              "tri call ms", "tri stall ms med", "tri stall ms max", "tri run stall ms max", "tri max wait ms",
              "tri max pause ms", "verdict"]

    def table(bulk):
        return report.md_table(header, [
            [r["case"], r["size"], r["stock_call_ms_median"], r["stock_stall_ms_median"],
             r["stock_stall_ms_max"], r["tri_call_ms_median"], r["tri_stall_ms_median"],
             r["tri_stall_ms_max"], r["tri_run_stall_ms_max"], r["tri_max_wait_ms"], r["tri_max_pause_ms"], r["verdict"]]
            for r in rows if r["bulk"] == bulk])
    # The control: the same three threads and collection with no native call
    # running (the caller sleeps), as many runs as the cases had together,
    # so its tail can be compared with theirs.
    n_control = max(10, args.repeat * len(rows))
    control = {name: report.run_json([py, WORKER, CONTROL, 300, "--repeat", n_control])["runs"]
               for name, py in report.interpreters(args, 0)}
    called = [r["stall_s"] * 1e3 for row in rows if not row["bulk"] and row["verdict"] != "stock<150"
              for r in row["tricolor"]["runs"]]

    def tail(stalls):
        s = sorted(stalls)
        return [len(s), report.median(s), s[min(len(s) - 1, int(0.95 * len(s)))], s[-1],
                sum(x > TRI_MAX_MS for x in s)]
    control_rows = [["control (no call), " + name] + tail([r["stall_s"] * 1e3 for r in runs])
                    for name, runs in control.items()]
    control_rows.append(["long native calls, tricolor"] + tail(called))
    verdicts = [r["verdict"] for r in rows]
    summary = (f"{verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL, "
               f"{verdicts.count('stock<150')} stock<150 of {len(rows)} cases; ticker at real-time "
               f"priority: {'yes' if all(r['ticker_rt'] for r in rows) else 'no (not permitted)'}.")
    table = (summary + "\n\n" + table(False) + "\n\nBulk cases (millions of cheap items; "
             "judged on the time-to-safepoint, tri max wait):\n\n" + table(True) +
             "\n\nControl: the stall with no native call running (the caller sleeps), against "
             "tricolor's runs of the non-bulk calls that stall stock >= 150 ms:\n\n" +
             report.md_table(["runs", "n", "stall ms median", "p95", "max", f"> {TRI_MAX_MS} ms"],
                             control_rows))
    notes = (f"Stall = longest gap between wake-ups of a thread sleeping 0.5 ms, minus the sleep, "
             f"that overlaps the collection (from the gc.collect() call to its return), per run; "
             f"med/max over {args.repeat} runs. tri run stall = the longest gap anywhere in the run "
             f"(thread start and exit, the call's tail, the OS included), for comparison. Call ms = median duration of the native call "
             f"(it bounds the stock stall). tri max wait/pause = gc.get_pause_stats() over the measured "
             f"runs: the longest time-to-safepoint (request to world stopped) and the longest pause "
             f"(stopped to restarted). Everything built before the call is frozen (gc.freeze()) in "
             f"both interpreters, so the collection's pause is short and the stall measures the wait "
             f"for the caller. PASS: stock median >= {STOCK_MIN_MS} ms and tricolor max stall and "
             f"max wait <= {TRI_MAX_MS} ms (bulk cases: tri max wait <= {TRI_MAX_MS} ms); stock<150: stock could "
             f"not be made to stall {STOCK_MIN_MS} ms at the calibrated size (target "
             f"{args.target_ms:g} ms), so the case shows nothing either way.")
    notes += (" Control: the caller sleeps 300 ms instead of calling (it is detached, so the "
              "collection never waits for it): its stall is the collection's own pause plus this "
              "machine's noise, the floor under every case.")
    out = report.write(args.out, "safepoint", "Benchmark (b): time-to-safepoint", ctx,
                       {"args": vars(args), "cases": rows, "control": control}, table, notes)
    plot(rows, out / "safepoint.png")


if __name__ == "__main__":
    main()
