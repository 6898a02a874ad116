#!/usr/bin/env bash
# Creates (or reuses) the project's Python venv with the pinned local-AWS emulator and linter,
# and inside it a second venv with the pinned security scanner (checkov pins its own boto3,
# older than the emulator needs, so the two do not share one).
# Usage: bash .ci/venv.sh   -> prints the venv's path on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="${RIG_VENV:-$root/.venv}"

# make_venv DIR REQUIREMENTS: (re)creates DIR when REQUIREMENTS changed since it was made.
make_venv() {
  local dir=$1 req=$2
  local stamp="$dir/.requirements.sha256" want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    python3 -m venv "$dir" >&2
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$want" > "$stamp"
  fi
}

make_venv "$venv" "$root/.ci/requirements.txt"
make_venv "$venv/checkov" "$root/.ci/requirements-checkov.txt"
echo "$venv"
