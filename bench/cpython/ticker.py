"""The unrelated thread of the pause benchmarks' workers (dying.py, opaque.py).

A Python thread spins on perf_counter() and keeps every gap between two of its
iterations longer than GAP_S, as (start, length) on perf_counter's clock.  Its
worst stall over an interval [t0, t1] is the longest gap that overlaps it, and
its MMU there report.mmu() of the gaps at 1, 10 and 100 ms windows.

On a machine with two or more CPUs the measuring (main) thread is pinned to the
first CPU and the ticker to the last, for every interpreter, as in
stall_worker.py; Ticker(pin=False) turns it off.  The worker puts bench/ on
sys.path (for report.py) before it imports this module.
"""
import os
import threading
import time

import report

GAP_S = 20e-6                   # the ticker keeps the gaps longer than this
WINDOWS_MS = (1, 10, 100)       # MMU windows
CPUS = sorted(os.sched_getaffinity(0))


def pin(cpu, on=True):
    """Pin the calling thread to one CPU (no-op if not `on` or with one CPU)."""
    if on and len(CPUS) > 1:
        os.sched_setaffinity(threading.get_native_id(), {cpu})


class Ticker:
    def __init__(self, pin=True):
        self.pinned = pin and len(CPUS) > 1
        self.gaps = []          # (start, length) of the gaps > GAP_S
        self._stop = False
        self._thread = threading.Thread(target=self._run)

    def start(self, settle=0.05):
        """Pin the calling thread, start the ticker and let it run `settle` s."""
        pin(CPUS[0], self.pinned)
        self._thread.start()
        time.sleep(settle)
        return self

    def _run(self):
        pin(CPUS[-1], self.pinned)
        gaps = self.gaps
        last = time.perf_counter()
        while not self._stop:
            t = time.perf_counter()
            if t - last > GAP_S:
                gaps.append((last, t - last))
            last = t

    def stop(self):
        self._stop = True
        self._thread.join()

    @staticmethod
    def end(t0, t1):
        """The end of the MMU interval of [t0, t1]: at least the longest window."""
        return max(t1, t0 + max(WINDOWS_MS) / 1e3)

    def wait_past(self, t0, t1):
        """Sleep until the longest MMU window from t0 is over and a little past
        t1: a stall that ends just after the interval still counts."""
        time.sleep(max(0.0, self.end(t0, t1) + 0.005 - time.perf_counter()))

    def stall_ms(self, t0, t1):
        """The longest gap that overlaps [t0, t1], in ms."""
        return max((d for a, d in self.gaps if a <= t1 and a + d >= t0), default=0.0) * 1e3

    def mmu(self, t0, t1):
        """{'mmu_1ms': ..., 'mmu_10ms': ..., 'mmu_100ms': ...} over [t0, t1]."""
        return {f"mmu_{w}ms": report.mmu(self.gaps, t0, t1, w / 1e3) for w in WINDOWS_MS}
