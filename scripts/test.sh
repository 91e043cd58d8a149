#!/usr/bin/env bash
# The project's test command (README, .ci/run): prepares the patched dependency and the
# cairo-lang tools the tests compare against, checks the compiled Cairo programs, Solidity
# contracts and generated AIR code against their sources, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/patch-deps.sh
scripts/compile-cairo.sh --check
l1/contracts/build.sh --check
verifier/contracts/build.sh --check
# The AIR's generated code (air/generated/) against a fresh extraction from cairo-air.
cargo run -q -p starfarm-air --bin air-codegen -- --check
# The verifier's layout tables (verifier/contracts/CairoLayout.sol) against the same IR.
cargo run -q -p starfarm-verifier --bin verifier-codegen -- --check
# Deployment files: dashboards, compose, Helm, Prometheus (tools used when installed).
infra/check.sh
export STARFARM_CAIRO_LANG_BIN
STARFARM_CAIRO_LANG_BIN=$(scripts/cairo-env.sh)
# The job store's tests also run on Postgres: start a local one unless given a URL.
if [ -z "${STARFARM_TEST_POSTGRES_URL:-}" ]; then
  STARFARM_TEST_POSTGRES_URL=$(scripts/postgres.sh) || {
    [ "${STARFARM_REQUIRE_POSTGRES:-}" != 1 ] || exit 1
    echo "test.sh: no Postgres, the job store's Postgres tests will be skipped" >&2
  }
fi
export STARFARM_TEST_POSTGRES_URL
# starfarm-l1's settlement tests run against anvil (a local Ethereum node): install it unless given.
if [ -z "${STARFARM_ANVIL:-}" ]; then
  STARFARM_ANVIL=$(scripts/anvil.sh) || {
    [ "${STARFARM_REQUIRE_ANVIL:-}" != 1 ] || exit 1
    echo "test.sh: no anvil, starfarm-l1's settlement tests will be skipped" >&2
  }
fi
export STARFARM_ANVIL
# The node tests also read events with starknet.js (JavaScript): install it unless given.
if [ -z "${STARFARM_STARKNET_JS:-}" ]; then
  STARFARM_STARKNET_JS=$(scripts/starknet-js.sh) || {
    [ "${STARFARM_REQUIRE_STARKNET_JS:-}" != 1 ] || exit 1
    echo "test.sh: no starknet.js, the node tests' starknet.js reads will be skipped" >&2
  }
fi
export STARFARM_STARKNET_JS
# The S3 tests (tests/s3.rs) run starfarm against a real S3 API server: install it unless given.
if [ -z "${STARFARM_S3_SERVER:-}" ]; then
  STARFARM_S3_SERVER=$(scripts/s3-server.sh) || {
    [ "${STARFARM_REQUIRE_S3_SERVER:-}" != 1 ] || exit 1
    echo "test.sh: no S3 server, the S3 tests will be skipped" >&2
  }
fi
export STARFARM_S3_SERVER
# starfarm-kernels' wgpu tests run on Mesa's lavapipe where no GPU is present.
scripts/lavapipe.sh || {
  [ "${STARFARM_REQUIRE_WGPU:-}" != 1 ] || exit 1
  echo "test.sh: no lavapipe, starfarm-kernels' wgpu tests will be skipped" >&2
}
cargo test --workspace "$@"
