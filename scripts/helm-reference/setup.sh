#!/usr/bin/env bash
# Creates (idempotently) the Python venv holding the reference Helm engine (helm-python-sdk,
# which bundles Helm v4's engine) used by the helm crate's differential test and benchmark.
# Prints the path of the venv's python on its last line.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${HELM_REF_VENV:-$ROOT/target/helm-ref-venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
fi
if ! "$PY" -c 'import helm_python, yaml' >/dev/null 2>&1; then
  "$PY" -m pip install --quiet --disable-pip-version-check 'helm-python-sdk==0.2.2' pyyaml >&2
fi
# Helm names its server-side apply field manager after the program (os.Args[0]); running the
# reference as `bin/helm` gives it the real CLI's manager name, `helm` (see releases.py).
ln -sf python "$VENV/bin/helm"
echo "$PY"
