#!/usr/bin/env bash
# Makes, checks or copies the cached Debian 12 root with systemd that
# nspawn_test.sh boots. The root is built once with debootstrap and kept
# under a fixed path, so later runs only copy it; it is rebuilt when it is
# missing or broken (no stamp, stamp of another recipe, or a failed sanity
# check). The stamp is written last, so a build that died half-way is seen
# as broken. Runtime packages the binaries need are added to a good root
# with apt-get inside it, without a rebuild.
#
#   nspawn_root.sh ensure [PACKAGE...]         make the root usable, with
#                                               these packages installed
#   nspawn_root.sh copy DEST [PACKAGE...]      ensure, then copy it to DEST
#   nspawn_root.sh check                       exit 0 when the root is good
#
# RINGWATCH_TEST_ROOT overrides the path (default
# /var/cache/ringwatch-test/bookworm-systemd). Needs root, debootstrap and
# network access to the Debian mirror named in /etc/apt.
set -euo pipefail
# Bazel gives tests PATH=/bin:/usr/bin:...: debootstrap and chroot are in sbin.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

root="${RINGWATCH_TEST_ROOT:-/var/cache/ringwatch-test/bookworm-systemd}"
cache="$(dirname "$root")"
stamp="$root/.ringwatch-root-stamp"
# Bump when the way the root is made changes: older roots are rebuilt.
recipe="ringwatch nspawn root v1: bookworm minbase + systemd systemd-sysv dbus procps"
base_packages=(systemd systemd-sysv dbus procps)

say() { echo "nspawn_root: $*" >&2; }

# The mirror this machine's apt uses (deb822 first, then the one-line form).
mirror() {
  local uri=""
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    uri=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

installed_in_root() {  # package
  [[ -f "$root/var/lib/dpkg/status" ]] &&
    awk -v p="$1" '
      /^Package: / { name = $2 }
      /^Status: / && name == p && $0 ~ / installed$/ { found = 1 }
      END { exit !found }' "$root/var/lib/dpkg/status"
}

sane() {
  [[ -f "$stamp" ]] || { say "no stamp in $root"; return 1; }
  [[ "$(head -n 1 "$stamp")" == "$recipe" ]] || { say "stamp of another recipe in $root"; return 1; }
  local f
  for f in lib/systemd/systemd bin/systemctl bin/journalctl usr/bin/dbus-daemon bin/bash; do
    [[ -x "$root/$f" ]] || { say "$root/$f is missing"; return 1; }
  done
  [[ -s "$root/etc/hosts" && -s "$root/etc/os-release" ]] || { say "no /etc/hosts or os-release in $root"; return 1; }
  grep -q 'VERSION_CODENAME=bookworm' "$root/etc/os-release" || { say "$root is not bookworm"; return 1; }
  for f in "${base_packages[@]}"; do
    installed_in_root "$f" || { say "package $f is not installed in $root"; return 1; }
  done
  # The root's own loader runs its own shell.
  chroot "$root" /bin/true || { say "chroot $root /bin/true failed"; return 1; }
}

build() {  # extra packages...
  local tmp="$cache/.build.$$"
  if [[ -e "$tmp" ]]; then rm -rf --one-file-system "$tmp"; fi
  local m
  m="$(mirror)"
  say "building $root with debootstrap from $m (about 2 minutes)"
  local includes
  includes="$(IFS=,; echo "${base_packages[*]} $*" | tr ' ' ',' | sed 's/,*$//')"
  if ! debootstrap --variant=minbase --include="$includes" bookworm "$tmp" "$m" \
    >"$cache/debootstrap.log" 2>&1; then
    say "debootstrap failed; the last lines of $cache/debootstrap.log:"
    tail -n 15 "$cache/debootstrap.log" >&2
    remove_tree "$tmp"
    return 1
  fi
  # minbase has no /etc/hosts: without one `localhost` does not resolve.
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$tmp/etc/hosts"
  echo ringwatch-test >"$tmp/etc/hostname"
  # No login prompt on the container's console, and an empty machine-id
  # so that every boot gets a fresh one.
  rm -f "$tmp/etc/systemd/system/getty.target.wants/"* 2>/dev/null || true
  : >"$tmp/etc/machine-id"
  apt-get_root "$tmp" clean
  if [[ -e "$root" ]]; then remove_tree "$root"; fi
  mv "$tmp" "$root"
  echo "$recipe" >"$stamp.tmp"
  date -u +'built %Y-%m-%dT%H:%M:%SZ' >>"$stamp.tmp"
  mv "$stamp.tmp" "$stamp"
  say "built $root"
}

# rm -rf only what holds no mount (a build killed while debootstrap had
# /proc or /sys mounted in it would otherwise reach the host's).
remove_tree() {
  local dir="$1"
  if findmnt -rn -o TARGET | grep -q "^$dir\(/\|$\)"; then
    findmnt -rn -o TARGET | grep "^$dir\(/\|$\)" | sort -r | while read -r t; do
      umount -l "$t" || true
    done
  fi
  if findmnt -rn -o TARGET | grep -q "^$dir\(/\|$\)"; then
    say "$dir still has mounts under it; not removing it"
    return 1
  fi
  rm -rf --one-file-system "$dir"
}

apt-get_root() {  # root, apt-get arguments...
  local r="$1"
  shift
  chroot "$r" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -qq "$@"
}

add_packages() {  # packages...
  local missing=() p
  for p in "$@"; do
    installed_in_root "$p" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]} into $root"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  if ! apt-get_root "$root" update >"$cache/apt.log" 2>&1 ||
    ! apt-get_root "$root" install -y --no-install-recommends "${missing[@]}" >>"$cache/apt.log" 2>&1; then
    say "apt-get in $root failed; the last lines of $cache/apt.log:"
    tail -n 15 "$cache/apt.log" >&2
    return 1
  fi
  apt-get_root "$root" clean
  rm -rf --one-file-system "$root/var/lib/apt/lists/"* 2>/dev/null || true
  for p in "${missing[@]}"; do
    installed_in_root "$p" || { say "$p is still not installed in $root"; return 1; }
  done
}

ensure() {
  mkdir -p "$cache"
  if ! sane; then
    build "$@" || return 1
    sane || { say "the root just built fails its sanity check"; return 1; }
  fi
  add_packages "$@"
}

if [[ $(id -u) -ne 0 ]]; then
  say "needs root"
  exit 1
fi
cmd="${1:-ensure}"
shift || true
mkdir -p "$cache"
# One builder at a time; copies wait for a build in progress.
exec 9>"$cache/.lock"
flock 9
case "$cmd" in
  check) sane ;;
  ensure) ensure "$@" ;;
  copy)
    dest="$1"
    shift
    ensure "$@"
    if [[ -e "$dest" ]]; then
      say "$dest exists already"
      exit 1
    fi
    cp -a "$root" "$dest"
    ;;
  *)
    say "unknown command '$cmd' (ensure, copy, check)"
    exit 2
    ;;
esac
