#!/usr/bin/env bash
# Anvil (Foundry's local Ethereum node) for starfarm-l1's tests (scripts/test.sh, .ci/run):
# installs the pinned npm package @foundry-rs/anvil (its platform package carries the
# prebuilt binary) into $STARFARM_NPM_PREFIX (default $HOME/.cache/starfarm/npm) when
# missing, and prints the absolute path of the `anvil` binary on stdout. Everything else
# goes to stderr. The tests start and stop anvil themselves (STARFARM_ANVIL=<this path>).
set -euo pipefail

ANVIL_VERSION=1.7.1
prefix="${STARFARM_NPM_PREFIX:-$HOME/.cache/starfarm/npm}"

log() { echo "anvil.sh: $*" >&2; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-amd64 ;;
  Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
  Darwin-arm64) platform=darwin-arm64 ;;
  Darwin-x86_64) platform=darwin-amd64 ;;
  *) log "no prebuilt anvil for $(uname -s)-$(uname -m)"; exit 1 ;;
esac

pkg="$prefix/node_modules/@foundry-rs/anvil-$platform"

installed_version() {
  node -e 'try { console.log(require(process.argv[1] + "/package.json").version) } catch { }' "$pkg"
}

find_binary() {
  local f
  for f in "$pkg/bin/anvil" "$pkg/anvil"; do
    [ -x "$f" ] && { echo "$f"; return 0; }
  done
  f=$(find "$pkg" -type f -name anvil 2>/dev/null | head -n 1)
  [ -n "$f" ] && chmod +x "$f" && echo "$f"
}

command -v node >/dev/null || { log "node and npm are required"; exit 1; }
if [ "$(installed_version)" != "$ANVIL_VERSION" ] || [ -z "$(find_binary || true)" ]; then
  log "installing @foundry-rs/anvil@$ANVIL_VERSION into $prefix"
  mkdir -p "$prefix"
  npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$prefix" \
    "@foundry-rs/anvil@$ANVIL_VERSION" >&2
fi
bin=$(find_binary || true)
[ -n "$bin" ] || { log "no anvil binary under $pkg after installing"; exit 1; }
"$bin" --version >/dev/null 2>&1 || { log "$bin does not run"; exit 1; }
echo "$bin"
