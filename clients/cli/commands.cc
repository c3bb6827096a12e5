#include "clients/cli/commands.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "clients/cli/format.h"
#include "daemon/util/file_util.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"

namespace ringwatch {
namespace cli {

namespace {

// Collects text-format parse errors as "FILE:LINE:COLUMN: message".
class ParseErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit ParseErrors(std::string file) : file_(std::move(file)) {}
  void AddError(int line, int column, const std::string& message) override {
    errors_.push_back(
        absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, int column, const std::string& message) override {
    AddError(line, column, message);
  }
  std::string Text() const { return absl::StrJoin(errors_, "\n"); }

 private:
  const std::string file_;
  std::vector<std::string> errors_;
};

}  // namespace

std::string ErrorText(const absl::Status& status) {
  return std::string(status.message());
}

Cli::Cli(std::shared_ptr<grpc::Channel> channel, CliOptions options,
         std::ostream* out)
    : stub_(v1::RingwatchService::NewStub(channel)),
      options_(std::move(options)),
      out_(out) {}

std::string Cli::Usage() {
  return R"(usage: ringwatch [flags] COMMAND [ARGS]

commands:
  status          the daemon's readers, aggregations, streams, CPU and memory
  events [GLOB]   trace events the kernel offers ("sched/*"); --fields
  aggs            aggregations and their figures
  query NAME      latest closed window (--cumulative: since start); --top N,
                  --filter KEYGLOB
  watch NAME...   live table of each closed window (Ctrl-C to stop)
  tail [GLOB...]  raw decoded events in time order; --rate N, --pid P,
                  --arrival_order (sooner, CPU by CPU)
  create FILE     start an aggregation from a text-format Aggregation
                  (as in the config file); --validate_only
  delete NAME     stop an aggregation
  snapshot -o FILE.dat [--seconds S] [--file_version 6]
                  the flight recorder's raw events of the last S seconds
                  (default: all it holds) as a trace.dat for trace-cmd

common flags: --addr (default unix:///run/ringwatch/ringwatch.sock), --json
)";
}

void Cli::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
}

absl::Status Cli::CallError(const grpc::Status& status) const {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      status.error_message() != "ringwatchd is shutting down") {
    if (absl::StrContains(status.error_message(), "Permission denied")) {
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot reach ringwatchd at ", options_.addr,
          ": permission denied; run as root or as a member of the socket's "
          "group"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot reach ringwatchd at ", options_.addr,
                     ": is it running? (systemctl status ringwatch)\n  (",
                     status.error_message(), ")"));
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(
        absl::StrCat("ringwatchd at ", options_.addr, " did not answer within ",
                     absl::FormatDuration(options_.timeout), " (--timeout)"));
  }
  return absl::Status(code, status.error_message());
}

void Cli::PrintJson(const google::protobuf::Message& message, bool one_line) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = !one_line;
  o.always_print_primitive_fields = true;
  std::string json;
  auto s = google::protobuf::util::MessageToJsonString(message, &json, o);
  if (!s.ok()) {
    *out_ << "{\"error\": \"cannot print as JSON\"}\n";
    return;
  }
  *out_ << json;
  if (json.empty() || json.back() != '\n') *out_ << '\n';
}

absl::Status Cli::Run(const std::vector<std::string>& args) {
  if (args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no command given\n", Usage()));
  }
  const std::string& cmd = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  auto want = [&](size_t min, size_t max, const char* what) -> absl::Status {
    if (rest.size() < min || rest.size() > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("usage: ringwatch ", cmd, what[0] ? " " : "", what));
    }
    return absl::OkStatus();
  };
  absl::Status usage;
  if (cmd == "status") {
    if (!(usage = want(0, 0, "")).ok()) return usage;
    return Status();
  }
  if (cmd == "events") {
    if (!(usage = want(0, 1, "[GLOB]")).ok()) return usage;
    return Events(rest.empty() ? "" : rest[0]);
  }
  if (cmd == "aggs" || cmd == "aggregations") {
    if (!(usage = want(0, 0, "")).ok()) return usage;
    return Aggregations();
  }
  if (cmd == "query") {
    if (!(usage = want(1, 1, "NAME")).ok()) return usage;
    return Query(rest[0]);
  }
  if (cmd == "watch") {
    if (!(usage = want(1, 64, "NAME...")).ok()) return usage;
    return Watch(rest);
  }
  if (cmd == "tail") {
    if (!(usage = want(0, 64, "[GLOB...]")).ok()) return usage;
    return Tail(rest);
  }
  if (cmd == "create") {
    if (!(usage = want(1, 1, "FILE")).ok()) return usage;
    return Create(rest[0]);
  }
  if (cmd == "delete") {
    if (!(usage = want(1, 1, "NAME")).ok()) return usage;
    return Delete(rest[0]);
  }
  if (cmd == "snapshot") {
    if (!(usage = want(0, 0, "-o FILE.dat [--seconds S]")).ok()) return usage;
    return Snapshot();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command '", cmd, "'\n", Usage()));
}

absl::Status Cli::Status() {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::GetStatusRequest request;
  request.set_include_streams(true);
  v1::DaemonStatus status;
  grpc::Status s = stub_->GetStatus(&ctx, request, &status);
  if (!s.ok()) return CallError(s);
  if (options_.json) {
    PrintJson(status, false);
  } else {
    *out_ << FormatStatus(status);
  }
  return absl::OkStatus();
}

absl::Status Cli::Events(const std::string& glob) {
  v1::ListEventsResponse all;
  std::string token;
  do {  // Every page.
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::ListEventsRequest request;
    request.set_filter(glob);
    request.set_view(options_.fields || options_.json ? v1::EVENT_VIEW_FULL
                                                      : v1::EVENT_VIEW_BASIC);
    request.set_page_token(token);
    v1::ListEventsResponse page;
    grpc::Status s = stub_->ListEvents(&ctx, request, &page);
    if (!s.ok()) return CallError(s);
    for (auto& e : *page.mutable_events()) *all.add_events() = std::move(e);
    all.set_total_size(page.total_size());
    token = page.next_page_token();
  } while (!token.empty());
  if (options_.json) {
    PrintJson(all, false);
    return absl::OkStatus();
  }
  if (all.events_size() == 0) {
    return absl::NotFoundError(absl::StrCat(
        "no event matches '", glob, "'; try 'ringwatch events' for all"));
  }
  *out_ << FormatEvents(all, options_.fields);
  return absl::OkStatus();
}

absl::Status Cli::Aggregations() {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::ListAggregationsResponse list;
  grpc::Status s =
      stub_->ListAggregations(&ctx, v1::ListAggregationsRequest(), &list);
  if (!s.ok()) return CallError(s);
  if (options_.json) {
    PrintJson(list, false);
  } else if (list.aggregations_size() == 0) {
    *out_ << "no aggregations; start one with 'ringwatch create FILE'\n";
  } else {
    *out_ << FormatAggregations(list);
  }
  return absl::OkStatus();
}

absl::Status Cli::Query(const std::string& name) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::QueryRequest request;
  request.set_name(name);
  request.set_view(options_.cumulative ? v1::RESULT_VIEW_CUMULATIVE
                                       : v1::RESULT_VIEW_LATEST_WINDOW);
  request.set_top_n(options_.top);
  request.set_key_filter(options_.key_filter);
  v1::QueryResponse response;
  grpc::Status s = stub_->Query(&ctx, request, &response);
  if (!s.ok()) return CallError(s);
  if (options_.json) {
    PrintJson(response, false);
    return absl::OkStatus();
  }
  const v1::AggregationResult& r = response.result();
  *out_ << absl::StrFormat(
      "%s: %s, %d rows of %d keys, %d events\n", r.name(),
      r.cumulative()
          ? absl::StrCat("cumulative over ", r.windows(), " windows")
          : absl::StrCat("window of ",
                         HumanNanos(static_cast<int64_t>(r.window_end_ns() -
                                                         r.window_start_ns()))),
      r.row_size(), r.distinct_keys(), r.counters().events_matched());
  *out_ << FormatResult(r);
  return absl::OkStatus();
}

absl::Status Cli::Watch(const std::vector<std::string>& names) {
  grpc::ClientContext ctx;
  v1::SubscribeRequest request;
  for (const std::string& n : names) request.add_names(n);
  request.set_top_n(options_.top > 0 ? options_.top : 20);
  request.set_key_filter(options_.key_filter);
  request.set_send_latest(true);
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      stub_->Subscribe(&ctx, request);
  v1::SubscribeResponse m;
  int64_t seen = 0;
  uint64_t dropped = 0;
  while (reader->Read(&m)) {
    dropped += m.dropped_before();
    if (options_.json) {
      PrintJson(m, /*one_line=*/true);
    } else if (m.has_snapshot_taken()) {
      const v1::SnapshotInfo& info = m.snapshot_taken();
      *out_ << absl::StrFormat(
          "snapshot taken (%s): %s, %d sub-buffers, %.1f MiB\n", info.reason(),
          info.path(), info.pages(), info.file_bytes() / 1048576.0);
    } else {
      const v1::AggregationResult& r = m.result();
      if (options_.redraw) *out_ << "\x1b[H\x1b[2J";
      *out_ << absl::StrFormat(
          "%s  window %s ending at %.3fs (trace clock)  %s  #%d, %d "
          "dropped\n",
          r.name(),
          HumanNanos(
              static_cast<int64_t>(r.window_end_ns() - r.window_start_ns())),
          static_cast<double>(r.window_end_ns()) / 1e9,
          absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()),
          m.sequence(), dropped);
      *out_ << FormatResult(r);
      if (!options_.redraw) *out_ << "\n";
    }
    out_->flush();
    if (options_.count > 0 && ++seen >= options_.count) {
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  if (options_.count > 0 && seen >= options_.count) return absl::OkStatus();
  if (!s.ok()) return CallError(s);
  return absl::OkStatus();
}

absl::Status Cli::Tail(const std::vector<std::string>& globs) {
  grpc::ClientContext ctx;
  v1::StreamEventsRequest request;
  for (const std::string& g : globs) request.add_events(g);
  for (int32_t p : options_.pids) request.add_pids(p);
  for (uint32_t c : options_.cpus) request.add_cpus(c);
  request.set_max_events_per_second(options_.rate);
  request.set_arrival_order(options_.arrival_order);
  std::unique_ptr<grpc::ClientReader<v1::StreamEventsResponse>> reader =
      stub_->StreamEvents(&ctx, request);
  v1::StreamEventsResponse m;
  int64_t seen = 0;
  while (reader->Read(&m)) {
    if (options_.json) {
      PrintJson(m, /*one_line=*/true);
    } else {
      if (m.dropped_before() > 0) {
        *out_ << "... " << m.dropped_before()
              << " events dropped (over --rate, or the terminal was too "
                 "slow)\n";
      }
      *out_ << FormatEvent(m.event()) << "\n";
    }
    out_->flush();
    if (options_.count > 0 && ++seen >= options_.count) {
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  if (options_.count > 0 && seen >= options_.count) return absl::OkStatus();
  if (!s.ok()) return CallError(s);
  return absl::OkStatus();
}

absl::Status Cli::Snapshot() {
  if (options_.output.empty()) {
    return absl::InvalidArgumentError(
        "usage: ringwatch snapshot -o FILE.dat [--seconds S]: -o is missing");
  }
  // Written beside the target and renamed at the end: a failed or cut-off
  // transfer never leaves a truncated trace.dat under the asked-for name.
  const std::string partial = options_.output + ".partial";
  std::ofstream file(partial, std::ios::binary | std::ios::trunc);
  if (!file) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", partial, ": ", std::strerror(errno)));
  }
  grpc::ClientContext ctx;
  // Writing the file takes the daemon a few seconds for a large recorder.
  ctx.set_deadline(
      absl::ToChronoTime(absl::Now() + options_.timeout + absl::Seconds(120)));
  v1::SnapshotRequest request;
  request.set_seconds(options_.seconds);
  request.set_file_version(options_.file_version);
  std::unique_ptr<grpc::ClientReader<v1::SnapshotChunk>> reader =
      stub_->Snapshot(&ctx, request);
  v1::SnapshotChunk chunk;
  v1::SnapshotInfo info;
  uint64_t received = 0;
  while (reader->Read(&chunk)) {
    if (chunk.has_info()) info = chunk.info();
    file.write(chunk.data().data(),
               static_cast<std::streamsize>(chunk.data().size()));
    received += chunk.data().size();
  }
  grpc::Status s = reader->Finish();
  file.close();
  auto discard = [&partial] { std::remove(partial.c_str()); };
  if (!s.ok()) {
    discard();
    return CallError(s);
  }
  if (!file || received != info.file_bytes()) {
    discard();
    return absl::DataLossError(absl::StrCat(
        "snapshot: received ", received, " of ", info.file_bytes(),
        " bytes, or writing ", partial, " failed; nothing was kept"));
  }
  if (std::rename(partial.c_str(), options_.output.c_str()) != 0) {
    const int error = errno;
    discard();
    return absl::PermissionDeniedError(
        absl::StrCat("cannot rename ", partial, " to ", options_.output, ": ",
                     std::strerror(error)));
  }
  if (options_.json) {
    PrintJson(info, /*one_line=*/false);
    return absl::OkStatus();
  }
  const double span_s =
      info.newest_timestamp_ns() > info.oldest_timestamp_ns()
          ? (info.newest_timestamp_ns() - info.oldest_timestamp_ns()) / 1e9
          : 0.0;
  *out_ << absl::StrFormat(
      "wrote %s: %d sub-buffers, %.1f MiB, %.3f s of events (%.6f .. "
      "%.6f)%s%s\n",
      options_.output, info.pages(), info.file_bytes() / 1048576.0, span_s,
      info.oldest_timestamp_ns() / 1e9, info.newest_timestamp_ns() / 1e9,
      info.readers_caught_up() ? ""
                               : "; a reader was held back, the newest "
                                 "events may be missing",
      info.pages_evicted_during() > 0
          ? absl::StrCat("; ", info.pages_evicted_during(),
                         " sub-buffers were dropped while writing")
          : "");
  return absl::OkStatus();
}

absl::Status Cli::Create(const std::string& file) {
  absl::StatusOr<std::string> text = ReadFileToString(file);
  if (!text.ok()) return text.status();
  // One Aggregation, or a config file (such as config/presets/*.textproto)
  // whose aggregation { ... } blocks are created in order.
  std::vector<v1::Aggregation> aggregations(1);
  google::protobuf::TextFormat::Parser parser;
  ParseErrors errors(file);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(*text, &aggregations[0])) {
    v1::Config config;
    google::protobuf::TextFormat::Parser config_parser;
    ParseErrors config_errors(file);
    config_parser.RecordErrorsTo(&config_errors);
    if (!config_parser.ParseFromString(*text, &config) ||
        config.aggregation().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          errors.Text(),
          "\n(the file holds one Aggregation in protobuf text format, as in "
          "the config file's aggregation { ... } blocks, or a config file "
          "with aggregation blocks)"));
    }
    aggregations.assign(config.aggregation().begin(),
                        config.aggregation().end());
  }
  for (const v1::Aggregation& aggregation : aggregations) {
    v1::CreateAggregationRequest request;
    *request.mutable_aggregation() = aggregation;
    request.set_validate_only(options_.validate_only);
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::AggregationInfo info;
    grpc::Status s = stub_->CreateAggregation(&ctx, request, &info);
    if (!s.ok()) return CallError(s);
    if (options_.json) {
      PrintJson(info, false);
    } else if (options_.validate_only) {
      *out_ << file << ": valid\n";
    } else {
      *out_ << "created " << info.name() << "\n";
    }
  }
  return absl::OkStatus();
}

absl::Status Cli::Delete(const std::string& name) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::DeleteAggregationRequest request;
  request.set_name(name);
  google::protobuf::Empty empty;
  grpc::Status s = stub_->DeleteAggregation(&ctx, request, &empty);
  if (!s.ok()) return CallError(s);
  if (!options_.json) *out_ << "deleted " << name << "\n";
  return absl::OkStatus();
}

}  // namespace cli
}  // namespace ringwatch
