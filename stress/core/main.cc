// stress/core/main.cc -- the core stress suite's command line: runs the
// rapidcheck properties over programs (program.h) on the synthetic runtime
// (harness.h), in batches, until the time box is used up.
//
//   stress_core [--property interleaved|concurrent|all] [--threads N]
//               [--seconds S] [--seed N] [--cases K] [--reproduce R]
//
// Each batch runs K cases with a seed derived from --seed.  A failure
// prints the program, the violations, and one command that reproduces it:
// `--reproduce R`, R being rapidcheck's record of the failing case (its
// random state, size and shrink path), which regenerates exactly that
// case -- the same program, thread count, batch size and timing plan.
// The interleaved property is deterministic and rapidcheck shrinks its
// failures, so the command fails the same way, at once.  The concurrent
// one depends on the machine's interleaving, so it is not shrunk, and the
// command runs the same program again and again until it fails or the
// time box (--seconds) ends.  Exit status: 0 passed, 1 a property failed,
// 2 bad usage.
#include <oneapi/tbb/global_control.h>
#include <rapidcheck.h>
#include <rapidcheck/detail/Configuration.h>
#include <rapidcheck/detail/TestListenerAdapter.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>

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
  const stress::Shape shape = *stress::gen_timing(with_batch(base));
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
               "[--threads N] [--seconds S] [--seed N] [--cases K] [--reproduce R]\n",
               why);
  std::exit(2);
}

// rapidcheck's record of one failing case, as text (its `reproduce=` key).
std::string encode(const char* property, const rc::detail::Reproduce& r) {
  rc::detail::Configuration c;
  c.reproduce[property] = r;
  const std::string s = rc::detail::configToMinimalString(c);  // "... reproduce=R ..."
  const std::string key = "reproduce=";
  const std::size_t at = s.find(key) + key.size();
  return s.substr(at, s.find(' ', at) - at);
}

std::unordered_map<std::string, rc::detail::Reproduce> decode(const std::string& text) {
  try {
    auto map = rc::detail::configFromString("reproduce=" + text).reproduce;
    if (map.size() == 1 && (map.count("interleaved") || map.count("concurrent"))) return map;
  } catch (const std::exception&) {
  }
  usage(("--reproduce takes the string a failure printed, not '" + text + "'").c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string property = "all";
  stress::Shape shape;
  double seconds = 30;
  std::uint64_t seed = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
  int cases = 20;
  std::unordered_map<std::string, rc::detail::Reproduce> reproduce;
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
    else if (const char* v = arg("--reproduce")) reproduce = decode(v);
    else usage((std::string("unknown argument ") + argv[i]).c_str());
  }
  if (property != "interleaved" && property != "concurrent" && property != "all") {
    usage("--property takes interleaved, concurrent or all");
  }
  if (shape.threads < 1 || shape.threads > 16) usage("--threads takes 1 to 16");
  if (cases < 1) usage("--cases takes a positive number");
  // rapidcheck's own RC_PARAMS="reproduce=R" works too.
  if (reproduce.empty()) reproduce = rc::detail::configuration().reproduce;
  if (reproduce.size() > 1) usage("RC_PARAMS names more than one property to reproduce");
  if (!reproduce.empty()) property = reproduce.begin()->first;
  // TRICOLOR_TBB_THREADS=N caps TBB's threads, as in the core's tests
  // (tests/support/main.cc): TSan cannot see inside libtbb, so its run
  // keeps the collector's parallel work on the collecting thread.
  std::unique_ptr<tbb::global_control> limit;
  if (const char* n = std::getenv("TRICOLOR_TBB_THREADS"); n && std::atoi(n) > 0) {
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  static_cast<std::size_t>(std::atoi(n)));
  }
  const char* mutant = std::getenv("TRICOLOR_MUTANT");
  if (mutant && *mutant) std::printf("stress_core: mutant %s\n", mutant);
  std::printf("stress_core: seed=%llu threads=%d seconds=%g property=%s%s\n",
              static_cast<unsigned long long>(seed), shape.threads, seconds, property.c_str(),
              reproduce.empty() ? "" : " (reproducing one case)");
  std::fflush(stdout);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  long total = 0;
  rc::detail::TestListenerAdapter quiet;
  for (std::uint64_t batch = 0;; batch++) {
    for (const char* name : {"interleaved", "concurrent"}) {
      if (property != "all" && property != name) continue;
      rc::detail::TestParams params;
      params.seed = mix(seed + batch);
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
              ? rc::detail::checkProperty(rc::detail::toProperty([&] { property_interleaved(shape); }),
                                          meta, params, quiet, reproduce)
              : rc::detail::checkProperty(rc::detail::toProperty([&] { property_concurrent(shape); }),
                                          meta, params, quiet, reproduce);
      if (const auto* failure = result.is<rc::detail::FailureResult>()
                                    ? &result.get<rc::detail::FailureResult>()
                                    : nullptr) {
        std::ostringstream os;
        rc::detail::printResultMessage(result, os);
        std::printf("FAILED: property %s after %.1f s (%ld cases before this batch)\n%s\n", name,
                    elapsed(), total, os.str().c_str());
        std::printf("replay: %s%s%s%s --property %s --threads %d --reproduce %s%s\n",
                    mutant && *mutant ? "TRICOLOR_MUTANT=" : "", mutant && *mutant ? mutant : "",
                    mutant && *mutant ? " " : "", argv[0], name, shape.threads,
                    encode(name, failure->reproduce).c_str(),
                    interleaved ? "" : " --seconds 120");
        return 1;
      }
      // rapidcheck says so when a reproduced case no longer fails.
      const bool reproduced_pass =
          result.is<rc::detail::Error>() &&
          result.get<rc::detail::Error>().description.find("not a failure") != std::string::npos;
      if (!result.is<rc::detail::SuccessResult>() && !(reproduce.size() && reproduced_pass)) {
        // gave up, or an error of rapidcheck's (a --reproduce of another program)
        std::ostringstream os;
        rc::detail::printResultMessage(result, os);
        std::printf("ERROR: property %s: %s\n", name, os.str().c_str());
        return 1;
      }
      total += reproduce.empty() ? cases : 1;
    }
    if ((!reproduce.empty() && property == "interleaved") || elapsed() >= seconds) break;
  }
  std::printf("stress_core: passed, %ld cases in %.1f s\n", total, elapsed());
  return 0;
}
