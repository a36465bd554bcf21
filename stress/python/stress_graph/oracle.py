"""The checks of what the threads let go of: a dropped shape nobody else can
reach is tagged with weakrefs (a Batch) that must be dead, with its root's
callback run once, when two collections that started after the drop have
completed; a resurrected object must be intact."""
import functools
import gc
import sys
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


def _holders(objs, limit=20000):
    """For the report of a leak: walks referrers upward from objs (one heap
    walk per level).  Either it reaches a module, a class, a frame or one
    of the run's own lists (the leak is reachable after all), or the set is
    closed: then each member's refcount less the references from inside the
    set shows whether a reference no object accounts for holds it (a
    C-level one), or nothing does (garbage the collector kept)."""
    roots = {id(x) for x in (state.KEEP, state.EXCHANGE, state.SHARED, state.STATES)}
    roots.update(id(st.shapes) for st in state.STATES)
    members = list(objs)
    seen = {id(o) for o in members}
    level = list(objs)
    while level and len(members) < limit:
        args = tuple(level)
        nxt = []
        for r in gc.get_referrers(*args):
            if r is level or r is objs or r is members or r is args or id(r) in seen:
                continue
            seen.add(id(r))
            name = type(r).__name__
            if id(r) in roots or name in ("module", "type", "frame"):
                return "a live %s (%d objects above the leak)" % (name, len(members))
            nxt.append(r)
            members.append(r)
        args = None
        level = nxt
    level = nxt = r = None
    if len(members) >= limit:
        return "more than %d objects above the leak" % limit
    inside = {}
    for r in members:
        for x in gc.get_referents(r):
            if id(x) in seen:
                inside[id(x)] = inside.get(id(x), 0) + 1
    x = r = None
    excess = {}
    in_objs = {id(o) for o in objs}
    for m in members:
        # Less this function's own: members, m and getrefcount's argument,
        # and objs for the leaked objects themselves.
        e = sys.getrefcount(m) - inside.get(id(m), 0) - 3 - (id(m) in in_objs)
        excess.setdefault(e, {})
        excess[e][type(m).__name__] = excess[e].get(type(m).__name__, 0) + 1
    return ("nothing outside a closed set of %d objects; by refcount less the references "
            "from inside it (and the report's own): %s" % (len(members), dict(sorted(excess.items()))))


def check_batch(b, s0):
    alive = [o for o in (w() for w in b.wrs) if o is not None]
    if alive:
        stats = ""
        if not state.LEAKS and hasattr(gc, "get_tricolor_stats"):
            stats = "; the last collection: %s" % gc.get_tricolor_stats()
        violation("%d of %d objects of an unreachable %s are alive after collections "
                  "#%d and #%d, which started after it was dropped, completed (types: %s; "
                  "held by: %s%s)"
                  % (len(alive), len(b.wrs), b.desc, s0 + 1, s0 + 2,
                     sorted({type(o).__name__ for o in alive}),
                     # (A few only: each walk stops the world once per level.)
                     _holders(alive) if len(state.LEAKS) < 3 else "not examined", stats))
        state.LEAKS.append((b, s0))
    alive = None
    n = state.CBS.get(b.tag)
    if n != 1:
        violation("the callback of a weakref to the root of an unreachable %s ran %d times "
                  "by the end of collection #%d" % (b.desc, n, s0 + 2))


def leaks_freed():
    """The leaked batches (check_batch) whose objects have all died since,
    each with the number of the last collection that had started by then
    (a leak that is only late, not a leak for good)."""
    out = []
    for b, s0 in list(state.LEAKS):
        if all(w() is None for w in b.wrs):
            state.LEAKS.remove((b, s0))
            out.append((b, s0, GC[0]))
    return out


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

