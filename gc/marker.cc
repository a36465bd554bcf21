// gc/marker.cc -- the parallel concurrent marker.
//
// Marking (phase 2), world running:
//   * every root that is an object of the Heap is marked (mark_if_object) and
//     pushed on a mark stack;
//   * a task pops an object, prefetches its header and queues it behind a
//     few others (a FIFO of kPrefetch), then asks the embedder to trace the
//     one leaving the queue concurrently; each reported child that is an
//     object of the Heap and that try_mark marks first is pushed.  An
//     object the embedder declines to trace (opaque) is marked but its
//     children are not: they stay unmarked unless reached otherwise and
//     become candidates -- pause time, never soundness.
//   * a task whose stack grows past kSplit hands half of it to a new task of
//     the same tbb::task_group, so idle workers steal work; run() returns
//     when the group is empty.
// Invariants: an object is pushed at most once per cycle (the try_mark that
// set its bit pushes it), and every object popped is traced by the task
// that popped it, unless marking fails; marked_ counts the pushes.
// Marking has no write barrier and can miss objects that mutators move
// while it runs; that is allowed, because the verification
// (gc/verifier.cc) is sound for any candidate set.  Objects allocated
// while marking are born marked (black allocation, tricolor/heap.h), so
// the marker never needs to reach them.
//
// Out of memory: if the entries on all stacks would exceed stack_limit, or a
// stack cannot grow (std::bad_alloc), the marker records why, every task
// stops, and run() returns false; the driver falls back to a full
// stop-the-world collection.
//
// Concurrency: the counters are relaxed atomics (statistics, and the limit
// is a soft cap), each task adding its marks once, when it ends; stacked_
// is kept only under a stack limit; failure_ is written once and only read
// after the group finished (the task_group wait is the synchronisation).
#include "gc/marker.h"

#include <oneapi/tbb/task_group.h>

#include <new>

#include "gc/visitor.h"
#include "tricolor/embedder.h"
#include "tricolor/heap.h"

namespace tricolor {

namespace {
constexpr std::size_t kSplit = 512;  // stack size at which a task splits off half
// Objects popped and prefetched ahead of the one traced.  Marking's cost
// is the first touch of each object's header, a cache miss in graph order
// (a third of a collection's CPU time on a 28 k-object CPython heap,
// perf); with the header requested kPrefetch traces before it is read,
// the misses overlap (software prefetching for marking: Cher, Hosking and
// Vijaykumar, ASPLOS 2004; Boehm's GC prefetches on push likewise).
constexpr std::size_t kPrefetch = 8;
}  // namespace

class TaskGroup : public tbb::task_group {};

// A task body owns its stack; TBB calls bodies as const, hence mutable.
struct DrainTask {
  Marker* marker;
  mutable std::vector<void*> stack;
  void operator()() const;
};

void Marker::fail(const char* why) {
  const char* expected = nullptr;
  failure_.compare_exchange_strong(expected, why, std::memory_order_relaxed);
}

bool Marker::run(std::vector<void*> roots) {
  std::vector<void*> stack;
  try {
    stack.reserve(roots.size());
    for (void* r : roots) {
      if (r && heap_.mark_if_object(r)) stack.push_back(r);
    }
  } catch (const std::bad_alloc&) {
    fail("out of memory for the root mark stack");
    return false;
  }
  marked_.fetch_add(stack.size(), std::memory_order_relaxed);
  stacked_.fetch_add(stack.size(), std::memory_order_relaxed);
  TaskGroup group;
  group_ = &group;
  // Split the roots so that every worker starts with some.
  while (stack.size() > kSplit) {
    std::vector<void*> part(stack.end() - kSplit, stack.end());
    stack.resize(stack.size() - kSplit);
    group.run(DrainTask{this, std::move(part)});
  }
  group.run(DrainTask{this, std::move(stack)});
  group.wait();
  group_ = nullptr;
  return failure() == nullptr;
}

void Marker::drain(std::vector<void*> stack) {
  // Counted locally, published once: a locked add per object on counters
  // every worker shares cost more than the counting.  stacked_ is kept
  // exact per object only when a stack limit is set (a testing knob).
  std::size_t marked = 0;
  const bool limited = stack_limit_ != 0;
  try {
    std::size_t pushed = 0;  // by the current trace
    const void* last = nullptr;  // the last reference asked about: runs of one
                                 // reference ([x] * n, [None] * n) ask once
    FnVisitor push([&](void* obj) {
      if (obj == last) return;
      last = obj;
      if (obj && heap_.mark_if_object(obj)) {
        stack.push_back(obj);
        pushed++;
      }
    });
    // The prefetch queue: an object popped from the stack waits here, its
    // header prefetched, while the kPrefetch - 1 before it are traced.
    void* queue[kPrefetch];
    std::size_t head = 0, queued = 0;
    while (failure() == nullptr) {
      while (queued < kPrefetch && !stack.empty()) {
        void* next = stack.back();
        stack.pop_back();
        if (limited) stacked_.fetch_sub(1, std::memory_order_relaxed);
        __builtin_prefetch(next);
        queue[(head + queued++) % kPrefetch] = next;
      }
      if (queued == 0) break;
      void* obj = queue[head];
      head = (head + 1) % kPrefetch;
      queued--;
      pushed = 0;
      if (!embedder_.trace(obj, push, /*concurrent=*/true)) {
        opaque_.fetch_add(1, std::memory_order_relaxed);
      }
      if (pushed) {
        marked += pushed;
        if (limited) {
          std::size_t now = stacked_.fetch_add(pushed, std::memory_order_relaxed) + pushed;
          if (now > stack_limit_) {
            fail("the mark stacks reached their limit");
            break;
          }
        }
      }
      if (stack.size() > kSplit) {
        std::vector<void*> half(stack.begin() + stack.size() / 2, stack.end());
        stack.resize(stack.size() / 2);
        group_->run(DrainTask{this, std::move(half)});
      }
    }
  } catch (const std::bad_alloc&) {
    fail("out of memory for a mark stack");
  }
  marked_.fetch_add(marked, std::memory_order_relaxed);
}

void DrainTask::operator()() const { marker->drain(std::move(stack)); }

}  // namespace tricolor
