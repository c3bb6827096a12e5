#include "daemon/tracedat/trace_dat_metadata.h"

#include <dirent.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/util/file_util.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {
namespace {

// Names of the subdirectories of `dir`, sorted.
absl::StatusOr<std::vector<std::string>> Subdirectories(
    const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return PathError(errno, "opendir", dir);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (e->d_type == DT_DIR ||
        (e->d_type == DT_UNKNOWN &&
         PathExists(absl::StrCat(dir, "/", name, "/.")))) {
      names.push_back(name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The format files of every event of `system`, in name order.
absl::StatusOr<std::vector<std::string>> SystemFormats(
    const std::string& events_dir, const std::string& system) {
  const std::string dir = absl::StrCat(events_dir, "/", system);
  ASSIGN_OR_RETURN(std::vector<std::string> events, Subdirectories(dir));
  std::vector<std::string> formats;
  for (const std::string& event : events) {
    const std::string path = absl::StrCat(dir, "/", event, "/format");
    if (!PathExists(path)) continue;
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
    formats.push_back(std::move(text));
  }
  return formats;
}

std::string ReadOrEmpty(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  return text.ok() ? *std::move(text) : std::string();
}

}  // namespace

absl::StatusOr<TraceDatMetadata> LoadTraceDatMetadata(
    const TraceDatMetadataSources& sources) {
  TraceDatMetadata m;
  const std::string& root = sources.tracefs_root;
  const std::string instance =
      sources.instance_dir.empty() ? root : sources.instance_dir;
  const std::string events = absl::StrCat(root, "/events");
  ASSIGN_OR_RETURN(m.header_page,
                   ReadFileToString(absl::StrCat(events, "/header_page")));
  ASSIGN_OR_RETURN(m.header_event,
                   ReadFileToString(absl::StrCat(events, "/header_event")));
  ASSIGN_OR_RETURN(m.ftrace_formats, SystemFormats(events, "ftrace"));
  ASSIGN_OR_RETURN(std::vector<std::string> systems, Subdirectories(events));
  for (const std::string& system : systems) {
    if (system == "ftrace") continue;
    ASSIGN_OR_RETURN(std::vector<std::string> formats,
                     SystemFormats(events, system));
    if (!formats.empty())
      m.event_systems.emplace_back(system, std::move(formats));
  }
  if (!sources.kallsyms_path.empty()) {
    ASSIGN_OR_RETURN(m.kallsyms, ReadFileToString(sources.kallsyms_path));
  }
  m.printk_formats = ReadOrEmpty(absl::StrCat(root, "/printk_formats"));
  m.cmdlines = ReadOrEmpty(absl::StrCat(root, "/saved_cmdlines"));
  ASSIGN_OR_RETURN(std::string clock,
                   ReadFileToString(absl::StrCat(instance, "/trace_clock")));
  m.trace_clock = std::string(absl::StripTrailingAsciiWhitespace(clock));
  utsname u;
  if (::uname(&u) == 0) {
    m.uname = absl::StrCat(u.sysname, " ", u.nodename, " ", u.release, " ",
                           u.machine);
  }
  return m;
}

uint32_t InstanceSubbufSize(const std::string& instance_dir) {
  uint32_t kb = 0;
  absl::StatusOr<std::string> text =
      ReadFileToString(absl::StrCat(instance_dir, "/buffer_subbuf_size_kb"));
  if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &kb) &&
      kb > 0 && kb <= (16u << 10)) {
    return kb * 1024;
  }
  return static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace ringwatch
