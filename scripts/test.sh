#!/usr/bin/env bash
# The project's test command (README, .ci/run): prepares the patched dependency and the
# cairo-lang tools the tests compare against, checks the compiled Cairo programs, then runs
# every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/patch-deps.sh
scripts/compile-cairo.sh --check
export STARFARM_CAIRO_LANG_BIN
STARFARM_CAIRO_LANG_BIN=$(scripts/cairo-env.sh)
cargo test --workspace "$@"
