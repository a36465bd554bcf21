"""The GC probe of bench/cpython/pyperformance.py, loaded into each measured
pyperformance worker as `sitecustomize` (the harness copies this file as
sitecustomize.py into a temporary directory it puts first on PYTHONPATH), so
that the benchmark's own script runs unmodified.

It does nothing unless TRICOLOR_PP_STATS names a file; it removes that
variable from the environment at once, so the processes a benchmark starts
(python_startup, bench_command) neither inherit it nor write the file.  Then:

  gc.callbacks  every collection's 'start' -> 'stop' interval (perf_counter);
                under stock each one is a stop-the-world pause, all of it
                counted (an upper bound: 3.13t restarts the world before it
                runs finalizers and frees the garbage); under the fork's
                concurrent mode the callbacks run on the collector thread and
                the interval is the concurrent collection, not a pause.
  the fork      at each 'stop' (and at exit): gc.get_pause_stats() is read
                and reset, so that its list of the 1024 most recent pauses
                holds every pause since the last read; each pause is counted
                by reason, and the GC's own (gc_collect_internal, the stw
                mode's; tricolor:*, the concurrent mode's) apart from the
                others (_PyEval_EnableGILTransient at start-up, _Py_qsbr_reserve
                when a thread starts, ...).  A pause made between the read and
                the reset is lost (a window of microseconds).
                gc.get_tricolor_stats() (the last concurrent collection's
                figures) is sampled once per collection: the least
                allowlist_coverage over the collections that marked anything,
                the sums of marked and opaque_marked (the coverage of the
                whole run), of candidates and opaque_candidates, and of the
                census of opaque types (opaque_types, by type name).
  MMU           the minimum mutator utilisation at 1, 10 and 100 ms windows
                over the process's life (from this module's import to its
                exit), from the GC's pauses laid on a timeline: stock's
                collections (their callback intervals, as above), the fork's
                GC pauses (each record's stopped_at_ns and pause_ns).  The
                least share of any window of that length the GC left to the
                program; a window may hold several pauses, so pauses that
                come back to back weigh as one long pause.  mmu_complete is
                false if some pauses were not listed (see above): the MMU is
                then an upper bound.
  atexit        writes one JSON object to the file.  pyperf's worker ends
                with sys.exit(), which runs atexit handlers.
"""
import os

_PATH = os.environ.pop("TRICOLOR_PP_STATS", None)

if _PATH:
    import atexit
    import bisect
    import gc
    import json
    import threading
    import time

    _pause_stats = getattr(gc, "get_pause_stats", None)
    _tricolor_stats = getattr(gc, "get_tricolor_stats", None)
    _lock = threading.Lock()
    _s = {"collections": 0, "collection_max_s": 0.0, "collection_total_s": 0.0,
          "pause_count": 0, "pause_max_ns": 0, "unitemised_pauses": 0,
          "gc_pause_count": 0, "gc_pause_max_ns": 0, "gc_pause_total_ns": 0,
          "by_reason": {},           # reason -> [count, max ns]
          "tricolor_collections": 0, "coverage_min": None, "marked": 0,
          "opaque_marked": 0, "candidates": 0, "opaque_candidates": 0,
          "opaque_candidates_max": 0, "opaque_types": {}, "last_collection": None,
          "final": None}
    _start = [None]
    _start_ns = [None]
    _born_ns = time.perf_counter_ns()
    _intervals = []                # the GC's pauses: [start ns, end ns]
    _has_timestamps = [True]
    MMU_WINDOWS_MS = (1, 10, 100)

    def _mmu(intervals, t0, t1, window):
        """1 - the most pause time any window of `window` ns in [t0, t1]
        holds; None if the run is shorter than the window."""
        if t1 - t0 < window:
            return None
        merged = []
        for a, b in sorted(intervals):
            a, b = max(a, t0), min(b, t1)
            if b <= a:
                continue
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        starts = [a for a, _ in merged]
        before = [0]               # before[i]: pause time of merged[:i]
        for a, b in merged:
            before.append(before[-1] + b - a)

        def paused_until(t):       # pause time in [t0, t]
            i = bisect.bisect_right(starts, t)
            return before[i - 1] + min(merged[i - 1][1], t) - merged[i - 1][0] if i else 0

        # The most a window holds is reached with its start at a pause's
        # start or its end at a pause's end.
        worst = 0
        for a, b in merged:
            for s in (a, b - window):
                s = min(max(s, t0), t1 - window)
                worst = max(worst, paused_until(s + window) - paused_until(s))
        return 1 - worst / window

    def _drain():
        s = _pause_stats()
        gc.reset_pause_stats()
        _s["pause_count"] += s["count"]
        _s["pause_max_ns"] = max(_s["pause_max_ns"], s["max_pause_ns"])
        # more pauses than the list holds: those not listed cannot be told apart
        _s["unitemised_pauses"] += s["count"] - len(s["pauses"])
        for p in s["pauses"]:
            r, ns = p["reason"], p["pause_ns"]
            c = _s["by_reason"].setdefault(r, [0, 0])
            c[0] += 1
            c[1] = max(c[1], ns)
            if r == "gc_collect_internal" or r.startswith("tricolor:"):
                if "stopped_at_ns" in p:
                    _intervals.append((p["stopped_at_ns"], p["stopped_at_ns"] + ns))
                else:
                    _has_timestamps[0] = False
                _s["gc_pause_count"] += 1
                _s["gc_pause_total_ns"] += ns
                _s["gc_pause_max_ns"] = max(_s["gc_pause_max_ns"], ns)

    def _sample():
        t = _tricolor_stats()
        # Kept as JSON text, not as the dict: the fork runs an automatic
        # collection's callbacks on its collector thread, so a dict made
        # there and dropped later by the benchmark's thread reaches zero
        # through the biased-refcount queue, and the next collection counts
        # it as garbage, as stock's merge_queued_objects does -- which
        # gc_traversal's `assert collected == 0` then sees.  A str is not
        # tracked by the GC.
        _s["final"] = json.dumps(t)
        if t.get("mode") != "concurrent" or t["collections"] == _s["last_collection"]:
            return
        _s["last_collection"] = t["collections"]
        _s["tricolor_collections"] += 1
        _s["marked"] += t["marked"]
        _s["opaque_marked"] += t["opaque_marked"]
        _s["candidates"] += t["candidates"]
        _s["opaque_candidates"] += t["opaque_candidates"]
        _s["opaque_candidates_max"] = max(_s["opaque_candidates_max"], t["opaque_candidates"])
        for name, n in t.get("opaque_types", {}).items():
            _s["opaque_types"][name] = _s["opaque_types"].get(name, 0) + n
        if t["marked"]:
            cov = t["allowlist_coverage"]
            if _s["coverage_min"] is None or cov < _s["coverage_min"]:
                _s["coverage_min"] = cov

    def _callback(phase, info):
        now = time.perf_counter()
        with _lock:
            if phase == "start":
                _start[0] = now
                _start_ns[0] = time.perf_counter_ns()
                return
            if _start[0] is not None:
                d = now - _start[0]
                _start[0] = None
                _s["collections"] += 1
                _s["collection_total_s"] += d
                _s["collection_max_s"] = max(_s["collection_max_s"], d)
                if not _pause_stats:   # stock: the collection is the pause
                    _intervals.append((int(_start_ns[0]), time.perf_counter_ns()))
            if _pause_stats:
                _drain()
            if _tricolor_stats:
                _sample()

    def _write():
        with _lock:
            if _pause_stats:
                _drain()
            if _tricolor_stats:
                _sample()
            out = dict(_s, pid=os.getpid(), has_pause_stats=bool(_pause_stats))
            if _has_timestamps[0]:
                end = time.perf_counter_ns()
                out["mmu"] = {str(w): _mmu(_intervals, _born_ns, end, w * 1_000_000)
                              for w in MMU_WINDOWS_MS}
                out["mmu_complete"] = _s["unitemised_pauses"] == 0
                out["life_ms"] = (end - _born_ns) / 1e6
        with open(_PATH + ".tmp", "w") as f:
            json.dump(out, f)
        os.replace(_PATH + ".tmp", _PATH)

    if _pause_stats:
        gc.reset_pause_stats()      # from here on: the worker's pauses
    gc.callbacks.append(_callback)
    atexit.register(_write)
