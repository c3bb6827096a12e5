// InheritedListenFds on sockets placed at fds 3.. with LISTEN_* set, as
// systemd does before exec (tests/systemd runs the real
// systemd-socket-activate).
#include "daemon/systemd/listen_fds.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

int ListeningUnixSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun;
  std::memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  std::strncpy(sun.sun_path, path.c_str(), sizeof(sun.sun_path) - 1);
  ::unlink(path.c_str());
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)), 0)
      << path << ": " << strerror(errno);
  EXPECT_EQ(::listen(fd, 8), 0);
  return fd;
}

int ListeningTcpSocket(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in in;
  std::memset(&in, 0, sizeof(in));
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)), 0);
  EXPECT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof(in);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len);
  *port = ntohs(in.sin_port);
  return fd;
}

// Moves `fd` to `target` (which must be free).
void MoveFd(int fd, int target) {
  ASSERT_GE(fd, 0);
  if (fd == target) return;
  ASSERT_EQ(::dup2(fd, target), target);
  ::close(fd);
}

class ListenFdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int fd = 3; fd < 6; ++fd) {
      if (::fcntl(fd, F_GETFD) != -1) {
        GTEST_SKIP() << "fd " << fd << " is already in use in this process";
      }
    }
    // sockaddr_un holds 108 bytes: TEST_TMPDIR when it is short enough.
    const char* tmp = ::getenv("TEST_TMPDIR");
    std::string dir = tmp != nullptr && std::strlen(tmp) < 80 ? tmp : "/tmp";
    sock_path_ = absl::StrCat(dir, "/rwlistenfds_", ::getpid(), ".sock");
  }
  void TearDown() override {
    for (int fd = 3; fd < 6; ++fd) ::close(fd);
    ::unlink(sock_path_.c_str());
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDNAMES");
  }
  std::string sock_path_;
};

TEST_F(ListenFdsTest, ClassifiesUnixTcpAndOther) {
  int port = 0;
  MoveFd(ListeningUnixSocket(sock_path_), 3);
  MoveFd(ListeningTcpSocket(&port), 4);
  MoveFd(::socket(AF_UNIX, SOCK_DGRAM, 0), 5);
  ::setenv("LISTEN_FDS", "3", 1);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDNAMES", "api:tcp:junk", 1);

  auto fds = InheritedListenFds();
  ASSERT_TRUE(fds.ok()) << fds.status();
  ASSERT_EQ(fds->size(), 3u);
  EXPECT_EQ((*fds)[0].fd.get(), 3);
  EXPECT_EQ((*fds)[0].kind, ListenFd::Kind::kUnix);
  EXPECT_EQ((*fds)[0].name, "api");
  EXPECT_EQ((*fds)[0].address, "unix:" + sock_path_);
  EXPECT_EQ((*fds)[1].kind, ListenFd::Kind::kTcp);
  EXPECT_EQ((*fds)[1].name, "tcp");
  EXPECT_EQ((*fds)[1].address, absl::StrCat("127.0.0.1:", port));
  EXPECT_EQ((*fds)[2].kind, ListenFd::Kind::kOther);
  EXPECT_THAT((*fds)[2].address, HasSubstr("not a listening stream socket"));
  // Close-on-exec, and the environment is consumed.
  EXPECT_TRUE(::fcntl(3, F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(::getenv("LISTEN_FDS"), nullptr);
  auto again = InheritedListenFds();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  // The fds close with the vector.
  fds->clear();
  EXPECT_EQ(::fcntl(3, F_GETFD), -1);
}

TEST_F(ListenFdsTest, NoneWithoutEnvironment) {
  auto fds = InheritedListenFds();
  ASSERT_TRUE(fds.ok()) << fds.status();
  EXPECT_TRUE(fds->empty());
}

TEST_F(ListenFdsTest, FdsMeantForAnotherProcessAreNotTaken) {
  MoveFd(ListeningUnixSocket(sock_path_), 3);
  ::setenv("LISTEN_FDS", "1", 1);
  ::setenv("LISTEN_PID", std::to_string(::getppid()).c_str(), 1);
  auto fds = InheritedListenFds();
  ASSERT_TRUE(fds.ok()) << fds.status();
  EXPECT_TRUE(fds->empty());
  EXPECT_NE(::fcntl(3, F_GETFD), -1) << "fd 3 was closed";
}

TEST_F(ListenFdsTest, MalformedEnvironmentIsAnError) {
  ::setenv("LISTEN_FDS", "two", 1);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  auto fds = InheritedListenFds();
  ASSERT_FALSE(fds.ok());
  EXPECT_THAT(std::string(fds.status().message()), HasSubstr("LISTEN_FDS"));
}

TEST(ClassifyListenFdTest, PlainFileIsNotASocket) {
  int fd = ::open("/proc/self/stat", O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string address;
  EXPECT_EQ(ClassifyListenFd(fd, &address), ListenFd::Kind::kOther);
  EXPECT_THAT(address, StartsWith(absl::StrCat("fd ", fd, ": not a socket")));
  ::close(fd);
}

}  // namespace
}  // namespace ringwatch
