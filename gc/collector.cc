// gc/collector.cc -- the public Collector of tricolor/collector.h:
// construction and shutdown, collect(), the pacer's notes and the trigger,
// shade(), listeners, and the background collector thread's loop.  One
// collection itself is the phase driver's (gc/phase_driver.h).
//
// Concurrency (the rule of every field: gc/phase_driver.h): the background
// thread's state (trigger, stop, bg_alive) is guarded by bg_mu; listeners
// by listeners_mu; the pacer's counters are relaxed atomics updated by
// every mutator (gc/pacer.h); shade() pushes to `shaded` only while
// `shading` is on, from any thread, and never blocks.
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
  if (config.background) {
    impl_->bg_alive = true;
    impl_->bg = std::thread([this] { impl_->background_loop(); });
  }
}

Collector::~Collector() {
  shutdown();
  impl_->embedder.world_ = nullptr;
}

void Collector::shutdown() {
  {
    std::lock_guard lk(impl_->bg_mu);
    if (!impl_->bg_alive) return;
    impl_->bg_alive = false;
    impl_->stop = true;
  }
  impl_->bg_cv.notify_all();
  impl_->bg.join();
}

void Collector::Impl::background_loop() {
  std::unique_lock lk(bg_mu);
  for (;;) {
    bg_cv.wait(lk, [&] { return trigger || stop; });
    if (stop) return;
    trigger = false;
    lk.unlock();
    collect(config.mode);
    lk.lock();
  }
}

CollectionStats Collector::collect() { return impl_->collect(impl_->config.mode); }
CollectionStats Collector::collect(Mode mode) { return impl_->collect(mode); }

void Collector::note_allocation(std::size_t bytes) {
  if (!impl_->pacer.allocated(bytes)) return;
  {
    std::lock_guard lk(impl_->bg_mu);
    if (impl_->bg_alive) {
      impl_->trigger = true;
      impl_->bg_cv.notify_one();
      return;
    }
  }
  impl_->collect(impl_->config.mode);
}

void Collector::note_free(std::size_t bytes) { impl_->pacer.freed(bytes); }

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
