//! The signature example uses ec_op, which needs another preprocessed trace than the other
//! examples: it gets its own test binary (and so its own process and memory).

use std::path::PathBuf;

use starfarm_prover::artifact::PreProcessedTraceVariant;
use starfarm_prover::{verify, CairoProgram, Felt, ProgramInput, Prover, SecurityProfile};

#[test]
fn signature_example_proves_valid_and_invalid_signatures() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program = CairoProgram::from_file(&root.join("examples/signature.json")).expect("loads");
    let input_bytes = std::fs::read(root.join("examples/signature.input.json")).expect("input");
    let input = ProgramInput::from_json(&input_bytes, "signature.input.json").expect("parses");

    let mut prover = Prover::new(SecurityProfile::Test);
    let artifact = prover.prove(&program, &input, &mut |_| {}).expect("proves");
    let verified = verify(&artifact, 0).expect("valid");
    // [message, key, valid] per signature; the second was made over another message.
    assert_eq!(verified.output.len(), 6);
    assert_eq!(verified.output[0], input.felts[0]);
    assert_eq!(verified.output[2], Felt::ONE);
    assert_eq!(verified.output[5], Felt::ZERO);
    assert!(artifact
        .header
        .builtins
        .get("ec_op")
        .is_some_and(|n| *n > 0));
    // ec_op rules out the small preprocessed trace; no Pedersen, so not the full one either.
    assert_eq!(
        artifact.header.preprocessed_trace,
        PreProcessedTraceVariant::CanonicalWithoutPedersen
    );
}
