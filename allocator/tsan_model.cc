// allocator/tsan_model.cc -- allocator/tsan_model.h: mimalloc's ordering of
// frees before reuse, told to ThreadSanitizer per 64 KiB slice (M1, M2 of
// the header).  Compiled to nothing without TSan.
#include "allocator/tsan_model.h"

#if TRICOLOR_TSAN_MODEL
#include <mimalloc.h>                  // mi_usable_size
#include <sanitizer/tsan_interface.h>  // __tsan_acquire, __tsan_release

#include <cstdint>

namespace tricolor::tsan_model {
namespace {

// mimalloc 2.x's page granule (MI_SEGMENT_SLICE_SIZE).
constexpr std::uintptr_t kSlice = std::uintptr_t{1} << 16;

// Calls f(slice) for every slice the block at p overlaps.
template <typename F>
void each_slice(const void* p, F f) {
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t end = start + mi_usable_size(p);
  for (std::uintptr_t s = start & ~(kSlice - 1); s < end; s += kSlice) {
    f(reinterpret_cast<void*>(s));
  }
}

}  // namespace

void freed(const void* p) {
  each_slice(p, [](void* s) { __tsan_release(s); });
}

void allocated(const void* p) {
  each_slice(p, [](void* s) { __tsan_acquire(s); });
}

}  // namespace tricolor::tsan_model
#endif
