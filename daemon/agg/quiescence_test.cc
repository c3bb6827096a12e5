#include "daemon/agg/quiescence.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

struct Slot {
  uint64_t count = 0;  // Plain: written by the reader only while it owns it.
};

// The reader bumps whatever slot is current, inside a section; the other
// thread swaps slots and, once the reader is quiescent, checks the old slot
// no longer changes. Every bump is in exactly one slot.
TEST(QuiescenceTest, SwappedOutSlotIsNeverWrittenAfterQuiescence) {
  InitAsymmetricFence();
  ReaderSection section;
  std::vector<std::unique_ptr<Slot>> slots;
  slots.push_back(std::make_unique<Slot>());
  std::atomic<Slot*> current{slots.back().get()};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bumps{0};
  std::atomic<uint64_t> progress{0};  // Bumps so far, for the other thread.

  std::thread reader([&] {
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      section.Enter();
      Slot* s = current.load(std::memory_order_acquire);
      s->count++;
      section.Exit();
      progress.store(++n, std::memory_order_relaxed);
    }
    bumps.store(n);
  });

  uint64_t retired = 0;
  for (int round = 0; round < 300; ++round) {
    slots.push_back(std::make_unique<Slot>());
    Slot* old = current.exchange(slots.back().get(), std::memory_order_acq_rel);
    HeavyFence();
    section.WaitQuiescent();
    const uint64_t seen = old->count;
    // Let the reader run on for 100 more bumps; it must not touch `old`
    // again. (Waiting on its progress, not on a count of yields: on a
    // loaded machine each yield can cost a whole time slice.)
    const uint64_t target = progress.load(std::memory_order_relaxed) + 100;
    while (progress.load(std::memory_order_relaxed) < target) {
      std::this_thread::yield();
    }
    ASSERT_EQ(old->count, seen) << "round " << round;
    retired += seen;
  }
  stop.store(true);
  reader.join();
  EXPECT_EQ(retired + current.load()->count, bumps.load());
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
