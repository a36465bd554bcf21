// The synthetic runtime's settings for tests: small arenas, two marker
// workers, and (unless `background`) collections only when a test asks.
#pragma once

#include "synthetic/runtime.h"

namespace tricolor_test {

inline synthetic::RuntimeConfig synthetic_config(bool background = false) {
  synthetic::RuntimeConfig c;
  c.space.arena_bytes = std::size_t{64} << 20;
  c.collector.background = background;
  if (!background) c.collector.min_trigger_bytes = std::size_t{1} << 40;
  c.collector.mark_workers = 2;
  return c;
}

}  // namespace tricolor_test
