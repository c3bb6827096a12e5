#include "daemon/systemd/testing/notify_listener.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "daemon/util/file_util.h"

namespace ringwatch {

absl::StatusOr<std::unique_ptr<NotifyListener>> NotifyListener::Create(
    const std::string& path) {
  struct sockaddr_un sun;
  std::memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sun.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path too long for AF_UNIX: ", path));
  }
  std::memcpy(sun.sun_path, path.data(), path.size());
  ScopedFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket(AF_UNIX, DGRAM)");
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&sun), sizeof(sun)) !=
      0) {
    return PathError(errno, "bind", path);
  }
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) {
    return absl::ErrnoToStatus(errno, "setsockopt(SO_PASSCRED)");
  }
  return std::unique_ptr<NotifyListener>(
      new NotifyListener(path, std::move(fd)));
}

NotifyListener::~NotifyListener() { ::unlink(path_.c_str()); }

absl::StatusOr<absl::optional<NotifyMessage>> NotifyListener::Receive(
    absl::Duration timeout) {
  struct pollfd pfd = {fd_.get(), POLLIN, 0};
  int r;
  do {
    r = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return absl::ErrnoToStatus(errno, "poll notify socket");
  if (r == 0) return absl::optional<NotifyMessage>();

  char buf[4096];
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct ucred))];
  struct iovec iov = {buf, sizeof(buf)};
  struct msghdr msg;
  std::memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
  if (n < 0) return absl::ErrnoToStatus(errno, "recvmsg notify socket");

  NotifyMessage m;
  m.text.assign(buf, static_cast<size_t>(n));
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      m.sender_pid = cred.pid;
    }
  }
  for (absl::string_view line : absl::StrSplit(m.text, '\n')) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    m.fields[std::string(line.substr(0, eq))] =
        std::string(line.substr(eq + 1));
  }
  return absl::optional<NotifyMessage>(std::move(m));
}

absl::StatusOr<NotifyMessage> NotifyListener::WaitFor(
    const std::function<bool(const NotifyMessage&)>& pred,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> seen;
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
    absl::StatusOr<absl::optional<NotifyMessage>> m = Receive(left);
    if (!m.ok()) return m.status();
    if (!m->has_value()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no matching notify message within ", absl::FormatDuration(timeout),
          "; got [", absl::StrJoin(seen, "] ["), "]"));
    }
    if (pred(**m)) return std::move(**m);
    seen.push_back((*m)->text);
  }
}

std::string TestSocketDir() {
  const char* tmp = ::getenv("TEST_TMPDIR");
  if (tmp != nullptr && std::strlen(tmp) + 40 < sizeof(sockaddr_un::sun_path)) {
    return tmp;
  }
  char dir[] = "/tmp/rwsockXXXXXX";
  if (::mkdtemp(dir) == nullptr) return "/tmp";
  return dir;
}

}  // namespace ringwatch
