// allocator/testing.h -- internal, not installed: the Space's test hooks,
// for the core's tests and the stress suite (cppgc's ...ForTesting, kept
// out of the public headers).
//
// Legal call order: make the Space, set the hooks, then start the threads
// that allocate from it (thread creation orders the hook's write before
// their reads; allocator/space.cc, "Concurrency").  A hook is never reset
// while a thread may allocate.  Both are empty in production.
#pragma once

#include <functional>

#include "tricolor/space.h"

namespace tricolor {

/// Test hooks of a Space (friend of Space).
class SpaceTesting {
 public:
  /// allocate() calls `hook` with the new block between its two bitmap
  /// stores (after the marks bit, before the starts bit), so that a test
  /// can hold an allocation there while the collector scans the bitmaps.
  static void set_between_bits_hook(Space& space, std::function<void(void*)> hook);
  /// allocate() calls `hook` on a thread that has just added an arena,
  /// before that thread tries the arena, so that a test can let other
  /// threads take the new arena first.
  static void set_added_arena_hook(Space& space, std::function<void()> hook);
};

}  // namespace tricolor
