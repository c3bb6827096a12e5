#!/usr/bin/env bash
# Installs the dashboard's npm dependencies from the committed
# package-lock.json into clients/dashboard/node_modules when they are missing
# or were installed from another lock (a stamp records the lock's hash).
# Idempotent; one run at a time (flock). Nothing downloads a browser.
#
#   npm-ci.sh [--omit=dev] [DIR]   DIR: where package.json is (default: here)
set -euo pipefail
omit=()
if [[ ${1:-} == --omit=dev ]]; then
  omit=(--omit=dev)
  shift
fi
dir="${1:-$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")}"
export npm_config_cache="${RINGWATCH_NPM_CACHE:-/var/cache/ringwatch-test/npm}"
mkdir -p "$npm_config_cache" 2>/dev/null || export npm_config_cache="${TMPDIR:-/tmp}/ringwatch-npm-cache"
export PUPPETEER_SKIP_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp="$dir/node_modules/.ringwatch-lock.sha256"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)${omit[*]:+ ${omit[*]}}"
(
  flock 9
  if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
    echo "npm ci in $dir (node $(node --version), npm $(npm --version))" >&2
    (cd "$dir" && npm ci "${omit[@]}" --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
  fi
) 9>"/tmp/ringwatch-dashboard-npm.lock"
