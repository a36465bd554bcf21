"""The run's shared state: constants, the collections counted through
gc.callbacks, the per-id counters, the keep list, the shared graph, and
each thread's State.

DELS, CBS and COLLECT are set by runner.main() before any thread starts:
other modules read them as state.DELS, state.CBS, state.COLLECT."""
import queue
import random
import threading

MASK = (1 << 61) - 1
NSLOTS = 128            # shared graph slots
KEEP_CAP = 64           # resurrected objects waiting for a check
MAX_SHAPES = 48         # per thread
XL_CAP = 6              # cross edges per node
SHARED_FANOUT = 12      # items of a shared list container before trimming

# ---------------------------------------------------------------------------
# Collections, counted through gc.callbacks.  Collections never overlap (gc's
# `collecting` flag), so stops >= s + 2 means the two collections that started
# after `starts` read s have completed.  A "stop" with no "start" before it
# belongs to a collection that was running when the callback was registered
# (the fork's collector thread may be in one): it is not counted, or every
# later check would come one collection early.  Any other phase out of order
# is recorded in GC_ORDER and reported as a violation.

GC = [0, 0]  # starts, stops
GC_ORDER = []  # phases out of order: (phase, starts, stops, thread name)
GC_EARLY_STOP = [0]  # stops of a collection that began before the registration


def gc_callback(phase, info):
    if phase == "start":
        if GC[0] != GC[1]:
            GC_ORDER.append((phase, GC[0], GC[1], threading.current_thread().name))
        GC[0] += 1
    elif GC[0] == GC[1]:
        if GC[0] != 0:
            GC_ORDER.append((phase, GC[0], GC[1], threading.current_thread().name))
        else:
            GC_EARLY_STOP[0] += 1
    else:
        GC[1] += 1


# ---------------------------------------------------------------------------
# Per-id counters: one byte per id, in chunks that never move (a bytearray
# that grows would move under a finalizer writing to it from another thread).

class Counts:
    CHUNK = 1 << 16

    def __init__(self, nthreads):
        self.chunks = [[] for _ in range(nthreads + 1)]
        self.created = [0] * (nthreads + 1)

    def new(self, t):
        """A fresh id for thread t; only thread t calls this for its t."""
        seq = self.created[t]
        if seq % self.CHUNK == 0:
            self.chunks[t].append(bytearray(self.CHUNK))
        self.created[t] = seq + 1
        return (seq << 8) | t

    def hit(self, ident):
        """Count one event for ident; returns the count before it."""
        c = self.chunks[ident & 0xFF][ident >> 24]
        k = (ident >> 8) & 0xFFFF
        v = c[k]
        if v < 255:
            c[k] = v + 1
        return v

    def get(self, ident):
        return self.chunks[ident & 0xFF][ident >> 24][(ident >> 8) & 0xFFFF]


DELS = None   # __del__ runs per finalizer object uid
CBS = None    # callback runs per weakref tag
KEEP = []     # objects resurrected by their __del__
LEAKS = []    # (Batch, s0) found alive by check_batch (appended by any thread)
SHARED = [None] * NSLOTS
EXCHANGE = []  # shapes handed over through a racy shared list
STATES = []
STOP = threading.Event()
COLLECT = True   # --collect-interval < 0: no explicit gc.collect() while running
HANG = 60        # seconds without progress that count as a deadlock


class State:
    def __init__(self, idx, seed, max_nodes):
        self.idx = idx
        self.rng = random.Random(seed * 1000 + idx)
        self.max_nodes = max_nodes
        self.shapes = []
        self.nodes = 0
        self.pending = []   # (starts when dropped, Batch)
        self.grabbed = []   # (shared node, weakref)
        self.inbox = queue.SimpleQueue()
        self.nid = 0
        self.nops = 0
        self.checked = 0
        self.last_stops = 0

    def new_nid(self):
        self.nid += 1
        return (self.nid << 8) | self.idx
