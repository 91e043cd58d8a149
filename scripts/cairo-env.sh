#!/usr/bin/env bash
# Creates .venv with cairo-lang 0.14.0.1 (Python 3.9: on 3.11 cairo-run dies with
# "mutable default ... CpuInstanceDef") and prints the path of its bin folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
if [ ! -x "$venv/bin/cairo-compile" ]; then
  py=""
  # A pyenv shim answers `command -v` even when it cannot run: try each candidate for real.
  for candidate in "$HOME"/.pyenv/versions/3.9.*/bin/python3.9 python3.9; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' >/dev/null 2>&1; then
      py=$candidate
      break
    fi
  done
  [ -n "$py" ] || { echo "cairo-env: Python 3.9 is needed for cairo-lang 0.14.0.1 (e.g. pyenv install 3.9.18)" >&2; exit 1; }
  "$py" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check cairo-lang==0.14.0.1 >&2
fi
echo "$venv/bin"
