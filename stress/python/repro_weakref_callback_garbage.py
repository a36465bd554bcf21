"""Regression test (stress/known_bugs.md, fixed #1): no weakref callback runs
for a weakref that became garbage together with its referent, while
collections overlap the building of such cycles (found by stress_graph,
invariant 4).  ctest: stress.python.weakref-callbacks.

    build/bin/python3.13t-tricolor stress/python/repro_weakref_callback_garbage.py

Exit 0: no such callback within --seconds (stock and -X gc=stw always;
concurrent mode since the fix); exit 1: some ran (printed with whether a
collection started during the build of the cycle).

Each iteration builds, in a function, a chain of n __slots__ nodes hanging
off a self-loop (so it can only die as cyclic garbage), makes every 7th node
hold weakref.ref(another node of the chain, callback), and returns: the
nodes and the weakref objects become unreachable at the same moment.  Stock
CPython never calls those callbacks: clear_weakrefs() in
gc_free_threading.c skips a weakref that is itself unreachable ("We do not
invoke callbacks for weakrefs that are themselves unreachable", bpo-38006).

Before the fix, concurrent mode called them when a collection started while
the chain was being built: the objects allocated after the collection began
are black -- live for that collection -- so a weakref object allocated then
was not in the unreachable set when its referent, allocated before, was
found garbage (374-470 per 10 s run).  Now making a weakref with a callback
shades its referent for the collection in progress (papers/design.md §7.5).
"""
import argparse
import functools
import gc
import sys
import threading
import time
import weakref


class Node:
    __slots__ = ("links", "w", "__weakref__")

    def __init__(self):
        self.links = []
        self.w = None


STARTS = [0]


def count_starts(phase, info):
    if phase == "start":
        STARTS[0] += 1


RAN = {}


def callback(when, wr):
    # when = [starts before the build, starts after it]
    key = ("a collection started during the build" if when[0] != when[1]
           else "no collection started during the build")
    RAN[key] = RAN.get(key, 0) + 1


def build_and_drop(n):
    when = [STARTS[0], 0]
    nodes = [Node() for _ in range(n)]
    for i in range(n - 1):
        nodes[i].links.append(nodes[i + 1])
    nodes[0].links.append(nodes[0])      # a self-loop: the chain is cyclic garbage
    for k in range(0, n, 7):
        nodes[k].w = weakref.ref(nodes[(k * 3) % n], functools.partial(callback, when))
    when[1] = STARTS[0]
    # returning drops every node and every weakref object at once


def mutate(stop, n):
    while not stop.is_set():
        build_and_drop(n)


def collect(stop):
    while not stop.is_set():
        gc.collect()
        time.sleep(0.002)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--no-collect", action="store_true",
                    help="no gc.collect() thread (automatic collections only)")
    args = ap.parse_args()
    try:
        mode = gc.get_tricolor_stats()["mode"]
    except AttributeError:
        mode = "stock"
    gc.callbacks.append(count_starts)
    stop = threading.Event()
    threads = [threading.Thread(target=mutate, args=(stop, args.nodes))
               for _ in range(args.threads)]
    if not args.no_collect:
        threads.append(threading.Thread(target=collect, args=(stop,)))
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    gc.collect()
    gc.collect()
    n = sum(RAN.values())
    print("gc mode %s, %d collections: %d callbacks ran for weakrefs that were garbage "
          "together with their referents %s" % (mode, STARTS[0], n, RAN or ""))
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
