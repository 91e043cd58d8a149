//! The batched signature check in Cairo (`cairo/starfarm/batch_ecdsa.cairo`, run through
//! `sequencer/cairo/signature_batch.json` with cairo-vm) against its native twin
//! (`starfarm_sequencer::batch_ecdsa`): valid batches pass; one forged signature at any
//! position fails; a malleated signature (r, n − s) fails (low-s rule, docs/sequencer.md,
//! "Malleability"), and so does the other y of R or Q; hints made with coefficients of the
//! prover's choosing fail. `-- --nocapture` prints steps per signature.

use std::path::PathBuf;
use std::sync::OnceLock;

use starfarm_prover::{execute, CairoProgram, ExecutionLimits, ProgramInput};
use starfarm_sequencer::batch_ecdsa::{BatchEcdsaError, BatchInput, SignedHash};
use starfarm_sequencer::ecdsa::{EC_ORDER, HALF_ORDER};
use starfarm_sequencer::testing::Rng;
use starfarm_sequencer::Felt;

fn program() -> &'static CairoProgram {
    static PROGRAM: OnceLock<CairoProgram> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cairo/signature_batch.json");
        CairoProgram::from_file(&path)
            .expect("sequencer/cairo/signature_batch.json loads (scripts/compile-cairo.sh)")
    })
}

/// Runs the program on a batch: its steps, or cairo-vm's error.
fn run(batch: &BatchInput) -> Result<u64, String> {
    let input = ProgramInput::new(batch.to_felts());
    let execution =
        execute(program(), &input, ExecutionLimits::default()).map_err(|e| e.to_string())?;
    assert_eq!(
        execution.output,
        vec![Felt::from(batch.records().len())],
        "the program outputs the batch size"
    );
    assert!(
        !execution.uses("ec_op"),
        "the batched check must not use the ec_op builtin"
    );
    Ok(execution.steps)
}

fn valid(seed: u64, n: usize) -> Vec<SignedHash> {
    let mut rng = Rng(seed);
    (0..n).map(|_| rng.signed_hash()).collect()
}

fn batch(sigs: &[SignedHash]) -> BatchInput {
    BatchInput::new(sigs).expect("hashes, r and s below 2^251")
}

fn assert_fails(batch: &BatchInput, what: &str) {
    match run(batch) {
        Ok(steps) => panic!("{what}: the program accepted the batch ({steps} steps)"),
        Err(e) => assert!(
            starfarm_sequencer::testing::refused_by_a_check(&e),
            "{what}: failed for another reason than a check: {e}"
        ),
    }
}

#[test]
fn valid_batches_pass_and_steps_per_signature_are_measured() {
    let empty = run(&batch(&[])).expect("an empty batch passes");
    println!("empty batch: {empty} steps");
    let mut previous = (0, empty);
    for n in [1usize, 10, 100] {
        let sigs = valid(n as u64, n);
        for s in &sigs {
            assert!(starknet_crypto::verify(&s.public_key, &s.hash, &s.r, &s.s).unwrap_or(false));
        }
        let steps = run(&batch(&sigs)).expect("a valid batch passes");
        println!(
            "{n} signatures: {steps} steps, {} per signature over the empty batch, {} per \
             signature from {} signatures",
            (steps - empty) / n as u64,
            (steps - previous.1) / (n - previous.0) as u64,
            previous.0
        );
        previous = (n, steps);
    }
}

#[test]
fn one_forged_signature_at_any_position_fails() {
    let n = 7;
    for position in [0, 3, n - 1] {
        let mut sigs = valid(40 + position as u64, n);
        run(&batch(&sigs)).expect("the untampered batch passes");
        sigs[position].s += Felt::ONE;
        assert_fails(&batch(&sigs), &format!("s + 1 at {position}"));

        let mut sigs = valid(50 + position as u64, n);
        sigs[position].hash += Felt::ONE;
        assert_fails(&batch(&sigs), &format!("another message at {position}"));

        // A valid signature by another key.
        let mut sigs = valid(60 + position as u64, n);
        let other = valid(70 + position as u64, 1)[0];
        sigs[position].r = other.r;
        sigs[position].s = other.s;
        sigs[position].hash = other.hash;
        assert_fails(
            &batch(&sigs),
            &format!("another key's signature at {position}"),
        );
    }
}

/// (r, n − s) is a second signature of the same hash by the same key (R's other y), which
/// starknet-crypto accepts. The program accepts only the canonical one, s ≤ (n − 1)/2: the
/// malleated signature fails even with hints that satisfy the batch equation, and the native
/// twin refuses to build it. What the prover supplies (R's and Q's y) cannot be malleated
/// either: the other y fails.
#[test]
fn a_malleated_signature_fails_and_so_does_a_malleated_hint() {
    let n = 5;
    for position in [0, 2, n - 1] {
        let mut sigs = valid(80 + position as u64, n);
        assert!(
            sigs.iter().all(|s| s.s <= HALF_ORDER),
            "KeyPair::sign gives low s"
        );
        let s = &mut sigs[position];
        s.s = EC_ORDER - s.s;
        assert!(starknet_crypto::verify(&s.public_key, &s.hash, &s.r, &s.s).unwrap_or(false));
        assert_eq!(
            BatchInput::new(&sigs).err(),
            Some(BatchEcdsaError::HighS { index: position })
        );
        let malleated = BatchInput::unchecked(&sigs);
        assert!(
            malleated.equation_holds(),
            "(r, n - s) satisfies the batch equation"
        );
        assert_fails(&malleated, &format!("(r, n - s) at {position}"));

        let mut tampered = batch(&valid(90 + position as u64, n));
        let mut record = tampered.records()[position];
        record[5] = -record[5];
        tampered.set_record(position, record);
        assert_fails(&tampered, &format!("R's other y at {position}"));

        let mut tampered = batch(&valid(95 + position as u64, n));
        let mut record = tampered.records()[position];
        record[4] = -record[4];
        tampered.set_record(position, record);
        assert_fails(&tampered, &format!("Q's other y at {position}"));
    }
}

/// The coefficients are not part of the input: the program draws them from a Poseidon
/// transcript of every record and checks the hinted digits against its own products. A prover
/// who picks coefficients (here 0 for the forged signature, which cancels it) gets a batch
/// whose equation holds natively, yet the program refuses its digits; with the transcript's
/// coefficients the same forged batch does not satisfy the equation at all.
#[test]
fn coefficients_chosen_by_the_prover_cannot_pass_a_forged_batch() {
    let n = 6;
    for position in [0, 4] {
        let mut sigs = valid(100 + position as u64, n);
        sigs[position].s += Felt::ONE;
        let honest = batch(&sigs);
        assert!(
            !honest.equation_holds(),
            "a forged batch fails the equation"
        );
        assert_fails(&honest, "forged batch, transcript coefficients");

        let crafted = starfarm_sequencer::testing::with_zero_coefficient_at(&honest, position);
        assert!(
            crafted.equation_holds(),
            "with the forged signature's coefficient 0 the equation holds"
        );
        assert_fails(&crafted, "forged batch, coefficients chosen by the prover");
    }
}
