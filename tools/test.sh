#!/usr/bin/env bash
# Runs every test: unit tests on committed captures, live-kernel tests (which
# skip with a reason where tracefs or root is missing), end-to-end tests, and
# the decoder and trace.dat tests again under ASan + UBSan.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
bazel test //... 2>&1 | tee "$log" | grep -vE '^[0-9]+\.[0-9]+: src/main/tools/' || true
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
bazel test --config=asan //daemon/... 2>&1 | tee -a "$log" | grep -vE '^[0-9]+\.[0-9]+: src/main/tools/' || true
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1

passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+ +(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' "$log")
echo "tests: $passed passed, $failed failed"
if ((failed > 0)); then status=1; fi
exit $status
