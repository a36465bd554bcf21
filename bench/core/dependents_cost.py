#!/usr/bin/env python3
"""Pause cost of Verifier::find_dependents (papers/design.md §7.5), side by side.

    bench/core/dependents_cost.py [--build build/mutants] [--runs 4] [--objects 1000000]

Runs BUILD/bench/core_pause (bench/core/core_pause.cc) from a
-DTRICOLOR_MUTANTS=ON build (stress/run mutants makes build/mutants;
`cmake --build build/mutants --target core_pause`) alternately as is and
with TRICOLOR_MUTANT=no-dependents, which skips the step, and prints the
medians over runs of each run's max pause, median pause and verify-phase
time per collection (collections after the first).
"""
import argparse
import json
import os
import statistics
import subprocess

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--build", default="build/mutants")
ap.add_argument("--runs", type=int, default=4)
ap.add_argument("--objects", type=int, default=1000000)
args = ap.parse_args()
exe = os.path.join(args.build, "bench", "core_pause")
res = {"with find_dependents": [], "without (no-dependents)": []}
for _ in range(args.runs):
    for name, env in zip(res, ({}, {"TRICOLOR_MUTANT": "no-dependents"})):
        out = subprocess.run([exe, "--objects", str(args.objects), "--mode", "concurrent",
                              "--collections", "6"], env={**os.environ, **env},
                             capture_output=True, text=True, timeout=600, check=True).stdout
        d = json.loads(out.strip().splitlines()[-1])
        pauses = [p for c in d["collections"][1:] for p in c["pause_ns"]]
        verify = [c["phase_ns"]["verify"] for c in d["collections"][1:]]
        res[name].append((max(pauses) / 1e6, statistics.median(pauses) / 1e6,
                          statistics.median(verify) / 1e6))
print("| variant | max pause ms | median pause ms | verify phase ms per collection |")
print("|---|---|---|---|")
for name, rows in res.items():
    med = [statistics.median(r[i] for r in rows) for i in range(3)]
    print(f"| {name} | {med[0]:.3f} | {med[1]:.3f} | {med[2]:.2f} |")
