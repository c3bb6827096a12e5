#!/usr/bin/env bash
# Runs the web dashboard's tests (clients/dashboard):
#   run_dashboard_test.sh unit
#   run_dashboard_test.sh browser RINGWATCHD GETPPID_LOOP
# Node resolves packages from the real source directory (ES modules find
# node_modules beside the importing file), so this works there, not in the
# runfiles tree: it follows a runfile's symlink back to the source, and runs
# `npm ci` from the committed lock when node_modules is missing or was
# installed from another lock. Skips (RINGWATCH-SKIP) only when node, npm,
# chromium, root or tracefs cannot be had.
set -euo pipefail

mode="$1"
runfiles="${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:-ringwatch}"
if [[ $mode == browser ]]; then
  export RINGWATCHD="$PWD/$2" GETPPID_LOOP="$PWD/$3"
fi
src="$(dirname "$(readlink -f "$runfiles/clients/dashboard/package.json")")"

skip() {
  echo "RINGWATCH-SKIP: $*"
  exit 0
}

node="$(command -v node || true)"
npm="$(command -v npm || true)"
[[ -n $node ]] || skip "no node on PATH (tools/setup.sh installs Debian's nodejs)"
[[ -n $npm ]] || skip "no npm on PATH (tools/setup.sh installs Debian's npm)"
major="$("$node" -p 'process.versions.node.split(".")[0]')"
((major >= 18)) || skip "node $("$node" --version) is older than 18"

# npm ci when needed (the npm cache outlives the test: reruns need no
# network).
bash "$src/npm-ci.sh" "$src"

cd "$src"
if [[ $mode == unit ]]; then
  exec "$node" --test test/*.test.js
fi

# The browser test: root, tracefs and Debian's chromium.
tracefs=/sys/kernel/tracing
[[ $(id -u) -eq 0 ]] || skip "needs root (ringwatchd creates a tracefs instance)"
grep -qw tracefs /proc/filesystems || skip "this kernel has no tracefs"
[[ -e $tracefs/instances ]] || mount -t tracefs nodev "$tracefs" 2>/dev/null || true
[[ -d $tracefs/instances ]] || skip "tracefs is not mounted at $tracefs"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[[ -x $CHROMIUM ]] || skip "no $CHROMIUM (tools/setup.sh installs Debian's chromium)"

# Instances left by an earlier run whose test process is gone.
for dir in "$tracefs"/instances/rwtest_dash_*; do
  [[ -d $dir ]] || continue
  owner="${dir##*/rwtest_dash_}"
  owner="${owner%%_*}"
  [[ -d /proc/$owner ]] || rmdir "$dir" 2>/dev/null || true
done

short="$(mktemp -d /tmp/rwdash.XXXXXX)"
export RW_SHORT_DIR="$short" RW_PIDS_FILE="$short/pids"
export RW_INSTANCE_PREFIX="rwtest_dash_$$"
export DASHBOARD_SCREENSHOT="${DASHBOARD_SCREENSHOT:-$(readlink -f "$src/../..")/docs/dashboard.png}"
: >"$RW_PIDS_FILE"
cleanup() {
  while read -r pid instance; do
    kill -KILL "$pid" 2>/dev/null || true
  done <"$RW_PIDS_FILE"
  for dir in "$tracefs/instances/${RW_INSTANCE_PREFIX}"_*; do
    [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
  done
  rm -rf --one-file-system "$short"
  return 0
}
trap cleanup EXIT
"$node" --test test/browser/*.test.js
