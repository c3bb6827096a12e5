#include "daemon/server/service.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "daemon/server/event_stream.h"
#include "daemon/server/names.h"
#include "daemon/server/proc_self.h"
#include "daemon/server/request_validation.h"
#include "daemon/server/result_shaping.h"
#include "daemon/server/snapshot_stream.h"
#include "daemon/server/subscribe_stream.h"
#include "daemon/util/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace ringwatch {

namespace {

using google::protobuf::util::TimeUtil;

constexpr int32_t kDefaultPageSize = 1000;
constexpr int32_t kMaxPageSize = 5000;
constexpr absl::string_view kPageTokenPrefix = "after:";

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(ts));
}

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

RingwatchServiceImpl::RingwatchServiceImpl(Backend* backend,
                                           const ServiceLimits& limits)
    : backend_(backend),
      limits_(limits),
      start_time_(absl::Now()),
      hub_(std::make_shared<Hub>()),
      registry_(limits.max_subscribers, limits.max_event_streams) {}

RingwatchServiceImpl::~RingwatchServiceImpl() {
  if (attached_) backend_->RemoveWindowListener(listener_handle_);
}

void RingwatchServiceImpl::Attach() {
  if (attached_) return;
  listener_handle_ = backend_->AddWindowListener(hub_);
  attached_ = true;
}

bool RingwatchServiceImpl::FinishStreams(const grpc::Status& status,
                                         absl::Time deadline) {
  registry_.FinishAll(status);
  const bool all_done = registry_.WaitUntilEmpty(deadline);
  if (attached_) {
    backend_->RemoveWindowListener(listener_handle_);
    attached_ = false;
  }
  return all_done;
}

absl::StatusOr<std::string> RingwatchServiceImpl::ExistingAggregationId(
    absl::string_view name) {
  ASSIGN_OR_RETURN(std::string id, AggregationIdFromName(name));
  absl::StatusOr<v1::AggregationInfo> info = backend_->GetAggregation(id);
  if (info.ok()) return id;
  if (info.status().code() != absl::StatusCode::kNotFound) {
    return info.status();
  }
  std::vector<std::string> known;
  for (const v1::AggregationInfo& a : backend_->ListAggregations()) {
    absl::string_view k = a.name();
    absl::ConsumePrefix(&k, kAggregationsPrefix);
    known.emplace_back(k);
  }
  std::sort(known.begin(), known.end());
  return absl::NotFoundError(absl::StrCat(
      "aggregation '", id, "' not found; known: ", JoinNames(known)));
}

// ---------------------------------------------------------------------------
// Unary handlers.

absl::Status RingwatchServiceImpl::DoGetStatus(
    const v1::GetStatusRequest& request, v1::DaemonStatus* response) {
  ASSIGN_OR_RETURN(*response, backend_->GetStatus());
  const absl::Time now = absl::Now();
  if (!response->has_start_time()) {
    *response->mutable_start_time() = ToProtoTime(start_time_);
  }
  const absl::Duration uptime = now - ToAbslTime(response->start_time());
  if (!response->has_uptime()) {
    *response->mutable_uptime() =
        TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(uptime));
  }
  absl::StatusOr<ProcessUsage> usage = ReadProcessUsage();
  if (usage.ok()) {
    v1::ProcessUsage* p = response->mutable_process();
    p->set_user_cpu_seconds(usage->user_cpu_seconds);
    p->set_system_cpu_seconds(usage->system_cpu_seconds);
    const double up = absl::ToDoubleSeconds(uptime);
    if (up > 0) {
      p->set_cpu_percent(
          100 * (usage->user_cpu_seconds + usage->system_cpu_seconds) / up);
    }
    p->set_rss_bytes(usage->rss_bytes);
    p->set_vm_size_bytes(usage->vm_size_bytes);
    p->set_threads(usage->threads);
  }
  const auto counts = hub_->SubscriberCounts();
  for (v1::AggregationStats& a : *response->mutable_aggregations()) {
    absl::string_view id = a.name();
    absl::ConsumePrefix(&id, kAggregationsPrefix);
    auto it = counts.find(id);
    a.set_subscribers(it == counts.end() ? 0 : it->second);
  }
  v1::ServerStatus* server = response->mutable_server();
  server->set_subscribers(registry_.count(v1::StreamStatus::KIND_SUBSCRIBE));
  server->set_max_subscribers(registry_.max(v1::StreamStatus::KIND_SUBSCRIBE));
  server->set_event_streams(
      registry_.count(v1::StreamStatus::KIND_STREAM_EVENTS));
  server->set_max_event_streams(
      registry_.max(v1::StreamStatus::KIND_STREAM_EVENTS));
  server->set_dropped_messages(registry_.dropped_total());
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& a : listen_addresses_) {
      server->add_listen_addresses(a);
    }
  }
  if (request.include_streams()) {
    for (v1::StreamStatus& s : registry_.DescribeAll()) {
      *server->add_streams() = std::move(s);
    }
  }
  return absl::OkStatus();
}

absl::Status RingwatchServiceImpl::DoListEvents(
    const v1::ListEventsRequest& request, v1::ListEventsResponse* response) {
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size is ", request.page_size(), "; use 0 for the default (",
        kDefaultPageSize, ") or up to ", kMaxPageSize));
  }
  const int32_t page_size = request.page_size() == 0
                                ? kDefaultPageSize
                                : std::min(request.page_size(), kMaxPageSize);
  std::string after;
  if (!request.page_token().empty()) {
    std::string decoded;
    if (!absl::WebSafeBase64Unescape(request.page_token(), &decoded) ||
        !absl::StartsWith(decoded, kPageTokenPrefix)) {
      return absl::InvalidArgumentError(
          "page_token is not one this server issued; pass next_page_token "
          "from the previous ListEvents response unchanged");
    }
    after = decoded.substr(kPageTokenPrefix.size());
  }
  ASSIGN_OR_RETURN(std::vector<v1::EventDescriptor> events,
                   backend_->ListEvents());
  std::vector<v1::EventDescriptor*> matched;
  for (v1::EventDescriptor& e : events) {
    if (EventGlobMatches(request.filter(), e.system(), e.event())) {
      matched.push_back(&e);
    }
  }
  std::sort(matched.begin(), matched.end(),
            [](const v1::EventDescriptor* a, const v1::EventDescriptor* b) {
              return a->name() < b->name();
            });
  response->set_total_size(static_cast<int32_t>(matched.size()));
  auto it = matched.begin();
  if (!after.empty()) {
    it = std::upper_bound(
        matched.begin(), matched.end(), after,
        [](const std::string& name, const v1::EventDescriptor* e) {
          return name < e->name();
        });
  }
  const bool full = request.view() == v1::EVENT_VIEW_FULL;
  for (; it != matched.end() && response->events_size() < page_size; ++it) {
    v1::EventDescriptor* out = response->add_events();
    *out = std::move(**it);
    if (!full) out->clear_fields();
  }
  if (it != matched.end() && response->events_size() > 0) {
    response->set_next_page_token(absl::WebSafeBase64Escape(
        absl::StrCat(kPageTokenPrefix,
                     response->events(response->events_size() - 1).name())));
  }
  return absl::OkStatus();
}

absl::Status RingwatchServiceImpl::DoGetAggregation(
    const v1::GetAggregationRequest& request, v1::AggregationInfo* response) {
  ASSIGN_OR_RETURN(std::string id, ExistingAggregationId(request.name()));
  ASSIGN_OR_RETURN(*response, backend_->GetAggregation(id));
  const auto counts = hub_->SubscriberCounts();
  auto it = counts.find(id);
  response->mutable_stats()->set_subscribers(it == counts.end() ? 0
                                                                : it->second);
  return absl::OkStatus();
}

absl::Status RingwatchServiceImpl::DoCreateAggregation(
    const v1::CreateAggregationRequest& request,
    v1::AggregationInfo* response) {
  if (!request.has_aggregation()) {
    return absl::InvalidArgumentError(
        "aggregation is missing: give the spec as in the config file's "
        "aggregations");
  }
  ASSIGN_OR_RETURN(*response,
                   backend_->CreateAggregation(request.aggregation(),
                                               request.validate_only()));
  return absl::OkStatus();
}

absl::Status RingwatchServiceImpl::DoDeleteAggregation(
    const v1::DeleteAggregationRequest& request) {
  ASSIGN_OR_RETURN(std::string id, AggregationIdFromName(request.name()));
  absl::Status deleted = backend_->DeleteAggregation(id);
  if (deleted.code() == absl::StatusCode::kNotFound) {
    if (request.allow_missing()) return absl::OkStatus();
    // Rewritten to list the known names.
    absl::StatusOr<std::string> exists = ExistingAggregationId(id);
    return exists.ok() ? deleted : exists.status();
  }
  RETURN_IF_ERROR(deleted);
  // The backend tells its listeners too; finishing twice is harmless.
  hub_->OnAggregationDeleted(id);
  return absl::OkStatus();
}

absl::Status RingwatchServiceImpl::DoQuery(const v1::QueryRequest& request,
                                           v1::QueryResponse* response) {
  const ResultShape shape{request.top_n(), request.key_filter()};
  RETURN_IF_ERROR(ValidateResultShape(shape));
  ASSIGN_OR_RETURN(std::string id, ExistingAggregationId(request.name()));
  const v1::ResultView view = request.view() == v1::RESULT_VIEW_UNSPECIFIED
                                  ? v1::RESULT_VIEW_LATEST_WINDOW
                                  : request.view();
  ASSIGN_OR_RETURN(v1::AggregationResult result, backend_->GetResult(id, view));
  ShapeResult(result, shape, response->mutable_result());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* RingwatchServiceImpl::GetStatus(
    grpc::CallbackServerContext* context, const v1::GetStatusRequest* request,
    v1::DaemonStatus* response) {
  return FinishUnary(context, DoGetStatus(*request, response));
}

grpc::ServerUnaryReactor* RingwatchServiceImpl::ListEvents(
    grpc::CallbackServerContext* context, const v1::ListEventsRequest* request,
    v1::ListEventsResponse* response) {
  return FinishUnary(context, DoListEvents(*request, response));
}

grpc::ServerUnaryReactor* RingwatchServiceImpl::ListAggregations(
    grpc::CallbackServerContext* context,
    const v1::ListAggregationsRequest* request,
    v1::ListAggregationsResponse* response) {
  std::vector<v1::AggregationInfo> all = backend_->ListAggregations();
  std::sort(all.begin(), all.end(),
            [](const v1::AggregationInfo& a, const v1::AggregationInfo& b) {
              return a.name() < b.name();
            });
  const auto counts = hub_->SubscriberCounts();
  for (v1::AggregationInfo& a : all) {
    absl::string_view id = a.name();
    absl::ConsumePrefix(&id, kAggregationsPrefix);
    auto it = counts.find(id);
    a.mutable_stats()->set_subscribers(it == counts.end() ? 0 : it->second);
    *response->add_aggregations() = std::move(a);
  }
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* RingwatchServiceImpl::GetAggregation(
    grpc::CallbackServerContext* context,
    const v1::GetAggregationRequest* request, v1::AggregationInfo* response) {
  return FinishUnary(context, DoGetAggregation(*request, response));
}

grpc::ServerUnaryReactor* RingwatchServiceImpl::CreateAggregation(
    grpc::CallbackServerContext* context,
    const v1::CreateAggregationRequest* request,
    v1::AggregationInfo* response) {
  return FinishUnary(context, DoCreateAggregation(*request, response));
}

grpc::ServerUnaryReactor* RingwatchServiceImpl::DeleteAggregation(
    grpc::CallbackServerContext* context,
    const v1::DeleteAggregationRequest* request,
    google::protobuf::Empty* response) {
  return FinishUnary(context, DoDeleteAggregation(*request));
}

grpc::ServerUnaryReactor* RingwatchServiceImpl::Query(
    grpc::CallbackServerContext* context, const v1::QueryRequest* request,
    v1::QueryResponse* response) {
  return FinishUnary(context, DoQuery(*request, response));
}

// ---------------------------------------------------------------------------
// Streams.

grpc::ServerWriteReactor<v1::SubscribeResponse>*
RingwatchServiceImpl::Subscribe(grpc::CallbackServerContext* context,
                                const v1::SubscribeRequest* request) {
  auto reject = [](const absl::Status& s) {
    return new RejectedStream<v1::SubscribeResponse>(ToGrpcStatus(s));
  };
  const ResultShape shape{request->top_n(), request->key_filter()};
  absl::Status valid = ValidateResultShape(shape);
  if (!valid.ok()) return reject(valid);
  if (request->names().empty()) {
    std::vector<std::string> known;
    for (const v1::AggregationInfo& a : backend_->ListAggregations()) {
      known.push_back(a.name());
    }
    std::sort(known.begin(), known.end());
    return reject(absl::InvalidArgumentError(
        absl::StrCat("names is empty; give one or more aggregations; known: ",
                     JoinNames(known))));
  }
  std::vector<std::string> ids;
  absl::flat_hash_set<std::string> seen;
  for (const std::string& name : request->names()) {
    absl::StatusOr<std::string> id = ExistingAggregationId(name);
    if (!id.ok()) return reject(id.status());
    if (seen.insert(*id).second) ids.push_back(*id);
  }
  SubscribeStream::LatestFn latest;
  if (request->send_latest()) {
    latest = [this, ids] {
      std::vector<std::shared_ptr<const v1::AggregationResult>> out;
      for (const std::string& id : ids) {
        absl::StatusOr<v1::AggregationResult> r =
            backend_->GetResult(id, v1::RESULT_VIEW_LATEST_WINDOW);
        if (r.ok()) {
          out.push_back(
              std::make_shared<const v1::AggregationResult>(*std::move(r)));
        }
      }
      return out;
    };
  }
  return SubscribeStream::Start(&scheduler_, hub_.get(), &registry_,
                                limits_.subscriber_queue, context->peer(),
                                std::move(ids), shape, latest);
}

grpc::ServerWriteReactor<v1::StreamEventsResponse>*
RingwatchServiceImpl::StreamEvents(grpc::CallbackServerContext* context,
                                   const v1::StreamEventsRequest* request) {
  auto reject = [](const absl::Status& s) {
    return new RejectedStream<v1::StreamEventsResponse>(ToGrpcStatus(s));
  };
  absl::StatusOr<std::vector<v1::EventDescriptor>> events =
      backend_->ListEvents();
  if (!events.ok()) return reject(events.status());
  absl::StatusOr<StreamRate> rate =
      ValidateStreamEventsRequest(*request, limits_.default_events_per_second,
                                  limits_.max_events_per_second, *events);
  if (!rate.ok()) return reject(rate.status());
  EventFilter filter;
  filter.globs.assign(request->events().begin(), request->events().end());
  filter.cpus.assign(request->cpus().begin(), request->cpus().end());
  filter.pids.assign(request->pids().begin(), request->pids().end());
  filter.events_per_second = rate->events_per_second;
  filter.burst = rate->burst;
  filter.arrival_order = request->arrival_order();
  return EventStream::Start(&scheduler_, backend_, &registry_,
                            limits_.event_stream_queue, context->peer(),
                            std::move(filter));
}

grpc::ServerWriteReactor<v1::SnapshotChunk>* RingwatchServiceImpl::Snapshot(
    grpc::CallbackServerContext* context, const v1::SnapshotRequest* request) {
  int file_version = 7;
  absl::StatusOr<uint64_t> span_ns =
      ValidateSnapshotRequest(*request, &file_version);
  if (!span_ns.ok()) {
    return new RejectedStream<v1::SnapshotChunk>(
        ToGrpcStatus(span_ns.status()));
  }
  return SnapshotStream::Start(backend_, *span_ns, file_version);
}

}  // namespace ringwatch
