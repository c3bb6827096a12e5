// The text of config/ringwatch.textproto, compiled in (see BUILD.bazel).
#ifndef RINGWATCH_DAEMON_DEFAULT_CONFIG_H_
#define RINGWATCH_DAEMON_DEFAULT_CONFIG_H_

namespace ringwatch {

extern const char kDefaultConfigText[];

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_DEFAULT_CONFIG_H_
