"""The command line, the replay command and the main loop: start the
threads, watch for progress and violations, stop, run the final checks."""
import argparse
import faulthandler
import gc
import os
import shlex
import sys
import threading
import time

from . import __doc__ as DOC
from . import state
from .final_check import finish
from .operations import collector, mutator
from .oracle import leaks_freed
from .state import GC, HANG, KEEP, STATES, STOP, Counts, State, gc_callback
from .violations import (MORE_VIOLATIONS, VIOLATIONS, thread_excepthook, unraisable_hook,
                         violation)

PACKAGE = os.path.dirname(os.path.abspath(__file__))


def rss_mb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def replay_command(args, seed):
    env = ["%s=%s" % (k, os.environ[k]) for k in ("PYTHON_GC", "PYTHON_SAFEPOINT_STRESS")
           if k in os.environ]
    xopts = []
    for k, v in sys._xoptions.items():
        xopts += ["-X", k if v is True else "%s=%s" % (k, v)]
    cmd = env + [sys.executable] + xopts + [
        PACKAGE, "--threads", str(args.threads),
        "--seconds", str(args.seconds), "--seed", str(seed),
        "--collect-interval", str(args.collect_interval), "--max-nodes", str(args.max_nodes)]
    return " ".join(shlex.quote(c) for c in cmd)


def main():
    ap = argparse.ArgumentParser(prog="stress_graph", description=DOC.split("\n")[0])
    ap.add_argument("--threads", type=int, default=4, help="mutator threads (default 4)")
    ap.add_argument("--seconds", type=float, default=20, help="run time (default 20)")
    ap.add_argument("--seed", type=int, default=None, help="default: random")
    ap.add_argument("--collect-interval", type=float, default=5,
                    help="ms between the collecting thread's gc.collect() calls (default 5; "
                    "0: back to back; negative: no gc.collect() until the end, automatic "
                    "collections only)")
    ap.add_argument("--max-nodes", type=int, default=10000,
                    help="nodes in a thread's held shapes (default 10000)")
    args = ap.parse_args()
    if not 1 <= args.threads <= 250:
        ap.error("--threads must be 1..250")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    replay = replay_command(args, seed)
    try:
        mode = gc.get_tricolor_stats()["mode"]
    except AttributeError:
        mode = "stock"
    print("seed=%d" % seed)
    print("replay: " + replay)
    print("interpreter %s, gc mode %s, safepoint stress %s, GIL %s" % (
        sys.executable, mode,
        os.environ.get("PYTHON_SAFEPOINT_STRESS", sys._xoptions.get("safepoint_stress", "off")),
        "enabled" if getattr(sys, "_is_gil_enabled", lambda: True)() else "disabled"),
        flush=True)

    faulthandler.enable()
    # A hang (deadlock) watchdog that works when no thread can run Python
    # code: faulthandler's own thread prints every stack ("Timeout (0:01:00)!")
    # and exits with status 1.  Re-armed while the mutators make progress.
    faulthandler.dump_traceback_later(HANG, exit=True)
    sys.unraisablehook = unraisable_hook
    threading.excepthook = thread_excepthook
    gc.callbacks.append(gc_callback)
    state.DELS = Counts(args.threads)
    state.CBS = Counts(args.threads)
    for i in range(args.threads + 1):   # the last one is the main thread's
        STATES.append(State(i, seed, args.max_nodes))
    threads = [threading.Thread(target=mutator, args=(STATES[i],), name="mutator-%d" % i)
               for i in range(args.threads)]
    if args.collect_interval >= 0:
        threads.append(threading.Thread(target=collector, args=(args.collect_interval / 1000,),
                                        name="collector"))
    else:
        state.COLLECT = False
    t0 = time.monotonic()
    for t in threads:
        t.start()
    printed = 0
    next_report = t0 + 5
    peak = 0.0
    last_ops = -1
    last_progress = t0
    while True:
        now = time.monotonic()
        ops = sum(s.nops for s in STATES)
        if ops != last_ops:
            last_ops = ops
            last_progress = now
            faulthandler.dump_traceback_later(HANG, exit=True)
        elif now - last_progress > HANG / 2:
            print("VIOLATION: no mutator made progress for %.0f s (deadlock?); stacks:"
                  % (now - last_progress), flush=True)
            faulthandler.dump_traceback(all_threads=True)
            print("FAIL; replay with:\n  " + replay, flush=True)
            os._exit(1)
        while printed < len(VIOLATIONS) and printed < 50:
            print("VIOLATION: " + VIOLATIONS[printed], flush=True)
            printed += 1
        for b, s0, s in leaks_freed():
            print("  (the leaked %s, dropped before collection #%d started, was freed by "
                  "collection #%d at the latest)" % (b.desc, s0 + 1, s), flush=True)
        peak = max(peak, rss_mb())
        if now >= next_report:
            next_report += 5
            print("%5.0fs: %d ops, %d collections, %d shapes held, %d resurrected waiting, "
                  "%d garbage shapes checked, rss %.0f MB" % (
                      now - t0, sum(s.nops for s in STATES), GC[1],
                      sum(len(s.shapes) for s in STATES), len(KEEP),
                      sum(s.checked for s in STATES), rss_mb()), flush=True)
        if now - t0 >= args.seconds:
            break
        time.sleep(0.05)
    STOP.set()
    faulthandler.dump_traceback_later(HANG * 5, exit=True)   # joins and the final checks
    for t in threads:
        t.join(HANG)
        if t.is_alive():
            print("VIOLATION: thread %s did not stop within %d s (deadlock?); stacks:"
                  % (t.name, HANG), flush=True)
            faulthandler.dump_traceback(all_threads=True)
            print("FAIL; replay with:\n  " + replay, flush=True)
            os._exit(1)
    nops = sum(s.nops for s in STATES)
    checked = sum(s.checked for s in STATES) + sum(len(s.pending) for s in STATES)
    ncoll = GC[1]
    t1 = time.monotonic()
    nfin = finish()
    if state.GC_ORDER:
        violation("gc.callbacks: %d phases out of order (collections overlapped?), the first "
                  "(phase, starts, stops, thread): %s" % (len(state.GC_ORDER), state.GC_ORDER[:5]))
    t2 = time.monotonic()
    gc.callbacks.remove(gc_callback)
    faulthandler.cancel_dump_traceback_later()
    for v in VIOLATIONS[printed:50]:
        print("VIOLATION: " + v)
    print("%d ops by %d threads in %.1f s (stopping %.1f s, final checks %.1f s), "
          "%d collections%s, %d garbage shapes checked, %d finalizer objects, peak rss %.0f MB"
          % (nops, args.threads, t2 - t0, t1 - t0 - args.seconds, t2 - t1, ncoll,
             " (and the end of one that began before the run)" if state.GC_EARLY_STOP[0] else "",
             checked, nfin, peak))
    if VIOLATIONS:
        n = len(VIOLATIONS) + MORE_VIOLATIONS[0]
        print("FAIL: %d violation(s)%s; replay with:\n  %s" % (
            n, " (first 50 shown)" if n > 50 else "", replay), flush=True)
        return 1
    print("OK (seed=%d)" % seed, flush=True)
    return 0
