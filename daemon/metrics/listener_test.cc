#include "daemon/metrics/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/util/scoped_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace ringwatch {
namespace metrics {
namespace {

using ::testing::HasSubstr;

// GET /metrics over a plain socket; returns the whole response.
std::string HttpGet(int port) {
  ScopedFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    return "connect failed";
  }
  const std::string request =
      "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::write(fd.get(), request.data(), request.size()) !=
      static_cast<ssize_t>(request.size())) {
    return "write failed";
  }
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) response.append(buf, n);
  return response;
}

int PortOf(const std::string& address) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port))
      << address;
  return port;
}

TEST(ParseListenAddressTest, AcceptsNumericAddresses) {
  absl::StatusOr<ListenAddress> v4 = ParseListenAddress("127.0.0.2:10117");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->host, "127.0.0.2");
  EXPECT_EQ(v4->port, 10117);
  EXPECT_FALSE(v4->ipv6);
  absl::StatusOr<ListenAddress> v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_TRUE(v6->ipv6);
  EXPECT_EQ(v6->ToString(), "[::1]:0");
}

TEST(ParseListenAddressTest, RejectsWithTheAddressAndTheReason) {
  for (const auto& [text, reason] :
       std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1", "no port"},
           {"localhost:10117", "not a numeric IPv4 address"},
           {"127.0.0.1:99999", "the port must be a number"},
           {"127.0.0.1:http", "the port must be a number"},
           {"[::1]10117", "[ADDRESS]:PORT"},
           {"[zz]:1", "not an IPv6 address"}}) {
    absl::StatusOr<ListenAddress> parsed = ParseListenAddress(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr(absl::StrCat("'", text, "'")));
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(reason));
  }
}

TEST(ListenerTest, ServesRegisteredCollectables) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("listener_test_total")
      .Help("A counter of the test.")
      .Register(*registry)
      .Add({{"k", "v"}})
      .Increment(3);
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listener::Start("127.0.0.1:0", {registry});
  ASSERT_TRUE(listener.ok()) << listener.status();
  const int port = PortOf((*listener)->address());
  ASSERT_GT(port, 0);
  const std::string response = HttpGet(port);
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_THAT(response, HasSubstr("# TYPE listener_test_total counter"));
  EXPECT_THAT(response, HasSubstr("listener_test_total{k=\"v\"} 3"));
}

TEST(ListenerTest, TakenAddressIsAnErrorNamingItAndWhy) {
  absl::StatusOr<std::unique_ptr<Listener>> first =
      Listener::Start("127.0.0.1:0", {});
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string address = (*first)->address();
  absl::StatusOr<std::unique_ptr<Listener>> second =
      Listener::Start(address, {});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(address));
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("Address already in use"));
}

TEST(ListenerTest, AddressNotOfThisHostIsAnError) {
  // TEST-NET-1 (RFC 5737) is never assigned to a local interface.
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listener::Start("192.0.2.1:10117", {});
  ASSERT_FALSE(listener.ok());
  EXPECT_THAT(std::string(listener.status().message()),
              HasSubstr("192.0.2.1:10117: Cannot assign requested address"));
}

}  // namespace
}  // namespace metrics
}  // namespace ringwatch
