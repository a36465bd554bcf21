"""The machine's noise floor: hiccup.cc (a thread that spins on the clock,
touching no memory, making no system call) on every CPU at once, each pinned
to its CPU, for --seconds.  A gap between two clock reads is time the thread
was kept from running -- interrupts, and in a virtual machine the host's
use of the vCPU, which the guest cannot see.  Every pause and stall in the
other results can be stretched by as much.

    python3 bench/core/hiccup.py --binary build/release/bench/hiccup [--seconds 20]
        [--out papers/results]

Writes hiccup.json and hiccup.md.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/report.py
import report  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", required=True)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--out", default=str(report.REPO / "papers" / "results"))
    args = p.parse_args()
    ctx = report.context(args)
    cpus = sorted(os.sched_getaffinity(0))
    procs = [subprocess.Popen(["taskset", "-c", str(c), args.binary, "--seconds", str(args.seconds)],
                              stdout=subprocess.PIPE, text=True) for c in cpus]
    rows = []
    for c, pr in zip(cpus, procs):
        out, _ = pr.communicate()
        if pr.returncode:
            raise SystemExit(f"hiccup on CPU {c} exited {pr.returncode}")
        rows.append({"cpu": c, **json.loads(out)})
    per_s = lambda r, k: r[k] / r["seconds"]
    table = report.md_table(
        ["CPU", "seconds", "gaps > 50 us", "> 200 us", "> 1 ms", "> 2 ms", "> 1 ms per s", "worst ms"],
        [[r["cpu"], r["seconds"], r["over_50us"], r["over_200us"], r["over_1ms"], r["over_2ms"],
          per_s(r, "over_1ms"), r["worst_ns"] / 1e6] for r in rows])
    notes = ("One spinning thread per CPU, all at once, nothing else of the benchmark's running. "
             "A gap is the time between two consecutive clock reads of a thread that never "
             "blocks.")
    report.write(args.out, "hiccup", "The machine's noise floor: a spinning thread's gaps", ctx,
                 {"args": vars(args), "cpus": rows}, table, notes)


if __name__ == "__main__":
    main()
