#!/usr/bin/env bash
# One pinned npm package in a prefix of its own (a shared prefix would let npm prune the
# other packages), for the scripts that give the tests a JavaScript tool (starknet-js.sh,
# s3-server.sh): installs NAME@VERSION into PREFIX unless that version is there, and prints
# the package's absolute folder on stdout. Everything else goes to stderr.
#   scripts/npm-package.sh NAME VERSION PREFIX
set -euo pipefail

name="$1" version="$2" prefix="$3"
pkg="$prefix/node_modules/$name"

log() { echo "npm-package.sh: $*" >&2; }

installed_version() {
  node -e 'try { console.log(require(process.argv[1] + "/package.json").version) } catch { }' "$pkg"
}

command -v node >/dev/null || { log "node and npm are required"; exit 1; }
if [ "$(installed_version)" != "$version" ]; then
  log "installing $name@$version into $prefix"
  mkdir -p "$prefix"
  npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$prefix" \
    "$name@$version" >&2
fi
echo "$pkg"
