// ringcat: decodes ftrace ring buffers (live, through the mmap interface) or
// a trace-cmd trace.dat file, and prints every event with every field.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/ringcat/event_printer.h"
#include "clients/ringcat/page_capture.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/reader/reader_pool.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_metadata.h"
#include "daemon/tracedat/trace_dat_writer.h"
#include "daemon/tracefs/instance.h"
#include "daemon/tracefs/tracefs.h"
#include "daemon/util/file_util.h"

ABSL_FLAG(std::string, instance, "",
          "tracefs instance to read; created (and removed on exit) when it "
          "does not exist. Without it ringcat uses an instance of its own.");
ABSL_FLAG(std::vector<std::string>, events, {},
          "events to enable, as SYSTEM/EVENT,... (default for an instance of "
          "ringcat's own: sched/sched_switch,sched/sched_waking; ftrace/print "
          "is always recorded from the instance's trace_marker)");
ABSL_FLAG(double, duration, 0,
          "seconds to read live rings; 0 reads until Ctrl-C");
ABSL_FLAG(bool, drain, false,
          "read what the rings hold now and exit once every CPU is empty");
ABSL_FLAG(std::string, input, "", "decode this trace.dat file instead");
ABSL_FLAG(std::string, format, "jsonl", "output format: jsonl or text");
ABSL_FLAG(uint32_t, buffer_size_kb, 0,
          "per-CPU buffer size for an instance ringcat creates (0: kernel "
          "default)");
ABSL_FLAG(std::string, ring_mode, "auto",
          "how to read rings: auto (mmap, falling back to read()), mmap, read");
ABSL_FLAG(int, threads, 0, "reader threads (0: one per CPU)");
ABSL_FLAG(std::string, output, "",
          "write the live rings' sub-buffers, as the kernel wrote them, to "
          "this trace.dat file (read by trace-cmd report) instead of "
          "printing events");
ABSL_FLAG(int, file_version, 7, "trace.dat version for --output: 6 or 7");
ABSL_FLAG(std::string, compression, "zstd",
          "--output version 7 compression: zstd or none");
ABSL_FLAG(bool, kallsyms, true,
          "store /proc/kallsyms in --output files, so trace-cmd names kernel "
          "addresses (several MB uncompressed)");

namespace ringwatch {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// Writes all of `text` to stdout; false once stdout is closed (EPIPE).
bool WriteStdout(absl::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// One stderr line for a loss the kernel reported.
std::string LossLine(const LossReport& loss) {
  if (loss.unknown) {
    return absl::StrCat("cpu ", loss.cpu,
                        ": events lost (the kernel stored no count) before ts ",
                        loss.timestamp, "\n");
  }
  return absl::StrCat("cpu ", loss.cpu, ": ", loss.count,
                      " events lost before ts ", loss.timestamp, "\n");
}

// Formats the records of one CPU on its reader thread into a buffer that the
// main thread flushes to stdout, so output is written in large blocks and the
// readers never wait on the terminal.
class PrintingSink : public RecordSink {
 public:
  PrintingSink(const EventCatalog* catalog, OutputFormat format)
      : printer_(catalog, format) {}

  void OnRecord(const RecordView& record) override {
    absl::MutexLock lock(&mu_);
    printer_.Append(record, &pending_);
  }
  void OnLoss(const LossReport& loss) override {
    absl::MutexLock lock(&mu_);
    lost_note_ += LossLine(loss);
  }

  // Moves what is pending to `out`; loss notes go to stderr at once.
  void TakePending(std::string* out) {
    std::string note;
    {
      absl::MutexLock lock(&mu_);
      out->swap(pending_);
      pending_.clear();
      note.swap(lost_note_);
    }
    if (!note.empty()) std::fputs(note.c_str(), stderr);
  }

  uint64_t unknown_events() {
    absl::MutexLock lock(&mu_);
    return printer_.unknown_events();
  }
  uint64_t bad_fields() {
    absl::MutexLock lock(&mu_);
    return printer_.bad_fields();
  }

 private:
  absl::Mutex mu_;
  EventPrinter printer_ ABSL_GUARDED_BY(mu_);
  std::string pending_ ABSL_GUARDED_BY(mu_);
  std::string lost_note_ ABSL_GUARDED_BY(mu_);
};

// Per-CPU tallies for records decoded from a trace.dat file.
class CountingPrintingSink : public RecordSink {
 public:
  CountingPrintingSink(const EventCatalog* catalog, OutputFormat format)
      : printer_(catalog, format) {}
  void OnRecord(const RecordView& record) override {
    printer_.Append(record, &pending_);
    if (record.cpu >= per_cpu_events_.size()) {
      per_cpu_events_.resize(record.cpu + 1);
    }
    ++per_cpu_events_[record.cpu];
    if (pending_.size() > (1 << 16)) Flush();
  }
  void OnLoss(const LossReport& loss) override {
    std::fputs(LossLine(loss).c_str(), stderr);
  }
  bool Flush() {
    bool ok = stdout_open_ && WriteStdout(pending_);
    stdout_open_ = ok;
    pending_.clear();
    return ok;
  }
  const std::vector<uint64_t>& per_cpu_events() const {
    return per_cpu_events_;
  }

 private:
  EventPrinter printer_;
  std::string pending_;
  std::vector<uint64_t> per_cpu_events_;
  bool stdout_open_ = true;
};

absl::StatusOr<OutputFormat> ParseFormat(absl::string_view name) {
  if (name == "jsonl" || name == "json") return OutputFormat::kJsonLines;
  if (name == "text") return OutputFormat::kText;
  return absl::InvalidArgumentError(
      absl::StrCat("--format '", name, "': expected jsonl or text"));
}

absl::StatusOr<RingMode> ParseRingMode(absl::string_view name) {
  if (name == "auto") return RingMode::kAuto;
  if (name == "mmap") return RingMode::kMmap;
  if (name == "read") return RingMode::kRead;
  return absl::InvalidArgumentError(
      absl::StrCat("--ring_mode '", name, "': expected auto, mmap or read"));
}

int DecodeTraceDat(const std::string& path, OutputFormat format) {
  auto file = TraceDatFile::Open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "ringcat: %s\n", file.status().ToString().c_str());
    return kExitError;
  }
  CountingPrintingSink sink(&(*file)->catalog(), format);
  DecodeCounters totals;
  absl::Status status = (*file)->ReadAll(&sink, &totals);
  sink.Flush();
  std::fprintf(stderr,
               "ringcat: %s: trace.dat v%d (%s), %zu events, %llu lost, "
               "%llu lost (count unknown), %llu sub-buffers, %llu decode "
               "errors\n",
               path.c_str(), (*file)->version(), (*file)->compression().c_str(),
               static_cast<size_t>(totals.events),
               static_cast<unsigned long long>(totals.lost_events),
               static_cast<unsigned long long>(totals.lost_unknown),
               static_cast<unsigned long long>(totals.subbufs),
               static_cast<unsigned long long>(totals.decode_errors));
  const auto& per_cpu = sink.per_cpu_events();
  for (size_t cpu = 0; cpu < per_cpu.size(); ++cpu) {
    std::fprintf(stderr, "  cpu %zu: %llu events\n", cpu,
                 static_cast<unsigned long long>(per_cpu[cpu]));
  }
  if (!status.ok()) {
    std::fprintf(stderr, "ringcat: %s\n", status.ToString().c_str());
    return kExitError;
  }
  return kExitOk;
}

void PrintSummary(const std::vector<RingCounters>& counters,
                  std::vector<std::unique_ptr<PrintingSink>>& sinks) {
  std::fprintf(stderr, "%-5s %12s %10s %10s %10s %10s %8s %s\n", "cpu",
               "events", "lost", "lost?", "overrun", "subbufs", "errors",
               "via");
  uint64_t unknown = 0, bad = 0;
  for (size_t i = 0; i < counters.size(); ++i) {
    const RingCounters& c = counters[i];
    std::fprintf(stderr, "%-5u %12llu %10llu %10llu %10llu %10llu %8llu %s\n",
                 c.cpu, static_cast<unsigned long long>(c.events),
                 static_cast<unsigned long long>(c.lost),
                 static_cast<unsigned long long>(c.lost_unknown),
                 static_cast<unsigned long long>(c.overrun),
                 static_cast<unsigned long long>(c.subbufs),
                 static_cast<unsigned long long>(c.decode_errors),
                 c.mapped ? "mmap" : "read()");
    unknown += sinks[i]->unknown_events();
    bad += sinks[i]->bad_fields();
  }
  if (unknown || bad) {
    std::fprintf(stderr,
                 "ringcat: %llu events of unknown id, %llu fields that did "
                 "not fit their record\n",
                 static_cast<unsigned long long>(unknown),
                 static_cast<unsigned long long>(bad));
  }
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "ringcat: %s\n", status.ToString().c_str());
  return kExitError;
}

// Counts what the pages hold, for the summary (the file keeps them as is).
class CountingSink : public RecordSink {
 public:
  void OnRecord(const RecordView&) override {}
};

// --output: the instance's sub-buffers, read whole with read(), go to a
// trace.dat file unchanged; the metadata (formats, kallsyms, command lines)
// is read from tracefs at the end, so it names every task seen.
absl::Status CaptureToFile(Instance* instance, const std::string& root,
                           const EventCatalog& catalog,
                           const std::vector<int>& cpus, bool configure,
                           bool drain, double duration) {
  const std::string path = absl::GetFlag(FLAGS_output);
  TraceDatWriterOptions options;
  options.version = absl::GetFlag(FLAGS_file_version);
  const std::string compression = absl::GetFlag(FLAGS_compression);
  options.compression = compression == "none" ? TraceDatCompression::kNone
                                              : TraceDatCompression::kZstd;
  TraceDatMetadataSources sources;
  sources.tracefs_root = root;
  sources.instance_dir = instance->path();
  if (!absl::GetFlag(FLAGS_kallsyms)) sources.kallsyms_path.clear();
  int max_cpu = 0;
  for (int cpu : cpus) max_cpu = std::max(max_cpu, cpu);
  const uint32_t cpu_count = static_cast<uint32_t>(max_cpu) + 1;
  const uint32_t page_size = InstanceSubbufSize(instance->path());
  // A ring's worth per CPU and call: buffer_size_kb is per CPU.
  // "1408", or "7 (expanded: 1408)" before the ring was first enlarged.
  uint64_t ring_kb = 0;
  auto ring_kb_text = ReadFileToString(instance->path() + "/buffer_size_kb");
  absl::string_view kb_text = ring_kb_text.ok() ? *ring_kb_text : "";
  const size_t expanded = kb_text.find("expanded:");
  if (expanded != absl::string_view::npos) {
    kb_text = kb_text.substr(expanded + 9);
    kb_text = kb_text.substr(0, kb_text.find(')'));
  }
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(kb_text), &ring_kb)) {
    ring_kb = 1 << 20;  // Unreadable: bound by 1 GiB per CPU.
  }
  auto capture = PageCapture::Open(instance->path(), cpus, page_size,
                                   ring_kb * 1024 / page_size + 2);
  if (!capture.ok()) return capture.status();
  auto writer = TraceDatWriter::Create(path, page_size, cpu_count, options);
  if (!writer.ok()) return writer.status();
  std::vector<DecodeCounters> counters(cpu_count);
  std::vector<uint64_t> pages(cpu_count);
  CountingSink counting;
  auto on_page = [&](uint32_t cpu, absl::Span<const uint8_t> page) {
    ++pages[cpu];
    DecodeSubbuf(cpu, page, catalog.header_page(), &counting, &counters[cpu])
        .IgnoreError();  // Counted in decode_errors; stored as it is.
    return (*writer)->AddPage(cpu, page);
  };
  absl::Status status;
  if (!drain) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    const absl::Time deadline = duration > 0
                                    ? absl::Now() + absl::Seconds(duration)
                                    : absl::InfiniteFuture();
    while (status.ok()) {
      status = capture->ReadAvailable(on_page).status();
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      timespec wait = absl::ToTimespec(std::min(left, absl::Milliseconds(100)));
      int signal = ::sigtimedwait(&signals, nullptr, &wait);
      if (signal > 0) {
        std::fprintf(stderr, "ringcat: %s, stopping\n", ::strsignal(signal));
        break;
      }
    }
    if (configure) instance->SetTracingOn(false).IgnoreError();
  }
  // What is left (all of it with --drain).
  if (status.ok()) status = capture->ReadAvailable(on_page).status();
  if (!status.ok()) return status;
  // Read now, so the saved command lines name the tasks the pages hold.
  auto metadata = LoadTraceDatMetadata(sources);
  if (!metadata.ok()) return metadata.status();
  status = (*writer)->Finish(*metadata);
  if (!status.ok()) return status;
  std::fprintf(stderr, "%-5s %10s %12s %10s %10s %8s\n", "cpu", "pages",
               "events", "lost", "lost?", "errors");
  for (int cpu : cpus) {
    const DecodeCounters& c = counters[cpu];
    std::fprintf(stderr, "%-5d %10llu %12llu %10llu %10llu %8llu\n", cpu,
                 static_cast<unsigned long long>(pages[cpu]),
                 static_cast<unsigned long long>(c.events),
                 static_cast<unsigned long long>(c.lost_events),
                 static_cast<unsigned long long>(c.lost_unknown),
                 static_cast<unsigned long long>(c.decode_errors));
  }
  std::fprintf(stderr, "ringcat: wrote %s: trace.dat v%d (%s), %llu bytes\n",
               path.c_str(), options.version,
               options.version == 6 ? "none" : compression.c_str(),
               static_cast<unsigned long long>((*writer)->file_bytes()));
  return absl::OkStatus();
}

int ReadLive(OutputFormat format, RingMode ring_mode) {
  const std::string instance_name = absl::GetFlag(FLAGS_instance);
  std::vector<std::string> events = absl::GetFlag(FLAGS_events);
  const bool drain = absl::GetFlag(FLAGS_drain);
  const double duration = absl::GetFlag(FLAGS_duration);

  auto root = FindOrMountTracefs();
  if (!root.ok()) return Fail(root.status());

  // Our own instance unless told otherwise; an existing instance named by
  // the user is opened without owning it, so it outlives ringcat.
  std::unique_ptr<Instance> instance;
  if (instance_name.empty()) {
    auto created = Instance::Create(*root, absl::StrCat("ringcat_", ::getpid()),
                                    /*reuse_existing=*/false);
    if (!created.ok()) return Fail(created.status());
    instance = std::move(*created);
  } else {
    auto created =
        Instance::Create(*root, instance_name, /*reuse_existing=*/true);
    if (!created.ok()) return Fail(created.status());
    instance = std::move(*created);
  }
  // Changing nothing of an existing instance's setup is a promise: only an
  // instance ringcat created, or explicit --events, touch its settings.
  const bool configure = instance->owned() || !events.empty();
  if (instance->owned() && events.empty()) {
    events = {"sched/sched_switch", "sched/sched_waking"};
  }
  if (configure) {
    if (instance->owned() && absl::GetFlag(FLAGS_buffer_size_kb) > 0) {
      absl::Status status =
          instance->SetBufferSizeKb(absl::GetFlag(FLAGS_buffer_size_kb));
      if (!status.ok()) return Fail(status);
    }
    for (const std::string& event : events) {
      absl::Status status = instance->EnableEvent(event);
      if (!status.ok()) return Fail(status);
    }
    // Our own events are not filtered out: the kernel's pid filter drops
    // other tasks' events unseen too (docs/architecture.md).
    absl::Status status = instance->SetTracingOn(true);
    if (!status.ok()) return Fail(status);
  }

  auto catalog = instance->LoadCatalog();
  if (!catalog.ok()) return Fail(catalog.status());
  auto cpus = OnlineCpus();
  if (!cpus.ok()) return Fail(cpus.status());
  if (!absl::GetFlag(FLAGS_output).empty()) {
    absl::Status status = CaptureToFile(instance.get(), *root, *catalog, *cpus,
                                        configure, drain, duration);
    if (instance->owned()) {
      absl::Status removed = instance->Remove();
      if (!removed.ok()) {
        std::fprintf(stderr, "ringcat: %s\n", removed.ToString().c_str());
      }
    }
    if (!status.ok()) return Fail(status);
    return kExitOk;
  }
  RingOptions ring_options;
  ring_options.mode = ring_mode;
  auto rings = OpenCpuRings(instance->path(), *cpus, catalog->header_page(),
                            ring_options);
  if (!rings.ok()) return Fail(rings.status());

  std::vector<std::unique_ptr<PrintingSink>> sinks;
  std::vector<RecordSink*> sink_pointers;
  for (size_t i = 0; i < rings->size(); ++i) {
    sinks.push_back(std::make_unique<PrintingSink>(&*catalog, format));
    sink_pointers.push_back(sinks.back().get());
  }
  ReaderPoolOptions pool_options;
  pool_options.threads = absl::GetFlag(FLAGS_threads);
  // A quiet CPU's last events would otherwise wait for buffer_percent.
  pool_options.tick = absl::Milliseconds(200);
  auto pool =
      ReaderPool::Create(std::move(*rings), sink_pointers, pool_options);
  if (!pool.ok()) return Fail(pool.status());

  bool stdout_open = true;
  std::string block;
  auto flush = [&]() {
    for (auto& sink : sinks) {
      sink->TakePending(&block);
      if (stdout_open && !WriteStdout(block)) stdout_open = false;
    }
  };

  absl::Status status;
  if (drain) {
    status = (*pool)->Drain();
    flush();
  } else {
    // Signals are taken synchronously by this thread (blocked everywhere
    // else, as the reader threads inherit the mask).
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    status = (*pool)->Start();
    const absl::Time deadline = duration > 0
                                    ? absl::Now() + absl::Seconds(duration)
                                    : absl::InfiniteFuture();
    while (status.ok() && stdout_open) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      timespec wait = absl::ToTimespec(std::min(left, absl::Milliseconds(100)));
      int signal = ::sigtimedwait(&signals, nullptr, &wait);
      flush();
      if (signal > 0) {
        std::fprintf(stderr, "ringcat: %s, stopping\n", ::strsignal(signal));
        break;
      }
    }
    // Stop recording first so the flush below reaches a fixed end.
    if (configure) instance->SetTracingOn(false).IgnoreError();
    absl::Status stop = (*pool)->Stop(/*flush=*/true);
    if (status.ok()) status = stop;
    flush();
  }
  PrintSummary((*pool)->Counters(), sinks);
  pool->reset();  // Closes the rings, so the instance can be removed.
  if (instance->owned()) {
    absl::Status removed = instance->Remove();
    if (!removed.ok()) {
      std::fprintf(stderr, "ringcat: %s\n", removed.ToString().c_str());
    }
  }
  if (!status.ok()) return Fail(status);
  return kExitOk;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "decodes ftrace ring buffers in place and prints every event.\n"
      "  ringcat [--instance NAME] [--events SYSTEM/EVENT,...] "
      "[--duration SECONDS | --drain] [--input trace.dat] "
      "[--format jsonl|text]\n"
      "          [--output FILE.dat [--file_version 6|7] "
      "[--compression zstd|none]]");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::fprintf(stderr, "ringcat: unexpected argument '%s' (see --help)\n",
                 positional[1]);
    return kExitUsage;
  }
  auto format = ParseFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) {
    std::fprintf(stderr, "ringcat: %s\n",
                 std::string(format.status().message()).c_str());
    return kExitUsage;
  }
  auto ring_mode = ParseRingMode(absl::GetFlag(FLAGS_ring_mode));
  if (!ring_mode.ok()) {
    std::fprintf(stderr, "ringcat: %s\n",
                 std::string(ring_mode.status().message()).c_str());
    return kExitUsage;
  }
  if (absl::GetFlag(FLAGS_drain) && absl::GetFlag(FLAGS_duration) > 0) {
    std::fprintf(stderr,
                 "ringcat: --drain and --duration exclude each other\n");
    return kExitUsage;
  }
  if (absl::GetFlag(FLAGS_duration) < 0) {
    std::fprintf(stderr, "ringcat: --duration must be >= 0\n");
    return kExitUsage;
  }
  const int file_version = absl::GetFlag(FLAGS_file_version);
  const std::string compression = absl::GetFlag(FLAGS_compression);
  if (file_version != 6 && file_version != 7) {
    std::fprintf(stderr, "ringcat: --file_version %d: expected 6 or 7\n",
                 file_version);
    return kExitUsage;
  }
  if (compression != "zstd" && compression != "none") {
    std::fprintf(stderr, "ringcat: --compression '%s': expected zstd or none\n",
                 compression.c_str());
    return kExitUsage;
  }
  // A closed pipe (ringcat | head) is seen as EPIPE, not a fatal signal.
  ::signal(SIGPIPE, SIG_IGN);
  const std::string input = absl::GetFlag(FLAGS_input);
  if (!input.empty()) {
    if (!absl::GetFlag(FLAGS_output).empty()) {
      std::fprintf(stderr,
                   "ringcat: --output records live rings; it does not "
                   "convert an --input file\n");
      return kExitUsage;
    }
    if (!absl::GetFlag(FLAGS_instance).empty() ||
        !absl::GetFlag(FLAGS_events).empty()) {
      std::fprintf(stderr,
                   "ringcat: --input reads a file; --instance and --events "
                   "apply to live rings only\n");
      return kExitUsage;
    }
    return DecodeTraceDat(input, *format);
  }
  // Block the stop signals before any thread starts, so only sigtimedwait
  // in ReadLive receives them and the instance is always removed.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return ReadLive(*format, *ring_mode);
}

}  // namespace
}  // namespace ringwatch

int main(int argc, char** argv) { return ringwatch::Main(argc, argv); }
