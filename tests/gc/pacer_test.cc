// Tests of gc/pacer.h: the trigger fires once per crossing, re-arms after a
// collection at max(min_trigger, growth_ratio * live), and counts live bytes.
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
  p.collected();
  EXPECT_EQ(p.live(), 4000u);
  EXPECT_EQ(p.trigger(), 4000u);    // growth ratio 1: the heap may double
  EXPECT_FALSE(p.allocated(3999));
  EXPECT_TRUE(p.allocated(1));
}

TEST(Pacer, MinimumTriggerAndFractionalRatio) {
  tricolor::Pacer p(0.5, 100);
  p.allocated(10000);
  p.collected();
  EXPECT_EQ(p.trigger(), 5000u);
  p.freed(9990);
  p.collected();
  EXPECT_EQ(p.trigger(), 100u);
}

TEST(Pacer, FreesNotedBeforeTheirAllocationsDoNotWrapLiveBytes) {
  tricolor::Pacer p(1.0, 1000);
  p.freed(5000);  // another thread's allocation note is still in its batch
  EXPECT_EQ(p.live(), 0u);
  p.collected();
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
