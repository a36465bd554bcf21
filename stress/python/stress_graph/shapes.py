"""Shapes: a thread's local subgraphs -- rings, long chains, trees, cliques
and self-loops -- how they are generated, picked from and walked, with the
flags their finalizers and weakref callbacks check against."""
import functools
import traceback
import weakref

from . import state
from .nodes import (NODE_TYPES, Corrupt, DNode, Fin, FinS, SNode, children, header,
                    header_of, nid_of)
from .state import GC, MASK, NSLOTS, SHARED
from .violations import violation

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
        prev = state.CBS.hit(tag)
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
        prev = state.CBS.hit(tag)
        if prev:
            violation("weakref callback tag=%d ran %d times" % (tag, prev + 1))
        if wr() is not None:
            violation("weakref callback tag=%d ran before its weakref was cleared" % tag)
    except Exception:
        violation("exception in a weakref callback:\n" + traceback.format_exc())


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
        return cls(nid, payload, state.DELS.new(st.idx), fin_flags, res, rec)
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
                                                         state.CBS.new(st.idx)))
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
