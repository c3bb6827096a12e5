// ThreadSanitizer cannot see absl::Mutex in Debian's libabsl: the library is
// not built with -fsanitize=thread, so its lock and unlock are plain atomics
// and futex calls TSan never observes, and every ABSL_GUARDED_BY member would
// be reported as a race. Under --config=tsan the linker redirects our calls
// to absl::Mutex, CondVar and Notification (-Wl,--wrap=SYMBOL, .bazelrc) to
// the functions below, which tell TSan what the real call does with its
// mutex annotation interface (the same annotations Abseil makes when it is
// itself built with TSan). Conditions that Abseil evaluates inside a wrapped
// call run with TSan's checks off (between pre- and post-lock), as they do
// under the lock anyway.
//
// Linked into every binary of the tsan configuration through
// --custom_malloc (Bazel's one hook that reaches every cc_binary/cc_test);
// it does not replace malloc. The TSan entry points are weak so a binary
// built without TSan (a host tool) still links.
#include <atomic>
#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

extern "C" {
void __tsan_mutex_pre_lock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_lock(void* addr, unsigned flags, int recursion)
    __attribute__((weak));
int __tsan_mutex_pre_unlock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_unlock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_destroy(void* addr, unsigned flags) __attribute__((weak));
void __tsan_acquire(void* addr) __attribute__((weak));
void __tsan_release(void* addr) __attribute__((weak));
}

namespace {

// Flags of compiler-rt's sanitizer/tsan_interface.h.
constexpr unsigned kReadLock = 1 << 3;
constexpr unsigned kTryLock = 1 << 4;
constexpr unsigned kTryLockFailed = 1 << 5;

// absl::Mutex's writer bit (kMuWriter in Abseil's mutex.cc): tells an Await
// or CondVar::Wait in reader mode from one in writer mode.
constexpr intptr_t kMuWriter = 0x0008;

bool Active() { return __tsan_mutex_pre_lock != nullptr; }

unsigned ModeOf(const absl::Mutex* mu) {
  static_assert(sizeof(absl::Mutex) == sizeof(std::atomic<intptr_t>),
                "absl::Mutex is one word in this Abseil");
  intptr_t word = reinterpret_cast<const std::atomic<intptr_t>*>(mu)->load(
      std::memory_order_relaxed);
  return (word & kMuWriter) != 0 ? 0 : kReadLock;
}

void PreLock(void* mu, unsigned flags) {
  if (Active()) __tsan_mutex_pre_lock(mu, flags);
}
void PostLock(void* mu, unsigned flags) {
  if (Active()) __tsan_mutex_post_lock(mu, flags, 0);
}
void PreUnlock(void* mu, unsigned flags) {
  if (Active()) __tsan_mutex_pre_unlock(mu, flags);
}
void PostUnlock(void* mu, unsigned flags) {
  if (Active()) __tsan_mutex_post_unlock(mu, flags);
}
// Await and CondVar::Wait release the mutex and take it again in the mode
// it was held in.
unsigned PreRelock(void* mu) {
  unsigned mode = ModeOf(static_cast<absl::Mutex*>(mu));
  PreUnlock(mu, mode);
  PostUnlock(mu, mode);
  PreLock(mu, mode);
  return mode;
}

}  // namespace

// The real functions (-Wl,--wrap=SYMBOL makes SYMBOL resolve to __wrap_SYMBOL
// and __real_SYMBOL to the original; weak so a link without --wrap works).
// `self` is `this`.
#define RW_REAL(ret, sym, ...) \
  extern "C" ret __real_##sym(__VA_ARGS__) __attribute__((weak))

using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::Time;

RW_REAL(void, _ZN4absl7debian35Mutex4LockEv, Mutex*);
RW_REAL(void, _ZN4absl7debian35Mutex6UnlockEv, Mutex*);
RW_REAL(bool, _ZN4absl7debian35Mutex7TryLockEv, Mutex*);
RW_REAL(void, _ZN4absl7debian35Mutex10ReaderLockEv, Mutex*);
RW_REAL(void, _ZN4absl7debian35Mutex12ReaderUnlockEv, Mutex*);
RW_REAL(bool, _ZN4absl7debian35Mutex13ReaderTryLockEv, Mutex*);
RW_REAL(void, _ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE, Mutex*,
        const Condition&);
RW_REAL(void, _ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE, Mutex*,
        const Condition&);
RW_REAL(
    bool,
    _ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE,
    Mutex*, const Condition&, Duration);
RW_REAL(
    bool,
    _ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE,
    Mutex*, const Condition&, Time);
RW_REAL(
    bool,
    _ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE,
    Mutex*, const Condition&, Duration);
RW_REAL(
    bool,
    _ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE,
    Mutex*, const Condition&, Time);
RW_REAL(void, _ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE, Mutex*,
        const Condition&);
RW_REAL(
    bool,
    _ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE,
    Mutex*, const Condition&, Duration);
RW_REAL(bool,
        _ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE,
        Mutex*, const Condition&, Time);
RW_REAL(void, _ZN4absl7debian35MutexD1Ev, Mutex*);
RW_REAL(void, _ZN4absl7debian35MutexD2Ev, Mutex*);
RW_REAL(void, _ZN4absl7debian37CondVar4WaitEPNS0_5MutexE, CondVar*, Mutex*);
RW_REAL(bool,
        _ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE,
        CondVar*, Mutex*, Duration);
RW_REAL(bool, _ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE,
        CondVar*, Mutex*, Time);
RW_REAL(void, _ZN4absl7debian312Notification6NotifyEv, Notification*);
RW_REAL(void, _ZNK4absl7debian312Notification19WaitForNotificationEv,
        const Notification*);
RW_REAL(
    bool,
    _ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE,
    const Notification*, Duration);
RW_REAL(
    bool,
    _ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE,
    const Notification*, Time);

#define RW_WRAP(ret, sym, ...) extern "C" ret __wrap_##sym(__VA_ARGS__)

RW_WRAP(void, _ZN4absl7debian35Mutex4LockEv, Mutex* self) {
  PreLock(self, 0);
  __real__ZN4absl7debian35Mutex4LockEv(self);
  PostLock(self, 0);
}
RW_WRAP(void, _ZN4absl7debian35Mutex6UnlockEv, Mutex* self) {
  PreUnlock(self, 0);
  __real__ZN4absl7debian35Mutex6UnlockEv(self);
  PostUnlock(self, 0);
}
RW_WRAP(bool, _ZN4absl7debian35Mutex7TryLockEv, Mutex* self) {
  PreLock(self, kTryLock);
  bool locked = __real__ZN4absl7debian35Mutex7TryLockEv(self);
  PostLock(self, kTryLock | (locked ? 0 : kTryLockFailed));
  return locked;
}
RW_WRAP(void, _ZN4absl7debian35Mutex10ReaderLockEv, Mutex* self) {
  PreLock(self, kReadLock);
  __real__ZN4absl7debian35Mutex10ReaderLockEv(self);
  PostLock(self, kReadLock);
}
RW_WRAP(void, _ZN4absl7debian35Mutex12ReaderUnlockEv, Mutex* self) {
  PreUnlock(self, kReadLock);
  __real__ZN4absl7debian35Mutex12ReaderUnlockEv(self);
  PostUnlock(self, kReadLock);
}
RW_WRAP(bool, _ZN4absl7debian35Mutex13ReaderTryLockEv, Mutex* self) {
  PreLock(self, kReadLock | kTryLock);
  bool locked = __real__ZN4absl7debian35Mutex13ReaderTryLockEv(self);
  PostLock(self, kReadLock | kTryLock | (locked ? 0 : kTryLockFailed));
  return locked;
}
RW_WRAP(void, _ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE, Mutex* self,
        const Condition& cond) {
  PreLock(self, 0);
  __real__ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE(self, cond);
  PostLock(self, 0);
}
RW_WRAP(void, _ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE,
        Mutex* self, const Condition& cond) {
  PreLock(self, kReadLock);
  __real__ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE(self, cond);
  PostLock(self, kReadLock);
}
RW_WRAP(
    bool,
    _ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE,
    Mutex* self, const Condition& cond, Duration timeout) {
  PreLock(self, 0);
  bool met =
      __real__ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(
          self, cond, timeout);
  PostLock(self, 0);
  return met;
}
RW_WRAP(
    bool,
    _ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE,
    Mutex* self, const Condition& cond, Time deadline) {
  PreLock(self, 0);
  bool met =
      __real__ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(
          self, cond, deadline);
  PostLock(self, 0);
  return met;
}
RW_WRAP(
    bool,
    _ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE,
    Mutex* self, const Condition& cond, Duration timeout) {
  PreLock(self, kReadLock);
  bool met =
      __real__ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(
          self, cond, timeout);
  PostLock(self, kReadLock);
  return met;
}
RW_WRAP(
    bool,
    _ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE,
    Mutex* self, const Condition& cond, Time deadline) {
  PreLock(self, kReadLock);
  bool met =
      __real__ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(
          self, cond, deadline);
  PostLock(self, kReadLock);
  return met;
}
RW_WRAP(void, _ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE, Mutex* self,
        const Condition& cond) {
  unsigned mode = PreRelock(self);
  __real__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(self, cond);
  PostLock(self, mode);
}
RW_WRAP(
    bool,
    _ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE,
    Mutex* self, const Condition& cond, Duration timeout) {
  unsigned mode = PreRelock(self);
  bool met =
      __real__ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE(
          self, cond, timeout);
  PostLock(self, mode);
  return met;
}
RW_WRAP(bool,
        _ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE,
        Mutex* self, const Condition& cond, Time deadline) {
  unsigned mode = PreRelock(self);
  bool met =
      __real__ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE(
          self, cond, deadline);
  PostLock(self, mode);
  return met;
}
RW_WRAP(void, _ZN4absl7debian35MutexD1Ev, Mutex* self) {
  if (Active()) __tsan_mutex_destroy(self, 0);
  __real__ZN4absl7debian35MutexD1Ev(self);
}
RW_WRAP(void, _ZN4absl7debian35MutexD2Ev, Mutex* self) {
  if (Active()) __tsan_mutex_destroy(self, 0);
  __real__ZN4absl7debian35MutexD2Ev(self);
}
RW_WRAP(void, _ZN4absl7debian37CondVar4WaitEPNS0_5MutexE, CondVar* self,
        Mutex* mu) {
  unsigned mode = PreRelock(mu);
  __real__ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(self, mu);
  PostLock(mu, mode);
}
RW_WRAP(bool,
        _ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE,
        CondVar* self, Mutex* mu, Duration timeout) {
  unsigned mode = PreRelock(mu);
  bool timed_out =
      __real__ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE(
          self, mu, timeout);
  PostLock(mu, mode);
  return timed_out;
}
RW_WRAP(bool, _ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE,
        CondVar* self, Mutex* mu, Time deadline) {
  unsigned mode = PreRelock(mu);
  bool timed_out =
      __real__ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE(
          self, mu, deadline);
  PostLock(mu, mode);
  return timed_out;
}
// A Notification orders what happened before Notify() before what follows a
// wait that saw it. (HasBeenNotified() is inline and reads a flag the library
// sets; it is not covered: use WaitForNotification* under TSan.)
RW_WRAP(void, _ZN4absl7debian312Notification6NotifyEv, Notification* self) {
  if (Active()) __tsan_release(self);
  __real__ZN4absl7debian312Notification6NotifyEv(self);
}
RW_WRAP(void, _ZNK4absl7debian312Notification19WaitForNotificationEv,
        const Notification* self) {
  __real__ZNK4absl7debian312Notification19WaitForNotificationEv(self);
  if (Active()) __tsan_acquire(const_cast<Notification*>(self));
}
RW_WRAP(
    bool,
    _ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE,
    const Notification* self, Duration timeout) {
  bool notified =
      __real__ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(
          self, timeout);
  if (notified && Active()) __tsan_acquire(const_cast<Notification*>(self));
  return notified;
}
RW_WRAP(
    bool,
    _ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE,
    const Notification* self, Time deadline) {
  bool notified =
      __real__ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE(
          self, deadline);
  if (notified && Active()) __tsan_acquire(const_cast<Notification*>(self));
  return notified;
}
