// gc/phase_driver.cc -- the phase driver: collect() and one method per
// phase.  The phases, their invariants and the concurrency rule of each
// field are at the top of gc/phase_driver.h.
#include "gc/phase_driver.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "gc/component_batching.h"
#include "gc/marker.h"
#include "gc/mutants.h"
#include "gc/visitor.h"
#include "tricolor/heap.h"
#include "tricolor/stop_the_world.h"

namespace tricolor {

CollectionStats Collector::Impl::collect(Mode mode) {
  std::unique_lock lk(collect_mu, std::defer_lock);
  if (world && world->attached()) {
    InactiveScope waiting(*world);  // a caller that waits must not block a stop
    lk.lock();
  } else {
    lk.lock();
  }
  pacer.started();
  Collection c;
  c.st.full_stw = mode == Mode::kFullStw;
  c.work = embedder.caller_runs_alone() ? &pause_arena : &arena;
  c.st.mark_workers = c.work->max_concurrency();
  {
    std::lock_guard g(listeners_mu);
    for (EventListener* l : listeners) l->on_collection_start(c.st.full_stw);
  }
  if (!c.st.full_stw) {
    root_scan(c);
    concurrent_mark(c);
    candidate_scan(c);
    if (!c.st.fell_back) candidate_filter(c);
    c.st.full_stw = c.st.fell_back;
  }
  verify(c);
  // 5.-7. Finalize, check for resurrection (per batch), clear, release.
  for (const auto& g : c.garbage) {
    bool may_resurrect = finalize(c, g);
    std::vector<bool> resurrected(g.size(), false);
    if (may_resurrect && !TC_MUTANT(NoResurrectionCheck)) resurrected = resurrection_check(c, g);
    clear(c, g, resurrected);
  }
  clear_marks(c);
  pacer.collected(c.st.garbage);
  collections.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard g(listeners_mu);
  for (EventListener* l : listeners) l->on_collection_end(c.st);
  return std::move(c.st);
}

void Collector::Impl::root_scan(Collection& c) {
  phase(c.st, Phase::kRootScan, [&] {
    FnVisitor v([&](void* obj) {
      if (obj) c.roots.push_back(obj);
    });
    embedder.for_each_thread_root(v);
    if (!TC_MUTANT(NoBlackAllocation)) heap.set_black_allocation(true);
    shaded.clear();
    shading.store(true, std::memory_order_seq_cst);
    return c.roots.size();
  });
}

void Collector::Impl::concurrent_mark(Collection& c) {
  CollectionStats& st = c.st;
  phase(st, Phase::kConcurrentMark, [&] {
    FnVisitor v([&](void* obj) {
      if (obj) c.roots.push_back(obj);
    });
    embedder.for_each_global_root(v);
    Marker marker(heap, embedder, config.mark_stack_limit_for_testing);
    bool ok = c.work->execute([&] { return marker.run(std::move(c.roots)); });
    st.marked = marker.marked();
    st.opaque_marked = marker.opaque();
    if (!ok) {
      st.fell_back = true;
      st.fallback_reason = marker.failure();
      std::fprintf(stderr, "tricolor: concurrent marking gave up (%s after %zu objects); "
                   "falling back to a full stop-the-world collection\n",
                   st.fallback_reason, st.marked);
    }
  });
}

void Collector::Impl::candidate_scan(Collection& c) {
  CollectionStats& st = c.st;
  phase(st, Phase::kCandidateScan, [&] {
    if (!st.fell_back) c.work->execute([&] { c.cands.build_from_heap(heap, /*all=*/false); });
    heap.set_black_allocation(false);
  });
  st.candidates = c.cands.size();
  st.objects = c.cands.heap_objects();  // a fallen-back collection counts in verify()
}

void Collector::Impl::candidate_filter(Collection& c) {
  CandidateSet& cands = c.cands;
  std::vector<void*>& opaque = c.opaque;
  phase(c.st, Phase::kCandidateFilter, [&] {
    // Each pass runs over the previous pass's guess only, with fresh
    // refcounts: a live object that a mutator's move made look like
    // garbage once (design.md §4.6) is unlikely to again.  Stop when a
    // pass keeps 7/8 of its input or more (what is left is mostly
    // garbage), or after kFilterPasses.  Opaque candidates always stay:
    // their batch is closed over what they reference, inside `domain`.
    for (int pass = 0; config.filter_candidates && pass < kFilterPasses; pass++) {
      std::size_t before = cands.size();
      std::vector<void*> guessed =
          c.work->execute([&] { return guess_garbage(embedder, cands, &opaque); });
      if (pass == 0) c.domain = cands;
      cands.build_from_list(heap, guessed);
      if (cands.size() * 8 >= before * 7) break;
    }
    c.work->execute([&] { c.batches = batch_by_component(embedder, cands, config.verify_batch, &opaque); });
    std::sort(opaque.begin(), opaque.end());
    opaque.erase(std::unique(opaque.begin(), opaque.end()), opaque.end());
    if (!opaque.empty()) {
      c.opaque_at.assign(cands.size(), 0);
      for (void* o : opaque) {
        if (std::size_t i = cands.index_of(o); i != CandidateSet::npos) c.opaque_at[i] = 1;
      }
    }
  });
}

// 4. Verify, one pause per batch of whole components; full-STW mode builds
// C inside the pause and verifies it in one go.
void Collector::Impl::verify(Collection& c) {
  CollectionStats& st = c.st;
  CandidateSet& cands = c.cands;
  if (st.full_stw) {
    phase(st, Phase::kVerify, [&] {
      pause_arena.execute([&] { cands.build_from_heap(heap, /*all=*/true); });
      c.verifier.emplace(embedder, cands, nullptr, &heap);
      return verify_batch(c, cands.indices(), {});
    });
    st.objects = cands.heap_objects();
  } else {
    c.verifier.emplace(embedder, cands, config.filter_candidates ? &c.domain : &cands, &heap);
    for (const auto& b : c.batches) {
      // World running: what the pause will need, so that it takes no page
      // faults -- the opaque members, and room for what they reach.
      std::vector<void*> expand;
      if (!c.opaque_at.empty()) {
        for (std::size_t i : b) {
          if (c.opaque_at[i]) expand.push_back(c.cands.object(i));
        }
      }
      pause_arena.execute(
          [&] { c.verifier->prepare(b, expand.empty() ? b.size() : b.size() + b.size() / 4 + 1024); });
      phase(st, Phase::kVerify, [&] { return verify_batch(c, b, expand); });
    }
    pause_arena.execute([&] { c.verifier->unmap(); });
  }
  st.shaded = shading.load(std::memory_order_relaxed) ? shaded.size() : 0;
  shading.store(false, std::memory_order_relaxed);
  st.opaque_candidates = c.opaque.size();
  if (st.full_stw) st.candidates = cands.size();
  st.verified = cands.size();
}

// One verify pause's work, world stopped: the batch `members`.  Returns
// the objects the verification judged (members + those added behind
// opaque ones).
std::size_t Collector::Impl::verify_batch(Collection& c, std::span<const std::size_t> members,
                                          std::span<void* const> expand) {
  CollectionStats& st = c.st;
  // World stopped: nobody pushes; take what was shaded since the last
  // pause -- only if this collection turned shading on (a full-STW one
  // does not; the vector then holds an earlier collection's entries).
  if (shading.load(std::memory_order_relaxed)) {
    for (; c.shaded_seen < shaded.size(); c.shaded_seen++) c.shaded_set.insert(shaded[c.shaded_seen]);
    c.verifier->set_shaded(&c.shaded_set);
  }
  // (No dependents in full-STW mode: every live object was a candidate.)
  const bool dependents = !st.full_stw && !TC_MUTANT(NoDependents);
  VerifyResult vr =
      pause_arena.execute([&] { return c.verifier->find_garbage(members, expand, dependents); });
  st.dependent += vr.dependents.size();
  vr.garbage.insert(vr.garbage.end(), vr.dependents.begin(), vr.dependents.end());
  if (!vr.garbage.empty()) embedder.hold_all(vr.garbage);
  st.garbage += vr.garbage.size();
  st.expanded += vr.expanded;
  if (!vr.garbage.empty()) c.garbage.push_back(std::move(vr.garbage));
  return members.size() + vr.expanded;
}

bool Collector::Impl::finalize(Collection& c, const std::vector<void*>& garbage) {
  bool may_resurrect = false;
  phase(c.st, Phase::kFinalize, [&] { may_resurrect = embedder.finalize(garbage); });
  return may_resurrect;
}

std::vector<bool> Collector::Impl::resurrection_check(Collection& c, const std::vector<void*>& garbage) {
  std::vector<bool> resurrected;
  phase(c.st, Phase::kResurrectionCheck, [&] {
    resurrected = pause_arena.execute([&] { return c.verifier->find_resurrected(garbage); });
    return garbage.size();
  });
  return resurrected;
}

void Collector::Impl::clear(Collection& c, const std::vector<void*>& garbage,
                            const std::vector<bool>& resurrected) {
  std::vector<void*> confirmed;
  for (std::size_t k = 0; k < garbage.size(); k++) {
    if (resurrected[k]) c.st.resurrected++;
    else confirmed.push_back(garbage[k]);
  }
  phase(c.st, Phase::kClear, [&] {
    embedder.clear(confirmed);
    for (void* o : garbage) embedder.release(o);
  });
}

void Collector::Impl::clear_marks(Collection& c) {
  phase(c.st, Phase::kClearMarks, [&] { c.work->execute([&] { heap.clear_marks(); }); });
}

}  // namespace tricolor
