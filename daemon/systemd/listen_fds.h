// Sockets passed by systemd socket activation (LISTEN_FDS, LISTEN_FDNAMES).
#ifndef RINGWATCH_DAEMON_SYSTEMD_LISTEN_FDS_H_
#define RINGWATCH_DAEMON_SYSTEMD_LISTEN_FDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

struct ListenFd {
  enum class Kind {
    kUnix,   // A listening AF_UNIX stream socket.
    kTcp,    // A listening AF_INET/AF_INET6 stream socket.
    kOther,  // Anything else (datagram socket, FIFO, ...): not for gRPC.
  };
  ScopedFd fd;  // Close-on-exec. Release() it to hand it over.
  // FileDescriptorName= of the socket unit ("ringwatch.socket" by default).
  std::string name;
  Kind kind = Kind::kOther;
  // "unix:/run/ringwatch/ringwatch.sock", "127.0.0.1:7878", "[::1]:7878",
  // or a description of what it is for kOther.
  std::string address;
};

// Takes the sockets systemd passed (fds 3.. per LISTEN_FDS when LISTEN_PID
// is ours) and unsets the variables so nothing takes them twice. Empty when
// none were passed. Errors when the variables are malformed.
absl::StatusOr<std::vector<ListenFd>> InheritedListenFds();

// Classifies one fd and describes its local address (exposed for tests).
ListenFd::Kind ClassifyListenFd(int fd, std::string* address);

const char* ListenFdKindName(ListenFd::Kind kind);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SYSTEMD_LISTEN_FDS_H_
