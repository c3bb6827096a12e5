// Fan-out cost per closed window and publish-to-receive latency, in
// process: the real server on a unix socket with N gRPC subscribers, and
// the hub alone with N in-memory subscribers.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "daemon/server/drop_oldest_queue.h"
#include "daemon/server/hub.h"
#include "daemon/server/server.h"
#include "daemon/server/testing/collecting_reader.h"
#include "daemon/server/testing/fake_backend.h"
#include "grpcpp/create_channel.h"
#include "proto/ringwatch/v1/ringwatch.grpc.pb.h"

namespace ringwatch {
namespace {

using Reader = testing::CollectingReader<v1::SubscribeResponse>;

// A top-20 window, the size a watch shows.
std::shared_ptr<const v1::AggregationResult> Window(uint64_t index) {
  std::vector<std::pair<std::string, uint64_t>> rows;
  for (int i = 0; i < 20; ++i) {
    rows.emplace_back(absl::StrCat("command-", i), 1000 - i);
  }
  return std::make_shared<const v1::AggregationResult>(
      testing::FakeBackend::MakeWindow("bench", index * 1000000000, rows));
}

// A server with `n` subscribers to aggregation "bench".
class Fixture {
 public:
  explicit Fixture(int n) {
    char dir[] = "/tmp/rwbench.XXXXXX";
    if (mkdtemp(dir) == nullptr) abort();
    dir_ = dir;
    v1::Aggregation spec;
    spec.set_name("bench");
    spec.set_event("sched/sched_switch");
    backend_.AddConfigAggregation(spec);
    ServerOptions options;
    options.unix_socket = dir_ + "/s.sock";
    options.limits.max_subscribers = 1000;
    auto server = Server::Start(options, &backend_);
    if (!server.ok()) abort();
    server_ = *std::move(server);
    auto stub = v1::RingwatchService::NewStub(grpc::CreateChannel(
        "unix:" + options.unix_socket, grpc::InsecureChannelCredentials()));
    request_.add_names("bench");
    for (int i = 0; i < n; ++i) {
      readers_.push_back(std::make_unique<Reader>());
      readers_.back()->Start(
          [&](grpc::ClientContext* ctx,
              grpc::ClientReadReactor<v1::SubscribeResponse>* r) {
            stub->async()->Subscribe(ctx, &request_, r);
          });
    }
    for (auto& r : readers_) {
      if (!r->WaitForMetadata(absl::Seconds(30))) abort();
    }
  }
  ~Fixture() {
    readers_.clear();
    server_.reset();
    rmdir(dir_.c_str());
  }
  Hub& hub() { return server_->service().hub(); }
  std::vector<std::unique_ptr<Reader>>& readers() { return readers_; }
  void WaitAll(size_t count) {
    for (auto& r : readers_) {
      if (!r->WaitForCount(count, absl::Seconds(30))) abort();
    }
  }

 private:
  std::string dir_;
  testing::FakeBackend backend_;
  std::unique_ptr<Server> server_;
  v1::SubscribeRequest request_;
  std::vector<std::unique_ptr<Reader>> readers_;
};

// The producer's cost of publishing one window to N gRPC subscribers
// (enqueue, and starting the write of each idle one). Subscribers are
// drained between windows, outside the timing.
void BM_FanOutGrpc(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  const auto window = Window(1);  // Built once: the engine's cost, not ours.
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    f.hub().OnWindowClosed(window);
    state.PauseTiming();
    f.WaitAll(i);
    state.ResumeTiming();
  }
  state.counters["subscribers"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_FanOutGrpc)->Arg(1)->Arg(10)->Arg(200)->UseRealTime();

// Latency from OnWindowClosed to each subscriber's OnReadDone, over the
// unix socket: p50 and p99 across all receipts.
void BM_PublishToReceiveLatency(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  absl::Mutex mu;
  std::vector<double> latencies_us;
  absl::Time published;
  for (auto& r : f.readers()) {
    r->set_on_message([&](const v1::SubscribeResponse&) {
      const absl::Time now = absl::Now();
      absl::MutexLock lock(&mu);
      latencies_us.push_back(absl::ToDoubleMicroseconds(now - published));
    });
  }
  const auto window = Window(1);
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    {
      absl::MutexLock lock(&mu);
      published = absl::Now();
    }
    f.hub().OnWindowClosed(window);
    f.WaitAll(i);
  }
  absl::MutexLock lock(&mu);
  std::sort(latencies_us.begin(), latencies_us.end());
  if (!latencies_us.empty()) {
    state.counters["p50_us"] = latencies_us[latencies_us.size() / 2];
    state.counters["p99_us"] = latencies_us[latencies_us.size() * 99 / 100];
  }
}
BENCHMARK(BM_PublishToReceiveLatency)->Arg(1)->Arg(200)->UseRealTime();

// The hub alone: a subscriber that only enqueues under its own lock (what
// SubscribeStream does when a write is already in flight).
class QueueOnly : public WindowSubscriber {
 public:
  void Offer(const std::shared_ptr<const v1::AggregationResult>& w) override {
    absl::MutexLock lock(&mu_);
    queue_.Push(w);
  }
  void AggregationDeleted(const std::string&) override {}

 private:
  absl::Mutex mu_;
  DropOldestQueue<std::shared_ptr<const v1::AggregationResult>> queue_{64};
};

void BM_FanOutEnqueueOnly(benchmark::State& state) {
  Hub hub;
  std::vector<std::shared_ptr<QueueOnly>> subs;
  for (int i = 0; i < state.range(0); ++i) {
    subs.push_back(std::make_shared<QueueOnly>());
    hub.Add({"bench"}, subs.back());
  }
  auto window = Window(1);
  for (auto _ : state) hub.OnWindowClosed(window);
}
BENCHMARK(BM_FanOutEnqueueOnly)->Arg(1)->Arg(10)->Arg(200);

}  // namespace
}  // namespace ringwatch

BENCHMARK_MAIN();
