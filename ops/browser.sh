#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; browser downloads are not
# possible here), with Korean fonts so pages and screenshots show Hangul. Installs with apt-get
# only what is missing; safe to run any number of times.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed" ||
  need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "ops/browser.sh: missing ${need[*]} and no apt-get to install them" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "ops/browser.sh: installing ${need[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}" \
  >/dev/null
test -x /usr/bin/chromium
echo "ops/browser.sh: $(/usr/bin/chromium --version)"
