#!/usr/bin/env bash
# Prepares the patched copy of stwo-cairo-common 1.3.0 that deps/stwo-cairo-common compiles.
# Upstream 1.3.0 calls `Mask::to_int()`, which current nightly renamed `to_simd()`. The crate is
# fetched from crates.io with a throw-away manifest outside the workspace (the workspace itself
# cannot resolve before the patch exists), unpacked into .deps/ (ignored), and fixed.
# Idempotent and offline once the crate is in cargo's cache. Drop it once upstream ships a fix.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=stwo-cairo-common
version=1.3.0
dest="$root/.deps/$name-$version"
[ -f "$dest/.starfarm-patched" ] && exit 0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src"
: >"$tmp/src/lib.rs"
cat >"$tmp/Cargo.toml" <<TOML
[package]
name = "fetch-$name"
version = "0.0.0"
edition = "2021"
[dependencies]
$name = "=$version"
[workspace]
TOML
(cd "$tmp" && cargo fetch --quiet)

cargo_home=${CARGO_HOME:-$HOME/.cargo}
crate=$(ls "$cargo_home"/registry/cache/*/"$name-$version.crate" 2>/dev/null | head -n 1)
[ -n "$crate" ] || { echo "patch-deps: $name-$version.crate not found under $cargo_home/registry/cache" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$root/.deps"
tar -xzf "$crate" -C "$root/.deps"
simd="$dest/src/prover_types/simd.rs"
grep -q '\.to_int()' "$simd" || { echo "patch-deps: $simd no longer calls to_int(); check upstream" >&2; exit 1; }
sed -i 's/\.to_int()/.to_simd()/' "$simd"
# The marker's mtime is the archive's, not now: the build script reruns when the marker's
# mtime changes (build-script inputs are compared by mtime even with checksum-freshness).
touch -r "$dest/Cargo.toml" "$dest/.starfarm-patched"
echo "patch-deps: prepared $dest"
