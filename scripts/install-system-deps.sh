#!/usr/bin/env bash
# Installs Debian's chromium for the headless report test when it is missing and we are root.
# Without root (or apt), the browser test skips with a clear reason instead.
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: chromium missing and cannot be installed here (not root or no apt-get); the browser test will skip" >&2
  exit 0
fi
echo "installing chromium (Debian package) for the headless report test" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq chromium >/dev/null 2>&1 || echo "note: apt-get install chromium failed; the browser test will skip" >&2
exit 0
