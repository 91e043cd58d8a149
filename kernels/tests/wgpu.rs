//! The WGSL kernels against Stwo's `SimdBackend`. Skipped, with a message, when wgpu finds no
//! adapter, unless `STARFARM_REQUIRE_WGPU=1` (CI, with Mesa's lavapipe installed).
#![cfg(feature = "wgpu")]

mod common;

use starfarm_kernels::wgpu_device::WgpuDevice;
use starfarm_kernels::GpuDevice;

fn backend() -> Option<WgpuDevice> {
    match WgpuDevice::new() {
        Ok(b) => {
            eprintln!("wgpu tests run on: {}", b.describe());
            Some(b)
        }
        Err(e) if common::required("STARFARM_REQUIRE_WGPU") => {
            panic!("STARFARM_REQUIRE_WGPU=1 but no wgpu device: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: no wgpu adapter ({e}); install a Vulkan driver (e.g. mesa-vulkan-drivers)");
            None
        }
    }
}

#[test]
fn wgpu_leaves_match_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_leaves(&gpu);
    eprintln!("wgpu leaves: {n} shapes bit-identical to SimdBackend");
}

#[test]
fn wgpu_chunked_leaves_match_simd() {
    let Some(gpu) = backend() else { return };
    let budget = common::tiny_budget();
    let gpu = gpu.with_memory_budget(budget.total, budget.max_buffer);
    common::check_chunked_leaves(&gpu);
}

#[test]
fn wgpu_next_layer_matches_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_next_layer(&gpu);
    eprintln!("wgpu next layer: {n} sizes bit-identical to SimdBackend");
}

#[test]
fn wgpu_commit_matches_simd() {
    let Some(gpu) = backend() else { return };
    common::check_commit(&gpu);
}

#[test]
fn wgpu_grind_matches_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_grind(&gpu);
    eprintln!("wgpu grind: {n} (channel, pow_bits) pairs give SimdBackend's nonce");
}

#[test]
fn wgpu_circle_fft_matches_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_fft(&gpu, 12);
    eprintln!("wgpu circle FFT: {n} evaluations and interpolations bit-identical to SimdBackend");
}

#[test]
fn wgpu_fri_folds_match_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_fri(&gpu, 12);
    eprintln!("wgpu FRI folds: {n} folds bit-identical to SimdBackend");
}

#[test]
fn wgpu_circle_fft_matches_simd_above_its_transpose_size() {
    let Some(gpu) = backend() else { return };
    let n = common::check_fft_transposed(&gpu);
    eprintln!("wgpu circle FFT: {n} large cases bit-identical to SimdBackend");
}
