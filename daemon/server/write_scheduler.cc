#include "daemon/server/write_scheduler.h"

#include <utility>

namespace ringwatch {

WriteScheduler::WriteScheduler() : thread_([this] { Run(); }) {}

WriteScheduler::~WriteScheduler() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void WriteScheduler::Schedule(std::shared_ptr<Kickable> k) {
  absl::MutexLock lock(&mu_);
  pending_.push_back(std::move(k));
}

void WriteScheduler::Run() {
  std::vector<std::shared_ptr<Kickable>> batch;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !pending_.empty() || stop_;
      };
      mu_.Await(absl::Condition(&ready));
      if (pending_.empty()) return;  // Stopping, nothing left.
      batch.swap(pending_);
    }
    for (auto& k : batch) k->Kicked();
    batch.clear();  // May destroy streams: outside the lock.
  }
}

}  // namespace ringwatch
