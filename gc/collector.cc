// gc/collector.cc -- the public Collector of tricolor/collector.h:
// construction and shutdown, collect(), the pacer's notes and answers,
// shade(), listeners, and the background collector thread.  One
// collection itself is the phase driver's (gc/phase_driver.h).
//
// The background thread (CollectorConfig::background):
//   1. request_collection() (a trigger: note_allocation(), or an embedder
//      that paces itself with pace()) starts it through
//      Embedder::start_thread() the first time (state kNone -> kRunning),
//      sets `trigger` and wakes it; with `assist` it then waits until the
//      thread has finished one more round (bg_rounds).  If the thread
//      cannot be started, the caller collects itself.
//   2. background_loop() waits for `trigger`, runs
//      Embedder::collect_automatically() (the default: collect()), counts
//      the round and wakes the assisting threads.
//   3. shutdown(): kRunning -> kStopping; the loop returns and says so
//      (kStopped), and shutdown() returns once it has.  kStopped is for
//      good: later triggers collect on their own thread.
// Every wait on bg_cv is inside Embedder::enter_blocking(): a runtime with
// its own stop-the-world (CPython) detaches the waiting thread, so neither
// the background thread nor an assisting mutator holds up a stop.
//
// Concurrency (the rule of every field: gc/phase_driver.h): bg, trigger and
// bg_rounds are guarded by bg_mu, taken only inside enter_blocking();
// listeners by listeners_mu; the pacer's counters are relaxed atomics
// updated by every mutator (gc/pacer.h); shade() pushes to `shaded` only
// while `shading` is on, from any thread, and never blocks.
#include "tricolor/collector.h"

#include <memory>
#include <mutex>
#include <thread>

#include "gc/mutants.h"
#include "gc/phase_driver.h"
#include "tricolor/stop_the_world.h"

namespace tricolor {

Collector::Collector(Heap& heap, Embedder& embedder, World* world, const CollectorConfig& config)
    : impl_(std::make_unique<Impl>(heap, embedder, world, config)) {
  if (embedder.world_ != nullptr && embedder.world_ != world) {
    throw UsageError("Collector: this Embedder already belongs to a Collector with another World");
  }
  embedder.world_ = world;
  impl_->self = this;
}

Collector::~Collector() {
  shutdown();
  impl_->embedder.world_ = nullptr;
}

void Collector::shutdown() {
  Impl& im = *impl_;
  void* token = im.embedder.enter_blocking();
  {
    std::unique_lock lk(im.bg_mu);
    if (im.bg == Impl::Bg::kRunning) {
      im.bg = Impl::Bg::kStopping;
      im.bg_cv.notify_all();
    }
    im.bg_cv.wait(lk, [&] { return im.bg != Impl::Bg::kStopping; });
    im.bg = Impl::Bg::kStopped;  // for good: later triggers collect where they are
  }
  im.embedder.leave_blocking(token);
}

void Collector::Impl::background_loop() {
  bg_id.store(std::this_thread::get_id(), std::memory_order_relaxed);
  for (;;) {
    bool stop;
    void* token = embedder.enter_blocking();
    {
      std::unique_lock lk(bg_mu);
      bg_cv.wait(lk, [&] { return trigger || bg != Bg::kRunning; });
      stop = bg != Bg::kRunning;
      trigger = false;
    }
    embedder.leave_blocking(token);
    if (stop) break;
    embedder.collect_automatically(*self);
    token = embedder.enter_blocking();
    {
      std::lock_guard lk(bg_mu);
      bg_rounds++;
      bg_cv.notify_all();
    }
    embedder.leave_blocking(token);
  }
  bg_id.store(std::thread::id(), std::memory_order_relaxed);
  // The last touch of the collector: shutdown() may free it once bg_mu is
  // released.
  std::lock_guard lk(bg_mu);
  bg = Bg::kStopped;
  bg_cv.notify_all();
}

void Collector::request_collection(bool assist) {
  Impl& im = *impl_;
  if (im.bg_id.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
    return;  // a finalizer of the background thread's own collection
  }
  bool running = false;
  if (im.config.background) {
    void* token = im.embedder.enter_blocking();
    {
      std::unique_lock lk(im.bg_mu);
      if (im.bg == Impl::Bg::kNone &&
          im.embedder.start_thread([](void* impl) { static_cast<Impl*>(impl)->background_loop(); },
                                   &im)) {
        im.bg = Impl::Bg::kRunning;
      }
      running = im.bg == Impl::Bg::kRunning;
      if (running) {
        im.trigger = true;
        im.bg_cv.notify_all();
        if (assist) {
          std::uint64_t seen = im.bg_rounds;
          im.bg_cv.wait(lk, [&] { return im.bg_rounds != seen || im.bg != Impl::Bg::kRunning; });
        }
      }
    }
    im.embedder.leave_blocking(token);
  }
  if (!running) im.embedder.collect_automatically(*this);
}

bool Collector::background_running() const {
  std::lock_guard lk(impl_->bg_mu);
  return impl_->bg == Impl::Bg::kRunning;
}

CollectionStats Collector::collect() { return impl_->collect(impl_->config.mode); }
CollectionStats Collector::collect(Mode mode) { return impl_->collect(mode); }

void Collector::note_allocation(std::size_t bytes) {
  if (impl_->pacer.allocated(bytes)) request_collection(false);
}

void Collector::note_free(std::size_t bytes) { impl_->pacer.freed(bytes); }

Pace Collector::pace(std::size_t since, std::size_t live) { return impl_->pacer.pace(since, live); }

void Collector::shade(void* obj) {
  if (TC_MUTANT(NoShade)) return;
  if (obj != nullptr && impl_->shading.load(std::memory_order_acquire)) impl_->shaded.push_back(obj);
}

void Collector::add_listener(EventListener* listener) {
  std::lock_guard lk(impl_->listeners_mu);
  impl_->listeners.push_back(listener);
}

std::uint64_t Collector::collections() const {
  return impl_->collections.load(std::memory_order_relaxed);
}

const CollectorConfig& Collector::config() const { return impl_->config; }

}  // namespace tricolor
