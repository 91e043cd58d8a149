//! The resident backend (`DeviceBackend` on the emulated device: the CUDA source compiled for
//! the CPU and loaded in-process): a whole Stwo proof equals `SimdBackend`'s byte for byte and
//! verifies with Stwo's verifier, and each device operation equals `SimdBackend`'s
//! (`resident_common::checks`). Skipped, with a message, when there is no C++ compiler.

mod common;
mod resident_common;

use resident_common::checks;
use starfarm_kernels::emulated_device::EmulatedDevice;
use starfarm_kernels::resident::ResidentDevice;
use starfarm_kernels::KernelError;

fn device() -> bool {
    match EmulatedDevice::instance() {
        Ok(_) => true,
        Err(KernelError::NoDevice { reason, .. }) => {
            eprintln!("SKIPPED: resident backend tests, {reason}");
            false
        }
        Err(e) => panic!("the emulated device does not build: {e}"),
    }
}

#[test]
fn whole_proof_equals_simd_byte_for_byte_and_verifies() {
    if device() {
        checks::whole_proof_equals_simd_byte_for_byte_and_verifies::<EmulatedDevice>();
    }
}

#[test]
fn whole_proof_above_simd_transpose_size_equals_simd() {
    if device() {
        checks::whole_proof_above_simd_transpose_size_equals_simd::<EmulatedDevice>();
    }
}

#[test]
fn two_components_of_different_sizes_equal_simd() {
    if device() {
        checks::two_components_of_different_sizes_equal_simd::<EmulatedDevice>();
    }
}

#[test]
fn circle_fft_on_resident_columns_matches_simd() {
    if device() {
        checks::circle_fft_on_resident_columns_matches_simd::<EmulatedDevice>();
    }
}

#[test]
fn fri_folds_on_resident_columns_match_simd() {
    if device() {
        checks::fri_folds_on_resident_columns_match_simd::<EmulatedDevice>();
    }
}

#[test]
fn merkle_on_resident_columns_matches_simd() {
    if device() {
        checks::merkle_on_resident_columns_matches_simd::<EmulatedDevice>();
    }
}

#[test]
fn grind_on_the_device_matches_simd() {
    if device() {
        checks::grind_on_the_device_matches_simd::<EmulatedDevice>();
    }
}

#[test]
fn barycentric_eval_on_resident_columns_matches_simd() {
    if device() {
        checks::barycentric_eval_on_resident_columns_matches_simd::<EmulatedDevice>();
    }
}

#[test]
fn accumulation_and_leaf_packing_on_resident_columns_match_simd() {
    if device() {
        checks::accumulation_and_leaf_packing_on_resident_columns_match_simd::<EmulatedDevice>();
    }
}

#[test]
fn out_of_domain_evaluation_on_resident_coefficients_matches_simd() {
    if device() {
        checks::out_of_domain_evaluation_on_resident_coefficients_matches_simd::<EmulatedDevice>();
    }
}

#[test]
fn fri_quotients_on_resident_columns_match_simd() {
    if device() {
        checks::fri_quotients_on_resident_columns_match_simd::<EmulatedDevice>();
    }
}
