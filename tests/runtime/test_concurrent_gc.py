"""Tests of the tricolor fork's concurrent collector (runtime-patch 0005).

Run by ctest with the tricolor interpreter:

    python3.13t-tricolor tests/runtime/test_concurrent_gc.py

Strategy: every claim is checked through weak references and finalizer logs,
the way a user sees the collector.
  * Completeness: a garbage cycle through each kind of object -- the types
    the marker reads concurrently and the opaque ones (generators, frames,
    bound methods, partials, exceptions and frames) -- is freed
    within two collections after it becomes unreachable, also while other
    threads keep mutating a shared graph.
  * Soundness: objects reachable from those threads' graphs are never freed
    (their weakrefs stay alive and their contents stay intact).
  * Semantics kept from stock: gc.collect()'s return value equals the stw
    mode's on the same program; weakrefs are cleared before callbacks run;
    a resurrecting __del__ keeps its object; legacy finalizers go to
    gc.garbage; DEBUG_SAVEALL; gc.callbacks; disable().
  * Modes: -X gc= and PYTHON_GC select the mode, a bad value says so.
  * Automatic collections run on the collector thread, and pauses carry the
    phase names.
Each comparison with stw runs the same code in a child interpreter in each
mode, so a test that could only pass in one mode fails.
"""
import functools
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import unittest
import weakref

CONCURRENT = gc.get_tricolor_stats()["mode"] == "concurrent"


def child(code, mode, env=None):
    """Run code in a child interpreter in mode; return its stdout, stripped."""
    p = subprocess.run([sys.executable, "-X", f"gc={mode}", "-c", textwrap.dedent(code)],
                       capture_output=True, text=True, env={**os.environ, **(env or {})},
                       timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"child in {mode} mode failed:\n{p.stderr}")
    return p.stdout.strip()


class Holder:
    pass


def make_cycles():
    """One garbage cycle per kind of object; returns weakrefs to a member of each."""
    refs = {}

    def add(name, obj):
        refs[name] = weakref.ref(obj)

    h = Holder(); h.l = [h]; add("list", h)
    h = Holder(); h.d = {"h": h}; add("dict", h)
    h = Holder(); h.t = (h, 1); add("tuple", h)
    h = Holder(); h.s = {frozenset([1])}; h.self = h; add("instance", h)

    def outer():
        def inner():
            return inner
        return inner
    f = outer(); add("closure", f)

    def gen():
        me = yield
        yield me
    g = gen(); next(g); g.send(g); add("generator", g)
    h = Holder(); h.m = h.__init__; add("bound method", h)
    h = Holder(); h.p = functools.partial(print, h); add("partial", h)
    class E(Exception):
        pass
    try:
        raise E
    except E as e:
        e.frame_holder = sys.exc_info()[2].tb_frame  # exception -> frame -> e
        add("exception", e)

    # (No class: once a second thread exists, free-threaded CPython makes
    # classes immortal, gh-117783, in either mode.)
    return refs


class Completeness(unittest.TestCase):
    def test_every_kind_of_cycle_freed_within_two_collections(self):
        refs = make_cycles()
        gc.collect()
        gc.collect()
        alive = sorted(k for k, r in refs.items() if r() is not None)
        self.assertEqual(alive, [], "garbage cycles not freed after two collections")

    def test_cycle_through_an_instance_whose_dict_was_read(self):
        # Found by stress/fork: with the __dict__ materialised over the inline
        # values, the concurrent trace counted each attribute twice and the
        # cycle was never verified.
        for read in (lambda n: n.__dict__, vars, lambda n: n.__dict__.update(b=1)):
            n = Holder()
            n.a = n
            read(n)
            r = weakref.ref(n)
            del n
            gc.collect()
            gc.collect()
            self.assertIsNone(r(), "a cycle through an instance with its __dict__ read survived")

    def test_assisting_threads_and_explicit_collections(self):
        # Found by stress/python (stress/python/repro_assist_deadlock.py): threads
        # that assist the collector while another thread's gc.collect() stops
        # the world used to deadlock.
        p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "..",
                                                         "stress", "python", "repro_assist_deadlock.py"),
                            "--seconds", "15"], capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_garbage_made_during_explicit_collections_stays_bounded(self):
        # Automatic collection off, one thread making garbage cycles
        # nonstop, the main thread calling gc.collect() for 3 s: stock stops
        # the maker for each collection; the concurrent mode used to let it
        # run on, each collection met more garbage than the last and memory
        # grew without bound (bench/cpython/small_heap.py's churn shape timed
        # out).  The maker now waits for a collection once it has allocated
        # a trigger's worth during it (gct_throttle).
        code = """
            import gc, threading, time
            gc.disable()
            live = [[] for _ in range(20000)]
            stop = threading.Event()
            def churn():
                while not stop.is_set():
                    a = []
                    a.append(a)
            t = threading.Thread(target=churn)
            t.start()
            freed, deadline = [], time.monotonic() + 3
            while time.monotonic() < deadline:
                freed.append(gc.collect())
            stop.set()
            t.join()
            late = freed[len(freed) // 2:]
            print(len(freed) >= 5, max(freed) < 250000, max(late) < 100000, len(freed),
                  sum(freed), freed[-3:])
        """
        # papers/results/point5_checks.md: before the throttle, the
        # collections grew to 1.3 M cycles in one run and to 170-218 k in
        # another (which the first bound alone would have let pass: hence the
        # second, on the later half); after it, 600-1400 collections with
        # at most 12 k each.  (Stock and stw starve the maker: they stop it
        # for each collection, and the collections come back to back.)
        out = child(code, "concurrent")
        self.assertTrue(out.startswith("True True True"), out)

    def test_cycles_freed_while_other_threads_mutate(self):
        stop = threading.Event()
        graphs = [[Holder() for _ in range(200)] for _ in range(2)]
        errors = []

        def mutate(graph):
            i = 0
            while not stop.is_set():
                a = graph[i % len(graph)]
                b = graph[(i * 7 + 3) % len(graph)]
                a.link = b          # reachable edges move all the time
                a.payload = [i, {"i": i}]
                i += 1
            for k, node in enumerate(graph):
                if not isinstance(node.__dict__.get("payload", [0, {"i": 0}])[1], dict):
                    errors.append(k)

        threads = [threading.Thread(target=mutate, args=(g,)) for g in graphs]
        for t in threads:
            t.start()
        try:
            live = [weakref.ref(n) for g in graphs for n in g]
            for _ in range(5):
                refs = make_cycles()
                gc.collect()
                gc.collect()
                alive = sorted(k for k, r in refs.items() if r() is not None)
                self.assertEqual(alive, [], "garbage cycles not freed after two collections")
                self.assertTrue(all(r() is not None for r in live), "a live object was freed")
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])


class Semantics(unittest.TestCase):
    PROGRAM = """
        import gc
        class A:
            pass
        gc.collect()
        for n in range(1, 6):
            ring = [A() for _ in range(n)]
            for a, b in zip(ring, ring[1:] + ring[:1]):
                a.next = b
            del ring, a, b
            print(gc.collect(), end=" ")
        d = {}
        exec("def f(): pass", d)
        gc.collect()
        del d
        print(gc.collect())
    """

    def test_collect_returns_what_stw_returns(self):
        self.assertEqual(child(self.PROGRAM, "concurrent"), child(self.PROGRAM, "stw"))

    def test_weakrefs_cleared_before_callbacks_and_finalizers(self):
        log = []

        class F:
            def __del__(self):
                log.append(("del", self.peer_ref() is None))
        a, b = F(), F()
        a.peer, b.peer = b, a
        a.peer_ref = weakref.ref(b)
        b.peer_ref = weakref.ref(a)
        wr = weakref.ref(a, lambda r: log.append(("callback", r() is None)))
        del a, b
        gc.collect()
        self.assertIsNone(wr())
        self.assertIn(("callback", True), log)
        self.assertEqual(sorted(log), [("callback", True), ("del", True), ("del", True)])

    def test_resurrecting_finalizer_keeps_its_object(self):
        saved = []

        class R:
            def __del__(self):
                saved.append(self)
        r = R(); r.self = r
        wr = weakref.ref(r)
        del r
        gc.collect()
        self.assertEqual(len(saved), 1)
        self.assertIs(saved[0].self, saved[0])
        self.assertIsNone(wr(), "weakrefs are cleared before finalizers, as in stock")
        saved.clear()
        gc.collect()

    def test_debug_saveall_and_callbacks(self):
        phases = []
        cb = lambda phase, info: phases.append((phase, info.get("collected")))
        gc.callbacks.append(cb)
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            h = Holder(); h.h = h
            del h
            gc.collect()
            self.assertTrue(any(type(o) is Holder for o in gc.garbage))
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.callbacks.remove(cb)
        self.assertEqual(phases[0][0], "start")
        self.assertEqual(phases[-1][0], "stop")
        self.assertGreaterEqual(phases[-1][1], 1)

    def test_disable_stops_automatic_collections(self):
        self.assertEqual(child("""
            import gc, weakref
            class A: pass
            gc.disable()
            gc.collect()
            a = A(); a.a = a; r = weakref.ref(a); del a
            junk = [[] for _ in range(300000)]
            print(r() is not None, gc.collect() >= 1, r() is None)
        """, "concurrent"), "True True True")


class Modes(unittest.TestCase):
    def test_x_option_and_environment_select_the_mode(self):
        code = "import gc; print(gc.get_tricolor_stats()['mode'])"
        self.assertEqual(child(code, "stw"), "stw")
        self.assertEqual(child(code, "concurrent"), "concurrent")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "PYTHON_GC": "stw"})
        self.assertEqual(p.stdout.strip(), "stw")
        p = subprocess.run([sys.executable, "-X", "gc=fast", "-c", code], capture_output=True,
                           text=True)
        self.assertEqual(p.stdout.strip(), "concurrent")
        self.assertIn("expected concurrent or stw", p.stderr)

    @unittest.skipUnless(CONCURRENT, "concurrent mode only")
    def test_automatic_collections_run_on_the_collector_thread(self):
        idents = []

        class D:
            def __del__(self):
                idents.append(threading.get_ident())
        deadline = time.monotonic() + 30
        while not idents and time.monotonic() < deadline:
            d = D(); d.d = d
            del d
            junk = [[] for _ in range(5000)]
            time.sleep(0.001)
        self.assertTrue(idents, "no automatic collection in 30 s")
        self.assertNotEqual(idents[0], threading.get_ident())
        self.assertTrue(gc.get_tricolor_stats()["thread"])

    @unittest.skipUnless(CONCURRENT, "concurrent mode only")
    def test_explicit_collect_waits_for_another_threads_collection(self):
        # gc.collect() while another thread collects waits for it, then runs
        # its own.  Before the fix, a thread that had collected last was
        # still taken for the collecting one, and returned at once.
        starts = []
        b_in = threading.Event()
        b = threading.Thread(target=gc.collect)

        def slow_start(phase, info):
            if phase == "start":
                starts.append(threading.get_ident())
                if threading.current_thread() is b:
                    b_in.set()
                    time.sleep(0.3)   # b holds the collection meanwhile
        gc.collect()                  # this thread collected last
        gc.callbacks.append(slow_start)
        try:
            b.start()
            self.assertTrue(b_in.wait(30))
            del starts[:]
            gc.collect()
            b.join()
        finally:
            gc.callbacks.remove(slow_start)
        self.assertIn(threading.get_ident(), starts)

    @unittest.skipUnless(CONCURRENT, "concurrent mode only")
    def test_pauses_carry_phase_names(self):
        gc.reset_pause_stats()
        h = Holder(); h.h = h
        del h
        gc.collect()
        reasons = {p["reason"] for p in gc.get_pause_stats()["pauses"]}
        self.assertIn("tricolor:root-scan", reasons)
        self.assertIn("tricolor:verify", reasons)
        st = gc.get_tricolor_stats()
        self.assertGreater(st["marked"], 0)
        self.assertGreater(st["allowlist_coverage"], 0.0)
        phases = st["phase_ms"]
        self.assertEqual(list(phases), [
            "root-scan", "concurrent-mark", "candidate-scan", "candidate-filter", "verify",
            "finalize", "resurrection-check", "clear", "clear-marks"])
        self.assertGreater(phases["concurrent-mark"], 0.0)
        self.assertGreater(phases["verify"], 0.0)


if __name__ == "__main__":
    unittest.main()
