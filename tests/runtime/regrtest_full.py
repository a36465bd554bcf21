"""CPython's full regression suite on stock and on tricolor: which test files
fail on each, and which differ.

Each interpreter runs

    PY -m test -j2 -u-network --timeout 900 --rerun

(-j2: this machine has two cores; --rerun: a failing file is re-run once in
verbose mode, so a flaky file shows as "fixed" rather than failed).  The
files that fail on both are the machine's (no network, container limits);
the files that fail on only one interpreter are the difference, which
papers/design.md §6.4 explains test by test.

    python3 tests/runtime/regrtest_full.py --stock PY --tricolor PY [--out DIR]
        [--log-dir DIR] [--reuse-log NAME]

--reuse-log stock|tricolor parses LOG_DIR/regrtest_full-NAME.log from an
earlier run of the same command on the same interpreter (its first line
records the interpreter) instead of running the suite again (~20 min each
here).  Writes regrtest_full.json and regrtest_full.md to --out.
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # bench/report.py
import report  # noqa: E402

ARGS = ["-m", "test", "-j2", "-u-network", "--timeout", "900", "--rerun"]


def names(block):
    return sorted(block.split())


def parse(text):
    """The sets of the final summary: failed, fixed by the re-run, crashed..."""
    final = text.rsplit("== Tests result:", 1)
    if len(final) != 2:
        raise ValueError("no '== Tests result:' summary in the log")
    verdict, body = final[1].split("==", 1)
    out = {"result": verdict.strip()}
    for m in re.finditer(r"^(\d+) (tests? [a-z ()-]+):\n((?:    .*\n)+)", body, re.M):
        out[m.group(2)] = names(m.group(3))
    totals = re.search(r"^Total tests: (.*)$", body, re.M)
    out["totals"] = totals.group(1) if totals else None
    return out


def run(name, python, log):
    cmd = [os.path.abspath(python), *ARGS]
    print(f"[regrtest_full] {name}: {shlex.join(cmd)} > {log}", flush=True)
    with open(log, "w") as f:
        f.write(f"# {shlex.join(cmd)}   [resolved: {Path(python).resolve()}]\n")
        f.flush()
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=log.parent)
    return log.read_text()


def main():
    p = report.parser(__doc__)
    p.add_argument("--log-dir", default="/tmp", help="where the suites' logs go")
    p.add_argument("--reuse-log", action="append", default=[], choices=["stock", "tricolor"])
    args = p.parse_args()
    ctx = report.context(args)
    logs = Path(args.log_dir)
    logs.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, python in (("stock", args.stock), ("tricolor", args.tricolor)):
        log = logs / f"regrtest_full-{name}.log"
        if name in args.reuse_log:
            text = log.read_text()
            first = text.splitlines()[0]
            if f"[resolved: {Path(python).resolve()}]" not in first:
                sys.exit(f"{log} was not produced by {python} ({first})")
        else:
            text = run(name, python, log)
        results[name] = parse(text)
        results[name]["log_head"] = text.splitlines()[0]
    failed = {k: set(v.get("tests failed", []) + v.get("test failed", [])) for k, v in results.items()}
    rows = []
    for test in sorted(failed["stock"] | failed["tricolor"]):
        s, t = test in failed["stock"], test in failed["tricolor"]
        rows.append((test, "fail" if s else "pass", "fail" if t else "pass",
                     "both" if s and t else "tricolor only" if t else "stock only"))
    table = report.md_table(["test file", "stock", "tricolor", "differs"], rows)
    summary = "\n".join(f"- {k}: {v['result']}; {v['totals']}" for k, v in results.items())
    notes = (f"{summary}\n\nCommand per interpreter: `PY {shlex.join(ARGS)}`; a file listed "
             "failed after its verbose re-run.  Files failing on both are this machine's "
             "(papers/design.md §6.4 gives the reason for each file that differs).")
    report.write(args.out, "regrtest_full", "CPython's full regression suite: stock vs tricolor",
                 ctx, {"results": results}, table, notes)


if __name__ == "__main__":
    main()
