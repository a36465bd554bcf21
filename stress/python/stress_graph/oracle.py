"""The checks of what the threads let go of: a dropped shape nobody else can
reach is tagged with weakrefs (a Batch) that must be dead, with its root's
callback run once, when two collections that started after the drop have
completed; a resurrected object must be intact."""
import functools
import weakref

from . import state
from .nodes import NODE_TYPES, all_edges, header_error
from .shapes import held_callback, walk_shape
from .state import GC
from .violations import violation

class Batch:
    """Weakrefs to the nodes of a shape that nobody can reach any more."""
    __slots__ = ("desc", "wrs", "cbwr", "tag")


def make_batch(st, rec, seen, what):
    b = Batch()
    b.desc = "%s %s shape (%d nodes, %d resurrecting)" % (what, rec.kind, rec.n, rec.nres)
    b.wrs = [weakref.ref(o) for o in seen.values() if type(o) in NODE_TYPES]
    b.tag = state.CBS.new(st.idx)
    b.cbwr = weakref.ref(rec.root, functools.partial(held_callback, b.tag))
    return b


def release(st, rec, what):
    """Drop a shape the thread has already removed from its lists; returns a
    Batch when nobody else can reach it (the caller reads GC[0] after this
    returns, when no frame holds the shape any more)."""
    fl = rec.flags
    escaped = fl.is_escaped()
    try:
        seen = walk_shape(rec)
    finally:
        fl.drop(what)
    if escaped:
        # Others may still reach it; its cross edges would keep older shapes
        # alive through it, and those older ones in turn: cut them, or what
        # is retained grows with the run's length.
        for x in seen.values():
            if type(x) in NODE_TYPES:
                x.xl.clear()
        return None
    return make_batch(st, rec, seen, what)


def check_batch(b, s0):
    alive = [type(o).__name__ for o in (w() for w in b.wrs) if o is not None]
    if alive:
        violation("%d of %d objects of an unreachable %s are alive after collections "
                  "#%d and #%d, which started after it was dropped, completed (types: %s)"
                  % (len(alive), len(b.wrs), b.desc, s0 + 1, s0 + 2, sorted(set(alive))))
    n = state.CBS.get(b.tag)
    if n != 1:
        violation("the callback of a weakref to the root of an unreachable %s ran %d times "
                  "by the end of collection #%d" % (b.desc, n, s0 + 2))


def check_pending(st):
    stops = GC[1]
    keep = []
    for s0, b in st.pending:
        if stops >= s0 + 2:
            check_batch(b, s0)
            st.checked += 1
        else:
            keep.append((s0, b))
    st.pending = keep


def check_resurrected(st, fin):
    """fin was stored by its __del__ into KEEP: it and what it references must
    be intact.  Returns a Batch if it can be dropped as unreachable garbage."""
    err = header_error(fin)
    if err:
        violation("resurrected finalizer object is corrupt: " + err)
        return None
    n = state.DELS.get(fin.uid)
    if n != 1:
        violation("resurrected finalizer object uid=%d: __del__ count %d" % (fin.uid, n))
    if not fin.res:
        violation("finalizer object uid=%d in the keep list but not resurrecting" % fin.uid)
    rec = fin.shape
    if rec is None:   # a shared one: its edges must be intact
        for c in all_edges(fin):
            if c is not None:
                e = header_error(c)
                if e:
                    violation("an object referenced by a resurrected finalizer object is "
                              "corrupt: " + e)
        return None
    if not rec.flags.is_dropped():
        violation("finalizer object uid=%d resurrected from a held shape" % fin.uid)
    seen = walk_shape(rec)     # raises Corrupt: reported by the caller
    if id(fin) not in seen:
        violation("resurrected finalizer object uid=%d not in its shape" % fin.uid)
    if rec.flags.is_escaped():
        return None
    return make_batch(st, rec, seen, "resurrected, then dropped")

