//! Where a proof's time goes, and whole-proof time on each backend, in the same run.
//!
//! Proves fibonacci sized to about 2^k steps with a warm starfarm `Prover` on the CPU and on the
//! GPU backend this machine has, and with stwo-cairo's own `prove_cairo` (the anchor, fresh
//! precompute each call, as its public API does). For each backend it reports the median warm
//! proof time and the exclusive wall time of every stwo / stwo-cairo tracing span on the proving
//! thread, grouped into stages (witness generation, FFT, Merkle, constraints, FRI, proof of
//! work): the measurement that decides what to move to the GPU next.
//!
//! Run: `cargo bench -p starfarm-benches --profile dev --bench proof_phases`.
//! Environment: STARFARM_BENCH_LOG_STEPS (default 18), STARFARM_BENCH_PROFILE (production),
//! STARFARM_BENCH_REPS (warm proofs per backend, 2), STARFARM_BENCH_GPU (auto: CUDA, then a
//! hardware wgpu adapter; `wgpu` also takes lavapipe; `off`), STARFARM_BENCH_ANCHOR=0 to skip
//! the anchor. The GPU backend runs with the default work split (`device::work_split`: Merkle on
//! the GPU only on hosts of at most 4 threads); `STARFARM_GPU_MIN_LOG_ROWS=12` puts it there on
//! any host. Writes target/bench-proof-phases-<profile>-<k>.json.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use starfarm_benches::spans::{stage, SelfTime};
use starfarm_benches::{
    anchor_parameters, env_list, median, peak_rss_mib, profile_from_env, repo_root, reset_peak_rss,
};
use starfarm_prover::device::select;
use starfarm_prover::{
    execute, CairoProgram, Device, DeviceRequest, Felt, ProgramInput, Prover, SecurityProfile,
};
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo_cairo_prover::prover::prove_cairo;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

fn fib_input(log_steps: u32) -> ProgramInput {
    ProgramInput::new(vec![Felt::from((1u64 << log_steps) / 6)])
}

struct Setup {
    program: CairoProgram,
    input: ProgramInput,
    log_steps: u32,
    profile: SecurityProfile,
    reps: u32,
    spans: SelfTime,
}

fn main() -> Result<()> {
    let k = env_list("STARFARM_BENCH_LOG_STEPS", &[18])[0];
    let reps = env_list("STARFARM_BENCH_REPS", &[2])[0].max(1);
    let profile = profile_from_env()?;
    let gpu: DeviceRequest = std::env::var("STARFARM_BENCH_GPU")
        .unwrap_or_else(|_| "auto".into())
        .parse()
        .map_err(anyhow::Error::msg)?;
    let spans = SelfTime::for_this_thread();
    let subscriber =
        tracing_subscriber::registry().with(spans.clone().with_filter(LevelFilter::TRACE));
    tracing::subscriber::set_global_default(subscriber).context("installing the span timer")?;
    let setup = Setup {
        program: CairoProgram::from_file(&repo_root().join("examples/fibonacci.json"))?,
        input: fib_input(k),
        log_steps: k,
        profile,
        reps,
        spans,
    };
    println!(
        "fibonacci ~2^{k} steps, profile {profile}, {reps} warm proofs per backend, {} threads",
        rayon::current_num_threads()
    );

    let anchor = if std::env::var("STARFARM_BENCH_ANCHOR").map_or(true, |v| v != "0") {
        Some(run_anchor(&setup)?)
    } else {
        None
    };
    let mut backends = vec![run_backend(&setup, Device::Cpu)?];
    match gpu {
        DeviceRequest::Cpu => {}
        choice => match select(choice) {
            Ok(s) if s.backend.is_gpu() => {
                println!("GPU: {}", s.reason);
                backends.push(run_backend(&setup, s.backend)?);
            }
            Ok(s) => println!("no GPU backend: {}", s.reason),
            Err(e) => println!("no GPU backend: {e}"),
        },
    }
    let report = report(&setup, anchor, &backends);
    let out = repo_root().join(format!(
        "target/bench-proof-phases-{}-{k}.json",
        profile.name()
    ));
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("results written to {}", out.display());
    Ok(())
}

/// stwo-cairo's `prove_cairo` on the same run, its own default parameters otherwise.
fn run_anchor(setup: &Setup) -> Result<f64> {
    let execution = execute(&setup.program, &setup.input, Default::default())?;
    let input = execution.adapt()?;
    reset_peak_rss();
    let started = Instant::now();
    let proof = prove_cairo::<Blake2sMerkleChannel>(input, anchor_parameters(setup.profile))?;
    let secs = started.elapsed().as_secs_f64();
    drop(proof);
    setup.spans.take();
    println!(
        "anchor prove_cairo: {secs:.2} s (with its precompute), peak {:?} MiB",
        peak_rss_mib()
    );
    Ok(secs)
}

struct BackendRun {
    backend: Device,
    cold_secs: f64,
    warm_secs: f64,
    phases_ms: Value,
    gpu: Value,
    spans: Vec<(String, Duration)>,
    peak_rss_mib: Option<u64>,
}

/// A cold proof (precompute included), then `reps` warm ones with their spans timed.
fn run_backend(setup: &Setup, backend: Device) -> Result<BackendRun> {
    let mut prover = Prover::new(setup.profile).with_backend(backend);
    reset_peak_rss();
    let started = Instant::now();
    prover.prove(&setup.program, &setup.input, &mut |_| {})?;
    let cold_secs = started.elapsed().as_secs_f64();
    setup.spans.take();
    let mut warm = Vec::new();
    let mut last = None;
    for _ in 0..setup.reps {
        let artifact = prover.prove(&setup.program, &setup.input, &mut |_| {})?;
        warm.push(artifact.header.timings_ms.prove_ms as f64 / 1000.0);
        last = Some(artifact);
    }
    let artifact = last.context("no proof")?;
    let mut spans = setup.spans.take();
    for (_, d) in &mut spans {
        *d /= setup.reps;
    }
    let run = BackendRun {
        backend,
        cold_secs,
        warm_secs: median(&mut warm),
        phases_ms: serde_json::to_value(artifact.header.timings_ms)?,
        gpu: serde_json::to_value(artifact.header.gpu)?,
        spans,
        peak_rss_mib: peak_rss_mib(),
    };
    println!(
        "{backend}: cold {:.2} s, warm prove {:.2} s (median), phases {}, gpu {}",
        run.cold_secs, run.warm_secs, run.phases_ms, run.gpu
    );
    Ok(run)
}

fn report(setup: &Setup, anchor: Option<f64>, runs: &[BackendRun]) -> Value {
    let cpu = runs.first().map_or(f64::NAN, |r| r.warm_secs);
    let rows: Vec<Value> = runs
        .iter()
        .map(|r| {
            let stages = stages(&r.spans);
            print_breakdown(r, &stages);
            json!({
                "backend": r.backend,
                "cold_seconds": r.cold_secs,
                "warm_prove_seconds": r.warm_secs,
                "speedup_vs_anchor": anchor.map(|a| a / r.warm_secs),
                "speedup_vs_cpu": cpu / r.warm_secs,
                "phases_ms": r.phases_ms,
                "gpu": r.gpu,
                "peak_rss_mib": r.peak_rss_mib,
                "stages_ms": stages.iter().map(|(s, d)| (s.to_string(), d.as_millis())).collect::<BTreeMap<_, _>>(),
                "spans_ms": r.spans.iter().map(|(s, d)| (s.clone(), d.as_millis())).collect::<BTreeMap<_, _>>(),
            })
        })
        .collect();
    for row in &rows {
        println!(
            "{}: warm {:.2} s | x{:.2} vs anchor prove_cairo | x{:.2} vs cpu",
            row["backend"].as_str().unwrap_or("?"),
            row["warm_prove_seconds"].as_f64().unwrap_or(f64::NAN),
            row["speedup_vs_anchor"].as_f64().unwrap_or(f64::NAN),
            row["speedup_vs_cpu"].as_f64().unwrap_or(f64::NAN),
        );
    }
    json!({
        "profile": setup.profile.name(),
        "log_steps": setup.log_steps,
        "anchor_prove_cairo_seconds": anchor,
        "backends": rows,
    })
}

/// Span self-times summed by stage, largest first.
fn stages(spans: &[(String, Duration)]) -> Vec<(&'static str, Duration)> {
    let mut by_stage: BTreeMap<&'static str, Duration> = BTreeMap::new();
    for (span, d) in spans {
        *by_stage.entry(stage(span)).or_default() += *d;
    }
    let mut out: Vec<_> = by_stage.into_iter().collect();
    out.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    out
}

fn print_breakdown(run: &BackendRun, stages: &[(&'static str, Duration)]) {
    let total: Duration = stages.iter().map(|(_, d)| *d).sum();
    println!(
        "{} proof, by stage (self time on the proving thread, mean of the warm proofs):",
        run.backend
    );
    for (stage, d) in stages {
        println!(
            "  {stage:<28} {:>8.3} s  {:>5.1} %",
            d.as_secs_f64(),
            100.0 * d.as_secs_f64() / total.as_secs_f64()
        );
    }
    println!("  spans:");
    for (span, d) in run.spans.iter().take(14) {
        println!("    {span:<40} {:>8.3} s", d.as_secs_f64());
    }
}
