#!/usr/bin/env bash
# TLS and mutual TLS on the TCP listener, with a CA and certificates made
# here by openssl: the CLI connects with the CA; under mutual TLS only with a
# client certificate the CA signed.
set -euo pipefail
root="${TEST_SRCDIR:?run me with bazel test}/ringwatch"
server="$root/daemon/server/testing/test_server"
cli="$root/clients/cli/ringwatch"
if ! command -v openssl >/dev/null; then
  echo "RINGWATCH-SKIP: openssl (the Debian package) is needed to make certificates"
  exit 0
fi
dir="$(mktemp -d "${TEST_TMPDIR:-/tmp}/tls.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

cd "$dir"
quiet() { "$@" >/dev/null 2>&1; }
quiet openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=test-ca" \
  -keyout ca.key -out ca.pem
cert() {  # cert NAME SUBJECT_ALT_NAMES
  quiet openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" \
    -out "$1.csr"
  printf 'subjectAltName=%s\n' "$2" >"$1.ext"
  quiet openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
    -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.pem"
}
cert server "DNS:localhost,IP:127.0.0.1"
cert client "DNS:client"
# A client certificate from a CA the server does not trust.
quiet openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=rogue" \
  -keyout rogue.key -out rogue.pem

failures=0
check() {  # check NAME EXPECTED_SUBSTRING OUTPUT
  if [[ "$3" == *"$2"* ]]; then
    echo "ok: $1"
  else
    echo "FAIL: $1: expected to find [$2] in:"
    echo "$3"
    failures=$((failures + 1))
  fi
}
# Starts the server on a free loopback port; sets $port.
start() {
  local log="server.$#.log"
  # Create the log here: the background job opens it only once it is
  # scheduled, and reading it before then must not end the test.
  : >"$log"
  "$server" --tcp=127.0.0.1:0 --window_ms=0 --events_per_second=0 "$@" \
    >>"$log" 2>&1 &
  pids+=($!)
  port=""
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    port="$(sed -n 's/.*serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
      "$log" 2>/dev/null || true)"
    [[ -n "$port" ]] && return 0
    sleep 0.01
  done
  echo "server did not start:"; cat "$log"; exit 1
}

start --tls_cert=server.pem --tls_key=server.key
check "TLS with the CA" "listening: 127.0.0.1:$port" \
  "$("$cli" --addr="localhost:$port" --tls_ca=ca.pem status 2>&1)"
check "plaintext to a TLS port is refused" "cannot reach ringwatchd" \
  "$("$cli" --addr="localhost:$port" --timeout=5s status 2>&1 || true)"

start --tls_cert=server.pem --tls_key=server.key --tls_client_ca=ca.pem
check "mutual TLS with a client certificate" "listening: 127.0.0.1:$port" \
  "$("$cli" --addr="localhost:$port" --tls_ca=ca.pem --tls_cert=client.pem \
    --tls_key=client.key status 2>&1)"
check "mutual TLS without a client certificate" "cannot reach ringwatchd" \
  "$("$cli" --addr="localhost:$port" --tls_ca=ca.pem --timeout=5s status \
    2>&1 || true)"
check "mutual TLS with an untrusted certificate" "cannot reach ringwatchd" \
  "$("$cli" --addr="localhost:$port" --tls_ca=ca.pem --tls_cert=rogue.pem \
    --tls_key=rogue.key --timeout=5s status 2>&1 || true)"

echo "tls_test: $failures failed"
exit $((failures > 0))
