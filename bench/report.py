"""Shared helpers for the bench/ drivers: argument parsing, running a worker
process and parsing its JSON line, and writing NAME.json / NAME.md (each with
the exact command line, the machine and the interpreters) and NAME.png."""
import argparse
import bisect
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def parser(doc):
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stock", required=True, help="unpatched python3.13t")
    p.add_argument("--tricolor", required=True, help="patched python (has gc.get_pause_stats)")
    p.add_argument("--out", default=str(REPO / "papers" / "results"), help="output directory")
    return p


def interpreters(args, k):
    """(name, path) of both interpreters; the order alternates with k, so that
    neither always runs first."""
    pair = [("stock", args.stock), ("tricolor", args.tricolor)]
    return pair if k % 2 == 0 else pair[::-1]


def run_json(argv, timeout=None):
    """Run a worker process; return the JSON object on its last stdout line."""
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode:
        raise RuntimeError(f"{shlex.join(map(str, argv))} exited {p.returncode}:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def try_run_json(argv, timeout=None):
    """run_json(), but a worker that fails (exits non-zero -- MemoryError,
    killed --, times out, or prints no JSON) gives {"failed": why}."""
    try:
        return run_json(argv, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {timeout:g} s"}
    except (RuntimeError, ValueError, IndexError) as e:
        msg = str(e)
        return {"failed": msg if len(msg) < 3000 else msg[:500] + "\n...\n" + msg[-2000:]}


def ms(seconds):
    return seconds * 1e3


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def config_argv(args, config):
    """The command that runs `config` (stock, before, or a tricolor -X gc=
    mode) with the interpreters of --stock, --tricolor and --before."""
    if config == "stock":
        return [args.stock]
    if config == "before":
        return [args.before, "-X", "gc=concurrent"]
    return [args.tricolor, "-X", f"gc={config}"]


def alternate(configs, k):
    """The k-th round's order: forward, then backward, and so on."""
    return configs if k % 2 == 0 else configs[::-1]


def mmu(gaps, t0, t1, window):
    """Minimum mutator utilisation of one thread over [t0, t1] at a window of
    `window` seconds.

    gaps are (start, length) pairs, in seconds on the clock of t0 and t1: the
    times the thread did not run.  A window's utilisation is 1 - (time of the
    gaps inside it) / window, and the MMU the least utilisation of any window
    inside [t0, t1]; an interval shorter than the window is extended to
    [t0, t0 + window].  The stalled time of a window is linear in its start
    between the starts where a window begins at a gap's start or ends at a
    gap's end, so those (clamped to the interval) and the interval's first and
    last window are the only ones tried.  Rounded to 1e-6 (the
    clock's rounding error is some 1e-8 of a 1 ms window)."""
    if t1 - t0 < window:
        t1 = t0 + window
    spans = []                   # the gaps clipped to [t0, t1], sorted, merged
    for s, length in sorted(gaps):
        a, b = max(s, t0), min(s + length, t1)
        if a >= b:
            continue
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    if not spans:
        return 1.0
    starts = [a for a, _ in spans]
    before = [0.0]               # before[i]: stalled time of spans[:i]
    for a, b in spans:
        before.append(before[-1] + b - a)

    def stalled(x):              # stalled time in [t0, x]
        i = bisect.bisect_right(starts, x)
        return before[i - 1] + min(x, spans[i - 1][1]) - starts[i - 1] if i else 0.0

    last = t1 - window
    candidates = [t0, last] + [x for a, b in spans for x in (a, b - window)]
    worst = max(stalled(x + window) - stalled(x)
                for x in (min(max(x, t0), last) for x in candidates))
    return round(max(0.0, 1.0 - worst / window), 6)


def context(args):
    """Command line, machine and interpreter versions, recorded with every result."""
    def out(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return None
    return {
        "command": shlex.join([sys.executable, *sys.argv]),
        "cwd": os.getcwd(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "machine": f"{platform.node()} {platform.platform()} {platform.processor()}".strip(),
        "git": out("git", "-C", str(REPO), "describe", "--always", "--dirty"),
        "interpreters": {name: {"path": path,
                                "version": out(path, "-c", "import sys; print(sys.version)")}
                         for name, path in (("stock", getattr(args, "stock", None)),
                                            ("tricolor", getattr(args, "tricolor", None)),
                                            # an interpreter only where the others are
                                            ("before", getattr(args, "before", None)
                                             if hasattr(args, "tricolor") else None))
                         if path},
    }


def md_table(header, rows):
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _nan_to_none(x):
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    return x


def write(out, name, title, ctx, data, table, notes=""):
    """Write NAME.json (ctx + data) and NAME.md (command, machine, table, notes);
    print the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(_nan_to_none({**ctx, **data}), indent=1) + "\n")
    interps = "\n".join(f"- {k}: `{v['path']}` ({(v['version'] or '?').splitlines()[0]})"
                        for k, v in ctx["interpreters"].items())
    md = (f"# {title}\n\n```\ncd {shlex.quote(ctx['cwd'])} && {ctx['command']}\n```\n\n"
          f"Machine: {ctx['machine']}, nproc={ctx['nproc']}, date {ctx['date']}, "
          f"git {ctx['git']}\n\n{interps}\n\n{table}\n")
    if notes:
        md += f"\n{notes.strip()}\n"
    (out / f"{name}.md").write_text(md)
    print(table)
    return out


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_plot(fig, ax, path, title, ylabel, xlabel=None, title_size=None):
    """Label, add the legend, and write the figure to path."""
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=title_size)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
