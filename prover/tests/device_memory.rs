//! The device memory budget: a job meant for the GPU whose memory estimate exceeds the device
//! memory it may use is proven on the CPU, verifies, and is counted (in the artifact's `gpu`
//! use and in the process). No GPU needed: the budget is given, and the fallback never opens
//! the device.

use std::path::PathBuf;

use starfarm_prover::device::{memory_fallbacks, Placement};
use starfarm_prover::{
    execute, memory_estimate, verify, CairoProgram, Device, Felt, ProgramInput, Prover,
    SecurityProfile,
};

fn example(name: &str) -> CairoProgram {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/{name}.json"));
    CairoProgram::from_file(&path).expect("example loads")
}

#[test]
fn a_job_larger_than_the_device_memory_is_proven_on_the_cpu_and_counted() {
    let program = example("fibonacci");
    let input = ProgramInput::new(vec![Felt::from(100u32)]);
    let execution = execute(&program, &input, Default::default()).expect("executes");
    let needed = memory_estimate(&execution).expect("an estimate");

    // The routing decision, both ways.
    let roomy = Prover::new(SecurityProfile::Test)
        .with_backend(Device::Cuda)
        .with_device_memory(needed);
    assert_eq!(roomy.placement(&execution).unwrap(), Placement::Device);
    let cpu = Prover::new(SecurityProfile::Test).with_device_memory(0);
    assert_eq!(
        cpu.placement(&execution).unwrap(),
        Placement::Device,
        "a CPU prover has no device to fit"
    );
    let mut tight = Prover::new(SecurityProfile::Test)
        .with_backend(Device::Cuda)
        .with_device_memory(needed - 1);
    assert_eq!(
        tight.placement(&execution).unwrap(),
        Placement::Cpu {
            needed,
            available: needed - 1
        }
    );

    // The fallback: a whole proof on the CPU, counted.
    let before = memory_fallbacks();
    let artifact = tight
        .prove_execution(&program, &execution, &mut |_| {})
        .expect("proves on the CPU");
    assert_eq!(artifact.header.backend, Device::Cpu);
    assert_eq!(artifact.header.gpu.memory_fallbacks, 1);
    assert_eq!(artifact.header.gpu.calls, 0, "nothing ran on a device");
    assert_eq!(memory_fallbacks(), before + 1);
    verify(&artifact, 0).expect("the CPU proof verifies");
}
