//! A device error in the middle of a proof on the resident backend (injected into the
//! emulated device) is a typed error, never a panic escaping the job nor a wrong proof; the
//! job is then proven on the CPU, and the device proves the next job correctly. Its own test
//! binary: the fault is injected into the process-wide device.

mod common;
mod resident_common;

use starfarm_kernels::emulated_device::EmulatedDevice;
use starfarm_kernels::resident::{
    catch_device_faults, proof_fallbacks, prove_with_fallback, EmulatedBackend, HostComponent,
    ResidentDevice,
};
use starfarm_kernels::KernelError;

const LOG_N_ROWS: u32 = 8;

#[test]
fn device_error_mid_proof_is_a_typed_error_and_the_cpu_proves_the_job() {
    let device = match EmulatedDevice::instance() {
        Ok(device) => device,
        Err(KernelError::NoDevice { reason, .. }) => {
            eprintln!("SKIPPED: resident fault test, {reason}");
            return;
        }
        Err(e) => panic!("the emulated device does not build: {e}"),
    };
    let simd = resident_common::bytes(&resident_common::simd_proof(LOG_N_ROWS));
    let component = resident_common::component(LOG_N_ROWS);
    let host_component = HostComponent::new(&component);
    let prove = || resident_common::prove_on::<EmulatedBackend>(LOG_N_ROWS, &[&host_component]);

    let start = device.launches();
    let clean = catch_device_faults(prove).expect("a clean run");
    let launches = device.launches() - start;
    assert_eq!(resident_common::bytes(&clean), simd);
    eprintln!("one proof of 2^{LOG_N_ROWS} rows: {launches} kernel launches");

    // The first launch (trace interpolation), one mid-proof, the last (FRI or grinding).
    for at in [1, launches / 2, launches] {
        device.inject_fault_after(at);
        match catch_device_faults(prove) {
            Err(KernelError::Device { message, .. }) => {
                assert!(message.contains("injected fault"), "{message}")
            }
            Err(other) => panic!("fault at launch {at}: unexpected error {other}"),
            Ok(_) => panic!("fault at launch {at}: a proof came out of a failed device"),
        }
    }

    // The project's flow: the job falls back to the CPU, counted, and its proof verifies.
    let fallbacks = proof_fallbacks();
    device.inject_fault_after(launches / 3);
    let (proof, error) = prove_with_fallback(prove, || resident_common::simd_proof(LOG_N_ROWS));
    assert!(
        matches!(error, Some(KernelError::Device { .. })),
        "{error:?}"
    );
    assert_eq!(proof_fallbacks(), fallbacks + 1);
    assert_eq!(resident_common::bytes(&proof), simd);
    resident_common::verify_proof(LOG_N_ROWS, proof);

    // The device proves the next job, byte for byte.
    let (proof, error) = prove_with_fallback(prove, || resident_common::simd_proof(LOG_N_ROWS));
    assert!(error.is_none(), "{error:?}");
    assert_eq!(resident_common::bytes(&proof), simd);
}
