// A tracefs instance (instances/<name>): its own ring buffers, event
// enables and settings, so ringwatch never disturbs the top-level buffer or
// other tools.
#ifndef RINGWATCH_DAEMON_TRACEFS_INSTANCE_H_
#define RINGWATCH_DAEMON_TRACEFS_INSTANCE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/event/event_catalog.h"

namespace ringwatch {

// Move-only handle on one instance directory. When it created the directory
// it owns it and removes it on destruction (unless Release()d). Not
// thread-safe (EventNames() fills a cache): use it from one thread.
class Instance {
 public:
  // Creates instances/<name> under `tracefs_root`. When it already exists:
  // with `reuse_existing` opens it without owning it, else AlreadyExists.
  static absl::StatusOr<std::unique_ptr<Instance>> Create(
      absl::string_view tracefs_root, absl::string_view name,
      bool reuse_existing);
  // Opens an existing instance without owning it. NotFound when absent.
  static absl::StatusOr<std::unique_ptr<Instance>> Open(
      absl::string_view tracefs_root, absl::string_view name);

  Instance(Instance&& other) noexcept;
  Instance& operator=(Instance&& other) noexcept;
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  // Removes the instance when owned; errors are swallowed (call Remove() to
  // see them).
  ~Instance();

  const std::string& name() const { return name_; }
  // ".../instances/<name>".
  const std::string& path() const { return path_; }
  bool owned() const { return owned_; }
  // Stops owning: the directory outlives this object.
  void Release() { owned_ = false; }

  // ".../per_cpu/cpuN/<file>".
  std::string CpuFile(int cpu, absl::string_view file) const;
  // path() + "/" + relative.
  std::string File(absl::string_view relative) const;

  // Events are named "system/event" (a bare name when unique). Unknown
  // events are NotFound with close matches.
  // ftrace's own events (ftrace/print) have no enable file and are
  // always recorded: enabling or disabling them succeeds and does nothing.
  absl::Status EnableEvent(absl::string_view event);
  absl::Status DisableEvent(absl::string_view event);
  absl::Status DisableAllEvents();
  // Enabled events as "system/event", from set_event.
  absl::StatusOr<std::vector<std::string>> EnabledEvents() const;
  // Every event this instance can trace, "system/event", sorted. Listed once
  // and cached.
  absl::StatusOr<std::vector<std::string>> EventNames() const;

  // Per-CPU buffer size; the kernel refuses it (EBUSY) while a per-CPU
  // buffer is memory-mapped, so set it before mapping. The kernel rounds it
  // up to whole sub-buffers; BufferSizeKb() reads back what it chose.
  absl::Status SetBufferSizeKb(uint32_t kb);
  absl::StatusOr<uint32_t> BufferSizeKb() const;
  // One of AvailableTraceClocks(); InvalidArgument listing them otherwise.
  absl::Status SetTraceClock(absl::string_view clock);
  absl::StatusOr<std::string> TraceClock() const;
  absl::StatusOr<std::vector<std::string>> AvailableTraceClocks() const;
  // How full (0-100) a per-CPU buffer must be before readers are woken.
  absl::Status SetBufferPercent(uint32_t percent);
  absl::Status SetTracingOn(bool on);
  absl::StatusOr<bool> TracingOn() const;
  // Replaces set_event_pid: only events of these pids are recorded (for
  // sched_switch, either side); with `follow_forks` their children join the
  // list (options/event-fork). Empty clears it.
  absl::Status SetEventPid(const std::vector<pid_t>& pids, bool follow_forks);
  // Writes `text` to trace_marker (an ftrace/print event in this instance).
  absl::Status WriteMarker(absl::string_view text);
  // Empties the instance's ring buffers.
  absl::Status Clear();

  // header_page plus every events/*/*/format, parsed. Formats that fail to
  // parse are skipped and counted in the catalog (first error kept).
  absl::StatusOr<EventCatalog> LoadCatalog() const;

  // Disables events and removes the directory. FailedPrecondition when a
  // reader still holds one of its files open (EBUSY); NotFound when it was
  // removed underneath us. Afterwards the instance is no longer owned.
  absl::Status Remove();

 private:
  // Whether `full_event` ("system/event") exists without an enable file.
  bool AlwaysOn(const std::string& full_event) const;
  Instance(std::string root, std::string name, bool owned);

  // Resolves `event` against EventNames() to "system/event".
  absl::StatusOr<std::string> ResolveEvent(absl::string_view event) const;
  absl::Status WriteControl(absl::string_view file, absl::string_view value,
                            absl::string_view what);
  absl::StatusOr<std::string> ReadControl(absl::string_view file) const;

  std::string root_;  // The tracefs root.
  std::string name_;
  std::string path_;  // Empty after a move.
  bool owned_ = false;
  mutable std::vector<std::string> event_names_;  // Cache; empty until used.
};

// Reads `header_page_path` and every <system>/<event>/format under
// `events_dir` (a tracefs events directory) into a catalog; unparsable
// formats are skipped and counted. Errors only when header_page or the
// directory itself cannot be read. (Instances have no header_page of their
// own: it is the top-level events/header_page.)
absl::StatusOr<EventCatalog> LoadEventCatalog(
    const std::string& events_dir, const std::string& header_page_path);

// Validates an instance name: 1-200 characters of [A-Za-z0-9_.-], not "."
// or "..".
absl::Status ValidateInstanceName(absl::string_view name);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEFS_INSTANCE_H_
