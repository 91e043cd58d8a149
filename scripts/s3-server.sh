#!/usr/bin/env bash
# An S3 API server for the tests that run starfarm against `s3://` URLs (tests/s3.rs,
# tests/faults_farm.rs; scripts/test.sh, .ci/run): s3rver, a file-backed S3 server from npm,
# so that a test can stop the server process and start it again on the same data. Installs
# the pinned package into its own prefix (default $HOME/.cache/starfarm/npm-s3rver) when
# missing, and prints the server's executable on stdout. Everything else goes to stderr.
set -euo pipefail

S3RVER_VERSION=3.7.1
prefix="${STARFARM_S3_SERVER_PREFIX:-$HOME/.cache/starfarm/npm-s3rver}"

pkg=$("$(dirname "$0")/npm-package.sh" s3rver "$S3RVER_VERSION" "$prefix")
server="$pkg/bin/s3rver.js"
"$server" --version >/dev/null || { echo "s3-server.sh: $server does not run" >&2; exit 1; }
echo "$server"
