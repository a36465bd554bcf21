// stress/core/harness.h -- runs a program (program.h) on a fresh synthetic
// runtime in checked mode, against a reference model, and returns every
// invariant it saw broken.
//
// Threads.  Each model thread is a real thread with its own
// synthetic::Mutator; between operations it waits in an inactive region,
// so the world can stop without it.  The collector runs on the calling
// thread (not a mutator).
//
// run_interleaved(): the operations run one at a time, in program order,
// each on its thread; a collect's `during` operations run from the
// collector's phase hook (Runtime::on_phase_end), after their phase, with
// the collector waiting.  Deterministic, so rapidcheck can shrink.  The
// model mirrors every strong reference (slots, locals, globals) and checks:
//   I1 nothing reachable from a local or a global is freed, and every slot
//      of a reachable object still holds what the program stored;
//   I2 an object unreachable when collection s starts (or while it runs) is
//      freed by the end of collection s+1: within 2 collections;
//   I3 the garbage handed to finalization was unreachable at the
//      verification; each finalizer runs exactly once, before its object
//      is freed;
//   I4 weak references to the garbage are cleared before any callback or
//      finalizer runs (a finalizer that dereferences one gets nothing);
//      the callback of a weak reference that is itself garbage never runs;
//      a callback runs at most once, and exactly once for a weak reference
//      that outlives its referent; a weak reference to a live object that
//      was never garbage is never cleared;
//   I5 what a finalizer resurrects survives, with its contents (I1);
//   I6 the checked runtime's own checks (synthetic/runtime.h): the
//      collector inspects only objects, never one under construction with
//      the world running; no mutator runs while the world is stopped; no
//      mutator uses a freed object;
//   and at the end, with every root dropped, collections free everything.
//
// run_concurrent(): each thread runs its own operations at full speed,
// polling between them, while the calling thread collects in a loop
// (alternating modes).  No model -- the interleaving is the machine's --
// so it checks I6, finalizers at most once, callbacks after clearing, and
// that everything is freed at the end; under ASan, any use of freed
// memory.
#pragma once

#include <string>
#include <vector>

#include "stress/core/program.h"

namespace stress {

/// Runs `program` deterministically; returns the violations (empty: passed).
std::vector<std::string> run_interleaved(const std::vector<Op>& program, const Shape& shape);

/// Runs `per_thread[t]` on thread t, all at once, while collecting.
std::vector<std::string> run_concurrent(const std::vector<std::vector<Op>>& per_thread,
                                        const Shape& shape);

}  // namespace stress
