//! Proving and verifying with the fast `test` profile, and refusing tampered artifacts.
//!
//! One warm `Prover` is shared by all tests of this binary (a prover per test would hold
//! several preprocessed traces at once and exhaust memory).

mod common;

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use starfarm_prover::artifact::{PreProcessedTraceVariant, ProofArtifact};
use starfarm_prover::fact::{fact, hex32};
use starfarm_prover::{
    verify, ArtifactError, CairoProgram, Felt, ProgramInput, Prover, SecurityProfile, VerifyError,
};

static PROVER: LazyLock<Mutex<Prover>> =
    LazyLock::new(|| Mutex::new(Prover::new(SecurityProfile::Test)));

/// fibonacci(300) proven once for every test that needs an artifact.
static FIB_PROOF: LazyLock<ProofArtifact> = LazyLock::new(|| prove("fibonacci", &[300]));

fn example(name: &str) -> CairoProgram {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/{name}.json"));
    CairoProgram::from_file(&path).expect("example loads")
}

fn prove(name: &str, input: &[u64]) -> ProofArtifact {
    let input = ProgramInput::new(input.iter().map(|v| Felt::from(*v)).collect());
    let mut prover = PROVER.lock().unwrap_or_else(|e| e.into_inner());
    prover
        .prove(&example(name), &input, &mut |_| {})
        .expect("proves")
}

#[test]
fn fibonacci_proof_verifies_and_states_its_claims() {
    let artifact = &*FIB_PROOF;
    let verified = verify(artifact, 0).expect("valid");
    let program = example("fibonacci");
    assert_eq!(verified.program_hash, program.hash());
    // fib(300) mod P, computed independently.
    let (mut a, mut b) = (Felt::ZERO, Felt::ONE);
    for _ in 0..300 {
        (a, b) = (b, a + b);
    }
    assert_eq!(verified.output, vec![Felt::from(300u32), a]);
    assert_eq!(
        verified.fact,
        hex32(&fact(program.hash(), &verified.output))
    );
    let h = &artifact.header;
    assert_eq!(h.security_bits, SecurityProfile::Test.security_bits());
    assert_eq!(h.profile, SecurityProfile::Test);
    assert!(h.steps > 1000);
    // No ec_op and a small run: the smallest preprocessed trace (~1.6 GiB instead of ~16).
    assert_eq!(
        h.preprocessed_trace,
        PreProcessedTraceVariant::CanonicalSmall
    );
    // Survives encoding to bytes and back.
    let decoded =
        ProofArtifact::from_bytes(&artifact.to_bytes().expect("encodes")).expect("decodes");
    assert_eq!(&decoded, artifact);
    assert!(verify(&decoded, 0).is_ok());
}

#[test]
fn poseidon_and_pedersen_examples_prove() {
    let poseidon = prove("poseidon_chain", &[20, 7]);
    let verified = verify(&poseidon, 0).expect("poseidon proof valid");
    assert_eq!(verified.output[..2], [Felt::from(20u8), Felt::from(7u8)]);
    assert!(poseidon
        .header
        .builtins
        .get("poseidon")
        .is_some_and(|n| *n == 20));

    let pedersen = prove("pedersen_chain", &[1, 2, 3]);
    let verified = verify(&pedersen, 0).expect("pedersen proof valid");
    assert_eq!(verified.output[0], Felt::THREE);
}

#[test]
fn flipping_proof_bytes_invalidates_it() {
    common::assert_every_flip_fails(&FIB_PROOF, 48);
}

#[test]
fn changing_an_output_felt_invalidates_it() {
    let mut tampered = FIB_PROOF.clone();
    tampered.header.output[1] += Felt::ONE;
    let err = verify(&tampered, 0).unwrap_err();
    assert!(err.to_string().contains("output[1]"), "{err}");

    // Even with a fact recomputed to match the forged output.
    tampered.header.fact = hex32(&fact(tampered.header.program_hash, &tampered.header.output));
    assert!(matches!(
        verify(&tampered, 0),
        Err(VerifyError::Mismatch(_))
    ));
}

#[test]
fn claiming_another_program_or_more_security_is_refused() {
    let mut other = FIB_PROOF.clone();
    other.header.program_hash = example("poseidon_chain").hash();
    assert!(matches!(verify(&other, 0), Err(VerifyError::Mismatch(_))));

    let mut stronger = FIB_PROOF.clone();
    stronger.header.security_bits = 96;
    assert!(matches!(
        verify(&stronger, 0),
        Err(VerifyError::Mismatch(_))
    ));

    let err = verify(&FIB_PROOF, 96).unwrap_err();
    assert!(
        matches!(err, VerifyError::TooWeak { required: 96, .. }),
        "{err}"
    );
}

#[test]
fn truncated_artifacts_are_unreadable_not_invalid() {
    let bytes = FIB_PROOF.to_bytes().expect("encodes");
    for len in [0, 5, 12, 40, bytes.len() / 2, bytes.len() - 1] {
        let err = ProofArtifact::from_bytes(&bytes[..len]).unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::Truncated(_) | ArtifactError::BadMagic | ArtifactError::Header(_)
            ),
            "length {len}: {err}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        ProofArtifact::from_bytes(&longer),
        Err(ArtifactError::TrailingBytes(1))
    ));
}
