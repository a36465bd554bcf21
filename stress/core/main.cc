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
//
// A crash or a kill loses rapidcheck's record, so each case is also named
// by its place: batch B (seed mix(--seed + B)) and index C in it.  Before
// a case runs, main formats the line that replays it, and a fatal signal
// (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT) writes that
// line to stderr before the signal takes its course:
//   stress_core: died in case C of batch B; replay: ... --case B:C
// `--case B:C` (with the same --seed, --cases, --threads and property)
// generates batch B again, skips its other cases, and runs case C: once
// for the interleaved property, again and again until --seconds for the
// concurrent one.
#include <rapidcheck.h>
#include <rapidcheck/detail/Configuration.h>
#include <rapidcheck/detail/TestListenerAdapter.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
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

// Where the run is: the case about to run, and the line that replays it.
struct Place {
  std::string prefix;         // "stress_core: died in case " -- set once in main
  std::string replay;         // "; replay: ... --case " -- set once in main
  std::uint64_t batch = 0;
  int index = 0;              // of the case in its batch, from 0
  int only = -1;              // --case: the one index to run, or -1
  // What a fatal signal writes: two buffers, so that a signal during the
  // formatting of one still finds the other whole.
  char lines[2][1024] = {"stress_core: died before its first case\n", ""};
  std::atomic<const char*> line{lines[0]};
} place;

// Counts the case and formats its line; false if --case skips it.
bool enter_case() {
  const int i = place.index++;
  if (place.only >= 0 && i != place.only) return false;
  char* next = place.line.load() == place.lines[0] ? place.lines[1] : place.lines[0];
  std::snprintf(next, sizeof place.lines[0], "%s%d of batch %llu%s%llu:%d\n", place.prefix.c_str(), i,
                static_cast<unsigned long long>(place.batch), place.replay.c_str(),
                static_cast<unsigned long long>(place.batch), i);
  place.line.store(next);
  return true;
}

constexpr std::initializer_list<int> kFatal = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT};
struct sigaction previous[NSIG];

// Async-signal-safe: one write, then the signal's previous disposition
// (a sanitizer's report, or the default action) takes over.
void on_fatal(int sig, siginfo_t* info, void*) {
  const int saved_errno = errno;
  const char* line = place.line.load();
  const ssize_t ignored = write(STDERR_FILENO, line, std::strlen(line));
  (void)ignored;
  sigaction(sig, &previous[sig], nullptr);
  // A fault returns to the faulting instruction, which faults again and
  // reaches the previous handler with its own context; a signal that was
  // sent (kill, abort) is sent again.
  const bool fault = info->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
  if (!fault) raise(sig);
  errno = saved_errno;
}

void property_interleaved(const stress::Shape& base) {
  if (!enter_case()) return;
  const stress::Shape shape = with_batch(base);
  const auto program = *rc::gen::resize(100, stress::gen_program(shape));
  const auto violations = stress::run_interleaved(program, shape);
  if (!violations.empty()) RC_FAIL(join(violations));
}

void property_concurrent(const stress::Shape& base) {
  if (!enter_case()) return;
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
               "[--threads N] [--seconds S] [--seed N] [--cases K] [--reproduce R] [--case B:C]\n",
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
    else if (const char* v = arg("--case")) {
      unsigned long long b = 0;
      int c = -1;
      if (std::sscanf(v, "%llu:%d", &b, &c) != 2 || c < 0) usage("--case takes B:C, as a crash printed it");
      place.batch = b;
      place.only = c;
    }
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
  if (place.only >= 0 && property == "all") usage("--case needs --property interleaved or concurrent");
  if (place.only >= cases) usage("--case B:C needs C below --cases");
  if (place.only >= 0 && !reproduce.empty()) usage("--case and --reproduce exclude each other");
  // TRICOLOR_TBB_THREADS=N caps TBB's threads, as in the core's tests
  // (tests/support/tsan_defaults.h; 1 by default in a TSan build).
  const auto limit = tbb_limit();
  const char* mutant = std::getenv("TRICOLOR_MUTANT");
  if (mutant && *mutant) std::printf("stress_core: mutant %s\n", mutant);
  std::printf("stress_core: seed=%llu threads=%d seconds=%g property=%s%s\n",
              static_cast<unsigned long long>(seed), shape.threads, seconds, property.c_str(),
              reproduce.empty() && place.only < 0 ? "" : " (reproducing one case)");
  std::fflush(stdout);

  std::string replay_head;
  {
    const char* m = mutant && *mutant ? mutant : nullptr;
    place.prefix = "stress_core: died in case ";
    replay_head = std::string("; replay: ") + (m ? "TRICOLOR_MUTANT=" + std::string(m) + " " : "") +
                  argv[0] + " --threads " + std::to_string(shape.threads) + " --seed " +
                  std::to_string(seed) + " --cases " + std::to_string(cases) + " --property ";
    struct sigaction sa {};
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (int sig : kFatal) sigaction(sig, &sa, &previous[sig]);
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  long total = 0;
  rc::detail::TestListenerAdapter quiet;
  const bool one_case = place.only >= 0;
  for (std::uint64_t batch = one_case ? place.batch : 0;; batch += one_case ? 0 : 1) {
    for (const char* name : {"interleaved", "concurrent"}) {
      if (property != "all" && property != name) continue;
      place.replay = replay_head + name + (std::strcmp(name, "concurrent") == 0 ? " --seconds 120" : "") +
                     " --case ";
      place.batch = batch;
      place.index = 0;
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
      total += reproduce.empty() && !one_case ? cases : 1;
    }
    const bool once = !reproduce.empty() || one_case;
    if ((once && property == "interleaved") || elapsed() >= seconds) break;
  }
  std::printf("stress_core: passed, %ld cases in %.1f s\n", total, elapsed());
  return 0;
}
