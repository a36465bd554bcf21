"""Nodes.  data = (nid, payload, check): replaced as a whole, so a reader sees
a consistent triple or the object is broken."""
import traceback

from . import state
from .state import KEEP, KEEP_CAP, MASK
from .violations import violation


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
        prev = state.DELS.hit(uid)
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



def set_payload(x, payload):
    h = header_of(x)
    t = type(x)
    if t in NODE_TYPES:
        x.data = header(h[0], payload)
    elif t is list:
        x[0] = header(h[0], payload)
    elif t is dict:
        x["h"] = header(h[0], payload)
