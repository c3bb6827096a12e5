#!/usr/bin/env bash
# tools/install.sh and tools/uninstall.sh into a scratch prefix: what lands
# where with which mode, the config kept once edited, idempotence, --purge,
# and the clear failures when a binary or Bazel target is missing.
set -uo pipefail

# $1 is the runfile of systemd/ringwatch.service, a symlink into the source
# tree that holds tools/, systemd/, config/ and docs/.
src="$(dirname "$(dirname "$(readlink -f "$1")")")"
install_sh="$src/tools/install.sh"
uninstall_sh="$src/tools/uninstall.sh"
ringwatchd="$2"
ringwatch="$3"
ringcat="$4"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/install"
rm -rf "$tmp" && mkdir -p "$tmp/bins"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }
repo="$src"
[[ -f "$install_sh" && -f "$uninstall_sh" ]] || { echo "FAIL: no tools/install.sh under $src" >&2; exit 1; }
for b in "$ringwatchd" "$ringwatch" "$ringcat"; do
  ln -s "$(cd "$(dirname "$b")" && pwd)/$(basename "$b")" "$tmp/bins/"
done
p="$tmp/prefix"

# --- clear failures, nothing installed ---------------------------------------
mkdir -p "$tmp/partial"
ln -s "$tmp/bins/ringwatchd" "$tmp/bins/ringwatch" "$tmp/partial/"
out=$(bash "$install_sh" --prefix="$p" --binaries="$tmp/partial" 2>&1)
expect_eq "$?" 1 "install with ringcat missing: exit code"
[[ "$out" == *"$tmp/partial/ringcat is missing"* ]] || fail "missing binary not named: $out"
[[ ! -e "$p/usr" ]] || fail "files installed despite the missing binary"

# A tree whose Bazel does not know //daemon:ringwatchd yet (a stand-in bazel
# answers like the real one does).
mkdir -p "$tmp/fakebin"
cat >"$tmp/fakebin/bazel" <<'FAKE'
#!/bin/sh
if [ "$1" = query ] && [ "$2" = //daemon:ringwatchd ]; then
  echo "ERROR: no such target '//daemon:ringwatchd'" >&2
  exit 7
fi
exit 0
FAKE
chmod +x "$tmp/fakebin/bazel"
out=$(PATH="$tmp/fakebin:$PATH" bash "$install_sh" --prefix="$p" 2>&1)
expect_eq "$?" 1 "install without the ringwatchd target: exit code"
[[ "$out" == *"target //daemon:ringwatchd does not exist"* ]] || fail "missing target not named: $out"
[[ ! -e "$p/usr" ]] || fail "files installed despite the missing target"

bash "$install_sh" --prefix="$p" --binaries="$tmp/bins" --bogus >/dev/null 2>&1
expect_eq "$?" 2 "unknown argument: exit code"

# --- install -------------------------------------------------------------------
out=$(bash "$install_sh" --prefix="$p" --binaries="$tmp/bins" 2>&1)
expect_eq "$?" 0 "install exit code"
[[ "$out" == *"not enabling or starting anything"* ]] || fail "prefix install does not say it starts nothing: $out"
mode() { stat -c '%a' "$1" 2>/dev/null || echo missing; }
for b in ringwatchd ringwatch ringcat; do
  expect_eq "$(mode "$p/usr/local/bin/$b")" 755 "/usr/local/bin/$b mode"
done
cmp -s "$p/usr/local/bin/ringwatchd" "$ringwatchd" || fail "installed ringwatchd differs from the build"
"$p/usr/local/bin/ringwatch" --version >/dev/null 2>&1 || fail "installed ringwatch does not run"
for f in etc/systemd/system/ringwatch.service:systemd/ringwatch.service \
  etc/systemd/system/ringwatch.socket:systemd/ringwatch.socket \
  usr/lib/sysusers.d/ringwatch.conf:systemd/ringwatch.sysusers \
  usr/lib/tmpfiles.d/ringwatch.conf:systemd/ringwatch.tmpfiles \
  etc/ringwatch/ringwatch.textproto:config/ringwatch.textproto; do
  installed="$p/${f%%:*}"
  cmp -s "$installed" "$repo/${f#*:}" || fail "/${f%%:*} is not ${f#*:}"
  expect_eq "$(mode "$installed")" 644 "/${f%%:*} mode"
done
if [[ -f "$repo/docs/operations.md" ]]; then
  [[ -f "$p/usr/local/share/doc/ringwatch/operations.md" ]] || fail "operations.md not installed"
fi
ls "$p/usr/local/share/ringwatch/presets/"*.textproto >/dev/null 2>&1 || fail "no presets installed"
if command -v systemd-sysusers >/dev/null; then
  grep -q '^ringwatch:x:[0-9]*:$' "$p/etc/group" || fail "group ringwatch not created in $p/etc/group"
  if command -v systemd-tmpfiles >/dev/null; then
    expect_eq "$(mode "$p/run/ringwatch")" 750 "/run/ringwatch mode"
  fi
fi

# --- idempotent; an edited config is the administrator's ---------------------
listing() { (cd "$p" && find . -type f -exec md5sum {} + | sort); }
before=$(listing)
bash "$install_sh" --prefix="$p" --binaries="$tmp/bins" >/dev/null 2>&1
expect_eq "$?" 0 "second install exit code"
expect_eq "$(listing | grep -v '/etc/g')" "$(echo "$before" | grep -v '/etc/g')" "files after a second install"
echo 'instance: "mine"' >"$p/etc/ringwatch/ringwatch.textproto"
out=$(bash "$install_sh" --prefix="$p" --binaries="$tmp/bins" 2>&1)
expect_eq "$(cat "$p/etc/ringwatch/ringwatch.textproto")" 'instance: "mine"' "edited config after install"
cmp -s "$p/etc/ringwatch/ringwatch.textproto.new" "$repo/config/ringwatch.textproto" || fail "new default not put beside the edited config"
[[ "$out" == *"kept as it is"* ]] || fail "install does not say the config was kept: $out"

# --- uninstall -------------------------------------------------------------------
# Enabled in the prefix as `systemctl enable` would on the host: uninstall
# must not leave the links dangling.
if command -v systemctl >/dev/null; then
  systemctl --root="$p" enable ringwatch.socket ringwatch.service >/dev/null 2>&1 ||
    fail "systemctl --root enable failed"
  [[ -L "$p/etc/systemd/system/multi-user.target.wants/ringwatch.service" ]] ||
    fail "systemctl --root enable made no multi-user.target.wants link ([Install] missing?)"
fi
for run in 1 2; do
  bash "$uninstall_sh" --prefix="$p" >"$tmp/uninstall$run.out" 2>&1
  expect_eq "$?" 0 "uninstall run $run exit code"
done
for f in usr/local/bin/ringwatchd usr/local/bin/ringwatch usr/local/bin/ringcat \
  etc/systemd/system/ringwatch.service etc/systemd/system/ringwatch.socket \
  usr/lib/sysusers.d/ringwatch.conf usr/lib/tmpfiles.d/ringwatch.conf \
  usr/local/share/doc/ringwatch usr/local/share/ringwatch run/ringwatch; do
  [[ ! -e "$p/$f" ]] || fail "uninstall left /$f"
done
links=$(find "$p/etc/systemd/system" -name 'ringwatch.*' -type l 2>/dev/null)
[[ -z "$links" ]] || fail "uninstall left enable links: $links"
[[ ! -e "$p/usr/local/share/doc" ]] || fail "uninstall left the empty /usr/local/share/doc it made"
expect_eq "$(cat "$p/etc/ringwatch/ringwatch.textproto")" 'instance: "mine"' "config after uninstall"
grep -q "removed /usr/local/bin/ringwatchd" "$tmp/uninstall1.out" || fail "first uninstall does not list what it removed"
grep -q "removed" "$tmp/uninstall2.out" && fail "second uninstall removed something: $(cat "$tmp/uninstall2.out")"

bash "$uninstall_sh" --prefix="$p" --purge >/dev/null 2>&1
expect_eq "$?" 0 "uninstall --purge exit code"
[[ ! -e "$p/etc/ringwatch" ]] || fail "--purge left /etc/ringwatch"
if grep -q '^ringwatch:' "$p/etc/group" 2>/dev/null; then fail "--purge left group ringwatch"; fi

if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "PASS"
