// Tests of gc/pacer.h: the trigger fires once per crossing, re-arms after a
// collection at max(min_trigger, growth_ratio * live), and counts live bytes;
// an embedder's counts get the same answers through pace(), with the
// reclaiming ratio and the assist once a collection finds enough garbage.
#include "gc/pacer.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

TEST(Pacer, FiresOnceAtTheTriggerAndRearmsFromLiveBytes) {
  tricolor::Pacer p(1.0, 1000);
  EXPECT_FALSE(p.allocated(999));
  EXPECT_TRUE(p.allocated(1));
  EXPECT_FALSE(p.allocated(5000));  // fired already; waits for collected()
  p.freed(2000);                    // 6000 allocated, 2000 freed
  p.collected(0);
  EXPECT_EQ(p.live(), 4000u);
  EXPECT_EQ(p.trigger(), 4000u);    // growth ratio 1: the heap may double
  EXPECT_FALSE(p.allocated(3999));
  EXPECT_TRUE(p.allocated(1));
}

TEST(Pacer, MinimumTriggerAndFractionalRatio) {
  tricolor::Pacer p(0.5, 100);
  p.allocated(10000);
  p.collected(0);
  EXPECT_EQ(p.trigger(), 5000u);
  p.freed(9990);
  p.collected(0);
  EXPECT_EQ(p.trigger(), 100u);
}

TEST(Pacer, FreesNotedBeforeTheirAllocationsDoNotWrapLiveBytes) {
  tricolor::Pacer p(1.0, 1000);
  p.freed(5000);  // another thread's allocation note is still in its batch
  EXPECT_EQ(p.live(), 0u);
  p.collected(0);
  EXPECT_EQ(p.trigger(), 1000u);  // not ratio * 2^64
  EXPECT_TRUE(p.allocated(1000));
}

TEST(Pacer, ExactlyOneThreadSeesEachTrigger) {
  tricolor::Pacer p(1.0, 1 << 20);
  std::atomic<int> fired{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&] {
      for (int i = 0; i < 100000; i++) fired += p.allocated(64);
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(fired.load(), 1);
}

TEST(Pacer, TheEmbeddersCountsAndTheReclaimingRatio) {
  tricolor::Pacer p(tricolor::Pacer::Settings{.growth_ratio = 0.25,
                                              .reclaiming_growth_ratio = 0.125,
                                              .reclaiming_fraction = 0.25,
                                              .min_trigger = 0,
                                              .assist = true});
  using tricolor::Pace;
  EXPECT_EQ(p.pace(250, 1000), Pace::kNone);
  EXPECT_EQ(p.pace(251, 1000), Pace::kCollect);
  // The collection answers for the 400 reported before it began, and finds
  // 99 of them garbage: under a quarter, not reclaiming.
  EXPECT_EQ(p.pace(400, 1000), Pace::kCollect);
  p.started();
  p.collected(99);
  EXPECT_FALSE(p.reclaiming());
  EXPECT_EQ(p.pace(200, 1000), Pace::kNone);
  // The next answers for 200 and finds 50: a quarter, reclaiming.  The
  // trigger is now live / 8, and a due collection asks for an assist.
  p.started();
  p.collected(50);
  EXPECT_TRUE(p.reclaiming());
  EXPECT_EQ(p.pace(125, 1000), Pace::kNone);
  EXPECT_EQ(p.pace(126, 1000), Pace::kAssist);
  // Nothing reported before a collection: it answers for nothing, and the
  // program is not taken for reclaiming whatever it finds.
  p.started();
  p.started();
  p.collected(1000);
  EXPECT_FALSE(p.reclaiming());
  EXPECT_EQ(p.pace(126, 1000), Pace::kNone);
}

TEST(Pacer, NoAssistUnlessAskedFor) {
  tricolor::Pacer p(tricolor::Pacer::Settings{.growth_ratio = 0.25, .min_trigger = 10});
  p.pace(100, 0);
  p.started();
  p.collected(100);
  EXPECT_TRUE(p.reclaiming());
  EXPECT_EQ(p.pace(10, 0), tricolor::Pace::kNone) << "the minimum trigger holds";
  EXPECT_EQ(p.pace(11, 0), tricolor::Pace::kCollect);
}

TEST(Pacer, TheCoresOwnCountsUseTheReclaimingRatioToo) {
  tricolor::Pacer p(tricolor::Pacer::Settings{.growth_ratio = 1.0, .reclaiming_growth_ratio = 0.5});
  p.allocated(1000);  // reported: 1000 since the last collection
  p.started();
  p.collected(500);
  EXPECT_TRUE(p.reclaiming());
  EXPECT_EQ(p.trigger(), 500u);  // 0.5 * 1000 live
  p.started();
  p.collected(0);
  EXPECT_FALSE(p.reclaiming());
  EXPECT_EQ(p.trigger(), 1000u);
}
