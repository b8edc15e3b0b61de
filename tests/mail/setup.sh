#!/usr/bin/env bash
# The venv of the SMTP sink (tests/mail/sink.py) for the `ferry send` tests; prints
# `export FERRY_TEST_SMTP_PYTHON=…` for tests/run to eval.
set -euo pipefail
venv="${FERRY_MAIL_VENV:-$HOME/.cache/ferry-mail-venv}"
req="$(dirname "$0")/requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
fi
echo "export FERRY_TEST_SMTP_PYTHON=$venv/bin/python"
