// One Snapshot call: a worker thread has the backend write the flight
// recorder out (seconds of file I/O and compression, kept off gRPC's
// callback threads), then the file goes to the client in 1 MiB chunks, one
// write at a time, read from an unlinked file so that nothing is left on
// disk whatever the client does.
#ifndef RINGWATCH_DAEMON_SERVER_SNAPSHOT_STREAM_H_
#define RINGWATCH_DAEMON_SERVER_SNAPSHOT_STREAM_H_

#include <cstdint>
#include <thread>

#include "daemon/server/backend.h"
#include "daemon/util/scoped_fd.h"
#include "grpcpp/grpcpp.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

class SnapshotStream final
    : public grpc::ServerWriteReactor<v1::SnapshotChunk> {
 public:
  // The request was validated: `span_ns` and `file_version` are good.
  static grpc::ServerWriteReactor<v1::SnapshotChunk>* Start(Backend* backend,
                                                            uint64_t span_ns,
                                                            int file_version);

  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  SnapshotStream() = default;
  void Work(Backend* backend, uint64_t span_ns, int file_version);
  // Writes the next chunk, or finishes after the last.
  void SendNext();

  std::thread worker_;
  ScopedFd file_;
  v1::SnapshotChunk chunk_;
  v1::SnapshotInfo info_;
  uint64_t sent_bytes_ = 0;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_SNAPSHOT_STREAM_H_
