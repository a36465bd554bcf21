"""pyperformance's own benchmarks on stock, -X gc=stw and -X gc=concurrent.

Runs the benchmark scripts of a pyperformance checkout as they are (its
data-files/benchmarks/bm_*/run_benchmark.py, with pyperf from a pyperf
checkout on PYTHONPATH; nothing of theirs is copied here), one pyperf
`--worker` process per measurement, under three configurations:
  stock       the stock interpreter (its stop-the-world collector)
  stw         the tricolor interpreter with -X gc=stw (stock's algorithm: the
              in-run control)
  concurrent  the tricolor interpreter with -X gc=concurrent (the default)
The fork's mode is also put in PYTHON_GC, so that the Python processes a
benchmark starts itself (python_startup) run in the same mode.

The benchmarks are those of the suite's MANIFEST, variants included (e.g.
async_tree_io runs bm_async_tree with `io`), each with the extra_opts of its
metafile (bm_NAME/pyproject.toml, or bm_BASE/bm_NAME.toml for a variant).

Discovery: each selected benchmark is first run once on stock, as a pyperf
worker that calibrates its loops (`--worker --calibrate-loops -w 1 -n 1`),
with --discover-timeout seconds; with --loops, or for a script that fixes
its own loops (btree: calibration is refused), `--worker -l 1 -w 0 -n 1`
instead, and the loops are --loops or 1.  One that fails is listed as
skipped with the line of its error that says why (a missing package such as
django, a data file missing from the snapshot); one that runs gives its
pyperf benchmarks (a script may register several, e.g. logging_silent,
logging_simple, logging_format) and each one's calibrated loops, which every
configuration then uses (the same work everywhere).  The discovery also
prints how long the measurement should take (from its own timings).

Measurement: for each pyperf benchmark, --processes rounds; each round runs
one worker process per configuration, in an order that alternates from one
round to the next (report.alternate, over all rounds of the run):
    PY [-X gc=MODE] -u run_benchmark.py [extra_opts] --worker
        [--worker-task I] -l LOOPS -w WARMUPS -n VALUES -o FILE.json
The driver starts it with subprocess and reaps it with os.wait4(), which
gives the process's resource usage: CPU = ru_utime + ru_stime (all of its
threads, the fork's collector thread included, over the whole process:
start-up, warm-ups and values; a benchmark that starts processes of its own
and waits for them, like python_startup, has theirs added by the kernel),
peak RSS = ru_maxrss.  Per process:
  time        the median of the pyperf values in FILE.json (seconds per loop;
              the warm-ups are left out)
  GC          from bench/cpython/pyperformance_hook.py, loaded into the worker
              as sitecustomize (see its docstring): stock's longest collection
              ('start' -> 'stop' of gc.callbacks, all of it a pause) and their
              count; for the fork, the longest stop-the-world pause of the GC
              and their count (gc.get_pause_stats(), reasons
              gc_collect_internal and tricolor:*; other pauses are recorded
              apart), and under concurrent the least allowlist_coverage of a
              collection that marked anything and the coverage of the whole
              run (1 - sum of opaque_marked / sum of marked), from
              gc.get_tricolor_stats() sampled at each collection's end.
              get_tricolor_stats() names no opaque types, so only the counts
              opaque_marked and opaque_candidates are recorded.
  MMU         minimum mutator utilisation at 1, 10 and 100 ms windows over
              the worker's life (report.mmu), from the GC's pauses on a
              timeline that the hook records (stock: its collections; the
              fork: its GC pauses, gc.get_pause_stats()'s stopped_at_ns and
              pause_ns).
Per benchmark and configuration: time, CPU and RSS are the medians over the
processes, pauses the longest over the processes, pause counts the median,
coverage and MMU the least.

    python3 bench/cpython/pyperformance.py --stock PY --tricolor PY [--out DIR]
        [--suite DIR] [--pyperf DIR] [--benchmarks a,b,c] [--processes 3]
        [--values 2] [--warmups 1] [--loops N] [--quick] [--timeout 600]
        [--discover-timeout 300] [--discover]

--quick: 1 process and 1 value (where not given).  The defaults (3 processes
of 1 warm-up and 2 values) measure the 96 pyperf benchmarks that run here in
about 40 min on a 2-core machine, after 3 min of discovery (--quick: about
10 min in all).  --discover: only the
discovery; prints which benchmarks run and which do not, and the estimate,
and writes nothing.  The geometric means are given over all benchmarks and
over those that do not time gc.collect() itself (all but gc_collect,
gc_traversal and btree_gc_only).
--suite defaults to ../shared/third_party/pyperformance beside the repository
and --pyperf to ../shared/third_party/pyperf; without a suite, get one with
`git clone https://github.com/python/pyperformance` and
`git clone https://github.com/psf/pyperf` and pass their directories.
Writes pyperformance.json (every measurement, the discovery, the skipped
benchmarks and why, the command line, the machine), pyperformance.md (the
table, the geometric means, the skipped benchmarks) and pyperformance.png
(per benchmark: concurrent/stock time and the longest pause per
configuration) to --out.
"""
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/report.py
import report  # noqa: E402

CONFIGS = ("stock", "stw", "concurrent")
MMU_WINDOWS = ("1", "10", "100")   # ms
THIRD_PARTY = report.REPO.parent / "shared" / "third_party"
HOOK = Path(__file__).resolve().parent / "pyperformance_hook.py"
GC_TIMING = {"gc_collect", "gc_traversal", "btree_gc_only"}   # they time gc.collect() itself
STARTUP_S = 0.3                 # an interpreter's start-up and pyperf's import, for the estimate
GET_IT = ("get pyperformance with `git clone https://github.com/python/pyperformance` and pyperf "
          "with `git clone https://github.com/psf/pyperf`, then pass --suite PYPERFORMANCE_DIR "
          "--pyperf PYPERF_DIR")


def benchmarks_dir(suite):
    return Path(suite) / "pyperformance" / "data-files" / "benchmarks"


def manifest(suite):
    """The suite's benchmarks, in MANIFEST order: name -> {script, extra_opts}
    (pyperformance's rules: `<local>` is bm_NAME/pyproject.toml, `<local:BASE>`
    bm_BASE/bm_NAME.toml over bm_BASE/pyproject.toml, the first non-empty
    value winning)."""
    root = benchmarks_dir(suite)
    out, section = {}, None
    for line in (root / "MANIFEST").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section != "[benchmarks]" or line.split("\t")[0] == "name":
            continue
        name, metafile = line.split("\t")[:2]
        m = re.fullmatch(r"<local(?::(\w+))?>", metafile.strip())
        if not m:
            continue                 # not a benchmark of this checkout
        base = m.group(1)
        bmdir = root / f"bm_{base or name}"
        files = [bmdir / f"bm_{name}.toml"] if base else []
        files.append(bmdir / "pyproject.toml")
        meta = {}
        for f in files:
            if f.is_file():
                tool = tomllib.loads(f.read_text()).get("tool", {}).get("pyperformance", {})
                for key, value in tool.items():
                    if value and key not in meta:
                        meta[key] = value
        script = meta.get("runscript", "run_benchmark.py")
        out[name] = {"script": str(bmdir / script), "extra_opts": list(meta.get("extra_opts", []))}
    return out


def environment(args, hookdir, config, stats=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(hookdir), args.pyperf])
    env.pop("PYTHON_GC", None)
    env.pop("TRICOLOR_PP_STATS", None)
    if config != "stock":
        env["PYTHON_GC"] = config    # for the processes a benchmark starts
    if stats:
        env["TRICOLOR_PP_STATS"] = str(stats)
    return env


def run_process(argv, env, timeout, log):
    """Run argv with its output in `log`; reap it with os.wait4().  Return
    (exit code or None on time-out, rusage, wall seconds)."""
    with open(log, "w") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen([str(a) for a in argv], env=env, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        timed_out = []
        timer = threading.Timer(timeout, lambda: (timed_out.append(1), p.send_signal(signal.SIGKILL)))
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)   # reaped: Popen must not wait
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    return (None if timed_out else p.returncode), ru, wall


def error_line(text):
    """The line of a failed run that says why: its last exception line (or
    pyperf's ERROR line), else its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b|ERROR\b)", ln):
            return ln[:300]
    return lines[-1][:300] if lines else "no output"


def pyperf_benchmarks(path):
    """[(name, merged metadata, values, raw seconds of every warm-up and
    value)] of a pyperf JSON file."""
    suite = json.loads(Path(path).read_text())
    out = []
    for b in suite.get("benchmarks", []):
        meta = {**suite.get("metadata", {}), **b.get("metadata", {})}
        runs = b.get("runs", [])
        for r in runs:
            meta.update(r.get("metadata", {}))
        inner = meta.get("inner_loops", 1)
        loops = meta.get("loops", 1)
        raw = [n * inner * v for r in runs for n, v in r.get("warmups", [])]
        raw += [loops * inner * v for r in runs for v in r.get("values", [])]
        out.append((meta.get("name"), meta, [v for r in runs for v in r.get("values", [])], raw))
    return out


def discover_one(args, name, spec, hookdir, tmp, calibrate):
    """One run of a benchmark on stock: (its pyperf benchmarks, seconds) or
    (None, why)."""
    out = tmp / f"discover-{name}-{int(calibrate)}.json"
    log = tmp / f"discover-{name}-{int(calibrate)}.log"
    opts = ["--calibrate-loops", "-w", 1, "-n", 1] if calibrate else ["-l", 1, "-w", 0, "-n", 1]
    argv = [args.stock, "-u", spec["script"], *spec["extra_opts"], "--worker", *opts, "-o", out]
    t0 = time.perf_counter()
    code, _, _ = run_process(argv, environment(args, hookdir, "stock"), args.discover_timeout, log)
    took = time.perf_counter() - t0
    if code is None:
        return None, f"timed out after {args.discover_timeout:g} s"
    if code:
        return None, error_line(log.read_text(errors="replace")) + f" (exit {code})"
    found = pyperf_benchmarks(out) if out.exists() else []
    return (found, took) if found else (None, "no pyperf benchmark in its output")


def discover(args, specs, hookdir, tmp):
    """Run each benchmark once on stock, calibrating its loops (unless
    --loops is given, or the script fixes its loops itself, like btree):
    (tasks, skipped)."""
    tasks, skipped = [], []
    for name, spec in specs.items():
        calibrate = not args.loops
        found, took = discover_one(args, name, spec, hookdir, tmp, calibrate)
        if found is None and calibrate and "--calibrate-loops" in took:
            calibrate = False
            found, took = discover_one(args, name, spec, hookdir, tmp, calibrate)
        if found is None:
            skipped.append({"benchmark": name, "reason": took})
            print(f"discover {name}: cannot run: {took}", flush=True)
            continue
        # For the estimate: the worker's own time (start-up, imports, set-up)
        # and a value's time, at least the run's time per value it made (a
        # benchmark that times only part of its loop, like btree_gc_only,
        # reports less than it takes).
        raws = [raw for *_, raw in found]
        overhead = max(STARTUP_S, took - sum(map(sum, raws)))
        wall_per_value = (took - STARTUP_S) / max(1, sum(map(len, raws)))
        for i, (bname, meta, _, raw) in enumerate(found):
            loops = args.loops or (int(meta.get("loops", 1)) if calibrate else 1)
            # seconds of one value at `loops` loops: the calibration's last
            per_value = raw[-1] * loops / int(meta.get("loops", 1)) if raw else 0.0
            tasks.append({"benchmark": name, "name": bname, "task": i, "tasks": len(found),
                          "script": spec["script"], "extra_opts": spec["extra_opts"],
                          "loops": loops, "calibrated": calibrate, "discover_s": took,
                          "value_s": max(per_value, wall_per_value), "overhead_s": overhead})
        print(f"discover {name}: runs ({took:.1f} s): " + ", ".join(
            f"{t['name']} x{t['loops']} loops" for t in tasks[-len(found):]), flush=True)
    return tasks, skipped


def estimate_s(args, tasks):
    """The measurement's expected duration, from the discovery: per worker
    process its overhead plus (warm-ups + values) values' time."""
    return len(CONFIGS) * args.processes * sum(
        t["overhead_s"] + (args.warmups + args.values) * t["value_s"] for t in tasks)


def measure(args, task, config, rnd, hookdir, tmp):
    tag = f"{task['benchmark']}-{task['task']}-{config}-{rnd}"
    out, stats, log = tmp / f"{tag}.json", tmp / f"{tag}.stats.json", tmp / f"{tag}.log"
    argv = [*report.config_argv(args, config), "-u", task["script"], *task["extra_opts"], "--worker",
            *(["--worker-task", task["task"]] if task["tasks"] > 1 else []),
            "-l", task["loops"], "-w", args.warmups, "-n", args.values, "-o", out]
    code, ru, wall = run_process(argv, environment(args, hookdir, config, stats), args.timeout, log)
    rec = {"benchmark": task["benchmark"], "name": task["name"], "config": config, "round": rnd,
           "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "user_s": ru.ru_utime,
           "sys_s": ru.ru_stime, "maxrss_kb": ru.ru_maxrss}
    text = log.read_text(errors="replace")
    if code is None:
        return {**rec, "failed": f"timed out after {args.timeout:g} s"}
    if code:
        return {**rec, "failed": error_line(text) + f" (exit {code})", "log_tail": text[-2000:]}
    try:
        _, meta, values, _ = pyperf_benchmarks(out)[0]
        gc_stats = json.loads(stats.read_text())
    except (OSError, ValueError, IndexError) as e:
        return {**rec, "failed": f"no result: {e}", "log_tail": text[-2000:]}
    rec.update(values_s=values, time_s=report.median(values), loops=meta.get("loops"),
               inner_loops=meta.get("inner_loops"))
    g = gc_stats
    if "life_ns" in g:
        # Windows longer than the worker's life have no MMU (None).
        born, end = (t / 1e9 for t in g["life_ns"])
        gaps = [(s / 1e9, n / 1e9) for s, n in g["gc_pause_spans_ns"]]
        rec.update(mmu={w: report.mmu(gaps, born, end, int(w) / 1e3) if end - born >= int(w) / 1e3 else None
                        for w in MMU_WINDOWS},
                   mmu_complete=g["mmu_complete"], life_ms=(end - born) * 1e3)
    rec.update(collections=g["collections"], longest_collection_ms=report.ms(g["collection_max_s"]),
               collection_total_ms=report.ms(g["collection_total_s"]))
    if g["has_pause_stats"]:
        rec.update(max_gc_pause_ms=g["gc_pause_max_ns"] / 1e6, gc_pauses=g["gc_pause_count"],
                   gc_pause_total_ms=g["gc_pause_total_ns"] / 1e6,
                   max_pause_any_reason_ms=g["pause_max_ns"] / 1e6, pauses_any_reason=g["pause_count"],
                   unitemised_pauses=g["unitemised_pauses"],
                   pauses_by_reason={r: {"count": c, "max_ms": ns / 1e6}
                                     for r, (c, ns) in sorted(g["by_reason"].items())})
        if g["unitemised_pauses"]:
            # some pauses were not listed: the GC's longest is at most the longest of all
            rec["max_gc_pause_ms"] = max(rec["max_gc_pause_ms"], rec["max_pause_any_reason_ms"])
    else:
        # stock: every collection is one pause, all of its callback interval
        rec.update(max_gc_pause_ms=rec["longest_collection_ms"], gc_pauses=g["collections"],
                   gc_pause_total_ms=rec["collection_total_ms"])
    if g["final"] is not None and g["tricolor_collections"]:
        marked = g["marked"]
        rec.update(tricolor_collections=g["tricolor_collections"],
                   allowlist_coverage_min=g["coverage_min"],
                   allowlist_coverage_run=1 - g["opaque_marked"] / marked if marked else None,
                   marked=marked, opaque_marked=g["opaque_marked"], candidates=g["candidates"],
                   opaque_candidates=g["opaque_candidates"],
                   opaque_candidates_max=g["opaque_candidates_max"],
                   opaque_types=g.get("opaque_types", {}),
                   tricolor_stats_final=json.loads(g["final"]))
    return rec


def geomean(xs):
    xs = [x for x in xs if x is not None and x == x and x > 0]
    return math.exp(statistics.fmean(math.log(x) for x in xs)) if xs else float("nan")


def merge_counts(dicts):
    out = {}
    for d in dicts:
        for k, n in d.items():
            out[k] = out.get(k, 0) + n
    return out


def top_opaque(counts, n=3):
    """The n opaque types marking met most often, with their share."""
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in top) if total else "-"


def summarize(tasks, runs):
    rows = []
    for t in tasks:
        row = {"benchmark": t["benchmark"], "name": t["name"],
               "label": t["benchmark"] if t["tasks"] == 1 else t["name"], "loops": t["loops"]}
        for c in CONFIGS:
            ok = [r for r in runs if (r["benchmark"], r["name"], r["config"]) == (t["benchmark"], t["name"], c)
                  and "failed" not in r]
            n_all = sum((r["benchmark"], r["name"], r["config"]) == (t["benchmark"], t["name"], c)
                        for r in runs)
            med = lambda key: report.median([r[key] for r in ok if r.get(key) is not None])  # noqa: E731
            mx = lambda key: max((r[key] for r in ok if r.get(key) is not None), default=float("nan"))  # noqa: E731
            covs = [r["allowlist_coverage_min"] for r in ok if r.get("allowlist_coverage_min") is not None]
            runcov = [r["allowlist_coverage_run"] for r in ok if r.get("allowlist_coverage_run") is not None]
            mmus = {w: [r["mmu"][w] for r in ok if r.get("mmu") and r["mmu"].get(w) is not None]
                    for w in MMU_WINDOWS}
            row[c] = {"processes": n_all, "failed": n_all - len(ok),
                      "mmu": {w: min(v) if v else None for w, v in mmus.items()},
                      "time_ms": report.ms(med("time_s")), "cpu_s": med("cpu_s"),
                      "maxrss_kb": med("maxrss_kb"), "max_gc_pause_ms": mx("max_gc_pause_ms"),
                      "gc_pauses": med("gc_pauses"), "collections": med("collections"),
                      "coverage_min": min(covs) if covs else None,
                      "coverage_run": report.median(runcov) if runcov else None,
                      "opaque_candidates": med("opaque_candidates") if c == "concurrent" else None,
                      "opaque_types": merge_counts(r.get("opaque_types", {}) for r in ok)}
        s = row["stock"]
        ratio = lambda c, key: (row[c][key] / s[key] if s[key] and s[key] == s[key]  # noqa: E731
                                else float("nan"))
        row.update(stw_time=ratio("stw", "time_ms"), con_time=ratio("concurrent", "time_ms"),
                   con_cpu=ratio("concurrent", "cpu_s"), con_rss=ratio("concurrent", "maxrss_kb"),
                   stw_cpu=ratio("stw", "cpu_s"), stw_rss=ratio("stw", "maxrss_kb"))
        rows.append(row)
    return rows


def tables(args, rows, skipped, failures):
    def cell(row, c, key, fmt=None):
        v = row[c][key]
        if row[c]["failed"] == row[c]["processes"]:
            return "failed"
        if v is None or v != v:
            return "-"
        return fmt(v) if fmt else (round(v) if isinstance(v, float) and v >= 1000 else v)

    def pct(v):
        return "-" if v is None or v != v else f"{100 * v:.1f}%"

    def cov(row):
        c = row["concurrent"]
        if c["failed"] == c["processes"]:
            return "failed"
        return f"{pct(c['coverage_min'])} ({pct(c['coverage_run'])})"

    def r(v):
        return "-" if v != v else f"{v:.3f}"

    def mmu(row, c):
        if row[c]["failed"] == row[c]["processes"]:
            return "failed"
        return "/".join("-" if row[c]["mmu"][w] is None else f"{row[c]['mmu'][w]:.2f}"
                        for w in MMU_WINDOWS)

    table = report.md_table(
        ["benchmark", "stock ms", "stw/stock", "concurrent/stock time", "concurrent/stock CPU",
         "concurrent/stock RSS", "stock longest GC pause ms", "stw max pause ms",
         "concurrent max pause ms", "concurrent pauses", "MMU 1/10/100 ms stock",
         "MMU 1/10/100 ms concurrent", "allowlist coverage min (run)",
         "most frequent opaque types"],
        [[row["label"], cell(row, "stock", "time_ms"), r(row["stw_time"]), r(row["con_time"]),
          r(row["con_cpu"]), r(row["con_rss"]), cell(row, "stock", "max_gc_pause_ms"),
          cell(row, "stw", "max_gc_pause_ms"), cell(row, "concurrent", "max_gc_pause_ms"),
          cell(row, "concurrent", "gc_pauses", lambda v: f"{v:g}"), mmu(row, "stock"),
          mmu(row, "concurrent"), cov(row),
          top_opaque(row["concurrent"]["opaque_types"])] for row in rows])
    keys = [("stw_time", "stw/stock time"), ("con_time", "concurrent/stock time"),
            ("con_cpu", "concurrent/stock CPU"), ("con_rss", "concurrent/stock RSS"),
            ("stw_cpu", "stw/stock CPU"), ("stw_rss", "stw/stock RSS")]
    rest = [row for row in rows if row["benchmark"] not in GC_TIMING]
    geo = report.md_table(
        ["benchmarks", "n", *(label for _, label in keys)],
        [[what, len(rs), *(r(geomean([row[k] for row in rs])) for k, _ in keys)]
         for what, rs in (("all", rows), ("all but " + ", ".join(sorted(GC_TIMING)), rest))])
    text = ("## Per benchmark\n\n" + table + "\n\n" +
            f"Medians over {args.processes} worker process(es) per configuration (pyperf "
            f"`--worker -w {args.warmups} -n {args.values}`, the loops calibrated once on stock, "
            "the same for every configuration).  stock ms = the median pyperf value (time per "
            "loop) under stock; the ratios divide the medians: time = pyperf's, CPU = the worker's "
            "user + system time (all threads, whole process), RSS = its peak RSS.  Pauses: the "
            "longest over the processes; stock's is a whole collection (gc.callbacks 'start' to "
            "'stop', all of it counted: an upper bound), the fork's a stop-the-world pause of the "
            "GC from gc.get_pause_stats() (gc_collect_internal under stw, tricolor:* under "
            "concurrent; other pauses, e.g. at thread start, are in the .json).  concurrent "
            "pauses = the median count per process.  Allowlist coverage: the least "
            "`allowlist_coverage` of any concurrent collection that marked something (small "
            "start-up collections weigh as much as large ones), and in brackets the whole run's "
            "(1 - opaque_marked / marked summed over its collections).  Opaque types: "
            "gc.get_tricolor_stats()['opaque_types'] summed over the run's collections and "
            "processes, the three most frequent with their share of the opaque objects marking "
            "met (every type and count is in the .json).  MMU: minimum mutator utilisation at "
            "1, 10 and 100 ms windows over each worker's life, from the GC's pauses on a "
            "timeline (stock: its whole collections, as for its pause above, so stock's MMU is "
            "a lower bound; the fork: its GC pauses' stopped_at_ns and pause_ns), the least over "
            "the processes; - where the worker lived less than the window.  A benchmark "
            "whose script registers several pyperf benchmarks has one row per benchmark (the "
            "pyperf name).\n\n"
            "## Minimum mutator utilisation\n\n" + mmu_summary(rows) + "\n\n"
            "## Geometric means of the ratios\n\n" + geo + "\n\n"
            "gc_collect, gc_traversal and btree_gc_only time gc.collect() itself (btree_gc_only: "
            "only the collections of btree's loop); the second line leaves them out.\n")
    if failures:
        text += "\n## Failed measurements\n\n" + report.md_table(
            ["benchmark", "config", "round", "why"],
            [[f["name"], f["config"], f["round"], f["failed"]] for f in failures]) + "\n"
    text += "\n## Benchmarks that could not run here\n\n"
    text += (report.md_table(["benchmark", "why (its error, run once on stock)"],
                             [[s["benchmark"], s["reason"].replace("|", "\\|")] for s in skipped])
             if skipped else "None.") + "\n"
    return text


def mmu_summary(rows):
    """Per window: the least MMU over the benchmarks per configuration, and
    on how many the concurrent mode's is at least stock's."""
    out = []
    for w in MMU_WINDOWS:
        both = [(row["stock"]["mmu"][w], row["concurrent"]["mmu"][w]) for row in rows
                if row["stock"]["mmu"][w] is not None and row["concurrent"]["mmu"][w] is not None]
        least = {c: min((row[c]["mmu"][w] for row in rows if row[c]["mmu"][w] is not None),
                        default=None) for c in CONFIGS}
        out.append([f"{w} ms", *("-" if least[c] is None else f"{least[c]:.2f}" for c in CONFIGS),
                    f"{sum(con >= st for st, con in both)} of {len(both)}"])
    return report.md_table(["window", "least stock", "least stw", "least concurrent",
                            "benchmarks where concurrent >= stock"], out)


def plot(rows, path):
    plt = report.pyplot()
    labels = [row["label"] for row in rows]
    x = range(len(rows))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6.0, 0.28 * len(rows) + 2), 7.5), sharex=True)
    ax1.bar(x, [row["con_time"] for row in rows], color="tab:orange", label="concurrent / stock")
    ax1.axhline(1.0, color="k", lw=0.8)
    ax1.set_ylabel("time ratio")
    ax1.set_title("pyperformance: concurrent / stock time per benchmark", fontsize=10)
    ax1.legend(fontsize=8)
    w = 0.27
    style = {"stock": "tab:blue", "stw": "tab:green", "concurrent": "tab:orange"}
    for i, c in enumerate(CONFIGS):
        ax2.bar([k + (i - 1) * w for k in x], [row[c]["max_gc_pause_ms"] for row in rows], w,
                color=style[c], label=c + (" (whole collection)" if c == "stock" else ""))
    ax2.set_yscale("log")
    ax2.set_xticks(list(x), labels, rotation=90, fontsize=7)
    report.save_plot(fig, ax2, path, "longest GC pause per benchmark", "ms (log)")


def default_dir(name):
    d = THIRD_PARTY / name
    return str(d) if d.is_dir() else None


def main():
    p = report.parser(__doc__)
    p.add_argument("--suite", default=default_dir("pyperformance"),
                   help="a pyperformance checkout (default ../shared/third_party/pyperformance "
                        "beside the repository)")
    p.add_argument("--pyperf", default=default_dir("pyperf"),
                   help="a pyperf checkout, put on PYTHONPATH (default ../shared/third_party/pyperf)")
    p.add_argument("--benchmarks", help="comma-separated MANIFEST names (default: every one that runs)")
    p.add_argument("--processes", type=int, help="worker processes per benchmark per configuration "
                   "(default 3; --quick 1)")
    p.add_argument("--values", type=int, help="pyperf values per process (default 2; --quick 1)")
    p.add_argument("--warmups", type=int, default=1, help="pyperf warm-ups per process")
    p.add_argument("--loops", type=int, help="pyperf loops per value (default: calibrated on stock)")
    p.add_argument("--quick", action="store_true", help="1 process and 1 value, where not given")
    p.add_argument("--timeout", type=float, default=600, help="seconds per worker process")
    p.add_argument("--discover-timeout", type=float, default=300,
                   help="seconds for each benchmark's discovery run")
    p.add_argument("--discover", action="store_true", help="only find which benchmarks run; write nothing")
    args = p.parse_args()
    if not args.suite or not (benchmarks_dir(args.suite) / "MANIFEST").is_file():
        p.error(f"no pyperformance suite at {args.suite or THIRD_PARTY / 'pyperformance'} "
                f"(its pyperformance/data-files/benchmarks/MANIFEST): {GET_IT}")
    if not args.pyperf or not (Path(args.pyperf) / "pyperf" / "__init__.py").is_file():
        p.error(f"no pyperf at {args.pyperf or THIRD_PARTY / 'pyperf'}: {GET_IT}")
    args.suite, args.pyperf = str(Path(args.suite).resolve()), str(Path(args.pyperf).resolve())
    args.processes = args.processes or (1 if args.quick else 3)
    args.values = args.values or (1 if args.quick else 2)
    specs = manifest(args.suite)
    if args.benchmarks:
        names = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
        unknown = [b for b in names if b not in specs]
        if unknown:
            p.error(f"not in the suite's MANIFEST: {', '.join(unknown)} (have {', '.join(specs)})")
        specs = {b: specs[b] for b in names}
    ctx = report.context(args)
    tmp = Path(tempfile.mkdtemp(prefix="tricolor-pyperformance-"))
    try:
        hookdir = tmp / "hook"
        hookdir.mkdir()
        shutil.copy(HOOK, hookdir / "sitecustomize.py")
        t0 = time.perf_counter()
        tasks, skipped = discover(args, specs, hookdir, tmp)
        discover_s = time.perf_counter() - t0
        print(f"discovery: {len(specs) - len(skipped)} of {len(specs)} benchmarks run "
              f"({len(tasks)} pyperf benchmarks), {discover_s:.0f} s; the measurement should take "
              f"about {estimate_s(args, tasks) / 60:.1f} min", flush=True)
        if args.discover:
            for s in skipped:
                print(f"  cannot run: {s['benchmark']}: {s['reason']}")
            return
        Path(args.out).mkdir(parents=True, exist_ok=True)
        runs, k = [], 0
        t1 = time.perf_counter()
        for task in tasks:
            for rnd in range(args.processes):
                for config in report.alternate(CONFIGS, k):
                    r = measure(args, task, config, rnd, hookdir, tmp)
                    runs.append(r)
                    print(f"{task['name']} {config} #{rnd}: " + (
                        f"FAILED ({r['failed']})" if "failed" in r else
                        f"{report.ms(r['time_s']):.3g} ms, cpu {r['cpu_s']:.2f} s, "
                        f"rss {r['maxrss_kb'] / 1024:.0f} MiB, max GC pause "
                        f"{r['max_gc_pause_ms']:.2f} ms ({r['gc_pauses']} pauses)"), flush=True)
                k += 1
        measure_s = time.perf_counter() - t1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = summarize(tasks, runs)
    failures = [r for r in runs if "failed" in r]
    if rows:
        plot(rows, f"{args.out}/pyperformance.png")
    report.write(args.out, "pyperformance",
                 "pyperformance's benchmarks: stock vs -X gc=stw vs -X gc=concurrent", ctx,
                 {"args": vars(args), "configs": list(CONFIGS), "suite_commit": suite_commit(args.suite),
                  "pyperf_commit": suite_commit(args.pyperf),
                  "discover_s": discover_s, "estimated_measure_s": estimate_s(args, tasks),
                  "measure_s": measure_s, "skipped": skipped,
                  "tasks": tasks, "summary": rows, "runs": runs},
                 tables(args, rows, skipped, failures))


def suite_commit(path):
    """The commit of a checkout (its own .git), else the line of the
    SOURCES.md beside it that names it (../shared/third_party's), else None."""
    path = Path(path)
    if (path / ".git").exists():
        try:
            return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                                  text=True).stdout.strip() or None
        except OSError:
            return None
    sources = path.parent / "SOURCES.md"
    if sources.is_file():
        for line in sources.read_text().splitlines():
            if line.startswith(f"| {path.name}/ |"):
                return line.strip("| ").replace(" | ", ", ")
    return None


if __name__ == "__main__":
    main()
