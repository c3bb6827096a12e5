#include "daemon/server/snapshot_stream.h"

#include <errno.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace ringwatch {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

}  // namespace

grpc::ServerWriteReactor<v1::SnapshotChunk>* SnapshotStream::Start(
    Backend* backend, uint64_t span_ns, int file_version) {
  auto* stream = new SnapshotStream();
  stream->worker_ = std::thread([stream, backend, span_ns, file_version] {
    stream->Work(backend, span_ns, file_version);
  });
  return stream;
}

void SnapshotStream::Work(Backend* backend, uint64_t span_ns,
                          int file_version) {
  absl::StatusOr<v1::SnapshotInfo> info =
      backend->WriteSnapshot(span_ns, file_version, &file_);
  if (!info.ok()) {
    const absl::Status& s = info.status();
    Finish(grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                        std::string(s.message())));
    return;
  }
  info_ = *std::move(info);
  *chunk_.mutable_info() = info_;
  SendNext();
}

void SnapshotStream::SendNext() {
  std::string* data = chunk_.mutable_data();
  data->resize(kChunkBytes);
  ssize_t n;
  do {
    n = ::read(file_.get(), data->data(), kChunkBytes);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    Finish(
        grpc::Status(grpc::StatusCode::INTERNAL,
                     absl::StrCat("reading the snapshot back: errno ", errno)));
    return;
  }
  data->resize(static_cast<size_t>(n));
  sent_bytes_ += static_cast<uint64_t>(n);
  if (n == 0 && !chunk_.has_info()) {
    if (sent_bytes_ != info_.file_bytes()) {
      Finish(grpc::Status(
          grpc::StatusCode::DATA_LOSS,
          absl::StrCat("the snapshot file has ", sent_bytes_, " bytes, but ",
                       info_.file_bytes(), " were written")));
      return;
    }
    Finish(grpc::Status::OK);
    return;
  }
  StartWrite(&chunk_);
}

void SnapshotStream::OnWriteDone(bool ok) {
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                        "the client went away during the snapshot"));
    return;
  }
  chunk_.clear_info();
  SendNext();
}

void SnapshotStream::OnDone() {
  // gRPC may run OnDone on the worker itself, right after its Finish.
  if (worker_.get_id() == std::this_thread::get_id()) {
    worker_.detach();
  } else if (worker_.joinable()) {
    worker_.join();
  }
  delete this;
}

}  // namespace ringwatch
