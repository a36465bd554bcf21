"""Unit tests of stress_graph's oracle bookkeeping (run by ctest as
stress.python.oracle, with any 3.13 interpreter): how collections are counted
through gc.callbacks, and when a dropped shape is checked.

The regression this guards (issue 12's stop-24 CI failure): the fork's
collector thread may be inside a collection when the run registers its
callback, so the first phase the callback sees can be a "stop".  Counted, it
left stops one ahead of starts for the whole run, and every dropped shape was
checked after one collection instead of two -- floating garbage that the
concurrent collector may keep for one collection was reported as a leak."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from stress_graph import oracle, state  # noqa: E402
from stress_graph.state import GC, Counts, gc_callback  # noqa: E402


def reset():
    GC[:] = [0, 0]
    # (getattr: so that the tests also run, and fail, on the harness before
    # the fix, which had neither.)
    getattr(state, "GC_ORDER", []).clear()
    getattr(state, "GC_EARLY_STOP", [0])[0] = 0
    getattr(state, "LEAKS", []).clear()
    state.CBS = Counts(1)


class FakeState:
    def __init__(self):
        self.pending = []
        self.checked = 0


def dead_batch():
    """A Batch whose objects are gone and whose root callback ran once."""
    b = oracle.Batch()
    b.desc = "test"
    b.wrs = []
    b.tag = state.CBS.new(0)
    state.CBS.hit(b.tag)
    return b


def collection():
    gc_callback("start", {})
    gc_callback("stop", {})


class CountingTest(unittest.TestCase):
    def setUp(self):
        reset()

    def test_stop_of_a_collection_begun_before_registration_is_not_counted(self):
        gc_callback("stop", {})
        self.assertEqual(GC, [0, 0])
        collection()
        self.assertEqual(GC, [1, 1])
        self.assertEqual(state.GC_ORDER, [])
        self.assertEqual(state.GC_EARLY_STOP[0], 1)

    def test_overlapping_collections_are_recorded(self):
        gc_callback("start", {})
        gc_callback("start", {})
        self.assertEqual(len(state.GC_ORDER), 1)
        self.assertEqual(state.GC_ORDER[0][:3], ("start", 1, 0))

    def test_a_stop_without_start_later_in_the_run_is_recorded(self):
        collection()
        gc_callback("stop", {})
        self.assertEqual(GC, [1, 1])
        self.assertEqual(len(state.GC_ORDER), 1)


class CheckTimingTest(unittest.TestCase):
    """A shape dropped when GC[0] read s0 is checked once two collections
    that started after the drop have completed, never earlier."""

    def setUp(self):
        reset()

    def run_case(self, early_stop, running_at_drop):
        if early_stop:
            gc_callback("stop", {})
        collection()
        if running_at_drop:
            gc_callback("start", {})   # the drop happens while this one runs
        st = FakeState()
        st.pending.append((GC[0], dead_batch()))
        if running_at_drop:
            gc_callback("stop", {})
        for n in range(2):
            oracle.check_pending(st)
            self.assertEqual(st.checked, 0, "checked after %d collection(s)" % n)
            collection()
        oracle.check_pending(st)
        self.assertEqual(st.checked, 1)

    def test_idle_at_drop(self):
        self.run_case(early_stop=False, running_at_drop=False)

    def test_collection_running_at_drop(self):
        self.run_case(early_stop=False, running_at_drop=True)

    def test_registered_during_a_collection(self):
        self.run_case(early_stop=True, running_at_drop=False)

    def test_registered_during_a_collection_and_running_at_drop(self):
        self.run_case(early_stop=True, running_at_drop=True)


if __name__ == "__main__":
    unittest.main()
