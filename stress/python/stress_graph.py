"""Stress: threads mutate object graphs while the collector runs (issue 5).

Run by ctest (stress/python/CMakeLists.txt) on the stock interpreter, as the
control, and on the tricolor fork in concurrent mode, in stw mode and under
the safepoint stress mode:

    python3.13t-tricolor stress/python/stress_graph.py --threads 4 --seconds 20

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
"""
import argparse
import faulthandler
import functools
import gc
import os
import queue
import random
import shlex
import sys
import threading
import time
import traceback
import weakref

MASK = (1 << 61) - 1
NSLOTS = 128            # shared graph slots
KEEP_CAP = 64           # resurrected objects waiting for a check
MAX_SHAPES = 48         # per thread
XL_CAP = 6              # cross edges per node
SHARED_FANOUT = 12      # items of a shared list container before trimming

# ---------------------------------------------------------------------------
# Violations: appended from any thread (also from finalizers and callbacks on
# the collector thread), printed by the main thread.  No locks: a finalizer
# may run on a thread that holds one.

VIOLATIONS = []
VIOLATIONS_CAP = 1000   # kept; the rest only counted (racily: a lower bound)
MORE_VIOLATIONS = [0]
REPLAY = ""


def violation(msg):
    if len(VIOLATIONS) < VIOLATIONS_CAP:
        VIOLATIONS.append(msg)
    else:
        MORE_VIOLATIONS[0] += 1


def _unraisable(u):
    violation("unraisable exception (%s): %s\n%s" % (
        u.err_msg, u.exc_value,
        "".join(traceback.format_exception(u.exc_type, u.exc_value, u.exc_traceback))))


def _thread_exc(a):
    violation("thread %s died: %s\n%s" % (
        a.thread.name if a.thread else "?", a.exc_value,
        "".join(traceback.format_exception(a.exc_type, a.exc_value, a.exc_traceback))))


# ---------------------------------------------------------------------------
# Collections, counted through gc.callbacks.  Collections never overlap (gc's
# `collecting` flag), so stops >= s + 2 means the two collections that started
# after `starts` read s have completed.

GC = [0, 0]  # starts, stops


def _gc_callback(phase, info):
    if phase == "start":
        GC[0] += 1
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
SHARED = [None] * NSLOTS
EXCHANGE = []  # shapes handed over through a racy shared list
STATES = []
STOP = threading.Event()
COLLECT = True   # --collect-interval < 0: no explicit gc.collect() while running
HANG = 60        # seconds without progress that count as a deadlock

# ---------------------------------------------------------------------------
# Nodes.  data = (nid, payload, check): replaced as a whole, so a reader sees
# a consistent triple or the object is broken.


def check_of(nid, payload):
    return ((nid * 0x9E3779B97F4A7C15) ^ payload ^ 0x5BD1E995) & MASK


def header(nid, payload):
    return (nid, payload, check_of(nid, payload))


class SNode:
    __slots__ = ("nid", "data", "links", "xl", "w", "__weakref__")

    def __init__(self, nid, payload):
        self.nid = nid
        self.data = header(nid, payload)
        self.links = []     # structural edges (a shape's walk follows them)
        self.xl = []        # cross edges (not part of the shape)
        self.w = None       # a weakref to a member of the same shape


class DNode:
    def __init__(self, nid, payload):
        self.nid = nid
        self.data = header(nid, payload)
        self.links = []
        self.xl = []
        self.w = None


def _finalize(self):
    try:
        uid = self.uid
        prev = DELS.hit(uid)
        if prev:
            violation("__del__ ran %d times for the finalizer object uid=%d (resurrected=%s)"
                      % (prev + 1, uid, self.res))
        err = header_error(self)
        if err:
            violation("__del__: finalizer object uid=%d is corrupt: %s" % (uid, err))
        fl = self.flags
        if fl is not None and not fl.is_dropped():
            violation("__del__ ran for the finalizer object uid=%d of a %s shape that its "
                      "thread still holds: a live object was finalized" % (uid, fl.kind))
        if self.res and len(KEEP) < KEEP_CAP:
            KEEP.append(self)
    except Exception:
        violation("exception in __del__:\n" + traceback.format_exc())


class Fin:
    def __init__(self, nid, payload, uid, flags, res, shape):
        self.nid = nid
        self.data = header(nid, payload)
        self.links = []
        self.xl = []
        self.w = None
        self.uid = uid
        self.flags = flags  # None: shared (no owner)
        self.res = res      # resurrects itself into KEEP
        self.shape = shape  # its Shape record: what must survive with it

    def __del__(self):
        _finalize(self)


class FinS:
    __slots__ = ("nid", "data", "links", "xl", "w", "uid", "flags", "res", "shape",
                 "__weakref__")

    def __init__(self, nid, payload, uid, flags, res, shape):
        self.nid = nid
        self.data = header(nid, payload)
        self.links = []
        self.xl = []
        self.w = None
        self.uid = uid
        self.flags = flags
        self.res = res
        self.shape = shape

    def __del__(self):
        _finalize(self)


NODE_TYPES = frozenset((SNode, DNode, Fin, FinS))
FIN_TYPES = (Fin, FinS)


class Corrupt(Exception):
    pass


def header_of(x):
    """The header of any graph element, verified; raises Corrupt."""
    t = type(x)
    try:
        if t in NODE_TYPES:
            h = x.data
            nid = x.nid
        elif t is list:
            h = x[0]
            nid = None
        elif t is dict:
            h = x["h"]
            nid = None
        elif t is tuple:
            h = x[0]
            nid = None
        else:
            raise Corrupt("unexpected %s in the graph" % t.__name__)
    except (AttributeError, IndexError, KeyError) as e:
        raise Corrupt("%s without its header (cleared?): %r" % (t.__name__, e)) from None
    if type(h) is not tuple or len(h) != 3:
        raise Corrupt("%s with a bad header %r" % (t.__name__, h))
    if check_of(h[0], h[1]) != h[2]:
        raise Corrupt("%s nid=%s: checksum mismatch %r" % (t.__name__, h[0], h))
    if nid is not None and h[0] != nid:
        raise Corrupt("%s nid=%s: header of nid %s" % (t.__name__, nid, h[0]))
    return h


def header_error(x):
    try:
        header_of(x)
        return None
    except Corrupt as e:
        return str(e)


def children(x):
    """Structural edges (a shape's walk)."""
    t = type(x)
    try:
        if t in NODE_TYPES:
            return x.links[:]
        if t is list or t is tuple:
            return x[1:]
        if t is dict:
            return [v for k, v in x.copy().items() if k != "h"]
    except AttributeError as e:
        raise Corrupt("%s without its edges (cleared?): %r" % (t.__name__, e)) from None
    raise Corrupt("unexpected %s in the graph" % t.__name__)


def all_edges(x):
    """Structural and cross edges (walks of the shared graph)."""
    if type(x) in NODE_TYPES:
        try:
            return x.links[:] + x.xl[:]
        except AttributeError as e:
            raise Corrupt("%s without its edges (cleared?): %r" % (type(x).__name__, e)) from None
    return children(x)


def nid_of(x):
    return header_of(x)[0]


# ---------------------------------------------------------------------------
# Shapes: a thread's local subgraphs.

class Flags:
    """What a shape's finalizers and weakref callbacks may expect.

    Referenced by the shape's finalizer objects and callbacks, never the
    other way round.  parent: the shape this one was merged into."""
    __slots__ = ("kind", "dropped", "escaped", "acyclic", "parent", "how")

    def __init__(self, kind):
        self.kind = kind
        self.dropped = False   # its thread let go of it
        self.escaped = False   # something outside it may reference it
        self.acyclic = False   # its back edge was cut: it may die by refcount
        self.parent = None
        self.how = ""          # how and when it was dropped (for the reports)

    def drop(self, how):
        self.how = "%s while collection #%d ran or after it" % (how, GC[0])
        self.dropped = True

    def describe(self):
        f = self
        while f.parent is not None and not f.dropped:
            f = f.parent
        return "%s shape%s, %s" % (self.kind, "" if f is self else " merged into a %s" % f.kind,
                                   f.how)

    def _chain(self):
        """This shape's flags, then those of the shapes it was merged into."""
        f = self
        while f is not None:
            yield f
            f = f.parent

    def is_dropped(self):
        return any(f.dropped for f in self._chain())

    def is_escaped(self):
        return any(f.escaped for f in self._chain())

    def may_die_piecemeal(self):
        return any(f.escaped or f.acyclic for f in self._chain())


class Shape:
    __slots__ = ("kind", "flags", "root", "n", "fp", "tail", "rwr", "nres")

    def __init__(self, kind):
        self.kind = kind
        self.flags = Flags(kind)
        self.root = None
        self.n = 0       # nodes reachable from root over structural edges
        self.fp = 0      # sum of their nids
        self.tail = None  # ring: the node whose last edge goes back to root
        self.rwr = None   # weakref to root
        self.nres = 0    # resurrecting finalizer objects (at most one)


def inshape_callback(flags, tag, wr):
    try:
        prev = CBS.hit(tag)
        if prev:
            violation("weakref callback tag=%d ran %d times" % (tag, prev + 1))
        if wr() is not None:
            violation("weakref callback tag=%d ran before its weakref was cleared" % tag)
        if not flags.is_dropped():
            violation("weakref callback tag=%d ran while its %s shape was still held: "
                      "a live object was freed" % (tag, flags.kind))
        elif not flags.may_die_piecemeal():
            violation("weakref callback tag=%d (during collection #%d) ran for a weakref that "
                      "became garbage together with its referent (unescaped %s)"
                      % (tag, GC[0], flags.describe()))
    except Exception:
        violation("exception in a weakref callback:\n" + traceback.format_exc())


def held_callback(tag, wr):
    try:
        prev = CBS.hit(tag)
        if prev:
            violation("weakref callback tag=%d ran %d times" % (tag, prev + 1))
        if wr() is not None:
            violation("weakref callback tag=%d ran before its weakref was cleared" % tag)
    except Exception:
        violation("exception in a weakref callback:\n" + traceback.format_exc())


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


def new_node(st, fin_flags=None, rec=None, fin_p=0.0):
    """A node: SNode/DNode, or a finalizer object with probability fin_p."""
    rng = st.rng
    nid = st.new_nid()
    payload = rng.getrandbits(48)
    if rng.random() < fin_p:
        res = rng.random() < 0.3 and (rec is None or rec.nres == 0)
        if res and rec is not None:
            rec.nres = 1
        cls = Fin if rng.random() < 0.5 else FinS
        return cls(nid, payload, DELS.new(st.idx), fin_flags, res, rec)
    return (SNode if rng.random() < 0.5 else DNode)(nid, payload)


def make_elem(st, rec, children_, mutable, tuples=True):
    rng = st.rng
    if not mutable:
        r = rng.random()
        if r < (0.34 if tuples else 0.24):
            nid = st.new_nid()
            h = header(nid, rng.getrandbits(48))
            if r < 0.12:
                return [h, *children_]
            if r < 0.24:
                d = {"h": h}
                for k, c in enumerate(children_):
                    d[k] = c
                return d
            return (h, *children_)
    x = new_node(st, fin_flags=rec.flags, rec=rec, fin_p=0.06)
    x.links.extend(children_)
    return x


def build_shape(st, kind, n, forward=None):
    """A new shape: its root is a mutable node on a cycle.  forward: allocate
    the root first (default: at random)."""
    rng = st.rng
    rec = Shape(kind)
    if kind == "single":
        n = 1
    need_mut = {0}
    if kind in ("ring", "chain", "single"):
        parent = [i - 1 for i in range(n)]
        if kind == "ring":
            need_mut.add(n - 1)
    elif kind == "tree":
        parent = [-1] + [rng.randrange(max(0, i - 6), i) for i in range(1, n)]
    else:  # clique
        parent = [-1] + [0] * (n - 1)
        need_mut = set(range(n))
    kids = [[] for _ in range(n)]
    for i in range(1, n):
        kids[parent[i]].append(i)
    back = set()
    if kind == "tree":
        for i in range(1, n):
            if not kids[i] and rng.random() < 0.3:
                back.add(i)
                need_mut.add(i)
    if forward is None:
        forward = rng.random() < 0.5
    if not forward:
        # Children first (tuples need them): the root is allocated last.
        elems = [None] * n
        for i in range(n - 1, -1, -1):
            elems[i] = make_elem(st, rec, [elems[j] for j in kids[i]], i in need_mut)
    else:
        # The root first, edges added afterwards.  While the comprehension
        # runs, its list is only on the value stack, which the fork's root
        # scan does not trace: a collection that begins during it finds the
        # first elements unmarked (candidates), and the rest are allocated
        # after it began (black).
        elems = [make_elem(st, rec, [], i in need_mut, tuples=False) for i in range(n)]
        for i in range(n):
            x = elems[i]
            t = type(x)
            if t is list:
                x.extend(elems[j] for j in kids[i])
            elif t is dict:
                for k, j in enumerate(kids[i]):
                    x[k] = elems[j]
            else:
                x.links.extend(elems[j] for j in kids[i])
    root = elems[0]
    if kind == "ring":
        elems[n - 1].links.append(root)
        rec.tail = elems[n - 1]
    elif kind == "clique":
        for a in elems:
            for b in elems:
                if a is not b and b is not root:
                    a.links.append(b)
        root.links.append(root)
    else:
        for i in back:
            elems[i].links.append(root)
        root.links.append(root)
    nodes = [e for e in elems if type(e) in NODE_TYPES]
    for _ in range(rng.randrange(1 + len(nodes) // 3)):
        holder = rng.choice(nodes)
        target = rng.choice(nodes)
        holder.w = weakref.ref(target, functools.partial(inshape_callback, rec.flags,
                                                         CBS.new(st.idx)))
    rec.root = root
    rec.n = n
    rec.fp = sum(nid_of(e) for e in elems) & MASK
    rec.rwr = weakref.ref(root)
    return rec


def random_shape(st, garbage=False):
    rng = st.rng
    r = rng.random()
    if r < 0.35:
        kind, n = "ring", rng.randrange(2, 40) if rng.random() < 0.9 else rng.randrange(40, 400)
    elif r < 0.45:
        kind, n = "chain", rng.randrange(20, 1500 if not garbage else 500)
    elif r < 0.7:
        kind, n = "tree", rng.randrange(2, 200)
    elif r < 0.85:
        kind, n = "clique", rng.randrange(2, 10)
    else:
        kind, n = "single", 1
    rec = build_shape(st, kind, n)
    if rng.random() < 0.3:   # an edge to the shared graph (garbage may point at live)
        x = SHARED[rng.randrange(NSLOTS)]
        if x is not None:
            rec.root.xl.append(x)
    return rec


def walk_shape(rec):
    """Verify a shape; returns {id: element} of its nodes.  Raises Corrupt."""
    root = rec.root
    seen = {id(root): root}
    stack = [root]
    nids = []
    while stack:
        x = stack.pop()
        nids.append(header_of(x)[0])
        for c in children(x):
            if id(c) not in seen:
                seen[id(c)] = c
                stack.append(c)
    if len(seen) != rec.n or sum(nids) & MASK != rec.fp:
        raise Corrupt("%s shape walk found %d nodes (nid sum %d), expected %d (%d): "
                      "reachable nodes lost" % (rec.kind, len(seen), sum(nids) & MASK,
                                                rec.n, rec.fp))
    return seen


def pick(rng, rec, mutable=True):
    """A node of the shape, by a short random walk from its root."""
    x = best = rec.root
    for _ in range(rng.randrange(12)):
        ch = children(x)
        if not ch:
            break
        x = ch[rng.randrange(len(ch))]
        if type(x) in NODE_TYPES:
            best = x
    return best if mutable else x


class Batch:
    """Weakrefs to the nodes of a shape that nobody can reach any more."""
    __slots__ = ("desc", "wrs", "cbwr", "tag")


def make_batch(st, rec, seen, what):
    b = Batch()
    b.desc = "%s %s shape (%d nodes, %d resurrecting)" % (what, rec.kind, rec.n, rec.nres)
    b.wrs = [weakref.ref(o) for o in seen.values() if type(o) in NODE_TYPES]
    b.tag = CBS.new(st.idx)
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
    n = CBS.get(b.tag)
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
    n = DELS.get(fin.uid)
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


# ---------------------------------------------------------------------------
# Mutator operations.  Each takes the thread's State; none keeps a reference
# to graph objects in a frame that outlives it.

def op_build(st):
    rng = st.rng
    while st.shapes and (len(st.shapes) >= MAX_SHAPES or st.nodes > st.max_nodes):
        finish_drop(st, drop_some(st))
    rec = random_shape(st)
    st.shapes.append(rec)
    st.nodes += rec.n


def drop_some(st):
    rec = st.shapes.pop(st.rng.randrange(len(st.shapes)))
    st.nodes -= rec.n
    return release(st, rec, "dropped")


def finish_drop(st, batch):
    if batch is not None:
        st.pending.append((GC[0], batch))


def op_drop(st):
    if st.shapes:
        finish_drop(st, drop_some(st))


def _garbage(st):
    rec = random_shape(st, garbage=True)
    return release(st, rec, "fresh garbage")


def op_garbage(st):
    finish_drop(st, _garbage(st))


def _quick_garbage(st):
    rng = st.rng
    if rng.random() < 0.7:
        # Forward edges only, root first: a collection that began during
        # the build may find the first nodes garbage, the rest are black.
        rec = build_shape(st, "chain", rng.randrange(5, 60), forward=True)
    else:
        rec = random_shape(st, garbage=True)
    # Not build_shape(...).flags.drop(): the shape would be garbage (and
    # its finalizers could run) before drop() had marked it dropped.
    rec.flags.drop("dropped right after its build")


def op_quick_garbage(st):
    """A shape dropped as soon as it is built (no walk, no weakrefs to check
    it is freed: the end's leak check covers it), so that a collection that
    began during the build is still running when it becomes garbage, with
    part of it allocated before the collection began and part after."""
    _quick_garbage(st)


def op_verify(st):
    if not st.shapes:
        return
    rec = st.shapes[st.rng.randrange(len(st.shapes))]
    if rec.rwr() is not rec.root:
        violation("a weakref to the root of a held %s shape died" % rec.kind)
    walk_shape(rec)


def op_bulk(st):
    """Long C loops (polled by the fork) over a held shape's nodes."""
    if not st.shapes:
        return
    rec = st.shapes[st.rng.randrange(len(st.shapes))]
    seen = walk_shape(rec)
    elems = list(seen.values())
    srt = sorted(elems, key=nid_of)
    tup = tuple(srt)
    if (len(set(map(id, tup))) != rec.n or sum(map(nid_of, tup)) & MASK != rec.fp
            or max(tup, key=nid_of) is not srt[-1]):
        violation("sorted/tuple/sum over a held %s shape lost nodes" % rec.kind)
    ",".join(map(str, map(nid_of, elems)))


def op_payload(st):
    if not st.shapes:
        return
    rng = st.rng
    x = pick(rng, st.shapes[rng.randrange(len(st.shapes))], mutable=False)
    set_payload(x, rng.getrandbits(48))


def set_payload(x, payload):
    h = header_of(x)
    t = type(x)
    if t in NODE_TYPES:
        x.data = header(h[0], payload)
    elif t is list:
        x[0] = header(h[0], payload)
    elif t is dict:
        x["h"] = header(h[0], payload)


def op_xlink_local(st):
    if not st.shapes:
        return
    rng = st.rng
    a = st.shapes[rng.randrange(len(st.shapes))]
    b = st.shapes[rng.randrange(len(st.shapes))]
    if a is not b:
        b.flags.escaped = True
    x = pick(rng, a)
    x.xl.append(pick(rng, b, mutable=rng.random() < 0.5))
    if len(x.xl) > XL_CAP:
        del x.xl[:3]


def op_xlink_shared(st):
    if not st.shapes:
        return
    rng = st.rng
    y = SHARED[rng.randrange(NSLOTS)]
    if y is not None:
        x = pick(rng, st.shapes[rng.randrange(len(st.shapes))])
        x.xl.append(y)
        if len(x.xl) > XL_CAP:
            del x.xl[:3]


def op_unlink(st):
    if not st.shapes:
        return
    rng = st.rng
    x = pick(rng, st.shapes[rng.randrange(len(st.shapes))])
    if rng.random() < 0.5:
        x.xl.clear()
    elif x.xl:
        x.xl.pop(rng.randrange(len(x.xl)))


def op_back_edge(st):
    """Cut or restore a ring's back edge (a ring without it is a chain)."""
    if not st.shapes:
        return
    rec = st.shapes[st.rng.randrange(len(st.shapes))]
    t = rec.tail
    if t is None:
        return
    if t.links and t.links[-1] is rec.root:
        rec.flags.acyclic = True
        t.links.pop()
    else:
        t.links.append(rec.root)


def op_merge(st):
    """Hang shape b under shape a's root."""
    if len(st.shapes) < 2:
        return
    rng = st.rng
    i, j = rng.sample(range(len(st.shapes)), 2)
    a, b = st.shapes[i], st.shapes[j]
    if a.nres + b.nres > 1 or a.n + b.n > 3000:
        return
    st.shapes.remove(b)
    if b.flags.escaped:
        a.flags.escaped = True
    if b.flags.acyclic:
        a.flags.acyclic = True
    b.flags.parent = a.flags
    a.root.links.append(b.root)
    a.n += b.n
    a.fp = (a.fp + b.fp) & MASK
    a.nres += b.nres


def op_handoff(st):
    if not st.shapes:
        return
    rng = st.rng
    rec = st.shapes.pop(rng.randrange(len(st.shapes)))
    st.nodes -= rec.n
    if rng.random() < 0.3 and len(EXCHANGE) < 64:
        EXCHANGE.append(rec)
    else:
        others = [s for s in STATES[:-1] if s is not st] or [st]
        others[rng.randrange(len(others))].inbox.put(rec)


def _receive_one(st):
    try:
        rec = st.inbox.get_nowait()
    except queue.Empty:
        try:
            rec = EXCHANGE.pop()
        except IndexError:
            return False, None
    walk_shape(rec)
    if len(st.shapes) >= MAX_SHAPES or st.nodes + rec.n > st.max_nodes:
        return True, release(st, rec, "received, then dropped")
    st.shapes.append(rec)
    st.nodes += rec.n
    return True, None


def op_receive(st):
    for _ in range(4):
        got, batch = _receive_one(st)
        finish_drop(st, batch)
        if not got:
            break


def make_shared(st):
    """A small structure for the shared graph (may reference shared objects)."""
    rng = st.rng
    r = rng.random()

    def some():
        return [y for y in (SHARED[rng.randrange(NSLOTS)] for _ in range(rng.randrange(4)))
                if y is not None]

    if r < 0.3:
        x = new_node(st)
        if rng.random() < 0.5:
            x.links.append(x)
        x.xl.extend(some())
        return x
    if r < 0.45:
        x = new_node(st, fin_p=1.0)
        if rng.random() < 0.5:
            x.links.append(x)
        x.xl.extend(some())
        return x
    if r < 0.6:
        nodes = [new_node(st, fin_p=0.1) for _ in range(rng.randrange(2, 6))]
        for a, b in zip(nodes, nodes[1:] + nodes[:1]):
            a.links.append(b)
        nodes[0].xl.extend(some())
        return nodes[rng.randrange(len(nodes))]
    h = header(st.new_nid(), rng.getrandbits(48))
    back = new_node(st, fin_p=0.1)
    if r < 0.75:
        x = [h, *some(), back]
    elif r < 0.9:
        x = {"h": h}
        for k, y in enumerate(some() + [back]):
            x[k] = y
    else:
        x = (h, *some(), back)
    if rng.random() < 0.7:
        back.xl.append(x)   # a cycle through the container
    return x


def replace_slot(i, new):
    """SHARED[i] = new; the old object loses its cross edges (others may
    still hold it): otherwise every object keeps the ones that were in the
    slots when it was linked, those keep older ones, and what the shared
    graph retains grows with the run's length."""
    old = SHARED[i]
    SHARED[i] = new
    t = type(old)
    if t in NODE_TYPES:
        old.xl.clear()
    elif t is list:
        del old[1:]
    elif t is dict:
        for k in range(8):
            old.pop(k, None)


def op_shared_put(st):
    replace_slot(st.rng.randrange(NSLOTS), make_shared(st))


def op_shared_clear(st):
    replace_slot(st.rng.randrange(NSLOTS), None)


def op_shared_link(st):
    rng = st.rng
    x = SHARED[rng.randrange(NSLOTS)]
    y = SHARED[rng.randrange(NSLOTS)]
    if x is None or y is None:
        return
    t = type(x)
    if t in NODE_TYPES:
        x.xl.append(y)
        if len(x.xl) > XL_CAP:
            del x.xl[:3]
    elif t is list:
        x.append(y)
        if len(x) > SHARED_FANOUT:
            del x[1:SHARED_FANOUT // 2]
    elif t is dict:
        if rng.random() < 0.3:
            x.pop(rng.randrange(8), None)
        else:
            x[rng.randrange(8)] = y


def op_shared_read(st):
    """Walk part of the shared graph, verifying every header."""
    rng = st.rng
    x = SHARED[rng.randrange(NSLOTS)]
    if x is None:
        return
    seen = {id(x): x}
    queue_ = [x]
    limit = rng.randrange(8, 96)
    while queue_ and len(seen) < limit:
        y = queue_.pop(0)
        header_of(y)
        for c in all_edges(y):
            if c is not None and id(c) not in seen:
                seen[id(c)] = c
                queue_.append(c)


def op_shared_payload(st):
    rng = st.rng
    x = SHARED[rng.randrange(NSLOTS)]
    if x is not None:
        set_payload(x, rng.getrandbits(48))


def op_shared_publish(st):
    """Put a node of a held shape into the shared graph: the shape escapes."""
    if not st.shapes:
        return
    rng = st.rng
    rec = st.shapes[rng.randrange(len(st.shapes))]
    rec.flags.escaped = True
    # A node, not a container: other threads add edges to shared lists and
    # dicts, which would change the shape.
    replace_slot(rng.randrange(NSLOTS), pick(rng, rec))


def op_grab(st):
    """Hold a shared node strongly (and weakly): it must stay alive."""
    rng = st.rng
    for x, w in st.grabbed:
        if w() is not x:
            violation("a weakref to a shared %s this thread holds died" % type(x).__name__)
        header_of(x)
    x = SHARED[rng.randrange(NSLOTS)]
    if type(x) in NODE_TYPES:
        st.grabbed.append((x, weakref.ref(x)))
        if len(st.grabbed) > 16:
            del st.grabbed[:rng.randrange(1, 16)]


def _drain_one(st):
    try:
        fin = KEEP.pop()
    except IndexError:
        return None
    return check_resurrected(st, fin)


def op_drain(st):
    for _ in range(4):
        finish_drop(st, _drain_one(st))


def op_collect(st):
    if COLLECT:
        gc.collect()


OPS = [
    (op_build, 10), (op_drop, 4), (op_garbage, 4), (op_quick_garbage, 8), (op_verify, 7),
    (op_bulk, 1),
    (op_payload, 6), (op_xlink_local, 3), (op_xlink_shared, 4), (op_unlink, 4),
    (op_back_edge, 3), (op_merge, 2), (op_handoff, 3), (op_receive, 5),
    (op_shared_put, 6), (op_shared_clear, 2), (op_shared_link, 6), (op_shared_read, 8),
    (op_shared_payload, 4), (op_shared_publish, 1), (op_grab, 3), (op_drain, 3),
    (op_collect, 0.05),
]


def mutator(st):
    rng = st.rng
    ops = [o for o, _ in OPS]
    cum = []
    total = 0
    for _, w in OPS:
        total += w
        cum.append(total)
    while not STOP.is_set():
        op = rng.choices(ops, cum_weights=cum)[0]
        try:
            op(st)
        except Corrupt as e:
            violation("thread %d, %s: %s" % (st.idx, op.__name__, e))
        except Exception:
            violation("thread %d: exception in %s:\n%s" % (st.idx, op.__name__,
                                                          traceback.format_exc()))
        st.nops += 1
        if GC[1] != st.last_stops:
            st.last_stops = GC[1]
            check_pending(st)


def collector(interval):
    while not STOP.is_set():
        if interval:
            time.sleep(interval)
        gc.collect()


# ---------------------------------------------------------------------------
# The end: drop everything; nothing may be left.

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
    for t, chunks in enumerate(DELS.chunks):
        created = DELS.created[t]
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


# ---------------------------------------------------------------------------

def rss_mb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def replay_command(args, seed):
    env = ["%s=%s" % (k, os.environ[k]) for k in ("PYTHON_GC", "PYTHON_SAFEPOINT_STRESS")
           if k in os.environ]
    xopts = []
    for k, v in sys._xoptions.items():
        xopts += ["-X", k if v is True else "%s=%s" % (k, v)]
    cmd = env + [sys.executable] + xopts + [
        os.path.abspath(__file__), "--threads", str(args.threads),
        "--seconds", str(args.seconds), "--seed", str(seed),
        "--collect-interval", str(args.collect_interval), "--max-nodes", str(args.max_nodes)]
    return " ".join(shlex.quote(c) for c in cmd)


def main():
    global DELS, CBS, REPLAY, COLLECT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=4, help="mutator threads (default 4)")
    ap.add_argument("--seconds", type=float, default=20, help="run time (default 20)")
    ap.add_argument("--seed", type=int, default=None, help="default: random")
    ap.add_argument("--collect-interval", type=float, default=5,
                    help="ms between the collecting thread's gc.collect() calls (default 5; "
                    "0: back to back; negative: no gc.collect() until the end, automatic "
                    "collections only)")
    ap.add_argument("--max-nodes", type=int, default=10000,
                    help="nodes in a thread's held shapes (default 10000)")
    args = ap.parse_args()
    if not 1 <= args.threads <= 250:
        ap.error("--threads must be 1..250")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    REPLAY = replay_command(args, seed)
    try:
        mode = gc.get_tricolor_stats()["mode"]
    except AttributeError:
        mode = "stock"
    print("seed=%d" % seed)
    print("replay: " + REPLAY)
    print("interpreter %s, gc mode %s, safepoint stress %s, GIL %s" % (
        sys.executable, mode,
        os.environ.get("PYTHON_SAFEPOINT_STRESS", sys._xoptions.get("safepoint_stress", "off")),
        "enabled" if getattr(sys, "_is_gil_enabled", lambda: True)() else "disabled"),
        flush=True)

    faulthandler.enable()
    # A hang (deadlock) watchdog that works when no thread can run Python
    # code: faulthandler's own thread prints every stack ("Timeout (0:01:00)!")
    # and exits with status 1.  Re-armed while the mutators make progress.
    faulthandler.dump_traceback_later(HANG, exit=True)
    sys.unraisablehook = _unraisable
    threading.excepthook = _thread_exc
    gc.callbacks.append(_gc_callback)
    DELS = Counts(args.threads)
    CBS = Counts(args.threads)
    for i in range(args.threads + 1):   # the last one is the main thread's
        STATES.append(State(i, seed, args.max_nodes))
    threads = [threading.Thread(target=mutator, args=(STATES[i],), name="mutator-%d" % i)
               for i in range(args.threads)]
    if args.collect_interval >= 0:
        threads.append(threading.Thread(target=collector, args=(args.collect_interval / 1000,),
                                        name="collector"))
    else:
        COLLECT = False
    t0 = time.monotonic()
    for t in threads:
        t.start()
    printed = 0
    next_report = t0 + 5
    peak = 0.0
    last_ops = -1
    last_progress = t0
    while True:
        now = time.monotonic()
        ops = sum(s.nops for s in STATES)
        if ops != last_ops:
            last_ops = ops
            last_progress = now
            faulthandler.dump_traceback_later(HANG, exit=True)
        elif now - last_progress > HANG / 2:
            print("VIOLATION: no mutator made progress for %.0f s (deadlock?); stacks:"
                  % (now - last_progress), flush=True)
            faulthandler.dump_traceback(all_threads=True)
            print("FAIL; replay with:\n  " + REPLAY, flush=True)
            os._exit(1)
        while printed < len(VIOLATIONS) and printed < 50:
            print("VIOLATION: " + VIOLATIONS[printed], flush=True)
            printed += 1
        peak = max(peak, rss_mb())
        if now >= next_report:
            next_report += 5
            print("%5.0fs: %d ops, %d collections, %d shapes held, %d resurrected waiting, "
                  "%d garbage shapes checked, rss %.0f MB" % (
                      now - t0, sum(s.nops for s in STATES), GC[1],
                      sum(len(s.shapes) for s in STATES), len(KEEP),
                      sum(s.checked for s in STATES), rss_mb()), flush=True)
        if now - t0 >= args.seconds:
            break
        time.sleep(0.05)
    STOP.set()
    faulthandler.dump_traceback_later(HANG * 5, exit=True)   # joins and the final checks
    for t in threads:
        t.join(HANG)
        if t.is_alive():
            print("VIOLATION: thread %s did not stop within %d s (deadlock?); stacks:"
                  % (t.name, HANG), flush=True)
            faulthandler.dump_traceback(all_threads=True)
            print("FAIL; replay with:\n  " + REPLAY, flush=True)
            os._exit(1)
    nops = sum(s.nops for s in STATES)
    checked = sum(s.checked for s in STATES) + sum(len(s.pending) for s in STATES)
    ncoll = GC[1]
    t1 = time.monotonic()
    nfin = finish()
    t2 = time.monotonic()
    gc.callbacks.remove(_gc_callback)
    faulthandler.cancel_dump_traceback_later()
    for v in VIOLATIONS[printed:50]:
        print("VIOLATION: " + v)
    print("%d ops by %d threads in %.1f s (stopping %.1f s, final checks %.1f s), "
          "%d collections, %d garbage shapes checked, %d finalizer objects, peak rss %.0f MB"
          % (nops, args.threads, t2 - t0, t1 - t0 - args.seconds, t2 - t1, ncoll, checked,
             nfin, peak))
    if VIOLATIONS:
        n = len(VIOLATIONS) + MORE_VIOLATIONS[0]
        print("FAIL: %d violation(s)%s; replay with:\n  %s" % (
            n, " (first 50 shown)" if n > 50 else "", REPLAY), flush=True)
        return 1
    print("OK (seed=%d)" % seed, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
