//! A whole Cairo proof on the resident backend, through the emulated device:
//! `starfarm_air::resident::prove_cairo`, the resident copy of stwo-cairo's
//! `prove_cairo_with_precompute` (witness generation on `SimdBackend`, one upload of each
//! trace, everything after on the device, the constraints through the generated CUDA), proves
//! fibonacci with the Test profile byte for byte as the prover's `SimdBackend` flow, and cairo-air's verifier accepts it. Skipped, with a message, without a
//! C++ compiler. Then a device fault injected halfway through the same proof's launches ends in
//! the CPU proof of the job (the same bytes), counted as a fallback.
//!
//! Memory: the two proofs are made one after the other, the first one's precompute dropped
//! before the second starts; the device's copy of the preprocessed trace is interpolated on
//! the device from one upload of its evaluations, with twiddles sized to the preprocessed
//! trace's largest column (as the prover's precompute), not to stwo-cairo's maximum.

use std::path::PathBuf;
use std::time::Instant;

use cairo_air::verifier::verify_cairo_ex;
use cairo_air::{CairoProof, CairoProofForRustVerifier};
use starfarm_air::resident::{prove_cairo, AirKernels};
use starfarm_kernels::emulated_device::EmulatedDevice;
use starfarm_kernels::resident::{
    op_counts, proof_fallbacks, prove_with_fallback, Op, ResidentDevice,
};
use starfarm_kernels::KernelError;
use starfarm_prover::artifact::ProofCodec;
use starfarm_prover::prover::{parameters, precompute};
use starfarm_prover::{CairoProgram, Execution, Felt, ProgramInput, SecurityProfile};
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant;

/// The proof as the prover's artifacts hold it (`ProofCodec`: bincode of the verifier's form).
fn encode(proof: CairoProof<Blake2sMerkleHasher>) -> Vec<u8> {
    ProofCodec::encode(&CairoProofForRustVerifier::from(proof)).expect("encodes")
}

/// [`starfarm_air::resident::prove_cairo`] on the emulated device, with the prover's
/// parameters for `profile`.
fn prove_resident<D: ResidentDevice>(
    device: &D,
    execution: &Execution,
    profile: SecurityProfile,
    variant: PreProcessedTraceVariant,
) -> CairoProof<Blake2sMerkleHasher> {
    let air = starfarm_air::extract().expect("extracts");
    let kernels = AirKernels::load(device, &air).expect("the generated CUDA compiles");
    prove_cairo(
        &air,
        &kernels,
        execution.adapt().expect("adapts"),
        parameters(profile, variant),
    )
    .expect("proves")
}

/// fibonacci(100), executed, and the preprocessed trace it is proven with.
fn fibonacci() -> (Execution, PreProcessedTraceVariant) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program = CairoProgram::from_file(&root.join("examples/fibonacci.json")).expect("loads");
    let input = ProgramInput::new(vec![Felt::from(100u64)]);
    let execution =
        starfarm_prover::execute(&program, &input, Default::default()).expect("executes");
    let variant = starfarm_prover::choose_variant(&execution).expect("a variant");
    (execution, variant)
}

/// The prover's `SimdBackend` proof (its precompute dropped before returning), encoded.
fn prove_simd(
    execution: &Execution,
    profile: SecurityProfile,
    variant: PreProcessedTraceVariant,
) -> Vec<u8> {
    let warm = precompute::<Blake2sMerkleChannel>(variant, profile);
    let proof = warm
        .prove(
            execution.adapt().expect("adapts"),
            parameters(profile, variant),
        )
        .expect("SimdBackend proves");
    encode(proof)
}

/// The same proof on CUDA device 0 (`--features cuda`): byte for byte, verified. Skipped
/// without a GPU unless `STARFARM_REQUIRE_CUDA=1`. Never run yet.
#[cfg(feature = "cuda")]
#[test]
fn a_cairo_proof_on_cuda_is_the_simd_proof_byte_for_byte() {
    use starfarm_kernels::cuda_device::CudaDevice;
    let device = match CudaDevice::instance() {
        Ok(device) => device,
        Err(e) if std::env::var("STARFARM_REQUIRE_CUDA").is_ok_and(|v| v == "1") => {
            panic!("CUDA is required: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: no CUDA device: {e}");
            return;
        }
    };
    let (execution, variant) = fibonacci();
    let profile = SecurityProfile::Test;
    let simd_bytes = prove_simd(&execution, profile, variant);
    let started = Instant::now();
    let proof = prove_resident(device, &execution, profile, variant);
    eprintln!("resident proof (CUDA) in {:?}", started.elapsed());
    assert!(encode(proof.clone()) == simd_bytes, "byte for byte");
    verify_cairo_ex::<Blake2sMerkleChannel>(proof.into(), false)
        .expect("cairo-air's verifier accepts it");
}

#[test]
fn a_cairo_proof_on_the_resident_backend_is_the_simd_proof_byte_for_byte() {
    let device = match EmulatedDevice::instance() {
        Ok(d) => d,
        Err(KernelError::NoDevice { reason, .. }) => {
            eprintln!("SKIPPED: the resident Cairo proof needs the emulated device: {reason}");
            return;
        }
        Err(e) => panic!("emulated device: {e}"),
    };
    let (execution, variant) = fibonacci();
    let profile = SecurityProfile::Test;
    let started = Instant::now();
    let prove_simd = || prove_simd(&execution, profile, variant);
    let simd_bytes = prove_simd();
    eprintln!("SimdBackend proof in {:?}", started.elapsed());

    let before = op_counts();
    let launches = device.launches();
    let transfers = device.transfers();
    let by_crossing = device.transfers_by_crossing();
    let started = Instant::now();
    let resident = prove_resident(device, &execution, profile, variant);
    eprintln!(
        "resident proof (emulated device) in {:?}",
        started.elapsed()
    );
    let launches = device.launches() - launches;
    let transfers = device.transfers().since(&transfers);
    let by_crossing: Vec<String> = device
        .transfers_by_crossing()
        .iter()
        .zip(&by_crossing)
        .map(|((cause, now), (_, was))| (cause, now.since(was)))
        .filter(|(_, t)| t.uploads + t.downloads > 0)
        .map(|(cause, t)| format!("  {cause:?}: {t}"))
        .collect();
    let resident_bytes = encode(resident.clone());
    assert!(
        resident_bytes == simd_bytes,
        "the resident proof equals SimdBackend's byte for byte ({} and {} bytes)",
        resident_bytes.len(),
        simd_bytes.len()
    );
    let quotients = |counts: &[(Op, starfarm_kernels::resident::OpCount)]| {
        counts
            .iter()
            .find(|(op, _)| *op == Op::ComponentQuotients)
            .map(|(_, c)| *c)
            .expect("counted")
    };
    let (now, was) = (quotients(&op_counts()), quotients(&before));
    assert!(now.device > was.device, "constraints ran on the device");
    assert_eq!(now.host, was.host, "no component fell back to the host");
    let ran: Vec<String> = op_counts()
        .iter()
        .zip(&before)
        .map(|((op, c), (_, b))| (op, c.device - b.device, c.host - b.host))
        .filter(|(_, d, h)| d + h > 0)
        .map(|(op, d, h)| format!("{op:?} {d}/{h}"))
        .collect();
    eprintln!(
        "{launches} launches; {transfers}; operations on the device/host: {}",
        ran.join(", ")
    );
    eprintln!("transfers by cause:\n{}", by_crossing.join("\n"));
    verify_cairo_ex::<Blake2sMerkleChannel>(resident.into(), false)
        .expect("cairo-air's verifier accepts it");

    // A device fault halfway through the launches: the job is proven on the CPU instead,
    // counted, and the proof is the same bytes (no partial device proof comes out).
    let fallbacks = proof_fallbacks();
    device.inject_fault_after(launches / 2);
    let (bytes, fault) = prove_with_fallback(
        || encode(prove_resident(device, &execution, profile, variant)),
        prove_simd,
    );
    assert!(
        fault.is_some(),
        "the injected fault interrupted the device proof"
    );
    assert_eq!(proof_fallbacks(), fallbacks + 1, "the fallback is counted");
    assert!(
        bytes == simd_bytes,
        "the CPU proof of the job is the same bytes"
    );
}
