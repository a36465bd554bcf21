"""Tests of the tricolor fork's safepoint API, pause statistics and stress mode.

Run by ctest with the tricolor interpreter:

    python3.13t-tricolor tests/runtime/test_safepoint.py EXT_DIR

EXT_DIR holds the _safepoint_test extension built against the fork.  Strategy:
a C loop that never detaches runs in one thread while another thread asks for a
stop-the-world pause (gc.collect()).  With the poll, the collection finishes
while the loop is still running and the loop sees itself parked; without it,
the collection waits for the loop to end.  The second case is the control that
shows the first can fail.
"""
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import unittest

EXT_DIR = sys.argv.pop(1) if len(sys.argv) > 1 else os.environ["TRICOLOR_TEST_EXT_DIR"]
sys.path.insert(0, EXT_DIR)
import _safepoint_test as ext  # noqa: E402

SPIN_S = 1.0


def collect_while(target, *args):
    """Run target(*args) in a thread; 0.1 s in, time a gc.collect() here.

    Returns (collect_s, collect_end_offset_s, target_result, target_s)."""
    out = {}

    def run():
        t0 = time.perf_counter()
        out["result"] = target(*args)
        out["end"] = time.perf_counter()
        out["elapsed"] = out["end"] - t0

    th = threading.Thread(target=run)
    th.start()
    time.sleep(0.1)
    t0 = time.perf_counter()
    gc.collect()
    t1 = time.perf_counter()
    th.join()
    return t1 - t0, out["end"] - t1, out["result"], out["elapsed"]


class SafepointPoll(unittest.TestCase):
    def test_poll_parks_for_a_collection(self):
        collect_s, loop_left_s, gap, _ = collect_while(ext.spin, SPIN_S, True)
        # The collection ended while the loop still had most of its second
        # to run, so the loop must have parked at a poll.
        self.assertLess(collect_s, 0.2)
        self.assertGreater(loop_left_s, 0.3)
        # ...and the loop saw the pause as a gap between two iterations.
        self.assertGreater(gap, 1e-5)

    def test_without_poll_the_collection_waits(self):
        # Control: the same loop without polls holds the pause back.
        collect_s, loop_left_s, _, _ = collect_while(ext.spin, SPIN_S, False)
        self.assertGreater(collect_s, 0.5)
        self.assertLess(loop_left_s, 0.05)

    def test_pause_stats_record_time_to_safepoint(self):
        gc.reset_pause_stats()
        collect_while(ext.spin, 0.5, True)
        stats = gc.get_pause_stats()
        self.assertGreaterEqual(stats["count"], 1)
        self.assertLess(stats["max_wait_ns"], 50_000_000)
        gc.reset_pause_stats()
        collect_while(ext.spin, 0.5, False)
        # Without polls the request waited for the rest of the loop.
        self.assertGreater(gc.get_pause_stats()["max_wait_ns"], 200_000_000)

    def test_poll_keeps_critical_sections(self):
        # A poll parks without unlocking what the caller locked.  The appender
        # blocks on the locked list before the collection parks the loop; had
        # the park unlocked the list, the appender would get it then and
        # append during the loop instead of after it.
        shared = []
        out = {}

        def locked_loop():
            out["gap"] = ext.spin_locked(shared, SPIN_S)
            out["loop_end"] = time.perf_counter()

        def appender():
            shared.append(1)
            out["appended"] = time.perf_counter()

        threads = [threading.Thread(target=locked_loop), threading.Thread(target=appender)]
        threads[0].start()
        time.sleep(0.05)
        threads[1].start()
        time.sleep(0.1)
        t0 = time.perf_counter()
        gc.collect()
        collect_s = time.perf_counter() - t0
        for th in threads:
            th.join()
        self.assertLess(collect_s, 0.2)
        self.assertGreater(out["gap"], 1e-5)
        self.assertEqual(shared, [1])
        self.assertGreaterEqual(out["appended"], out["loop_end"] - 0.05)

    def test_poll_without_thread_state_is_a_fatal_error(self):
        code = textwrap.dedent(f"""
            import gc, sys, threading
            sys.path.insert(0, {EXT_DIR!r})
            import _safepoint_test as ext
            stop = False
            def collect():
                while not stop:
                    gc.collect()
            t = threading.Thread(target=collect)
            t.start()
            try:
                ext.poll_detached(5.0)
            finally:
                stop = True
                t.join()
        """)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("PyUnstable_Safepoint() called without an attached thread state", proc.stderr)


class PauseStats(unittest.TestCase):
    def test_shape_and_reasons(self):
        gc.reset_pause_stats()
        t0 = time.perf_counter_ns()
        gc.collect()
        t1 = time.perf_counter_ns()
        stats = gc.get_pause_stats()
        self.assertEqual(set(stats), {"count", "total_pause_ns", "max_pause_ns", "max_wait_ns", "pauses"})
        self.assertGreaterEqual(stats["count"], 1)
        self.assertEqual(len(stats["pauses"]), min(stats["count"], 1024))
        for p in stats["pauses"]:
            self.assertEqual(set(p), {"reason", "stopped_at_ns", "wait_ns", "pause_ns"})
            self.assertGreaterEqual(p["wait_ns"], 0)
            self.assertGreaterEqual(p["pause_ns"], 0)
            self.assertLessEqual(p["pause_ns"], stats["max_pause_ns"])
            # On time.perf_counter_ns()'s clock: within the collect.
            self.assertLessEqual(t0, p["stopped_at_ns"] - p["wait_ns"])
            self.assertLessEqual(p["stopped_at_ns"] + p["pause_ns"], t1)
        starts = [p["stopped_at_ns"] for p in stats["pauses"]]
        self.assertEqual(starts, sorted(starts))  # oldest first
        self.assertEqual(stats["total_pause_ns"], sum(p["pause_ns"] for p in stats["pauses"]))
        # A concurrent collection names its pauses by phase; stw mode stops
        # the world once, in stock's gc_collect_internal.
        expected = {"concurrent": {"tricolor:root-scan", "tricolor:verify"},
                    "stw": {"gc_collect_internal"}}[gc.get_tricolor_stats()["mode"]]
        self.assertLessEqual(expected, {p["reason"] for p in stats["pauses"]})

    def test_reasons_per_mode(self):
        code = ("import gc; gc.reset_pause_stats(); gc.collect(); "
                "print(sorted({p['reason'] for p in gc.get_pause_stats()['pauses']}))")
        for mode, reasons in [("stw", "['gc_collect_internal']"),
                              ("concurrent", "['tricolor:root-scan', 'tricolor:verify']")]:
            proc = subprocess.run([sys.executable, "-X", f"gc={mode}", "-c", code],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual((proc.returncode, proc.stdout.strip()), (0, reasons), proc.stderr)

    def test_reset(self):
        gc.collect()
        gc.reset_pause_stats()
        stats = gc.get_pause_stats()
        self.assertEqual((stats["count"], stats["max_pause_ns"], stats["pauses"]), (0, 0, []))

    def test_other_reasons_are_named(self):
        gc.reset_pause_stats()
        sys.setrecursionlimit(sys.getrecursionlimit())
        reasons = {p["reason"] for p in gc.get_pause_stats()["pauses"]}
        self.assertIn("Py_SetRecursionLimit", reasons)


class StressMode(unittest.TestCase):
    CODE = textwrap.dedent("""
        import gc, json
        data = [(i * 7919) % 100003 for i in range(200_000)]
        sorted(data); sum(data); "".join(map(str, data[:50_000]))
        print(json.dumps(sum(g["collections"] for g in gc.get_stats())))
    """)

    def run_child(self, *args, env=None):
        proc = subprocess.run([sys.executable, *args, "-c", self.CODE], capture_output=True,
                              text=True, timeout=300, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return int(proc.stdout)

    def test_polls_request_collections(self):
        quiet = self.run_child()
        stressed = self.run_child("-X", "safepoint_stress=1000")
        self.assertGreater(stressed, quiet + 100)
        env = dict(os.environ, PYTHON_SAFEPOINT_STRESS="1000")
        self.assertGreater(self.run_child(env=env), quiet + 100)

    BULK = textwrap.dedent("""
        import gc
        class Node:
            def __init__(self, i): self.i, self.me = i, self
            def __hash__(self): return self.i
            def __eq__(self, other): return self.i == other.i
        class Hint:
            def __init__(self, n, k): self.n, self.k = n, k
            def __iter__(self): return self
            def __length_hint__(self): return self.n
            def __next__(self):
                if self.k == 0: raise StopIteration
                self.k -= 1
                return Node(self.k)
        a = {Node(i) for i in range(100_000)}
        b = {Node(i) for i in range(100_000, 200_000)}
        a.update(b)
        assert len(a) == 200_000
        for i in range(200_000):
            assert Node(i) in a
        t = tuple(Hint(4_000_000, 10))
        assert len(t) == 10
        for k in range(10):
            assert t[k].i == 9 - k
        print(sum(g["collections"] for g in gc.get_stats()))
    """)

    def test_bulk_steps_poll_where_the_heap_is_consistent(self):
        # A set resize polls while it clears and rehashes a large table, and
        # tuple(iterable) while it clears a result sized by a large length
        # hint.  The code reaches those polls and no others (a set display
        # and Python loops do not poll), so with a collection at every poll
        # the collections land inside the resizes and the tuple clear, over
        # tracked, self-referencing items; nothing may be lost or freed.
        def run(env):
            proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", self.BULK],
                                  capture_output=True, text=True, timeout=600, env=env)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            return int(proc.stdout)
        quiet = run(dict(os.environ))
        stressed = run(dict(os.environ, PYTHON_SAFEPOINT_STRESS="1"))
        self.assertGreater(stressed, quiet + 100)

    def test_catches_a_misplaced_poll(self):
        # A poll between tracking an object and initializing it: the stressed
        # collection at that poll traverses a garbage pointer and crashes the
        # process; without the stress mode nothing collects there.
        code = f"import sys; sys.path.insert(0, {EXT_DIR!r}); import _safepoint_test as e; e.misplaced_poll()"
        calm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        self.assertEqual(calm.returncode, 0, calm.stderr)
        env = dict(os.environ, PYTHON_SAFEPOINT_STRESS="1")
        stressed = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True,
                                  text=True, timeout=120, env=env)
        self.assertLess(stressed.returncode, 0, "the misplaced poll went unnoticed")
        self.assertIn("Segmentation fault", stressed.stderr)

    def test_bad_value_is_a_clear_error(self):
        proc = subprocess.run([sys.executable, "-X", "safepoint_stress=zero", "-c", "pass"],
                              capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("safepoint_stress=N", proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
