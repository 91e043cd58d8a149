#!/usr/bin/env bash
# Compiles the project's Cairo 0 programs (examples/, tests/programs/, sequencer/cairo/ and its anchor/, prover/cairo/) with cairo-lang 0.14.0.1 (`cairo-compile --proof_mode`)
# into the .json beside each source. With --check, compiles into a temporary folder and fails if
# any committed .json differs (run by CI). A source whose first line is
# `// starfarm: no-proof-mode` is compiled without --proof_mode (a test of refusal).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
check=0
[ "${1:-}" = "--check" ] && check=1
bin=$(scripts/cairo-env.sh)
site=$("$bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# The same folder as the compiler names it when .venv is a symbolic link (a worktree's).
site_real=$(cd "$site" && pwd -P)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
for src in examples/*.cairo tests/programs/*.cairo sequencer/cairo/*.cairo sequencer/cairo/anchor/*.cairo prover/cairo/*.cairo; do
  [ -e "$src" ] || continue
  flags=(--proof_mode)
  head -n 1 "$src" | grep -q '^// starfarm: no-proof-mode' && flags=()
  json="${src%.cairo}.json"
  "$bin/cairo-compile" "${flags[@]}" --cairo_path cairo "$src" --output "$out/compiled.json"
  # Debug info names imported files by absolute path: make them relative to the repository
  # and to site-packages, so the output does not depend on where the checkout lives.
  "$bin/python" - "$out/compiled.json" "$site/" "$site_real/" "$root/" <<'PY'
import sys
path, *prefixes = sys.argv[1:]
text = open(path).read()
for prefix in prefixes:
    text = text.replace('"' + prefix, '"')
open(path, "w").write(text)
PY
  if [ $check = 1 ]; then
    if ! cmp -s "$out/compiled.json" "$json"; then
      echo "compile-cairo: $json differs from what $src compiles to; run scripts/compile-cairo.sh" >&2
      status=1
    fi
  else
    cp "$out/compiled.json" "$json"
  fi
done
[ $status = 0 ] && [ $check = 1 ] && echo "compile-cairo: all compiled programs match their sources"
exit $status
