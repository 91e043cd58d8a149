//! The CUDA kernels (NVRTC) against Stwo's `SimdBackend`. Skipped, with a message, when
//! there is no CUDA driver or GPU, unless `STARFARM_REQUIRE_CUDA=1`.
#![cfg(feature = "cuda")]

mod common;

use starfarm_kernels::cuda_device::CudaDevice;
use starfarm_kernels::GpuDevice;

fn backend() -> Option<CudaDevice> {
    match CudaDevice::new(0) {
        Ok(b) => {
            eprintln!("cuda tests run on: {}", b.describe());
            Some(b)
        }
        Err(e) if common::required("STARFARM_REQUIRE_CUDA") => {
            panic!("STARFARM_REQUIRE_CUDA=1 but no CUDA device: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: CUDA tests, no CUDA device ({e})");
            None
        }
    }
}

#[test]
fn cuda_leaves_match_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_leaves(&gpu);
    eprintln!("cuda leaves: {n} shapes bit-identical to SimdBackend");
}

#[test]
fn cuda_chunked_leaves_match_simd() {
    let Some(gpu) = backend() else { return };
    let budget = common::tiny_budget();
    let gpu = gpu.with_memory_budget(budget.total, budget.max_buffer);
    common::check_chunked_leaves(&gpu);
}

#[test]
fn cuda_next_layer_matches_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_next_layer(&gpu);
    eprintln!("cuda next layer: {n} sizes bit-identical to SimdBackend");
}

#[test]
fn cuda_commit_matches_simd() {
    let Some(gpu) = backend() else { return };
    common::check_commit(&gpu);
}

#[test]
fn cuda_grind_matches_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_grind(&gpu);
    eprintln!("cuda grind: {n} (channel, pow_bits) pairs give SimdBackend's nonce");
}

#[test]
fn cuda_circle_fft_matches_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_fft(&gpu, 16);
    eprintln!("cuda circle FFT: {n} evaluations and interpolations bit-identical to SimdBackend");
}

#[test]
fn cuda_fri_folds_match_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_fri(&gpu, 16);
    eprintln!("cuda FRI folds: {n} folds bit-identical to SimdBackend");
}
