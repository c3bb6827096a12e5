#!/usr/bin/env bash
# Generates Python stubs with the system protoc and grpc_python_plugin,
# starts the test server on a unix socket and runs api_client_test.py
# against it with Debian's python3-grpcio.
set -euo pipefail
root="${TEST_SRCDIR:?run me with bazel test}/ringwatch"
server="$root/daemon/server/testing/test_server"
gen="$TEST_TMPDIR/py"
mkdir -p "$gen"
plugin="$(command -v grpc_python_plugin)"
(cd "$root" && protoc -I. --python_out="$gen" --grpc_python_out="$gen" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  proto/ringwatch/v1/config.proto proto/ringwatch/v1/ringwatch.proto)
(cd "$root/tests/e2e/testdata" && protoc -I. --python_out="$gen" \
  --grpc_python_out="$gen" --plugin=protoc-gen-grpc_python="$plugin" \
  reflection_v1alpha.proto)

# Unix socket paths are limited to 107 bytes: a short directory of our own.
dir="$(mktemp -d /tmp/rwpy.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$server" --socket="$dir/ringwatch.sock" --window_ms=50 \
  --events_per_second=500 &
server_pid=$!
for _ in $(seq 1 2000); do
  [[ -S "$dir/ringwatch.sock" ]] && break
  kill -0 "$server_pid" || { echo "test server died" >&2; exit 1; }
  sleep 0.01
done

RINGWATCH_SOCKET="$dir/ringwatch.sock" PYTHONPATH="$gen" \
  /usr/bin/python3 "$root/tests/e2e/api_client_test.py"
