//! The resident-backend checks (`resident_common::checks`) on CUDA device 0: a whole proof on
//! `DeviceBackend<CudaDevice>` equals `SimdBackend`'s byte for byte, and each device operation
//! equals `SimdBackend`'s. Skipped, with a message, without a GPU; with
//! `STARFARM_REQUIRE_CUDA=1` a missing GPU fails instead.
#![cfg(feature = "cuda")]

mod common;
mod resident_common;

use resident_common::checks;
use starfarm_kernels::cuda_device::CudaDevice;
use starfarm_kernels::resident::ResidentDevice;

fn device() -> bool {
    match CudaDevice::instance() {
        Ok(_) => true,
        Err(e) if !common::required("STARFARM_REQUIRE_CUDA") => {
            eprintln!("SKIPPED: resident backend on CUDA, {e}");
            false
        }
        Err(e) => panic!("STARFARM_REQUIRE_CUDA=1 but CUDA cannot be opened: {e}"),
    }
}

#[test]
fn cuda_whole_proofs_equal_simd_byte_for_byte() {
    if device() {
        checks::whole_proof_equals_simd_byte_for_byte_and_verifies::<CudaDevice>();
        checks::whole_proof_above_simd_transpose_size_equals_simd::<CudaDevice>();
        checks::two_components_of_different_sizes_equal_simd::<CudaDevice>();
        checks::whole_proof_with_batched_decommitment_equals_simd::<CudaDevice>();
    }
}

#[test]
fn cuda_resident_ops_match_simd() {
    if device() {
        checks::circle_fft_on_resident_columns_matches_simd::<CudaDevice>();
        checks::fri_folds_on_resident_columns_match_simd::<CudaDevice>();
        checks::merkle_on_resident_columns_matches_simd::<CudaDevice>();
        checks::grind_on_the_device_matches_simd::<CudaDevice>();
        checks::barycentric_eval_on_resident_columns_matches_simd::<CudaDevice>();
        checks::accumulation_and_leaf_packing_on_resident_columns_match_simd::<CudaDevice>();
        checks::out_of_domain_evaluation_on_resident_coefficients_matches_simd::<CudaDevice>();
        checks::fri_quotients_on_resident_columns_match_simd::<CudaDevice>();
    }
}
