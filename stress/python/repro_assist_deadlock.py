"""Reproducer: deadlock between the concurrent collector's allocation assist
and a stop-the-world pause (found by stress_graph).

    build/bin/python3.13t-tricolor stress/python/repro_assist_deadlock.py

Exit 0: no deadlock within --seconds; exit 1: no thread made progress for
10 s (faulthandler prints "Timeout (0:00:10)!" and every thread's stack).
Stock and -X gc=stw never deadlock here; the fork deadlocked within 1-15 s
until f2c6f96 (0005: take the collector thread's mutex only while
detached).

Threads that make cyclic garbage fast make the binding's pacer ask for an
assist (gct_behind): gct_request_collection() (Python/gc_tricolor_thread.c)
takes gct_thread.mu, waits for the collector thread with
Py_BEGIN/END_ALLOW_THREADS *inside* the mutex, so it re-attaches while
holding gct_thread.mu.  If a stop-the-world request is pending at that
moment (the next collection's root scan, or -- as here -- an explicit
gc.collect()'s pauses), the thread blocks in _PyThreadState_Attach holding
gct_thread.mu; another mutator that reaches _Py_RunGC ->
gct_request_collection() blocks in pthread_mutex_lock(&gct_thread.mu) while
still attached, so it never parks, and the collection that requested the
pause waits for it forever.  gdb shows (today's names):
  collecting thread: stop_the_world("tricolor:resurrection-check" or other)
  mutator A:  gct_request_collection -> PyEval_RestoreThread (holds mu)
  mutator B:  gct_request_collection -> pthread_mutex_lock(&gct_thread.mu), attached
"""
import argparse
import faulthandler
import gc
import sys
import threading
import time


class Node:
    def __init__(self, peer=None):
        self.peer = peer
        self.payload = [1, 2, 3]


def churn(counter, i, stop):
    while not stop.is_set():
        # cyclic garbage: keeps the pacer's "making cyclic garbage" state
        # on, so allocating threads assist
        for _ in range(200):
            a = Node()
            b = Node(a)
            a.peer = b
        counter[i] += 1


def collect(counter, i, stop):
    while not stop.is_set():
        gc.collect()
        counter[i] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--no-collect", action="store_true",
                    help="no explicit gc.collect() thread (automatic collections only)")
    args = ap.parse_args()
    try:
        mode = gc.get_tricolor_stats()["mode"]
    except AttributeError:
        mode = "stock"
    print("gc mode:", mode, flush=True)
    stop = threading.Event()
    n = args.threads + (0 if args.no_collect else 1)
    counter = [0] * n
    threads = [threading.Thread(target=churn, args=(counter, i, stop), daemon=True)
               for i in range(args.threads)]
    if not args.no_collect:
        threads.append(threading.Thread(target=collect, args=(counter, n - 1, stop),
                                        daemon=True))
    for t in threads:
        t.start()
    t0 = time.monotonic()
    last = list(counter)
    # The watchdog is faulthandler's C thread: in the deadlock the main
    # thread cannot re-attach either.  Re-armed while threads make progress;
    # when it fires it prints every thread's stack and exits with status 1.
    faulthandler.dump_traceback_later(10, exit=True)
    while time.monotonic() - t0 < args.seconds:
        time.sleep(0.5)
        if counter != last:
            last = list(counter)
            faulthandler.dump_traceback_later(10, exit=True)
    faulthandler.cancel_dump_traceback_later()
    stop.set()
    for t in threads:
        t.join()
    print("no deadlock in %.0f s (%d rounds)" % (args.seconds, sum(counter)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
