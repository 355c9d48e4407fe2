#!/usr/bin/env bash
# Runs before `npm start` (prestart: redis-server) and `npm test` (pretest: redis-server and Debian's
# chromium, which the dashboard test drives with playwright-core; a browser download cannot work
# offline). Installs what is missing with apt-get when run as root, else says how and fails.
# Usage: ensure-system-deps.sh [--warn-only] redis-server [chromium]
# --warn-only (npm start): a Redis may already answer at REDIS_URL, so a missing binary is only a note.
set -u
warn_only=0
if [ "${1:-}" = "--warn-only" ]; then warn_only=1; shift; fi
missing=()
for dep in "$@"; do
  case "$dep" in
    redis-server) command -v redis-server >/dev/null 2>&1 || missing+=(redis-server) ;;
    chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
    *) echo "ensure-system-deps: unknown dependency $dep" >&2; exit 2 ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} (apt-get)..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || {
    echo "could not install ${missing[*]}; install them and try again" >&2
    exit 1
  }
else
  echo "needed: ${missing[*]} (Debian/Ubuntu: sudo apt-get install -y ${missing[*]}; macOS: brew install redis)" >&2
  [ "$warn_only" = 1 ] && exit 0
  exit 1
fi
