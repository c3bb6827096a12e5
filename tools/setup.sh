#!/usr/bin/env bash
# Installs the Debian packages ringwatch builds and tests with, only those
# that are missing, and mounts tracefs when it is absent. Idempotent.
set -euo pipefail

packages=(
  bazel-bootstrap g++ pkg-config
  libabsl-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev libzstd-dev zlib1g-dev
  # Peers and test tools: trace-cmd writes the trace.dat fixtures we compare
  # against; libtraceevent is the benchmark peer; python3-grpcio drives the
  # API from another language; systemd gives systemd-analyze and
  # systemd-socket-activate.
  trace-cmd libtraceevent-dev python3 python3-grpcio python3-protobuf systemd
  openssl strace util-linux procps clang-format
  # Metrics: prometheus-cpp serves /metrics, libseccomp names syscalls, and
  # Debian's prometheus (server + promtool) scrapes the daemons in tests.
  prometheus-cpp-dev libseccomp-dev prometheus
  # The web dashboard (clients/dashboard) runs on Node.js 18+ with npm; its
  # browser test drives Debian's chromium. nodejs and npm are skipped when a
  # node and npm are already on PATH (a Node.js from elsewhere).
  nodejs npm chromium
  # tests/systemd/nspawn_test.sh boots Debian's systemd in a container made
  # with debootstrap (systemd-container without its recommended
  # libnss-mymachines, which would edit /etc/nsswitch.conf).
  debootstrap systemd-container
  # tools/fuzz.sh builds the libFuzzer targets with clang (libFuzzer and the
  # sanitizer runtimes are in libclang-rt, only recommended by clang).
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  [[ $p == nodejs ]] && command -v node >/dev/null && continue
  [[ $p == npm ]] && command -v npm >/dev/null && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Live-kernel tests and ringcat need tracefs; mount it when we can.
if [[ $(id -u) -eq 0 && -d /sys/kernel/tracing && ! -e /sys/kernel/tracing/trace ]]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
