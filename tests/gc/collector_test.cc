// Tests of gc/collector.cc: the background thread through the embedder's
// hooks (start_thread, enter_blocking/leave_blocking,
// collect_automatically), the assist, shutdown, a thread that cannot be
// started, and pace() with the reclaiming ratio and the assist.  The heap
// is an empty Space: these tests are about who collects when, not what.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "tricolor/collector.h"
#include "tricolor/embedder.h"
#include "tricolor/space.h"
#include "tricolor/stop_the_world.h"

namespace {

using namespace std::chrono_literals;

// An embedder of no objects that records the hooks' calls.
class HookRecorder final : public tricolor::Embedder {
 public:
  bool trace(void*, tricolor::Visitor&, bool) override { return true; }
  std::intptr_t refcount(void*) override { return 1; }
  void hold(void*) override {}
  void release(void*) override {}
  void clear(std::span<void* const>) override {}
  void stop_world() override {}
  void start_world() override {}

  bool start_thread(void (*body)(void*), void* arg) override {
    starts++;
    if (refuse_threads) return false;
    threads.emplace_back([=, this] {
      in_thread.store(true);  // the runtime's set-up around body
      body(arg);
      in_thread.store(false);
    });
    return true;
  }
  void* enter_blocking() override {
    std::lock_guard lk(mu);
    blocking_threads.insert(std::this_thread::get_id());
    entered++;
    return &entered;
  }
  void leave_blocking(void* token) override {
    EXPECT_EQ(token, &entered);
    left++;
  }
  void collect_automatically(tricolor::Collector& c) override {
    {
      std::lock_guard lk(mu);
      collecting_threads.insert(std::this_thread::get_id());
    }
    if (slow) std::this_thread::sleep_for(50ms);
    c.collect();
    automatic++;
  }
  ~HookRecorder() override {
    for (auto& t : threads) t.join();
  }

  std::atomic<int> starts{0}, entered{0}, left{0}, automatic{0};
  std::atomic<bool> in_thread{false}, slow{false};
  bool refuse_threads = false;
  std::mutex mu;
  std::set<std::thread::id> blocking_threads, collecting_threads;
  std::vector<std::thread> threads;
};

tricolor::CollectorConfig background_config() {
  tricolor::CollectorConfig cfg;
  cfg.background = true;
  cfg.mark_workers = 1;
  return cfg;
}

bool eventually(const std::function<bool()>& pred) {
  for (int i = 0; i < 1000 && !pred(); i++) std::this_thread::sleep_for(5ms);
  return pred();
}

TEST(BackgroundThread, StartedOnceThroughTheEmbedderAndStoppedByShutdown) {
  tricolor::Space space;
  HookRecorder e;
  tricolor::Collector c(space, e, nullptr, background_config());
  EXPECT_FALSE(c.background_running()) << "started at the first trigger, not before";
  c.request_collection(false);
  EXPECT_TRUE(c.background_running());
  ASSERT_TRUE(eventually([&] { return e.automatic.load() >= 1; }));
  c.request_collection(false);
  ASSERT_TRUE(eventually([&] { return e.automatic.load() >= 2; }));
  EXPECT_EQ(e.starts.load(), 1);
  EXPECT_TRUE(e.in_thread.load());
  {
    std::lock_guard lk(e.mu);
    ASSERT_EQ(e.collecting_threads.size(), 1u);
    EXPECT_NE(*e.collecting_threads.begin(), std::this_thread::get_id());
  }
  c.shutdown();
  EXPECT_FALSE(c.background_running());
  ASSERT_TRUE(eventually([&] { return !e.in_thread.load(); })) << "body returned";
  EXPECT_EQ(e.entered.load(), e.left.load());
  // After shutdown a trigger collects on the requesting thread.
  int before = e.automatic.load();
  c.request_collection(false);
  EXPECT_EQ(e.automatic.load(), before + 1);
}

TEST(BackgroundThread, AnAssistWaitsForTheBackgroundRoundInABlockingRegion) {
  tricolor::Space space;
  HookRecorder e;
  e.slow = true;
  tricolor::Collector c(space, e, nullptr, background_config());
  c.request_collection(true);
  // The round the request started has finished: its collection is counted.
  EXPECT_GE(e.automatic.load(), 1);
  EXPECT_GE(c.collections(), 1u);
  std::lock_guard lk(e.mu);
  EXPECT_TRUE(e.blocking_threads.count(std::this_thread::get_id()))
      << "the assisting thread waited inside enter_blocking()";
  EXPECT_GE(e.blocking_threads.size(), 2u) << "and so did the background thread";
}

TEST(BackgroundThread, ATriggerFromTheBackgroundThreadItselfIsIgnored) {
  tricolor::Space space;
  HookRecorder e;
  tricolor::Collector c(space, e, nullptr, background_config());
  struct Reentrant : tricolor::EventListener {
    tricolor::Collector* c = nullptr;
    void on_collection_end(const tricolor::CollectionStats&) override {
      c->request_collection(true);  // a finalizer allocating: must not wait for itself
    }
  } l;
  l.c = &c;
  c.add_listener(&l);
  c.request_collection(true);
  EXPECT_GE(e.automatic.load(), 1);
}

TEST(BackgroundThread, WithoutAThreadTheRequesterCollects) {
  tricolor::Space space;
  HookRecorder e;
  e.refuse_threads = true;
  tricolor::Collector c(space, e, nullptr, background_config());
  c.request_collection(true);
  EXPECT_EQ(e.automatic.load(), 1);
  EXPECT_FALSE(c.background_running());
  c.request_collection(false);
  EXPECT_EQ(e.starts.load(), 2) << "tried again at the next trigger";
  EXPECT_EQ(e.automatic.load(), 2);
  std::lock_guard lk(e.mu);
  EXPECT_EQ(e.collecting_threads, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(BackgroundThread, TheDefaultHooksWaitInAnInactiveRegionOfTheWorld) {
  // The defaults: a std::thread, the World's inactive regions.  An attached
  // mutator that assists must not block the collection it waits for.
  tricolor::Space space;
  struct Empty final : tricolor::Embedder {
    bool trace(void*, tricolor::Visitor&, bool) override { return true; }
    std::intptr_t refcount(void*) override { return 1; }
    void hold(void*) override {}
    void release(void*) override {}
    void clear(std::span<void* const>) override {}
  } e;
  tricolor::World world;
  tricolor::Collector c(space, e, &world, background_config());
  world.attach();
  c.request_collection(true);  // deadlocks if the wait is not inactive
  EXPECT_GE(c.collections(), 1u);
  world.detach();
  c.shutdown();
  EXPECT_FALSE(c.background_running());
}

TEST(Pace, ReclaimingTightensTheTriggerAndAsksForAnAssist) {
  tricolor::Space space;
  HookRecorder e;
  tricolor::CollectorConfig cfg;
  cfg.background = false;
  cfg.min_trigger_bytes = 0;
  cfg.growth_ratio = 0.25;
  cfg.reclaiming_growth_ratio = 0.125;
  cfg.assist = true;
  tricolor::Collector c(space, e, nullptr, cfg);
  using tricolor::Pace;
  EXPECT_EQ(c.pace(250, 1000), Pace::kNone);
  EXPECT_EQ(c.pace(251, 1000), Pace::kCollect);
  EXPECT_EQ(c.pace(126, 1000), Pace::kNone);
  // A collection that answers for 126 allocations and finds no garbage:
  // not reclaiming.
  c.collect();
  EXPECT_EQ(c.pace(126, 1000), Pace::kNone);
  EXPECT_EQ(c.pace(0, 0), Pace::kNone) << "nothing allocated: never due";
}

}  // namespace
