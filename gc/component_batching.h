// gc/component_batching.h -- internal: splits the candidate set into
// batches of whole connected components, one short verify pause each
// (the end of phase 3b of gc/phase_driver.h; design.md §4.2).
//
// Why: the verification (gc/verifier.h) is sound for any subset of the
// heap -- the lemma -- so it can run over C in pieces, and each pause is
// bounded by its batch, not by |C|.  A piece must hold whole garbage
// cycles, or a cycle split across two pieces looks referenced from outside
// in both and survives.
//
// How: world running, a concurrent, lock-free union-find over
// Embedder::trace(concurrent=true); whole components are packed, in order
// of their smallest index, into batches of at most `batch` objects (a
// bigger component gets a batch of its own).  The components may be wrong
// -- which only leaves a garbage cycle split across batches for the next
// collection, never frees a live object.
//
// Invariant: parent[] only ever points to a smaller index, so a root is the
// smallest index of its component and links never cycle.
//
// Concurrency: the union-find's parent[] (and the opaque flags) are
// atomics updated by TBB tasks of the calling arena; the candidate set is
// read-only while they run.
#pragma once

#include <cstddef>
#include <vector>

#include "gc/candidate_set.h"

namespace tricolor {

class Embedder;

/// Splits the candidates into batches of whole connected components (by
/// concurrent traces; a racy union-find), at most `batch` objects each
/// unless one component is larger.  batch == 0: one batch with every
/// candidate.  Candidates whose concurrent trace returned false are
/// appended to *opaque (if given): their edges are unknown, so a batch
/// holding one is closed over them in the pause (Verifier::find_garbage's
/// expand_from).
std::vector<std::vector<std::size_t>> batch_by_component(Embedder& embedder, const CandidateSet& cands,
                                                         std::size_t batch,
                                                         std::vector<void*>* opaque = nullptr);

}  // namespace tricolor
