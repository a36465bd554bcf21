// gc/mutants.cc -- TRICOLOR_MUTANT, read once (gc/mutants.h).
#include "gc/mutants.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tricolor::mutant {

namespace {
constexpr const char* kNames[] = {"no-black-allocation",       "verify-trusts-marks",
                                  "weakrefs-after-finalizers", "no-resurrection-check",
                                  "poll-without-stop",         "candidates-ignore-live-bit",
                                  "no-shade",                  "no-dependents",
                                  "callback-refs-counted",     "starts-before-marks",
                                  "weakref-clears-siblings"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<int>(Mutant::kCount));

int selected() {
  const char* v = std::getenv("TRICOLOR_MUTANT");
  if (v == nullptr || *v == '\0') return -1;
  for (int i = 0; i < static_cast<int>(Mutant::kCount); i++) {
    if (std::strcmp(v, kNames[i]) == 0) return i;
  }
  std::fprintf(stderr, "tricolor: TRICOLOR_MUTANT=%s is not a mutant; the mutants are:", v);
  for (const char* n : kNames) std::fprintf(stderr, " %s", n);
  std::fprintf(stderr, "\n");
  std::abort();
}
}  // namespace

const char* name(Mutant m) { return kNames[static_cast<int>(m)]; }

bool active(Mutant m) {
  static const int which = selected();
  return which == static_cast<int>(m);
}

}  // namespace tricolor::mutant
