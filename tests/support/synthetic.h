// Helpers for tests that run on the synthetic runtime.
#pragma once

#include "synthetic/runtime.h"

namespace tricolor_test {

// Small arenas, two marker workers, and (unless `background`) collections
// only when a test asks.
inline synthetic::RuntimeConfig synthetic_config(bool background = false) {
  synthetic::RuntimeConfig c;
  c.space.arena_bytes = std::size_t{64} << 20;
  c.collector.background = background;
  if (!background) c.collector.min_trigger_bytes = std::size_t{1} << 40;
  c.collector.mark_workers = 2;
  return c;
}

// Hangs a chain of `n` new one-slot objects off `head`'s slot 0; the chain
// holds them (the caller keeps only its reference to head).
inline void append_chain(synthetic::Runtime& rt, synthetic::Object* head, int n) {
  synthetic::Object* cur = head;
  for (int i = 0; i < n; i++) {
    synthetic::Object* next = rt.allocate(1);
    rt.store(cur, 0, next);
    rt.decref(next);
    cur = next;
  }
}

}  // namespace tricolor_test
