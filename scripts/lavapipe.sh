#!/usr/bin/env bash
# Mesa's lavapipe (Vulkan on the CPU) for starfarm-kernels' wgpu tests (scripts/test.sh,
# .ci/run): on Debian/Ubuntu, installs `mesa-vulkan-drivers` (and the Vulkan loader) when the
# lavapipe ICD is missing and we may use apt (root). Exits non-zero if lavapipe is still
# missing. The tests pick the adapter themselves; `STARFARM_REQUIRE_WGPU=1` makes a missing one
# a failure instead of a skip.
set -euo pipefail
log() { echo "lavapipe.sh: $*" >&2; }
have_lavapipe() {
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'
}
if have_lavapipe; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing mesa-vulkan-drivers"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >&2 || {
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >&2
  }
fi
have_lavapipe || { log "no lavapipe (install mesa-vulkan-drivers)"; exit 1; }
