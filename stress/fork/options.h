// stress/fork/options.h -- stress_fork's command line (the usage is at the
// top of main.cc) and the command that replays a run.
#pragma once

#include <cstdint>
#include <string>

namespace stressfork {

struct Options {
  int threads = 3;
  double seconds = 30;
  double shrink_seconds = 120;
  bool seed_given = false;
  std::uint64_t seed = 0;
  std::string gc;  // "", "stw", "concurrent"
  bool sequential = true, concurrent = true;
  int batch = 10;
  unsigned without = 0;      // operation types not generated (--without)
  std::string without_arg;
  std::string argv0;
};

// The options of this process: parsed by main before anything else runs,
// read-only afterwards.
extern Options g_opt;

// Parses argv; prints the usage and exits with status 2 on a bad argument.
Options parse_args(int argc, char** argv);

// The command that replays a run of rapidcheck seed `seed` with g_opt (the
// environment variables that change the interpreter included).
std::string replay_command(std::uint64_t seed);

}  // namespace stressfork
