"""The end: drop everything; nothing may be left."""
import gc
import queue

from . import state
from .nodes import DNode, Fin, FinS, SNode, Corrupt
from .oracle import check_batch, check_resurrected, release
from .shapes import Flags, Shape
from .state import EXCHANGE, GC, KEEP, NSLOTS, SHARED, STATES, Counts
from .violations import violation


def _drain_all_shapes():
    """Drop every shape and shared object; returns the batches to check."""
    recs = []
    for st in STATES:
        recs += st.shapes
        st.shapes = []
        st.grabbed = []
        while True:
            try:
                recs.append(st.inbox.get_nowait())
            except queue.Empty:
                break
    recs += EXCHANGE
    EXCHANGE.clear()
    SHARED[:] = [None] * NSLOTS
    main = STATES[-1]
    batches = []
    for rec in recs:
        try:
            batches.append(release(main, rec, "dropped at the end"))
        except Corrupt as e:
            violation("at the end: " + str(e))
    return [b for b in batches if b is not None]


def _drain_keep(main):
    out = []
    while KEEP:
        try:
            out.append(check_resurrected(main, KEEP.pop()))
        except Corrupt as e:
            violation("resurrected shape: " + str(e))
    return [b for b in out if b is not None]


def finish():
    # Only explicit collections from here on (also none of the safepoint
    # stress mode's, which make the walks below slow): gc.collect() collects
    # while gc is disabled.
    gc.disable()
    try:
        return _finish()
    finally:
        gc.enable()


def _finish():
    main = STATES[-1]           # the main thread's own state (no mutator)
    pending = [p for st in STATES for p in st.pending]
    for st in STATES:
        st.pending = []
    batches = _drain_all_shapes()
    s0 = GC[0]
    pending += [(s0, b) for b in batches]
    for _ in range(6):
        gc.collect()
        gc.collect()
        batches = _drain_keep(main)
        s0 = GC[0]
        pending += [(s0, b) for b in batches]
        if not KEEP and not batches:
            break
    gc.collect()
    gc.collect()
    if KEEP:
        violation("objects still being resurrected after 6 rounds of collections")
        KEEP.clear()
        gc.collect()
        gc.collect()
    for s0, b in pending:
        check_batch(b, s0)
    pending = None
    gc.collect()
    gc.collect()
    types = (SNode, DNode, Fin, FinS, Shape, Flags)
    left = [o for o in gc.get_objects() if type(o) in types]
    if left:
        counts = {}
        for o in left:
            counts[type(o).__name__] = counts.get(type(o).__name__, 0) + 1
        referrers = sorted({type(r).__name__ for r in gc.get_referrers(left[0])})
        violation("%d objects of the script's classes left after everything was dropped "
                  "and collected: %s (the first is referenced by: %s)"
                  % (len(left), counts, referrers))
    left = None
    nfin = 0
    bad = {}
    for t, chunks in enumerate(state.DELS.chunks):
        created = state.DELS.created[t]
        for k, chunk in enumerate(chunks):
            counts = chunk[:max(0, min(Counts.CHUNK, created - k * Counts.CHUNK))]
            nfin += len(counts)
            if counts.count(1) != len(counts):
                for n in set(counts) - {1}:
                    bad[n] = bad.get(n, 0) + counts.count(n)
    if bad:
        violation("__del__ run counts at the end, count: objects (each should run exactly "
                  "once): %s" % dict(sorted(bad.items())))
    return nfin
