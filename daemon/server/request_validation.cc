#include "daemon/server/request_validation.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/server/names.h"

namespace ringwatch {

absl::StatusOr<StreamRate> ValidateStreamEventsRequest(
    const v1::StreamEventsRequest& request, double default_rate,
    double max_rate, absl::Span<const v1::EventDescriptor> events) {
  double rate = request.max_events_per_second();
  if (rate < 0 || rate != rate) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_events_per_second is ", rate, "; use 0 for the default (",
        default_rate, ") or a positive rate"));
  }
  if (rate == 0) rate = default_rate;
  if (rate > max_rate) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_events_per_second ", rate, " is above the server's cap of ",
        max_rate,
        "; StreamEvents is for tailing, use an aggregation for bulk"));
  }
  if (request.burst() > max_rate) {
    return absl::InvalidArgumentError(
        absl::StrCat("burst ", request.burst(),
                     " is above the server's cap of ", max_rate, " events"));
  }
  if (request.events_size() > kMaxStreamGlobs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "events lists ", request.events_size(), " globs; at most ",
        kMaxStreamGlobs, " (a glob such as 'sched/*' covers a whole system)"));
  }
  if (request.cpus_size() > kMaxStreamCpus) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpus lists ", request.cpus_size(), " CPUs; at most ",
                     kMaxStreamCpus, " (leave it empty for all)"));
  }
  for (uint32_t cpu : request.cpus()) {
    if (cpu > kMaxCpuNumber) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cpus: ", cpu, " is not a CPU number (0 to ", kMaxCpuNumber, ")"));
    }
  }
  if (request.pids_size() > kMaxStreamPids) {
    return absl::InvalidArgumentError(
        absl::StrCat("pids lists ", request.pids_size(), " pids; at most ",
                     kMaxStreamPids, " (leave it empty for all)"));
  }
  for (int32_t pid : request.pids()) {
    if (pid < 0 || pid > kMaxPid) {
      return absl::InvalidArgumentError(
          absl::StrCat("pids: ", pid, " is not a pid (0 to ", kMaxPid, ")"));
    }
  }
  for (const std::string& glob : request.events()) {
    if (glob.size() > kMaxStreamGlobLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("event glob '", glob.substr(0, 32), "...' is ",
                       glob.size(), " bytes; at most ", kMaxStreamGlobLength));
    }
    const bool any = std::any_of(
        events.begin(), events.end(), [&](const v1::EventDescriptor& e) {
          return EventGlobMatches(glob, e.system(), e.event());
        });
    if (!any) {
      return absl::InvalidArgumentError(absl::StrCat(
          "event glob '", glob,
          "' matches no event; list them with ListEvents (ringwatch "
          "events), e.g. 'sched/*' or 'sched_switch'"));
    }
  }
  StreamRate out;
  out.events_per_second = rate;
  out.burst = request.burst() != 0 ? request.burst()
                                   : static_cast<uint32_t>(std::max(1.0, rate));
  return out;
}

absl::StatusOr<uint64_t> ValidateSnapshotRequest(
    const v1::SnapshotRequest& request, int* file_version) {
  const double seconds = request.seconds();
  if (!(seconds >= 0 && seconds <= 3600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("seconds is ", seconds,
                     "; use 0 for everything the recorder holds, or up to "
                     "3600"));
  }
  const uint32_t version = request.file_version();
  if (version != 0 && version != 6 && version != 7) {
    return absl::InvalidArgumentError(absl::StrCat(
        "file_version ", version, ": use 7 (zstd, the default) or 6"));
  }
  *file_version = version == 0 ? 7 : static_cast<int>(version);
  return static_cast<uint64_t>(seconds * 1e9);
}

}  // namespace ringwatch
