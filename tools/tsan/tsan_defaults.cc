// TSan's options and suppressions for every binary of --config=tsan, compiled
// in so a plain `bazel test --config=tsan TARGET` gets them (TSAN_OPTIONS set
// in the environment still wins for options).
extern "C" const char* __tsan_default_options() {
  // Fail the test at the first report, with both stacks of a lock-order
  // inversion.
  return "halt_on_error=1:second_deadlock_stack=1:history_size=4";
}

// One line per suppression, each with the reason it is the library's own
// report and not ours.
extern "C" const char* __tsan_default_suppressions() {
  // Debian's gRPC is not built with TSan: it hands its epoll fd and work
  // between its own threads through its own (invisible) synchronisation, so
  // TSan's checks of the file-descriptor calls it makes (epoll_create1 in one
  // thread, epoll_wait in its event_engine thread) report races that are
  // gRPC's own. called_from_lib silences only the interceptors called from
  // those libraries; our code's accesses, in any thread, are still checked.
  // Abseil's deadlock detector (which gRPC's mutexes run through) keeps
  // its graph under Abseil's own spinlock, equally invisible: the memmove
  // calls it makes inside it are its own.
  return "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgrpc++.so\n"
         "called_from_lib:libgpr.so\n"
         "called_from_lib:libabsl_graphcycles_internal.so\n";
}
