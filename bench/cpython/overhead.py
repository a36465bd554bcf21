"""Benchmark (c): overhead of the safepoint polls when nothing is pending.

Three single-threaded workloads, each ~0.5 s on stock:
  loop     nested for loops with integer arithmetic (eval loop only);
  call     many small function and method calls;
  builtin  the patched C paths on small inputs: sum/min/max(range), sorted and
           list.sort of small lists, str/bytes join, small-int multiplication,
           int <-> str, list(range), set(range), tuple(), `in` on a small list.
Each run is a fresh worker process (`INTERP overhead.py --worker NAME`) that
times the workload with perf_counter (startup excluded) after one short
warm-up pass. --runs K runs per workload and interpreter, launches alternating
stock/tricolor. Reported: median time per interpreter and the ratio
tricolor/stock of the medians; target <= 1.02.

    python3 bench/cpython/overhead.py --stock PY --tricolor PY [--out DIR]
        [--runs 11] [--workloads loop,call,builtin]

Writes overhead.json (all run times), overhead.md and overhead.png to --out.
"""
import json
import os
import sys
import time

# bench/report.py, imported by the driver only; os (unlike pathlib) is
# already loaded at start-up, so the workers load nothing more than before.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TARGET = 1.02


def loop(n):
    t = 0
    for i in range(n):
        for j in range(n):
            t += (i * j) ^ (i + j) & 0xFF
    return t


class P:
    def __init__(self, x):
        self.x = x

    def get(self):
        return self.x


def call(n):
    def add(a, b):
        return a + b
    p, t = P(1), 0
    for i in range(n):
        t = add(t, p.get())
    return t


def builtin(n):
    small, words, blobs = list(range(20, 0, -1)), ["ab"] * 16, [b"ab"] * 16
    t = 0
    for i in range(n):
        t += sum(range(50)) + min(small) + max(small)
        t += len(sorted(small)) + len("".join(words)) + len(b"".join(blobs))
        small.sort()
        small.reverse()
        t += (i * 12345678901) % 97 + int(str(i * 7))
        t += len(list(range(20))) + len(set(range(20))) + len(tuple(small)) + (7 in small)
    return t


WORKLOADS = {"loop": (loop, 2250), "call": (call, 4_000_000), "builtin": (builtin, 150_000)}


def worker(name):
    fn, n = WORKLOADS[name]
    fn(n // 20)  # warm-up
    t0 = time.perf_counter()
    fn(n)
    print(json.dumps({"workload": name, "s": time.perf_counter() - t0}))


def plot(rows, path):
    import report
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    x = range(len(rows))
    ax.bar(x, [r["ratio"] for r in rows], 0.5, color="tab:orange")
    runs = [[t / r["stock_median_s"] for t in r["tricolor_s"]] for r in rows]
    for i, ratios in enumerate(runs):
        ax.plot([i] * len(ratios), ratios, "k.", ms=4)
    ax.axhline(1.0, color="gray", lw=1)
    ax.axhline(TARGET, color="red", ls="--", lw=1, label=f"target {TARGET}")
    ax.set_xticks(list(x), [r["workload"] for r in rows])
    lo = min([0.95] + [v for ratios in runs for v in ratios])
    hi = max([1.05] + [v for ratios in runs for v in ratios])
    ax.set_ylim(lo - 0.01, hi + 0.01)
    report.save_plot(fig, ax, path, "Poll overhead, nothing pending (dots: single tricolor runs)",
                     "tricolor / stock (median time)", title_size=9)


def main():
    import report
    p = report.parser(__doc__)
    p.add_argument("--runs", type=int, default=11)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    args = p.parse_args()
    ctx = report.context(args)
    names = args.workloads.split(",")
    times = {(w, i): [] for w in names for i in ("stock", "tricolor")}
    for k in range(args.runs):
        for w in names:
            for name, py in report.interpreters(args, k):
                times[w, name].append(report.run_json([py, __file__, "--worker", w])["s"])
    rows = []
    for w in names:
        s, t = report.median(times[w, "stock"]), report.median(times[w, "tricolor"])
        rows.append({"workload": w, "stock_median_s": s, "tricolor_median_s": t, "ratio": t / s,
                     "verdict": "PASS" if t / s <= TARGET else "FAIL",
                     "stock_s": times[w, "stock"], "tricolor_s": times[w, "tricolor"]})
    table = report.md_table(
        ["workload", "stock ms median", "tricolor ms median", "stock ms min", "tricolor ms min",
         "ratio", "verdict"],
        [[r["workload"], r["stock_median_s"] * 1e3, r["tricolor_median_s"] * 1e3,
          min(r["stock_s"]) * 1e3, min(r["tricolor_s"]) * 1e3, f"{r['ratio']:.3f}", r["verdict"]]
         for r in rows])
    notes = (f"{args.runs} process launches per workload and interpreter, alternating order; time "
             f"measured inside the process. ratio = tricolor median / stock median; PASS if <= {TARGET}.")
    out = report.write(args.out, "overhead", "Benchmark (c): poll overhead with nothing pending",
                       ctx, {"args": vars(args), "workloads": rows}, table, notes)
    plot(rows, out / "overhead.png")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2])
    else:
        main()
