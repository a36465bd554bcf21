// stress/fork/context.h -- what a crash or a hang prints: the seed, the
// replay command and the program running (set by the property before each
// run), so that a run that dies instead of failing still names its case.
#pragma once

#include <chrono>
#include <string>

namespace stressfork {

// How long a thread waits (for a job, for a reference sent to it) before
// the run is declared hung.
inline constexpr auto kHangTimeout = std::chrono::seconds(120);

// The text a crash or a hang prints from now on (any thread).
void set_context(const std::string& s);

// The handler of SIGSEGV, SIGBUS, SIGABRT, SIGFPE and SIGILL (installed by
// main): writes the context to stderr, then lets the signal take its course.
extern "C" void on_fatal_signal(int sig);

// Reports a hang (`what` waited kHangTimeout) with the context; exits 3.
[[noreturn]] void hang(const std::string& what);

}  // namespace stressfork
