// ringwatchd: maps every CPU's ftrace ring buffer, aggregates events live and
// serves the results over gRPC.
//
//   ringwatchd [--config FILE]      (built-in defaults without --config)
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
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
#include "daemon/agg/config_loader.h"
#include "daemon/agg/engine.h"
#include "daemon/daemon_backend.h"
#include "daemon/default_config.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/reader/reader_pool.h"
#include "daemon/server/server.h"
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
ABSL_FLAG(bool, check_config, false,
          "validate the config against this kernel's events and exit");

namespace ringwatch {
namespace {

constexpr char kVersion[] = "0.1.0";

void LogLine(absl::string_view line) {
  std::fprintf(stderr, "ringwatchd: %.*s\n", static_cast<int>(line.size()),
               line.data());
}

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
  return agg::WithDefaults(config);
}

std::string KernelRelease() {
  struct utsname name;
  if (::uname(&name) != 0) return "";
  return name.release;
}

// Creates the daemon's instance; one left behind by a run that crashed is
// removed first, so every start begins from a clean, known setup.
absl::StatusOr<std::unique_ptr<Instance>> CreateFreshInstance(
    const std::string& root, const std::string& name) {
  auto created = Instance::Create(root, name, /*reuse_existing=*/false);
  if (created.ok() || !absl::IsAlreadyExists(created.status())) return created;
  LogLine(absl::StrCat("removing instance '", name,
                       "' left behind by an earlier run"));
  ASSIGN_OR_RETURN(auto stale, Instance::Open(root, name));
  RETURN_IF_ERROR(stale->Remove());
  return Instance::Create(root, name, /*reuse_existing=*/false);
}

absl::Status SetUpInstance(Instance& instance, const v1::Config& config,
                           const agg::Engine& engine) {
  if (config.buffer_size_kb() > 0) {
    RETURN_IF_ERROR(instance.SetBufferSizeKb(config.buffer_size_kb()));
  }
  if (!config.trace_clock().empty()) {
    RETURN_IF_ERROR(instance.SetTraceClock(config.trace_clock()));
  }
  if (config.buffer_percent() > 0) {
    RETURN_IF_ERROR(instance.SetBufferPercent(config.buffer_percent()));
  }
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

int Run() {
  auto root = FindOrMountTracefs();
  if (!root.ok()) {
    LogLine(root.status().ToString());
    return 1;
  }
  // Validate the config against the kernel's events before touching
  // anything: a bad config changes nothing.
  auto catalog =
      LoadEventCatalog(*root + "/events", *root + "/events/header_page");
  if (!catalog.ok()) {
    LogLine(catalog.status().ToString());
    return 1;
  }
  auto config = LoadConfig(*catalog);
  if (!config.ok()) {
    LogLine(absl::StrCat("refusing to start: ", config.status().message()));
    return 1;
  }
  if (absl::GetFlag(FLAGS_check_config)) {
    LogLine("config OK");
    return 0;
  }
  auto cpus = OnlineCpus();
  if (!cpus.ok()) {
    LogLine(cpus.status().ToString());
    return 1;
  }
  uint32_t num_cpus = 0;
  for (int cpu : *cpus) num_cpus = std::max<uint32_t>(num_cpus, cpu + 1);
  auto engine_options =
      agg::Engine::OptionsFromConfig(*config, num_cpus, /*live=*/true);
  if (!engine_options.ok()) {
    LogLine(engine_options.status().ToString());
    return 1;
  }
  auto engine = agg::Engine::Create(*config, &*catalog, *engine_options);
  if (!engine.ok()) {
    LogLine(engine.status().ToString());
    return 1;
  }

  auto instance = CreateFreshInstance(*root, config->instance());
  if (!instance.ok()) {
    LogLine(instance.status().ToString());
    return 1;
  }
  absl::Status status = SetUpInstance(**instance, *config, **engine);
  if (!status.ok()) {
    LogLine(status.ToString());
    return 1;
  }
  auto rings = OpenCpuRings((*instance)->path(), *cpus, catalog->header_page());
  if (!rings.ok()) {
    LogLine(rings.status().ToString());
    return 1;
  }

  DaemonInfo info{kVersion, KernelRelease(), *root, (*instance)->name()};
  DaemonBackend backend(info, &*catalog, engine->get(), instance->get(),
                        *config);
  ReaderPoolOptions pool_options;
  pool_options.threads = static_cast<int>(config->reader_threads());
  // Bounded staleness for windows on quiet CPUs.
  pool_options.tick = absl::Milliseconds(200);
  auto pool = ReaderPool::Create(std::move(*rings), backend.ReaderSinks(*cpus),
                                 pool_options);
  if (!pool.ok()) {
    LogLine(pool.status().ToString());
    return 1;
  }
  backend.set_reader_pool(pool->get());

  status = (*engine)->Start();
  if (status.ok()) status = (*pool)->Start();
  if (status.ok()) {
    // The readers' own syscalls must not feed their rings (FACTS.md).
    std::vector<pid_t> quiet = (*pool)->ThreadIds();
    quiet.push_back(::getpid());
    status = (*instance)->SetEventNotracePid(quiet);
  }
  if (status.ok()) status = (*instance)->SetTracingOn(true);
  if (!status.ok()) {
    LogLine(status.ToString());
    return 1;
  }
  auto server = Server::Start(ServerOptionsFromConfig(*config), &backend);
  if (!server.ok()) {
    LogLine(server.status().ToString());
    (*pool)->Stop(/*flush=*/false).IgnoreError();
    return 1;
  }
  for (const std::string& address : (*server)->listen_addresses()) {
    LogLine(absl::StrCat("listening on ", address));
  }
  LogLine(absl::StrCat("reading ", (*cpus).size(), " CPUs of instance '",
                       (*instance)->name(), "'"));

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  while (true) {
    timespec tick = absl::ToTimespec(absl::Seconds(1));
    int signal = ::sigtimedwait(&signals, nullptr, &tick);
    backend.Tick();
    if (signal == SIGHUP) {
      auto reloaded = LoadConfig(*catalog);
      if (!reloaded.ok()) {
        LogLine(absl::StrCat("reload rejected, keeping the running config: ",
                             reloaded.status().message()));
        continue;
      }
      absl::Status applied = backend.ApplyConfig(*reloaded);
      LogLine(applied.ok()
                  ? "config reloaded"
                  : absl::StrCat("reload failed: ", applied.message()));
    } else if (signal == SIGINT || signal == SIGTERM) {
      LogLine(absl::StrCat(::strsignal(signal), ": shutting down"));
      break;
    }
  }

  // Stop accepting, finish streams, stop readers, restore tracefs.
  (*server)->Shutdown(absl::Milliseconds(1000));
  (*instance)->SetTracingOn(false).IgnoreError();
  status = (*pool)->Stop(/*flush=*/false);
  (*engine)->Stop();
  backend.set_reader_pool(nullptr);
  pool->reset();
  absl::Status removed = (*instance)->Remove();
  if (!removed.ok()) LogLine(removed.ToString());
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
  // Taken synchronously by the main loop; blocked before any thread starts
  // so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return Run();
}

}  // namespace
}  // namespace ringwatch

int main(int argc, char** argv) { return ringwatch::Main(argc, argv); }
