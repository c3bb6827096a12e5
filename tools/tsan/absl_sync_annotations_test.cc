// Every absl synchronisation call that absl_sync_annotations.cc wraps, used
// from two threads on data only the call orders. Under --config=tsan a
// wrapper that is missing or tells TSan the wrong thing makes TSan report a
// race here and fail the test; in a plain build it checks the counts.
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace {

constexpr int kRounds = 2000;

TEST(AbslSyncAnnotationsTest, MutexModesOrderGuardedData) {
  absl::Mutex mu;
  long value ABSL_GUARDED_BY(mu) = 0;
  auto work = [&] {
    for (int i = 0; i < kRounds; ++i) {
      switch (i % 3) {
        case 0: {
          absl::MutexLock lock(&mu);
          ++value;
          break;
        }
        case 1: {
          while (!mu.TryLock()) {
          }
          ++value;
          mu.Unlock();
          break;
        }
        case 2: {
          {
            absl::ReaderMutexLock lock(&mu);
            EXPECT_GE(value, 0);
          }
          absl::MutexLock lock(&mu);
          ++value;
          break;
        }
      }
    }
  };
  std::thread other(work);
  work();
  other.join();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(value, 2 * kRounds);
}

// Two players take turns; each waits for its turn a different way each
// round (the timeouts only make the waits loop, nothing is timed).
TEST(AbslSyncAnnotationsTest, ConditionsAndCondVarsHandOver) {
  absl::Mutex mu;
  absl::CondVar cv;
  int turn ABSL_GUARDED_BY(mu) = 0;
  long moves ABSL_GUARDED_BY(mu) = 0;
  struct Waiter {
    const int* turn;
    int me;
  };
  auto player = [&](int me) {
    Waiter waiter{&turn, me};
    const absl::Condition my_turn(
        +[](Waiter* w) { return *w->turn == w->me; }, &waiter);
    for (int i = 0; i < kRounds; ++i) {
      switch (i % 6) {
        case 0:
          mu.LockWhen(my_turn);
          break;
        case 1:
          while (!mu.LockWhenWithTimeout(my_turn, absl::Milliseconds(50))) {
            mu.Unlock();
          }
          break;
        case 2:
          mu.Lock();
          mu.Await(my_turn);
          break;
        case 3:
          mu.Lock();
          while (!mu.AwaitWithTimeout(my_turn, absl::Milliseconds(50))) {
          }
          break;
        case 4:
          mu.Lock();
          while (turn != me) cv.Wait(&mu);
          break;
        case 5:
          mu.Lock();
          while (turn != me) cv.WaitWithTimeout(&mu, absl::Milliseconds(50));
          break;
      }
      ++moves;
      turn = 1 - me;
      cv.SignalAll();
      mu.Unlock();
    }
  };
  std::thread second(player, 1);
  player(0);
  second.join();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(moves, 2 * kRounds);
}

TEST(AbslSyncAnnotationsTest, NotificationOrdersWhatCameBefore) {
  for (int i = 0; i < 200; ++i) {
    absl::Notification done;
    long payload = 0;
    std::thread writer([&] {
      payload = i + 1;
      done.Notify();
    });
    if (i % 2 == 0) {
      done.WaitForNotification();
    } else {
      while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(50))) {
      }
    }
    EXPECT_EQ(payload, i + 1);
    writer.join();
  }
}

}  // namespace
