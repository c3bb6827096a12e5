#include "daemon/snapshot/snapshotter.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/tracedat/trace_dat_writer.h"
#include "daemon/util/file_util.h"

namespace ringwatch {
namespace {

constexpr char kTriggeredPrefix[] = "trigger-";

absl::Status MakeDirectory(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("snapshot directory ", dir, ": ", error.message(),
                     " (flight_recorder.snapshot_dir)"));
  }
  return absl::OkStatus();
}

// Whether a /proc/kallsyms text shows real addresses (any of its first
// lines has a non-zero one).
bool HasKernelAddresses(absl::string_view kallsyms) {
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(kallsyms, '\n')) {
    if (++lines > 64) break;
    const absl::string_view address = line.substr(0, line.find(' '));
    if (address.find_first_not_of('0') != absl::string_view::npos) return true;
  }
  return false;
}

}  // namespace

Snapshotter::Snapshotter(FlightRecorder* recorder, SnapshotterOptions options)
    : recorder_(recorder), options_(std::move(options)) {}

absl::StatusOr<v1::SnapshotInfo> Snapshotter::Write(const std::string& path,
                                                    uint64_t span_ns,
                                                    int file_version,
                                                    const std::string& reason) {
  if (!write_mu_.TryLock()) {
    return absl::ResourceExhaustedError(
        "another snapshot is being written; retry when it is done");
  }
  struct Unlock {
    absl::Mutex* mu;
    ~Unlock() { mu->Unlock(); }
  } unlock{&write_mu_};
  // Events the kernel had before the request are in the file: the readers
  // deliver them to the recorder first.
  const bool caught_up = !options_.catch_up || options_.catch_up();
  const FlightRecorderOptions& ro = recorder_->options();
  TraceDatWriterOptions writer_options;
  writer_options.version = file_version;
  writer_options.compression = file_version == 7 ? TraceDatCompression::kZstd
                                                 : TraceDatCompression::kNone;
  absl::StatusOr<std::unique_ptr<TraceDatWriter>> writer =
      TraceDatWriter::Create(path, ro.page_size, ro.cpu_count, writer_options);
  if (!writer.ok()) return writer.status();
  absl::StatusOr<FlightSnapshot> taken =
      recorder_->Snapshot(span_ns, writer->get());
  if (!taken.ok()) return taken.status();
  // Metadata last: the saved command lines then name the tasks the pages
  // hold.
  absl::StatusOr<TraceDatMetadata> metadata =
      LoadTraceDatMetadata(options_.metadata);
  if (!metadata.ok()) return metadata.status();
  // Without CAP_SYSLOG (the service's sandbox) every address reads as 0:
  // such a table would name every kernel address wrongly, so store none
  // and let trace-cmd print addresses.
  if (!HasKernelAddresses(metadata->kallsyms)) metadata->kallsyms.clear();
  absl::Status finished = (*writer)->Finish(*metadata);
  if (!finished.ok()) return finished;
  ++snapshots_;
  v1::SnapshotInfo info;
  info.set_pages(taken->pages);
  info.set_file_bytes((*writer)->file_bytes());
  info.set_cut_timestamp_ns(taken->cut);
  info.set_oldest_timestamp_ns(taken->oldest);
  info.set_newest_timestamp_ns(taken->newest);
  info.set_pages_evicted_during(taken->pages_evicted_during);
  info.set_readers_caught_up(caught_up);
  info.set_reason(reason);
  return info;
}

absl::StatusOr<v1::SnapshotInfo> Snapshotter::WriteInDirectory(
    const std::string& file_name, uint64_t span_ns, int file_version,
    const std::string& reason) {
  const std::string path =
      absl::StrCat(options_.settings.snapshot_dir, "/", file_name);
  const absl::Status made = MakeDirectory(options_.settings.snapshot_dir);
  absl::StatusOr<v1::SnapshotInfo> info =
      made.ok() ? Write(path, span_ns, file_version, reason)
                : absl::StatusOr<v1::SnapshotInfo>(made);
  if (!info.ok()) {
    ++snapshots_failed_;
    ::unlink(path.c_str());
    return info.status();
  }
  info->set_path(path);
  return info;
}

absl::StatusOr<v1::SnapshotInfo> Snapshotter::WriteUnlinked(uint64_t span_ns,
                                                            int file_version,
                                                            ScopedFd* file) {
  absl::StatusOr<v1::SnapshotInfo> info =
      WriteInDirectory(absl::StrCat(".rpc-", ::getpid(), "-",
                                    absl::ToUnixNanos(absl::Now()), ".dat"),
                       span_ns, file_version, "rpc");
  if (!info.ok()) return info.status();
  // The client gets the bytes, not the daemon's path.
  const std::string path = info->path();
  info->clear_path();
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int open_errno = errno;
  ::unlink(path.c_str());
  if (!fd.valid()) return PathError(open_errno, "open", path);
  *file = std::move(fd);
  return info;
}

absl::StatusOr<v1::SnapshotInfo> Snapshotter::WriteToDirectory(
    uint64_t span_ns, const std::string& name) {
  absl::StatusOr<v1::SnapshotInfo> info = WriteInDirectory(
      absl::StrCat(kTriggeredPrefix, name, "-",
                   absl::FormatTime("%Y%m%dT%H%M%E3SZ", absl::Now(),
                                    absl::UTCTimeZone()),
                   ".dat"),
      span_ns, 7, absl::StrCat("trigger:", name));
  if (!info.ok()) return info.status();
  const std::string& dir = options_.settings.snapshot_dir;
  const std::string& path = info->path();
  {
    absl::MutexLock lock(&status_mu_);
    last_trigger_file_ = path;
  }
  // Keep the newest max_snapshot_files triggered files (names sort by time
  // within a trigger; across triggers, by modification time).
  std::vector<std::pair<std::filesystem::file_time_type, std::string>> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string file = entry.path().filename().string();
    if (!absl::StartsWith(file, kTriggeredPrefix) ||
        !absl::EndsWith(file, ".dat")) {
      continue;
    }
    files.emplace_back(entry.last_write_time(error), entry.path().string());
  }
  std::sort(files.begin(), files.end());
  const size_t keep = options_.settings.max_snapshot_files;
  for (size_t i = 0; i + keep < files.size(); ++i) {
    std::filesystem::remove(files[i].second, error);
  }
  return info;
}

void Snapshotter::CountTrigger(bool rate_limited) {
  if (rate_limited) {
    ++triggers_rate_limited_;
  } else {
    ++triggers_fired_;
  }
}

void Snapshotter::FillStatus(v1::FlightRecorderStatus* status) const {
  const FlightRecorderCounters c = recorder_->counters();
  status->set_reserved_bytes(recorder_->reserved_bytes());
  status->set_bytes_held(c.bytes_held);
  status->set_pages_held(c.pages_held);
  status->set_pages_added(c.pages_added);
  status->set_pages_evicted_for_bytes(c.pages_evicted_for_bytes);
  status->set_pages_evicted_for_age(c.pages_evicted_for_age);
  status->set_newest_timestamp_ns(recorder_->newest_timestamp());
  status->set_snapshots(snapshots_.load());
  status->set_snapshots_failed(snapshots_failed_.load());
  status->set_triggers_fired(triggers_fired_.load());
  status->set_triggers_rate_limited(triggers_rate_limited_.load());
  absl::MutexLock lock(&status_mu_);
  status->set_last_trigger_file(last_trigger_file_);
}

}  // namespace ringwatch
