//! Batches: several programs in one run of the batch program, and one proof for them all.

use std::path::PathBuf;

use starfarm_prover::batch::{
    batch_program, execute_batch, parse_batch_output, task_hash, BatchTask,
};
use starfarm_prover::{
    execute, verify, CairoProgram, ExecuteError, Felt, ProgramInput, Prover, SecurityProfile,
};

fn program(path: &str) -> CairoProgram {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    CairoProgram::from_file(&path).expect("program loads")
}

fn input(path: &str) -> ProgramInput {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    let bytes = std::fs::read(&path).expect("input file");
    ProgramInput::from_json(&bytes, "input").expect("input parses")
}

fn felts(values: &[u64]) -> ProgramInput {
    ProgramInput::new(values.iter().map(|v| Felt::from(*v)).collect())
}

#[test]
fn a_batch_outputs_each_task_under_its_hash_and_proves_once() {
    let fibonacci = program("examples/fibonacci.json");
    let poseidon = program("examples/poseidon_chain.json");
    let inputs = [
        felts(&[100]),
        input("examples/poseidon_chain.input.json"),
        felts(&[7]),
    ];
    let programs = [&fibonacci, &poseidon, &fibonacci];
    let tasks: Vec<BatchTask> = programs
        .iter()
        .zip(&inputs)
        .map(|(program, input)| BatchTask { program, input })
        .collect();

    let execution = execute_batch(&tasks, Default::default()).expect("the batch runs");
    let outputs = parse_batch_output(&execution.output).expect("a batch output");
    assert_eq!(outputs.len(), 3);
    for ((task, output), program) in tasks.iter().zip(&outputs).zip(programs) {
        let alone = execute(program, task.input, Default::default()).expect("runs alone");
        assert_eq!(output.output, alone.output, "the same output as run alone");
        assert_eq!(output.task_hash, task_hash(program));
    }
    assert_ne!(outputs[0].task_hash, outputs[1].task_hash);
    assert_eq!(
        outputs[0].task_hash, outputs[2].task_hash,
        "same code, same name"
    );
    assert_ne!(
        outputs[0].output, outputs[2].output,
        "each task read its own input"
    );

    let batch = batch_program().expect("the batch program loads");
    let mut prover = Prover::new(SecurityProfile::Test);
    let artifact = prover
        .prove_execution(&batch, &execution, &mut |_| {})
        .expect("the batch proves");
    let verified = verify(&artifact, 0).expect("and verifies");
    assert_eq!(verified.program_hash, batch.hash());
    assert_eq!(parse_batch_output(&verified.output), Ok(outputs));
}

#[test]
fn a_failing_task_fails_the_batch_with_its_reason() {
    let fibonacci = program("examples/fibonacci.json");
    let failing = program("tests/programs/failing_assert.json");
    let (ok, bad) = (felts(&[5]), felts(&[42]));
    let tasks = [
        BatchTask {
            program: &fibonacci,
            input: &ok,
        },
        BatchTask {
            program: &failing,
            input: &bad,
        },
    ];
    match execute_batch(&tasks, Default::default()) {
        Err(ExecuteError::Failed(reason)) => assert!(!reason.is_empty()),
        other => panic!("expected a failed run, got {other:?}"),
    }
    let empty = execute_batch(&[], Default::default()).expect("an empty batch runs");
    assert_eq!(parse_batch_output(&empty.output), Ok(vec![]));
}
