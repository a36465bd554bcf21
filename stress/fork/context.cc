// stress/fork/context.cc -- see context.h.
#include "context.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unistd.h>

namespace stressfork {

namespace {

// The context, for a hang.
std::mutex g_context_mu;
std::string g_context;        // guarded by g_context_mu
// A copy for the signal handler; copies are freed eight generations later
// (a handler may still be reading a recent one).
const char* volatile g_crash_text = nullptr;
char* g_crash_ring[8] = {};
unsigned g_crash_next = 0;

}  // namespace

void set_context(const std::string& s) {
  std::lock_guard<std::mutex> l(g_context_mu);
  g_context = s;
  char* copy = static_cast<char*>(std::malloc(s.size() + 1));
  if (copy == nullptr) return;
  std::memcpy(copy, s.c_str(), s.size() + 1);
  g_crash_text = copy;
  char*& slot = g_crash_ring[g_crash_next++ % 8];
  std::free(slot);
  slot = copy;
}

extern "C" void on_fatal_signal(int sig) {
  const char* t = g_crash_text;
  const char head[] = "\nstress_fork: fatal signal; the case that was running:\n";
  ssize_t ignored = write(2, head, sizeof head - 1);
  if (t != nullptr) ignored = write(2, t, std::strlen(t));
  (void)ignored;
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

[[noreturn]] void hang(const std::string& what) {
  std::lock_guard<std::mutex> l(g_context_mu);
  std::fprintf(stderr, "\nstress_fork: HANG: %s (waited 120 s)\n%s\n", what.c_str(), g_context.c_str());
  std::fflush(stderr);
  _exit(3);
}

}  // namespace stressfork
