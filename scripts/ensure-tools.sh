#!/usr/bin/env bash
# Install the system tools the test suite and the benchmarks run for real (ngircd, the IRC server
# the IRC bot test starts; wrk, the load generator of bench/load.py), when they are missing. Idempotent and quiet; never fails the build (the tests that need
# a missing tool skip and say why).
set -u
missing=()
command -v ngircd >/dev/null 2>&1 || [ -x /usr/sbin/ngircd ] || missing+=(ngircd)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing ${missing[*]} (install with apt-get as root); their tests will be skipped" >&2
  exit 0
fi
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
{ apt-get install -y -qq --no-install-recommends "${missing[@]}" \
  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; } \
  >/dev/null 2>&1 || echo "could not install ${missing[*]}; their tests will be skipped" >&2
# Debian starts the packaged daemon; the tests run their own instance.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now ngircd >/dev/null 2>&1; fi
exit 0
