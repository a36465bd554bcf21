// tests/support/tsan_defaults.h -- ThreadSanitizer defaults for the test
// binaries (tests/support/main.cc, stress/core/main.cc), and the one knob
// they share.
//
// TRICOLOR_TBB_THREADS=N caps TBB's threads for the whole binary
// (tbb_limit()).  ThreadSanitizer cannot see the synchronisation inside
// libtbb (it is not instrumented), so with TBB workers it reports false
// races between them and the thread that started the parallel work; with
// N=1 every parallel loop and marking task runs on the thread that started
// it, and a TSan run checks everything else -- mutators against the
// collector, the World's protocol.  In a TSan build N defaults to 1, so a
// TSan binary run by hand does not report those false races; 0 lifts the
// cap.
//
// libmimalloc is not instrumented: TSan sees only the memset/memcpy calls
// it makes, not the atomics that order them.  When a thread exits,
// mimalloc abandons its segments and another thread later reclaims and
// reinitialises them inside an allocation -- correctly ordered, but TSan
// reported the two threads' memsets of a segment header as a race (once in
// the TSan run of stress_core).  called_from_lib: makes TSan ignore the
// interceptors libmimalloc calls, TSan's mechanism for uninstrumented
// libraries.  Our own accesses to the memory mimalloc hands out are still
// checked (allocator/tsan_model.h orders frees before reuse for TSan).
#pragma once

#include <oneapi/tbb/global_control.h>

#include <cstdlib>
#include <memory>

#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() { return "called_from_lib:libmimalloc.so\n"; }
#endif

// The cap TRICOLOR_TBB_THREADS asks for (1 in a TSan build if unset), or
// none; hold the result for the binary's lifetime.
inline std::unique_ptr<tbb::global_control> tbb_limit() {
  const char* v = std::getenv("TRICOLOR_TBB_THREADS");
#if defined(__SANITIZE_THREAD__)
  const int n = v ? std::atoi(v) : 1;
#else
  const int n = v ? std::atoi(v) : 0;
#endif
  if (n <= 0) return nullptr;
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                               static_cast<std::size_t>(n));
}
