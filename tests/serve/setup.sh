#!/usr/bin/env bash
# Installs what tests/serve/clients.py needs: a venv with the real clients of the three
# protocols `ferry serve` speaks (tritonclient[http], vetiver, mlflow-skinny) plus
# schemathesis, all pinned in requirements.txt.
# Idempotent: the venv keeps a copy of the requirements it was built from, and a second
# run only compares it (a changed requirements.txt reinstalls).
# Usage: bash tests/serve/setup.sh   (then: $venv/bin/python tests/serve/clients.py --ferry PATH)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${FERRY_SERVE_VENV:-$HOME/.cache/ferry-serve-venv}

# Python 3.11 or newer; 3.12 where there is one (as the other test venvs here).
python=${FERRY_SERVE_PYTHON:-}
if [ -z "$python" ]; then
    for candidate in python3.12 "$HOME/.pyenv/versions/3.12.1/bin/python3" python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            python=$candidate
            break
        fi
    done
fi
if [ -z "$python" ]; then
    echo "setup.sh: installing python3-venv"
    if [ "$(id -u)" = 0 ]; then as_root=(); else as_root=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get install -y --no-install-recommends python3-venv ||
        { "${as_root[@]}" apt-get update && "${as_root[@]}" apt-get install -y --no-install-recommends python3-venv; }
    python=python3
fi

stamp="$venv/.ferry-requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$stamp"; then
    echo "setup.sh: venv up to date: $venv"
else
    echo "setup.sh: creating venv $venv with $python"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi
echo "setup.sh: done. Run: $venv/bin/python $here/clients.py --ferry \${CARGO_TARGET_DIR:-target}/debug/ferry"
