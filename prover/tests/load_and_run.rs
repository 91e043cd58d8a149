//! Loading and running programs: every bad input gets an error that names the problem.

use std::path::PathBuf;

use starfarm_prover::{
    execute, CairoProgram, ExecuteError, Execution, ExecutionLimits, Felt, ProgramError,
    ProgramInput,
};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn program(path: &str) -> CairoProgram {
    CairoProgram::from_file(&repo(path)).expect("program loads")
}

fn felts(values: &[u64]) -> ProgramInput {
    ProgramInput::new(values.iter().map(|v| Felt::from(*v)).collect())
}

fn run(path: &str, input: &[u64]) -> Result<Execution, ExecuteError> {
    execute(&program(path), &felts(input), Default::default())
}

#[test]
fn fibonacci_outputs_its_input_and_result() {
    let execution = run("examples/fibonacci.json", &[10]).expect("runs");
    assert_eq!(execution.output, vec![Felt::from(10u8), Felt::from(55u8)]);
    assert!(execution.steps > 50, "steps {}", execution.steps);
    assert_eq!(execution.builtins.get("output"), Some(&2));
    assert!(!execution.uses("pedersen"));
}

#[test]
fn program_not_compiled_in_proof_mode_is_refused() {
    let err = CairoProgram::from_file(&repo("tests/programs/not_proof_mode.json")).unwrap_err();
    assert!(matches!(err, ProgramError::NotProofMode { .. }), "{err}");
    assert!(
        err.to_string().contains("cairo-compile --proof_mode"),
        "{err}"
    );
}

#[test]
fn program_with_missing_builtins_is_refused() {
    let err = CairoProgram::from_file(&repo("tests/programs/missing_builtins.json")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ProgramError::Builtins { .. }), "{text}");
    assert!(text.contains("missing: pedersen, ecdsa, bitwise"), "{text}");
}

#[test]
fn missing_file_names_the_path() {
    let err = CairoProgram::from_file(&repo("examples/nope.json")).unwrap_err();
    assert!(matches!(err, ProgramError::Io { .. }), "{err}");
    assert!(err.to_string().contains("nope.json"), "{err}");
}

#[test]
fn step_limit_stops_the_run() {
    let limits = ExecutionLimits { max_steps: 1000 };
    let err = execute(
        &program("examples/fibonacci.json"),
        &felts(&[100_000]),
        limits,
    )
    .unwrap_err();
    assert!(
        matches!(err, ExecuteError::StepLimit { limit: 1000 }),
        "{err}"
    );
}

#[test]
fn failing_assert_reports_the_cairo_location() {
    let err = run("tests/programs/failing_assert.json", &[42]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ExecuteError::Failed(_)), "{text}");
    assert!(
        text.contains("failing_assert.cairo:"),
        "no source location in: {text}"
    );
}

#[test]
fn wrong_input_shape_fails_with_the_programs_own_check() {
    // fibonacci asserts `input_len = 1`.
    let err = run("examples/fibonacci.json", &[1, 2]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("fibonacci.cairo:"), "{text}");
    assert!(
        text.contains("ASSERT_EQ instruction failed: 2 != 1"),
        "{text}"
    );
}

#[test]
fn empty_input_is_read_as_zero_felts() {
    let execution = run("examples/pedersen_chain.json", &[]).expect("runs");
    assert_eq!(execution.output, vec![Felt::ZERO, Felt::ZERO]);
}
