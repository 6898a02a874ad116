#!/usr/bin/env bash
# Creates (or reuses) the project's Python venv with the pinned local-AWS emulator and linter.
# Usage: bash .ci/venv.sh   -> prints the venv's path on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="${RIG_VENV:-$root/.venv}"
req="$root/.ci/requirements.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$stamp"
fi
echo "$venv"
