#include "daemon/util/syscall_names.h"

#include <seccomp.h>

#include <cstdlib>
#include <vector>

namespace ringwatch {
namespace {

std::string Resolve(int64_t nr) {
  if (nr < 0 || nr > INT32_MAX) return "";
  char* name =
      seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, static_cast<int>(nr));
  if (name == nullptr) return "";
  std::string out(name);
  std::free(name);
  return out;
}

// Built on first use: libseccomp searches its table for every call, and
// results name the same few hundred syscalls over and over.
const std::vector<std::string>& Cache() {
  static const std::vector<std::string>* const cache = [] {
    auto* names = new std::vector<std::string>(kSyscallNameCacheSize);
    for (int nr = 0; nr < kSyscallNameCacheSize; ++nr) {
      (*names)[nr] = Resolve(nr);
    }
    return names;
  }();
  return *cache;
}

}  // namespace

std::string SyscallName(int64_t nr) {
  if (nr >= 0 && nr < kSyscallNameCacheSize) return Cache()[nr];
  return Resolve(nr);
}

}  // namespace ringwatch
