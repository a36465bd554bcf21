// Tests of tricolor/heap.h: the collector over a Heap that is not a Space.
//
// Strategy: a runtime with an allocator of its own -- what the CPython
// binding is -- implements Heap over its own memory with the C bitmap layout
// of tricolor/bitmap.h.  Here that is one aligned buffer with a bump
// allocator of two-slot nodes, a plain embedder with atomic refcounts and
// global roots, and the core's World.  Both modes must free exactly the
// garbage cycles, and the concurrent mode must mark exactly the rooted
// nodes, black-allocate, and leave the marks clear afterwards.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "tricolor/bitmap.h"
#include "tricolor/collector.h"
#include "tricolor/embedder.h"
#include "tricolor/heap.h"
#include "tricolor/stop_the_world.h"

namespace {

struct alignas(TC_GRANULE) Node {
  std::atomic<std::intptr_t> rc{1};
  Node* slot[2] = {nullptr, nullptr};
  bool opaque = false;  // concurrent traces cannot read it (a type off the allowlist)
};
static_assert(sizeof(Node) % TC_GRANULE == 0);

// One range of kBytes; nodes are never reused, a freed node only loses its
// starts bit.
class BufferHeap final : public tricolor::Heap {
 public:
  static constexpr std::size_t kBytes = std::size_t{1} << 20;
  BufferHeap()
      : mem_(static_cast<char*>(std::aligned_alloc(TC_WORD_SPAN, kBytes))),
        starts_bits_(kBytes / TC_WORD_SPAN), marks_bits_(kBytes / TC_WORD_SPAN) {
    starts_ = {reinterpret_cast<uintptr_t>(mem_), starts_bits_.size(), starts_bits_.data()};
    marks_ = {reinterpret_cast<uintptr_t>(mem_), marks_bits_.size(), marks_bits_.data()};
  }
  ~BufferHeap() override { std::free(mem_); }

  Node* allocate() {
    std::size_t at = next_.fetch_add(sizeof(Node));
    if (at + sizeof(Node) > kBytes) return nullptr;
    Node* n = new (mem_ + at) Node;
    tc_bitmap_set(&starts_, n, __ATOMIC_RELEASE);
    if (black_.load(std::memory_order_acquire)) tc_bitmap_set(&marks_, n, __ATOMIC_RELAXED);
    return n;
  }
  void free(Node* n) {
    tc_bitmap_clear(&starts_, n, __ATOMIC_RELEASE);
    n->~Node();
  }
  bool is_marked(const Node* n) const { return tc_bitmap_test(&marks_, n); }

  std::size_t arena_count() const override { return 1; }
  tricolor::ArenaBitmaps arena_bitmaps(std::size_t) const override { return {starts_, marks_}; }
  bool is_object(const void* p) const override {
    return reinterpret_cast<uintptr_t>(p) % TC_GRANULE == 0 && tc_bitmap_covers(&starts_, p) &&
           tc_bitmap_test(&starts_, p);
  }
  bool try_mark(const void* obj) override {
    return tc_bitmap_covers(&marks_, obj) && tc_bitmap_set(&marks_, obj, __ATOMIC_RELAXED);
  }
  void set_black_allocation(bool on) override { black_.store(on, std::memory_order_seq_cst); }
  void clear_marks() override {
    for (auto& w : marks_bits_) __atomic_store_n(&w, 0, __ATOMIC_RELAXED);
  }

 private:
  char* mem_;
  std::vector<std::uint64_t> starts_bits_, marks_bits_;
  tc_bitmap starts_{}, marks_{};
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> black_{false};
};

class NodeRuntime final : public tricolor::Embedder {
 public:
  explicit NodeRuntime(BufferHeap& heap) : heap_(heap) {}

  void decref(Node* n) {
    if (n == nullptr || n->rc.fetch_sub(1) != 1) return;
    Node* a = n->slot[0];
    Node* b = n->slot[1];
    heap_.free(n);
    freed++;
    decref(a);
    decref(b);
  }
  void link(Node* from, int s, Node* to) {
    to->rc.fetch_add(1);
    Node* old = from->slot[s];
    from->slot[s] = to;
    decref(old);
  }

  bool trace(void* obj, tricolor::Visitor& v, bool concurrent) override {
    Node* n = static_cast<Node*>(obj);
    if (concurrent && n->opaque) return false;
    for (Node* c : n->slot) v.visit(c);
    return true;
  }
  std::intptr_t refcount(void* obj) override { return static_cast<Node*>(obj)->rc.load(); }
  void for_each_global_root(tricolor::Visitor& v) override {
    for (Node* r : roots) v.visit(r);
  }
  void hold(void* obj) override { static_cast<Node*>(obj)->rc.fetch_add(1); }
  void release(void* obj) override { decref(static_cast<Node*>(obj)); }
  void clear(std::span<void* const> garbage) override {
    for (void* g : garbage) {
      Node* n = static_cast<Node*>(g);
      for (Node*& s : n->slot) decref(std::exchange(s, nullptr));
    }
  }

  std::vector<Node*> roots;  // each holds one reference
  std::size_t freed = 0;

 private:
  BufferHeap& heap_;
};

class CustomHeap : public ::testing::TestWithParam<tricolor::Mode> {};

TEST_P(CustomHeap, CollectorFreesExactlyTheGarbageCycles) {
  BufferHeap heap;
  NodeRuntime rt(heap);
  tricolor::World world;
  tricolor::CollectorConfig cfg;
  cfg.background = false;
  cfg.min_trigger_bytes = std::size_t{1} << 40;
  cfg.mark_workers = 2;
  tricolor::Collector collector(heap, rt, &world, cfg);
  // 20 rooted chains of 10 nodes.
  for (int r = 0; r < 20; r++) {
    Node* head = heap.allocate();
    rt.roots.push_back(head);
    Node* cur = head;
    for (int i = 0; i < 9; i++) {
      Node* next = heap.allocate();
      rt.link(cur, 0, next);
      rt.decref(next);
      cur = next;
    }
  }
  // 30 garbage cycles of 1-3 nodes, one hanging off a rooted node too.
  std::size_t cyclic = 0;
  for (int c = 0; c < 30; c++) {
    std::vector<Node*> ring;
    for (int i = 0; i <= c % 3; i++) ring.push_back(heap.allocate());
    for (std::size_t i = 0; i < ring.size(); i++) rt.link(ring[i], 1, ring[(i + 1) % ring.size()]);
    if (c == 0) rt.link(rt.roots[0], 1, ring[0]);  // this one stays reachable
    else cyclic += ring.size();
    for (Node* n : ring) rt.decref(n);
  }
  ASSERT_EQ(rt.freed, 0u);
  auto st = collector.collect(GetParam());
  EXPECT_EQ(st.garbage, cyclic);
  EXPECT_EQ(rt.freed, cyclic);
  if (GetParam() == tricolor::Mode::kConcurrent) {
    EXPECT_EQ(st.marked, 200u + 1u);  // the chains and the rooted one-node ring
    EXPECT_EQ(st.candidates, cyclic);
  }
  for (Node* r : rt.roots) EXPECT_FALSE(heap.is_marked(r)) << "marks are cleared after a cycle";
  // Unroot everything: the rooted ring is the only cycle left.
  std::vector<Node*> roots = std::move(rt.roots);
  rt.roots.clear();
  for (Node* r : roots) rt.decref(r);
  EXPECT_EQ(rt.freed, cyclic + 200u);
  st = collector.collect(GetParam());
  EXPECT_EQ(st.garbage, 1u);
  EXPECT_EQ(rt.freed, cyclic + 201u);
}

// Nodes a concurrent trace cannot read (CPython: types off the allowlist)
// hide their edges from marking, from the candidate filter and from the
// batching.  Garbage cycles through them -- opaque-normal, opaque-opaque,
// and long mixed rings split over many small batches -- must still be
// freed, and what a rooted opaque node holds must not be.
TEST(OpaqueObjects, CyclesThroughOpaqueNodesAreFreed) {
  BufferHeap heap;
  NodeRuntime rt(heap);
  tricolor::World world;
  tricolor::CollectorConfig cfg;
  cfg.background = false;
  cfg.min_trigger_bytes = std::size_t{1} << 40;
  cfg.mark_workers = 2;
  cfg.verify_batch = 2;  // force many batches
  tricolor::Collector collector(heap, rt, &world, cfg);
  // A rooted opaque node holding a chain of 5: the chain is never marked,
  // so it becomes a candidate, and must survive.
  Node* root = heap.allocate();
  root->opaque = true;
  rt.roots.push_back(root);
  Node* cur = root;
  for (int i = 0; i < 5; i++) {
    Node* next = heap.allocate();
    rt.link(cur, 0, next);
    rt.decref(next);
    cur = next;
  }
  // Garbage rings of 2..7 nodes; ring r has its nodes opaque by pattern r.
  std::size_t cyclic = 0;
  for (int r = 0; r < 12; r++) {
    std::vector<Node*> ring;
    for (int i = 0; i < 2 + r % 6; i++) {
      ring.push_back(heap.allocate());
      ring.back()->opaque = ((r >> (i % 3)) & 1) != 0;
    }
    for (std::size_t i = 0; i < ring.size(); i++) rt.link(ring[i], 1, ring[(i + 1) % ring.size()]);
    cyclic += ring.size();
    for (Node* n : ring) rt.decref(n);
  }
  auto st = collector.collect(tricolor::Mode::kConcurrent);
  EXPECT_EQ(st.garbage, cyclic);
  EXPECT_EQ(rt.freed, cyclic);
  EXPECT_GT(st.opaque_candidates, 0u);
  EXPECT_GT(st.candidates, cyclic) << "the chain under the opaque root is a candidate";
  // Nothing live was freed: unrooting frees exactly the 6 rooted nodes.
  rt.roots.clear();
  rt.decref(root);
  EXPECT_EQ(rt.freed, cyclic + 6);
}

TEST(HeapContract, BlackAllocationMarksNewNodes) {
  BufferHeap heap;
  heap.set_black_allocation(true);
  Node* n = heap.allocate();
  EXPECT_TRUE(heap.is_marked(n));
  EXPECT_FALSE(heap.try_mark(n));
  heap.set_black_allocation(false);
  Node* m = heap.allocate();
  EXPECT_FALSE(heap.is_marked(m));
  EXPECT_TRUE(heap.try_mark(m));
  EXPECT_FALSE(heap.is_object(reinterpret_cast<char*>(m) + 8));
  heap.free(m);
  EXPECT_FALSE(heap.is_object(m));
  heap.free(n);
}

INSTANTIATE_TEST_SUITE_P(Modes, CustomHeap,
                         ::testing::Values(tricolor::Mode::kConcurrent, tricolor::Mode::kFullStw),
                         [](const auto& info) {
                           return info.param == tricolor::Mode::kConcurrent ? "Concurrent" : "FullStw";
                         });

}  // namespace
