// gc/verifier.cc -- the refcount verification: stock CPython's cycle
// detection, restricted to a candidate set.
//
// find_garbage(C), world stopped (phase 4):
//   1. refs[i] = refcount(c_i) for every collectable candidate; a candidate
//      that is not collectable is EXCLUDED (treated as referenced from
//      outside: never garbage, its references never subtracted);
//   2. for every collectable candidate c and every reference c -> d with
//      d in C and collectable: refs[d] -= 1;
//   3. every candidate with refs > 0 or EXCLUDED is alive, and so is every
//      candidate it reaches through references (propagation);
//   4. the rest is garbage.
// Invariant after 2: refs[i] >= 0, and refs[i] counts exactly the references
// to c_i from outside C (stacks, globals, objects outside C).  A negative
// value means the embedder's refcount missed a reference: that is reported
// and the object kept alive, never freed.
//
// Soundness for any C (design.md §2): a live object x in C is reachable from
// some reference from outside C, to x or to a candidate that reaches x;
// step 2 never subtracts that reference, so that candidate has refs > 0 and
// step 3 reaches x.
//
// find_garbage(C, with_dependents), world stopped, after the above (phase
// 4): the garbage's dependents, what only the garbage G holds (see
// verifier.h), counted from the references the trial deletion's traces saw
// leave the counted members, less those of the members found alive.
//
// find_resurrected(G), world stopped, after finalizers ran (phase 6): the
// same over the garbage set G, with each refcount less the one reference
// the collector holds.
//
// guess_garbage(C), world running (phase 3b): the same trial deletion over
// all of C with racy refcounts and concurrent traces -- the candidate
// filter.  What it calls garbage is only a guess, verified with the world
// stopped.  Its errors either way are harmless:
//   * a live object guessed garbage is kept by that verification;
//   * a garbage object guessed alive survives this collection.  Only
//     garbage made while the filter runs can be: an object that was already
//     unreachable when the filter began has a refcount and references no
//     mutator can change, and no live object references it, so the racy
//     run computes for it exactly what a stopped one would.
//
// Batches: both run over a subset of C -- a batch of whole connected
// components (gc/component_batching.h) -- so that each pause is bounded by
// the batch, not by |C|.  That is sound by the same lemma; a cycle the racy
// union-find split across two batches survives this collection.
//
// The trial deletion (steps 1-3, trial_deletion() below) lives in this
// file, not in one of its own: it is only the mechanism of the three
// verifications here -- find_garbage, find_resurrected and guess_garbage --
// and nothing else calls it.
//
// Concurrency: refs[], alive[] and opaque[] are atomics updated by TBB
// tasks of the calling arena; local_, extra_ and taken_ are written only by
// the calling thread between parallel steps (map()'s own parallel loops
// write distinct elements); shaded_ is set by the driver
// between pauses; everything else is read-only while they run.
#include "gc/verifier.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

#include "gc/mutants.h"
#include "gc/visitor.h"
#include "tricolor/embedder.h"
#include "tricolor/heap.h"

namespace tricolor {

namespace {

constexpr std::int64_t kExcluded = INT64_MIN;

// What trial_deletion() tells of the references that leave the counted
// members: sink() is called once per chunk of work, on its worker, and
// returns the callable that takes each such reference.
struct NoOutside {
  auto sink() const {
    return [](void*) {};
  }
};

}  // namespace

// The trial deletion's arrays, one element per member.  A Verifier keeps
// one and grows it in prepare(), world running, so that a pause does not
// take the page faults of fresh memory.
struct Deletion {
  std::unique_ptr<std::atomic<std::int64_t>[]> refs;
  std::unique_ptr<std::atomic<std::uint8_t>[]> alive;
  std::unique_ptr<std::atomic<std::uint8_t>[]> opaque;  // trace() returned false
  std::size_t capacity = 0;
  void reserve(std::size_t n) {
    if (n <= capacity) return;
    // std::atomic value-initialises: every page is touched here.
    refs.reset(new std::atomic<std::int64_t>[n]);
    alive.reset(new std::atomic<std::uint8_t>[n]);
    opaque.reset(new std::atomic<std::uint8_t>[n]);
    capacity = n;
  }
};

namespace {

// Trial deletion over `objects`, the core of both verifications and of the
// candidate filter (`concurrent`: the world runs, so traces are concurrent
// and the result is a guess): refs[k] = base(objects[k]) (kExcluded leaves k out: never
// garbage, its references never subtracted); every reference from a
// counted member to a member j subtracts one from refs[j]; then every k
// with refs != 0 is alive, and so is every member it reaches.
// `member(obj)` is the member index of obj, or npos.
// `outside.sink()(child)` is called for every reference from a counted
// member to an object that is no member or an excluded one (world stopped
// only: the references whose counts find_garbage's dependents start from).
template <class Base, class Member, class Outside = NoOutside>
void trial_deletion(Deletion& d, Embedder& e, std::span<void* const> objects, Base base, Member member,
                    bool concurrent = false, Outside&& outside = Outside{}) {
  std::size_t n = objects.size();
  d.reserve(n);
  auto& refs = d.refs;
  auto& alive = d.alive;
  using Range = tbb::blocked_range<std::size_t>;
  tbb::parallel_for(Range(0, n, 1024), [&](const Range& r) {
    for (std::size_t k = r.begin(); k != r.end(); k++) {
      refs[k].store(base(objects[k]), std::memory_order_relaxed);
      alive[k].store(0, std::memory_order_relaxed);
      d.opaque[k].store(0, std::memory_order_relaxed);
    }
  });
  tbb::parallel_for(Range(0, n, 256), [&](const Range& r) {
    auto out = outside.sink();
    for (std::size_t k = r.begin(); k != r.end(); k++) {
      if (refs[k].load(std::memory_order_relaxed) == kExcluded) continue;
      bool traced = trace(e, objects[k], concurrent, [&](void* child) {
        std::size_t j = member(child);
        if (j == CandidateSet::npos) {
          out(child);
          return;
        }
        // An excluded member stays excluded: base() set it before this
        // loop began, and nothing else stores kExcluded.
        if (refs[j].load(std::memory_order_relaxed) == kExcluded) {
          out(child);
        } else {
          refs[j].fetch_sub(1, std::memory_order_relaxed);
        }
      });
      if (!traced) d.opaque[k].store(1, std::memory_order_relaxed);
    }
  });
  std::vector<std::size_t> seeds;
  for (std::size_t k = 0; k < n; k++) {
    if (refs[k].load(std::memory_order_relaxed) != 0) {
      alive[k].store(1, std::memory_order_relaxed);
      seeds.push_back(k);
    }
  }
  // Propagate; an excluded member is a seed, so it is never pushed again,
  // and it is not traced: its references were never subtracted, so what it
  // references is a seed already (and the embedder may not be able to
  // trace it: CPython's untracked objects include freed ones).
  tbb::parallel_for(Range(0, seeds.size(), 256), [&](const Range& r) {
    std::vector<std::size_t> stack(seeds.begin() + r.begin(), seeds.begin() + r.end());
    while (!stack.empty()) {
      std::size_t i = stack.back();
      stack.pop_back();
      if (refs[i].load(std::memory_order_relaxed) == kExcluded) continue;
      trace(e, objects[i], concurrent, [&](void* child) {
        std::size_t j = member(child);
        if (j != CandidateSet::npos && alive[j].exchange(1, std::memory_order_relaxed) == 0) {
          stack.push_back(j);
        }
      });
    }
  });
}

}  // namespace

Verifier::Verifier(Embedder& e, const CandidateSet& cands, const CandidateSet* domain,
                   const Heap* heap)
    : embedder_(e), cands_(cands), domain_(domain), heap_(heap),
      local_(cands.size(), kNoMember), scratch_(std::make_unique<Deletion>()) {}

Verifier::~Verifier() = default;

void Verifier::prepare(std::span<const std::size_t> members, std::size_t room) {
  room = std::max(room, members.size());
  scratch_->reserve(room);
  if (objects_.capacity() < room) {
    objects_.resize(room);  // touched now, not in the pause
    objects_.clear();
  }
  next_garbage_ = std::vector<void*>(room);
  next_garbage_.clear();
  map(members);
  prepared_ = members;
}

// local_ and objects_ for the batch `members` (local_ cleared of the batch
// it mapped before).  In parallel: a large batch's mapping is two writes
// per member, millions of them for a dying structure -- done by prepare()
// with the world running, not in the pause.
void Verifier::map(std::span<const std::size_t> members) {
  using Range = tbb::blocked_range<std::size_t>;
  tbb::parallel_for(Range(0, mapped_.size(), 4096), [&](const Range& r) {
    for (std::size_t k = r.begin(); k != r.end(); k++) local_[mapped_[k]] = kNoMember;
  });
  mapped_.assign(members.begin(), members.end());
  objects_.resize(members.size());
  tbb::parallel_for(Range(0, members.size(), 4096), [&](const Range& r) {
    for (std::size_t k = r.begin(); k != r.end(); k++) {
      local_[members[k]] = static_cast<std::uint32_t>(k);
      objects_[k] = cands_.object(members[k]);
    }
  });
}

inline std::size_t Verifier::member_of(const void* obj) const {
  std::size_t j = cands_.index_of(obj);
  if (j != CandidateSet::npos) return local_[j] == kNoMember ? CandidateSet::npos : local_[j];
  if (extra_.empty()) return CandidateSet::npos;
  auto it = extra_.find(obj);
  return it == extra_.end() ? CandidateSet::npos : it->second;
}

VerifyResult Verifier::find_garbage(std::span<const std::size_t> members,
                                    std::span<void* const> expand_from, bool with_dependents) {
  std::size_t m = members.size();
  std::vector<void*>& objects = objects_;
  if (members.data() != prepared_.data() || members.size() != prepared_.size()) {
    map(members);  // not prepared (or prepared for another batch)
  }
  prepared_ = {};
  objects.resize(m);  // the mapping's, less what an earlier call expanded
  // Close the batch over what its opaque members reference (exact traces,
  // world stopped): objects of the domain that are neither candidates nor
  // taken by an earlier batch.
  if (domain_ != nullptr && !expand_from.empty()) {
    std::vector<void*> stack;
    for (void* o : expand_from) {
      if ((heap_ == nullptr || heap_->is_object(o)) && embedder_.collectable(o)) stack.push_back(o);
    }
    while (!stack.empty()) {
      void* o = stack.back();
      stack.pop_back();
      trace(embedder_, o, /*concurrent=*/false, [&](void* child) {
        if (member_of(child) != CandidateSet::npos || cands_.index_of(child) != CandidateSet::npos ||
            domain_->index_of(child) == CandidateSet::npos ||
            (heap_ != nullptr && !heap_->is_object(child)) || !embedder_.collectable(child) ||
            !taken_.insert(child).second) {
          return;
        }
        extra_.emplace(child, objects.size());
        objects.push_back(child);
        stack.push_back(child);
      });
    }
  }
  // The dependents' first step rides on the trial deletion's traces: each
  // worker counts the references from members to the heap's objects that
  // are no (counted) member.
  const bool count = with_dependents && heap_ != nullptr;
  // Counted per chunk, with the last object cached (the members' type,
  // say, is referenced by every one of them), into the worker's map.
  struct Outside {
    tbb::enumerable_thread_specific<Counts> counts;
    const Heap* heap;
    bool on;
    auto sink() {
      struct Sink {
        Counts* m;
        const Heap* heap;
        void* last = nullptr;
        std::intptr_t pending = 0;
        void operator()(void* child) {
          if (m == nullptr || child == nullptr) return;
          if (child == last) {
            pending++;
          } else if (heap->is_object(child)) {
            if (pending) (*m)[last] += pending;
            last = child;
            pending = 1;
          }
        }
        ~Sink() {
          if (m != nullptr && pending) (*m)[last] += pending;
        }
      };
      return Sink{on ? &counts.local() : nullptr, heap};
    }
  };
  Outside outside{{}, heap_, count};
  Deletion& d = *scratch_;
  trial_deletion(
      d, embedder_, objects,
      [&](void* obj) {
        if (heap_ != nullptr && !heap_->is_object(obj)) return kExcluded;  // freed since the scan
        if (shaded_ != nullptr && !shaded_->empty() && shaded_->contains(obj)) return kExcluded;
        return embedder_.collectable(obj) ? embedder_.refcount(obj) : kExcluded;
      },
      [&](const void* obj) { return member_of(obj); }, /*concurrent=*/false, outside);
  VerifyResult out;
  out.garbage = std::move(next_garbage_);
  out.garbage.clear();
  out.expanded = objects.size() - m;
  const bool trust_marks = TC_MUTANT(VerifyTrustsMarks);  // unmarked = garbage
  auto garbage = [&](std::size_t k) {
    std::int64_t v = d.refs[k].load(std::memory_order_relaxed);
    return (trust_marks && v != kExcluded) || !d.alive[k].load(std::memory_order_relaxed);
  };
  for (std::size_t k = 0; k < objects.size(); k++) {
    std::int64_t v = d.refs[k].load(std::memory_order_relaxed);
    if (v == kExcluded) {
      out.excluded++;
    } else if (v < 0) {
      embedder_.refcount_error(objects[k], -v);
    }
    if (garbage(k)) out.garbage.push_back(objects[k]);
  }
  if (count) {
    Counts seen;
    for (Counts& c : outside.counts) {
      if (seen.empty()) {
        seen.swap(c);
      } else {
        for (auto [obj, n] : c) seen[obj] += n;
      }
    }
    out.dependents = dependents(objects, d, garbage, std::move(seen));
  }
  // local_ keeps the batch's mapping (mapped_) until the next map(): the
  // next batch's prepare() clears it with the world running.
  extra_.clear();
  return out;
}

// The garbage's dependents (see find_garbage in verifier.h), from `seen`:
// the references from every counted member to each object that is no
// counted member.  World stopped, inside find_garbage (local_ and extra_
// still map the batch).
//
// Every object the garbage references is counted, candidates included: a
// candidate the verification kept alive may be held only by a marked
// object that only the garbage holds, and a candidate of another batch
// only by this garbage.  (Skipping candidates -- tried, to save pause time
// -- let the fork's reproducer fail again.)
//
// 1. Take back the references of the members found alive (retraced: in a
//    filtered batch they are few), so that `seen` counts the garbage's
//    alone; a counted member's count is refcount - refs (what the trial
//    deletion subtracted) less what alive members hold of it.
// 2. An object whose every reference is counted is a dependent; its own
//    references are counted in turn, to a fixpoint.  Cycles among the
//    dependents are not followed (they float to the next collection).
// No counted member is a dependent in step 2's first round: one the
// verification kept alive has refs > 0 or is referenced by an alive
// member.
template <class Garbage>
std::vector<void*> Verifier::dependents(std::span<void* const> objects, const Deletion& d,
                                        Garbage garbage, Counts seen) {
  auto counted = [&](std::size_t k) { return d.refs[k].load(std::memory_order_relaxed) != kExcluded; };
  std::unordered_map<std::size_t, std::intptr_t> from_alive;  // counted member -> references from alive ones
  for (std::size_t k = 0; k < objects.size(); k++) {
    if (!counted(k) || garbage(k)) continue;
    trace(embedder_, objects[k], /*concurrent=*/false, [&](void* child) {
      std::size_t j = member_of(child);
      if (j != CandidateSet::npos && counted(j)) {
        from_alive[j]++;
      } else if (child != nullptr && heap_->is_object(child)) {
        seen[child]--;
      }
    });
  }
  std::unordered_set<const void*> found;
  auto dead = [&](const void* obj) {
    std::size_t j = member_of(obj);
    return (j != CandidateSet::npos && counted(j) && garbage(j)) || found.contains(obj);
  };
  std::vector<void*> out, stack;
  auto judge = [&](void* obj, std::intptr_t& n) {
    if (n <= 0 || n != embedder_.refcount(obj)) return;
    if (!embedder_.collectable(obj)) {
      n = -1;  // never in: not the collector's
      return;
    }
    found.insert(obj);
    out.push_back(obj);
    stack.push_back(obj);
  };
  for (auto& [obj, n] : seen) judge(obj, n);
  while (!stack.empty()) {
    void* o = stack.back();
    stack.pop_back();
    trace(embedder_, o, /*concurrent=*/false, [&](void* child) {
      // Only the heap's objects: a child may be anything the embedder
      // references (static objects, another allocator's).
      if (child == nullptr || dead(child)) return;
      auto it = seen.find(child);
      if (it == seen.end()) {
        std::size_t j = member_of(child);
        std::intptr_t garbage_refs = 0;
        if (j != CandidateSet::npos && counted(j)) {
          garbage_refs = embedder_.refcount(child) - d.refs[j].load(std::memory_order_relaxed) - from_alive[j];
        } else if (!heap_->is_object(child)) {
          return;
        }
        it = seen.emplace(child, garbage_refs).first;
      }
      if (it->second < 0) return;
      ++it->second;
      judge(child, it->second);
    });
  }
  return out;
}

std::vector<bool> Verifier::find_resurrected(std::span<void* const> garbage) {
  map({});  // local_ must map this garbage alone
  std::size_t n = garbage.size();
  for (std::size_t k = 0; k < n; k++) {
    std::size_t j = cands_.index_of(garbage[k]);
    if (j != CandidateSet::npos) local_[j] = static_cast<std::uint32_t>(k);
    else extra_.emplace(garbage[k], k);
  }
  Deletion& d = *scratch_;
  trial_deletion(
      d, embedder_, garbage,
      [&](void* obj) { return embedder_.refcount(obj) - 1; },  // less our hold
      [&](const void* obj) { return member_of(obj); });
  std::vector<bool> out(n);
  for (std::size_t k = 0; k < n; k++) out[k] = d.alive[k].load(std::memory_order_relaxed) != 0;
  for (void* g : garbage) {
    std::size_t j = cands_.index_of(g);
    if (j != CandidateSet::npos) local_[j] = kNoMember;
  }
  extra_.clear();
  return out;
}

std::vector<void*> guess_garbage(Embedder& e, const CandidateSet& cands, std::vector<void*>* opaque) {
  std::span<void* const> objects = cands.objects();
  Deletion d;
  trial_deletion(
      d, e, objects,
      [&](void* obj) { return e.collectable(obj) ? e.refcount(obj) : kExcluded; },
      [&](const void* obj) { return cands.index_of(obj); }, /*concurrent=*/true);
  std::vector<void*> out;
  for (std::size_t k = 0; k < objects.size(); k++) {
    bool o = d.opaque[k].load(std::memory_order_relaxed) != 0;
    if (o && opaque) opaque->push_back(objects[k]);
    if (!d.alive[k].load(std::memory_order_relaxed) || o || TC_MUTANT(VerifyTrustsMarks)) {
      out.push_back(objects[k]);
    }
  }
  return out;
}

VerifyResult find_garbage(Embedder& e, const CandidateSet& cands) {
  return Verifier(e, cands).find_garbage(cands.indices());
}

}  // namespace tricolor
