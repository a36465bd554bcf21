// gc/verifier.h -- internal: the refcount verification, stock CPython's
// cycle detection restricted to a candidate set (phases 3b, 4 and 6 of
// gc/phase_driver.h).
//
//   guess_garbage()      phase 3b, world running: the candidate filter;
//   Verifier::prepare()  phase 4, world running, before each batch's pause;
//   Verifier::find_garbage()
//                        phase 4, world stopped, once per batch;
//   Verifier::find_resurrected()
//                        phase 6, world stopped, over a batch's garbage.
//
// Call order: CandidateSet::build*() (world running or stopped), optionally
// guess_garbage() and build_from_list() over its result (world running),
// then find_garbage() with the world stopped, then find_resurrected() with
// the world stopped again.  The algorithm, why it is sound for any
// candidate subset, and the concurrency rule of each field: verifier.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "gc/candidate_set.h"

namespace tricolor {

class Embedder;
class Heap;
struct Deletion;  // the trial deletion's arrays (verifier.cc)

/// Result of a verification.
struct VerifyResult {
  std::vector<void*> garbage;  ///< candidates with no outside reference
  std::size_t excluded = 0;    ///< candidates the embedder called not collectable
  std::size_t expanded = 0;    ///< objects added to the batch behind opaque members
  std::vector<void*> dependents;  ///< with_dependents: what only the garbage holds
};

/// The verification over a subset of a candidate set.  The scratch arrays
/// are sized once per candidate set and reused across batches.
class Verifier {
 public:
  /// `domain` (may be null) is the candidate set before filtering: what
  /// a batch may be closed over (see find_garbage's expand_from).
  ///
  /// `heap` (may be null) is asked, in the pause, whether each member is
  /// still an object: the candidate set is a snapshot from the concurrent
  /// phases, and a candidate freed since may hold anything by now.  A
  /// member that is not is left out (EXCLUDED, never traced).
  Verifier(Embedder& embedder, const CandidateSet& cands, const CandidateSet* domain = nullptr,
           const Heap* heap = nullptr);
  ~Verifier();

  /// World running, before the pause of the batch `members` (room: how
  /// many objects the batch may grow to, with what its opaque members
  /// reach): sizes and touches the scratch arrays and the result's vector,
  /// so that the pause takes no page faults for them (about 10 ms per
  /// million members on this project's machine), and maps the batch's
  /// members to their places, so that the pause does not (two writes per
  /// member).  Optional: find_garbage() does what was not prepared.  The
  /// next find_garbage() must be given the same span, unchanged.
  void prepare(std::span<const std::size_t> members, std::size_t room);
  /// World running, after the last batch's pause: clears the last batch's
  /// mapping, which find_resurrected() would otherwise clear in its pause.
  void unmap() { map({}); }

  /// Runs stock CPython's cycle detection restricted to the candidates
  /// `members` (indices into the candidate set), with the world stopped:
  /// gc_refs = refcount - references from other members; anything with
  /// gc_refs > 0 (or not collectable) is alive with every member it
  /// reaches; the rest is garbage.  Parallel over the calling TBB arena.
  /// Sound for any subset: a reference from outside it is never subtracted
  /// (design.md, the lemma).
  ///
  /// Opaque members -- objects the concurrent passes could not trace, so
  /// whose references neither marking nor the filter saw -- are given in
  /// `expand_from`: the batch is first closed over everything they reach
  /// (exact traces, world stopped) inside the domain, skipping candidates
  /// (they belong to their own batch) and objects an earlier batch took.
  /// Without that, a garbage cycle through an opaque object would look
  /// referenced from outside every batch it was split across.
  ///
  /// `with_dependents` (needs a heap) also returns the garbage's
  /// dependents: the objects outside the garbage held only by it, directly
  /// or through one another -- those its clearing will free by reference
  /// counting (the fixpoint: an object is a dependent when its references
  /// all come from the garbage or from dependents already found).  Chiefly
  /// floating garbage: black objects (born during the collection) hanging
  /// off white garbage.  The embedder must treat them as garbage of this
  /// collection, or weak references among them would get callbacks CPython
  /// never runs (they die with their referents, papers/design.md §7.5).
  /// Sound: the union is closed under referrers, and the garbage is
  /// unreachable.  Cycles among them are not followed (they float to the
  /// next collection).  Their first step is counted on the trial
  /// deletion's own traces, so the garbage is not traced twice.
  VerifyResult find_garbage(std::span<const std::size_t> members,
                            std::span<void* const> expand_from = {}, bool with_dependents = false);

  /// With the world stopped after finalization: which of `garbage` (each
  /// held once by the collector, see Embedder::hold) is reachable from
  /// outside the garbage -- resurrected by a finalizer, or reached from
  /// something that was.  One flag per object, true = resurrected.
  std::vector<bool> find_resurrected(std::span<void* const> garbage);

  /// Objects that find_garbage() must treat as not collectable (alive, with
  /// what they reach): those Collector::shade() was told about.  May be
  /// null; must outlive the calls.
  void set_shaded(const std::unordered_set<const void*>* shaded) { shaded_ = shaded; }

 private:
  using Counts = std::unordered_map<void*, std::intptr_t>;
  std::size_t member_of(const void* obj) const;  // member index, or npos
  void map(std::span<const std::size_t> members);  // local_ and objects_ for a batch
  template <class Garbage>
  std::vector<void*> dependents(std::span<void* const> objects, const Deletion& d, Garbage garbage,
                                Counts seen);
  Embedder& embedder_;
  const CandidateSet& cands_;
  const CandidateSet* domain_;
  const Heap* heap_;
  // candidate index -> member index, or kNoMember (32 bits: half the cache
  // misses of the pause's hottest lookup)
  static constexpr std::uint32_t kNoMember = ~std::uint32_t{0};
  std::vector<std::uint32_t> local_;
  std::vector<std::size_t> mapped_;  // the candidates local_ maps (the last map())
  std::span<const std::size_t> prepared_;  // the batch prepare() mapped, until find_garbage()
  std::unordered_map<const void*, std::size_t> extra_;  // non-candidate member -> index
  const std::unordered_set<const void*>* shaded_ = nullptr;
  std::unordered_set<const void*> taken_;  // added by expansion in any batch so far
  std::unique_ptr<Deletion> scratch_;       // the trial deletion's arrays, reused
  std::vector<void*> objects_;              // a batch's members, reused
  std::vector<void*> next_garbage_;         // the next result's garbage, touched by prepare()
};

/// The candidate filter, world running: the verification's trial deletion
/// over every candidate, with Embedder::refcount() and trace(concurrent=
/// true) read while mutators run.  Returns the candidates it takes for
/// garbage -- a guess for the STW verification to check, never trusted.
/// Garbage that was unreachable before the call is always in it.
/// Opaque candidates (concurrent trace returned false) are always in the
/// guess, and also appended to *opaque if given.
std::vector<void*> guess_garbage(Embedder& embedder, const CandidateSet& cands,
                                 std::vector<void*>* opaque = nullptr);

/// find_garbage over every candidate (one batch).
VerifyResult find_garbage(Embedder& embedder, const CandidateSet& cands);

}  // namespace tricolor
