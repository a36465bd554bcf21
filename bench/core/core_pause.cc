// bench/core/core_pause.cc -- the core's pause benchmark: the synthetic runtime
// with N live objects and mutator threads that keep mutating while
// collections run, in both modes of the same collector.
//
//   core_pause --objects N [--mode concurrent|stw] [--mutators 2]
//              [--collections 8] [--gap-ms 100] [--workers 0]
//              [--cycle-every 16] [--no-filter] [--verify-batch N]
//
// Heap: a complete binary tree of N objects (2 slots each) under global 0.
// Each mutator repeats: walk a random path from the root to depth >= D-6
// (D = tree depth), then one of
//   * replace the subtree at a random slot of a node at depth D-2 by a new
//     chain of 1-5 objects (the old subtree, ~3 objects, dies by reference
//     counting; the heap keeps its size);
//   * swap the references in two random slots of two nodes at the same
//     depth (what a marker without a write barrier can miss);
//   * every --cycle-every ops, make a garbage cycle of 2-6 objects (work
//     for the cycle collector);
// then poll the safepoint.  --no-filter turns the concurrent candidate
// filter off (CollectorConfig::filter_candidates), for comparison.  The main thread waits --gap-ms, collects,
// and repeats --collections times.
//
// Prints one JSON object: per collection its pauses, times-to-safepoint,
// phase times, candidates, garbage, marked; plus mutator ops/s and the
// marking rate (objects marked per second of concurrent mark, per worker).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "synthetic/runtime.h"

using synthetic::Object;
using synthetic::Runtime;

namespace {

struct Args {
  std::size_t objects = 1 << 20;
  tricolor::Mode mode = tricolor::Mode::kConcurrent;
  int mutators = 2, collections = 8, gap_ms = 100, workers = 0, cycle_every = 16;
  bool filter = true;
  std::size_t verify_batch = tricolor::CollectorConfig{}.verify_batch;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i++) {
    std::string k = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "core_pause: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--objects") a.objects = std::strtoull(val(), nullptr, 10);
    else if (k == "--mode") {
      std::string m = val();
      if (m == "concurrent") a.mode = tricolor::Mode::kConcurrent;
      else if (m == "stw") a.mode = tricolor::Mode::kFullStw;
      else { std::fprintf(stderr, "core_pause: --mode is concurrent or stw\n"); std::exit(2); }
    }
    else if (k == "--mutators") a.mutators = std::atoi(val());
    else if (k == "--collections") a.collections = std::atoi(val());
    else if (k == "--gap-ms") a.gap_ms = std::atoi(val());
    else if (k == "--workers") a.workers = std::atoi(val());
    else if (k == "--cycle-every") a.cycle_every = std::atoi(val());
    else if (k == "--no-filter") a.filter = false;
    else if (k == "--verify-batch") a.verify_batch = std::strtoull(val(), nullptr, 10);
    else { std::fprintf(stderr, "core_pause: unknown argument %s\n", k.c_str()); std::exit(2); }
  }
  return a;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  synthetic::RuntimeConfig cfg;
  cfg.collector.background = false;                       // the bench decides when
  cfg.collector.min_trigger_bytes = std::size_t{1} << 50;
  cfg.collector.mark_workers = a.workers;
  cfg.collector.mode = a.mode;
  cfg.collector.filter_candidates = a.filter;
  cfg.collector.verify_batch = a.verify_batch;
  Runtime rt(cfg);
  int depth = 0;
  std::int64_t t_build = now_ns();
  {
    synthetic::Mutator self(rt);
    // Complete binary tree in breadth-first order: node i has children
    // 2i+1 and 2i+2.  Built level by level, keeping one level's nodes.
    std::vector<Object*> level{rt.allocate(2)};
    rt.set_global(0, level[0]);
    std::size_t made = 1;
    while (made < a.objects) {
      std::vector<Object*> next;
      next.reserve(level.size() * 2);
      for (Object* p : level) {
        for (std::uint32_t s = 0; s < 2 && made < a.objects; s++, made++) {
          Object* c = rt.allocate(2);
          if (!c) { std::fprintf(stderr, "core_pause: out of heap at %zu objects\n", made); return 1; }
          rt.store(p, s, c);
          next.push_back(c);
        }
      }
      for (Object* p : level) rt.decref(p);
      level.swap(next);
      depth++;
      self.safepoint();
    }
    for (Object* p : level) rt.decref(p);
  }
  t_build = now_ns() - t_build;
  rt.collector().collect();  // settle: the first cycle sees the build's leftovers
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> ops{0};
  auto mutate = [&](unsigned seed) {
    synthetic::Mutator m(rt);
    std::mt19937_64 rng(seed);
    std::uint64_t n = 0;
    // A random path from the root down to depth `d` (or the last node).
    auto walk_to = [&](int d) -> Object* {
      Object* cur = rt.get_global(0);
      for (int i = 0; i < d && cur; i++) {
        Object* nx = rt.load(cur, rng() % 2);
        if (!nx) break;
        rt.decref(cur);
        cur = nx;
      }
      return cur;
    };
    // Rewiring happens near the leaves, so the heap keeps its size: a
    // replaced subtree (depth - 2: about 3 objects) is about as big as the
    // chain that replaces it, and a swap moves subtrees of up to 63 between
    // two nodes of the same depth (so it never detaches a cycle).
    while (!done.load(std::memory_order_relaxed)) {
      const int d_x = std::max(1, depth - 6) + static_cast<int>(rng() % 4);
      Object* x = walk_to(d_x);
      if (x) {
        if (a.cycle_every > 0 && n % a.cycle_every == 0) {
          int k = 2 + static_cast<int>(rng() % 5);
          std::vector<Object*> c;
          for (int i = 0; i < k; i++) c.push_back(rt.allocate(2));
          for (int i = 0; i < k; i++) rt.store(c[i], 0, c[(i + 1) % k]);
          for (Object* o : c) rt.decref(o);
        } else if (rng() % 2) {
          rt.decref(x);
          x = walk_to(std::max(1, depth - 2));
          Object* head = rt.allocate(2);  // our reference
          Object* cur = head;               // borrowed from the chain
          for (int i = static_cast<int>(rng() % 5); i > 0; i--) {
            Object* nx = rt.allocate(2);
            rt.store(cur, 0, nx);
            rt.decref(nx);                  // the chain holds it now
            cur = nx;
          }
          rt.store(x, rng() % 2, head);
          rt.decref(head);
        } else if (Object* y = walk_to(d_x)) {  // same depth: neither holds the other
          std::uint32_t sx = rng() % 2, sy = rng() % 2;
          Object* vx = rt.load(x, sx);
          Object* vy = rt.load(y, sy);
          rt.store(x, sx, vy);
          rt.store(y, sy, vx);
          if (vx) rt.decref(vx);
          if (vy) rt.decref(vy);
          rt.decref(y);
        }
        rt.decref(x);
      }
      n++;
      m.safepoint();
    }
    ops += n;
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < a.mutators; t++) ts.emplace_back(mutate, 42 + t);
  std::int64_t t0 = now_ns();
  std::string out = "{\"objects\":" + std::to_string(a.objects) + ",\"mode\":\"" +
                    (a.mode == tricolor::Mode::kConcurrent ? "concurrent" : "stw") +
                    "\",\"filter\":" + (a.filter ? "true" : "false") +
                    ",\"mutators\":" + std::to_string(a.mutators) +
                    ",\"build_ns\":" + std::to_string(t_build) + ",\"collections\":[";
  for (int c = 0; c < a.collections; c++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(a.gap_ms));
    tricolor::CollectionStats st = rt.collector().collect();
    auto list = [](const std::vector<std::int64_t>& v) {
      std::string s = "[";
      for (std::size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + std::to_string(v[i]);
      return s + "]";
    };
    std::string phases = "{";
    for (int p = 0; p < static_cast<int>(tricolor::Phase::kCount); p++) {
      phases += (p ? ",\"" : "\"") + std::string(tricolor::phase_name(static_cast<tricolor::Phase>(p))) +
                "\":" + std::to_string(st.phase_ns[p]);
    }
    phases += "}";
    out += (c ? "," : "") + std::string("{\"pause_ns\":") + list(st.pause_ns) +
           ",\"wait_ns\":" + list(st.wait_ns) + ",\"phase_ns\":" + phases +
           ",\"objects\":" + std::to_string(rt.live_objects()) +
           ",\"marked\":" + std::to_string(st.marked) + ",\"candidates\":" + std::to_string(st.candidates) +
           ",\"verified\":" + std::to_string(st.verified) +
           ",\"garbage\":" + std::to_string(st.garbage) + ",\"workers\":" + std::to_string(st.mark_workers) +
           ",\"fell_back\":" + (st.fell_back ? "true" : "false") + "}";
  }
  std::int64_t elapsed = now_ns() - t0;
  done = true;
  for (auto& t : ts) t.join();
  out += "],\"mutator_ops\":" + std::to_string(ops.load()) + ",\"elapsed_ns\":" + std::to_string(elapsed) +
         ",\"depth\":" + std::to_string(depth) + "}";
  std::puts(out.c_str());
  return 0;
}
