#include "daemon/server/write_scheduler.h"

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

class Recorder : public Kickable {
 public:
  Recorder(absl::Mutex* mu, std::vector<int>* log, int id)
      : mu_(mu), log_(log), id_(id) {}
  void Kicked() override {
    absl::MutexLock lock(mu_);
    log_->push_back(id_);
    thread_ = std::this_thread::get_id();
  }
  std::thread::id thread() {
    absl::MutexLock lock(mu_);
    return thread_;
  }

 private:
  absl::Mutex* mu_;
  std::vector<int>* log_;
  const int id_;
  std::thread::id thread_;
};

TEST(WriteSchedulerTest, RunsEachKickInOrderOnItsOwnThread) {
  absl::Mutex mu;
  std::vector<int> log;
  std::vector<std::shared_ptr<Recorder>> recorders;
  WriteScheduler scheduler;
  for (int i = 0; i < 100; ++i) {
    recorders.push_back(std::make_shared<Recorder>(&mu, &log, i));
    scheduler.Schedule(recorders.back());
  }
  {
    absl::MutexLock lock(&mu);
    auto all = [&]() { return log.size() == 100; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(20)));
    for (int i = 0; i < 100; ++i) EXPECT_EQ(log[i], i);
  }
  EXPECT_NE(recorders[0]->thread(), std::this_thread::get_id());
}

TEST(WriteSchedulerTest, DestructorRunsWhatIsPending) {
  absl::Mutex mu;
  std::vector<int> log;
  {
    WriteScheduler scheduler;
    for (int i = 0; i < 10; ++i) {
      scheduler.Schedule(std::make_shared<Recorder>(&mu, &log, i));
    }
  }
  absl::MutexLock lock(&mu);
  EXPECT_EQ(log.size(), 10u);
}

}  // namespace
}  // namespace ringwatch
