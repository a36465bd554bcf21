// stress/fork/options.cc -- see options.h.
#include "options.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "program.h"  // op_name, kOpTypes: the operations --without names

namespace stressfork {

Options g_opt;

namespace {

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "stress_fork: %s\nusage: stress_fork [--threads N] [--seconds S] [--seed N] "
               "[--gc stw|concurrent] [--variant both|seq|conc] [--shrink-seconds S] [--batch N]\n"
               "  [--without OP,...]  (OP: link unlink drop hand weakref collect setglobal delglobal dictview)\n",
               msg);
  std::exit(2);
}

}  // namespace

Options parse_args(int argc, char** argv) {
  Options o;
  o.argv0 = argv[0];
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    try {
      if (a == "--threads") {
        o.threads = std::stoi(value());
        if (o.threads < 1 || o.threads > 16) usage("--threads: 1..16");
      } else if (a == "--seconds") {
        o.seconds = std::stod(value());
      } else if (a == "--shrink-seconds") {
        o.shrink_seconds = std::stod(value());
      } else if (a == "--seed") {
        o.seed = std::stoull(value());
        o.seed_given = true;
      } else if (a == "--gc") {
        o.gc = value();
        if (o.gc != "stw" && o.gc != "concurrent") usage("--gc: stw or concurrent");
      } else if (a == "--variant") {
        const std::string v = value();
        if (v == "both") {
          o.sequential = o.concurrent = true;
        } else if (v == "seq") {
          o.sequential = true;
          o.concurrent = false;
        } else if (v == "conc") {
          o.sequential = false;
          o.concurrent = true;
        } else {
          usage("--variant: both, seq or conc");
        }
      } else if (a == "--without") {
        o.without_arg = value();
        std::stringstream ss(o.without_arg);
        std::string name;
        while (std::getline(ss, name, ',')) {
          int t = 0;
          while (t < kOpTypes && name != op_name(static_cast<OpType>(t))) t++;
          if (t == kOpTypes || t == static_cast<int>(OpType::kCreate)) usage(("--without: bad operation " + name).c_str());
          o.without |= 1u << t;
        }
      } else if (a == "--batch") {
        o.batch = std::stoi(value());
        if (o.batch < 1) usage("--batch: at least 1");
      } else if (a == "-h" || a == "--help") {
        usage("help");
      } else {
        usage(("unknown argument " + a).c_str());
      }
    } catch (const std::logic_error&) {
      usage(("bad value for " + a).c_str());
    }
  }
  return o;
}

std::string replay_command(std::uint64_t seed) {
  std::ostringstream os;
  for (const char* var : {"PYTHON_SAFEPOINT_STRESS", "PYTHON_GC"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') os << var << "=" << v << " ";
  }
  os << "RC_PARAMS=\"seed=" << seed << "\" " << g_opt.argv0 << " --threads " << g_opt.threads
     << " --seconds " << g_opt.seconds;
  if (!g_opt.gc.empty()) os << " --gc " << g_opt.gc;
  if (!(g_opt.sequential && g_opt.concurrent)) os << " --variant " << (g_opt.sequential ? "seq" : "conc");
  if (g_opt.batch != 10) os << " --batch " << g_opt.batch;
  if (!g_opt.without_arg.empty()) os << " --without " << g_opt.without_arg;
  return os.str();
}

}  // namespace stressfork
