"""Tests of the types the concurrent marker reads with the world running.

Run by ctest with the tricolor interpreter:

    python3.13t-tricolor tests/runtime/test_concurrent_traverse.py EXT_DIR

EXT_DIR holds examples/concurrent_traverse/_pair.c built against the fork: an
extension type that opts in through PyUnstable_Type_SetConcurrentTraverse().

What is checked, for each shape the allowlist or a registration covers
(deques, suspended generators, coroutines, partials, OrderedDicts,
defaultdicts, asyncio tasks, exceptions with tracebacks, XML elements, the
extension type):

* reach: a settled heap of 20 000 such objects leaves almost no opaque
  candidates, and the shape's types are not in the census of opaque types
  (gc.get_tricolor_stats()["opaque_types"]).  Before these types were read
  concurrently every one of them was opaque, so this fails without them;
* soundness: the same structures, mutated by a thread while collections
  run, never lose a member, and a garbage cycle through each type (and
  through coroutines, async generators, frames, tracebacks, contexts,
  asyncio tasks and futures, builtin methods, weak references with
  callbacks, OrderedDict keys) is collected at once -- a concurrent
  traversal that skips a reference tp_traverse visits leaves such a cycle
  uncollectable for good;
* the API's misuse raises instead of crashing.

In stw mode (-X gc=stw) the reach checks are skipped: nothing is marked
concurrently there.  The rest runs in both modes.
"""
import asyncio
import collections
import functools
import gc
import os
import sys
import threading
import unittest
import weakref
from xml.etree import ElementTree

EXT_DIR = sys.argv.pop(1) if len(sys.argv) > 1 else os.environ["TRICOLOR_TEST_EXT_DIR"]
sys.path.insert(0, EXT_DIR)
import _pair  # noqa: E402

N = 20_000
CONCURRENT = gc.get_tricolor_stats()["mode"] == "concurrent"


def suspended(owner):
    local = [owner]
    yield local
    yield None


async def waiting(fut, owner):
    local = [owner]
    await fut
    return local


def build(shape):
    """A structure of N objects of the shape, cyclic through its container."""
    if shape == "deque":
        root = collections.deque()
        for i in range(N):
            root.append(collections.deque([[i], root]))
        return root
    if shape == "generator":
        root = collections.deque()
        for _ in range(N):
            g = suspended(root)
            next(g)
            root.append(g)
        return root
    if shape == "partial":
        root = []
        p = functools.partial(print)
        for i in range(N):
            p = functools.partial(p, [i], root) if i % 50 else functools.partial(print, root)
            root.append(p)
        return root
    if shape == "odict":
        root = collections.OrderedDict()
        for i in range(N):
            root[i] = collections.OrderedDict(a=[i], b=root)
        return root
    if shape == "defaultdict":
        root = collections.defaultdict(list)
        for i in range(N):
            root[i] = collections.defaultdict(list, a=[i], b=root)
        return root
    if shape == "exception":
        root = []
        for i in range(N):
            try:
                raise ValueError([i], root)
            except ValueError as e:
                root.append(e)
        return root
    if shape == "element":
        root = ElementTree.Element("root")
        for i in range(N):
            child = ElementTree.SubElement(root, "c")
            child.text = "t"
            child.set("up", root)
            child.set("i", [i])
        return root
    if shape == "pair":
        root = _pair.Pair()
        node = root
        for i in range(N):
            nxt = _pair.Pair([i], root)
            node.first = nxt
            node = nxt
        return root
    if shape == "metaclass":
        # Classes of a class statement's metaclass (abc.ABCMeta's kind):
        # each class's dict holds [i] and the root.
        root = []
        for i in range(N // 10):
            root.append(Meta(f"C{i}", (), {"a": [i], "up": root}))
        return root
    raise ValueError(shape)


class Meta(type):
    pass


SHAPE_TYPES = {
    "deque": {"collections.deque"},
    "generator": {"generator"},
    "partial": {"functools.partial"},
    "odict": {"collections.OrderedDict"},
    "defaultdict": {"collections.defaultdict"},
    "exception": {"ValueError", "traceback"},
    "element": {"xml.etree.ElementTree.Element"},
    "pair": {"_pair.Pair"},
    "metaclass": {"Meta"},
}


def settle():
    gc.collect()
    gc.collect()
    gc.collect()
    return gc.get_tricolor_stats()


class Reach(unittest.TestCase):
    """Marking reaches through these types with the world running."""

    def check(self, stats, names, label):
        opaque = stats["opaque_types"]
        self.assertFalse(names & set(opaque), f"{label}: opaque {opaque}")
        # Interpreter start-up leaves a few thousand opaque objects
        # (descriptors, classmethods...); N of the shape would add N more.
        self.assertLess(stats["opaque_candidates"], N // 2, f"{label}: {stats}")

    @unittest.skipUnless(CONCURRENT, "concurrent mode only")
    def test_shapes(self):
        for shape, names in SHAPE_TYPES.items():
            with self.subTest(shape=shape):
                keep = build(shape)
                self.check(settle(), names, shape)
                del keep

    @unittest.skipUnless(CONCURRENT, "concurrent mode only")
    def test_asyncio_tasks(self):
        async def main():
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            tasks = [asyncio.ensure_future(waiting(fut, None)) for _ in range(N)]
            await asyncio.sleep(0)
            stats = settle()
            fut.set_result(None)
            await asyncio.gather(*tasks)
            return stats
        self.check(asyncio.run(main()), {"_asyncio.Task", "coroutine", "_asyncio.Future"},
                   "tasks")

    @unittest.skipUnless(CONCURRENT, "concurrent mode only")
    def test_subclass_of_registered_type(self):
        class PairSubclass(_pair.Pair):
            pass
        keep = [PairSubclass([i], None) for i in range(N)]
        self.check(settle(), {"_pair.Pair", "PairSubclass"}, "subclass")
        del keep


class Soundness(unittest.TestCase):
    """Reading them concurrently never frees a live object nor keeps garbage."""

    def test_mutated_while_collecting(self):
        stop = threading.Event()
        d = collections.deque()
        od = collections.OrderedDict()
        head = _pair.Pair()
        errors = []

        def mutate():
            i = 0
            try:
                while not stop.is_set():
                    d.append([i])
                    od[i] = collections.deque([[i]])
                    head.first = _pair.Pair([i], head.first)
                    if len(d) > 3000:
                        for _ in range(1000):
                            d.popleft()
                            od.popitem(last=False)
                        head.first = _pair.Pair([i], None)
                    i += 1
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=mutate)
        t.start()
        try:
            for _ in range(30):
                gc.collect()
        finally:
            stop.set()
            t.join()
        self.assertEqual(errors, [])
        # Every member is intact: a freed one would read as garbage or crash.
        for x in d:
            self.assertIsInstance(x, list)
            self.assertIsInstance(x[0], int)
        for k, v in od.items():
            self.assertEqual(v[0], [k])
        node = head.first
        while node is not None:
            self.assertIsInstance(node.first, list)
            node = node.second

    def test_garbage_cycles_collected(self):
        class Witness:
            pass

        def cycle(shape, w):
            """A garbage cycle through the shape's type that holds w."""
            if shape == "deque":
                d = collections.deque([w])
                d.append(d)
            elif shape == "generator":
                box = [w]
                g = suspended(box)
                next(g)
                box.append(g)
            elif shape == "partial":
                box = [w]
                box.append(functools.partial(print, box))
            elif shape in ("odict", "defaultdict"):
                d = collections.OrderedDict() if shape == "odict" else collections.defaultdict(list)
                d["self"] = d
                d["w"] = w
            elif shape == "exception":
                try:
                    raise ValueError(w)
                except ValueError as e:
                    e.args = (e, w)
            elif shape == "element":
                e = ElementTree.Element("e")
                e.append(e)
                e.set("w", w)
            elif shape == "pair":
                p = _pair.Pair(w)
                p.second = p
            elif shape == "coroutine":
                box = [w]
                async def coro(owner):
                    local = [owner]
                    await asyncio.sleep(0)
                    return local
                c = coro(box)
                c.send(None)          # suspended at the sleep
                box.append(c)
            elif shape == "async-generator":
                box = [w]
                async def agen(owner):
                    local = [owner]
                    yield local
                a = agen(box)
                box.append(a)
            elif shape == "frame":
                def f(owner):
                    local = [owner]
                    return sys._getframe(), local
                frame, local = f(None)
                local.append(frame)   # the frame owns its data now
                local.append(w)
            elif shape == "traceback":
                try:
                    raise KeyError()
                except KeyError as e:
                    exc = e           # exc -> traceback -> frame -> exc
                    witness = w       # noqa: F841 (a local of the frame)
            elif shape == "context":
                import contextvars
                var = contextvars.ContextVar("v")
                ctx = contextvars.copy_context()
                ctx.run(var.set, [ctx, w])
            elif shape == "task":
                async def main():
                    box = [w]
                    async def hold(owner):
                        local = [owner]
                        await asyncio.sleep(0)
                        return local
                    t = asyncio.ensure_future(hold(box))
                    box.append(t)
                    fut = asyncio.get_running_loop().create_future()
                    fut.set_result(box)
                    box.append(fut)
                    await t
                asyncio.run(main())
            elif shape == "builtin-method":
                box = [w]
                box.append(box.append)
            elif shape == "weakref-callback":
                box = [w]
                target = Witness()
                box.append(weakref.ref(target, lambda r, box=box: None))
                box.append(target)
            elif shape == "metaclass":
                cls = Meta("Cycle", (), {"w": w})
                cls.self = cls
            elif shape == "odict-key":
                key = Witness()
                d = collections.OrderedDict()
                d[key] = w
                key.d = d
            else:
                raise ValueError(shape)

        extra = ["coroutine", "async-generator", "frame", "traceback", "context", "task",
                 "builtin-method", "weakref-callback", "odict-key"]
        for shape in [*SHAPE_TYPES, *extra]:
            with self.subTest(shape=shape):
                w = Witness()
                ref = weakref.ref(w)
                cycle(shape, w)
                del w
                gc.collect()
                gc.collect()
                self.assertIsNone(ref(), shape)


class Api(unittest.TestCase):
    def test_registered(self):
        self.assertTrue(_pair.registered)

    def test_misuse_raises(self):
        with self.assertRaises(ValueError):
            _pair.register_misuse("null-type")
        with self.assertRaises(ValueError):
            _pair.register_misuse("null-func")
        with self.assertRaises(TypeError):
            _pair.register_misuse("nogc")

    @unittest.skipUnless(CONCURRENT, "concurrent mode only")
    def test_dead_type_forgotten(self):
        # Each registered heap type that dies must leave the registry
        # (type_dealloc): 2000 of them would otherwise fill its 512 slots,
        # and the registration of the type made last would be dropped.
        for _ in range(2000):
            _pair.new_registered_type()
        gc.collect()
        gc.collect()
        fresh = _pair.new_registered_type()
        keep = [fresh([i], None) for i in range(N)]
        self.check = Reach.check.__get__(self)
        self.check(settle(), {"_pair.Pair"}, "fresh type")
        del keep


if __name__ == "__main__":
    unittest.main()
