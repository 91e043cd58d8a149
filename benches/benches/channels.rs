//! Channel benchmark: prover time and proof size with Blake2s (production), Keccak (the same
//! production parameters) and the L1 profile (Keccak, larger blowup, fewer queries), on the same
//! program, in the same run; plus proof-of-work grinding rates of both channels.
//!
//! Run: `cargo bench --workspace --profile dev --bench channels`.
//! Environment: STARFARM_BENCH_LOG_STEPS (default 14: fibonacci sized to about 2^k steps),
//! STARFARM_BENCH_REPS (warm proofs per setting, default 2), STARFARM_BENCH_CANDIDATES (extra
//! Keccak settings, `pow:log_blowup:queries` comma-separated, e.g. `24:3:24,24:4:18`: how the
//! L1 profile's numbers were chosen). Prints a table; writes JSON to
//! target/bench-channels-<k>.json.
//!
//! Each setting pays its own precompute (reported apart: it depends on the blowup and the
//! channel), then proves warm `reps` times with `prove_cairo_with_precompute`; the median is
//! reported with the encoded proof's size and the time of the Rust verifier. Settings run one
//! after another, each dropping its precompute first, so peak memory is per setting.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use cairo_air::verifier::verify_cairo;
use cairo_air::CairoProofForRustVerifier;
use serde_json::json;
use starfarm_benches::{env_list, median, peak_rss_mib, repo_root, reset_peak_rss};
use starfarm_prover::artifact::ProofCodec;
use starfarm_prover::channel::{ChannelKind, Keccak256Channel, Keccak256MerkleChannel};
use starfarm_prover::prover::{parameters, precompute_for_config};
use starfarm_prover::{execute, CairoProgram, Execution, Felt, ProgramInput, SecurityProfile};
use stwo::core::channel::{Blake2sChannel, Channel, MerkleChannel};
use stwo::core::fri::FriConfig;
use stwo::core::pcs::PcsConfig;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::BackendForChannel;
use stwo_cairo_prover::prover::ProverParameters;

/// Fibonacci takes ~6 Cairo steps per iteration.
fn fib_input(log_steps: u32) -> ProgramInput {
    ProgramInput::new(vec![Felt::from((1u64 << log_steps) / 6)])
}

struct Setting {
    name: String,
    channel: ChannelKind,
    config: PcsConfig,
}

fn main() -> Result<()> {
    let log_steps = env_list("STARFARM_BENCH_LOG_STEPS", &[14])[0];
    let reps = env_list("STARFARM_BENCH_REPS", &[2])[0].max(1);
    let program = CairoProgram::from_file(&repo_root().join("examples/fibonacci.json"))?;
    let execution = execute(&program, &fib_input(log_steps), Default::default())?;
    println!(
        "fibonacci, {} steps, {} threads, {reps} warm proofs per setting",
        execution.steps,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );

    // Grinding rates before and after the proofs (the machine's load changes in between).
    let rates_before = grind_rates();
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for setting in settings()? {
        let row = match setting.channel {
            ChannelKind::Blake2s => run::<Blake2sMerkleChannel>(&setting, &execution, reps),
            ChannelKind::Keccak => run::<Keccak256MerkleChannel>(&setting, &execution, reps),
        }
        .with_context(|| setting.name.clone())?;
        print_row(&row);
        rows.push(row);
    }
    let rates_after = grind_rates();
    let mean = |name: &str| {
        json!(
            (rates_before[name].as_f64().unwrap_or(f64::NAN)
                + rates_after[name].as_f64().unwrap_or(f64::NAN))
                / 2.0
        )
    };
    let grinding = json!({"blake2s": mean("blake2s"), "keccak": mean("keccak"),
                          "before": rates_before, "after": rates_after});
    println!("grinding (hashes/s): {grinding}");
    for row in &mut rows {
        let rate = grinding[row["channel"].as_str().unwrap_or("?")].as_f64();
        let tries = row["pow_tries"].as_u64().unwrap_or(0) as f64;
        let grind = rate.map(|rate| tries / rate);
        let expected = rate.map(|rate| {
            let bits = row["pow_bits"].as_f64().unwrap_or(0.0);
            (2f64.powf(bits) + 2f64.powi(INTERACTION_POW_BITS)) / rate
        });
        row["grind_seconds_estimate"] = json!(grind);
        row["grind_seconds_expected"] = json!(expected);
        row["prove_seconds_without_grind"] =
            json!(grind.zip(row["prove_seconds"].as_f64()).map(|(g, p)| p - g));
        println!(
            "{:<22} grinding: {} tries, ~{:.1} s of the proof (expected for its bits: {:.1} s)",
            row["setting"].as_str().unwrap_or("?"),
            tries,
            grind.unwrap_or(f64::NAN),
            expected.unwrap_or(f64::NAN),
        );
    }
    let report =
        json!({"steps": execution.steps, "reps": reps, "rows": rows, "grinding": grinding});
    let out = repo_root().join(format!("target/bench-channels-{log_steps}.json"));
    std::fs::create_dir_all(repo_root().join("target"))?;
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("results written to {}", out.display());
    Ok(())
}

/// Blake2s production, Keccak with production's parameters, the L1 profile, then candidates.
fn settings() -> Result<Vec<Setting>> {
    let production = SecurityProfile::Production.pcs_config();
    let mut settings = vec![
        Setting {
            name: "blake2s production".into(),
            channel: ChannelKind::Blake2s,
            config: production,
        },
        Setting {
            name: "keccak production".into(),
            channel: ChannelKind::Keccak,
            config: production,
        },
        Setting {
            name: "l1".into(),
            channel: SecurityProfile::L1.channel(),
            config: SecurityProfile::L1.pcs_config(),
        },
    ];
    let candidates = std::env::var("STARFARM_BENCH_CANDIDATES").unwrap_or_default();
    for spec in candidates.split(',').filter(|s| !s.trim().is_empty()) {
        let numbers: Vec<u32> = spec
            .split(':')
            .map(|n| n.trim().parse())
            .collect::<Result<_, _>>()
            .with_context(|| format!("candidate {spec:?}"))?;
        let [pow_bits, log_blowup_factor, n_queries] = numbers[..] else {
            bail!("candidate {spec:?} is not pow:log_blowup:queries");
        };
        settings.push(Setting {
            name: format!("keccak {pow_bits}:{log_blowup_factor}:{n_queries}"),
            channel: ChannelKind::Keccak,
            config: PcsConfig {
                pow_bits,
                fri_config: FriConfig {
                    log_blowup_factor,
                    n_queries: n_queries as usize,
                    ..production.fri_config
                },
                ..production
            },
        });
    }
    Ok(settings)
}

fn run<MC: MerkleChannel>(
    setting: &Setting,
    execution: &Execution,
    reps: u32,
) -> Result<serde_json::Value>
where
    SimdBackend: BackendForChannel<MC>,
    CairoProofForRustVerifier<MC::H>: serde::Serialize + serde::de::DeserializeOwned,
{
    let variant = stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant::CanonicalSmall;
    let params = ProverParameters {
        pcs_config: setting.config,
        ..parameters(SecurityProfile::Production, variant)
    };
    reset_peak_rss();
    let started = Instant::now();
    let warm = precompute_for_config::<MC>(variant, &setting.config);
    let precompute_s = started.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let mut encoded = Vec::new();
    for _ in 0..reps {
        let input = execution.adapt()?;
        let started = Instant::now();
        let proof = warm.prove(input, params)?;
        times.push(started.elapsed().as_secs_f64());
        encoded = ProofCodec::encode(&CairoProofForRustVerifier::from(proof))
            .map_err(anyhow::Error::msg)?;
    }
    drop(warm);
    let proof = ProofCodec::decode::<MC::H>(&encoded).map_err(anyhow::Error::msg)?;
    // A proof's two nonces (interaction, then FRI) fix how long its grinding took: a matter
    // of luck, the same for every rep. Report the tries, to set that luck apart.
    let tries = [proof.interaction_pow, proof.stark_proof.0.proof_of_work]
        .map(|nonce| tries_before(setting.channel, nonce));
    let started = Instant::now();
    verify_cairo::<MC>(proof)?;
    let verify_s = started.elapsed().as_secs_f64();
    Ok(json!({
        "setting": setting.name,
        "channel": setting.channel,
        "pow_bits": setting.config.pow_bits,
        "log_blowup": setting.config.fri_config.log_blowup_factor,
        "queries": setting.config.fri_config.n_queries,
        "security_bits": setting.config.security_bits(),
        "precompute_seconds": precompute_s,
        "prove_seconds": median(&mut times),
        "prove_seconds_all": times,
        "proof_bytes": encoded.len(),
        "pow_tries": tries.iter().sum::<u64>(),
        "verify_seconds": verify_s,
        "peak_rss_mib": peak_rss_mib(),
    }))
}

/// stwo-cairo's proof of work on the interaction trace, in every proof.
const INTERACTION_POW_BITS: i32 = 24;

/// How many nonces the channel's grinder tried before `nonce`: Stwo's Blake2s grinder tries
/// 2^20 low words per high word, starfarm's Keccak grinder 2^30.
fn tries_before(channel: ChannelKind, nonce: u64) -> u64 {
    let low_bits = match channel {
        ChannelKind::Blake2s => 20,
        ChannelKind::Keccak => 30,
    };
    ((nonce >> 32) << low_bits) + (nonce & 0xffff_ffff) + 1
}

/// Nonces per second each channel's `SimdBackend` grinder tries: 2^20 expected hashes (a
/// 20-bit proof of work) from 8 transcript states, timed together.
fn grind_rates() -> serde_json::Value {
    const BITS: u32 = 20;
    let rate = |kind: ChannelKind, grind: &dyn Fn(u64) -> u64| {
        let started = Instant::now();
        let tried: u64 = (0..8).map(|seed| tries_before(kind, grind(seed))).sum();
        tried as f64 / started.elapsed().as_secs_f64()
    };
    let blake2s = rate(ChannelKind::Blake2s, &|seed| {
        let mut channel = Blake2sChannel::default();
        channel.mix_u64(seed);
        <SimdBackend as GrindOps<Blake2sChannel>>::grind(&channel, BITS)
    });
    let keccak = rate(ChannelKind::Keccak, &|seed| {
        let mut channel = Keccak256Channel::default();
        channel.mix_u64(seed);
        <SimdBackend as GrindOps<Keccak256Channel>>::grind(&channel, BITS)
    });
    json!({"blake2s": blake2s, "keccak": keccak})
}

fn print_row(r: &serde_json::Value) {
    println!(
        "{:<22} {} bits (pow {}, log blowup {}, {} queries): precompute {:.1} s | prove {:.2} s | proof {} B | verify {:.2} s | peak {} MiB",
        r["setting"].as_str().unwrap_or("?"),
        r["security_bits"],
        r["pow_bits"],
        r["log_blowup"],
        r["queries"],
        r["precompute_seconds"].as_f64().unwrap_or(f64::NAN),
        r["prove_seconds"].as_f64().unwrap_or(f64::NAN),
        r["proof_bytes"],
        r["verify_seconds"].as_f64().unwrap_or(f64::NAN),
        r["peak_rss_mib"],
    );
}
