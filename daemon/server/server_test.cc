// The API server end to end in one process: a FakeBackend, the real Server
// on a unix socket, and gRPC clients.
#include "daemon/server/server.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/server/testing/collecting_reader.h"
#include "daemon/server/testing/fake_backend.h"
#include "daemon/util/scoped_fd.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "proto/ringwatch/v1/ringwatch.grpc.pb.h"

namespace ringwatch {
namespace {

using testing::CollectingReader;
using testing::FakeBackend;
using ::testing::HasSubstr;
using WindowReader = CollectingReader<v1::SubscribeResponse>;
using EventReader = CollectingReader<v1::StreamEventsResponse>;

constexpr absl::Duration kWait = absl::Seconds(20);

// Polls `condition` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition,
                absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

// A short private directory: unix socket paths are limited to 107 bytes,
// which $TEST_TMPDIR under Bazel's sandbox can exceed.
std::string MakeSocketDir() {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string base = tmp != nullptr && strlen(tmp) < 60 ? tmp : "/tmp";
  std::string templ = base + "/rwsrv.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) abort();
  return templ;
}

v1::Aggregation Spec(const std::string& name) {
  v1::Aggregation a;
  a.set_name(name);
  a.set_event("sched/sched_switch");
  a.add_key("prev_comm");
  a.set_window("1s");
  return a;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeSocketDir();
    socket_ = dir_ + "/run/ringwatch.sock";  // run/ is created by Start.
    backend_.AddConfigAggregation(Spec("by_comm"));
    backend_.AddConfigAggregation(Spec("switches"));
  }
  void TearDown() override {
    server_.reset();
    rmdir((dir_ + "/run").c_str());
    rmdir(dir_.c_str());
  }

  ServerOptions Options() {
    ServerOptions o;
    o.unix_socket = socket_;
    return o;
  }
  void StartServer(const ServerOptions& options) {
    auto server = Server::Start(options, &backend_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel("unix:" + socket_,
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::RingwatchService::NewStub(channel_);
  }
  void StartServer() { StartServer(Options()); }

  std::unique_ptr<WindowReader> Subscribe(const v1::SubscribeRequest& request,
                                          bool stalled = false) {
    auto reader = std::make_unique<WindowReader>(stalled);
    reader->Start([&](grpc::ClientContext* ctx,
                      grpc::ClientReadReactor<v1::SubscribeResponse>* r) {
      stub_->async()->Subscribe(ctx, &request, r);
    });
    return reader;
  }
  std::unique_ptr<WindowReader> Subscribe(const std::string& name) {
    v1::SubscribeRequest request;
    request.add_names(name);
    return Subscribe(request);
  }
  std::unique_ptr<EventReader> StreamEvents(
      const v1::StreamEventsRequest& request) {
    auto reader = std::make_unique<EventReader>();
    reader->Start([&](grpc::ClientContext* ctx,
                      grpc::ClientReadReactor<v1::StreamEventsResponse>* r) {
      stub_->async()->StreamEvents(ctx, &request, r);
    });
    return reader;
  }

  v1::DaemonStatus Status(bool streams = false) {
    grpc::ClientContext ctx;
    v1::GetStatusRequest request;
    request.set_include_streams(streams);
    v1::DaemonStatus status;
    grpc::Status s = stub_->GetStatus(&ctx, request, &status);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return status;
  }
  uint32_t OpenSubscribers() { return Status().server().subscribers(); }

  std::string dir_;
  std::string socket_;
  FakeBackend backend_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RingwatchService::Stub> stub_;
};

// --- Status, catalog -------------------------------------------------------

TEST_F(ServerTest, GetStatusMergesBackendServerAndProcessFigures) {
  StartServer();
  v1::DaemonStatus s = Status();
  EXPECT_EQ(s.version(), "0.1.0-fake");
  EXPECT_EQ(s.instance(), "ringwatch-fake");
  EXPECT_EQ(s.cpus_size(), 2);
  EXPECT_GT(s.process().rss_bytes(), 0u);
  EXPECT_GE(s.process().threads(), 1u);
  EXPECT_TRUE(s.has_start_time());
  EXPECT_TRUE(s.has_uptime());
  EXPECT_EQ(s.server().max_subscribers(), 64u);
  EXPECT_EQ(s.server().subscribers(), 0u);
  ASSERT_EQ(s.server().listen_addresses_size(), 1);
  EXPECT_EQ(s.server().listen_addresses(0), "unix://" + socket_);
  ASSERT_EQ(s.aggregations_size(), 2);
  EXPECT_EQ(s.aggregations(0).name(), "aggregations/by_comm");
}

TEST_F(ServerTest, UnixSocketHasMode0660AndIsRemovedAtShutdown) {
  StartServer();
  struct stat st;
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  server_->Shutdown(absl::Seconds(2));
  EXPECT_NE(stat(socket_.c_str(), &st), 0);
}

TEST_F(ServerTest, ASecondServerOnALiveSocketIsRefused) {
  StartServer();
  auto second = Server::Start(Options(), &backend_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.status().message(), HasSubstr(socket_));
}

TEST_F(ServerTest, AStaleSocketIsReplaced) {
  // A socket file nobody listens on, as a crashed daemon leaves behind.
  mkdir((dir_ + "/run").c_str(), 0755);
  {
    ScopedFd fd(socket(AF_UNIX, SOCK_STREAM, 0));
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, socket_.c_str(), socket_.size());
    ASSERT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
              0);
  }
  StartServer();
  EXPECT_EQ(Status().version(), "0.1.0-fake");
}

TEST_F(ServerTest, ListEventsFiltersSortsPagesAndTrimsFields) {
  StartServer();
  grpc::ClientContext ctx;
  v1::ListEventsRequest request;
  request.set_filter("sched/*");
  v1::ListEventsResponse response;
  ASSERT_TRUE(stub_->ListEvents(&ctx, request, &response).ok());
  ASSERT_EQ(response.events_size(), 2);
  EXPECT_EQ(response.events(0).name(), "events/sched/sched_switch");
  EXPECT_EQ(response.events(0).id(), 372u);
  EXPECT_EQ(response.events(0).fields_size(), 0);  // BASIC view.
  EXPECT_EQ(response.events(1).name(), "events/sched/sched_wakeup");
  EXPECT_EQ(response.total_size(), 2);
  EXPECT_TRUE(response.next_page_token().empty());

  // FULL view, one per page.
  std::vector<std::string> names;
  std::string token;
  do {
    grpc::ClientContext page_ctx;
    v1::ListEventsRequest page;
    page.set_view(v1::EVENT_VIEW_FULL);
    page.set_page_size(1);
    page.set_page_token(token);
    v1::ListEventsResponse out;
    ASSERT_TRUE(stub_->ListEvents(&page_ctx, page, &out).ok());
    ASSERT_EQ(out.events_size(), 1);
    EXPECT_GT(out.events(0).fields_size(), 4);
    EXPECT_EQ(out.total_size(), 4);
    names.push_back(out.events(0).name());
    token = out.next_page_token();
  } while (!token.empty());
  EXPECT_THAT(names, ::testing::ElementsAre("events/irq/irq_handler_entry",
                                            "events/raw_syscalls/sys_enter",
                                            "events/sched/sched_switch",
                                            "events/sched/sched_wakeup"));

  grpc::ClientContext bare_ctx;
  request.set_filter("sys_enter");
  ASSERT_TRUE(stub_->ListEvents(&bare_ctx, request, &response).ok());
  ASSERT_EQ(response.events_size(), 1);
}

TEST_F(ServerTest, ListEventsRejectsBadPagingWithAReason) {
  StartServer();
  {
    grpc::ClientContext ctx;
    v1::ListEventsRequest request;
    request.set_page_token("garbage!");
    v1::ListEventsResponse response;
    grpc::Status s = stub_->ListEvents(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
  }
  {
    grpc::ClientContext ctx;
    v1::ListEventsRequest request;
    request.set_page_size(-5);
    v1::ListEventsResponse response;
    grpc::Status s = stub_->ListEvents(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("page_size is -5"));
  }
}

// --- Aggregations -----------------------------------------------------------

TEST_F(ServerTest, ListAndGetAggregations) {
  StartServer();
  grpc::ClientContext ctx;
  v1::ListAggregationsResponse list;
  ASSERT_TRUE(
      stub_->ListAggregations(&ctx, v1::ListAggregationsRequest(), &list).ok());
  ASSERT_EQ(list.aggregations_size(), 2);
  EXPECT_EQ(list.aggregations(0).name(), "aggregations/by_comm");
  EXPECT_EQ(list.aggregations(0).origin(), v1::AggregationInfo::ORIGIN_CONFIG);
  EXPECT_EQ(list.aggregations(0).spec().event(), "sched/sched_switch");

  for (const char* name : {"aggregations/switches", "switches"}) {
    grpc::ClientContext get_ctx;
    v1::GetAggregationRequest request;
    request.set_name(name);
    v1::AggregationInfo info;
    ASSERT_TRUE(stub_->GetAggregation(&get_ctx, request, &info).ok()) << name;
    EXPECT_EQ(info.name(), "aggregations/switches");
  }
}

TEST_F(ServerTest, UnknownAndMalformedNamesSayWhatToFix) {
  StartServer();
  {
    grpc::ClientContext ctx;
    v1::GetAggregationRequest request;
    request.set_name("aggregations/nope");
    v1::AggregationInfo info;
    grpc::Status s = stub_->GetAggregation(&ctx, request, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(s.error_message(),
              "aggregation 'nope' not found; known: by_comm, switches");
  }
  {
    grpc::ClientContext ctx;
    v1::GetAggregationRequest request;
    request.set_name("events/sched/sched_switch");
    v1::AggregationInfo info;
    grpc::Status s = stub_->GetAggregation(&ctx, request, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("aggregations/{id}"));
  }
  {
    grpc::ClientContext ctx;
    v1::QueryRequest request;
    request.set_name("nope");
    v1::QueryResponse response;
    grpc::Status s = stub_->Query(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(s.error_message(), HasSubstr("known: by_comm, switches"));
  }
}

TEST_F(ServerTest, CreateValidatesThenStartsAndDeleteRemoves) {
  StartServer();
  auto create = [&](const v1::Aggregation& spec, bool validate_only,
                    v1::AggregationInfo* info) {
    grpc::ClientContext ctx;
    v1::CreateAggregationRequest request;
    *request.mutable_aggregation() = spec;
    request.set_validate_only(validate_only);
    return stub_->CreateAggregation(&ctx, request, info);
  };
  v1::AggregationInfo info;
  ASSERT_TRUE(create(Spec("new_one"), /*validate_only=*/true, &info).ok());
  EXPECT_EQ(backend_.ListAggregations().size(), 2u);  // Not created.

  grpc::Status s = create(Spec("new_one"), false, &info);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.name(), "aggregations/new_one");
  EXPECT_EQ(info.origin(), v1::AggregationInfo::ORIGIN_API);
  EXPECT_EQ(backend_.ListAggregations().size(), 3u);

  s = create(Spec("new_one"), false, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(s.error_message(), HasSubstr("'new_one' already exists"));

  v1::Aggregation bad = Spec("bad");
  bad.set_event("sched/no_such_event");
  bad.set_window("forever");
  s = create(bad, false, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("aggregation \"bad\": event: unknown event "
                        "'sched/no_such_event'"));
  EXPECT_THAT(s.error_message(), HasSubstr("window: 'forever'"));

  {
    grpc::ClientContext ctx;
    v1::CreateAggregationRequest empty;
    s = stub_->CreateAggregation(&ctx, empty, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("aggregation is missing"));
  }

  auto del = [&](const std::string& name, bool allow_missing) {
    grpc::ClientContext ctx;
    v1::DeleteAggregationRequest request;
    request.set_name(name);
    request.set_allow_missing(allow_missing);
    google::protobuf::Empty empty;
    return stub_->DeleteAggregation(&ctx, request, &empty);
  };
  EXPECT_TRUE(del("aggregations/new_one", false).ok());
  EXPECT_EQ(backend_.ListAggregations().size(), 2u);
  s = del("new_one", false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(),
            "aggregation 'new_one' not found; known: by_comm, switches");
  EXPECT_TRUE(del("new_one", /*allow_missing=*/true).ok());
}

// --- Query ------------------------------------------------------------------

TEST_F(ServerTest, QueryLatestAndCumulativeWithTopNAndKeyFilter) {
  StartServer();
  auto query = [&](const v1::QueryRequest& request, v1::QueryResponse* out) {
    grpc::ClientContext ctx;
    return stub_->Query(&ctx, request, out);
  };
  v1::QueryRequest request;
  request.set_name("by_comm");
  v1::QueryResponse response;
  grpc::Status s = query(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("has not closed a window yet"));

  backend_.PublishWindow(FakeBackend::MakeWindow(
      "by_comm", 1000, {{"nginx", 30}, {"bash", 5}, {"sshd", 3}}));
  backend_.PublishWindow(
      FakeBackend::MakeWindow("by_comm", 2000, {{"nginx", 10}, {"bash", 20}}));

  ASSERT_TRUE(query(request, &response).ok());
  EXPECT_EQ(response.result().window_start_ns(), 2000u);
  ASSERT_EQ(response.result().row_size(), 2);

  request.set_view(v1::RESULT_VIEW_CUMULATIVE);
  ASSERT_TRUE(query(request, &response).ok());
  EXPECT_TRUE(response.result().cumulative());
  ASSERT_EQ(response.result().row_size(), 3);
  EXPECT_EQ(response.result().row(0).count(), 40u);  // nginx: 30 + 10.

  request.set_top_n(1);
  ASSERT_TRUE(query(request, &response).ok());
  ASSERT_EQ(response.result().row_size(), 1);
  EXPECT_EQ(response.result().row(0).key(0).string_value(), "nginx");

  request.set_top_n(0);
  request.set_key_filter("sh");
  ASSERT_TRUE(query(request, &response).ok());
  ASSERT_EQ(response.result().row_size(), 2);  // bash, sshd.
  EXPECT_EQ(response.result().rows_filtered(), 1u);

  request.set_top_n(-2);
  s = query(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("top_n is -2"));
}

// --- Subscribe --------------------------------------------------------------

TEST_F(ServerTest, SubscribeDeliversEachWindowInOrder) {
  StartServer();
  v1::SubscribeRequest request;
  request.add_names("aggregations/by_comm");
  request.add_names("switches");
  request.set_top_n(1);
  auto reader = Subscribe(request);
  ASSERT_TRUE(reader->WaitForMetadata(kWait));
  EXPECT_EQ(OpenSubscribers(), 1u);

  backend_.PublishWindow(
      FakeBackend::MakeWindow("by_comm", 1, {{"a", 1}, {"b", 2}}));
  backend_.PublishWindow(FakeBackend::MakeWindow("other_agg", 1, {{"x", 1}}));
  backend_.PublishWindow(FakeBackend::MakeWindow("switches", 2, {{"c", 3}}));
  backend_.PublishWindow(FakeBackend::MakeWindow("by_comm", 3, {{"d", 4}}));
  ASSERT_TRUE(reader->WaitForCount(3, kWait));
  std::vector<v1::SubscribeResponse> got = reader->messages();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].result().name(), "by_comm");
  ASSERT_EQ(got[0].result().row_size(), 1);  // top_n applied.
  EXPECT_EQ(got[1].result().name(), "switches");
  EXPECT_EQ(got[2].result().window_start_ns(), 3u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].sequence(), i + 1);
    EXPECT_EQ(got[i].dropped_before(), 0u);
  }
}

TEST_F(ServerTest, SubscribeSendLatestFirst) {
  StartServer();
  backend_.PublishWindow(FakeBackend::MakeWindow("by_comm", 7, {{"a", 1}}));
  v1::SubscribeRequest request;
  request.add_names("by_comm");
  request.set_send_latest(true);
  auto reader = Subscribe(request);
  ASSERT_TRUE(reader->WaitForCount(1, kWait));
  EXPECT_EQ(reader->messages()[0].result().window_start_ns(), 7u);
}

TEST_F(ServerTest, SubscribeRejectsBadRequests) {
  StartServer();
  {
    auto reader = Subscribe(v1::SubscribeRequest());
    grpc::Status s = reader->WaitForDone(kWait);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("names is empty"));
    EXPECT_THAT(s.error_message(), HasSubstr("aggregations/by_comm"));
  }
  {
    auto reader = Subscribe("nope");
    grpc::Status s = reader->WaitForDone(kWait);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(s.error_message(),
              "aggregation 'nope' not found; known: by_comm, switches");
  }
  EXPECT_EQ(OpenSubscribers(), 0u);
}

TEST_F(ServerTest, DeletingAnAggregationEndsItsSubscriptions) {
  StartServer();
  auto reader = Subscribe("switches");
  ASSERT_TRUE(reader->WaitForMetadata(kWait));
  ASSERT_TRUE(backend_.DeleteAggregation("switches").ok());
  grpc::Status s = reader->WaitForDone(kWait);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("'switches' was deleted"));
  EXPECT_TRUE(Eventually([&] { return OpenSubscribers() == 0; }));
}

TEST_F(ServerTest, ClientThatDisconnectsMidStreamIsCleanedUp) {
  StartServer();
  auto reader = Subscribe("by_comm");
  ASSERT_TRUE(reader->WaitForMetadata(kWait));
  backend_.PublishWindow(FakeBackend::MakeWindow("by_comm", 1, {{"a", 1}}));
  ASSERT_TRUE(reader->WaitForCount(1, kWait));
  EXPECT_EQ(OpenSubscribers(), 1u);
  EXPECT_EQ(server_->service().hub().size(), 1u);

  reader->Cancel();
  EXPECT_EQ(reader->WaitForDone(kWait).error_code(),
            grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually([&] { return OpenSubscribers() == 0; }));
  EXPECT_EQ(server_->service().hub().size(), 0u);
  // Publishing to nobody is fine.
  backend_.PublishWindow(FakeBackend::MakeWindow("by_comm", 2, {{"a", 1}}));
}

TEST_F(ServerTest, SubscriberCapIsEnforcedWithResourceExhausted) {
  ServerOptions options = Options();
  options.limits.max_subscribers = 3;
  StartServer(options);
  std::vector<std::unique_ptr<WindowReader>> readers;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(Subscribe("by_comm"));
    ASSERT_TRUE(readers.back()->WaitForMetadata(kWait));
  }
  auto extra = Subscribe("by_comm");
  grpc::Status s = extra->WaitForDone(kWait);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("server's cap is 3"));
  // One leaves: a new one fits.
  readers[0]->Cancel();
  readers[0]->WaitForDone(kWait);
  ASSERT_TRUE(Eventually([&] { return OpenSubscribers() == 2; }));
  auto again = Subscribe("by_comm");
  EXPECT_TRUE(again->WaitForMetadata(kWait));
}

// A window big enough that a stalled client's flow-control windows fill.
v1::AggregationResult BigWindow(uint64_t index) {
  std::vector<std::pair<std::string, uint64_t>> rows;
  for (int i = 0; i < 200; ++i) {
    rows.emplace_back(absl::StrCat("some-long-command-name-", i), i + index);
  }
  return FakeBackend::MakeWindow("by_comm", index, rows);
}

TEST_F(ServerTest, StalledSubscriberNeverBlocksTheProducerOrTheOthers) {
  ServerOptions options = Options();
  options.limits.subscriber_queue = 16;
  StartServer(options);
  v1::SubscribeRequest request;
  request.add_names("by_comm");
  auto stalled = Subscribe(request, /*stalled=*/true);
  ASSERT_TRUE(stalled->WaitForMetadata(kWait));
  std::vector<std::unique_ptr<WindowReader>> active;
  for (int i = 0; i < 3; ++i) {
    active.push_back(Subscribe(request));
    ASSERT_TRUE(active.back()->WaitForMetadata(kWait));
  }

  // Every publish returns (the test would time out otherwise) although the
  // stalled client reads nothing; the others keep up, paced by their reads.
  constexpr int kWindows = 600;
  for (int i = 1; i <= kWindows; ++i) {
    backend_.PublishWindow(BigWindow(i));
    for (auto& r : active) ASSERT_TRUE(r->WaitForCount(i, kWait)) << i;
  }
  for (auto& r : active) {
    std::vector<v1::SubscribeResponse> got = r->messages();
    ASSERT_EQ(got.size(), static_cast<size_t>(kWindows));
    for (int i = 0; i < kWindows; ++i) {
      EXPECT_EQ(got[i].sequence(), static_cast<uint64_t>(i + 1));
      EXPECT_EQ(got[i].dropped_before(), 0u);
    }
  }

  // The stalled one lost the oldest windows, and says how many.
  v1::DaemonStatus status = Status(/*streams=*/true);
  uint64_t server_dropped = 0;
  int stalled_entries = 0;
  for (const v1::StreamStatus& st : status.server().streams()) {
    if (st.dropped() > 0) {
      server_dropped = st.dropped();
      ++stalled_entries;
      EXPECT_GT(st.queued(), 0u);
      EXPECT_LE(st.queued(), 16u);
    }
  }
  ASSERT_EQ(stalled_entries, 1);
  EXPECT_GT(server_dropped, 0u);
  EXPECT_EQ(status.server().dropped_messages(), server_dropped);

  stalled->Resume();
  ASSERT_TRUE(Eventually([&] {
    std::vector<v1::SubscribeResponse> got = stalled->messages();
    return !got.empty() && got.back().sequence() == kWindows;
  }));
  uint64_t received = 0, dropped = 0, last_sequence = 0;
  for (const v1::SubscribeResponse& m : stalled->messages()) {
    ++received;
    dropped += m.dropped_before();
    EXPECT_EQ(m.sequence(), last_sequence + m.dropped_before() + 1);
    last_sequence = m.sequence();
  }
  EXPECT_EQ(received + dropped, static_cast<uint64_t>(kWindows));
  EXPECT_EQ(dropped, server_dropped);
  // The newest window always arrives.
  EXPECT_EQ(stalled->messages().back().result().window_start_ns(),
            static_cast<uint64_t>(kWindows));
}

TEST_F(ServerTest, TwoHundredSubscribersEachReceiveEveryWindow) {
  ServerOptions options = Options();
  options.limits.max_subscribers = 200;
  StartServer(options);
  std::vector<std::unique_ptr<WindowReader>> readers;
  for (int i = 0; i < 200; ++i) {
    readers.push_back(Subscribe("by_comm"));
  }
  for (auto& r : readers) ASSERT_TRUE(r->WaitForMetadata(kWait));
  EXPECT_EQ(OpenSubscribers(), 200u);
  constexpr int kWindows = 20;
  for (int i = 1; i <= kWindows; ++i) {
    backend_.PublishWindow(FakeBackend::MakeWindow("by_comm", i, {{"k", 1}}));
  }
  for (auto& r : readers) {
    ASSERT_TRUE(r->WaitForCount(kWindows, kWait));
    std::vector<v1::SubscribeResponse> got = r->messages();
    for (int i = 0; i < kWindows; ++i) {
      EXPECT_EQ(got[i].result().window_start_ns(),
                static_cast<uint64_t>(i + 1));
      EXPECT_EQ(got[i].dropped_before(), 0u);
    }
  }
  readers.clear();  // Cancels them all.
  EXPECT_TRUE(Eventually([&] { return OpenSubscribers() == 0; }));
}

// --- StreamEvents -----------------------------------------------------------

TEST_F(ServerTest, StreamEventsFiltersByEventAndPid) {
  StartServer();
  v1::StreamEventsRequest request;
  request.add_events("sched/*");
  request.add_pids(42);
  request.set_max_events_per_second(1000);
  auto reader = StreamEvents(request);
  ASSERT_TRUE(reader->WaitForMetadata(kWait));
  ASSERT_EQ(backend_.tap_count(), 1u);

  auto sw = backend_.MakePayload("sched/sched_switch", 42, {{"next_pid", 7}},
                                 {{"prev_comm", "bash"}});
  auto other_pid = backend_.MakePayload("sched/sched_switch", 43, {}, {});
  auto irq = backend_.MakePayload("irq/irq_handler_entry", 42, {{"irq", 1}},
                                  {{"name", "eth0"}});
  backend_.EmitEvent(RecordView{1, 100, other_pid});
  backend_.EmitEvent(RecordView{1, 101, irq});
  backend_.EmitEvent(RecordView{1, 102, sw});
  ASSERT_TRUE(reader->WaitForCount(1, kWait));
  v1::TraceEvent e = reader->messages()[0].event();
  EXPECT_EQ(e.name(), "events/sched/sched_switch");
  EXPECT_EQ(e.timestamp_ns(), 102u);
  EXPECT_EQ(e.pid(), 42);
  EXPECT_EQ(e.fields(0).string_value(), "bash");
  EXPECT_EQ(reader->messages()[0].dropped_before(), 0u);

  reader->Cancel();
  reader->WaitForDone(kWait);
  EXPECT_TRUE(Eventually([&] { return backend_.tap_count() == 0; }));
  EXPECT_EQ(Status().server().event_streams(), 0u);
}

// Each reader delivers its own CPU's batch; the stream holds events until
// every CPU is past them and sends them in timestamp order.
TEST_F(ServerTest, StreamEventsMergesCpusInTimeOrder) {
  StartServer();
  backend_.EmitDrained(0);  // No CPU has delivered anything yet.
  v1::StreamEventsRequest request;
  request.add_events("sched_switch");
  request.set_max_events_per_second(1000);
  auto reader = StreamEvents(request);
  ASSERT_TRUE(reader->WaitForMetadata(kWait));
  auto sw = backend_.MakePayload("sched/sched_switch", 1, {}, {});
  backend_.EmitEvent(RecordView{1, 200, sw});
  backend_.EmitEvent(RecordView{1, 300, sw});
  backend_.EmitEvent(RecordView{0, 100, sw});
  backend_.EmitEvent(RecordView{0, 150, sw});
  backend_.EmitDrained(250);
  ASSERT_TRUE(reader->WaitForCount(3, kWait));
  // Older than what was sent: dropped (counted), not sent out of order.
  backend_.EmitEvent(RecordView{0, 120, sw});
  backend_.EmitDrained(~uint64_t{0});
  ASSERT_TRUE(reader->WaitForCount(4, kWait));
  std::vector<uint64_t> stamps;
  std::vector<uint32_t> cpus;
  for (const auto& m : reader->messages()) {
    stamps.push_back(m.event().timestamp_ns());
    cpus.push_back(m.event().cpu());
  }
  EXPECT_THAT(stamps, ::testing::ElementsAre(100, 150, 200, 300));
  EXPECT_THAT(cpus, ::testing::ElementsAre(0, 0, 1, 1));
  EXPECT_EQ(reader->messages()[3].dropped_before(), 1u);
}

TEST_F(ServerTest, StreamEventsInArrivalOrderWhenAsked) {
  StartServer();
  backend_.EmitDrained(0);  // Would hold every event in time order.
  v1::StreamEventsRequest request;
  request.add_events("sched_switch");
  request.set_max_events_per_second(1000);
  request.set_arrival_order(true);
  auto reader = StreamEvents(request);
  ASSERT_TRUE(reader->WaitForMetadata(kWait));
  auto sw = backend_.MakePayload("sched/sched_switch", 1, {}, {});
  backend_.EmitEvent(RecordView{1, 200, sw});
  backend_.EmitEvent(RecordView{0, 100, sw});
  ASSERT_TRUE(reader->WaitForCount(2, kWait));
  EXPECT_EQ(reader->messages()[0].event().timestamp_ns(), 200u);
  EXPECT_EQ(reader->messages()[1].event().timestamp_ns(), 100u);
}

TEST_F(ServerTest, StreamEventsRateLimitDropsAreCountedExactly) {
  StartServer();
  v1::StreamEventsRequest request;
  request.add_events("sched_switch");
  request.set_max_events_per_second(1);  // Effectively the burst only.
  request.set_burst(5);
  auto reader = StreamEvents(request);
  ASSERT_TRUE(reader->WaitForMetadata(kWait));
  auto sw = backend_.MakePayload("sched/sched_switch", 1, {}, {});
  constexpr int kEvents = 1000;
  for (int i = 0; i < kEvents; ++i) {
    backend_.EmitEvent(RecordView{0, static_cast<uint64_t>(i), sw});
  }
  ASSERT_TRUE(reader->WaitForCount(5, kWait));
  // Once everything accepted has arrived, every event is either received or
  // counted as dropped.
  v1::StreamStatus stream;
  ASSERT_TRUE(Eventually([&] {
    v1::DaemonStatus status = Status(/*streams=*/true);
    if (status.server().streams_size() != 1) return false;
    stream = status.server().streams(0);
    return reader->count() + stream.dropped() == kEvents;
  }));
  const size_t received = reader->count();
  EXPECT_GE(received, 5u);
  EXPECT_LE(received, 7u);  // The burst, plus a token per second of test.
  EXPECT_EQ(stream.kind(), v1::StreamStatus::KIND_STREAM_EVENTS);
  EXPECT_EQ(stream.sent(), received);
  uint64_t reported = 0;
  for (const auto& m : reader->messages()) reported += m.dropped_before();
  EXPECT_LE(reported, stream.dropped());  // The rest awaits a next event.
}

TEST_F(ServerTest, StreamEventsRejectsBadRequests) {
  ServerOptions options = Options();
  options.limits.max_event_streams = 1;
  StartServer(options);
  auto expect_error = [&](const v1::StreamEventsRequest& request,
                          grpc::StatusCode code, const std::string& text) {
    auto reader = StreamEvents(request);
    grpc::Status s = reader->WaitForDone(kWait);
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(text));
  };
  v1::StreamEventsRequest unknown;
  unknown.add_events("sched/sched_nothing*");
  expect_error(unknown, grpc::StatusCode::INVALID_ARGUMENT,
               "event glob 'sched/sched_nothing*' matches no event");
  v1::StreamEventsRequest too_fast;
  too_fast.set_max_events_per_second(1e9);
  expect_error(too_fast, grpc::StatusCode::INVALID_ARGUMENT,
               "above the server's cap of 10000");
  v1::StreamEventsRequest negative;
  negative.set_max_events_per_second(-1);
  expect_error(negative, grpc::StatusCode::INVALID_ARGUMENT,
               "max_events_per_second is -1");

  auto first = StreamEvents(v1::StreamEventsRequest());
  ASSERT_TRUE(first->WaitForMetadata(kWait));
  expect_error(v1::StreamEventsRequest(), grpc::StatusCode::RESOURCE_EXHAUSTED,
               "too many event streams");
}

// --- Listening, shutdown ----------------------------------------------------

TEST_F(ServerTest, ShutdownEndsStreamsCleanlyWithinItsBound) {
  StartServer();
  auto reader = Subscribe("by_comm");
  ASSERT_TRUE(reader->WaitForMetadata(kWait));
  v1::SubscribeRequest request;
  request.add_names("by_comm");
  auto stalled = Subscribe(request, /*stalled=*/true);
  ASSERT_TRUE(stalled->WaitForMetadata(kWait));
  for (int i = 1; i <= 200; ++i) backend_.PublishWindow(BigWindow(i));

  const absl::Time start = absl::Now();
  server_->Shutdown(absl::Seconds(2));
  // Generous: the bound is 2 s; a hang would be far longer.
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  grpc::Status s = reader->WaitForDone(kWait);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "ringwatchd is shutting down");
  // A client sees the status only after reading what was sent before it.
  stalled->Resume();
  grpc::Status stalled_status = stalled->WaitForDone(kWait);
  EXPECT_TRUE(stalled_status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              stalled_status.error_code() == grpc::StatusCode::CANCELLED)
      << stalled_status.error_code() << " " << stalled_status.error_message();
  EXPECT_EQ(backend_.listener_count(), 0u);
}

TEST_F(ServerTest, ServesAnInheritedListeningSocket) {
  ServerOptions options = Options();
  options.unix_socket = "";  // Only the inherited socket.
  auto server = Server::Start(options, &backend_);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);

  const std::string path = dir_ + "/activated.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  ASSERT_TRUE(server_->ServeListeningFd(fd).ok());

  // Several connections, each served.
  for (int i = 0; i < 3; ++i) {
    auto channel =
        grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials());
    auto stub = v1::RingwatchService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(20));
    v1::DaemonStatus status;
    grpc::Status s = stub->GetStatus(&ctx, v1::GetStatusRequest(), &status);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(status.version(), "0.1.0-fake");
  }
  server_->Shutdown(absl::Seconds(2));
  unlink(path.c_str());

  // A socket that is not listening is refused with a reason.
  auto again = Server::Start(options, &backend_);
  ASSERT_TRUE(again.ok());
  int not_listening = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  absl::Status bad = (*again)->ServeListeningFd(not_listening);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("not listening"));
}

TEST_F(ServerTest, TcpIsLoopbackOnlyUnlessAllowed) {
  ServerOptions options = Options();
  options.unix_socket = "";
  options.tcp_address = "0.0.0.0:0";
  auto refused = Server::Start(options, &backend_);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("not a loopback"));

  options.tcp_address = "127.0.0.1:0";
  auto server = Server::Start(options, &backend_);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->tcp_port(), 0);
  auto stub = v1::RingwatchService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->tcp_port()),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::DaemonStatus status;
  ASSERT_TRUE(stub->GetStatus(&ctx, v1::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.server().listen_addresses(0),
            absl::StrCat("127.0.0.1:", (*server)->tcp_port()));

  options.tls_cert_file = "/nonexistent/cert.pem";
  auto no_key = Server::Start(options, &backend_);
  EXPECT_THAT(no_key.status().message(), HasSubstr("both a certificate"));
}

TEST_F(ServerTest, HealthServiceReportsServing) {
  StartServer();
  grpc::GenericStub generic(channel_);
  grpc::ClientContext ctx;
  // grpc.health.v1.HealthCheckRequest{service:
  // "ringwatch.v1.RingwatchService"}.
  const std::string service = "ringwatch.v1.RingwatchService";
  std::string request_bytes = "\x0a";
  request_bytes += static_cast<char>(service.size());
  request_bytes += service;
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Mutex mu;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                    &request, &response, [&](grpc::Status s) {
                      absl::MutexLock lock(&mu);
                      status = s;
                      done = true;
                    });
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), kWait));
  }
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING.
}

}  // namespace
}  // namespace ringwatch
