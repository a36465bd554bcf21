// bench/core/hiccup.cc -- the machine's own noise floor: how often, and for how
// long, a thread that never blocks is kept from running.
//
//   hiccup --seconds S
//
// Spins reading the monotonic clock for S seconds, touching no memory and
// making no system call, and counts the gaps between consecutive reads
// longer than 50 us, 200 us, 1 ms and 2 ms.  On bare metal the gaps are
// timer interrupts (a few us); in a virtual machine they include the time
// the host runs something else on this vCPU, which the guest cannot see
// (no context switch, no steal time on this machine).  Any pause or stall
// measured here can be stretched by as much; bench/core/hiccup.py runs one
// spinner per CPU, pinned, and reports them next to the pause benchmarks.
// Prints one JSON object.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  double seconds = 10;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "usage: hiccup [--seconds S]\n");
      return 2;
    }
  }
  using clock = std::chrono::steady_clock;
  constexpr long kLimitsUs[] = {50, 200, 1000, 2000};
  long over[4] = {};
  long worst_ns = 0;
  const auto start = clock::now();
  const auto end = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
  auto last = start;
  while (last < end) {
    auto t = clock::now();
    long gap = std::chrono::duration_cast<std::chrono::nanoseconds>(t - last).count();
    last = t;
    if (gap > worst_ns) worst_ns = gap;
    for (int k = 0; k < 4; k++) over[k] += gap > kLimitsUs[k] * 1000;
  }
  std::printf("{\"seconds\":%g,\"over_50us\":%ld,\"over_200us\":%ld,\"over_1ms\":%ld,\"over_2ms\":%ld,"
              "\"worst_ns\":%ld}\n", seconds, over[0], over[1], over[2], over[3], worst_ns);
  return 0;
}
