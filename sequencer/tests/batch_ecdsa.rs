//! The batched signature check in Cairo (`cairo/starfarm/batch_ecdsa.cairo`, run through
//! `sequencer/cairo/signature_batch.json` with cairo-vm) against its native twin
//! (`starfarm_sequencer::batch_ecdsa`): valid batches pass; one forged signature at any
//! position fails; a malleated signature (r, n − s) fails (low-s rule, docs/sequencer.md,
//! "Malleability"), and so does the other y of R or Q; hints made with coefficients of the
//! prover's choosing fail; half-length multipliers that do not satisfy the program's identities
//! mod n (v = 0, a wrong k, a wrong sign, μ and v swapped, an oversized v) fail.
//! `-- --nocapture` prints steps per signature.

use std::path::PathBuf;
use std::sync::OnceLock;

use num_bigint::BigInt;
use starfarm_prover::{execute, CairoProgram, Execution, ExecutionLimits, ProgramInput};
use starfarm_sequencer::batch_ecdsa::{
    BatchEcdsaError, BatchInput, Bound, Multipliers, SignedHash, HINT_DIGITS, HINT_V,
    SIGNATURE_HINT_SIZE, SIGNATURE_SIZE,
};
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
    run_execution(batch).map(|e| e.steps)
}

/// Runs the program on a batch and checks its output: the run, or cairo-vm's error.
fn run_execution(batch: &BatchInput) -> Result<Execution, String> {
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
    Ok(execution)
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

/// Where a batch of 100 signatures' steps go (docs/sequencer.md, "Where a signature's steps
/// go"): steps per function and builtin instances, per signature, printed with
/// `-- --nocapture`. The shares are checked loosely, so that the table stays the program's.
#[test]
fn steps_per_function_of_a_batch_of_100() {
    let n = 100u64;
    let execution = run_execution(&batch(&valid(100, n as usize))).expect("a valid batch passes");
    let rows = execution.steps_by_function(program());
    assert_eq!(
        rows.iter().map(|r| r.steps).sum::<u64>(),
        execution.steps,
        "every step is charged to one function"
    );
    println!(
        "{n} signatures: {} steps, {:.1} per signature",
        execution.steps,
        execution.steps as f64 / n as f64
    );
    println!("| function | steps / signature | share | calls / signature |");
    println!("|---|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.1} | {:.1} % | {:.2} |",
            r.name.trim_start_matches("starfarm.batch_ecdsa."),
            r.steps as f64 / n as f64,
            100.0 * r.steps as f64 / execution.steps as f64,
            r.calls as f64 / n as f64
        );
    }
    for (builtin, count) in &execution.builtins {
        println!("{builtin}: {:.1} per signature", *count as f64 / n as f64);
    }
    let batch_ecdsa: u64 = rows
        .iter()
        .filter(|r| r.name.starts_with("starfarm.batch_ecdsa."))
        .map(|r| r.steps)
        .sum();
    assert!(
        batch_ecdsa * 10 >= execution.steps * 9,
        "the batched check is most of the program's steps"
    );
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
        let malleated = BatchInput::unchecked(&sigs, Bound::Records);
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
/// transcript (the records' hash, then each signature's r, s, v and y parities) and checks the hinted digits against its own products. A prover
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

/// The transcript absorbs what the prover chooses besides the records' messages and keys:
/// r, s, v and the y's parities (docs/sequencer.md, "A transcript of what is not bound yet").
/// A prover who draws the coefficients, then changes one of them, keeps coefficients the
/// program does not draw: refused. The negated multipliers (−v, −μ, −w) pass with their own
/// transcript (`honest_multipliers_pass_with_either_sign`), not with the one drawn before the
/// change; the other y of R or Q fails either way.
#[test]
fn a_choice_changed_after_the_coefficients_are_drawn_is_refused() {
    let n = 5;
    for position in [0, 2, n - 1] {
        let sigs = valid(170 + position as u64, n);
        let honest = batch(&sigs);
        let drawn = honest.coefficients().to_vec();
        let sig = sigs[position];
        let m = &honest.multipliers()[position];

        let mut negated = honest.clone();
        negated.set_multipliers(
            position,
            Multipliers::with(-m.v.clone(), -m.mu.clone(), sig.hash, sig.r, sig.s),
        );
        assert_ne!(negated.coefficients(), &drawn[..], "v is in the transcript");
        run(&negated).expect("(−v, −μ, −w) with its own transcript passes");
        let stale = negated
            .with_coefficients(drawn.clone())
            .expect("one coefficient per signature");
        assert!(
            stale.equation_holds(),
            "valid signatures: the equation holds natively"
        );
        assert_fails(&stale, &format!("−v after the draw at {position}"));

        for (y, what) in [(4, "Q's"), (5, "R's")] {
            let mut other = honest.clone();
            let mut record = other.records()[position];
            record[y] = -record[y];
            other.set_record(position, record);
            assert_ne!(
                other.coefficients(),
                &drawn[..],
                "{what} y's parity is in the transcript"
            );
            let stale = other
                .with_coefficients(drawn.clone())
                .expect("one coefficient per signature");
            assert_fails(
                &stale,
                &format!("{what} other y after the draw at {position}"),
            );
        }
    }
}

/// The products' signed base-32 digits (docs/sequencer.md, "Signed 5-bit windows") are unique
/// only within [−16, 16): the same value with one digit moved out of range (d_j + 32 and
/// d_(j+1) − 1), in the first group, across the boundary between the first 13 digits and the
/// rest, in μ's digits and in G's scalar, is refused by the digits' range checks.
#[test]
fn a_digit_outside_its_signed_range_is_refused() {
    let n = 3;
    let honest = batch(&valid(180, n));
    run(&honest).expect("honest digits pass");
    // (signature, digit) or, for signature n, G's scalar (after its 6 carry felts).
    for (position, j) in [(0, 0), (1, 12), (2, 52 + 30), (n, 12), (n, 60)] {
        let mut felts = honest.to_felts();
        let hints = 1 + n * SIGNATURE_SIZE;
        let at = if position < n {
            hints + position * SIGNATURE_HINT_SIZE + HINT_DIGITS + j
        } else {
            hints + n * SIGNATURE_HINT_SIZE + 6 + j
        };
        felts[at] += Felt::from(32u8);
        felts[at + 1] -= Felt::ONE;
        match execute(
            program(),
            &ProgramInput::new(felts),
            ExecutionLimits::default(),
        ) {
            Ok(_) => panic!("digit {j} of signature {position} + 32 was accepted"),
            Err(e) => assert!(
                e.to_string().contains("Range-check validation failed"),
                "refused for another reason than the digits' range checks: {e}"
            ),
        }
    }
}

fn order() -> BigInt {
    BigInt::from(EC_ORDER.to_biguint())
}

/// A batch of `n` valid signatures with signature `position`'s multipliers replaced by
/// `change(honest multipliers, its signature)`; the coefficients are redrawn from the
/// transcript, as the program draws them.
fn with_multipliers(
    seed: u64,
    n: usize,
    position: usize,
    change: impl Fn(&Multipliers, &SignedHash) -> Multipliers,
) -> BatchInput {
    let sigs = valid(seed, n);
    let mut batch = batch(&sigs);
    let m = change(&batch.multipliers()[position], &sigs[position]);
    batch.set_multipliers(position, m);
    batch
}

/// The honest multipliers satisfy `μ·s − v·r = k·n` and `w·s − v·z = k_w·n` with
/// |v|, |μ| < 2^126; negating v, μ and w together (the other sign of the same lattice
/// vector) is as good, so the program accepts it: the signs are the prover's, bound only by
/// the identities.
#[test]
fn honest_multipliers_pass_with_either_sign() {
    let n = 4;
    let sigs = valid(110, n);
    let honest = batch(&sigs);
    for (m, sig) in honest.multipliers().iter().zip(&sigs) {
        let [z, r, s] = [sig.hash, sig.r, sig.s].map(|x| BigInt::from(x.to_biguint()));
        assert_eq!(&m.mu * &s - &m.v * &r, &m.k * order());
        assert_eq!(&m.w * &s - &m.v * &z, &m.k_w * order());
        assert!(m.v.bits() <= 126 && m.mu.bits() <= 126);
    }
    run(&honest).expect("honest multipliers pass");
    let negated = with_multipliers(110, n, 2, |m, sig| {
        Multipliers::with(-m.v.clone(), -m.mu.clone(), sig.hash, sig.r, sig.s)
    });
    assert_eq!(
        negated.multipliers()[2].w,
        order() - &honest.multipliers()[2].w
    );
    run(&negated).expect("(−v, −μ, −w) passes too");
}

/// v = 0 (so μ = w = 0, every identity trivially true) would remove a signature from the
/// batch: with a forged signature the batch equation then holds. The program refuses v = 0.
#[test]
fn v_zero_is_refused_even_where_it_would_hide_a_forged_signature() {
    let n = 5;
    for position in [0, n - 1] {
        let mut sigs = valid(120 + position as u64, n);
        sigs[position].s += Felt::ONE;
        let mut forged = batch(&sigs);
        assert!(!forged.equation_holds());
        let sig = sigs[position];
        forged.set_multipliers(
            position,
            Multipliers::with(BigInt::default(), BigInt::default(), sig.hash, sig.r, sig.s),
        );
        let m = &forged.multipliers()[position];
        assert!(m.w == BigInt::default() && m.k == BigInt::default());
        assert!(
            forged.equation_holds(),
            "with v = 0 the forged signature vanishes from the equation"
        );
        assert_fails(&forged, &format!("v = 0 at {position}"));
    }
}

/// A wrong quotient k or k_w breaks `μ·s − v·r = k·n` or `w·s − v·z = k_w·n` over the
/// integers.
#[test]
fn a_wrong_k_is_refused() {
    let n = 4;
    for position in [0, 3] {
        let bump = |k: &BigInt| k + 1;
        let batch = with_multipliers(130 + position as u64, n, position, |m, _| Multipliers {
            k: bump(&m.k),
            ..m.clone()
        });
        assert_fails(&batch, &format!("k + 1 at {position}"));
        let batch = with_multipliers(135 + position as u64, n, position, |m, _| Multipliers {
            k_w: bump(&m.k_w),
            ..m.clone()
        });
        assert_fails(&batch, &format!("k_w + 1 at {position}"));
        // w + n is the same w mod n, but with k_w unchanged the identity is off by n·s.
        let batch = with_multipliers(138 + position as u64, n, position, |m, _| Multipliers {
            w: &m.w + order(),
            ..m.clone()
        });
        assert_fails(&batch, &format!("w + n (k_w unchanged) at {position}"));
    }
}

/// The sign of v alone flipped (quotients recomputed) breaks the identity mod n; the hinted
/// sign bit flipped alone breaks it too (and changes the transcript, which absorbs it).
#[test]
fn a_wrong_sign_is_refused() {
    let n = 4;
    for position in [1, 3] {
        let tampered = with_multipliers(140 + position as u64, n, position, |m, sig| {
            Multipliers::with(-m.v.clone(), m.mu.clone(), sig.hash, sig.r, sig.s)
        });
        assert_fails(&tampered, &format!("−v at {position}"));
        let tampered = with_multipliers(145 + position as u64, n, position, |m, sig| {
            Multipliers::with(m.v.clone(), -m.mu.clone(), sig.hash, sig.r, sig.s)
        });
        assert_fails(&tampered, &format!("−μ at {position}"));

        let honest = batch(&valid(148 + position as u64, n));
        let mut felts = honest.to_felts();
        let sign_at = 1 + n * SIGNATURE_SIZE + position * SIGNATURE_HINT_SIZE + HINT_V;
        felts[sign_at] = Felt::ONE - felts[sign_at];
        let input = ProgramInput::new(felts);
        match execute(program(), &input, ExecutionLimits::default()) {
            Ok(_) => panic!("a flipped sign bit at {position} was accepted"),
            Err(e) => assert!(starfarm_sequencer::testing::refused_by_a_check(
                &e.to_string()
            )),
        }
    }
}

/// μ and v swapped: `v·s ≡ μ·r` does not hold (it would mean u² ≡ 1), so the identity fails.
#[test]
fn mu_and_v_swapped_are_refused() {
    let n = 3;
    for position in [0, 2] {
        let batch = with_multipliers(150 + position as u64, n, position, |m, sig| {
            Multipliers::with(m.mu.clone(), m.v.clone(), sig.hash, sig.r, sig.s)
        });
        assert_fails(&batch, &format!("μ and v swapped at {position}"));
    }
}

/// v + n is the same multiplier mod n (μ unchanged, k recomputed: the identities hold over
/// the integers), but |v| must be below 2^128: its limbs are refused.
#[test]
fn an_oversized_v_is_refused() {
    let n = 3;
    for position in [0, 2] {
        let batch = with_multipliers(160 + position as u64, n, position, |m, sig| {
            Multipliers::with(&m.v + order(), m.mu.clone(), sig.hash, sig.r, sig.s)
        });
        let m = &batch.multipliers()[position];
        let sig = valid(160 + position as u64, n)[position];
        let [z, r, s] = [sig.hash, sig.r, sig.s].map(|x| BigInt::from(x.to_biguint()));
        assert_eq!(
            &m.mu * &s - &m.v * &r,
            &m.k * order(),
            "still exact over the integers"
        );
        assert_eq!(&m.w * &s - &m.v * &z, &m.k_w * order());
        assert!(batch.equation_holds(), "and the batch equation holds");
        assert_fails(&batch, &format!("v + n at {position}"));
    }
}
