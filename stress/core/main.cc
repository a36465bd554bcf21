// stress/core/main.cc -- the core stress suite's command line: runs the
// rapidcheck properties over programs (program.h) on the synthetic runtime
// (harness.h), in batches, until the time box is used up.
//
//   stress_core [--property interleaved|concurrent|all] [--threads N]
//               [--seconds S] [--seed N] [--cases K] [--replay SEED]
//
// Each batch runs K cases with a seed derived from --seed; a failure prints
// the shrunk program, the violations, and the command that replays that
// batch (--replay).  The interleaved property is deterministic, so a replay
// fails the same way, and rapidcheck shrinks its failures; the concurrent
// one depends on the machine's interleaving, so it is not shrunk and a
// replay runs the same programs only.  Exit status: 0 passed,
// 1 a property failed, 2 bad usage.
#include <oneapi/tbb/global_control.h>
#include <rapidcheck.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "stress/core/harness.h"
#include "stress/core/program.h"
#include "tests/support/tsan_defaults.h"

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "\n  violation: " + s;
  return out;
}

// Small batches split garbage over several verification pauses.
stress::Shape with_batch(stress::Shape shape) {
  shape.verify_batch = *rc::gen::element<std::size_t>(2048, 3, 1);
  return shape;
}

void property_interleaved(const stress::Shape& base) {
  const stress::Shape shape = with_batch(base);
  const auto program = *rc::gen::resize(100, stress::gen_program(shape));
  const auto violations = stress::run_interleaved(program, shape);
  if (!violations.empty()) RC_FAIL(join(violations));
}

void property_concurrent(const stress::Shape& base) {
  const stress::Shape shape = with_batch(base);
  std::vector<std::vector<stress::Op>> per_thread;
  for (int t = 0; t < shape.threads; t++) {
    per_thread.push_back(*rc::gen::resize(200, stress::gen_thread_ops(shape, t)));
  }
  const auto violations = stress::run_concurrent(per_thread, shape);
  if (!violations.empty()) {
    // rapidcheck runs a failing case again to print it, and this one may
    // then pass: say what broke now.
    std::printf("concurrent case failed:%s\n", join(violations).c_str());
    RC_FAIL(join(violations));
  }
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "stress_core: %s\nusage: stress_core [--property interleaved|concurrent|all] "
               "[--threads N] [--seconds S] [--seed N] [--cases K] [--replay SEED]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string property = "all";
  stress::Shape shape;
  double seconds = 30;
  std::uint64_t seed = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
  int cases = 20;
  bool replay = false;
  std::uint64_t replay_seed = 0;
  for (int i = 1; i < argc; i++) {
    auto arg = [&](const char* name) -> const char* {
      if (std::strcmp(argv[i], name) != 0) return nullptr;
      if (i + 1 >= argc) usage((std::string(name) + " needs a value").c_str());
      return argv[++i];
    };
    if (const char* v = arg("--property")) property = v;
    else if (const char* v = arg("--threads")) shape.threads = std::atoi(v);
    else if (const char* v = arg("--seconds")) seconds = std::atof(v);
    else if (const char* v = arg("--seed")) seed = std::strtoull(v, nullptr, 10);
    else if (const char* v = arg("--cases")) cases = std::atoi(v);
    else if (const char* v = arg("--replay")) replay = true, replay_seed = std::strtoull(v, nullptr, 10);
    else usage((std::string("unknown argument ") + argv[i]).c_str());
  }
  if (property != "interleaved" && property != "concurrent" && property != "all") {
    usage("--property takes interleaved, concurrent or all");
  }
  if (shape.threads < 1 || shape.threads > 16) usage("--threads takes 1 to 16");
  if (cases < 1) usage("--cases takes a positive number");
  // TRICOLOR_TBB_THREADS=N caps TBB's threads, as in the core's tests
  // (tests/support/main.cc): TSan cannot see inside libtbb, so its run
  // keeps the collector's parallel work on the collecting thread.
  std::unique_ptr<tbb::global_control> limit;
  if (const char* n = std::getenv("TRICOLOR_TBB_THREADS"); n && std::atoi(n) > 0) {
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  static_cast<std::size_t>(std::atoi(n)));
  }
  if (const char* m = std::getenv("TRICOLOR_MUTANT"); m && *m) {
    std::printf("stress_core: mutant %s\n", m);
  }
  std::printf("stress_core: seed=%llu threads=%d seconds=%g property=%s\n",
              static_cast<unsigned long long>(seed), shape.threads, seconds, property.c_str());
  std::fflush(stdout);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  long total = 0;
  for (std::uint64_t batch = 0;; batch++) {
    for (const char* name : {"interleaved", "concurrent"}) {
      if (property != "all" && property != name) continue;
      rc::detail::TestParams params;
      params.seed = replay ? replay_seed : mix(seed + batch);
      params.maxSuccess = cases;
      params.maxSize = 100;
      // The concurrent property's failures depend on the interleaving, so
      // a shrunk program would rarely fail again: it reports the program
      // as generated.  The interleaved property shrinks.
      params.disableShrinking = std::strcmp(name, "concurrent") == 0;
      rc::detail::TestMetadata meta;
      meta.id = meta.description = name;
      const bool interleaved = std::strcmp(name, "interleaved") == 0;
      const auto result =
          interleaved
              ? rc::detail::checkTestable([&] { property_interleaved(shape); }, meta, params)
              : rc::detail::checkTestable([&] { property_concurrent(shape); }, meta, params);
      if (!result.is<rc::detail::SuccessResult>()) {
        std::ostringstream os;
        rc::detail::printResultMessage(result, os);
        std::printf("FAILED: property %s after %.1f s (%ld cases before this batch)\n%s\n", name,
                    elapsed(), total, os.str().c_str());
        std::printf("replay: %s --property %s --threads %d --cases %d --replay %llu\n", argv[0], name,
                    shape.threads, cases, static_cast<unsigned long long>(params.seed));
        return 1;
      }
      total += cases;
    }
    if (replay || elapsed() >= seconds) break;
  }
  std::printf("stress_core: passed, %ld cases in %.1f s\n", total, elapsed());
  return 0;
}
