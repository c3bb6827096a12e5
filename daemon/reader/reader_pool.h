// Threads that read the per-CPU rings: each ring is owned by one thread,
// which waits in poll() on its rings' descriptors and calls each ring's sink
// on itself, so per-CPU sinks (aggregation shards) stay single-writer.
#ifndef RINGWATCH_DAEMON_READER_READER_POOL_H_
#define RINGWATCH_DAEMON_READER_READER_POOL_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/ring/record.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

struct ReaderPoolOptions {
  // Reader threads; 0 means one per ring. Rings are dealt out round-robin.
  int threads = 0;
  // Longest wait in poll() before every ring is read anyway. The kernel wakes
  // a reader only once buffer_percent of its ring is full, so a quiet CPU's
  // last records wait for this tick; InfiniteDuration() waits for the kernel.
  absl::Duration tick = absl::InfiniteDuration();
  // Backpressure: a ring whose sink has no room (RecordSink::HasRoomFor) is
  // not read, its data waiting in the kernel's ring, and is asked again
  // every millisecond. A thread with a ring held back for longer than this
  // stops its heartbeat (the stage behind the sink is taken to be stuck;
  // see LongestSinceHeartbeat), and a flush on Stop gives up after it.
  absl::Duration stuck_after = absl::Seconds(30);
};

class ReaderPool {
 public:
  // `sinks[i]` receives the records of `rings[i]`; the sinks are not owned
  // and must outlive the pool.
  static absl::StatusOr<std::unique_ptr<ReaderPool>> Create(
      std::vector<std::unique_ptr<CpuRing>> rings,
      std::vector<RecordSink*> sinks,
      const ReaderPoolOptions& options = ReaderPoolOptions());

  ~ReaderPool();  // Stops (without flushing) if still running.
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // Starts the reader threads. Fails if already started.
  absl::Status Start();

  // Wakes every thread and joins them. With `flush`, each thread first reads
  // what its rings hold (the tail of a --duration run). Returns the first
  // error a thread met (a ring whose syscalls failed is dropped from its
  // thread's poll set; the others keep going until Stop).
  absl::Status Stop(bool flush = true);

  // Reads what every ring holds now, on the pool's threads, and returns once
  // every ring has come up empty (ringcat --drain). Must not be running.
  absl::Status Drain();

  // Per-ring counters, in ring order. Thread-safe, lock-free for the readers.
  std::vector<RingCounters> Counters() const;
  // Sum over the rings.
  RingCounters Total() const;

  // Kernel thread ids of the running reader threads (valid between Start
  // and Stop).
  std::vector<pid_t> ThreadIds() const;

  // How long ago the least recently active reader thread last went round
  // its loop (each wake-up and each tick); InfiniteDuration() for a thread
  // that has exited or never started. A live pool with a tick stays below
  // the tick plus one drain: the daemon's watchdog health check. A thread
  // held back by a full sink keeps beating for options.stuck_after.
  absl::Duration LongestSinceHeartbeat() const;

  size_t num_threads() const { return groups_.size(); }
  size_t num_rings() const { return rings_.size(); }
  bool running() const { return running_; }

 private:
  struct Group {
    std::vector<size_t> rings;  // Indices into rings_/sinks_.
  };

  ReaderPool(std::vector<std::unique_ptr<CpuRing>> rings,
             std::vector<RecordSink*> sinks, const ReaderPoolOptions& options,
             ScopedFd stop_fd);

  void RunGroup(size_t index);
  // Reads `ring` until it reports nothing more (bounded); false after an error.
  bool DrainRing(size_t ring);
  void RecordError(const absl::Status& status);

  std::vector<std::unique_ptr<CpuRing>> rings_;
  std::vector<RecordSink*> sinks_;
  ReaderPoolOptions options_;
  std::vector<Group> groups_;
  // Per group: CLOCK_MONOTONIC ns of its thread's last loop, 0 when not
  // running. Written once per wake-up, never per event.
  std::unique_ptr<std::atomic<int64_t>[]> heartbeats_;
  // An eventfd made readable once by Stop() and never read: poll() sees it
  // in every thread.
  ScopedFd stop_fd_;
  std::atomic<bool> flush_on_stop_{false};
  std::vector<std::thread> threads_;
  bool running_ = false;  // Touched by the owning thread only.

  mutable absl::Mutex mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  std::vector<pid_t> thread_ids_ ABSL_GUARDED_BY(mu_);  // One per group.
  size_t threads_started_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_READER_READER_POOL_H_
