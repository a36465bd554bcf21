// tests/support/tsan_defaults.h -- ThreadSanitizer defaults for the test
// binaries (tests/support/main.cc, stress/core/main.cc); nothing outside
// a -fsanitize=thread build.
//
// libmimalloc is not instrumented: TSan sees only the memset/memcpy calls
// it makes, not the atomics that order them.  When a thread exits,
// mimalloc abandons its segments and another thread later reclaims and
// reinitialises them inside an allocation -- correctly ordered, but TSan
// reported the two threads' memsets of a segment header as a race (once in
// the TSan run of stress_core).  called_from_lib: makes TSan ignore the
// interceptors libmimalloc calls, TSan's mechanism for uninstrumented
// libraries.  Our own accesses to the memory mimalloc hands out are still
// checked (allocator/space.cc orders frees before reuse for TSan).
#pragma once

#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() { return "called_from_lib:libmimalloc.so\n"; }
#endif
