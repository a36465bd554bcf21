"""Mutator operations.  Each takes the thread's State; none keeps a reference
to graph objects in a frame that outlives it.  OPS weighs them; mutator()
and collector() are the threads' loops."""
import gc
import queue
import time
import traceback
import weakref

from . import state
from .nodes import NODE_TYPES, Corrupt, all_edges, header, header_of, nid_of, set_payload
from .oracle import check_pending, check_resurrected, release
from .shapes import build_shape, new_node, pick, random_shape, walk_shape
from .state import (EXCHANGE, GC, KEEP, MASK, MAX_SHAPES, NSLOTS, SHARED, SHARED_FANOUT,
                    STATES, STOP, XL_CAP)
from .violations import violation


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
    if state.COLLECT:
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

