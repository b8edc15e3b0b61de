#!/usr/bin/env bash
# Installs what tests/sql/matrix.py needs on Debian 12, as root, without Docker or
# systemd: the PostgreSQL and MariaDB server binaries (never started as services:
# engines.py runs private throwaway instances) and a venv with the in-process
# engines (DuckDB, chDB/ClickHouse, PySpark) and the client drivers.
# Idempotent: a second run only checks and returns in about a second.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${FERRY_SQL_VENV:-$HOME/.cache/ferry-sql-venv}
python=${FERRY_SQL_PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages ---------------------------------------------------------
need=()
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
{ [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null; } || need+=(mariadb-server)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
"$python" -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)

if [ ${#need[@]} -gt 0 ]; then
    echo "setup.sh: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' postinst from starting system-wide servers: without
    # systemd invoke-rc.d honours policy-rc.d, and 101 means "action forbidden".
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    cleanup_policy() { [ "$made_policy" = 1 ] && as_root rm -f /usr/sbin/policy-rc.d; true; }
    trap cleanup_policy EXIT
    # Refresh the package lists only when they are missing or too old to know a
    # package we need (or the install fails on a stale mirror path).
    stale=0
    for p in "${need[@]}"; do
        cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
        if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then stale=1; fi
    done
    [ "$stale" = 1 ] && as_root apt-get update
    if ! as_root apt-get install -y --no-install-recommends "${need[@]}"; then
        as_root apt-get update
        as_root apt-get install -y --no-install-recommends "${need[@]}"
    fi
fi

# --- Python venv ---------------------------------------------------------------
stamp="$venv/.ferry-requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$stamp"; then
    echo "setup.sh: venv up to date: $venv"
else
    echo "setup.sh: creating venv $venv"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi
echo "setup.sh: done. Run: $venv/bin/python $here/matrix.py --ferry target/debug/ferry"
