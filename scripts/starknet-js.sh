#!/usr/bin/env bash
# starknet.js (the JavaScript client most Starknet wallets and dApps use) for the tests that
# read starfarm's JSON-RPC with it (scripts/test.sh, .ci/run): installs the pinned npm package
# into its own prefix (default $HOME/.cache/starfarm/npm-starknet-js) when missing, and
# prints the package's absolute folder on stdout for `require()`. Everything else goes to
# stderr.
set -euo pipefail

STARKNET_JS_VERSION=10.8.0
prefix="${STARFARM_STARKNET_JS_PREFIX:-$HOME/.cache/starfarm/npm-starknet-js}"

pkg=$("$(dirname "$0")/npm-package.sh" starknet "$STARKNET_JS_VERSION" "$prefix")
node -e 'require(process.argv[1])' "$pkg" || { echo "starknet-js.sh: $pkg does not load" >&2; exit 1; }
echo "$pkg"
