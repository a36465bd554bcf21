// stress/fork/property.h -- the rapidcheck property: a generated program
// runs in both variants (run.h); the first failure starts a time-boxed
// shrink.  main runs it in batches of --batch cases.
#pragma once

#include <chrono>
#include <cstdint>

namespace stressfork {

using Clock = std::chrono::steady_clock;

// The property rapidcheck checks (rc::detail::toProperty(property)).
void property();

// Set by main: when the run started (the --seconds time box) and the seed
// of the batch that runs now (printed with a failure, in the context).
extern Clock::time_point g_start;
extern std::uint64_t g_batch_seed;
// Cases run to the end before the first failure (printed by main).
extern long g_cases;
// A failure was found: rapidcheck is shrinking.
extern bool g_failed;

}  // namespace stressfork
