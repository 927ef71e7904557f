#!/usr/bin/env bash
# Creates (or updates) the Python virtualenv the end-to-end tests use to drive the embedded
# cluster with the official `kubernetes` client. Idempotent: the venv is reused, and pip runs
# only when tests/python/requirements.txt changed since the last successful install.
# Prints the venv's python path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${ORRERY_PY_VENV:-target/py-venv}"
req="tests/python/requirements.txt"
stamp="$venv/.requirements.sha256"

# Several test processes may call this at once: one installs, the others wait for it.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock -w 600 9

python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
