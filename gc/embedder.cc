// gc/embedder.cc -- Embedder's defaults: world control by the collector's
// own World (tricolor/stop_the_world.h), for runtimes that have no
// stop-the-world protocol of their own; thread roots from the contexts its
// mutators gave World::set_roots(); the background thread as a detached
// std::thread, its waits as inactive regions of that World; a refcount
// error reported on stderr.
#include "tricolor/embedder.h"

#include <cstdio>
#include <system_error>
#include <thread>

#include "tricolor/collector.h"

#include "tricolor/stop_the_world.h"

namespace tricolor {

void Embedder::stop_world() {
  if (world_ == nullptr) {
    throw UsageError("Embedder::stop_world(): no World was given to the Collector; "
                     "pass one or override stop_world() and start_world()");
  }
  world_->stop();
}

void Embedder::start_world() {
  if (world_ == nullptr) {
    throw UsageError("Embedder::start_world(): no World was given to the Collector");
  }
  world_->start();
}

// World stopped (the root scan): the contexts cannot change meanwhile.
// Without a World (a runtime with its own protocol) there are none.
void Embedder::for_each_thread_root(Visitor& v) {
  if (world_ == nullptr) return;
  for (void* roots : world_->mutator_roots()) for_each_mutator_root(roots, v);
}

bool Embedder::start_thread(void (*body)(void*), void* arg) {
  try {
    std::thread(body, arg).detach();
  } catch (const std::system_error&) {
    return false;
  }
  return true;
}

// The token says whether an inactive region was entered.
void* Embedder::enter_blocking() {
  if (world_ == nullptr || !world_->attached()) return nullptr;
  world_->enter_inactive();
  return world_;
}

void Embedder::leave_blocking(void* token) {
  if (token != nullptr) static_cast<World*>(token)->leave_inactive();
}

void Embedder::collect_automatically(Collector& collector) { collector.collect(); }

void Embedder::refcount_error(void* obj, std::int64_t excess) {
  std::fprintf(stderr, "tricolor: object %p has %lld more references from candidates than its "
               "refcount; the embedder's refcount is wrong (object kept alive)\n",
               obj, static_cast<long long>(excess));
}

}  // namespace tricolor
