// gc/embedder.cc -- Embedder's default world control: the collector's own
// World (tricolor/mutator.h), for runtimes that have no stop-the-world
// protocol of their own.
#include "tricolor/embedder.h"

#include "tricolor/mutator.h"

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

}  // namespace tricolor
