#!/usr/bin/env bash
# Rebuilds the committed artifacts verifier/contracts/out/<Name>.json from the .sol sources
# with the project's pinned solc-js, or with --check verifies that they match a fresh build:
# l1/contracts/build.sh on this folder (same solc, settings and node_modules).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The generated AIR evaluator (air/generated/evm/AirEvaluator.sol) is compiled with them: the
# composition statement deploys it; and the generated relation uses table (RelationUses.sol),
# which CairoClaim imports.
generated="$here/../../air/generated/evm"
STARFARM_EXTRA_SOURCES="$generated/AirEvaluator.sol:$generated/RelationUses.sol" \
  STARFARM_CONTRACTS_DIR="$here" exec "$here/../../l1/contracts/build.sh" "$@"
