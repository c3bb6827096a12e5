#include "daemon/tracefs/instance.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "daemon/event/event_format.h"
#include "daemon/event/header_page.h"
#include "daemon/util/file_util.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {
namespace {

// Writes `contents` with a single write() (tracefs parses each write as a
// command). Returns 0 or the errno of the failing call.
int WriteOnce(const std::string& path, absl::string_view contents,
              bool truncate) {
  ScopedFd fd(::open(path.c_str(),
                     O_WRONLY | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND)));
  if (!fd.valid()) return errno;
  if (contents.empty()) return 0;
  ssize_t n;
  do {
    n = ::write(fd.get(), contents.data(), contents.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  if (static_cast<size_t>(n) != contents.size()) return EIO;
  return 0;
}

// Names of the subdirectories of `dir`, sorted.
absl::StatusOr<std::vector<std::string>> ListSubdirectories(
    const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return PathError(errno, "list directory", dir);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* entry = ::readdir(d)) {
    absl::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st;
      std::string child = absl::StrCat(dir, "/", name);
      is_dir = ::stat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) names.emplace_back(name);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return PathError(err, "read directory", dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

absl::Status ValidateInstanceName(absl::string_view name) {
  if (name.empty() || name.size() > 200 || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid tracefs instance name '", name,
        "': use 1-200 characters of letters, digits, '_', '-' and '.'"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid tracefs instance name '", name, "': character '",
          std::string(1, c),
          "' is not allowed (use letters, digits, '_', '-' and '.')"));
    }
  }
  return absl::OkStatus();
}

Instance::Instance(std::string root, std::string name, bool owned)
    : root_(std::move(root)),
      name_(std::move(name)),
      path_(absl::StrCat(root_, "/instances/", name_)),
      owned_(owned) {}

absl::StatusOr<std::unique_ptr<Instance>> Instance::Create(
    absl::string_view tracefs_root, absl::string_view name,
    bool reuse_existing) {
  absl::Status valid = ValidateInstanceName(name);
  if (!valid.ok()) return valid;
  std::string instances = absl::StrCat(tracefs_root, "/instances");
  std::string path = absl::StrCat(instances, "/", name);
  if (::mkdir(path.c_str(), 0755) == 0) {
    return std::unique_ptr<Instance>(new Instance(
        std::string(tracefs_root), std::string(name), /*owned=*/true));
  }
  int err = errno;
  switch (err) {
    case EEXIST:
      if (reuse_existing) return Open(tracefs_root, name);
      return absl::AlreadyExistsError(absl::StrCat(
          "tracefs instance '", name, "' already exists at ", path,
          " (another ringwatchd, or one that was killed? remove it with "
          "'rmdir ",
          path, "' or allow reusing it)"));
    case ENOENT:
      return absl::NotFoundError(absl::StrCat(
          "cannot create tracefs instance '", name, "': ", instances,
          " does not exist (is tracefs mounted at ", tracefs_root, "?)"));
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot create tracefs instance at ", path, ": ", ErrnoText(err),
          " (needs root, and a writable tracefs)"));
    default:
      return PathError(err, "create tracefs instance", path);
  }
}

absl::StatusOr<std::unique_ptr<Instance>> Instance::Open(
    absl::string_view tracefs_root, absl::string_view name) {
  absl::Status valid = ValidateInstanceName(name);
  if (!valid.ok()) return valid;
  std::string path = absl::StrCat(tracefs_root, "/instances/", name);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat(
          "tracefs instance '", name, "' does not exist (no ", path, ")"));
    }
    return PathError(err, "open tracefs instance", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a tracefs instance directory"));
  }
  return std::unique_ptr<Instance>(new Instance(
      std::string(tracefs_root), std::string(name), /*owned=*/false));
}

Instance::Instance(Instance&& other) noexcept
    : root_(std::move(other.root_)),
      name_(std::move(other.name_)),
      path_(std::exchange(other.path_, std::string())),
      owned_(std::exchange(other.owned_, false)),
      event_names_(std::move(other.event_names_)) {}

Instance& Instance::operator=(Instance&& other) noexcept {
  if (this != &other) {
    if (owned_ && !path_.empty()) Remove().IgnoreError();
    root_ = std::move(other.root_);
    name_ = std::move(other.name_);
    path_ = std::exchange(other.path_, std::string());
    owned_ = std::exchange(other.owned_, false);
    event_names_ = std::move(other.event_names_);
  }
  return *this;
}

Instance::~Instance() {
  if (owned_ && !path_.empty()) Remove().IgnoreError();
}

std::string Instance::CpuFile(int cpu, absl::string_view file) const {
  return absl::StrCat(path_, "/per_cpu/cpu", cpu, "/", file);
}

std::string Instance::File(absl::string_view relative) const {
  return absl::StrCat(path_, "/", relative);
}

absl::Status Instance::WriteControl(absl::string_view file,
                                    absl::string_view value,
                                    absl::string_view what) {
  std::string path = File(file);
  int err = WriteOnce(path, value, /*truncate=*/true);
  if (err == 0) return absl::OkStatus();
  std::string shown(absl::StripTrailingAsciiWhitespace(value));
  return absl::ErrnoToStatus(
      err, absl::StrCat(what, ": write '", shown, "' to ", path));
}

absl::StatusOr<std::string> Instance::ReadControl(
    absl::string_view file) const {
  return ReadFileToString(File(file));
}

absl::StatusOr<std::vector<std::string>> Instance::EventNames() const {
  if (!event_names_.empty()) return event_names_;
  std::string events = File("events");
  absl::StatusOr<std::vector<std::string>> systems = ListSubdirectories(events);
  if (!systems.ok()) return systems.status();
  std::vector<std::string> names;
  for (const std::string& system : *systems) {
    absl::StatusOr<std::vector<std::string>> in_system =
        ListSubdirectories(absl::StrCat(events, "/", system));
    if (!in_system.ok()) return in_system.status();
    for (const std::string& event : *in_system) {
      names.push_back(absl::StrCat(system, "/", event));
    }
  }
  std::sort(names.begin(), names.end());
  event_names_ = names;
  return names;
}

absl::StatusOr<std::string> Instance::ResolveEvent(
    absl::string_view event) const {
  absl::StatusOr<std::vector<std::string>> names = EventNames();
  if (!names.ok()) return names.status();
  if (absl::StrContains(event, '/')) {
    if (std::binary_search(names->begin(), names->end(), event)) {
      return std::string(event);
    }
    return UnknownEventError(event, *names);
  }
  std::vector<std::string> matches;
  for (const std::string& full : *names) {
    if (absl::EndsWith(full, absl::StrCat("/", event))) matches.push_back(full);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event name '", event, "' is ambiguous: ", absl::StrJoin(matches, ", "),
        "; name it as system/event"));
  }
  return UnknownEventError(event, *names);
}

// ftrace's own events (ftrace/print from trace_marker, bputs...) have no
// enable file: the kernel records them whenever tracing is on.
bool Instance::AlwaysOn(const std::string& full_event) const {
  const std::string dir = File(absl::StrCat("events/", full_event));
  return ::access(dir.c_str(), F_OK) == 0 &&
         ::access((dir + "/enable").c_str(), F_OK) != 0 && errno == ENOENT;
}

absl::Status Instance::EnableEvent(absl::string_view event) {
  absl::StatusOr<std::string> full = ResolveEvent(event);
  if (!full.ok()) return full.status();
  if (AlwaysOn(*full)) return absl::OkStatus();
  return WriteControl(absl::StrCat("events/", *full, "/enable"), "1",
                      absl::StrCat("enable event ", *full));
}

absl::Status Instance::DisableEvent(absl::string_view event) {
  absl::StatusOr<std::string> full = ResolveEvent(event);
  if (!full.ok()) return full.status();
  if (AlwaysOn(*full)) return absl::OkStatus();
  return WriteControl(absl::StrCat("events/", *full, "/enable"), "0",
                      absl::StrCat("disable event ", *full));
}

absl::Status Instance::DisableAllEvents() {
  return WriteControl("events/enable", "0", "disable all events");
}

absl::StatusOr<std::vector<std::string>> Instance::EnabledEvents() const {
  absl::StatusOr<std::string> text = ReadControl("set_event");
  if (!text.ok()) return text.status();
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    // set_event lists "system:event".
    out.push_back(absl::StrReplaceAll(line, {{":", "/"}}));
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status Instance::SetBufferSizeKb(uint32_t kb) {
  if (kb == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("buffer size for tracefs instance '", name_,
                     "' must be at least 1 KiB"));
  }
  absl::Status s = WriteControl("buffer_size_kb", absl::StrCat(kb),
                                "set per-CPU buffer size");
  if (s.code() == absl::StatusCode::kUnavailable) {
    // EBUSY: the kernel will not resize a memory-mapped buffer.
    return absl::FailedPreconditionError(absl::StrCat(
        s.message(),
        " (a per-CPU buffer is memory-mapped; set the size before mapping)"));
  }
  if (s.code() == absl::StatusCode::kResourceExhausted ||
      absl::StrContains(s.message(), "Cannot allocate memory")) {
    return absl::ResourceExhaustedError(
        absl::StrCat(s.message(), " (", kb,
                     " KiB per CPU is more than the kernel could "
                     "allocate)"));
  }
  return s;
}

absl::StatusOr<uint32_t> Instance::BufferSizeKb() const {
  absl::StatusOr<std::string> text = ReadControl("buffer_size_kb");
  if (!text.ok()) return text.status();
  // "1408\n", or "7 (expanded: 1408)" before the buffer is first used.
  absl::string_view t = absl::StripAsciiWhitespace(*text);
  absl::string_view value = t;
  size_t expanded = t.find("(expanded: ");
  if (expanded != absl::string_view::npos) {
    value = t.substr(expanded + 11);
    absl::ConsumeSuffix(&value, ")");
  }
  uint32_t kb;
  if (!absl::SimpleAtoi(value, &kb)) {
    return absl::InternalError(absl::StrCat("unexpected contents '", t, "' in ",
                                            File("buffer_size_kb")));
  }
  return kb;
}

absl::StatusOr<std::vector<std::string>> Instance::AvailableTraceClocks()
    const {
  absl::StatusOr<std::string> text = ReadControl("trace_clock");
  if (!text.ok()) return text.status();
  std::vector<std::string> clocks;
  for (absl::string_view word :
       absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    absl::ConsumePrefix(&word, "[");
    absl::ConsumeSuffix(&word, "]");
    clocks.emplace_back(word);
  }
  return clocks;
}

absl::StatusOr<std::string> Instance::TraceClock() const {
  absl::StatusOr<std::string> text = ReadControl("trace_clock");
  if (!text.ok()) return text.status();
  size_t open = text->find('[');
  size_t close = text->find(']', open);
  if (open == std::string::npos || close == std::string::npos) {
    return absl::InternalError(
        absl::StrCat("no selected clock ([name]) in ", File("trace_clock")));
  }
  return text->substr(open + 1, close - open - 1);
}

absl::Status Instance::SetTraceClock(absl::string_view clock) {
  absl::StatusOr<std::vector<std::string>> clocks = AvailableTraceClocks();
  if (!clocks.ok()) return clocks.status();
  if (std::find(clocks->begin(), clocks->end(), clock) == clocks->end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown trace clock '", clock,
                     "'; this kernel has: ", absl::StrJoin(*clocks, ", ")));
  }
  return WriteControl("trace_clock", clock, "set trace clock");
}

absl::Status Instance::SetBufferPercent(uint32_t percent) {
  if (percent > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("buffer_percent ", percent, " is out of range 0-100"));
  }
  return WriteControl("buffer_percent", absl::StrCat(percent),
                      "set buffer_percent");
}

absl::Status Instance::SetTracingOn(bool on) {
  return WriteControl("tracing_on", on ? "1" : "0",
                      on ? "turn tracing on" : "turn tracing off");
}

absl::StatusOr<bool> Instance::TracingOn() const {
  absl::StatusOr<std::string> text = ReadControl("tracing_on");
  if (!text.ok()) return text.status();
  return absl::StripAsciiWhitespace(*text) == "1";
}

absl::Status Instance::SetEventPid(const std::vector<pid_t>& pids,
                                   bool follow_forks) {
  for (pid_t pid : pids) {
    if (pid <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid pid ", pid, " for set_event_pid"));
    }
  }
  absl::Status fork_status = WriteControl(
      "options/event-fork", follow_forks ? "1" : "0", "set event-fork");
  if (!fork_status.ok()) return fork_status;
  return WriteControl("set_event_pid", absl::StrJoin(pids, " "),
                      "set event pids");
}

absl::Status Instance::WriteMarker(absl::string_view text) {
  std::string path = File("trace_marker");
  int err = WriteOnce(path, text, /*truncate=*/false);
  if (err == 0) return absl::OkStatus();
  return absl::ErrnoToStatus(err, absl::StrCat("write marker to ", path));
}

absl::Status Instance::Clear() {
  return WriteControl("trace", "", "clear the ring buffers");
}

absl::StatusOr<EventCatalog> Instance::LoadCatalog() const {
  std::string header_page = File("events/header_page");
  if (!PathExists(header_page)) header_page = root_ + "/events/header_page";
  return LoadEventCatalog(File("events"), header_page);
}

absl::Status Instance::Remove() {
  if (path_.empty()) {
    return absl::FailedPreconditionError(
        "Remove() on a moved-from tracefs instance");
  }
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0 && errno == ENOENT) {
    owned_ = false;
    return absl::NotFoundError(
        absl::StrCat("tracefs instance '", name_, "' at ", path_,
                     " no longer exists (removed by another process?)"));
  }
  // Disabling first stops new events while the kernel tears down; failure
  // here does not prevent removal.
  DisableAllEvents().IgnoreError();
  if (::rmdir(path_.c_str()) != 0) {
    int err = errno;
    if (err == ENOENT) {
      owned_ = false;
      return absl::NotFoundError(
          absl::StrCat("tracefs instance '", name_, "' at ", path_,
                       " no longer exists (removed by another process?)"));
    }
    if (err == EBUSY) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot remove tracefs instance ", path_,
          ": it is busy (EBUSY); a reader still has one of its files open "
          "(trace_pipe_raw, a mapping or trace_pipe): close it, then run "
          "'rmdir ",
          path_, "'"));
    }
    return PathError(err, "remove tracefs instance", path_);
  }
  owned_ = false;
  return absl::OkStatus();
}

absl::StatusOr<EventCatalog> LoadEventCatalog(const std::string& events_dir,
                                              const std::string& header_path) {
  EventCatalog catalog;
  absl::StatusOr<std::string> header_text = ReadFileToString(header_path);
  if (!header_text.ok()) return header_text.status();
  absl::StatusOr<HeaderPageFormat> header = ParseHeaderPage(*header_text);
  if (!header.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(header_path, ": ", header.status().message()));
  }
  catalog.set_header_page(*header);

  absl::StatusOr<std::vector<std::string>> systems =
      ListSubdirectories(events_dir);
  if (!systems.ok()) return systems.status();
  for (const std::string& system : *systems) {
    std::string system_dir = absl::StrCat(events_dir, "/", system);
    absl::StatusOr<std::vector<std::string>> events =
        ListSubdirectories(system_dir);
    if (!events.ok()) {
      catalog.NoteSkipped(events.status().message());
      continue;
    }
    for (const std::string& event : *events) {
      std::string format_path = absl::StrCat(system_dir, "/", event, "/format");
      absl::StatusOr<std::string> text = ReadFileToString(format_path);
      if (!text.ok()) {
        catalog.NoteSkipped(text.status().message());
        continue;
      }
      absl::StatusOr<EventFormat> format = ParseEventFormat(system, *text);
      if (!format.ok()) {
        catalog.NoteSkipped(
            absl::StrCat(format_path, ": ", format.status().message()));
        continue;
      }
      absl::Status added = catalog.Add(*std::move(format));
      if (!added.ok()) {
        catalog.NoteSkipped(absl::StrCat(format_path, ": ", added.message()));
      }
    }
  }
  return catalog;
}

}  // namespace ringwatch
