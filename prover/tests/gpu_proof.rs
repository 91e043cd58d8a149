//! A whole Cairo proof made on a GPU backend is, byte for byte, the proof the CPU makes for the
//! same program and parameters, and verifies with the stock verifier.
//!
//! The GPU is `STARFARM_TEST_BACKEND` (default `wgpu`: any adapter, Mesa's lavapipe included;
//! `cuda` on a machine with an NVIDIA GPU). Without that device the test says it was skipped;
//! with `STARFARM_REQUIRE_WGPU=1` (CI, which installs lavapipe) or `STARFARM_REQUIRE_CUDA=1` it
//! fails instead.

use std::path::PathBuf;

use starfarm_prover::device::select;
use starfarm_prover::{
    verify, CairoProgram, Device, DeviceRequest, Felt, ProgramInput, Prover, SecurityProfile,
};

fn example(name: &str) -> CairoProgram {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/{name}.json"));
    CairoProgram::from_file(&path).expect("example loads")
}

fn required(choice: DeviceRequest) -> bool {
    let var = match choice {
        DeviceRequest::Cuda => "STARFARM_REQUIRE_CUDA",
        _ => "STARFARM_REQUIRE_WGPU",
    };
    std::env::var(var).is_ok_and(|v| v == "1")
}

#[test]
fn a_gpu_proof_is_the_cpu_proof_byte_for_byte() {
    let choice: DeviceRequest = std::env::var("STARFARM_TEST_BACKEND")
        .unwrap_or_else(|_| "wgpu".into())
        .parse()
        .expect("STARFARM_TEST_BACKEND");
    let backend = match select(choice) {
        Ok(selection) => selection.backend,
        Err(e) if !required(choice) => {
            eprintln!("SKIPPED: no {choice} device: {e}");
            return;
        }
        Err(e) => panic!("{choice} is required but cannot be opened: {e}"),
    };
    assert!(backend.is_gpu());
    // Small programs make small trees: send every Merkle layer and every grind to the device,
    // so the proof really is made there.
    starfarm_kernels::device::set_thresholds(1, 1);

    let program = example("fibonacci");
    let input = ProgramInput::new(vec![Felt::from(500u32)]);
    let prove = |backend: Device| {
        let mut prover = Prover::new(SecurityProfile::Test).with_backend(backend);
        prover
            .prove(&program, &input, &mut |_| {})
            .unwrap_or_else(|e| panic!("{backend}: {e}"))
        // The prover (and its ~6 GiB precompute) is dropped before the next one is built.
    };
    let cpu = prove(Device::Cpu);
    let gpu = prove(backend);

    assert_eq!(gpu.header.backend, backend);
    assert!(gpu.header.gpu.calls > 0, "nothing ran on the GPU");
    assert_eq!(gpu.header.gpu.fallbacks, 0, "a kernel call fell back");
    assert_eq!(cpu.header.backend, Device::Cpu);
    assert_eq!(cpu.header.gpu.calls, 0);
    assert_eq!(gpu.header.output, cpu.header.output);
    assert_eq!(gpu.proof.len(), cpu.proof.len());
    assert!(gpu.proof == cpu.proof, "the proof bytes differ");
    verify(&gpu, 0).expect("the GPU proof verifies");
    eprintln!(
        "{backend}: {} GPU kernel calls; proof {} bytes; prove {} ms (CPU {} ms)",
        gpu.header.gpu.calls,
        gpu.proof.len(),
        gpu.header.timings_ms.prove_ms,
        cpu.header.timings_ms.prove_ms
    );
}
