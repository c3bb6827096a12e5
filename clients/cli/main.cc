// ringwatch: the command-line client of ringwatchd. See `ringwatch --help`.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/cli/commands.h"
#include "daemon/util/file_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, addr, ringwatch::cli::kDefaultAddress,
          "ringwatchd's address: unix:///PATH, a socket path, or HOST:PORT.");
ABSL_FLAG(bool, json, false, "Print JSON (one object per line for streams).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Per-call deadline.");
ABSL_FLAG(int32_t, top, 0,
          "query/watch: at most this many rows (0: all; "
          "watch defaults to 20).");
ABSL_FLAG(std::string, filter, "",
          "query/watch: only keys matching this glob (or substring).");
ABSL_FLAG(bool, cumulative, false, "query: since start, not the last window.");
ABSL_FLAG(bool, fields, false, "events: list each event's fields.");
ABSL_FLAG(bool, validate_only, false, "create: check the spec only.");
ABSL_FLAG(double, rate, 0,
          "tail: events per second (0: the daemon's "
          "default, 100).");
ABSL_FLAG(std::string, pid, "", "tail: comma-separated pids.");
ABSL_FLAG(std::string, cpu, "", "tail: comma-separated CPUs.");
ABSL_FLAG(bool, arrival_order, false,
          "tail: print events as each CPU's reader delivers them (sooner, "
          "but time may go backwards between CPUs) instead of in time "
          "order.");
ABSL_FLAG(int64_t, count, 0, "watch/tail: stop after this many messages.");
ABSL_FLAG(std::string, o, "", "snapshot: the trace.dat file to write.");
ABSL_FLAG(std::string, output, "", "snapshot: the same as -o.");
ABSL_FLAG(double, seconds, 0,
          "snapshot: the last this many seconds; 0: all the recorder holds.");
ABSL_FLAG(uint32_t, file_version, 0,
          "snapshot: trace.dat version 7 (zstd, default) or 6.");
ABSL_FLAG(std::string, tls_ca, "",
          "TCP with TLS: the CA (PEM) that signed the daemon's certificate.");
ABSL_FLAG(std::string, tls_cert, "", "Mutual TLS: this client's certificate.");
ABSL_FLAG(std::string, tls_key, "", "Mutual TLS: this client's key.");

namespace {

template <typename T>
bool ParseList(const std::string& text, std::vector<T>* out) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    T v;
    if (!absl::SimpleAtoi(part, &v)) return false;
    out->push_back(v);
  }
  return true;
}

int Fail(const std::string& message) {
  std::cerr << "ringwatch: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(ringwatch::cli::Cli::Usage());
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());

  ringwatch::cli::CliOptions options;
  std::string addr = absl::GetFlag(FLAGS_addr);
  if (absl::StartsWith(addr, "/")) addr = "unix://" + addr;
  options.addr = addr;
  options.json = absl::GetFlag(FLAGS_json);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.top = absl::GetFlag(FLAGS_top);
  options.key_filter = absl::GetFlag(FLAGS_filter);
  options.cumulative = absl::GetFlag(FLAGS_cumulative);
  options.fields = absl::GetFlag(FLAGS_fields);
  options.validate_only = absl::GetFlag(FLAGS_validate_only);
  options.rate = absl::GetFlag(FLAGS_rate);
  options.count = absl::GetFlag(FLAGS_count);
  options.arrival_order = absl::GetFlag(FLAGS_arrival_order);
  options.output = absl::GetFlag(FLAGS_o).empty() ? absl::GetFlag(FLAGS_output)
                                                  : absl::GetFlag(FLAGS_o);
  options.seconds = absl::GetFlag(FLAGS_seconds);
  options.file_version = absl::GetFlag(FLAGS_file_version);
  options.redraw = isatty(STDOUT_FILENO) && !options.json;
  if (!ParseList(absl::GetFlag(FLAGS_pid), &options.pids)) {
    return Fail("--pid: expected comma-separated numbers");
  }
  if (!ParseList(absl::GetFlag(FLAGS_cpu), &options.cpus)) {
    return Fail("--cpu: expected comma-separated numbers");
  }

  std::shared_ptr<grpc::ChannelCredentials> creds =
      grpc::InsecureChannelCredentials();
  if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
    grpc::SslCredentialsOptions ssl;
    auto read = [](const std::string& path, std::string* out) {
      if (path.empty()) return absl::OkStatus();
      absl::StatusOr<std::string> text = ringwatch::ReadFileToString(path);
      if (!text.ok()) return text.status();
      *out = *std::move(text);
      return absl::OkStatus();
    };
    for (auto [path, out] :
         {std::make_pair(absl::GetFlag(FLAGS_tls_ca), &ssl.pem_root_certs),
          std::make_pair(absl::GetFlag(FLAGS_tls_cert), &ssl.pem_cert_chain),
          std::make_pair(absl::GetFlag(FLAGS_tls_key), &ssl.pem_private_key)}) {
      absl::Status s = read(path, out);
      if (!s.ok()) return Fail(std::string(s.message()));
    }
    creds = grpc::SslCredentials(ssl);
  }
  ringwatch::cli::Cli cli(grpc::CreateChannel(addr, creds), options,
                          &std::cout);
  absl::Status status = cli.Run(args);
  std::cout.flush();
  if (!status.ok()) return Fail(ringwatch::cli::ErrorText(status));
  return 0;
}
