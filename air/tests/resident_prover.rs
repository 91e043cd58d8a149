//! The resident flow as the `Prover`'s CUDA path, through the emulated device: a prover on the
//! CUDA backend with `ResidentProver<EmulatedDevice>` injected (as the binary injects
//! `ResidentProver<CudaDevice>`) proves jobs through the `Prover` API with the whole proof on
//! the device, and its artifacts carry the CPU prover's proof bytes and verify:
//! - fibonacci(100), the first proof: the preprocessed trace uploaded and its tree built on
//!   the device once;
//! - pedersen_chain, the second (the same preprocessed trace, `CanonicalSmall`): the warm
//!   device precompute reused, not built again (`warm_builds` stays 1), and the
//!   Pedersen builtin's components evaluated by the generated CUDA;
//! - in both, out-of-domain sampling and the FRI quotients on the device, never on the host
//!   (the sampled values and the FRI layers are in the proof bytes compared);
//! - fibonacci again with a device fault injected halfway through its launches: the job's
//!   proof is made on the CPU (`backend: cpu`, `gpu.fallbacks` 1, the process counter), the
//!   same bytes, verified.
//!
//! Skipped, with a message, without a C++ compiler (the emulated device).

use std::path::PathBuf;
use std::time::Instant;

use starfarm_air::resident::ResidentProver;
use starfarm_kernels::emulated_device::EmulatedDevice;
use starfarm_kernels::resident::{op_counts, FlowStats, Op, ResidentDevice};
use starfarm_kernels::KernelError;
use starfarm_prover::device::fault_fallbacks;
use starfarm_prover::{
    verify, CairoProgram, Device, Felt, ProgramInput, ProofArtifact, Prover, SecurityProfile,
};

fn example(name: &str) -> CairoProgram {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/{name}.json"));
    CairoProgram::from_file(&path).expect("example loads")
}

fn felts(values: &[u64]) -> ProgramInput {
    ProgramInput::new(values.iter().map(|&v| Felt::from(v)).collect())
}

/// Device calls of `op` so far in this process.
fn on_device(op: Op) -> u64 {
    op_counts()
        .iter()
        .find(|(o, _)| *o == op)
        .map_or(0, |(_, c)| c.device)
}

/// Host fallbacks of `op` so far in this process.
fn on_host(op: Op) -> u64 {
    op_counts()
        .iter()
        .find(|(o, _)| *o == op)
        .map_or(0, |(_, c)| c.host)
}

/// Out-of-domain sampling and the FRI quotients: on the device for every proof of the flow.
const SAMPLING_AND_QUOTIENTS: [Op; 3] = [
    Op::EvalAtPoint,
    Op::AccumulateNumerators,
    Op::CombineQuotients,
];

fn prove(prover: &mut Prover, program: &CairoProgram, input: &ProgramInput) -> ProofArtifact {
    let started = Instant::now();
    let artifact = prover
        .prove(program, input, &mut |_| {})
        .unwrap_or_else(|e| panic!("proves: {e}"));
    eprintln!(
        "{} steps on {}: {:?} (prove {} ms)",
        artifact.header.steps,
        artifact.header.backend,
        started.elapsed(),
        artifact.header.timings_ms.prove_ms
    );
    artifact
}

/// What [`prove_two_jobs`] leaves: the prover (warm), the CPU proof of fibonacci, and the
/// device launches of the first proof.
struct Proven {
    prover: Prover,
    fibonacci: (CairoProgram, ProgramInput),
    cpu_fibonacci: ProofArtifact,
    first_launches: u64,
}

/// fibonacci(100), then pedersen_chain, through a prover on `Device::Cuda` with `flow`
/// injected: the CPU prover's bytes, verified, the warm device precompute built once.
/// `launches` reads the device's launch counter (0 where it has none).
fn prove_two_jobs<D: ResidentDevice>(
    flow: ResidentProver<D>,
    launches: &dyn Fn() -> u64,
) -> Proven {
    let fibonacci = (example("fibonacci"), felts(&[100]));
    let pedersen = (example("pedersen_chain"), felts(&[1, 2, 3]));

    // The CPU prover's artifacts (its precompute dropped before the device's is built).
    let (cpu_fibonacci, cpu_pedersen) = {
        let mut cpu = Prover::new(SecurityProfile::Test);
        (
            prove(&mut cpu, &fibonacci.0, &fibonacci.1),
            prove(&mut cpu, &pedersen.0, &pedersen.1),
        )
    };

    let mut prover = Prover::new(SecurityProfile::Test)
        .with_backend(Device::Cuda)
        .with_resident(Box::new(flow));
    let stats = |prover: &Prover| prover.resident_stats().expect("injected");

    let sampling_on_host = SAMPLING_AND_QUOTIENTS.map(on_host);
    let sampling_on_device = SAMPLING_AND_QUOTIENTS.map(on_device);
    // The first proof builds the device precompute.
    let interpolations = on_device(Op::Interpolate);
    let before = launches();
    let first = prove(&mut prover, &fibonacci.0, &fibonacci.1);
    let first_launches = launches() - before;
    let first_interpolations = on_device(Op::Interpolate) - interpolations;
    assert_eq!(first.header.backend, Device::Cuda);
    assert!(first.header.gpu.calls > 0, "the proof ran on the device");
    assert_eq!(first.header.gpu.fallbacks, 0);
    assert!(
        first.proof == cpu_fibonacci.proof,
        "byte for byte (fibonacci)"
    );
    assert_eq!(first.header.output, cpu_fibonacci.header.output);
    verify(&first, 0).expect("verifies");
    assert_eq!(
        stats(&prover),
        FlowStats {
            proofs: 1,
            warm_builds: 1,
            faults: 0
        }
    );

    // The second, another program on the same preprocessed trace: the warm device precompute
    // is reused (not uploaded, interpolated nor committed again).
    let quotients = on_device(Op::ComponentQuotients);
    let interpolations = on_device(Op::Interpolate);
    let second = prove(&mut prover, &pedersen.0, &pedersen.1);
    let second_interpolations = on_device(Op::Interpolate) - interpolations;
    assert_eq!(second.header.backend, Device::Cuda);
    assert!(
        second.proof == cpu_pedersen.proof,
        "byte for byte (pedersen)"
    );
    verify(&second, 0).expect("verifies");
    assert!(on_device(Op::ComponentQuotients) > quotients);
    for (i, op) in SAMPLING_AND_QUOTIENTS.iter().enumerate() {
        assert_eq!(
            on_host(*op),
            sampling_on_host[i],
            "{op:?} never fell back to the host"
        );
        assert!(
            on_device(*op) > sampling_on_device[i],
            "{op:?} ran on the device"
        );
    }
    assert_eq!(
        stats(&prover),
        FlowStats {
            proofs: 2,
            warm_builds: 1,
            faults: 0
        },
        "the warm device precompute was reused"
    );
    eprintln!(
        "interpolations on the device: first proof {first_interpolations}, second \
         {second_interpolations}; first proof {first_launches} launches"
    );
    Proven {
        prover,
        fibonacci,
        cpu_fibonacci,
        first_launches,
    }
}

#[test]
fn the_provers_cuda_path_proves_on_the_resident_flow_byte_for_byte() {
    let device = match EmulatedDevice::instance() {
        Ok(d) => d,
        Err(KernelError::NoDevice { reason, .. }) => {
            eprintln!("SKIPPED: the resident flow needs the emulated device: {reason}");
            return;
        }
        Err(e) => panic!("emulated device: {e}"),
    };
    let flow = ResidentProver::<EmulatedDevice>::new().expect("the generated CUDA compiles");
    let Proven {
        mut prover,
        fibonacci,
        cpu_fibonacci,
        first_launches,
    } = prove_two_jobs(flow, &|| device.launches());

    // A device fault halfway through a proof: the job's proof on the CPU, counted.
    let fallbacks = fault_fallbacks();
    device.inject_fault_after(first_launches / 2);
    let faulted = prove(&mut prover, &fibonacci.0, &fibonacci.1);
    assert_eq!(faulted.header.backend, Device::Cpu, "proven on the CPU");
    assert_eq!(faulted.header.gpu.fallbacks, 1, "counted in the artifact");
    assert_eq!(fault_fallbacks(), fallbacks + 1, "counted in the process");
    assert!(faulted.proof == cpu_fibonacci.proof, "the same bytes");
    verify(&faulted, 0).expect("verifies");
    assert_eq!(prover.resident_stats().expect("injected").faults, 1);
}

/// The same on CUDA device 0 (`--features cuda`), the flow the binary injects: byte for byte,
/// verified, the warm precompute reused. Skipped without a GPU unless
/// `STARFARM_REQUIRE_CUDA=1`. Never run yet.
#[cfg(feature = "cuda")]
#[test]
fn the_provers_cuda_path_on_cuda_is_the_cpu_proof_byte_for_byte() {
    use starfarm_kernels::cuda_device::CudaDevice;
    if let Err(e) = CudaDevice::instance() {
        if std::env::var("STARFARM_REQUIRE_CUDA").is_ok_and(|v| v == "1") {
            panic!("CUDA is required: {e}");
        }
        eprintln!("SKIPPED: no CUDA device: {e}");
        return;
    }
    let flow = ResidentProver::<CudaDevice>::new().expect("NVRTC compiles the generated CUDA");
    prove_two_jobs(flow, &|| 0);
}
