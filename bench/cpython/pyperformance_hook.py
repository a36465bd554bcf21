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
  timeline      the GC's pauses as (start, length) on time.perf_counter_ns()
                (gc_pause_spans_ns): stock's collections (their callback
                intervals, as above), the fork's GC pauses (each record's
                stopped_at_ns and pause_ns); and the process's life from
                this module's import to its exit (life_ns).  The driver
                computes the MMU from them (report.mmu).  mmu_complete is
                false if some pauses were not listed (see above): the MMU is
                then an upper bound.
  atexit        writes one JSON object to the file.  pyperf's worker ends
                with sys.exit(), which runs atexit handlers.
"""
import os

_PATH = os.environ.pop("TRICOLOR_PP_STATS", None)

if _PATH:
    import atexit
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
    _start_ns = [None]
    _born_ns = time.perf_counter_ns()
    _spans = []                    # the GC's pauses: (start ns, length ns)
    _has_timestamps = [True]

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
                    _spans.append((p["stopped_at_ns"], ns))
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
        now = time.perf_counter_ns()
        with _lock:
            if phase == "start":
                _start_ns[0] = now
                return
            if _start_ns[0] is not None:
                d = (now - _start_ns[0]) / 1e9
                if not _pause_stats:   # stock: the collection is the pause
                    _spans.append((_start_ns[0], now - _start_ns[0]))
                _start_ns[0] = None
                _s["collections"] += 1
                _s["collection_total_s"] += d
                _s["collection_max_s"] = max(_s["collection_max_s"], d)
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
                out["gc_pause_spans_ns"] = _spans
                out["life_ns"] = [_born_ns, time.perf_counter_ns()]
                out["mmu_complete"] = _s["unitemised_pauses"] == 0
        with open(_PATH + ".tmp", "w") as f:
            json.dump(out, f)
        os.replace(_PATH + ".tmp", _PATH)

    if _pause_stats:
        gc.reset_pause_stats()      # from here on: the worker's pauses
    gc.callbacks.append(_callback)
    atexit.register(_write)
