#!/usr/bin/env bash
# Runs every test: unit tests on committed captures, live-kernel tests (which
# skip with a reason where tracefs or root is missing), end-to-end tests, and
# again under ASan + UBSan every package of the daemon and the clients (they
# parse bytes from the kernel, files and clients).
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Bazel 4's sandbox prints a line per action on stderr; drop those.
run() {
  "$@" > >(tee -a "$log" | grep --line-buffered -vE '^[0-9]+\.[0-9]+: src/main/tools/') 2>&1
}
run bazel test //... || status=1
run bazel test --config=asan //daemon/... //clients/... || status=1
wait

passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+ +(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' "$log")
echo "tests: $passed passed, $failed failed"
if ((failed > 0)); then status=1; fi
exit $status
