#!/usr/bin/env bash
# Rebuilds the committed artifacts l1/contracts/out/<Name>.json from the .sol sources with npm
# solc (pinned), or with --check verifies that the committed artifacts match a fresh build.
#
#   l1/contracts/build.sh           # writes out/*.json
#   l1/contracts/build.sh --check   # compiles into a temp folder, fails if out/ differs
#
# solc is installed (once) into l1/contracts/node_modules (git-ignored), or into
# $STARFARM_SOLC_PREFIX when set. Needs node and npm. $STARFARM_CONTRACTS_DIR names another
# folder of sources (with its own out/) to build the same way (verifier/contracts/build.sh).
set -euo pipefail

SOLC_VERSION=0.8.28
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${STARFARM_SOLC_PREFIX:-$here}"
sources="${STARFARM_CONTRACTS_DIR:-$here}"

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

command -v node >/dev/null || { echo "build.sh: node is required" >&2; exit 1; }

installed="$(node -e 'try { console.log(require(process.argv[1] + "/node_modules/solc/package.json").version) } catch { }' "$prefix")"
if [[ "$installed" != "$SOLC_VERSION" ]]; then
  echo "installing solc@$SOLC_VERSION into $prefix/node_modules" >&2
  mkdir -p "$prefix"
  npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$prefix" "solc@$SOLC_VERSION" >&2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node "$here/compile.mjs" "$prefix" "$sources" "$tmp/out"

if [[ "$mode" == check ]]; then
  if ! diff -rq "$sources/out" "$tmp/out" >"$tmp/diff" 2>&1; then
    cat "$tmp/diff" >&2
    echo "build.sh --check: $sources/out/ differs from a fresh build of the sources; rebuild it and commit out/" >&2
    exit 1
  fi
  echo "build.sh --check: artifacts match the sources (solc $SOLC_VERSION)" >&2
else
  rm -rf "$sources/out"
  mkdir -p "$sources/out"
  cp "$tmp/out/"*.json "$sources/out/"
  echo "wrote $(ls "$sources/out" | wc -l) artifacts to $sources/out" >&2
fi
