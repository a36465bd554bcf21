// tests/gc/stop_the_world_test.cc -- tests of the stop-the-world protocol
// (tricolor/stop_the_world.h, gc/stop_the_world.cc).
//
// Strategy.  The protocol's promise is a safety property (once stop()
// returns, no other attached thread runs heap code until start()) plus a
// liveness property (stop() returns once every mutator polls, goes inactive
// or detaches; start() releases them).  Each test makes a violation
// observable:
//   * safety: mutators spin `safepoint(); counter++` -- the counters must be
//     frozen between stop() and start() (checked twice, 20 ms apart) and move
//     again afterwards; in the stress test every mutator checks, right after
//     each poll, a flag that the stopper raises only while the world is
//     stopped -- seeing it raised is a violation;
//   * blocking: a thread that must block (leaving an inactive region or
//     attaching while the world is stopped) sets a flag when the call
//     returns; the flag must stay clear for 20 ms and be set after start();
//     stop() must not return while a RUNNING mutator has not polled;
//   * liveness: every test runs under a watchdog that aborts the process
//     (with the test's name) instead of hanging when something deadlocks;
//   * misuse: each UsageError's message is checked for the words that say
//     which misuse it was, and the thread's state must be intact afterwards;
//   * timing: only lower bounds that are certain -- a gated mutator that
//     cannot poll until >= 5 ms after the stop request was observed gives
//     wait_ns >= 5 ms; a sleep between stop() and start() bounds pause_ns.
// Policy tested and documented here: a thread that attaches while the world
// is stopped (or a stop is pending) counts as PARKED and returns from
// attach() only after start(); a thread that exits attached is detached.
// The debug-only check (safepoint() from an unattached thread without a
// stop pending) is tested when NDEBUG is not defined -- build this file
// without -DNDEBUG.  Sleeps are 20 ms at most and the stress test runs
// 1000 cycles, so the whole file runs in a few seconds (more under TSan).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "tricolor/stop_the_world.h"

namespace tricolor {
namespace {

using namespace std::chrono_literals;

// Aborts the process if the test has not finished within `limit`.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit = std::chrono::seconds(20))
      : thread_([this, limit] {
          std::unique_lock<std::mutex> lk(mu_);
          if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
            const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
            std::fprintf(stderr, "watchdog: %s.%s deadlocked (no progress for %llds)\n",
                         info ? info->test_suite_name() : "?", info ? info->name() : "?",
                         static_cast<long long>(limit.count()));
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Spins until pred() holds (the watchdog bounds it).
template <class F>
void spin_until(F pred) {
  while (!pred()) std::this_thread::yield();
}

// Calls fn and expects a UsageError whose message contains every needle.
template <class F>
void expect_usage_error(F fn, std::initializer_list<const char*> needles) {
  try {
    fn();
    ADD_FAILURE() << "expected UsageError";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    for (const char* n : needles) {
      EXPECT_NE(msg.find(n), std::string::npos) << "message \"" << msg << "\" lacks \"" << n << "\"";
    }
  }
}

// N threads that attach, then spin `safepoint(); ++counter` until told to
// quit, then detach.
class Spinners {
 public:
  Spinners(World& w, int n) : counters_(static_cast<std::size_t>(n)) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, &w, i] {
        MutatorScope scope(w);
        auto& c = counters_[static_cast<std::size_t>(i)];
        while (!quit_.load(std::memory_order_relaxed)) {
          w.safepoint();
          c.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    // Every spinner has attached and run at least once.
    for (auto& c : counters_) spin_until([&] { return c.load() > 0; });
  }
  ~Spinners() {
    quit_ = true;
    for (auto& t : threads_) t.join();
  }
  std::vector<std::uint64_t> snapshot() const {
    std::vector<std::uint64_t> v;
    for (auto& c : counters_) v.push_back(c.load(std::memory_order_relaxed));
    return v;
  }

 private:
  std::vector<std::atomic<std::uint64_t>> counters_;
  std::atomic<bool> quit_{false};
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------- attach

TEST(WorldTest, AttachDetach) {
  Watchdog dog;
  World w;
  EXPECT_FALSE(w.attached());
  EXPECT_EQ(w.mutator_count(), 0);
  w.attach();
  EXPECT_TRUE(w.attached());
  EXPECT_EQ(w.mutator_count(), 1);
  w.safepoint();  // no stop pending: returns at once
  w.detach();
  EXPECT_FALSE(w.attached());
  EXPECT_EQ(w.mutator_count(), 0);
  // Attach again after a detach.
  {
    MutatorScope scope(w);
    EXPECT_TRUE(w.attached());
  }
  EXPECT_FALSE(w.attached());
}

// Root contexts (set_roots): one per attached thread, gone with the thread.
TEST(WorldTest, RootsBelongToTheirAttachedThread) {
  Watchdog dog;
  World w;
  int mine = 0, theirs = 0;
  MutatorScope scope(w);
  EXPECT_TRUE(w.mutator_roots().empty());  // none given yet
  w.set_roots(&mine);
  std::thread other([&] {
    MutatorScope attached(w);
    w.set_roots(&theirs);
    auto roots = w.mutator_roots();
    EXPECT_EQ(roots.size(), 2u);
    EXPECT_NE(std::find(roots.begin(), roots.end(), &theirs), roots.end());
  });
  other.join();
  EXPECT_EQ(w.mutator_roots(), std::vector<void*>{&mine});  // the other detached
  w.set_roots(nullptr);
  EXPECT_TRUE(w.mutator_roots().empty());
}

TEST(WorldTest, WorldsAreIndependent) {
  Watchdog dog;
  World a, b;
  MutatorScope sa(a);
  EXPECT_TRUE(a.attached());
  EXPECT_FALSE(b.attached());
  EXPECT_EQ(b.mutator_count(), 0);
  std::thread t([&] {
    EXPECT_FALSE(a.attached());  // attachment is per thread
    MutatorScope sb(b);
    EXPECT_EQ(b.mutator_count(), 1);
  });
  t.join();
  EXPECT_EQ(a.mutator_count(), 1);
  EXPECT_EQ(b.mutator_count(), 0);
}

TEST(WorldTest, NewWorldAtSameAddressIsNotConfused) {
  Watchdog dog;
  alignas(World) unsigned char storage[sizeof(World)];
  World* w1 = new (storage) World;
  w1->attach();
  EXPECT_TRUE(w1->attached());
  w1->detach();
  w1->~World();
  World* w2 = new (storage) World;
  ASSERT_EQ(static_cast<void*>(w1), static_cast<void*>(w2));
  EXPECT_FALSE(w2->attached());
  // The old World's "detached" mark must not turn into "double detach".
  expect_usage_error([&] { w2->detach(); }, {"not attached", "never attached"});
  w2->attach();
  EXPECT_TRUE(w2->attached());
  EXPECT_EQ(w2->mutator_count(), 1);
  w2->detach();
  w2->~World();
}

TEST(WorldTest, ThreadExitingAttachedIsDetached) {
  Watchdog dog;
  World w;
  std::thread([&] { w.attach(); }).join();  // exits without detach()
  EXPECT_EQ(w.mutator_count(), 0);
  w.stop();  // must not wait for the dead thread
  w.start();
}

TEST(WorldTest, ThreadExitAfterWorldDestroyedIsHarmless) {
  Watchdog dog;
  auto w = std::make_unique<World>();
  std::atomic<bool> attached{false}, destroyed{false};
  std::thread t([&] {
    w->attach();
    attached = true;
    spin_until([&] { return destroyed.load(); });
    // exits still "attached" to a World that no longer exists
  });
  spin_until([&] { return attached.load(); });
  w.reset();  // misuse, but the thread's exit must not touch the old World
  destroyed = true;
  t.join();
}

// ---------------------------------------------------------------- misuse

TEST(WorldMisuseTest, DoubleAttach) {
  Watchdog dog;
  World w;
  MutatorScope scope(w);
  expect_usage_error([&] { w.attach(); }, {"attach()", "already attached"});
  EXPECT_EQ(w.mutator_count(), 1);
  EXPECT_TRUE(w.attached());
}

TEST(WorldMisuseTest, DoubleDetach) {
  Watchdog dog;
  World w;
  w.attach();
  w.detach();
  expect_usage_error([&] { w.detach(); }, {"detach()", "not attached", "double detach"});
  EXPECT_EQ(w.mutator_count(), 0);
}

TEST(WorldMisuseTest, DetachNeverAttached) {
  Watchdog dog;
  World w;
  expect_usage_error([&] { w.detach(); }, {"detach()", "not attached", "never attached"});
}

#ifndef NDEBUG
TEST(WorldMisuseTest, PollFromUnattachedThreadDebug) {
  Watchdog dog;
  World w;
  ASSERT_FALSE(w.stopping());
  try {
    w.safepoint();
    ADD_FAILURE() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "safepoint() called from a thread that is not attached to this World");
  }
}
#endif

TEST(WorldMisuseTest, PollFromUnattachedThreadSlowPath) {
  Watchdog dog;
  World w;
  w.stop();
  std::thread t([&] {
    try {
      w.safepoint();  // a stop is pending: the slow path checks in every build
      ADD_FAILURE() << "expected UsageError";
    } catch (const UsageError& e) {
      EXPECT_STREQ(e.what(), "safepoint() called from a thread that is not attached to this World");
    }
  });
  t.join();
  w.start();
}

TEST(WorldMisuseTest, InactiveFromUnattachedThread) {
  Watchdog dog;
  World w;
  expect_usage_error([&] { w.enter_inactive(); }, {"enter_inactive()", "not attached"});
  expect_usage_error([&] { w.leave_inactive(); }, {"leave_inactive()", "not attached"});
}

TEST(WorldMisuseTest, RootsFromUnattachedThread) {
  Watchdog dog;
  World w;
  int roots = 0;
  expect_usage_error([&] { w.set_roots(&roots); }, {"set_roots()", "not attached"});
  EXPECT_TRUE(w.mutator_roots().empty());
}

TEST(WorldMisuseTest, LeaveWithoutEnter) {
  Watchdog dog;
  World w;
  MutatorScope scope(w);
  expect_usage_error([&] { w.leave_inactive(); },
                     {"leave_inactive()", "without a matching enter_inactive()"});
  // One more leave than enters.
  w.enter_inactive();
  w.enter_inactive();
  w.leave_inactive();
  w.leave_inactive();
  expect_usage_error([&] { w.leave_inactive(); }, {"without a matching enter_inactive()"});
}

TEST(WorldMisuseTest, DetachInsideInactiveRegion) {
  Watchdog dog;
  World w;
  w.attach();
  {
    InactiveScope inactive(w);
    expect_usage_error([&] { w.detach(); }, {"detach()", "inside an inactive region"});
    EXPECT_TRUE(w.attached());  // the failed detach changed nothing
  }
  w.detach();
  EXPECT_FALSE(w.attached());
}

TEST(WorldMisuseTest, StartWithoutStopAndStopTwice) {
  Watchdog dog;
  World w;
  expect_usage_error([&] { w.start(); }, {"start()", "without a matching stop()"});
  w.stop();
  expect_usage_error([&] { w.stop(); }, {"stop()", "already stopped"});
  EXPECT_TRUE(w.stopping());
  w.start();
  EXPECT_FALSE(w.stopping());
  expect_usage_error([&] { w.start(); }, {"without a matching stop()"});
}

// ---------------------------------------------------------------- stop/start

TEST(WorldStopTest, StopWithoutMutators) {
  Watchdog dog;
  World w;
  EXPECT_FALSE(w.stopping());
  w.stop();
  EXPECT_TRUE(w.stopping());
  std::this_thread::sleep_for(2ms);
  PauseTiming t = w.start();
  EXPECT_FALSE(w.stopping());
  EXPECT_GE(t.wait_ns, 0);
  EXPECT_GE(t.pause_ns, 2'000'000);  // sleep_for waits at least 2 ms
}

TEST(WorldStopTest, SpinningMutatorsAreParkedUntilStart) {
  Watchdog dog;
  World w;
  constexpr int kMutators = 3;
  Spinners spinners(w, kMutators);
  EXPECT_EQ(w.mutator_count(), kMutators);
  for (int round = 0; round < 3; ++round) {
    w.stop();
    const auto frozen = spinners.snapshot();
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(spinners.snapshot(), frozen) << "a mutator ran past safepoint() while stopped";
    const PauseTiming t = w.start();
    EXPECT_GE(t.wait_ns, 0);
    EXPECT_GE(t.pause_ns, 20'000'000);
    // Every mutator runs again.
    for (int i = 0; i < kMutators; ++i) {
      spin_until([&] { return spinners.snapshot()[static_cast<std::size_t>(i)] > frozen[static_cast<std::size_t>(i)]; });
    }
  }
}

// start() hands the parked mutators back RUNNING: a stop() issued right
// after start() must wait until each of them has run to its next poll (one
// more increment), and must not count them as still parked.
TEST(WorldStopTest, BackToBackStopsLetReleasedMutatorsRun) {
  Watchdog dog;
  World w;
  constexpr int kMutators = 2;
  Spinners spinners(w, kMutators);
  for (int round = 0; round < 200; ++round) {
    w.stop();
    const auto before = spinners.snapshot();
    w.start();
    w.stop();
    const auto after = spinners.snapshot();
    for (int k = 0; k < 3; ++k) std::this_thread::yield();
    EXPECT_EQ(spinners.snapshot(), after) << "a mutator ran while stopped (round " << round << ")";
    for (std::size_t i = 0; i < before.size(); ++i) {
      EXPECT_GT(after[i], before[i]) << "stop() returned before released mutator " << i
                                     << " polled again (round " << round << ")";
    }
    w.start();
    if (HasFailure()) break;
  }
}

TEST(WorldStopTest, StopWaitsForMutatorThatHasNotPolled) {
  Watchdog dog;
  World w;
  std::atomic<bool> attached{false}, poll{false}, stop_returned{false}, quit{false};
  std::thread mutator([&] {
    MutatorScope scope(w);
    attached = true;
    spin_until([&] { return poll.load(); });  // RUNNING, not polling
    while (!quit.load()) w.safepoint();
  });
  spin_until([&] { return attached.load(); });
  std::thread stopper([&] {
    w.stop();
    stop_returned = true;
  });
  spin_until([&] { return w.stopping(); });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(stop_returned.load()) << "stop() returned while a mutator was RUNNING";
  poll = true;
  stopper.join();
  EXPECT_TRUE(stop_returned.load());
  quit = true;
  w.start();
  mutator.join();
}

TEST(WorldStopTest, StopperThatIsAttachedCountsAsStopped) {
  Watchdog dog;
  World w;
  Spinners spinners(w, 2);
  MutatorScope self(w);
  w.stop();  // does not wait for itself
  const auto frozen = spinners.snapshot();
  w.safepoint();  // its own poll does not park it
  {
    InactiveScope inactive(w);
  }  // nor does leaving an inactive region during its own stop
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(spinners.snapshot(), frozen);
  w.start();
}

TEST(WorldStopTest, StopFromInsideInactiveRegion) {
  Watchdog dog;
  World w;
  Spinners spinners(w, 2);
  MutatorScope self(w);
  InactiveScope inactive(w);
  w.stop();
  const auto frozen = spinners.snapshot();
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(spinners.snapshot(), frozen);
  w.start();
}

// ---------------------------------------------------------------- inactive

TEST(WorldInactiveTest, InactiveMutatorDoesNotBlockStopAndLeavingWaitsForStart) {
  Watchdog dog;
  World w;
  std::atomic<bool> inside{false}, leave{false}, left{false};
  std::thread mutator([&] {
    MutatorScope scope(w);
    {
      InactiveScope inactive(w);
      inside = true;
      spin_until([&] { return leave.load(); });  // a "blocking native call"
    }
    left = true;
  });
  spin_until([&] { return inside.load(); });
  w.stop();  // returns although the mutator never polls
  leave = true;
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(left.load()) << "left an inactive region while the world was stopped";
  w.start();
  mutator.join();
  EXPECT_TRUE(left.load());
}

TEST(WorldInactiveTest, NestedRegions) {
  Watchdog dog;
  World w;
  std::atomic<int> step{0};
  std::atomic<bool> left_inner{false}, left_outer{false};
  std::thread mutator([&] {
    MutatorScope scope(w);
    w.enter_inactive();
    w.enter_inactive();
    w.leave_inactive();  // inner: still inactive, never blocks
    left_inner = true;
    step = 1;
    spin_until([&] { return step.load() == 2; });
    w.leave_inactive();  // outer: waits for start()
    left_outer = true;
  });
  spin_until([&] { return step.load() == 1; });
  EXPECT_TRUE(left_inner.load());
  w.stop();  // the mutator (depth 1) counts as stopped
  step = 2;
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(left_outer.load()) << "outermost leave_inactive() did not wait for start()";
  w.start();
  mutator.join();
  EXPECT_TRUE(left_outer.load());
}

TEST(WorldInactiveTest, InnerLeaveDuringStopDoesNotBlock) {
  Watchdog dog;
  World w;
  std::atomic<bool> inside{false}, go{false}, inner_left{false}, outer_left{false};
  std::thread mutator([&] {
    MutatorScope scope(w);
    w.enter_inactive();
    w.enter_inactive();
    inside = true;
    spin_until([&] { return go.load(); });
    w.leave_inactive();
    inner_left = true;
    w.leave_inactive();
    outer_left = true;
  });
  spin_until([&] { return inside.load(); });
  w.stop();
  go = true;
  spin_until([&] { return inner_left.load(); });  // would hang if it blocked
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(outer_left.load());
  w.start();
  mutator.join();
  EXPECT_TRUE(outer_left.load());
}

// ---------------------------------------------------------------- attach/detach during a stop

// Policy: attaching while the world is stopped registers the thread as
// PARKED (it counts as stopped) and returns only after start().
TEST(WorldStopTest, AttachWhileStoppedWaitsForStart) {
  Watchdog dog;
  World w;
  w.stop();
  std::atomic<bool> attached{false};
  std::thread t([&] {
    w.attach();
    attached = true;
    w.detach();
  });
  spin_until([&] { return w.mutator_count() == 1 || attached.load(); });  // registered...
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(attached.load()) << "attach() returned while the world was stopped";  // ...but parked
  w.start();
  t.join();
  EXPECT_TRUE(attached.load());
  EXPECT_EQ(w.mutator_count(), 0);
}

TEST(WorldStopTest, StopperMayAttachDuringItsOwnStop) {
  Watchdog dog;
  World w;
  w.stop();
  w.attach();  // the stopper does not wait for itself
  EXPECT_TRUE(w.attached());
  w.start();
  w.detach();
}

TEST(WorldStopTest, DetachWhileStopWaitsUnblocksStopper) {
  Watchdog dog;
  World w;
  std::atomic<bool> attached{false}, detach_now{false}, stop_returned{false};
  std::thread mutator([&] {
    w.attach();
    attached = true;
    spin_until([&] { return detach_now.load(); });  // RUNNING, never polls
    w.detach();
  });
  spin_until([&] { return attached.load(); });
  std::thread stopper([&] {
    w.stop();
    stop_returned = true;
  });
  spin_until([&] { return w.stopping(); });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(stop_returned.load());
  detach_now = true;
  stopper.join();
  mutator.join();
  EXPECT_TRUE(stop_returned.load());
  EXPECT_EQ(w.mutator_count(), 0);
  w.start();
}

// ---------------------------------------------------------------- stress

// Mutators poll and sometimes enter inactive regions; right after each poll
// a RUNNING mutator must never see `stopped` raised (the stopper raises it
// only between stop() and start()).
void stress(int mutators, int cycles, bool attached_stopper) {
  Watchdog dog(std::chrono::seconds(60));
  World w;
  std::atomic<bool> quit{false}, stopped{false};
  std::atomic<int> violations{0}, ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < mutators; ++i) {
    threads.emplace_back([&, i] {
      MutatorScope scope(w);
      ready.fetch_add(1);
      for (std::uint64_t n = 0; !quit.load(std::memory_order_relaxed); ++n) {
        w.safepoint();
        if (stopped.load()) violations.fetch_add(1);
        if ((n + static_cast<std::uint64_t>(i)) % 64 == 0) {
          InactiveScope inactive(w);
          std::this_thread::yield();
        }
        if (stopped.load()) violations.fetch_add(1);
      }
    });
  }
  spin_until([&] { return ready.load() == mutators; });
  std::unique_ptr<MutatorScope> self;
  if (attached_stopper) self = std::make_unique<MutatorScope>(w);
  for (int c = 0; c < cycles; ++c) {
    w.stop();
    stopped = true;
    for (int k = 0; k < 3; ++k) std::this_thread::yield();  // let a violator run
    stopped = false;
    const PauseTiming t = w.start();
    ASSERT_GE(t.wait_ns, 0);
    ASSERT_GE(t.pause_ns, 0);
    if (self) w.safepoint();
  }
  quit = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(violations.load(), 0);
}

TEST(WorldStressTest, ThousandCyclesTwoMutators) { stress(2, 1000, false); }
TEST(WorldStressTest, ThousandCyclesFourMutatorsAttachedStopper) { stress(4, 1000, true); }

// Two threads (both attached) stop concurrently: stops are serialised, and
// a stopper waiting its turn must not block the one in progress.
TEST(WorldStressTest, ConcurrentStoppersAreSerialised) {
  Watchdog dog(std::chrono::seconds(60));
  World w;
  Spinners spinners(w, 2);
  std::atomic<int> inside{0}, overlaps{0};
  auto stopper = [&] {
    MutatorScope scope(w);
    for (int i = 0; i < 200; ++i) {
      w.safepoint();
      w.stop();
      if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
      inside.fetch_sub(1);
      w.start();
    }
  };
  std::thread a(stopper), b(stopper);
  a.join();
  b.join();
  EXPECT_EQ(overlaps.load(), 0);
}

// ---------------------------------------------------------------- timing

// Certain bound: the mutator cannot poll until 5 ms after the stop request
// was observed (stopping() true), so wait_ns >= 5 ms.
TEST(WorldTimingTest, WaitCoversGatedMutator) {
  Watchdog dog;
  World w;
  std::atomic<bool> attached{false}, gate{false}, quit{false};
  std::thread mutator([&] {
    MutatorScope scope(w);
    attached = true;
    spin_until([&] { return gate.load(); });
    while (!quit.load()) w.safepoint();
  });
  spin_until([&] { return attached.load(); });
  PauseTiming t;
  std::thread stopper([&] {
    w.stop();
    std::this_thread::sleep_for(1ms);
    t = w.start();
  });
  spin_until([&] { return w.stopping(); });
  std::this_thread::sleep_for(5ms);
  gate = true;
  stopper.join();
  quit = true;
  mutator.join();
  EXPECT_GE(t.wait_ns, 5'000'000);
  EXPECT_GE(t.pause_ns, 1'000'000);
}

// A mutator that polls every ~5 ms: stopping right after one of its polls,
// the stopper waits for the next one. Loose: of three such stops at least
// one must have waited >= 1 ms (all three would need the stopper descheduled
// for > 4 ms between seeing the poll and requesting the stop).
TEST(WorldTimingTest, WaitReflectsSlowPoller) {
  Watchdog dog;
  World w;
  std::atomic<std::uint64_t> polls{0};
  std::atomic<bool> quit{false};
  std::thread mutator([&] {
    MutatorScope scope(w);
    while (!quit.load()) {
      w.safepoint();
      polls.fetch_add(1);
      std::this_thread::sleep_for(5ms);
    }
  });
  std::int64_t longest = 0;
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t p = polls.load();
    spin_until([&] { return polls.load() != p; });
    w.stop();
    const PauseTiming t = w.start();
    EXPECT_GE(t.wait_ns, 0);
    EXPECT_GE(t.pause_ns, 0);
    longest = std::max(longest, t.wait_ns);
  }
  quit = true;
  mutator.join();
  EXPECT_GE(longest, 1'000'000);
}

}  // namespace
}  // namespace tricolor
