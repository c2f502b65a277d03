#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Chromium for the browser tests…"
  (apt-get install -y -q chromium >/dev/null 2>&1) || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
else
  echo "Chromium is not installed (/usr/bin/chromium): browser tests will be skipped." >&2
fi
