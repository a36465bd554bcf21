// main() of every core test binary: gtest, plus one knob.
//
// TRICOLOR_TBB_THREADS=N caps TBB's threads for the whole binary.
// ThreadSanitizer cannot see the synchronisation inside libtbb (it is not
// instrumented), so with TBB workers it reports false races between them
// and the thread that started the parallel work; with N=1 every parallel
// loop and marking task runs on the thread that started it, and a TSan run
// checks everything else -- mutators against the collector, the World's
// protocol.  scripts/test.sh sets it for the TSan run.
//
// At exit main() waits for TBB's worker threads to finish (tbb::finalize):
// a worker keeps a reference to the last task_scheduler_observer proxy it
// ran, which it drops only when it runs again or exits, so a leak check at
// exit could otherwise find that proxy (LeakSanitizer did, now and then).
#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <cstdlib>
#include <new>

#include "tests/support/tsan_defaults.h"
#include <memory>

int main(int argc, char** argv) {
  std::unique_ptr<tbb::global_control> limit;
  if (const char* n = std::getenv("TRICOLOR_TBB_THREADS"); n && std::atoi(n) > 0) {
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  static_cast<std::size_t>(std::atoi(n)));
  }
  tbb::task_scheduler_handle workers{tbb::attach{}};
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  tbb::finalize(workers, std::nothrow);
  return rc;
}
