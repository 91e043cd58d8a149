//! Block program benchmark: Cairo steps per transfer of the sequencer's block program
//! (`sequencer/cairo/block.json`), and proving a block with starfarm's warm `Prover` against
//! stwo-cairo's own `prove_cairo` (the anchor, fresh for each proof, as in `prove.rs`) on the
//! same adapted input, in the same run.
//!
//! The state holds STARFARM_BENCH_ACCOUNTS accounts, made by a genesis of deposits and
//! deploys applied natively into a contracts trie; each block of T transfers starts from that
//! state, its senders random existing accounts, its recipients random existing accounts or,
//! one in ten, new addresses. Each block is proven as one range (the whole block).
//!
//! Run: `scripts/patch-deps.sh && cargo bench --workspace --profile dev --bench block_program`.
//! Environment: STARFARM_BENCH_TRANSFERS (default 100,1000), STARFARM_BENCH_ACCOUNTS (1000),
//! STARFARM_BENCH_PROFILE (production), STARFARM_BENCH_REPS (warm proofs per size after the
//! first, 1), STARFARM_BENCH_ANCHOR=0 to skip the anchor, STARFARM_BENCH_ANCHOR_TRACE
//! (`canonical`, stwo-cairo's default as in `prove.rs`, or `without-pedersen`, the one
//! starfarm picks for this program), STARFARM_BENCH_PROVE=0 to count steps only,
//! STARFARM_BENCH_SPLIT=<n> to prove each block as chained ranges of n transfers instead of
//! one proof (for blocks that do not fit in memory whole; the previous program proves the same
//! ranges after), STARFARM_BENCH_COMPONENTS=1 to print
//! what each block's proof pays for (per AIR component: rows, columns, trace cells, by lever;
//! base trace written, nothing proven; use small sizes, e.g. 2,8,32), STARFARM_BENCH_PROGRAM
//! (another compiled block program, e.g. an A/B variant made to measure one part),
//! STARFARM_BENCH_PREVIOUS (the previous block program, layout 1 with one ec_op per signature,
//! `sequencer/cairo/anchor/block_v1.json` by default, measured on the same blocks — steps,
//! components, proofs with its own warm prover — or `0` to skip it),
//! STARFARM_BENCH_STEPS_BY_FUNCTION=1 to print where each run's steps go (per Cairo function,
//! from cairo-vm's trace; builtins per transaction), STARFARM_BENCH_PREVIOUS_LAYOUT (the input layout of STARFARM_BENCH_PREVIOUS: 1 by default,
//! 2 for a layout-2 program, e.g. `git show fb86869:sequencer/cairo/block.json`, the one
//! before the shared trie update, or 3 for a layout-3 program, e.g. `git show
//! 5065efe:sequencer/cairo/block.json`, the one before half-length scalars, or 4 for a
//! layout-4 program, e.g. `git show 0036e84:sequencer/cairo/block.json`, the one before the
//! bound transcript, or 5 for one that reads today's input). Prints the
//! steps and a proving table; writes JSON to target/bench-block-program-<sizes>.json, rewritten
//! after each measurement ("complete": false until the run ends).
//!
//! Memory (measured on a 2-core 24 GiB machine): 100 transfers (141k steps, 300 ec_op, 6.7k
//! Poseidon) peak at ~19 GiB with the warm prover and ~21.7 GiB with the anchor, against
//! ~10.7 GiB for a 2^20-step Fibonacci (prove.rs); 200 transfers (264k steps) ran out of memory
//! with the `test` profile, and 1,000 too. Prove large blocks as several ranges. Those numbers
//! are the previous program's (layout 1, ec_op); the batched-signature program (layout 2) on
//! 100 transfers (1.4M steps) peaked at 14.0 GiB in the `test` profile against 15.2 GiB for
//! layout 1 (docs/sequencer.md, "Block program without ec_op").

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use cairo_air::verifier::verify_cairo;
use serde_json::json;
use starfarm_benches::components::{by_group, claim_of, component_costs};
use starfarm_benches::{env_list, median, peak_rss_mib, reset_peak_rss};
use starfarm_prover::{
    execute, CairoProgram, Execution, ExecutionLimits, ProgramInput, Prover, SecurityProfile,
};
use starfarm_sequencer::batch_ecdsa::BatchInput;
use starfarm_sequencer::execute::{apply, touched, ExecutionStatus};
use starfarm_sequencer::program_input::{BlockOutput, BlockProverInput, RangeInput};
use starfarm_sequencer::state::AccountState;
use starfarm_sequencer::testing::Rng;
use starfarm_sequencer::trie::{MemoryNodes, Trie};
use starfarm_sequencer::tx::{Deposit, KeyPair, Transaction};
use starfarm_sequencer::Felt;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant;
use stwo_cairo_prover::prover::{prove_cairo, ChannelHash, ProverParameters};

/// Goal for the block program's marginal cost of a transfer.
const STEPS_PER_TRANSFER_GOAL: u64 = 2_000;
const BLOCK_NUMBER: u64 = 7;
const TIMESTAMP: u64 = 1_700_000_000;

/// A compiled block program and the input layout it reads: the current one, or the previous
/// program (layout 1, one ec_op per signature) kept as the anchor of the redesign
/// (`sequencer/cairo/anchor/block_v1.json`).
struct Program {
    program: CairoProgram,
    /// The input layout it reads: 1, 2, 3, 4 (`RangeInput::to_felts_v1`, `to_felts_v2`,
    /// `to_felts_v3`, `to_felts_v4`) or 0 for the current one.
    layout: u8,
}

impl Program {
    fn felts(&self, range: &RangeInput) -> Vec<Felt> {
        match self.layout {
            1 => range.to_felts_v1(),
            2 => range.to_felts_v2(),
            3 => range.to_felts_v3(),
            4 => range.to_felts_v4(),
            _ => range.to_felts(),
        }
    }

    fn input(&self, range: &RangeInput) -> ProgramInput {
        ProgramInput::new(self.felts(range))
    }
}

/// The pre-block state: the contracts trie, every account's state and the deployed keys.
struct State {
    trie: Trie<MemoryNodes>,
    states: BTreeMap<Felt, AccountState>,
    keys: Vec<KeyPair>,
}

/// `n` accounts, each funded by an L1 deposit and then deployed, applied natively.
fn genesis(rng: &mut Rng, n: usize) -> Result<State> {
    let keys: Vec<KeyPair> = (0..n).map(|_| rng.keys()).collect();
    let mut states = BTreeMap::new();
    let mut updated = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let deposit = Transaction::Deposit(Deposit {
            l1_sender: Felt::from(rng.next()) + Felt::ONE,
            recipient: k.address(),
            amount: 1_000_000 + u128::from(rng.next() % 1_000_000),
            l1_nonce: i as u64,
        });
        for tx in [deposit, Transaction::deploy_account(k)] {
            let receipt = apply(&mut states, &tx).context("genesis transaction")?;
            ensure!(receipt.execution_status == ExecutionStatus::Succeeded);
            updated.extend(touched(&tx));
        }
    }
    let updates: Vec<(Felt, Felt)> = updated
        .iter()
        .map(|a| (*a, states.get(a).copied().unwrap_or_default().leaf()))
        .collect();
    let mut trie = Trie::empty(MemoryNodes::new());
    trie.update(&updates).context("genesis trie")?;
    Ok(State { trie, states, keys })
}

/// `n` transfers from random existing accounts, to random existing accounts or (one in ten)
/// to new addresses; amounts far below the balances, so none reverts.
fn transfers(rng: &mut Rng, state: &State, n: usize) -> Vec<Transaction> {
    let mut nonces: BTreeMap<Felt, u64> = BTreeMap::new();
    (0..n)
        .map(|_| {
            let from = &state.keys[rng.below(state.keys.len())];
            let to = if rng.below(10) == 0 {
                rng.keys().address()
            } else {
                state.keys[rng.below(state.keys.len())].address()
            };
            let nonce = nonces
                .entry(from.address())
                .or_insert_with(|| state.states[&from.address()].nonce);
            let tx = Transaction::transfer(from, *nonce, to, 1 + u128::from(rng.next() % 1000));
            *nonce += 1;
            tx
        })
        .collect()
}

/// The whole block as one range.
fn block_range(state: &State, txs: Vec<Transaction>) -> Result<RangeInput> {
    Ok(split_block(state, txs, u64::MAX)?.remove(0))
}

/// The block as consecutive ranges of at most `chunk` transactions (how the farm proves
/// blocks too large for one proof).
fn split_block(state: &State, txs: Vec<Transaction>, chunk: u64) -> Result<Vec<RangeInput>> {
    let input = BlockProverInput::build(
        &state.trie,
        &state.states,
        BLOCK_NUMBER,
        Felt::from(99u8),
        TIMESTAMP,
        txs,
    )?;
    let n = input.tx_count();
    let mut ranges = Vec::new();
    let mut start: u64 = 0;
    loop {
        let end = start.saturating_add(chunk).min(n);
        ranges.push(input.range(start, end)?);
        if end == n {
            return Ok(ranges);
        }
        start = end;
    }
}

/// Proves a block of `t` transfers as ranges of `chunk` with one warm prover: each proof
/// verified, its output equal to native execution, and consecutive ranges chained.
fn prove_split(
    prover: &mut Prover,
    program: &Program,
    ranges: &[RangeInput],
) -> Result<serde_json::Value> {
    let mut seconds = Vec::new();
    let mut previous: Option<BlockOutput> = None;
    reset_peak_rss();
    for range in ranges {
        let started = Instant::now();
        let artifact = prover.prove(&program.program, &program.input(range), &mut |_| {})?;
        seconds.push(started.elapsed().as_secs_f64());
        let output = BlockOutput::from_felts(&artifact.header.output)?;
        ensure!(
            output == range.expected_output(),
            "a range's output differs from native"
        );
        if let Some(p) = &previous {
            ensure!(
                p.new_state_root == output.previous_state_root,
                "ranges do not chain"
            );
        }
        println!(
            "  range {}..{}: {:.1} s",
            output.tx_start,
            output.tx_end,
            seconds.last().copied().unwrap_or(0.0)
        );
        previous = Some(output);
    }
    Ok(json!({
        "ranges": ranges.len(),
        "seconds_each": seconds,
        "total_seconds": seconds.iter().sum::<f64>(),
        "peak_rss_mib": peak_rss_mib(),
    }))
}

/// Runs the block program on a range, checks its output against native execution; returns
/// the steps and the run's seconds.
/// Runs `program` on `range` and checks its output: steps, seconds and Poseidon permutations.
fn run_steps(program: &Program, range: &RangeInput) -> Result<(u64, f64, u64)> {
    let execution = execute(
        &program.program,
        &program.input(range),
        ExecutionLimits::default(),
    )?;
    let output = BlockOutput::from_felts(&execution.output)?;
    ensure!(
        output == range.expected_output(),
        "the block program's output differs from native execution"
    );
    let poseidon = execution.builtins.get("poseidon").copied().unwrap_or(0);
    if std::env::var("STARFARM_BENCH_STEPS_BY_FUNCTION").is_ok_and(|v| v == "1") {
        print_steps_by_function(program, range, &execution);
    }
    Ok((execution.steps, execution.duration.as_secs_f64(), poseidon))
}

/// STARFARM_BENCH_STEPS_BY_FUNCTION=1: where a run's steps go, per Cairo function (the
/// functions over 0.5 % of the steps), per transaction and as a share; and the builtins used.
fn print_steps_by_function(
    program: &Program,
    range: &RangeInput,
    execution: &starfarm_prover::Execution,
) {
    let txs = range.receipts.len().max(1) as f64;
    println!(
        "  steps by function (layout {}, {} transactions, {} steps):",
        program.layout,
        range.receipts.len(),
        execution.steps
    );
    let rows = execution.steps_by_function(&program.program);
    let shown = rows
        .iter()
        .filter(|r| r.steps * 200 >= execution.steps.max(1));
    for r in shown {
        println!(
            "    {:>10.1} steps/tx {:>5.1} % {:>9.2} calls/tx  {}",
            r.steps as f64 / txs,
            100.0 * r.steps as f64 / execution.steps.max(1) as f64,
            r.calls as f64 / txs,
            r.name
        );
    }
    for (builtin, count) in &execution.builtins {
        println!(
            "    builtin {builtin}: {:.1} per transaction",
            *count as f64 / txs
        );
    }
}

fn main() -> Result<()> {
    let sizes = env_list("STARFARM_BENCH_TRANSFERS", &[100, 1000]);
    let n_accounts = env_list("STARFARM_BENCH_ACCOUNTS", &[1000])[0].max(1) as usize;
    let profile: SecurityProfile = std::env::var("STARFARM_BENCH_PROFILE")
        .unwrap_or_else(|_| "production".into())
        .parse()
        .map_err(anyhow::Error::msg)?;
    let reps = env_list("STARFARM_BENCH_REPS", &[1])[0];
    let anchor_on = std::env::var("STARFARM_BENCH_ANCHOR").map_or(true, |v| v != "0");
    let anchor_variant = match std::env::var("STARFARM_BENCH_ANCHOR_TRACE").as_deref() {
        Ok("without-pedersen") => PreProcessedTraceVariant::CanonicalWithoutPedersen,
        Ok("canonical") | Err(_) => PreProcessedTraceVariant::Canonical,
        Ok(other) => {
            anyhow::bail!("STARFARM_BENCH_ANCHOR_TRACE={other}: canonical or without-pedersen")
        }
    };
    let prove_on = std::env::var("STARFARM_BENCH_PROVE").map_or(true, |v| v != "0");
    let split = std::env::var("STARFARM_BENCH_SPLIT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let components_on = std::env::var("STARFARM_BENCH_COMPONENTS").is_ok_and(|v| v == "1");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program_path = std::env::var("STARFARM_BENCH_PROGRAM")
        .map_or_else(|_| root.join("sequencer/cairo/block.json"), PathBuf::from);
    let program = Program {
        program: CairoProgram::from_file(&program_path)
            .with_context(|| format!("{} (scripts/compile-cairo.sh)", program_path.display()))?,
        layout: 0,
    };
    let previous_layout = match std::env::var("STARFARM_BENCH_PREVIOUS_LAYOUT").as_deref() {
        // The current layout (5, the bound transcript): a previous program that reads the
        // same input.
        Ok("5") => 0,
        // Layout 4 (half-length scalars, the transcript of every record and multiplier), e.g.
        // `git show 0036e84:sequencer/cairo/block.json`, the one before the bound transcript.
        Ok("4") => 4,
        Ok("3") => 3,
        Ok("2") => 2,
        Ok("1") | Err(_) => 1,
        Ok(other) => anyhow::bail!("STARFARM_BENCH_PREVIOUS_LAYOUT={other}: 1, 2, 3, 4 or 5"),
    };
    let previous = match std::env::var("STARFARM_BENCH_PREVIOUS").as_deref() {
        Ok("0") => None,
        path => {
            let path = path.map_or_else(
                |_| root.join("sequencer/cairo/anchor/block_v1.json"),
                PathBuf::from,
            );
            Some(Program {
                program: CairoProgram::from_file(&path)
                    .with_context(|| format!("{} (previous block program)", path.display()))?,
                layout: previous_layout,
            })
        }
    };
    println!(
        "avx2 build: {}, profile {profile} ({} bits), {} threads, {n_accounts} accounts",
        cfg!(target_feature = "avx2"),
        profile.security_bits(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );

    let started = Instant::now();
    let mut rng = Rng(42);
    let state = genesis(&mut rng, n_accounts)?;
    println!(
        "genesis: {n_accounts} deposits + deploys in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The report is rewritten after each measurement, so that what was measured survives a
    // run killed for memory ("complete": false until the end).
    let names: Vec<String> = sizes.iter().map(|t| t.to_string()).collect();
    let out = root.join(format!(
        "target/bench-block-program-{}.json",
        names.join("_")
    ));
    let mut report = json!({
        "avx2": cfg!(target_feature = "avx2"),
        "profile": profile.name(),
        "accounts": n_accounts,
        "steps_per_transfer_goal": STEPS_PER_TRANSFER_GOAL,
        "anchor_preprocessed_trace": (prove_on && anchor_on).then(|| format!("{anchor_variant:?}")),
        "complete": false,
        "rows": [],
    });
    let save = |report: &serde_json::Value| -> Result<()> {
        std::fs::write(&out, serde_json::to_string_pretty(report)?)?;
        Ok(())
    };

    // 1. Steps: an empty range on the state, then each block.
    let (empty_steps, _, _) = run_steps(&program, &block_range(&state, vec![])?)?;
    println!("empty range: {empty_steps} steps");
    report["empty_range_steps"] = json!(empty_steps);
    let mut ranges = Vec::new();
    for &t in &sizes {
        let txs = transfers(&mut rng, &state, t as usize);
        let range = block_range(&state, txs)?;
        let reverted = range
            .receipts
            .iter()
            .filter(|r| r.execution_status != ExecutionStatus::Succeeded)
            .count();
        let (steps, run_secs, poseidon) = run_steps(&program, &range)?;
        let previous_steps = previous
            .as_ref()
            .map(|p| run_steps(p, &range))
            .transpose()?;
        if let (Some((s, secs, poseidon)), Some(p)) = (previous_steps, &previous) {
            println!(
                "  previous program (layout {}): {s} steps, {poseidon} Poseidon, run {secs:.1} s",
                p.layout
            );
        }
        let per_transfer = steps.saturating_sub(empty_steps) / u64::from(t.max(1));
        println!(
            "{t} transfers ({} accounts touched, {reverted} reverted): {steps} steps (2^{} trace), \
             {per_transfer} per transfer (goal <= {STEPS_PER_TRANSFER_GOAL}: {}), {poseidon} \
             Poseidon, run {run_secs:.1} s",
            range.accounts.len(),
            steps.max(1).next_power_of_two().trailing_zeros(),
            if per_transfer <= STEPS_PER_TRANSFER_GOAL { "met" } else { "MISSED" },
        );
        rows_of(&mut report).push(json!({
            "transfers": t,
            "accounts_touched": range.accounts.len(),
            "reverted": reverted,
            "steps": steps,
            "steps_per_transfer": per_transfer,
            "execute_seconds": run_secs,
            "poseidon": poseidon,
            "previous_program_steps": previous_steps.map(|(s, _, _)| s),
            "previous_program_poseidon": previous_steps.map(|(_, _, p)| p),
        }));
        ranges.push(range);
    }
    save(&report)?;

    if components_on {
        let table = component_table(&program, &sizes, &ranges, empty_steps)?;
        report["components"] = table;
        save(&report)?;
        if let Some(previous) = &previous {
            let (empty, _, _) = run_steps(previous, &block_range(&state, vec![])?)?;
            let mut blocks = Vec::new();
            for (&t, range) in sizes.iter().zip(&ranges) {
                let execution = execute(
                    &previous.program,
                    &previous.input(range),
                    ExecutionLimits::default(),
                )?;
                blocks.push(component_costs_of(
                    &format!(
                        "{t} transfers, previous block program (layout {})",
                        previous.layout
                    ),
                    &execution,
                    t,
                    empty,
                )?);
            }
            print_marginal("previous block program, per transfer", &blocks);
            report["previous_program_components"] = json!(blocks);
            save(&report)?;
        }
    }

    // 2. Proving. The anchor first, one size at a time: it holds its own preprocessed trace,
    // and running it beside a warm starfarm prover could exceed the machine's memory.
    if prove_on && anchor_on {
        for (i, (&t, range)) in sizes.iter().zip(&ranges).enumerate() {
            let row = run_anchor(&program, range, t, profile, anchor_variant)
                .with_context(|| format!("anchor, {t} transfers"))?;
            rows_of(&mut report)[i]["anchor"] = row;
            save(&report)?;
        }
    }

    let mut prover = prove_on.then(|| Prover::new(profile));
    for (i, (&t, range)) in sizes.iter().zip(&ranges).enumerate() {
        let Some(prover) = prover.as_mut().filter(|_| split.is_none()) else {
            break; // with STARFARM_BENCH_SPLIT the blocks are proven in ranges below
        };
        let proving = prove_ours(prover, &program, range, reps)
            .with_context(|| format!("starfarm prover, {t} transfers"))?;
        let row = &mut rows_of(&mut report)[i];
        let anchor_secs = row["anchor"]["seconds"].as_f64();
        let warm = proving["warm_seconds"].as_f64();
        row["proving"] = proving;
        row["speedup_vs_anchor"] = json!(anchor_secs.zip(warm).map(|(a, w)| a / w));
        print_row(row);
        save(&report)?;
    }

    // The previous program on the same blocks, with its own prover (its preprocessed trace
    // is another one; ours is dropped first so that the peaks do not add up).
    if let (Some(previous), true) = (&previous, prove_on && split.is_none()) {
        drop(prover.take());
        let mut old_prover = Prover::new(profile);
        for (i, (&t, range)) in sizes.iter().zip(&ranges).enumerate() {
            let proving = prove_ours(&mut old_prover, previous, range, reps)
                .with_context(|| format!("previous program, {t} transfers"))?;
            println!(
                "previous program (layout {}), {t} transfers: warm {:?} s, first {:?} s, \
                 peak {:?} MiB, {}",
                previous.layout,
                proving["warm_seconds"].as_f64(),
                proving["cold_first_proof"]["seconds"].as_f64(),
                proving["peak_rss_mib"].as_u64(),
                proving["preprocessed_trace"],
            );
            rows_of(&mut report)[i]["previous_program_proving"] = proving;
            save(&report)?;
        }
    }

    // 3. Blocks too large for one proof here, proven as chained ranges
    // (STARFARM_BENCH_SPLIT = transfers per range; off by default).
    if let (Some(chunk), Some(prover)) = (split, prover.as_mut()) {
        for (i, &t) in sizes.iter().enumerate() {
            let mut rng = Rng(7 + u64::from(t));
            let ranges = split_block(&state, transfers(&mut rng, &state, t as usize), chunk)?;
            println!("{t} transfers as {} ranges of <= {chunk}:", ranges.len());
            let row = prove_split(prover, &program, &ranges)?;
            println!(
                "  total {:.1} s",
                row["total_seconds"].as_f64().unwrap_or(0.0)
            );
            rows_of(&mut report)[i]["split"] = row;
            save(&report)?;
            // The previous program on the same ranges, with its own prover.
            if let Some(previous) = &previous {
                let mut old_prover = Prover::new(profile);
                let row = prove_split(&mut old_prover, previous, &ranges)
                    .with_context(|| format!("previous program, {t} transfers in ranges"))?;
                println!(
                    "  previous program (layout {}): total {:.1} s",
                    previous.layout,
                    row["total_seconds"].as_f64().unwrap_or(0.0)
                );
                rows_of(&mut report)[i]["previous_program_split"] = row;
                save(&report)?;
            }
        }
    }

    report["complete"] = json!(true);
    save(&report)?;
    println!("results written to {}", out.display());
    Ok(())
}

/// A cold proof (it pays for the precompute when the prover is not warm yet for this
/// preprocessed trace), then `reps` warm ones; each verified by the prover, each output checked
/// against native execution.
fn prove_ours(
    prover: &mut Prover,
    program: &Program,
    range: &RangeInput,
    reps: u32,
) -> Result<serde_json::Value> {
    let input = program.input(range);
    let expected = range.expected_output();
    reset_peak_rss();
    let mut first = None;
    let mut times = Vec::new();
    let mut last = None;
    for rep in 0..=reps {
        let started = Instant::now();
        let artifact = prover.prove(&program.program, &input, &mut |_| {})?;
        let secs = started.elapsed().as_secs_f64();
        ensure!(
            BlockOutput::from_felts(&artifact.header.output)? == expected,
            "the proven output differs from native execution"
        );
        let precompute_ms = artifact.header.timings_ms.precompute_ms;
        if rep == 0 && precompute_ms > 0 {
            first = Some(json!({"seconds": secs, "precompute_ms": precompute_ms,
                "phases_ms": artifact.header.timings_ms}));
        } else {
            times.push(secs);
        }
        last = Some(artifact);
    }
    let artifact = last.context("no proof")?;
    let h = &artifact.header;
    Ok(json!({
        "warm_seconds_each": times.clone(),
        "warm_seconds": (!times.is_empty()).then(|| median(&mut times)),
        "warm_proofs": times.len(),
        "cold_first_proof": first,
        "preprocessed_trace": format!("{:?}", h.preprocessed_trace),
        "phases_ms": h.timings_ms,
        "peak_rss_mib": peak_rss_mib(),
        "proof_bytes": artifact.proof.len(),
        "builtins": h.builtins,
    }))
}

/// stwo-cairo's `prove_cairo`, fresh (twiddles + preprocessed trace + proof) with the same PCS
/// parameters, on the adapted run of the same range; the proof verified with cairo-air's
/// `verify_cairo`.
fn run_anchor(
    program: &Program,
    range: &RangeInput,
    t: u32,
    profile: SecurityProfile,
    variant: PreProcessedTraceVariant,
) -> Result<serde_json::Value> {
    let execution = execute(&program.program, &program.input(range), Default::default())?;
    let steps = execution.steps;
    let input = execution.adapt()?;
    drop(execution);
    let params = ProverParameters {
        channel_hash: ChannelHash::Blake2s,
        channel_salt: 0,
        pcs_config: profile.pcs_config(),
        preprocessed_trace: variant,
        store_polynomials_coefficients: false, // stwo-cairo's default
        include_all_preprocessed_columns: false,
    };
    reset_peak_rss();
    let started = Instant::now();
    let proof = prove_cairo::<Blake2sMerkleChannel>(input, params)?;
    let secs = started.elapsed().as_secs_f64();
    let peak = peak_rss_mib();
    let started = Instant::now();
    verify_cairo::<Blake2sMerkleChannel>(proof.into())
        .map_err(|e| anyhow::anyhow!("anchor proof does not verify: {e:?}"))?;
    let verify_secs = started.elapsed().as_secs_f64();
    println!(
        "anchor prove_cairo ({variant:?}), {t} transfers ({steps} steps): {secs:.1} s, \
         verified in {verify_secs:.2} s, peak {peak:?} MiB"
    );
    Ok(
        json!({"transfers": t, "steps": steps, "preprocessed_trace": format!("{variant:?}"),
        "seconds": secs, "verify_seconds": verify_secs, "peak_rss_mib": peak}),
    )
}

/// For each block: the proof's components (rows, columns, cells) and the cells per lever,
/// per transfer; the same for the batched signature check (`signature_batch.json`) on the
/// block's signatures; then the marginal cells per transfer between the smallest and largest
/// block (padding to powers of two makes a single size coarse).
fn component_table(
    program: &Program,
    sizes: &[u32],
    ranges: &[RangeInput],
    empty_steps: u64,
) -> Result<serde_json::Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let batch_program = CairoProgram::from_file(&root.join("sequencer/cairo/signature_batch.json"))
        .context("sequencer/cairo/signature_batch.json (scripts/compile-cairo.sh)")?;
    let empty_batch = BatchInput::new(&[])?.to_felts();
    let batch_empty_steps = execute(
        &batch_program,
        &ProgramInput::new(empty_batch),
        ExecutionLimits::default(),
    )?
    .steps;
    let mut blocks = Vec::new();
    let mut batches = Vec::new();
    for (&t, range) in sizes.iter().zip(ranges) {
        let execution = execute(
            &program.program,
            &program.input(range),
            ExecutionLimits::default(),
        )?;
        blocks.push(component_costs_of(
            &format!("{t} transfers, block program"),
            &execution,
            t,
            empty_steps,
        )?);
        let batch = BatchInput::new(&range.signatures())?;
        let input = ProgramInput::new(batch.to_felts());
        let execution = execute(&batch_program, &input, ExecutionLimits::default())?;
        batches.push(component_costs_of(
            &format!("{t} signatures, batched check"),
            &execution,
            t,
            batch_empty_steps,
        )?);
    }
    print_marginal("block program, per transfer", &blocks);
    print_marginal("batched signature check, per signature", &batches);
    Ok(json!({"block_program": blocks, "signature_batch": batches}))
}

/// Prints and returns a run's components and its cells by lever; `count` transactions or
/// signatures, `empty_steps` the steps of the same program on none.
fn component_costs_of(
    label: &str,
    execution: &Execution,
    count: u32,
    empty_steps: u64,
) -> Result<serde_json::Value> {
    reset_peak_rss();
    let started = Instant::now();
    let (claim, variant) = claim_of(execution)?;
    let trace_secs = started.elapsed().as_secs_f64();
    let costs = component_costs(&claim);
    let total: u64 = costs.iter().map(|c| c.cells).sum();
    let per = |x: u64| x as f64 / f64::from(count.max(1));
    println!(
        "{label}: {} steps ({:.0} each over none), builtins {:?}; preprocessed trace \
         {variant:?} ({} cells); base trace written in {trace_secs:.1} s, peak {:?} MiB",
        execution.steps,
        per(execution.steps.saturating_sub(empty_steps)),
        execution.builtins,
        variant.n_trace_cells(),
        peak_rss_mib(),
    );
    println!(
        "  {:<36} {:>9} {:>7} {:>12} {:>6}",
        "component", "rows", "columns", "cells", "%"
    );
    let share = |cells: u64| 100.0 * cells as f64 / total.max(1) as f64;
    for c in &costs {
        println!(
            "  {:<36} {:>9} {:>7} {:>12} {:>5.1}%",
            c.name,
            c.rows,
            c.columns,
            c.cells,
            share(c.cells)
        );
    }
    let groups = by_group(&costs);
    for (group, cells) in &groups {
        println!(
            "  = {group:<34} {cells:>12} cells {:>5.1}%, {:>9.0} each",
            share(*cells),
            per(*cells)
        );
    }
    println!("  = total {total} trace cells, {:.0} each", per(total));
    Ok(json!({
        "count": count,
        "steps": execution.steps,
        "builtins": execution.builtins,
        "preprocessed_trace": format!("{variant:?}"),
        "preprocessed_cells": variant.n_trace_cells(),
        "trace_cells": total,
        "groups": groups.iter().map(|(g, c)| json!({"group": g, "cells": c})).collect::<Vec<_>>(),
        "components": costs,
        "write_trace_seconds": trace_secs,
        "write_trace_peak_rss_mib": peak_rss_mib(),
    }))
}

/// Cells per lever per transaction between the first and the last run.
fn print_marginal(label: &str, runs: &[serde_json::Value]) {
    let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
        return;
    };
    let count = |r: &serde_json::Value| r["count"].as_f64().unwrap_or(0.0);
    let dt = count(last) - count(first);
    if dt <= 0.0 {
        return;
    }
    let cells = |r: &serde_json::Value, g: &str| {
        r["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["group"] == g)
            .filter_map(|x| x["cells"].as_f64())
            .sum::<f64>()
    };
    println!(
        "marginal trace cells, {label} ({} → {}):",
        count(first),
        count(last)
    );
    let steps =
        (last["steps"].as_f64().unwrap_or(0.0) - first["steps"].as_f64().unwrap_or(0.0)) / dt;
    println!("  {:<36} {steps:>9.0}", "steps");
    let groups = last["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["group"].as_str());
    for g in groups {
        println!("  {g:<36} {:>9.0}", (cells(last, g) - cells(first, g)) / dt);
    }
    let total = (last["trace_cells"].as_f64().unwrap_or(0.0)
        - first["trace_cells"].as_f64().unwrap_or(0.0))
        / dt;
    println!("  {:<36} {total:>9.0}", "total");
}

fn rows_of(report: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    match &mut report["rows"] {
        serde_json::Value::Array(rows) => rows,
        _ => unreachable!("the report's rows are an array"),
    }
}

fn print_row(r: &serde_json::Value) {
    let p = &r["proving"];
    println!(
        "{} transfers ({} steps): warm {} s | cold first {} | anchor {} s | speedup {} | \
         peak {} MiB | proof {} B | {} | phases {}",
        r["transfers"],
        r["steps"],
        p["warm_seconds"],
        p["cold_first_proof"],
        r["anchor"]["seconds"],
        r["speedup_vs_anchor"],
        p["peak_rss_mib"],
        p["proof_bytes"],
        p["preprocessed_trace"].as_str().unwrap_or("?"),
        p["phases_ms"],
    );
}
