#include "daemon/agg/config_loader.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "daemon/agg/agg_spec.h"
#include "daemon/agg/memory_budget.h"
#include "daemon/snapshot/recorder_settings.h"
#include "daemon/util/file_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace ringwatch {
namespace agg {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;
using Path = std::vector<std::pair<std::string, int>>;

constexpr const char* kTraceClocks[] = {"local", "global", "counter",  "uptime",
                                        "perf",  "mono",   "mono_raw", "boot",
                                        "tai",   "x86-tsc"};

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(absl::string_view filename) : filename_(filename) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(
        absl::StrCat(filename_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    AddError(line, column, absl::StrCat("warning: ", message));
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string filename_;
  std::vector<std::string> errors_;
};

struct Problem {
  Path path;
  std::string prefix;  // `aggregation "x": ` or "".
  std::string message;
};

std::string PathString(const Path& path) {
  SpecError e;
  e.path = path;
  return e.PathString();
}

// The deepest recorded position along `path`: the field itself when the file
// set it, else the closest enclosing block that is in the file.
TextFormat::ParseLocation Locate(const TextFormat::ParseInfoTree* tree,
                                 const Path& path) {
  TextFormat::ParseLocation best;
  const Descriptor* desc = v1::Config::descriptor();
  for (size_t i = 0; i < path.size() && tree != nullptr && desc != nullptr;
       ++i) {
    const FieldDescriptor* fd = desc->FindFieldByName(path[i].first);
    if (fd == nullptr) break;
    int index = path[i].second;
    if (fd->is_repeated() && index < 0) index = 0;
    if (!fd->is_repeated()) index = -1;
    const TextFormat::ParseLocation loc = tree->GetLocation(fd, index);
    if (loc.line >= 0) best = loc;
    if (fd->type() != FieldDescriptor::TYPE_MESSAGE) break;
    tree = tree->GetTreeForNested(fd, index);
    desc = fd->message_type();
  }
  return best;
}

bool ValidInstanceName(absl::string_view name) {
  if (name.empty() || name.size() > 200 || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
          c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

// Everything except the aggregations' contents.
void CheckSettings(const v1::Config& config, const EventCatalog* catalog,
                   std::vector<Problem>* problems) {
  auto add = [problems](Path path, std::string message) {
    problems->push_back({std::move(path), "", std::move(message)});
  };
  if (catalog != nullptr) {
    for (int i = 0; i < config.events_size(); ++i) {
      absl::StatusOr<const EventFormat*> f = catalog->Lookup(config.events(i));
      if (!f.ok()) add({{"events", i}}, std::string(f.status().message()));
    }
  }
  if (config.buffer_percent() > 100) {
    add({{"buffer_percent", -1}},
        absl::StrCat("buffer_percent ", config.buffer_percent(),
                     " is not a percentage (1..100)"));
  } else if (config.has_buffer_percent() && config.buffer_percent() == 0) {
    add({{"buffer_percent", -1}},
        "buffer_percent 0 wakes a reader on every event, and its own "
        "syscalls and context switches are events: it would wake itself "
        "forever. Use 1..100, and a shorter reader_tick for lower latency");
  }
  // Checked whichever of the two is set: an idle_grace at or below the
  // default reader_tick is as wrong as a reader_tick above the default
  // idle_grace (found by config_loader_fuzzer: such a config was accepted,
  // and refused once its defaults were filled in).
  if (!config.reader_tick().empty() || !config.idle_grace().empty()) {
    const bool tick_set = !config.reader_tick().empty();
    const absl::string_view grace_text =
        config.idle_grace().empty() ? absl::string_view(kDefaultIdleGrace)
                                    : absl::string_view(config.idle_grace());
    const absl::string_view tick_text =
        tick_set ? absl::string_view(config.reader_tick())
                 : absl::string_view(kDefaultReaderTick);
    absl::StatusOr<uint64_t> tick =
        ParseDurationNs(tick_text, kMinReaderTickNs, kMaxReaderTickNs);
    absl::StatusOr<uint64_t> grace =
        ParseDurationNs(grace_text, kMinIdleGraceNs, kMaxIdleGraceNs);
    if (!tick.ok()) {
      add({{"reader_tick", -1}},
          absl::StrCat("bad reader_tick: ", tick.status().message()));
    } else if (grace.ok() && *tick >= *grace) {
      // A reader that has not woken yet looks like a quiet CPU.
      add({{tick_set ? "reader_tick" : "idle_grace", -1}},
          absl::StrCat("reader_tick \"", tick_text, "\"",
                       tick_set ? "" : " (the default)",
                       " must be shorter than idle_grace (", grace_text,
                       "), or windows close before busy CPUs are read"));
    }
  }
  if (config.buffer_size_kb() > (1u << 22)) {
    add({{"buffer_size_kb", -1}},
        absl::StrCat("buffer_size_kb ", config.buffer_size_kb(),
                     " is above 4 GiB per CPU"));
  }
  if (!config.trace_clock().empty() &&
      std::find(std::begin(kTraceClocks), std::end(kTraceClocks),
                config.trace_clock()) == std::end(kTraceClocks)) {
    add({{"trace_clock", -1}},
        absl::StrCat("unknown trace clock \"", config.trace_clock(),
                     "\"; one of ", absl::StrJoin(kTraceClocks, ", "),
                     " (\"mono\" is recommended)"));
  }
  if (!config.instance().empty() && !ValidInstanceName(config.instance())) {
    add({{"instance", -1}},
        absl::StrCat("bad instance name \"", config.instance(),
                     "\": use 1-200 characters of [A-Za-z0-9_.-]"));
  }
  if (config.reader_threads() > 4096) {
    add({{"reader_threads", -1}},
        absl::StrCat("reader_threads ", config.reader_threads(),
                     " is above 4096"));
  }
  const v1::Listen& listen = config.listen();
  if (!listen.unix_socket().empty() && listen.unix_socket() != "none" &&
      listen.unix_socket()[0] != '/') {
    add({{"listen", -1}, {"unix_socket", -1}},
        absl::StrCat("unix_socket \"", listen.unix_socket(),
                     "\" must be an absolute path (or \"none\")"));
  }
  if (listen.unix_socket().size() > 107) {
    add({{"listen", -1}, {"unix_socket", -1}},
        "unix_socket path is longer than sun_path's 107 characters");
  }
  if (listen.has_tls()) {
    const v1::Tls& tls = listen.tls();
    if (listen.tcp_address().empty()) {
      add({{"listen", -1}, {"tls", -1}},
          "tls applies to the TCP listener, but tcp_address is not set");
    }
    if (tls.cert_file().empty() != tls.key_file().empty()) {
      add({{"listen", -1}, {"tls", -1}},
          "tls needs both cert_file and key_file");
    }
    if (tls.cert_file().empty() && !tls.client_ca_file().empty()) {
      add({{"listen", -1}, {"tls", -1}, {"client_ca_file", -1}},
          "client_ca_file needs cert_file and key_file");
    }
  }
  if (config.limits().queue_depth() > 65536) {
    add({{"limits", -1}, {"queue_depth", -1}},
        absl::StrCat("queue_depth ", config.limits().queue_depth(),
                     " is above 65536"));
  }
  if (!config.limits().max_memory().empty()) {
    absl::StatusOr<uint64_t> bytes =
        ParseMemorySize(config.limits().max_memory());
    if (!bytes.ok()) {
      add({{"limits", -1}, {"max_memory", -1}},
          std::string(bytes.status().message()));
    }
  }
  if (config.has_flight_recorder()) {
    absl::StatusOr<RecorderSettings> recorder =
        RecorderSettingsFromConfig(config.flight_recorder());
    if (!recorder.ok()) {
      for (absl::string_view line :
           absl::StrSplit(recorder.status().message(), '\n')) {
        absl::ConsumePrefix(&line, "flight_recorder.");
        add({{"flight_recorder", -1}}, std::string(line));
      }
    }
  }
  if (config.limits().max_subscribers() > 65536) {
    add({{"limits", -1}, {"max_subscribers", -1}},
        absl::StrCat("max_subscribers ", config.limits().max_subscribers(),
                     " is above 65536"));
  }
  if (!config.idle_grace().empty()) {
    absl::StatusOr<uint64_t> ns =
        ParseDurationNs(config.idle_grace(), kMinIdleGraceNs, kMaxIdleGraceNs);
    if (!ns.ok()) {
      add({{"idle_grace", -1}},
          absl::StrCat("bad idle_grace: ", ns.status().message()));
    }
  }
  if (!config.flush_interval().empty()) {
    absl::StatusOr<uint64_t> ns =
        ParseDurationNs(config.flush_interval(), kMinWindowNs, kMaxWindowNs);
    if (!ns.ok()) {
      add({{"flush_interval", -1}},
          absl::StrCat("bad flush_interval: ", ns.status().message()));
    }
  }
}

std::string AggregationPrefix(const v1::Aggregation& a) {
  return absl::StrCat("aggregation \"", a.name(), "\": ");
}

void CheckAggregations(const v1::Config& config, const EventCatalog* catalog,
                       std::vector<Problem>* problems) {
  for (int i = 0; i < config.aggregation_size(); ++i) {
    const v1::Aggregation& a = config.aggregation(i);
    const std::string prefix = AggregationPrefix(a);
    for (int j = 0; j < i; ++j) {
      if (!a.name().empty() && config.aggregation(j).name() == a.name()) {
        problems->push_back({{{"aggregation", i}, {"name", -1}},
                             prefix,
                             "duplicate name (also aggregation #" +
                                 std::to_string(j + 1) + ")"});
        break;
      }
    }
    if (catalog == nullptr) {
      if (!a.name().empty() && !ValidAggregationName(a.name())) {
        problems->push_back(
            {{{"aggregation", i}, {"name", -1}},
             prefix,
             "bad name: use 1-64 characters of [A-Za-z0-9_.-]"});
      }
      if (!a.window().empty()) {
        absl::StatusOr<uint64_t> ns =
            ParseDurationNs(a.window(), kMinWindowNs, kMaxWindowNs);
        if (!ns.ok()) {
          problems->push_back(
              {{{"aggregation", i}, {"window", -1}},
               prefix,
               absl::StrCat("bad window: ", ns.status().message())});
        }
      }
      continue;
    }
    std::vector<SpecError> errors;
    CompileAggregation(a, *catalog, &errors);
    for (SpecError& e : errors) {
      Path path = {{"aggregation", i}};
      path.insert(path.end(), e.path.begin(), e.path.end());
      problems->push_back({std::move(path), prefix, std::move(e.message)});
    }
  }
}

absl::Status Report(const std::vector<Problem>& problems,
                    absl::string_view filename,
                    const TextFormat::ParseInfoTree* tree) {
  if (problems.empty()) return absl::OkStatus();
  std::vector<std::string> lines;
  for (const Problem& p : problems) {
    std::string where;
    if (tree != nullptr) {
      const TextFormat::ParseLocation loc = Locate(tree, p.path);
      where = loc.line >= 0 ? absl::StrCat(filename, ":", loc.line + 1, ":",
                                           loc.column + 1, ": ")
                            : absl::StrCat(filename, ": ");
    }
    // Inside an aggregation the path starts after "aggregation[i]".
    Path shown = p.path;
    if (!shown.empty() && shown[0].first == "aggregation") {
      shown.erase(shown.begin());
    }
    const std::string path = PathString(shown);
    lines.push_back(absl::StrCat(where, p.prefix,
                                 path.empty() ? "" : absl::StrCat(path, ": "),
                                 p.message));
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

}  // namespace

absl::StatusOr<v1::Config> ParseConfig(absl::string_view text,
                                       absl::string_view filename,
                                       const EventCatalog* catalog) {
  v1::Config config;
  TextFormat::Parser parser;
  Collector collector(filename);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &config)) {
    if (collector.errors().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(filename, ": not a valid ringwatch config"));
    }
    return absl::InvalidArgumentError(absl::StrJoin(collector.errors(), "\n"));
  }
  std::vector<Problem> problems;
  CheckSettings(config, catalog, &problems);
  CheckAggregations(config, catalog, &problems);
  absl::Status status = Report(problems, filename, &tree);
  if (!status.ok()) return status;
  return config;
}

absl::StatusOr<v1::Config> LoadConfigFile(const std::string& path,
                                          const EventCatalog& catalog) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path, &catalog);
}

absl::Status ValidateAggregation(const v1::Aggregation& aggregation,
                                 const EventCatalog& catalog) {
  return CompileAggregation(aggregation, catalog).status();
}

v1::Config WithDefaults(const v1::Config& in) {
  v1::Config c = in;
  if (c.buffer_size_kb() == 0) c.set_buffer_size_kb(4096);
  if (!c.has_buffer_percent()) c.set_buffer_percent(50);
  if (c.trace_clock().empty()) c.set_trace_clock("mono");
  if (c.instance().empty()) c.set_instance("ringwatch");
  if (c.listen().unix_socket().empty()) {
    c.mutable_listen()->set_unix_socket(kDefaultUnixSocket);
  }
  if (c.limits().max_subscribers() == 0)
    c.mutable_limits()->set_max_subscribers(64);
  if (c.limits().queue_depth() == 0) c.mutable_limits()->set_queue_depth(64);
  if (c.limits().max_memory().empty()) {
    c.mutable_limits()->set_max_memory(kDefaultMaxMemory);
  }
  if (c.idle_grace().empty()) c.set_idle_grace(kDefaultIdleGrace);
  if (c.reader_tick().empty()) c.set_reader_tick(kDefaultReaderTick);
  if (c.flush_interval().empty()) c.set_flush_interval("1s");
  return c;
}

}  // namespace agg
}  // namespace ringwatch
