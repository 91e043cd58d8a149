//! The interpreter on real proofs (`test` security profile): the composition polynomial's
//! value at the out-of-domain point, computed from the IR and the proof's sampled values,
//! equals the value stwo's verifier computes (and the one the prover committed to); changing
//! one sampled value of any tree changes it.
//!
//! One `Prover` for the binary, behind a mutex: one warm preprocessed trace at a time.

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use num_traits::One;
use starfarm_air::replay::replay;
use starfarm_air::Air;
use starfarm_prover::artifact::{PreProcessedTraceVariant, ProofArtifact, ProofCodec};
use starfarm_prover::{CairoProgram, Felt, ProgramInput, Prover, SecurityProfile};
use stwo::core::fields::qm31::QM31;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;

static AIR: LazyLock<Air> = LazyLock::new(|| starfarm_air::extract().expect("extracts"));
static PROVER: LazyLock<Mutex<Prover>> =
    LazyLock::new(|| Mutex::new(Prover::new(SecurityProfile::Test)));

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn prove(name: &str, input: ProgramInput) -> ProofArtifact {
    let program =
        CairoProgram::from_file(&root().join(format!("examples/{name}.json"))).expect("loads");
    let mut prover = PROVER.lock().unwrap_or_else(|e| e.into_inner());
    prover.prove(&program, &input, &mut |_| {}).expect("proves")
}

fn felts(values: &[u64]) -> ProgramInput {
    ProgramInput::new(values.iter().map(|v| Felt::from(*v)).collect())
}

/// The checks of this file on one proof; returns the component names it used.
fn check(artifact: &ProofArtifact) -> Vec<String> {
    let air = &*AIR;
    let proof = ProofCodec::decode(&artifact.proof).expect("decodes");
    let oods = replay::<Blake2sMerkleChannel>(&proof).expect("replays");
    let sampled = &proof.stark_proof.sampled_values;

    let stwo = oods.stwo_composition(sampled);
    assert_eq!(
        Some(stwo),
        oods.committed_composition(sampled),
        "a valid proof's composition matches its commitment"
    );
    let interpreted = oods
        .interpreted_composition(air, sampled)
        .expect("interprets");
    assert_eq!(interpreted, stwo, "interpreter equals stwo's verifier");

    // One sampled value changed, in the preprocessed, trace and interaction trees: a column
    // the composition depends on (a lookup table no instruction used has zero multiplicities
    // and cumulative sums, so its columns do not move the value; stwo's value tells which do).
    for tree in 0..3 {
        let mut found = false;
        for column in (0..sampled[tree].len()).filter(|c| !sampled[tree][*c].is_empty()) {
            let mut changed = sampled.clone();
            changed[tree][column][0] += QM31::one();
            let expected = oods.stwo_composition(&changed);
            if expected == stwo {
                continue;
            }
            let value = oods
                .interpreted_composition(air, &changed)
                .expect("interprets");
            assert_ne!(
                value, interpreted,
                "tree {tree}: a changed sample changes the value"
            );
            assert_eq!(value, expected, "tree {tree}: still equals stwo's");
            found = true;
            break;
        }
        assert!(found, "tree {tree}: some sampled value matters");
    }
    oods.instances(air)
        .expect("instances")
        .iter()
        .map(|i| air.components[i.component].name.clone())
        .collect()
}

#[test]
fn fibonacci_and_pedersen_proofs_composition_equals_stwo_verifier() {
    let fib = prove("fibonacci", felts(&[300]));
    assert_eq!(
        fib.header.preprocessed_trace,
        PreProcessedTraceVariant::CanonicalSmall
    );
    let used = check(&fib);
    assert!(used
        .iter()
        .any(|c| c == "add_opcode_small" || c == "add_opcode"));

    let pedersen = prove("pedersen_chain", felts(&[1, 2, 3]));
    let used = check(&pedersen);
    assert!(
        used.iter().any(|c| c.starts_with("pedersen_builtin")),
        "the Pedersen program uses a Pedersen component: {used:?}"
    );
}

/// The signature example uses ec_op (the `CanonicalWithoutPedersen` trace, ~7 GiB warm; the
/// shared prover drops the previous trace first).
#[test]
fn ec_op_proof_composition_equals_stwo_verifier() {
    let bytes = std::fs::read(root().join("examples/signature.input.json")).expect("input");
    let input = ProgramInput::from_json(&bytes, "signature.input.json").expect("parses");
    let artifact = prove("signature", input);
    let used = check(&artifact);
    assert!(used.iter().any(|c| c == "ec_op_builtin"), "{used:?}");
}
