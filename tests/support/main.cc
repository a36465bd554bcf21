// main() of every core test binary: gtest, plus one knob.
//
// TRICOLOR_TBB_THREADS=N caps TBB's threads (tests/support/tsan_defaults.h).
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
  const auto limit = tbb_limit();
  tbb::task_scheduler_handle workers{tbb::attach{}};
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  tbb::finalize(workers, std::nothrow);
  return rc;
}
