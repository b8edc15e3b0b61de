#!/usr/bin/env bash
# Headless Chromium for the `ferry site` tests (crates/ferry/tests/reports.rs): Debian's
# `chromium` package, installed when missing and we may (root with apt-get).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tests/site/setup.sh: installing chromium (Debian)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
else
  echo "tests/site/setup.sh: no chromium and no way to install it: the browser checks skip" >&2
fi
