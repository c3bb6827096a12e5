// The ringwatch CLI's commands over a gRPC channel to ringwatchd. Output
// goes to a stream so tests can run commands in-process.
#ifndef RINGWATCH_CLIENTS_CLI_COMMANDS_H_
#define RINGWATCH_CLIENTS_CLI_COMMANDS_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "proto/ringwatch/v1/ringwatch.grpc.pb.h"

namespace ringwatch {
namespace cli {

inline constexpr char kDefaultAddress[] =
    "unix:///run/ringwatch/ringwatch.sock";

struct CliOptions {
  std::string addr = kDefaultAddress;  // For error messages.
  bool json = false;
  absl::Duration timeout = absl::Seconds(10);  // Per unary call.
  int32_t top = 0;                             // query, watch: rows.
  std::string key_filter;                      // query, watch.
  bool cumulative = false;                     // query.
  bool fields = false;                         // events.
  bool validate_only = false;                  // create.
  double rate = 0;                             // tail: events/s.
  std::vector<int32_t> pids;                   // tail.
  std::vector<uint32_t> cpus;                  // tail.
  bool arrival_order = false;                  // tail: not in time order.
  int64_t count = 0;    // watch, tail: stop after this many; 0: never.
  bool redraw = false;  // watch: clear the screen per window (a terminal).
  std::string output;   // snapshot: the trace.dat to write.
  double seconds = 0;   // snapshot: the span; 0 is all the recorder holds.
  uint32_t file_version = 0;  // snapshot: 6 or 7; 0 is the daemon's (7).
};

class Cli {
 public:
  Cli(std::shared_ptr<grpc::Channel> channel, CliOptions options,
      std::ostream* out);

  // Runs one command: {"status"}, {"query", "syscalls"}, ... The error's
  // message is what to print (it names the daemon address when it cannot
  // be reached).
  absl::Status Run(const std::vector<std::string>& args);

  static std::string Usage();

 private:
  absl::Status Status();
  absl::Status Events(const std::string& glob);
  absl::Status Aggregations();
  absl::Status Query(const std::string& name);
  absl::Status Watch(const std::vector<std::string>& names);
  absl::Status Tail(const std::vector<std::string>& globs);
  absl::Status Create(const std::string& file);
  absl::Status Delete(const std::string& name);
  absl::Status Snapshot();

  void SetDeadline(grpc::ClientContext* context) const;
  // The call's error as the user should see it.
  absl::Status CallError(const grpc::Status& status) const;
  void PrintJson(const google::protobuf::Message& message, bool one_line);

  std::unique_ptr<v1::RingwatchService::Stub> stub_;
  const CliOptions options_;
  std::ostream* const out_;
};

// The message of a status for the terminal: "NOT_FOUND: ..." without the
// code for errors whose message says it all.
std::string ErrorText(const absl::Status& status);

}  // namespace cli
}  // namespace ringwatch

#endif  // RINGWATCH_CLIENTS_CLI_COMMANDS_H_
