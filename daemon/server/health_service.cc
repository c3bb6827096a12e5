#include "daemon/server/health_service.h"

#include <atomic>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ringwatch {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: the latest status is written; a change while a write is
// in flight replaces what is sent next (a watcher wants the current status,
// not every transition). gRPC may run a reaction inline in StartWrite or
// Finish, so they are never called with a lock held; references (gRPC's
// until OnDone, and the service's while it calls in) keep it alive.
class HealthService::Watcher
    : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* service, std::string name)
      : service_(service), name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Sends `status` unless it is what the client saw last.
  void Update(HealthStatus status) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      pending_ = status;
      has_pending_ = true;
    }
    Step();
  }

  // Ends the stream once the pending status is written.
  void FinishAfterWrites() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      finish_requested_ = true;
    }
    Step();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) cancelled_ = true;
    }
    Step();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
    }
    Step();
  }

  void OnDone() override {
    service_->Remove(this);
    Unref();
  }

 private:
  // Starts the next write or the Finish, outside the lock.
  void Step() ABSL_LOCKS_EXCLUDED(mu_) {
    enum { kNothing, kWrite, kFinish } action = kNothing;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_) return;
      if (cancelled_) {
        action = kFinish;
        status = grpc::Status::CANCELLED;
      } else if (has_pending_ && (!has_sent_ || pending_ != sent_)) {
        response_.set_status(pending_);
        sent_ = pending_;
        has_sent_ = true;
        has_pending_ = false;
        writing_ = true;
        action = kWrite;
      } else if (finish_requested_) {
        action = kFinish;
        status = grpc::Status::OK;
      }
      if (action == kFinish) finished_ = true;
    }
    if (action == kWrite) StartWrite(&response_);
    if (action == kFinish) Finish(status);
  }

  HealthService* const service_;
  const std::string name_;
  // gRPC's (until OnDone) plus one per HealthService call in progress.
  std::atomic<int> refs_{1};
  absl::Mutex mu_;
  // Written only while no write is in flight.
  HealthCheckResponse response_;
  HealthStatus pending_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  HealthStatus sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool has_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::~HealthService() { Shutdown(); }

void HealthService::SetStatus(const std::string& service, HealthStatus status) {
  std::vector<Watcher*> watching;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    auto [it, inserted] = statuses_.try_emplace(service, status);
    if (!inserted && it->second == status) return;
    it->second = status;
    for (Watcher* w : watchers_) {
      if (w->name() != service) continue;
      w->Ref();
      watching.push_back(w);
    }
  }
  for (Watcher* w : watching) {
    w->Update(status);
    w->Unref();
  }
}

HealthStatus HealthService::GetStatus(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                               : it->second;
}

void HealthService::Shutdown() {
  std::vector<Watcher*> watching;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [name, status] : statuses_) {
      status = HealthCheckResponse::NOT_SERVING;
    }
    for (Watcher* w : watchers_) {
      w->Ref();
      watching.push_back(w);
    }
  }
  for (Watcher* w : watching) {
    w->Update(HealthCheckResponse::NOT_SERVING);
    w->FinishAfterWrites();
    w->Unref();
  }
}

size_t HealthService::watchers() const {
  absl::MutexLock lock(&mu_);
  return watchers_.size();
}

void HealthService::Remove(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

grpc::ServerUnaryReactor* HealthService::Check(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request,
    HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const HealthStatus status = GetStatus(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::NOT_FOUND,
                     absl::StrCat("unknown service '", request->service(),
                                  "'; known: '' (the server) and "
                                  "ringwatch.v1.RingwatchService")));
    return reactor;
  }
  response->set_status(status);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  HealthStatus status;
  bool shut_down;
  {
    absl::MutexLock lock(&mu_);
    watchers_.insert(watcher);
    auto it = statuses_.find(request->service());
    // An unknown service is reported, and the call stays open in case it
    // appears (the protocol's rule for Watch).
    status = it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                                   : it->second;
    shut_down = shut_down_;
  }
  // gRPC holds its reference until OnDone, which cannot run before this
  // returns the reactor.
  watcher->Update(status);
  if (shut_down) watcher->FinishAfterWrites();
  return watcher;
}

}  // namespace ringwatch
