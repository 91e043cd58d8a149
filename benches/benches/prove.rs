//! Proving benchmark: starfarm's warm `Prover` against stwo-cairo's own `prove_cairo`, called
//! fresh for each proof (the anchor), on the same inputs, in the same run.
//!
//! Run: `scripts/patch-deps.sh && cargo bench --workspace --profile dev --bench prove`
//! (the dev profile optimises everything that proves; `--workspace` keeps the features, and so
//! the build, the same as the tests').
//! Environment: STARFARM_BENCH_LOG_STEPS (default 16,18,20: fibonacci sized to about 2^k
//! steps), STARFARM_BENCH_PROFILE (production), STARFARM_BENCH_REPS (warm proofs per size, 2),
//! STARFARM_BENCH_ANCHOR=0 to skip the anchor. Prints a table; writes JSON to
//! target/bench-prove-<avx2|baseline>-<profile>-<sizes>.json. For the baseline (no AVX2)
//! build: `RUSTFLAGS="-C target-cpu=x86-64" CARGO_TARGET_DIR=target/baseline cargo bench ...`.

use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;
use starfarm_benches::{
    anchor_parameters, env_list, median, peak_rss_mib, profile_from_env, repo_root, reset_peak_rss,
};
use starfarm_prover::{execute, CairoProgram, Felt, ProgramInput, Prover, SecurityProfile};
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo_cairo_prover::prover::prove_cairo;

/// Fibonacci takes ~6 Cairo steps per iteration (39,358 steps for n = 6,553).
fn fib_input(log_steps: u32) -> ProgramInput {
    ProgramInput::new(vec![Felt::from((1u64 << log_steps) / 6)])
}

fn main() -> Result<()> {
    let log_steps = env_list("STARFARM_BENCH_LOG_STEPS", &[16, 18, 20]);
    let profile = profile_from_env()?;
    let reps = env_list("STARFARM_BENCH_REPS", &[2])[0].max(1);
    let anchor_on = std::env::var("STARFARM_BENCH_ANCHOR").map_or(true, |v| v != "0");
    let root = repo_root();
    let program = CairoProgram::from_file(&root.join("examples/fibonacci.json"))?;
    println!(
        "avx2 build: {}, profile {profile} ({} bits), {} threads",
        cfg!(target_feature = "avx2"),
        profile.security_bits(),
        rayon_threads()
    );

    // The anchor first, one size at a time: it holds its own preprocessed trace, and running it
    // beside a warm starfarm prover could exceed the machine's memory.
    let mut anchor = Vec::new();
    if anchor_on {
        for &k in &log_steps {
            anchor.push(run_anchor(&program, k, profile).with_context(|| format!("anchor 2^{k}"))?);
        }
    }

    let mut prover = Prover::new(profile);
    let mut rows = Vec::new();
    for &k in &log_steps {
        reset_peak_rss();
        let input = fib_input(k);
        let mut times = Vec::new();
        let mut first = None;
        let mut last = None;
        for rep in 0..=reps {
            let started = Instant::now();
            let artifact = prover.prove(&program, &input, &mut |_| {})?;
            let secs = started.elapsed().as_secs_f64();
            // A proof that paid for precompute is the cold one: reported on its own.
            if rep == 0 && artifact.header.timings_ms.precompute_ms > 0 {
                first = Some((secs, artifact.header.timings_ms.precompute_ms));
            } else {
                times.push(secs);
            }
            last = Some(artifact);
        }
        let artifact = last.context("no proof")?;
        let warm = median(&mut times);
        let h = &artifact.header;
        let anchor_row = anchor
            .iter()
            .find(|a: &&serde_json::Value| a["log_steps"] == k);
        let anchor_secs = anchor_row.and_then(|a| a["seconds"].as_f64());
        rows.push(json!({
            "log_steps": k,
            "steps": h.steps,
            "preprocessed_trace": format!("{:?}", h.preprocessed_trace),
            "warm_seconds": warm,
            "cold_first_proof": first.map(|(s, pre)| json!({"seconds": s, "precompute_ms": pre})),
            "phases_ms": h.timings_ms,
            "peak_rss_mib": peak_rss_mib(),
            "proof_bytes": artifact.proof.len(),
            "anchor": anchor_row,
            "speedup_vs_anchor": anchor_secs.map(|a| a / warm),
        }));
        print_row(rows.last().context("row")?);
    }
    let report =
        json!({"avx2": cfg!(target_feature = "avx2"), "profile": profile.name(), "rows": rows});
    let sizes: Vec<String> = log_steps.iter().map(|k| k.to_string()).collect();
    let build = if cfg!(target_feature = "avx2") {
        "avx2"
    } else {
        "baseline"
    };
    let out = root.join(format!(
        "target/bench-prove-{build}-{}-{}.json",
        profile.name(),
        sizes.join("_")
    ));
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("results written to {}", out.display());
    Ok(())
}

/// stwo-cairo's `prove_cairo`, fresh (twiddles + preprocessed trace + proof), with its own
/// default preprocessed trace (`Canonical`) and the same PCS parameters.
fn run_anchor(
    program: &CairoProgram,
    k: u32,
    profile: SecurityProfile,
) -> Result<serde_json::Value> {
    let execution = execute(program, &fib_input(k), Default::default())?;
    let input = execution.adapt()?;
    let params = anchor_parameters(profile);
    reset_peak_rss();
    let started = Instant::now();
    let proof = prove_cairo::<Blake2sMerkleChannel>(input, params)?;
    let secs = started.elapsed().as_secs_f64();
    drop(proof);
    let row = json!({"log_steps": k, "steps": execution.steps, "seconds": secs, "peak_rss_mib": peak_rss_mib()});
    println!(
        "anchor prove_cairo 2^{k}: {secs:.1} s, peak {:?} MiB",
        peak_rss_mib()
    );
    Ok(row)
}

fn print_row(r: &serde_json::Value) {
    println!(
        "2^{} ({} steps, {}): warm {:.2} s | cold first {} | anchor {} | speedup {} | peak {} MiB | proof {} B | phases {}",
        r["log_steps"], r["steps"], r["preprocessed_trace"].as_str().unwrap_or("?"),
        r["warm_seconds"].as_f64().unwrap_or(f64::NAN),
        r["cold_first_proof"], r["anchor"]["seconds"], r["speedup_vs_anchor"],
        r["peak_rss_mib"], r["proof_bytes"], r["phases_ms"],
    );
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
