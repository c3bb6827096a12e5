#include "daemon/agg/quiescence.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace ringwatch {
namespace agg {
namespace internal {
std::atomic<bool> heavy_fence_available{false};
}  // namespace internal

namespace {

long Membarrier(int cmd) { return syscall(__NR_membarrier, cmd, 0, 0); }

bool Register() {
  const long supported = Membarrier(MEMBARRIER_CMD_QUERY);
  if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) {
    return false;
  }
  return Membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

}  // namespace

bool InitAsymmetricFence() {
  static const bool available = [] {
    const bool ok = Register();
    internal::heavy_fence_available.store(ok, std::memory_order_relaxed);
    return ok;
  }();
  return available;
}

void HeavyFence() {
  if (internal::heavy_fence_available.load(std::memory_order_relaxed)) {
    if (Membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
    // Registered, so this cannot fail; should it, the readers' light side
    // is only a compiler fence and nothing here could make up for it.
    // Fall back for the process: readers pick up full fences from now on.
    internal::heavy_fence_available.store(false, std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void ReaderSection::WaitQuiescent() const {
  const uint64_t seen = seq_.load(std::memory_order_acquire);
  if ((seen & 1) == 0) return;
  while (seq_.load(std::memory_order_acquire) == seen) {
    std::this_thread::yield();
  }
}

}  // namespace agg
}  // namespace ringwatch
