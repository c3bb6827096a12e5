// ReaderPool against fake rings whose descriptor is an eventfd the test
// makes readable: threading, wake-ups, stop with and without flush, drain,
// errors and counters, without a kernel ring.
#include "daemon/reader/reader_pool.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/ring/record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(10);

// A ring fed by the test: Push() queues records, Signal() makes fd()
// readable as the kernel does when it wakes readers.
class FakeRing : public CpuRing {
 public:
  explicit FakeRing(uint32_t cpu)
      : CpuRing(cpu), efd_(::eventfd(0, EFD_NONBLOCK)) {}
  ~FakeRing() override { ::close(efd_); }

  void Push(uint64_t ts, bool signal) {
    {
      absl::MutexLock lock(&mu_);
      pending_.push_back(ts);
    }
    if (signal) Signal();
  }
  void Signal() {
    uint64_t one = 1;
    ASSERT_EQ(::write(efd_, &one, sizeof(one)), 8);
  }
  void FailNextRead(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = status;
  }
  // Whether reads say they left the ring empty (a real ring says no when it
  // stopped at a bound).
  void SetDrains(bool drains) {
    absl::MutexLock lock(&mu_);
    drains_ = drains;
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  bool WaitForCalls(int n) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return calls_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kDeadline);
  }

  absl::StatusOr<bool> ReadAvailable(RecordSink* sink) override {
    // As a real ring: a sink without room leaves everything in the ring,
    // which stays readable.
    if (!SinkHasRoom(sink, 4096)) {
      absl::MutexLock lock(&mu_);
      ++calls_;
      return false;
    }
    uint64_t value;
    // Back to idle; EAGAIN when the pool read us without a wake-up.
    if (::read(efd_, &value, sizeof(value)) < 0 && errno != EAGAIN) {
      return absl::ErrnoToStatus(errno, "fake ring eventfd");
    }
    std::deque<uint64_t> batch;
    {
      absl::MutexLock lock(&mu_);
      ++calls_;
      if (!fail_.ok()) return std::exchange(fail_, absl::OkStatus());
      batch.swap(pending_);
      drained_ = drains_;
    }
    uint8_t payload[8] = {1, 0};
    for (uint64_t ts : batch) {
      RecordView r;
      r.cpu = cpu_;
      r.timestamp = ts;
      r.payload = absl::MakeConstSpan(payload);
      sink->OnRecord(r);
      ++decode_.events;
      decode_.bytes += sizeof(payload);
    }
    if (!batch.empty()) ++decode_.subbufs;
    Publish();
    return !batch.empty();
  }
  int fd() const override { return efd_; }
  bool mapped() const override { return false; }

 private:
  int efd_;
  mutable absl::Mutex mu_;
  std::deque<uint64_t> pending_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool drains_ ABSL_GUARDED_BY(mu_) = true;
};

// Records what it got and on which thread; the test waits on its count.
class RecordingSink : public RecordSink {
 public:
  void OnRecord(const RecordView& r) override {
    absl::MutexLock lock(&mu_);
    timestamps_.push_back(r.timestamp);
    threads_.insert(std::this_thread::get_id());
  }
  void OnDrained(int64_t monotonic_ns) override {
    absl::MutexLock lock(&mu_);
    drained_.push_back(monotonic_ns);
  }
  // Backpressure: says no while closed, counting the questions.
  bool HasRoomFor(uint32_t records) override {
    absl::MutexLock lock(&mu_);
    ++room_asked_;
    return room_;
  }
  void SetRoom(bool room) {
    absl::MutexLock lock(&mu_);
    room_ = room;
  }
  bool WaitForRoomAsked(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return room_asked_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kDeadline);
  }
  bool WaitForDrained(size_t n) { return AwaitSize(drained_, n); }
  std::vector<int64_t> drained() const {
    absl::MutexLock lock(&mu_);
    return drained_;
  }
  bool WaitFor(size_t n) { return AwaitSize(timestamps_, n); }
  std::vector<uint64_t> timestamps() const {
    absl::MutexLock lock(&mu_);
    return timestamps_;
  }
  std::set<std::thread::id> threads() const {
    absl::MutexLock lock(&mu_);
    return threads_;
  }

 private:
  // Waits until `items` (a member guarded by mu_) holds `n` or more.
  template <typename T>
  bool AwaitSize(const std::vector<T>& items, size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&items, n] { return items.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kDeadline);
  }

  mutable absl::Mutex mu_;
  std::vector<uint64_t> timestamps_ ABSL_GUARDED_BY(mu_);
  std::set<std::thread::id> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> drained_ ABSL_GUARDED_BY(mu_);
  bool room_ ABSL_GUARDED_BY(mu_) = true;
  int room_asked_ ABSL_GUARDED_BY(mu_) = 0;
};

struct Fixture {
  explicit Fixture(int n) : sinks(n) {
    for (int i = 0; i < n; ++i) {
      auto ring = std::make_unique<FakeRing>(i);
      fakes.push_back(ring.get());
      rings.push_back(std::move(ring));
    }
  }
  std::vector<RecordSink*> SinkPointers() {
    std::vector<RecordSink*> out;
    for (RecordingSink& s : sinks) out.push_back(&s);
    return out;
  }
  std::unique_ptr<ReaderPool> Pool(ReaderPoolOptions options = {}) {
    auto pool = ReaderPool::Create(std::move(rings), SinkPointers(), options);
    EXPECT_TRUE(pool.ok()) << pool.status();
    return pool.ok() ? std::move(*pool) : nullptr;
  }
  std::vector<std::unique_ptr<CpuRing>> rings;
  std::vector<FakeRing*> fakes;
  std::vector<RecordingSink> sinks;
};

TEST(ReaderPoolTest, WakesOnPollAndDeliversOnOneThreadPerRing) {
  Fixture f(2);
  std::unique_ptr<ReaderPool> pool = f.Pool();
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->num_threads(), 2u);
  ASSERT_TRUE(pool->Start().ok());
  f.fakes[0]->Push(10, true);
  f.fakes[1]->Push(20, true);
  f.fakes[0]->Push(11, true);
  ASSERT_TRUE(f.sinks[0].WaitFor(2));
  ASSERT_TRUE(f.sinks[1].WaitFor(1));
  EXPECT_THAT(f.sinks[0].timestamps(), ElementsAre(10, 11));
  EXPECT_THAT(f.sinks[1].timestamps(), ElementsAre(20));
  ASSERT_TRUE(pool->Stop().ok());
  // Each sink ran on exactly one thread, not ours, and not the other's.
  std::set<std::thread::id> t0 = f.sinks[0].threads();
  std::set<std::thread::id> t1 = f.sinks[1].threads();
  ASSERT_EQ(t0.size(), 1u);
  ASSERT_EQ(t1.size(), 1u);
  EXPECT_NE(*t0.begin(), *t1.begin());
  EXPECT_NE(*t0.begin(), std::this_thread::get_id());
  std::vector<RingCounters> c = pool->Counters();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].events, 2u);
  EXPECT_EQ(c[1].events, 1u);
  EXPECT_EQ(c[1].cpu, 1u);
  EXPECT_EQ(pool->Total().events, 3u);
  EXPECT_EQ(pool->Total().bytes, 24u);
}

TEST(ReaderPoolTest, SmallerPoolSharesThreadsRoundRobin) {
  Fixture f(3);
  ReaderPoolOptions options;
  options.threads = 2;
  std::unique_ptr<ReaderPool> pool = f.Pool(options);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->num_threads(), 2u);
  ASSERT_TRUE(pool->Start().ok());
  for (int i = 0; i < 3; ++i) f.fakes[i]->Push(100 + i, true);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.sinks[i].WaitFor(1)) << i;
  ASSERT_TRUE(pool->Stop().ok());
  // Rings 0 and 2 are polled by the same thread, ring 1 by the other.
  EXPECT_EQ(f.sinks[0].threads(), f.sinks[2].threads());
  EXPECT_NE(f.sinks[0].threads(), f.sinks[1].threads());
}

TEST(ReaderPoolTest, StopWithFlushReadsWhatNoWakeUpAnnounced) {
  Fixture f(1);
  std::unique_ptr<ReaderPool> pool = f.Pool();
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Start().ok());
  // The thread has done its first pass and sleeps in poll().
  ASSERT_TRUE(f.fakes[0]->WaitForCalls(1));
  f.fakes[0]->Push(7, /*signal=*/false);
  ASSERT_TRUE(pool->Stop(/*flush=*/true).ok());
  EXPECT_THAT(f.sinks[0].timestamps(), ElementsAre(7));
  EXPECT_FALSE(pool->running());
}

TEST(ReaderPoolTest, StopWithoutFlushLeavesTheTail) {
  Fixture f(1);
  std::unique_ptr<ReaderPool> pool = f.Pool();
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Start().ok());
  ASSERT_TRUE(f.fakes[0]->WaitForCalls(1));
  f.fakes[0]->Push(7, /*signal=*/false);
  ASSERT_TRUE(pool->Stop(/*flush=*/false).ok());
  EXPECT_TRUE(f.sinks[0].timestamps().empty());
  // Restartable: the pending record is read on the first pass.
  ASSERT_TRUE(pool->Start().ok());
  ASSERT_TRUE(f.sinks[0].WaitFor(1));
  ASSERT_TRUE(pool->Stop().ok());
  EXPECT_THAT(f.sinks[0].timestamps(), ElementsAre(7));
}

TEST(ReaderPoolTest, TickReadsRingsTheKernelDidNotWake) {
  Fixture f(1);
  ReaderPoolOptions options;
  options.tick = absl::Milliseconds(5);
  std::unique_ptr<ReaderPool> pool = f.Pool(options);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Start().ok());
  ASSERT_TRUE(f.fakes[0]->WaitForCalls(1));
  f.fakes[0]->Push(9, /*signal=*/false);
  EXPECT_TRUE(f.sinks[0].WaitFor(1));
  ASSERT_TRUE(pool->Stop(/*flush=*/false).ok());
  EXPECT_THAT(f.sinks[0].timestamps(), ElementsAre(9));
}

int64_t NowMonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// A read that leaves its ring empty is reported to the sink with the
// CLOCK_MONOTONIC time the read began; one stopped at a bound is not.
TEST(ReaderPoolTest, DrainedReadsAreReportedWithTheirStartTime) {
  Fixture f(2);
  f.fakes[1]->SetDrains(false);
  ReaderPoolOptions options;
  options.tick = absl::Milliseconds(5);
  std::unique_ptr<ReaderPool> pool = f.Pool(options);
  ASSERT_NE(pool, nullptr);
  const int64_t before = NowMonotonicNs();
  ASSERT_TRUE(pool->Start().ok());
  ASSERT_TRUE(f.sinks[0].WaitForDrained(3));
  ASSERT_TRUE(f.fakes[1]->WaitForCalls(3));
  ASSERT_TRUE(pool->Stop(/*flush=*/false).ok());
  const int64_t after = NowMonotonicNs();
  const std::vector<int64_t> reports = f.sinks[0].drained();
  for (size_t i = 0; i < reports.size(); ++i) {
    EXPECT_GE(reports[i], before);
    EXPECT_LE(reports[i], after);
    if (i > 0) EXPECT_GE(reports[i], reports[i - 1]);
  }
  EXPECT_TRUE(f.sinks[1].drained().empty());
}

TEST(ReaderPoolTest, HeartbeatIsFreshWhileThreadsLoopAndStaleOnceTheyEnd) {
  Fixture f(1);
  ReaderPoolOptions options;
  options.tick = absl::Milliseconds(5);
  std::unique_ptr<ReaderPool> pool = f.Pool(options);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->LongestSinceHeartbeat(), absl::InfiniteDuration());
  ASSERT_TRUE(pool->Start().ok());
  ASSERT_TRUE(f.fakes[0]->WaitForCalls(3));  // Three rounds of the loop.
  EXPECT_LT(pool->LongestSinceHeartbeat(), absl::Seconds(5));
  // A ring whose reads fail leaves its thread with nothing to read: the
  // thread ends and its heartbeat goes stale, which the watchdog sees.
  f.fakes[0]->FailNextRead(absl::InternalError("gone"));
  const absl::Time deadline = absl::Now() + kDeadline;
  while (pool->LongestSinceHeartbeat() != absl::InfiniteDuration() &&
         absl::Now() < deadline) {
    ASSERT_TRUE(f.fakes[0]->WaitForCalls(f.fakes[0]->calls() + 1) ||
                pool->LongestSinceHeartbeat() == absl::InfiniteDuration());
  }
  EXPECT_EQ(pool->LongestSinceHeartbeat(), absl::InfiniteDuration());
  pool->Stop(/*flush=*/false).IgnoreError();
}

// Backpressure: a full sink leaves the records in the ring (no tick, no
// new wake-up: the pool asks again by itself) and gets them once it has
// room; the other ring is read meanwhile.
TEST(ReaderPoolTest, HeldBackRingIsReadOnceItsSinkHasRoom) {
  Fixture f(2);
  f.sinks[0].SetRoom(false);
  ReaderPoolOptions options;
  options.threads = 1;  // Both rings on one thread: the other must go on.
  std::unique_ptr<ReaderPool> pool = f.Pool(options);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Start().ok());
  f.fakes[0]->Push(1, /*signal=*/true);
  f.fakes[0]->Push(2, /*signal=*/false);
  // Asked again and again without a wake-up or a tick.
  ASSERT_TRUE(f.sinks[0].WaitForRoomAsked(5));
  EXPECT_TRUE(f.sinks[0].timestamps().empty());
  f.fakes[1]->Push(7, /*signal=*/true);
  ASSERT_TRUE(f.sinks[1].WaitFor(1));
  EXPECT_TRUE(f.sinks[0].timestamps().empty());
  EXPECT_LT(pool->LongestSinceHeartbeat(), absl::Seconds(5));
  f.sinks[0].SetRoom(true);
  ASSERT_TRUE(f.sinks[0].WaitFor(2));
  EXPECT_THAT(f.sinks[0].timestamps(), ElementsAre(1, 2));
  ASSERT_TRUE(pool->Stop().ok());
}

// A stage that never frees room: past stuck_after the thread stops beating
// (the watchdog's view), and a flush on Stop gives up and says so.
TEST(ReaderPoolTest, ReaderHeldBackPastStuckAfterStopsItsHeartbeat) {
  Fixture f(1);
  f.sinks[0].SetRoom(false);
  ReaderPoolOptions options;
  options.stuck_after = absl::Milliseconds(20);
  std::unique_ptr<ReaderPool> pool = f.Pool(options);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Start().ok());
  f.fakes[0]->Push(1, /*signal=*/true);
  const absl::Time deadline = absl::Now() + kDeadline;
  while (pool->LongestSinceHeartbeat() <= absl::Milliseconds(100) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));  // Polling the heartbeat's age.
  }
  EXPECT_GT(pool->LongestSinceHeartbeat(), absl::Milliseconds(100));
  EXPECT_TRUE(f.sinks[0].WaitForRoomAsked(10));  // Still asking.
  absl::Status stopped = pool->Stop(/*flush=*/true);
  EXPECT_EQ(stopped.code(), absl::StatusCode::kDeadlineExceeded) << stopped;
  EXPECT_THAT(std::string(stopped.message()), HasSubstr("held back"));
  EXPECT_TRUE(f.sinks[0].timestamps().empty());
}

TEST(ReaderPoolTest, FailingRingIsDroppedAndReportedOthersContinue) {
  Fixture f(2);
  ReaderPoolOptions options;
  options.threads = 1;
  std::unique_ptr<ReaderPool> pool = f.Pool(options);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Start().ok());
  ASSERT_TRUE(f.fakes[0]->WaitForCalls(1));
  f.fakes[0]->FailNextRead(absl::DataLossError("ring 0 broke"));
  f.fakes[0]->Signal();
  ASSERT_TRUE(f.fakes[0]->WaitForCalls(2));
  f.fakes[1]->Push(5, true);
  ASSERT_TRUE(f.sinks[1].WaitFor(1));
  f.fakes[0]->Push(6, true);  // Dropped from the poll set: never read.
  absl::Status stopped = pool->Stop(/*flush=*/true);
  EXPECT_EQ(stopped.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(stopped.message(), HasSubstr("ring 0 broke"));
  EXPECT_TRUE(f.sinks[0].timestamps().empty());
  EXPECT_EQ(f.fakes[0]->calls(), 2);
}

TEST(ReaderPoolTest, DrainReadsEverythingThenReturns) {
  Fixture f(3);
  ReaderPoolOptions options;
  options.threads = 2;
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 5; ++k) f.fakes[i]->Push(i * 100 + k, false);
  }
  std::unique_ptr<ReaderPool> pool = f.Pool(options);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Drain().ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(f.sinks[i].timestamps().size(), 5u) << i;
    // One pass that delivered, one that found the ring empty.
    EXPECT_EQ(f.fakes[i]->calls(), 2) << i;
  }
  EXPECT_EQ(pool->Total().events, 15u);
  EXPECT_FALSE(pool->running());
}

TEST(ReaderPoolTest, CreateRejectsBadArguments) {
  {
    Fixture f(2);
    std::vector<RecordSink*> one_sink = {&f.sinks[0]};
    auto pool = ReaderPool::Create(std::move(f.rings), one_sink, {});
    ASSERT_FALSE(pool.ok());
    EXPECT_THAT(pool.status().message(), HasSubstr("2 rings but 1 sinks"));
  }
  {
    Fixture f(1);
    ReaderPoolOptions options;
    options.threads = -1;
    auto pool =
        ReaderPool::Create(std::move(f.rings), f.SinkPointers(), options);
    ASSERT_FALSE(pool.ok());
    EXPECT_THAT(pool.status().message(), HasSubstr("negative thread count"));
  }
  {
    auto pool = ReaderPool::Create({}, {}, {});
    ASSERT_FALSE(pool.ok());
    EXPECT_THAT(pool.status().message(), HasSubstr("no rings"));
  }
}

TEST(ReaderPoolTest, ThreadIdsNameTheReaderThreads) {
  Fixture f(3);
  ReaderPoolOptions options;
  options.threads = 2;
  std::unique_ptr<ReaderPool> pool = f.Pool(options);
  ASSERT_NE(pool, nullptr);
  EXPECT_TRUE(pool->ThreadIds().empty());
  ASSERT_TRUE(pool->Start().ok());
  std::vector<pid_t> tids = pool->ThreadIds();
  ASSERT_EQ(tids.size(), 2u);
  const pid_t self = static_cast<pid_t>(::syscall(SYS_gettid));
  for (pid_t tid : tids) {
    EXPECT_GT(tid, 0);
    EXPECT_NE(tid, self);
    // A thread of this process: /proc/self/task/<tid> exists.
    EXPECT_EQ(::access(absl::StrCat("/proc/self/task/", tid).c_str(), F_OK), 0)
        << tid;
  }
  EXPECT_NE(tids[0], tids[1]);
  ASSERT_TRUE(pool->Stop().ok());
  EXPECT_TRUE(pool->ThreadIds().empty());
}

TEST(ReaderPoolTest, StartTwiceAndStopIdleFail) {
  Fixture f(1);
  std::unique_ptr<ReaderPool> pool = f.Pool();
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->Stop().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(pool->Start().ok());
  EXPECT_EQ(pool->Start().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pool->Drain().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(pool->Stop().ok());
}

}  // namespace
}  // namespace ringwatch
