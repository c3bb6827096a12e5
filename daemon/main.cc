// ringwatchd: maps every CPU's ftrace ring buffer, aggregates events live and
// serves the results over gRPC.
//
//   ringwatchd [--config FILE]      (built-in defaults without --config)
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/agg/agg_spec.h"
#include "daemon/agg/config_loader.h"
#include "daemon/agg/engine.h"
#include "daemon/daemon_backend.h"
#include "daemon/default_config.h"
#include "daemon/metrics/aggregation_collector.h"
#include "daemon/metrics/listener.h"
#include "daemon/metrics/metrics_service.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/reader/reader_pool.h"
#include "daemon/recorder/flight_recorder.h"
#include "daemon/server/server.h"
#include "daemon/snapshot/recorder_settings.h"
#include "daemon/snapshot/snapshot_trigger.h"
#include "daemon/snapshot/snapshotter.h"
#include "daemon/systemd/listen_fds.h"
#include "daemon/systemd/log.h"
#include "daemon/systemd/notifier.h"
#include "daemon/systemd/pid_file.h"
#include "daemon/systemd/signal_watcher.h"
#include "daemon/systemd/stale_instances.h"
#include "daemon/systemd/watchdog_petter.h"
#include "daemon/tracedat/trace_dat_metadata.h"
#include "daemon/tracefs/instance.h"
#include "daemon/tracefs/tracefs.h"
#include "daemon/util/file_util.h"
#include "daemon/util/status_macros.h"

ABSL_FLAG(std::string, config, "",
          "config file (protobuf text format, see "
          "config/ringwatch.textproto); empty: the built-in defaults");
ABSL_FLAG(std::string, unix_socket, "",
          "overrides listen.unix_socket of the config");
ABSL_FLAG(std::string, tcp_address, "",
          "overrides listen.tcp_address of the config");
ABSL_FLAG(std::string, pid_file, "",
          "pid file guarding the instance name (default "
          "/run/ringwatch/<instance>.pid)");
ABSL_FLAG(bool, check_config, false,
          "validate the config against this kernel's events and exit");
ABSL_FLAG(std::string, tracefs, "",
          "the tracefs directory to use (default: found in /proc/mounts, "
          "else mounted at /sys/kernel/tracing)");

namespace ringwatch {
namespace {

constexpr char kVersion[] = "0.1.0";

// Journal (structured) under systemd, stderr otherwise.
void LogLine(absl::string_view line) { RW_LOG(Severity::kInfo, line); }
void LogError(absl::string_view line) { RW_LOG(Severity::kError, line); }

// The config text and the name errors should use for it.
struct ConfigSource {
  std::string text;
  std::string name;
};

absl::StatusOr<ConfigSource> ReadConfigSource() {
  std::string path = absl::GetFlag(FLAGS_config);
  if (path.empty()) return ConfigSource{kDefaultConfigText, "<built-in>"};
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ConfigSource{std::move(text), path};
}

absl::StatusOr<v1::Config> LoadConfig(const EventCatalog& catalog) {
  ASSIGN_OR_RETURN(ConfigSource source, ReadConfigSource());
  ASSIGN_OR_RETURN(v1::Config config,
                   agg::ParseConfig(source.text, source.name, &catalog));
  if (!absl::GetFlag(FLAGS_unix_socket).empty()) {
    config.mutable_listen()->set_unix_socket(absl::GetFlag(FLAGS_unix_socket));
  }
  if (!absl::GetFlag(FLAGS_tcp_address).empty()) {
    config.mutable_listen()->set_tcp_address(absl::GetFlag(FLAGS_tcp_address));
  }
  if (!config.metrics().listen().empty()) {
    RETURN_IF_ERROR(
        metrics::ParseListenAddress(config.metrics().listen()).status());
  }
  for (const v1::Aggregation& aggregation : config.aggregation()) {
    RETURN_IF_ERROR(metrics::ValidateAggregationMetrics(aggregation));
  }
  return agg::WithDefaults(config);
}

std::string KernelRelease() {
  struct utsname name;
  if (::uname(&name) != 0) return "";
  return name.release;
}

// --tracefs, else the standard place. The unit passes a bind mount of
// tracefs: under ProtectKernelTunables=yes /sys/kernel/tracing is read-only.
absl::StatusOr<std::string> TracefsRoot() {
  const std::string dir = absl::GetFlag(FLAGS_tracefs);
  if (dir.empty()) return FindOrMountTracefs();
  if (!PathExists(dir + "/instances") || !PathExists(dir + "/events")) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--tracefs ", dir,
        ": not a tracefs mount (no instances/ and events/ in it)"));
  }
  return dir;
}

// Creates the daemon's instance after removing what a crashed earlier run
// left behind (the pid file tells whether that run is still alive).
absl::StatusOr<std::unique_ptr<Instance>> CreateFreshInstance(
    const std::string& root, const std::string& name,
    const std::string& pid_file) {
  ASSIGN_OR_RETURN(StaleInstanceReport report,
                   RemoveStaleInstances(root, name, pid_file));
  if (!report.removed.empty() || !report.kept.empty() ||
      !report.failed.empty()) {
    LogLine(absl::StrCat("stale instances: ", report.Summary()));
  }
  return Instance::Create(root, name, /*reuse_existing=*/false);
}

absl::Status SetUpInstance(Instance& instance, const v1::Config& config,
                           const agg::Engine& engine) {
  // Off until the daemon's own threads are excluded (a new instance
  // records from the start).
  RETURN_IF_ERROR(instance.SetTracingOn(false));
  if (config.buffer_size_kb() > 0) {
    RETURN_IF_ERROR(instance.SetBufferSizeKb(config.buffer_size_kb()));
  }
  if (!config.trace_clock().empty()) {
    RETURN_IF_ERROR(instance.SetTraceClock(config.trace_clock()));
  }
  // Always written: 0 means "wake on every event" (config.proto), not the
  // kernel's default of 50.
  RETURN_IF_ERROR(instance.SetBufferPercent(config.buffer_percent()));
  for (const std::string& event : config.events()) {
    RETURN_IF_ERROR(instance.EnableEvent(event));
  }
  for (const std::string& event : engine.RequiredEvents()) {
    RETURN_IF_ERROR(instance.EnableEvent(event));
  }
  return absl::OkStatus();
}

ServerOptions ServerOptionsFromConfig(const v1::Config& config) {
  ServerOptions options;
  const v1::Listen& listen = config.listen();
  options.unix_socket =
      listen.unix_socket() == "none" ? "" : listen.unix_socket();
  options.tcp_address = listen.tcp_address();
  options.tls_cert_file = listen.tls().cert_file();
  options.tls_key_file = listen.tls().key_file();
  options.tls_client_ca_file = listen.tls().client_ca_file();
  if (config.limits().max_subscribers() > 0) {
    options.limits.max_subscribers = config.limits().max_subscribers();
  }
  if (config.limits().queue_depth() > 0) {
    options.limits.subscriber_queue = config.limits().queue_depth();
  }
  return options;
}

// UNAVAILABLE while a reader thread has not gone round its loop for
// `stalled_after`: the condition that stops the watchdog pets and makes
// health checks report NOT_SERVING.
absl::Status ReadersHealthy(const ReaderPool& readers,
                            absl::Duration stalled_after) {
  absl::Duration since = readers.LongestSinceHeartbeat();
  if (since > stalled_after) {
    return absl::UnavailableError(absl::StrCat(
        "a reader thread has not run for ", absl::FormatDuration(since)));
  }
  return absl::OkStatus();
}

// Serves /metrics on the config's address, or stops serving without one.
absl::Status ApplyMetricsListen(metrics::MetricsService& service,
                                const v1::Config& config) {
  const std::string before = service.address();
  RETURN_IF_ERROR(service.Listen(config.metrics().listen()));
  const std::string after = service.address();
  if (after != before) {
    LogLine(after.empty()
                ? std::string("metrics listener stopped")
                : absl::StrCat("metrics on http://", after, "/metrics"));
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  LogError(status.ToString());
  return 1;
}

int Run() {
  SystemdNotifier notifier;
  auto signals = SignalWatcher::Create();
  if (!signals.ok()) return Fail(signals.status());
  auto root = TracefsRoot();
  if (!root.ok()) return Fail(root.status());
  // Validate the config against the kernel's events before touching
  // anything: a bad config changes nothing.
  auto catalog =
      LoadEventCatalog(*root + "/events", *root + "/events/header_page");
  if (!catalog.ok()) return Fail(catalog.status());
  auto config = LoadConfig(*catalog);
  if (!config.ok()) {
    LogError(absl::StrCat("refusing to start: ", config.status().message()));
    return 1;
  }
  auto cpus = OnlineCpus();
  if (!cpus.ok()) return Fail(cpus.status());
  uint32_t num_cpus = 0;
  for (int cpu : *cpus) num_cpus = std::max<uint32_t>(num_cpus, cpu + 1);
  auto engine_options =
      agg::Engine::OptionsFromConfig(*config, num_cpus, /*live=*/true);
  if (!engine_options.ok()) return Fail(engine_options.status());
  // The flight recorder's memory is set aside in the aggregations' budget.
  // The instance is new, so its sub-buffers are the kernel's default: a page.
  auto recorder_settings =
      RecorderSettingsFromConfig(config->flight_recorder());
  if (!recorder_settings.ok()) return Fail(recorder_settings.status());
  const uint32_t default_subbuf = static_cast<uint32_t>(::getpagesize());
  engine_options->reserved_outside_bytes =
      recorder_settings->ReservedBytes(num_cpus, default_subbuf);
  auto engine = agg::Engine::Create(*config, &*catalog, *engine_options);
  if (!engine.ok()) return Fail(engine.status());
  // After the engine: its admission checks the config's memory budget.
  if (absl::GetFlag(FLAGS_check_config)) {
    LogLine("config OK");
    return 0;
  }

  // One daemon per instance name: the pid file is held while we run.
  std::string pid_path = absl::GetFlag(FLAGS_pid_file);
  if (pid_path.empty()) {
    pid_path = absl::StrCat("/run/ringwatch/", config->instance(), ".pid");
  }
  auto pid_file = PidFile::Acquire(pid_path);
  if (!pid_file.ok()) return Fail(pid_file.status());
  auto instance = CreateFreshInstance(*root, config->instance(), pid_path);
  if (!instance.ok()) return Fail(instance.status());
  absl::Status status = SetUpInstance(**instance, *config, **engine);
  if (!status.ok()) return Fail(status);
  auto rings = OpenCpuRings((*instance)->path(), *cpus, catalog->header_page());
  if (!rings.ok()) return Fail(rings.status());

  DaemonInfo info{kVersion, KernelRelease(), *root, (*instance)->name()};
  DaemonBackend backend(info, &*catalog, engine->get(), instance->get(),
                        *config);
  std::unique_ptr<FlightRecorder> recorder;
  std::unique_ptr<Snapshotter> snapshotter;
  if (recorder_settings->enabled) {
    FlightRecorderOptions options;
    options.page_size = InstanceSubbufSize((*instance)->path());
    options.cpu_count = num_cpus;
    options.max_bytes_per_cpu =
        recorder_settings->BytesPerCpu(num_cpus, options.page_size);
    options.max_age = recorder_settings->max_age_ns;
    options.header = catalog->header_page();
    auto created = FlightRecorder::Create(options);
    if (!created.ok()) return Fail(created.status());
    recorder = *std::move(created);
    for (auto& ring : *rings) ring->set_subbuf_observer(recorder.get());
    SnapshotterOptions snapshot_options;
    snapshot_options.settings = *recorder_settings;
    snapshot_options.metadata.tracefs_root = *root;
    snapshot_options.metadata.instance_dir = (*instance)->path();
    // The unit's ProcSubset=pid hides /proc/kallsyms: store no symbols then.
    snapshot_options.metadata.kallsyms_path =
        ::access("/proc/kallsyms", R_OK) == 0 ? "/proc/kallsyms" : "";
    // A snapshot holds what the kernel had when it was asked for: readers
    // read on their tick at the latest.
    const absl::Duration catch_up = absl::Seconds(2);
    snapshot_options.catch_up = [&backend, catch_up] {
      return backend.CatchUpReaders(catch_up);
    };
    snapshotter = std::make_unique<Snapshotter>(recorder.get(),
                                                std::move(snapshot_options));
    backend.set_snapshotter(snapshotter.get());
  }
  // Triggers watch closed windows like any subscriber.
  std::shared_ptr<SnapshotTriggers> triggers;
  uint64_t triggers_handle = 0;
  if (snapshotter != nullptr && !recorder_settings->triggers.empty()) {
    Snapshotter* writer = snapshotter.get();
    triggers = std::make_shared<SnapshotTriggers>(
        recorder_settings->triggers,
        [writer](uint64_t span_ns, const std::string& name) {
          return writer->WriteToDirectory(span_ns, name);
        },
        [&backend](const std::string& aggregation,
                   const v1::SnapshotInfo& info) {
          backend.AnnounceSnapshot(aggregation, info);
        },
        [writer](bool rate_limited) { writer->CountTrigger(rate_limited); },
        [](const std::string& line) { LogLine(line); },
        [] {
          return static_cast<uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now().time_since_epoch())
                  .count());
        });
    triggers_handle = backend.AddWindowListener(triggers);
  }
  ReaderPoolOptions pool_options;
  pool_options.threads = static_cast<int>(config->reader_threads());
  // Bounded staleness for windows on quiet CPUs, and a heartbeat for the
  // watchdog. Validated with the config.
  absl::StatusOr<uint64_t> tick_ns = agg::ParseDurationNs(
      config->reader_tick(), agg::kMinReaderTickNs, agg::kMaxReaderTickNs);
  if (!tick_ns.ok()) return Fail(tick_ns.status());
  pool_options.tick = absl::Nanoseconds(*tick_ns);
  auto pool = ReaderPool::Create(std::move(*rings), backend.ReaderSinks(*cpus),
                                 pool_options);
  if (!pool.ok()) return Fail(pool.status());
  backend.set_reader_pool(pool->get());

  status = (*engine)->Start();
  if (status.ok()) status = (*pool)->Start();
  // The daemon's own events are traced like any task's: the kernel's pid
  // filter (set_event_notrace_pid) drops other tasks' events unseen too
  // (docs/architecture.md), and an uncounted loss is worse than our own
  // ioctls showing up.
  if (status.ok()) status = (*instance)->SetTracingOn(true);
  if (!status.ok()) return Fail(status);

  // Sockets systemd passed (socket activation) are served as they are; the
  // config's unix socket is bound only when none was passed.
  auto inherited = InheritedListenFds();
  if (!inherited.ok()) return Fail(inherited.status());
  ServerOptions server_options = ServerOptionsFromConfig(*config);
  bool inherited_unix = false;
  for (const ListenFd& fd : *inherited) {
    inherited_unix |= fd.kind == ListenFd::Kind::kUnix;
  }
  if (inherited_unix) server_options.unix_socket.clear();
  auto server = Server::Start(server_options, &backend);
  if (!server.ok()) {
    (*pool)->Stop(/*flush=*/false).IgnoreError();
    return Fail(server.status());
  }
  for (ListenFd& fd : *inherited) {
    if (fd.kind == ListenFd::Kind::kOther) {
      LogError(absl::StrCat("ignoring inherited fd '", fd.name, "' (",
                            fd.address, "): not a listening stream socket"));
      continue;
    }
    status = (*server)->ServeListeningFd(fd.fd.release());
    if (!status.ok()) return Fail(status);
    LogLine(absl::StrCat("serving inherited socket ", fd.address));
  }
  for (const std::string& address : (*server)->listen_addresses()) {
    LogLine(absl::StrCat("listening on ", address));
  }
  Server* api = server->get();
  const bool monotonic_clock =
      config->trace_clock().empty() || config->trace_clock() == "mono";
  auto metrics_service = std::make_unique<metrics::MetricsService>(
      &backend,
      [api]() -> absl::StatusOr<v1::DaemonStatus> {
        v1::DaemonStatus status;
        RETURN_IF_ERROR(
            api->service().DoGetStatus(v1::GetStatusRequest(), &status));
        return status;
      },
      monotonic_clock);
  status = ApplyMetricsListen(*metrics_service, *config);
  if (!status.ok()) {
    (*pool)->Stop(/*flush=*/false).IgnoreError();
    LogError(absl::StrCat("refusing to start: ", status.message()));
    return 1;
  }
  LogLine(absl::StrCat("reading ", cpus->size(), " CPUs of instance '",
                       (*instance)->name(), "'"));

  // Ready: readers run and the server listens.
  backend.Tick();
  notifier.Ready().IgnoreError();
  notifier.Status(backend.StatusLine()).IgnoreError();
  ReaderPool* readers = pool->get();
  // A reader goes round its loop at least once per tick.
  const absl::Duration stalled_after =
      std::max(absl::Seconds(5), 3 * pool_options.tick);
  auto petter =
      WatchdogPetter::Start(&notifier, notifier.WatchdogInterval(),
                            [readers, stalled_after]() -> absl::Status {
                              return ReadersHealthy(*readers, stalled_after);
                            });
  bool serving = true;

  while (true) {
    auto received = (*signals)->Wait(absl::Seconds(1));
    if (!received.ok()) return Fail(received.status());
    backend.Tick();
    notifier.Status(backend.StatusLine()).IgnoreError();
    absl::Status healthy = ReadersHealthy(*readers, stalled_after);
    if (healthy.ok() != serving) {
      serving = healthy.ok();
      const auto health =
          serving ? grpc::health::v1::HealthCheckResponse::SERVING
                  : grpc::health::v1::HealthCheckResponse::NOT_SERVING;
      api->health().SetStatus("", health);
      api->health().SetStatus(kRingwatchServiceName, health);
      if (serving) {
        LogLine("readers running again: health SERVING");
      } else {
        LogError(absl::StrCat(healthy.message(), ": health NOT_SERVING"));
      }
    }
    if (!received->has_value()) continue;
    const int signal = (*received)->signo;
    if (signal == SIGHUP) {
      notifier.Reloading().IgnoreError();
      auto reloaded = LoadConfig(*catalog);
      std::string outcome;
      if (!reloaded.ok()) {
        outcome = absl::StrCat("reload rejected, keeping the running config: ",
                               reloaded.status().message());
        LogError(outcome);
      } else {
        // The listener first: a bad or taken address rejects the reload
        // before any aggregation changes.
        if (reloaded->flight_recorder().SerializeAsString() !=
            config->flight_recorder().SerializeAsString()) {
          LogLine(
              "flight_recorder changed: the new settings take effect at the "
              "next start (the recorder keeps running as it is)");
        }
        absl::Status applied = ApplyMetricsListen(*metrics_service, *reloaded);
        if (applied.ok()) applied = backend.ApplyConfig(*reloaded);
        outcome = applied.ok() ? "config reloaded"
                               : absl::StrCat(
                                     "reload failed, keeping the running "
                                     "config: ",
                                     applied.message());
        if (applied.ok()) {
          LogLine(outcome);
        } else {
          LogError(outcome);
        }
      }
      metrics_service->CountReload(outcome == "config reloaded");
      notifier.ReadyAfterReload(outcome).IgnoreError();
    } else if (signal == SIGINT || signal == SIGTERM) {
      LogLine(absl::StrCat(SignalName(signal), ": shutting down"));
      break;
    }
  }

  // Stop accepting, finish streams, stop readers, restore tracefs.
  notifier.Stopping().IgnoreError();
  petter->Stop();
  metrics_service.reset();
  (*server)->Shutdown(absl::Milliseconds(1000));
  (*instance)->SetTracingOn(false).IgnoreError();
  status = (*pool)->Stop(/*flush=*/false);
  (*engine)->Stop();
  backend.set_reader_pool(nullptr);
  if (triggers != nullptr) backend.RemoveWindowListener(triggers_handle);
  triggers.reset();  // Waits for a snapshot being written.
  backend.set_snapshotter(nullptr);
  pool->reset();
  absl::Status removed = (*instance)->Remove();
  if (!removed.ok()) LogError(removed.ToString());
  if (!status.ok()) LogError(status.ToString());
  return status.ok() && removed.ok() ? 0 : 1;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "real-time ftrace ring buffer aggregation daemon.\n"
      "  ringwatchd [--config FILE]");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::fprintf(stderr, "ringwatchd: unexpected argument '%s'\n",
                 positional[1]);
    return 2;
  }
  // Taken by the SignalWatcher of the main loop; blocked before any thread
  // starts so every thread inherits the mask.
  absl::Status blocked = BlockStopSignals();
  if (!blocked.ok()) {
    std::fprintf(stderr, "ringwatchd: %s\n", blocked.ToString().c_str());
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  return Run();
}

}  // namespace
}  // namespace ringwatch

int main(int argc, char** argv) { return ringwatch::Main(argc, argv); }
