// stress/core/harness.cc -- what the two harnesses share (harness.h); the
// harnesses are interleaved_harness.cc and concurrent_harness.cc.
#include "stress/core/harness.h"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "allocator/testing.h"  // SpaceTesting: the timing plan's allocation pause

namespace stress::detail {

std::string id(std::uint64_t rid) { return "#" + std::to_string(rid); }

std::string describe(const std::vector<Object*>& objs) {
  std::unordered_map<const Object*, int> internal;
  for (Object* o : objs) {
    for (std::uint32_t i = 0; i < o->nslots; i++) {
      if (Object* c = o->slots()[i].load()) internal[c]++;
    }
  }
  std::string out;
  for (Object* o : objs) {
    out += "\n    " + id(o->id) + " refcount " + std::to_string(o->refcount.load()) + " (" +
           std::to_string(internal[o]) + " from survivors) flags " + std::to_string(o->flags.load()) +
           " slots [";
    for (std::uint32_t i = 0; i < o->nslots; i++) {
      Object* c = o->slots()[i].load();
      out += (i ? " " : "") + (c ? id(c->id) : std::string("-"));
    }
    out += "]";
  }
  return out;
}

void wait_us(int us) {
  if (us == 1) std::this_thread::yield();
  else if (us > 1) std::this_thread::sleep_for(std::chrono::microseconds(us));
}

std::string allocation_failed(Runtime& rt, int slots) {
  return "allocating an object of " + std::to_string(slots) + " slots failed, with " +
         std::to_string(rt.space().arena_count()) + " arenas (" +
         std::to_string(rt.space().reserved_bytes() >> 20) + " MiB) reserved";
}

synthetic::RuntimeConfig config(const Shape& shape) {
  synthetic::RuntimeConfig c;
  c.space.arena_bytes = std::size_t{32} << 20;
  c.collector.background = false;
  c.collector.min_trigger_bytes = std::size_t{1} << 40;  // only the program collects
  c.collector.mark_workers = 2;
  c.globals = static_cast<std::size_t>(shape.globals + shape.threads);  // + one mailbox per thread
  c.collector.verify_batch = shape.verify_batch;
  c.checked = true;
  return c;
}

void set_alloc_pause(const Shape& shape, tricolor::Space& space) {
  if (shape.alloc_pause <= 0) return;
  tricolor::SpaceTesting::set_between_bits_hook(
      space, [every = static_cast<unsigned>(shape.alloc_pause), us = shape.alloc_pause_us,
              sp = &space](void*) {
        // While black allocation is on (marking and the candidate scan run)
        // 8 times as often: an allocation that straddles the scan is where
        // a race between the allocator's and the scan's orders lives.
        const unsigned e = sp->black_allocation() ? std::max(1u, every / 8) : every;
        thread_local unsigned n = 0;
        if (++n % e == 0) wait_us(us);
      });
}

}  // namespace stress::detail
