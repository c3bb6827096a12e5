// A thread that starts writes for streams that became ready, so the threads
// producing messages (the engine closing windows, the readers feeding
// StreamEvents) only enqueue: starting a gRPC write costs tens of
// microseconds, which 200 subscribers would otherwise add to every window
// the engine closes.
#ifndef RINGWATCH_DAEMON_SERVER_WRITE_SCHEDULER_H_
#define RINGWATCH_DAEMON_SERVER_WRITE_SCHEDULER_H_

#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ringwatch {

// Something with work to start on the scheduler's thread.
class Kickable {
 public:
  virtual ~Kickable() = default;
  virtual void Kicked() = 0;
};

class WriteScheduler {
 public:
  WriteScheduler();
  // Runs what is still scheduled, then joins the thread.
  ~WriteScheduler();

  // Runs `k->Kicked()` soon on the scheduler's thread, in order. Takes a
  // short lock; never blocks on the work.
  void Schedule(std::shared_ptr<Kickable> k);

 private:
  void Run();

  absl::Mutex mu_;
  std::vector<std::shared_ptr<Kickable>> pending_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_WRITE_SCHEDULER_H_
