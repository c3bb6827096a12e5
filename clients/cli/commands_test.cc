// The CLI's commands against the real server over the fake backend.
#include "clients/cli/commands.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/server/server.h"
#include "daemon/server/testing/fake_backend.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/rwcli.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = dir_ + "/ringwatch.sock";
    v1::Aggregation a;
    a.set_name("syscalls");
    a.set_event("raw_syscalls/sys_enter");
    a.add_key("id");
    a.set_window("1s");
    backend_.AddConfigAggregation(a);
    ServerOptions options;
    options.unix_socket = socket_;
    auto server = Server::Start(options, &backend_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void TearDown() override {
    server_.reset();
    unlink(file_.c_str());
    rmdir(dir_.c_str());
  }

  // Runs a command line; returns its output, or the error text prefixed
  // with "error: ".
  std::string Run(const std::vector<std::string>& args,
                  CliOptions options = CliOptions(),
                  const std::string& socket = "") {
    options.addr = "unix://" + (socket.empty() ? socket_ : socket);
    std::ostringstream out;
    Cli cli(
        grpc::CreateChannel(options.addr, grpc::InsecureChannelCredentials()),
        options, &out);
    absl::Status s = cli.Run(args);
    if (!s.ok()) return "error: " + ErrorText(s);
    return out.str();
  }

  std::string WriteFile(const std::string& text) {
    file_ = dir_ + "/spec.textproto";
    std::ofstream(file_) << text;
    return file_;
  }

  std::string dir_, socket_, file_;
  testing::FakeBackend backend_;
  std::unique_ptr<Server> server_;
};

TEST_F(CommandsTest, Status) {
  EXPECT_THAT(Run({"status"}), StartsWith("ringwatchd 0.1.0-fake on Linux "));
  EXPECT_THAT(Run({"status"}), HasSubstr("listening: unix://" + socket_));
}

TEST_F(CommandsTest, StatusJsonIsTheMessage) {
  CliOptions o;
  o.json = true;
  const std::string json = Run({"status"}, o);
  v1::DaemonStatus parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok())
      << json;
  EXPECT_EQ(parsed.version(), "0.1.0-fake");
  EXPECT_EQ(parsed.server().max_subscribers(), 64u);
}

TEST_F(CommandsTest, EventsListsAndFilters) {
  EXPECT_EQ(Run({"events", "sched/*"}),
            "EVENT                ID\n"
            "sched/sched_switch  372\n"
            "sched/sched_wakeup  374\n");
  CliOptions o;
  o.fields = true;
  EXPECT_THAT(Run({"events", "irq_handler_entry"}, o),
              HasSubstr("  name   __data_loc char[]      12     4"));
  EXPECT_EQ(Run({"events", "nothing*"}),
            "error: no event matches 'nothing*'; try 'ringwatch events' for "
            "all");
}

TEST_F(CommandsTest, AggsQueryCreateDelete) {
  EXPECT_THAT(Run({"aggs"}),
              HasSubstr("syscalls  config  raw_syscalls/sys_enter  id   1s"));
  EXPECT_THAT(Run({"query", "syscalls"}),
              HasSubstr("has not closed a window yet"));
  backend_.PublishWindow(testing::FakeBackend::MakeWindow(
      "syscalls", 0, {{"read", 10}, {"write", 30}, {"openat", 2}}));
  CliOptions top;
  top.top = 2;
  EXPECT_EQ(Run({"query", "syscalls"}, top),
            "syscalls: window of 1.00s, 2 rows of 3 keys, 42 events\n"
            "KEY    COUNT\n"
            "write     30\n"
            "read      10\n");

  const std::string file = WriteFile(
      "name: \"opens\"\n"
      "event: \"raw_syscalls/sys_enter\"\n"
      "key: \"id\"\n"
      "window: \"2s\"\n");
  CliOptions validate;
  validate.validate_only = true;
  EXPECT_EQ(Run({"create", file}, validate), file + ": valid\n");
  EXPECT_EQ(Run({"create", file}), "created aggregations/opens\n");
  EXPECT_THAT(Run({"create", file}), HasSubstr("'opens' already exists"));
  EXPECT_THAT(Run({"aggs"}), HasSubstr("opens     api"));
  EXPECT_EQ(Run({"delete", "opens"}), "deleted opens\n");
  EXPECT_EQ(Run({"delete", "opens"}),
            "error: aggregation 'opens' not found; known: syscalls");
}

TEST_F(CommandsTest, CreateTakesAConfigFileWithSeveralAggregations) {
  std::string file = WriteFile(
      "aggregation { name: \"a1\" event: \"raw_syscalls/sys_enter\" "
      "key: \"id\" }\n"
      "aggregation { name: \"a2\" event: \"raw_syscalls/sys_enter\" "
      "key: \"id\" }\n");
  EXPECT_EQ(Run({"create", file}),
            "created aggregations/a1\ncreated aggregations/a2\n");
  EXPECT_THAT(Run({"aggs"}), HasSubstr("a2"));
}

TEST_F(CommandsTest, CreateReportsParseAndValidationErrors) {
  std::string file = WriteFile("name: \"x\"\nevnt: \"sched/sched_switch\"\n");
  EXPECT_THAT(Run({"create", file}), StartsWith("error: " + file + ":2:5: "));
  EXPECT_THAT(Run({"create", file}), HasSubstr("evnt"));
  file = WriteFile("name: \"x\"\nevent: \"sched/nope\"\n");
  EXPECT_THAT(Run({"create", file}),
              HasSubstr("aggregation \"x\": event: unknown event "
                        "'sched/nope'"));
  EXPECT_THAT(Run({"create", dir_ + "/missing.textproto"}),
              HasSubstr("missing.textproto"));
}

TEST_F(CommandsTest, WatchPrintsEachWindow) {
  backend_.PublishWindow(
      testing::FakeBackend::MakeWindow("syscalls", 0, {{"read", 1}}));
  std::atomic<bool> stop{false};
  // Keeps closing windows until the watch has seen enough.
  std::thread engine([&] {
    for (uint64_t i = 1; !stop; ++i) {
      backend_.PublishWindow(testing::FakeBackend::MakeWindow(
          "syscalls", i * 1000000000, {{"read", i}}));
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  CliOptions o;
  o.count = 3;
  const std::string out = Run({"watch", "syscalls"}, o);
  stop = true;
  engine.join();
  // The latest window first (send_latest), then live ones.
  EXPECT_THAT(out, StartsWith("syscalls  window 1.00s ending at "));
  EXPECT_THAT(out, HasSubstr("#1, 0 dropped\nKEY   COUNT\nread "));
  EXPECT_THAT(out, HasSubstr("#3, 0 dropped"));
  EXPECT_EQ(out.find("#4"), std::string::npos);
  EXPECT_EQ(out.find("\x1b["), std::string::npos);  // Not a terminal.
}

TEST_F(CommandsTest, TailPrintsEvents) {
  std::atomic<bool> stop{false};
  std::thread readers([&] {
    auto p = backend_.MakePayload("sched/sched_switch", 42, {{"prev_pid", 42}},
                                  {{"prev_comm", "bash"}});
    while (!stop) {
      backend_.EmitEvent(RecordView{1, 5000000001, p});
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  CliOptions o;
  o.count = 2;
  o.rate = 1000;
  const std::string out = Run({"tail", "sched_switch"}, o);
  stop = true;
  readers.join();
  EXPECT_THAT(out, StartsWith("5.000000001 [001]      42 sched/sched_switch "
                              "prev_comm=bash prev_pid=42"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  EXPECT_THAT(Run({"tail", "nope/*"}), HasSubstr("matches no event"));
}

TEST_F(CommandsTest, UnreachableDaemonSaysSo) {
  const std::string missing = dir_ + "/not-there.sock";
  EXPECT_THAT(Run({"status"}, CliOptions(), missing),
              StartsWith("error: cannot reach ringwatchd at unix://" + missing +
                         ": is it running? (systemctl status ringwatch)"));
  EXPECT_THAT(Run({"watch", "syscalls"}, CliOptions(), missing),
              StartsWith("error: cannot reach ringwatchd"));
}

TEST_F(CommandsTest, UsageErrors) {
  EXPECT_THAT(Run({"frobnicate"}), StartsWith("error: unknown command"));
  EXPECT_EQ(Run({"query"}), "error: usage: ringwatch query NAME");
  EXPECT_THAT(Run({}), StartsWith("error: no command given"));
}

}  // namespace
}  // namespace cli
}  // namespace ringwatch
