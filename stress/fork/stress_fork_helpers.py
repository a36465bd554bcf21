"""stress_fork_helpers: the Python side of stress_fork (embedded at build
time: stress/fork/CMakeLists.txt reads this file into the generated header
stress_fork_helpers.h; interpreter.cc runs it as the module
stress_fork_helpers in the embedded interpreter).

The classes a program creates (Tag, Node, Res, WR), the event log their
finalizers and callbacks append to, the keep list Res resurrects into, the
globals dict G, and the functions the checks call (full_collect, snapshot,
keep_uids, live, format_exc, mode).  interpreter.cc looks each of those
names up once, at start-up.
"""
import gc, sys, time, weakref, functools, traceback

events = []   # (0, uid): a __del__ ran; (1, uid, dead): the callback of WR uid ran, dead = wr() is None
keep = []     # what Res.__del__ saved
G = {}        # the globals the program stores into
started = 0   # collections started / finished, from gc.callbacks
stopped = 0

def _on_gc(phase, info):
    global started, stopped
    if phase == "start":
        started += 1
    else:
        stopped += 1

gc.callbacks.append(_on_gc)

class Tag:
    """Item 0 of a List, d['tag'] of a Dict: dies with its container."""
    __slots__ = ("uid", "__weakref__")
    def __init__(self, uid):
        self.uid = uid
    def __del__(self):
        events.append((0, self.uid))

class Node:
    def __init__(self, uid):
        self.uid = uid
    def __del__(self):
        events.append((0, self.uid))

class Res(Node):
    def __del__(self):
        events.append((0, self.uid))
        keep.append(self)

def _callback(uid, wr):
    events.append((1, uid, wr() is None))

class WR(weakref.ref):
    __slots__ = ("uid", "__weakref__")
    def __new__(cls, ob, uid):
        self = weakref.ref.__new__(cls, ob, functools.partial(_callback, uid))
        self.uid = uid
        return self
    def __init__(self, ob, uid):
        pass
    def __del__(self):
        events.append((0, self.uid))

def full_collect():
    """Returns once a collection that started after the call has finished
    (stock's gc.collect() returns 0 while another thread collects)."""
    s = started
    while True:
        gc.collect()
        if stopped > s:
            return
        time.sleep(0.0002)

def uid_of(o):
    t = type(o)
    if t is list:
        return o[0].uid
    if t is dict:
        return o["tag"].uid
    return o.uid

_KINDS = {list: 0, dict: 1, Node: 2, Res: 3, WR: 4}
_ATTRS = ("a0", "a1", "a2", "a3")   # the only attributes programs set
_MISSING = object()

def snapshot(roots, nkeep, base):
    """uid -> (id, kind, [(key or None, uid)]) of everything reachable from
    roots, G and keep[:nkeep] (what the caller has read of keep; later
    entries may be arriving from a collection on another thread) through
    the program's links."""
    out = {}
    stack = list(roots)
    stack.extend(G.values())
    stack.extend(o for o in keep[:nkeep] if uid_of(o) >= base)
    while stack:
        o = stack.pop()
        u = uid_of(o)
        prev = out.get(u)
        if prev is not None:
            if prev[0] != id(o):
                raise AssertionError(f"two objects carry uid {u}")
            continue
        t = type(o)
        if t is list:
            kids = [(None, x) for x in o[1:]]
        elif t is dict:
            kids = sorted(((k, v) for k, v in o.items() if k != "tag"), key=lambda kv: kv[0])
        elif t is WR:
            kids = []
        else:
            # getattr, not vars(o): reading __dict__ would materialize it
            # (the DictView operation does that on purpose)
            kids = [(k, v) for k in _ATTRS if (v := getattr(o, k, _MISSING)) is not _MISSING]
        out[u] = (id(o), _KINDS.get(t, -1), [(k, uid_of(v)) for k, v in kids])
        stack.extend(v for _, v in kids)
    return out

def keep_uids():
    return [uid_of(o) for o in list(keep)]

def live(base):
    """uids >= base of the program's objects still tracked."""
    return sorted(o.uid for o in gc.get_objects()
                  if type(o) in (Tag, Node, Res, WR) and o.uid >= base)

def format_exc(e):
    return "".join(traceback.format_exception(e)).rstrip()

def mode():
    if hasattr(gc, "get_tricolor_stats"):
        return "tricolor fork, gc mode " + gc.get_tricolor_stats()["mode"]
    return "stock CPython " + sys.version.split()[0]
