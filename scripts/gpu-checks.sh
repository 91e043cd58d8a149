#!/usr/bin/env bash
# The device checks of the resident backend (docs/gpu.md), in one call, for a session that is
# lent an NVIDIA GPU: what the CPU emulation cannot check (NVRTC's acceptance of the sources,
# real device memory, the CUDA launches) — each a failure, not a skip, without CUDA.
#
#   scripts/gpu-checks.sh            # builds the test binaries, then runs every check
#   OUT=/some/dir scripts/gpu-checks.sh   # also writes each check's log there
#
# Build first, run second: the build needs no GPU (a warm target folder makes it seconds);
# each check then runs under its own timeout (STARFARM_GPU_CHECK_TIMEOUT, default 300 s) so
# one hung check does not eat the device time of the others. Exit status: the number of
# checks that failed (0: all passed).
set -uo pipefail
cd "$(dirname "$0")/.."
export STARFARM_REQUIRE_CUDA=1
limit="${STARFARM_GPU_CHECK_TIMEOUT:-300}"
out="${OUT:-}"
[ -n "$out" ] && mkdir -p "$out"

# name | cargo arguments | test-name filter (the CUDA tests only; the emulated ones run in CI).
# kernels-resident-cuda runs every resident op check on CUDA, out-of-domain sampling and the FRI
# quotients included (`cuda_resident_ops_match_simd`), and a whole proof with the batched
# decommitment (`gather_rows`) and the twiddles read in place from their resident copy
# (`launch_fft_layer_at`, `launch_fri_fold_at`: every whole proof); air-resident-prover-cuda
# asserts both ran on the device for fibonacci and pedersen_chain.
checks=(
  "kernels-resident-cuda|-p starfarm-kernels --test resident_cuda|"
  "air-resident-cuda|-p starfarm-air --features cuda --test resident|on_cuda"
  "air-resident-proof-cuda|-p starfarm-air --features cuda --test resident_proof|on_cuda"
  "air-resident-prover-cuda|-p starfarm-air --features cuda --test resident_prover|on_cuda"
  "prover-gpu-proof-cuda|-p starfarm-prover --test gpu_proof|"
)

echo "== building the test binaries (no GPU needed)"
cargo test --no-run -p starfarm-kernels --test resident_cuda || exit 100
cargo test --no-run -p starfarm-air --features cuda --test resident --test resident_proof \
  --test resident_prover || exit 100
cargo test --no-run -p starfarm-prover --test gpu_proof || exit 100
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used \
  --format=csv

failed=0
for check in "${checks[@]}"; do
  IFS='|' read -r name args filter <<<"$check"
  log="${out:+$out/$name.log}"
  echo "== $name: cargo test $args -- $filter"
  started=$(date +%s)
  # shellcheck disable=SC2086 # the arguments and the filter are words
  STARFARM_TEST_BACKEND=cuda timeout "$limit" cargo test $args -- $filter --nocapture \
    2>&1 | tee ${log:+"$log"}
  status=${PIPESTATUS[0]}
  echo "== $name: exit $status in $(($(date +%s) - started)) s"
  [ "$status" -eq 0 ] || failed=$((failed + 1))
done
echo "== $failed check(s) failed"
exit "$failed"
