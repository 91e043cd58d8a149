//! Proofs with the Keccak channel: they verify (through `verify_cairo::<Keccak256MerkleChannel>`),
//! any flipped byte fails them, they prove the same output and fact as Blake2s proofs, and
//! artifacts written before the channel existed still read and verify.
//!
//! One warm `Prover` is shared by all tests of this binary; switching its channel drops the
//! other channel's precompute, so one preprocessed trace is held at a time.

mod common;

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use starfarm_prover::artifact::ProofArtifact;
use starfarm_prover::channel::ChannelKind;
use starfarm_prover::{
    verify, CairoProgram, Felt, ProgramInput, ProveError, Prover, SecurityProfile, VerifyError,
};

static PROVER: LazyLock<Mutex<Prover>> =
    LazyLock::new(|| Mutex::new(Prover::new(SecurityProfile::Test)));

/// fibonacci(100) with the test profile on the Keccak channel, proven once.
static KECCAK_FIB: LazyLock<ProofArtifact> =
    LazyLock::new(|| prove("fibonacci", &[100], ChannelKind::Keccak).expect("proves"));

fn example(name: &str) -> CairoProgram {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/{name}.json"));
    CairoProgram::from_file(&path).expect("example loads")
}

fn prove(name: &str, input: &[u64], channel: ChannelKind) -> Result<ProofArtifact, ProveError> {
    let input = ProgramInput::new(input.iter().map(|v| Felt::from(*v)).collect());
    let mut guard = PROVER.lock().unwrap_or_else(|e| e.into_inner());
    let prover = std::mem::replace(&mut *guard, Prover::new(SecurityProfile::Test));
    *guard = prover.with_channel(channel);
    guard.prove(&example(name), &input, &mut |_| {})
}

#[test]
fn keccak_proof_verifies_and_records_its_channel() {
    let artifact = &*KECCAK_FIB;
    assert_eq!(artifact.header.channel, ChannelKind::Keccak);
    let verified = verify(artifact, 0).expect("valid");
    assert_eq!(verified.program_hash, example("fibonacci").hash());
    // The channel survives the artifact's bytes (it is written for keccak).
    let bytes = artifact.to_bytes().expect("encodes");
    let decoded = ProofArtifact::from_bytes(&bytes).expect("decodes");
    assert_eq!(decoded.header.channel, ChannelKind::Keccak);
    assert!(verify(&decoded, 0).is_ok());
}

#[test]
fn keccak_proofs_of_the_poseidon_and_pedersen_examples_verify() {
    let poseidon = prove("poseidon_chain", &[5, 7], ChannelKind::Keccak).expect("proves");
    let verified = verify(&poseidon, 0).expect("poseidon proof valid");
    assert_eq!(verified.output[..2], [Felt::from(5u8), Felt::from(7u8)]);
    let pedersen = prove("pedersen_chain", &[1, 2, 3], ChannelKind::Keccak).expect("proves");
    assert_eq!(pedersen.header.channel, ChannelKind::Keccak);
    let verified = verify(&pedersen, 0).expect("pedersen proof valid");
    assert_eq!(verified.output[0], Felt::THREE);
}

#[test]
fn a_keccak_proof_does_not_verify_as_blake2s() {
    let mut relabelled = KECCAK_FIB.clone();
    relabelled.header.channel = ChannelKind::Blake2s;
    let err = verify(&relabelled, 0).expect_err("blake2s verifier accepted a keccak proof");
    assert!(
        matches!(err, VerifyError::Stark(_) | VerifyError::Decode(_)),
        "{err}"
    );
}

#[test]
fn flipping_any_part_of_a_keccak_proof_invalidates_it() {
    // 96 positions cover every part of the proof: claim, interaction claim, commitments,
    // sampled values, decommitments, FRI layers, PoW nonces.
    common::assert_every_flip_fails(&KECCAK_FIB, 96);
}

#[test]
fn blake2s_and_keccak_prove_the_same_output_and_fact() {
    let blake = prove("fibonacci", &[100], ChannelKind::Blake2s).expect("proves");
    let keccak = &*KECCAK_FIB;
    assert_eq!(blake.header.channel, ChannelKind::Blake2s);
    let (b, k) = (
        verify(&blake, 0).expect("blake2s valid"),
        verify(keccak, 0).expect("keccak valid"),
    );
    assert_eq!(b.output, k.output);
    assert_eq!(b.fact, k.fact);
    assert_eq!(b.program_hash, k.program_hash);
    assert_ne!(
        blake.proof, keccak.proof,
        "different channels, different proofs"
    );
}

#[test]
fn the_l1_profile_refuses_the_blake2s_channel() {
    let mut prover = Prover::new(SecurityProfile::L1).with_channel(ChannelKind::Blake2s);
    let err = prover
        .prove(
            &example("fibonacci"),
            &ProgramInput::new(vec![Felt::from(5u8)]),
            &mut |_| {},
        )
        .expect_err("l1 with blake2s");
    assert!(matches!(err, ProveError::Channel(_)), "{err}");
    assert_eq!(
        Prover::new(SecurityProfile::L1).channel(),
        ChannelKind::Keccak
    );

    // A header claiming l1 with blake2s is refused before any proof is read.
    let mut forged = KECCAK_FIB.clone();
    forged.header.profile = SecurityProfile::L1;
    forged.header.channel = ChannelKind::Blake2s;
    assert!(matches!(verify(&forged, 0), Err(VerifyError::Mismatch(_))));
}

/// `testdata/fibonacci-10-test-before-keccak.starfarm.bz2`: `fibonacci(10)` proven with the test
/// profile by the build before this channel existed (commit ee579a9), bzip2-compressed.
#[test]
fn artifacts_from_before_the_channel_field_still_read_and_verify() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/fibonacci-10-test-before-keccak.starfarm.bz2");
    let compressed = std::fs::read(&path).expect("fixture present");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut bzip2::read::BzDecoder::new(compressed.as_slice()),
        &mut bytes,
    )
    .expect("fixture decompresses");
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
    let header = std::str::from_utf8(&bytes[16..16 + header_len]).expect("JSON header");
    assert!(
        !header.contains("channel"),
        "the fixture predates the field"
    );

    let artifact = ProofArtifact::from_bytes(&bytes).expect("old artifact reads");
    assert_eq!(artifact.header.channel, ChannelKind::Blake2s);
    let verified = verify(&artifact, 0).expect("old artifact verifies");
    assert_eq!(verified.output, vec![Felt::from(10u8), Felt::from(55u8)]);
    // Written again, it is the same bytes: blake2s headers leave the field out.
    assert_eq!(artifact.to_bytes().expect("encodes"), bytes);
}
