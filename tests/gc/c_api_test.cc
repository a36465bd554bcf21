// Tests of gc/c_api.cc (tricolor/c_api.h): a runtime written in C
// (c_api_runtime.c, compiled as C) drives the collector through the C API,
// over a tc_segment_map heap whose nodes are spread across two segments.
// Both modes must free exactly its garbage rings and the concurrent one
// must mark exactly its rooted chains; misuse of the world and incomplete
// callback tables must be refused with a message, not a crash.
#include <gtest/gtest.h>

#include <string>

#include "tests/gc/c_api_runtime.h"
#include "tricolor/c_api.h"

namespace {

TEST(CApi, CollectsGarbageCyclesInBothModes) {
  for (int mode : {TC_MODE_CONCURRENT, TC_MODE_FULL_STW}) {
    c_runtime_result r;
    ASSERT_EQ(c_runtime_collect_cycles(mode, &r), 0) << tc_last_error();
    EXPECT_EQ(r.made_garbage, 1u * 7 + 2u * 6 + 3u * 6 + 4u * 6) << "mode " << mode;
    EXPECT_EQ(r.garbage, r.made_garbage) << "mode " << mode;
    EXPECT_EQ(r.freed, r.made_garbage) << "mode " << mode;
    if (mode == TC_MODE_CONCURRENT) {
      EXPECT_EQ(r.marked, 50u);  // the rooted chains, nothing else
    }
    EXPECT_GE(r.pauses, 1u);
    // Every phase the mode runs took time; a full-STW one skips 1-3b.
    EXPECT_STREQ(tc_phase_name(TC_PHASE_CONCURRENT_MARK), "concurrent-mark");
    EXPECT_STREQ(tc_phase_name(TC_PHASE_CLEAR_MARKS), "clear-marks");
    EXPECT_EQ(tc_phase_name(TC_PHASE_COUNT), nullptr);
    EXPECT_EQ(tc_phase_name(-1), nullptr);
    EXPECT_GT(r.phase_ns[TC_PHASE_VERIFY], 0) << "mode " << mode;
    EXPECT_GT(r.phase_ns[TC_PHASE_CLEAR], 0) << "mode " << mode;
    if (mode == TC_MODE_CONCURRENT) {
      EXPECT_GT(r.phase_ns[TC_PHASE_ROOT_SCAN], 0);
      EXPECT_GT(r.phase_ns[TC_PHASE_CONCURRENT_MARK], 0);
    } else {
      EXPECT_EQ(r.phase_ns[TC_PHASE_CONCURRENT_MARK], 0);
    }
    EXPECT_EQ(r.garbage_again, 0u) << "mode " << mode;
    EXPECT_EQ(r.freed_unrooted, r.made_garbage + 45u) << "mode " << mode;  // the rooted ring stays
    EXPECT_EQ(r.garbage_last, 5u) << "mode " << mode;
    EXPECT_EQ(r.freed_last, r.made_garbage + 50u) << "mode " << mode;
    EXPECT_EQ(r.detach_again, -1);
    EXPECT_EQ(r.poll_detached, -1);
  }
}

// Roots given per thread (tc_world_set_roots + for_each_mutator_root, with
// no for_each_thread_root): marking reaches exactly the rooted chains.
// The runtime gives hold_all and no hold: every garbage object is held
// through it, once.
TEST(CApi, MutatorRootsAreScannedPerThread) {
  size_t marked = 0, garbage = 0, objects = 0, calls = 0, held = 0;
  ASSERT_EQ(c_runtime_mutator_roots(&marked, &garbage, &objects, &calls, &held), 0) << tc_last_error();
  EXPECT_EQ(held, garbage);
  EXPECT_EQ(calls, 1u);
  EXPECT_EQ(marked, 50u);
  EXPECT_EQ(garbage, 1u * 7 + 2u * 6 + 3u * 6 + 4u * 6);
  EXPECT_EQ(objects, 50u + garbage);
}

// The background thread through the C hooks: start_thread once, the
// assisted request returns after the thread's collection (which freed the
// garbage rings), every wait inside enter/leave_blocking, shutdown stops it.
TEST(CApi, BackgroundThreadThroughTheHooks) {
  c_runtime_thread_result r;
  ASSERT_EQ(c_runtime_background_thread(&r), 0) << tc_last_error();
  EXPECT_EQ(r.starts, 1);
  EXPECT_GE(r.automatic, 1);
  EXPECT_EQ(r.on_own_thread, r.automatic);
  EXPECT_EQ(r.garbage, r.made_garbage);
  EXPECT_TRUE(r.running);
  EXPECT_TRUE(r.stopped);
  EXPECT_TRUE(r.balanced);
}

TEST(CApi, MisuseIsRefusedWithAMessage) {
  EXPECT_EQ(c_runtime_refuses_incomplete_tables(), 4);
  EXPECT_NE(std::string(tc_last_error()).find("tc_world"), std::string::npos) << tc_last_error();
  tc_world* w = tc_world_new();
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(tc_world_detach(w), -1);
  EXPECT_NE(std::string(tc_last_error()).find("not attached"), std::string::npos) << tc_last_error();
  EXPECT_EQ(tc_world_leave_inactive(w), -1);
  int roots = 0;
  EXPECT_EQ(tc_world_set_roots(w, &roots), -1);
  EXPECT_NE(std::string(tc_last_error()).find("not attached"), std::string::npos) << tc_last_error();
  EXPECT_EQ(tc_world_attach(w), 0);
  EXPECT_EQ(tc_world_set_roots(w, &roots), 0);
  EXPECT_STREQ(tc_last_error(), "");
  EXPECT_EQ(tc_world_attach(w), -1);
  EXPECT_EQ(tc_world_enter_inactive(w), 0);
  EXPECT_EQ(tc_world_leave_inactive(w), 0);
  EXPECT_EQ(tc_world_detach(w), 0);
  tc_world_free(w);
}

}  // namespace
