"""Stress: threads mutate object graphs while the collector runs (issue 5).

Run by ctest (stress/python/CMakeLists.txt) on the stock interpreter, as the
control, and on the tricolor fork in concurrent mode, in stw mode and under
the safepoint stress mode:

    python3.13t-tricolor stress/python/stress_graph --threads 4 --seconds 20

(the directory runs as a script: __main__.py; `-m stress_graph` with
stress/python on sys.path does the same).

Strategy: N mutator threads, each with random.Random(seed * 1000 + index),
perform random operations while one more thread calls gc.collect() every
--collect-interval ms (in concurrent mode automatic collections run as well):
  * on a local graph of "shapes" -- rings, long chains, trees, cliques and
    self-loops of __slots__ and __dict__ instances, lists, dicts and tuples,
    some instances with __del__ (a few resurrect themselves into a global
    keep list), some holding weakref.ref(another member, callback) --
    created, re-linked (cross edges, back edges cut and restored, shapes
    merged), handed to other threads (queue.SimpleQueue and a shared list),
    and dropped whole, which makes garbage cycles -- some right after they
    were built root first, so that a collection that began during the build
    finds part of the cycle allocated before it and part after;
  * on a shared graph: a list of slots that every thread replaces, reads,
    links, clears and rewrites without locks (list, dict and attribute
    operations that free-threaded CPython makes atomic).
Every claim is checked through weakrefs, checksums and finalizer logs, the
way a user sees the collector:
  1. Nothing reachable is freed: every node carries (nid, payload, checksum),
     verified whenever it is read; a shape's walk must find exactly its nodes;
     weakrefs to what a thread holds stay alive; no __del__ and no in-shape
     weakref callback runs while the shape is held.
  2. Every unreachable cycle is freed within 2 collections: a dropped shape
     no other thread can reach (never published, linked to or handed on) is
     tagged with weakrefs, and once two collections that *started after* the
     drop have completed (counted through gc.callbacks) they must be dead,
     and the callback of a weakref to its root must have run exactly once.
  3. Every __del__ runs exactly once per object (counted per unique id); a
     resurrected object's __del__ does not run again when it dies (PEP 442).
  4. Weakref callbacks: the weakref is cleared when its callback runs; a
     callback runs at most once; it never runs for a weakref that became
     garbage together with its referent (a whole unescaped shape).
  5. Resurrected objects survive: what __del__ stored in the keep list is
     intact, and so is everything it references.
At the end everything is dropped, gc.collect() runs until the keep list stays
empty, and no instance of the script's classes may be left (gc.get_objects())
and every __del__ must have run exactly once.

The script prints seed=N and the exact command that replays the run (same
seed, options, interpreter, -X options and PYTHON_GC/PYTHON_SAFEPOINT_STRESS);
the per-thread random streams replay exactly, the interleaving is the OS's.
Exit status 0 when clean, 1 on any violation (each printed with VIOLATION:),
and 1 on a hang: 60 s without progress is a deadlock, reported with every
thread's stack (by faulthandler, "Timeout (0:01:00)!", when no thread can
run Python code any more).  With the defaults memory stays bounded (under
200 MB, whatever the run's length).  --collect-interval -1 leaves collections
to the interpreter (no gc.collect() until the final checks); memory then
grows with the run's length, on stock as well: each collection's trigger
moves further away as the garbage it freed grows.

The package, one module per concept:
  state.py        the run's shared state: constants, collections counted
                  through gc.callbacks, per-id counters, the keep list, the
                  shared graph, each thread's State
  violations.py   where every check reports (from any thread)
  nodes.py        the graph's elements, their verified headers, the
                  finalizer objects
  shapes.py       program generation: the shapes a thread builds, picks
                  from and walks, with their flags and weakref callbacks
  oracle.py       the checks of dropped shapes (batches of weakrefs) and of
                  resurrected objects
  operations.py   the mutator operations, their weights, the mutator and
                  collector thread loops
  final_check.py  the end: drop everything; nothing may be left
  runner.py       the command line, the replay command, the main loop
"""
