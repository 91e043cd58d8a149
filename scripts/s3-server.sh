#!/usr/bin/env bash
# An S3 API server for the tests that run starfarm against `s3://` URLs (tests/s3.rs,
# scripts/test.sh, .ci/run): s3rver, a file-backed S3 server from npm, so that a test can
# stop the server process and start it again on the same data. Installs the pinned package
# into its own prefix (default $HOME/.cache/starfarm/npm-s3rver; a shared prefix would let npm
# prune the other packages) when missing, and prints the server's executable on stdout.
# Everything else goes to stderr.
set -euo pipefail

S3RVER_VERSION=3.7.1
prefix="${STARFARM_S3_SERVER_PREFIX:-$HOME/.cache/starfarm/npm-s3rver}"
pkg="$prefix/node_modules/s3rver"

log() { echo "s3-server.sh: $*" >&2; }

installed_version() {
  node -e 'try { console.log(require(process.argv[1] + "/package.json").version) } catch { }' "$pkg"
}

command -v node >/dev/null || { log "node and npm are required"; exit 1; }
if [ "$(installed_version)" != "$S3RVER_VERSION" ]; then
  log "installing s3rver@$S3RVER_VERSION into $prefix"
  mkdir -p "$prefix"
  npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$prefix" \
    "s3rver@$S3RVER_VERSION" >&2
fi
server="$pkg/bin/s3rver.js"
"$server" --version >/dev/null || { log "$server does not run"; exit 1; }
echo "$server"
