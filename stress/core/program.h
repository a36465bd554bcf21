// stress/core/program.h -- the programs the core stress suite runs: their
// operations, how rapidcheck generates them, and how they print.
//
// A program is a list of operations, each run by one of the mutator threads.
// Operands name a thread's locals by index modulo their number, so that any
// sub-list of a program is still a program: that is what lets rapidcheck
// shrink a failure to the few operations that matter.  A collect carries
// the operations that run *while it runs*, each after a given phase, on its
// mutator thread, with the collector thread waiting: a deterministic
// interleaving of mutators with the concurrent phases.
#pragma once

#include <rapidcheck.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <vector>

#include "tricolor/events.h"

namespace stress {

enum class Kind : std::uint8_t {
  kCreate,        // locals += new object with `n` slots
  kRing,          // locals += one member of a new ring of `n` objects (cyclic garbage once dropped)
  kLink,          // locals[a].slot[s] = locals[b]
  kUnlink,        // locals[a].slot[s] = null
  kLoad,          // locals += locals[a].slot[s]
  kMove,          // kLoad, then kUnlink: hides an object from a marker that has not reached it
  kDrop,          // drop locals[a]
  kHandOff,       // move locals[a] to thread `to`
  kSetGlobal,     // globals[g] = locals[a]
  kGetGlobal,     // locals += globals[g]
  kClearGlobal,   // globals[g] = null
  kFinalizer,     // give locals[a] a finalizer; with `flag` it resurrects the object into globals[g]
  kWeakref,       // locals += weak reference to locals[a], with a callback if `flag`
  kWeakGet,       // locals += referent of weak reference locals[a], if any
  kCreateAcross,  // (during a collect) allocation begun after phase `after`, finished after the filter
  kCollect,       // a collection, full-STW if `flag`, with the `during` operations
};

struct Op {
  Kind kind = Kind::kCreate;
  int thread = 0;
  int a = 0, b = 0;   // indices into the thread's locals (modulo their number)
  int slot = 0;       // modulo the object's slots
  int n = 1;          // slots (kCreate) or ring length (kRing)
  int g = 0;          // a global
  int to = 0;         // a thread (kHandOff)
  bool flag = false;
  tricolor::Phase after = tricolor::Phase::kRootScan;  // during a collect: run after this phase
  std::vector<Op> during;                              // kCollect only
};

/// Settings shared by the generators and the runner.
struct Shape {
  int threads = 3;
  int globals = 6;
  std::size_t verify_batch = 2048;  ///< the collector's CollectorConfig::verify_batch
  /// Concurrent property only: a timing plan that varies the interleaving
  /// on purpose, so that a race does not show only under one build's speed
  /// (harness.h).  Microseconds to wait after each phase (0: none, 1: a
  /// yield), and one allocation in `alloc_pause` (0: none; 8 times as many
  /// while black allocation is on) pauses between its two bitmap stores
  /// (tricolor::SpaceTesting::set_between_bits_hook) for `alloc_pause_us`
  /// (1: a yield).
  std::array<int, static_cast<int>(tricolor::Phase::kCount)> phase_delay_us{};
  int alloc_pause = 0;
  int alloc_pause_us = 0;
};

/// A timing plan for the concurrent property (Shape's last three fields).
rc::Gen<Shape> gen_timing(const Shape& shape);

/// One operation; `during` only for a top-level collect.
rc::Gen<Op> gen_op(const Shape& shape, bool top);
/// A whole program for the interleaved (deterministic) property.
rc::Gen<std::vector<Op>> gen_program(const Shape& shape);
/// One thread's operations for the concurrent property (no collects).
rc::Gen<std::vector<Op>> gen_thread_ops(const Shape& shape, int thread);

void showValue(const Op& op, std::ostream& os);
void showValue(const Shape& shape, std::ostream& os);

}  // namespace stress
