#!/usr/bin/env bash
# Runs before `npm test`: the suite needs redis-server (tests start one when none answers at
# REDIS_URL) and Debian's chromium (the dashboard test drives it with playwright-core; a browser
# download cannot work offline). Installs what is missing with apt-get when run as root, else says how.
set -u
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} (apt-get) for the test suite..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || {
    echo "could not install ${missing[*]}; install them and run npm test again" >&2
    exit 1
  }
else
  echo "the test suite needs: ${missing[*]} (Debian/Ubuntu: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
