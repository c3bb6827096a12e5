#include "daemon/reader/reader_pool.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace ringwatch {
namespace {

int64_t MonotonicNs() {
  timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
}

// How many times Drain reads one ring while it keeps returning records. Each
// read takes up to a lap of the ring, so this only bounds a writer that
// never pauses.
constexpr int kMaxDrainRounds = 64;

// How soon a ring held back by its sink (RecordSink::HasRoomFor) is asked
// again. Its descriptor leaves the poll set meanwhile (it would report the
// data that is waiting at once, forever): one check of the sink per
// millisecond, no ioctl, while the merger frees room on its own tick.
constexpr int kHeldBackRetryMs = 1;

int PollTimeoutMs(absl::Duration tick) {
  if (tick == absl::InfiniteDuration()) return -1;
  int64_t ms =
      absl::ToInt64Milliseconds(absl::Ceil(tick, absl::Milliseconds(1)));
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1 << 30));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReaderPool>> ReaderPool::Create(
    std::vector<std::unique_ptr<CpuRing>> rings, std::vector<RecordSink*> sinks,
    const ReaderPoolOptions& options) {
  if (rings.empty()) {
    return absl::InvalidArgumentError("reader pool: no rings to read");
  }
  if (sinks.size() != rings.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reader pool: ", rings.size(), " rings but ", sinks.size(), " sinks"));
  }
  for (size_t i = 0; i < rings.size(); ++i) {
    if (rings[i] == nullptr || sinks[i] == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("reader pool: ring or sink ", i, " is null"));
    }
  }
  if (options.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("reader pool: negative thread count ", options.threads));
  }
  if (options.tick < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reader pool: negative tick ", absl::FormatDuration(options.tick)));
  }
  if (options.stuck_after <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("reader pool: stuck_after must be positive, got ",
                     absl::FormatDuration(options.stuck_after)));
  }
  ScopedFd stop_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd.valid()) {
    return absl::ErrnoToStatus(errno, "reader pool: eventfd");
  }
  return std::unique_ptr<ReaderPool>(new ReaderPool(
      std::move(rings), std::move(sinks), options, std::move(stop_fd)));
}

ReaderPool::ReaderPool(std::vector<std::unique_ptr<CpuRing>> rings,
                       std::vector<RecordSink*> sinks,
                       const ReaderPoolOptions& options, ScopedFd stop_fd)
    : rings_(std::move(rings)),
      sinks_(std::move(sinks)),
      options_(options),
      stop_fd_(std::move(stop_fd)) {
  size_t threads = options_.threads == 0
                       ? rings_.size()
                       : std::min<size_t>(options_.threads, rings_.size());
  groups_.resize(threads);
  heartbeats_ = std::make_unique<std::atomic<int64_t>[]>(threads);
  for (size_t i = 0; i < threads; ++i) heartbeats_[i].store(0);
  for (size_t i = 0; i < rings_.size(); ++i) {
    groups_[i % threads].rings.push_back(i);
  }
}

ReaderPool::~ReaderPool() {
  if (running_) Stop(/*flush=*/false).IgnoreError();
}

void ReaderPool::RecordError(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  if (first_error_.ok()) first_error_ = status;
}

bool ReaderPool::DrainRing(size_t ring) {
  const int64_t give_up =
      MonotonicNs() + absl::ToInt64Nanoseconds(options_.stuck_after);
  for (int round = 0; round < kMaxDrainRounds;) {
    absl::StatusOr<bool> more = rings_[ring]->ReadAvailable(sinks_[ring]);
    if (!more.ok()) {
      RecordError(more.status());
      return false;
    }
    if (rings_[ring]->held_back()) {
      // The sink is full: wait for room rather than leave the tail behind,
      // unless the stage behind it is stuck.
      if (MonotonicNs() > give_up) {
        RecordError(absl::DeadlineExceededError(absl::StrCat(
            "cpu ", rings_[ring]->cpu(), "'s reader was held back for over ",
            absl::FormatDuration(options_.stuck_after),
            " while draining; the rest is left in the ring")));
        return false;
      }
      ::poll(nullptr, 0, kHeldBackRetryMs);
      continue;
    }
    if (!*more) break;
    ++round;
  }
  return true;
}

absl::Status ReaderPool::Start() {
  if (running_) return absl::FailedPreconditionError("reader pool: running");
  {
    absl::MutexLock lock(&mu_);
    first_error_ = absl::OkStatus();
    thread_ids_.assign(groups_.size(), 0);
    threads_started_ = 0;
  }
  running_ = true;
  threads_.reserve(groups_.size());
  for (size_t i = 0; i < groups_.size(); ++i) {
    threads_.emplace_back([this, i] { RunGroup(i); });
  }
  // Return once every thread is known by its id (ThreadIds()).
  absl::MutexLock lock(&mu_);
  auto all_started = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return threads_started_ == groups_.size();
  };
  mu_.Await(absl::Condition(&all_started));
  return absl::OkStatus();
}

std::vector<pid_t> ReaderPool::ThreadIds() const {
  absl::MutexLock lock(&mu_);
  return thread_ids_;
}

void ReaderPool::RunGroup(size_t index) {
  const Group& group = groups_[index];
  {
    absl::MutexLock lock(&mu_);
    thread_ids_[index] = static_cast<pid_t>(::syscall(SYS_gettid));
    ++threads_started_;
  }
  // fds[0] is the stop eventfd, fds[1 + k] the k-th ring of the group.
  std::vector<pollfd> fds(1 + group.rings.size());
  fds[0] = {stop_fd_.get(), POLLIN, 0};
  for (size_t k = 0; k < group.rings.size(); ++k) {
    fds[1 + k] = {rings_[group.rings[k]]->fd(), POLLIN, 0};
  }
  size_t live = group.rings.size();
  const int timeout_ms = PollTimeoutMs(options_.tick);
  const int64_t stuck_after_ns = absl::ToInt64Nanoseconds(options_.stuck_after);
  // Per ring of the group: CLOCK_MONOTONIC ns since which its sink has held
  // it back, 0 when it is not held back. Its descriptor is then out of the
  // poll set (stored as -2 - fd, negative so that poll() ignores it).
  std::vector<int64_t> held_since(group.rings.size(), 0);
  // Records already waiting wake nobody (the kernel wakes on new writes), so
  // read everything once before the first wait.
  bool read_all = true;
  std::atomic<int64_t>& heartbeat = heartbeats_[index];
  while (live > 0) {
    const int64_t now = MonotonicNs();
    // A reader held back is alive, but one held back for longer than
    // stuck_after waits on a stage that no longer moves: it stops beating,
    // so that the watchdog sees the daemon as stalled.
    bool stuck = false;
    for (int64_t since : held_since) {
      stuck |= since != 0 && now - since > stuck_after_ns;
    }
    if (!stuck) heartbeat.store(now, std::memory_order_relaxed);
    bool any_held = false;
    for (size_t k = 0; k < group.rings.size(); ++k) {
      pollfd& p = fds[1 + k];
      const bool was_held = held_since[k] != 0;
      if (was_held) p.fd = -2 - p.fd;  // Back in the poll set.
      if (p.fd < 0) continue;
      if (!read_all && !was_held &&
          (p.revents & (POLLIN | POLLERR | POLLHUP)) == 0) {
        continue;
      }
      CpuRing& ring = *rings_[group.rings[k]];
      RecordSink* sink = sinks_[group.rings[k]];
      const int64_t read_start = MonotonicNs();
      absl::StatusOr<bool> r = ring.ReadAvailable(sink);
      if (r.ok() && ring.drained()) sink->OnDrained(read_start);
      if (!r.ok()) {
        RecordError(r.status());
        p.fd = -1;  // poll() ignores negative descriptors.
        held_since[k] = 0;
        --live;
        continue;
      }
      if (ring.held_back()) {
        if (!was_held) held_since[k] = read_start;
        p.fd = -2 - p.fd;
        any_held = true;
        continue;
      }
      held_since[k] = 0;
      if ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 && !*r) {
        // Not readable yet flagged: polling it again would spin.
        RecordError(absl::InternalError(absl::StrCat(
            "poll reported an error on cpu ", ring.cpu(), "'s ring")));
        p.fd = -1;
        --live;
      }
    }
    for (pollfd& p : fds) p.revents = 0;
    const int wait_ms =
        any_held && (timeout_ms < 0 || timeout_ms > kHeldBackRetryMs)
            ? kHeldBackRetryMs
            : timeout_ms;
    int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      RecordError(absl::ErrnoToStatus(errno, "reader pool: poll"));
      break;
    }
    if (fds[0].revents != 0) break;  // Stop().
    read_all = (n == 0);             // The tick: read every ring.
  }
  if (flush_on_stop_.load(std::memory_order_acquire)) {
    for (size_t k = 0; k < group.rings.size(); ++k) {
      if (held_since[k] != 0) fds[1 + k].fd = -2 - fds[1 + k].fd;
      if (fds[1 + k].fd >= 0) DrainRing(group.rings[k]);
    }
  }
  heartbeat.store(0, std::memory_order_relaxed);
}

absl::Duration ReaderPool::LongestSinceHeartbeat() const {
  const int64_t now = MonotonicNs();
  absl::Duration longest = absl::ZeroDuration();
  for (size_t i = 0; i < groups_.size(); ++i) {
    int64_t beat = heartbeats_[i].load(std::memory_order_relaxed);
    if (beat == 0) return absl::InfiniteDuration();
    longest = std::max(longest, absl::Nanoseconds(now - beat));
  }
  return longest;
}

absl::Status ReaderPool::Stop(bool flush) {
  if (!running_) return absl::FailedPreconditionError("reader pool: stopped");
  flush_on_stop_.store(flush, std::memory_order_release);
  uint64_t one = 1;
  if (::write(stop_fd_.get(), &one, sizeof(one)) != sizeof(one)) {
    // Cannot happen with a fresh counter; without the wake-up the threads
    // would never return, so say so loudly instead of hanging silently.
    std::fprintf(stderr, "ringwatch: reader pool: eventfd write failed\n");
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  running_ = false;
  uint64_t value;
  while (::read(stop_fd_.get(), &value, sizeof(value)) < 0 && errno == EINTR) {
  }
  absl::MutexLock lock(&mu_);
  thread_ids_.clear();
  return first_error_;
}

absl::Status ReaderPool::Drain() {
  if (running_) return absl::FailedPreconditionError("reader pool: running");
  {
    absl::MutexLock lock(&mu_);
    first_error_ = absl::OkStatus();
  }
  std::vector<std::thread> threads;
  threads.reserve(groups_.size());
  for (const Group& group : groups_) {
    threads.emplace_back([this, &group] {
      for (size_t ring : group.rings) DrainRing(ring);
    });
  }
  for (std::thread& t : threads) t.join();
  absl::MutexLock lock(&mu_);
  return first_error_;
}

std::vector<RingCounters> ReaderPool::Counters() const {
  std::vector<RingCounters> out;
  out.reserve(rings_.size());
  for (const auto& ring : rings_) out.push_back(ring->counters());
  return out;
}

RingCounters ReaderPool::Total() const {
  RingCounters total;
  total.mapped = true;
  for (const auto& ring : rings_) {
    RingCounters c = ring->counters();
    total.mapped = total.mapped && c.mapped;
    total.events += c.events;
    total.bytes += c.bytes;
    total.subbufs += c.subbufs;
    total.padding += c.padding;
    total.lost += c.lost;
    total.lost_unknown += c.lost_unknown;
    total.decode_errors += c.decode_errors;
    total.overrun += c.overrun;
    total.syscalls += c.syscalls;
    total.kernel_entries += c.kernel_entries;
    total.kernel_overrun += c.kernel_overrun;
    total.kernel_read += c.kernel_read;
  }
  return total;
}

}  // namespace ringwatch
