// gc/component_batching.cc -- batch_by_component of
// gc/component_batching.h: a concurrent, lock-free union-find over the
// candidates' references, then whole components packed into batches.  The
// header has its phase, its invariant and its concurrency rule.
#include "gc/component_batching.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "gc/visitor.h"
#include "tricolor/embedder.h"

namespace tricolor {

std::vector<std::vector<std::size_t>> batch_by_component(Embedder& e, const CandidateSet& cands,
                                                         std::size_t batch, std::vector<void*>* opaque) {
  std::size_t n = cands.size();
  std::vector<std::vector<std::size_t>> out;
  if (batch == 0 || n <= batch) {
    out.push_back(cands.indices());
    return out;
  }
  // Lock-free union-find: parent[] only ever points to a smaller index, so
  // a root is the smallest index of its component and links never cycle.
  std::unique_ptr<std::atomic<std::size_t>[]> parent(new std::atomic<std::size_t>[n]);
  std::unique_ptr<std::atomic<std::uint8_t>[]> is_opaque(new std::atomic<std::uint8_t>[n]);
  for (std::size_t i = 0; i < n; i++) {
    parent[i].store(i, std::memory_order_relaxed);
    is_opaque[i].store(0, std::memory_order_relaxed);
  }
  auto find = [&](std::size_t x) {
    for (;;) {
      std::size_t p = parent[x].load(std::memory_order_relaxed);
      if (p == x) return x;
      std::size_t gp = parent[p].load(std::memory_order_relaxed);
      if (gp != p) parent[x].compare_exchange_weak(p, gp, std::memory_order_relaxed);  // halve the path
      x = gp;
    }
  };
  auto unite = [&](std::size_t a, std::size_t b) {
    for (;;) {
      a = find(a);
      b = find(b);
      if (a == b) return;
      if (a < b) std::swap(a, b);  // link the larger root under the smaller
      std::size_t expected = a;
      if (parent[a].compare_exchange_strong(expected, b, std::memory_order_relaxed)) return;
    }
  };
  using Range = tbb::blocked_range<std::size_t>;
  tbb::parallel_for(Range(0, n, 256), [&](const Range& r) {
    std::size_t i = 0;  // the candidate being traced
    FnVisitor unite_with_i([&](void* child) {
      std::size_t j = cands.index_of(child);
      if (j != CandidateSet::npos) unite(i, j);
    });
    for (i = r.begin(); i != r.end(); i++) {
      if (!e.trace(cands.object(i), unite_with_i, /*concurrent=*/true)) {
        is_opaque[i].store(1, std::memory_order_relaxed);
      }
    }
  });
  // Opaque candidates share one component: their edges are unknown, so two
  // of them in a cycle must be verified in the same pause.
  std::size_t first_opaque = CandidateSet::npos;
  for (std::size_t i = 0; i < n; i++) {
    if (!is_opaque[i].load(std::memory_order_relaxed)) continue;
    if (opaque) opaque->push_back(cands.object(i));
    if (first_opaque == CandidateSet::npos) first_opaque = i;
    else unite(first_opaque, i);
  }
  // Pack whole components, in order of their smallest index, into batches.
  std::vector<std::size_t> size(n, 0), slot(n, CandidateSet::npos);
  std::vector<std::size_t> root(n);
  for (std::size_t i = 0; i < n; i++) size[root[i] = find(i)]++;
  std::size_t filled = batch;  // forces a new batch first
  for (std::size_t i = 0; i < n; i++) {
    std::size_t r = root[i];
    if (slot[r] == CandidateSet::npos) {
      if (filled + size[r] > batch && filled > 0) {
        out.emplace_back();
        filled = 0;
      }
      slot[r] = out.size() - 1;
      filled += size[r];
    }
    out[slot[r]].push_back(i);
  }
  return out;
}

}  // namespace tricolor
