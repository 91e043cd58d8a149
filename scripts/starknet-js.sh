#!/usr/bin/env bash
# starknet.js (the JavaScript client most Starknet wallets and dApps use) for the tests that
# read starfarm's JSON-RPC with it (scripts/test.sh, .ci/run): installs the pinned npm package
# into its own prefix (default $HOME/.cache/starfarm/npm-starknet-js; a shared prefix would
# let npm prune the other packages) when missing, and prints the package's absolute folder on
# stdout for `require()`. Everything else goes to stderr.
set -euo pipefail

STARKNET_JS_VERSION=10.8.0
prefix="${STARFARM_STARKNET_JS_PREFIX:-$HOME/.cache/starfarm/npm-starknet-js}"
pkg="$prefix/node_modules/starknet"

log() { echo "starknet-js.sh: $*" >&2; }

installed_version() {
  node -e 'try { console.log(require(process.argv[1] + "/package.json").version) } catch { }' "$pkg"
}

command -v node >/dev/null || { log "node and npm are required"; exit 1; }
if [ "$(installed_version)" != "$STARKNET_JS_VERSION" ]; then
  log "installing starknet@$STARKNET_JS_VERSION into $prefix"
  mkdir -p "$prefix"
  npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$prefix" \
    "starknet@$STARKNET_JS_VERSION" >&2
fi
node -e 'require(process.argv[1])' "$pkg" || { log "$pkg does not load"; exit 1; }
echo "$pkg"
