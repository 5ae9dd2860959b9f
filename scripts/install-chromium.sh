#!/usr/bin/env bash
# Debian's chromium, for the console's browser tests (tests/e2e/test_console.py): Playwright
# drives it at /usr/bin/chromium and never downloads a browser of its own. Quick when it is
# already there; installs it with apt-get otherwise (as root, or through sudo).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing and this is not a Debian-like system: install chromium so that" \
       "/usr/bin/chromium exists (the console's browser tests need it)" >&2
  exit 1
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation
command -v chromium >/dev/null
