// stress/fork/property.cc -- see property.h.
#include "run.h"  // first: Python.h before any standard header

#include "property.h"

#include <rapidcheck.h>

#include <atomic>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "context.h"  // set_context
#include "options.h"
#include "program.h"

namespace stressfork {

long g_cases = 0;
bool g_failed = false;
Clock::time_point g_start;
std::uint64_t g_batch_seed = 0;

namespace {

std::atomic<int> g_next_uid{1};
Clock::time_point g_shrink_deadline;

std::string run_variant(const std::vector<Op>& program, bool concurrent, std::string* listing) {
  const int base = g_next_uid.fetch_add(static_cast<int>(program.size()) + 1);
  Run run(program, concurrent, base);
  *listing = run.listing();
  set_context("seed=" + std::to_string(g_batch_seed) + " (replay: " + replay_command(g_batch_seed) + ")\n" +
              (concurrent ? "concurrent" : "sequential") + " variant of:\n" + *listing);
  const std::vector<std::string> v = run.run();
  if (v.empty()) return "";
  std::string s;
  for (const std::string& x : v) s += x + "\n";
  return s;
}

// The smallest failing program so far and its message: once the shrinking
// time is up, every other program passes without running (rapidcheck stops
// shrinking) and this one fails again without running (rapidcheck reports
// it).
bool g_failed_concurrent = false;  // which variant failed first
std::vector<Op> g_last_failing;
std::string g_last_message;

}  // namespace

void property() {
  if (!g_failed && std::chrono::duration<double>(Clock::now() - g_start).count() > g_opt.seconds) return;
  const std::vector<Op> program = *gen_program(g_opt.threads, g_opt.without);
  if (g_failed && Clock::now() > g_shrink_deadline) {
    if (program == g_last_failing) RC_FAIL(g_last_message);
    return;
  }
  // While shrinking, only the variant that failed runs (twice as many
  // attempts in the time).
  std::string listing, failure;
  bool concurrent = false;
  if (g_opt.sequential && !(g_failed && g_failed_concurrent)) failure = run_variant(program, false, &listing);
  if (failure.empty() && g_opt.concurrent && !(g_failed && !g_failed_concurrent)) {
    concurrent = true;
    failure = run_variant(program, true, &listing);
  }
  if (failure.empty()) {
    if (!g_failed) g_cases++;
    return;
  }
  std::ostringstream msg;
  msg << failure << "program (" << g_opt.threads << " threads; o<k> is the k-th object the program creates; "
      << "locals are per thread, G is a dict, keep is the resurrection list):\n" << listing;
  if (!g_failed) {
    g_failed = true;
    g_failed_concurrent = concurrent;
    g_shrink_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(g_opt.shrink_seconds));
    std::cerr << "\nstress_fork: FAILURE (before shrinking), batch seed=" << g_batch_seed << ":\n"
              << msg.str() << "shrinking..." << std::endl;
  }
  g_last_failing = program;
  g_last_message = msg.str();
  RC_FAIL(msg.str());
}

}  // namespace stressfork
