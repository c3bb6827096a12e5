// Lets the merger take something away from a reader thread (a window's open
// partial, an old dispatch table) without the reader paying for a lock or an
// atomic read-modify-write per event.
//
// Each reader brackets its work on one record in a ReaderSection: an odd
// sequence number while inside, even outside. The merger first swaps the
// shared pointer, then calls HeavyFence() and WaitQuiescent(): once the
// reader is seen outside a section (or has left the one it was in), it can
// no longer hold the old pointer.
//
// The fence is asymmetric, as in liburcu and folly: the reader only keeps
// the compiler from reordering (its "light" side), and the merger runs
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which makes every running
// thread of the process execute a full barrier. Without membarrier the light
// side becomes a real seq_cst fence.
#ifndef RINGWATCH_DAEMON_AGG_QUIESCENCE_H_
#define RINGWATCH_DAEMON_AGG_QUIESCENCE_H_

#include <atomic>
#include <cstdint>

namespace ringwatch {
namespace agg {

// Registers the process for expedited membarrier once; true when available.
// Call before starting reader threads (Engine::Create does).
bool InitAsymmetricFence();

namespace internal {
extern std::atomic<bool> heavy_fence_available;
}  // namespace internal

// Reader side: orders the section's store before its later loads.
inline void LightFence() {
  if (internal::heavy_fence_available.load(std::memory_order_relaxed)) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

// Merger side: after it, every reader either had its section store visible
// or will see the merger's earlier stores on its next loads.
void HeavyFence();

class ReaderSection {
 public:
  // Reader thread only.
  void Enter() {
    ++local_;
    seq_.store(local_, std::memory_order_relaxed);
    LightFence();
  }
  void Exit() {
    ++local_;
    seq_.store(local_, std::memory_order_release);
  }

  // Any other thread, after HeavyFence(): returns once the reader is not in
  // the section it might have been in at the fence. Spins (yielding): a
  // section is one record's work.
  void WaitQuiescent() const;

 private:
  alignas(64) std::atomic<uint64_t> seq_{0};
  uint64_t local_ = 0;  // Reader's own copy.
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_QUIESCENCE_H_
