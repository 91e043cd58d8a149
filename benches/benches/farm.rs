//! Farm throughput and scheduler overhead, against proving loops measured in the same run.
//!
//! What is measured, in one process, on N small jobs (`examples/fibonacci.json` with inputs
//! [100], [101], ...: distinct inputs, so distinct jobs):
//!
//! 1. **Farm**: the scheduler API in-process (SQLite store in a temporary folder, blobs in a
//!    folder, HTTP on 127.0.0.1), the N jobs submitted over HTTP, ONE library `Worker` (a
//!    fresh one: its first job pays the precompute) with `max_jobs = N`, batching up to
//!    `STARFARM_BENCH_BATCH` (default 8, the worker's default) small jobs per proof. Timed
//!    from the first submission to the scheduler's acceptance of the last job (which
//!    re-verifies every artifact). Also reported: throughput excluding the first job (first
//!    → last acceptance). Then the same farm again with every job proven alone (batch 1):
//!    its throughput, and the per-job overhead of (4).
//! 2. **Anchor (b)**, warm in-process loop: one `starfarm_prover::Prover` proving the same N
//!    jobs one after another (cold on the first, warm after). This is stwo-cairo's
//!    `prove_cairo_with_precompute` plus execution, adaptation, encoding and verification.
//!    Also, the strictest anchor: a loop of bare `prove_cairo_with_precompute` calls on
//!    inputs executed and adapted beforehand (no execution, adaptation or verification in
//!    the loop; its precompute, built as the `Prover` builds it, is reported separately).
//! 3. **Anchor (a)**: a loop calling stwo-cairo's `prove_cairo` on the same jobs (executed and
//!    adapted outside the timing), fresh precompute every call as its public API does, with
//!    stwo-cairo's default preprocessed trace (`Canonical`) and the profile's PCS config.
//! 4. **Scheduler overhead per job**, from the unbatched farm run: submit request latency (measured
//!    here) + claim latency (from the previous job's acceptance, or from the job's submission
//!    if later, to this job's claim: derived from the worker's outcome callbacks and its
//!    `JobTimings`) + (claim-to-acceptance − prove) from `JobTimings` (fetching the program
//!    and input, phase reports, hand-in). Hand-in includes the scheduler verifying the
//!    artifact again: that verification is timed separately here (parse + verify of the
//!    stored artifact, as the scheduler does) and the overhead is reported with and
//!    without it.
//!
//! Order: farm first (cold worker), then (b), then the bare loop, then (a) last (each anchor
//! holds its own precompute; the previous one is dropped first).
//!
//! Run: `cargo bench -p starfarm-benches --profile dev --bench farm`
//! (the full default run, 20 jobs in production, takes over half an hour on 2 cores, most of
//! it in anchor (a); `STARFARM_BENCH_ANCHOR_JOBS=2` measures 2 of its calls and extrapolates).
//! Quick check: `STARFARM_BENCH_JOBS=3 STARFARM_BENCH_ANCHOR_JOBS=1 STARFARM_BENCH_PROFILE=test`.
//! Environment: STARFARM_BENCH_JOBS (N, default 20), STARFARM_BENCH_PROFILE (production),
//! STARFARM_BENCH_BATCH (default 8), STARFARM_BENCH_UNBATCHED=0 skips the unbatched farm run,
//! STARFARM_BENCH_ANCHOR_JOBS (jobs of anchor (a) actually proven, default N; fewer are
//! extrapolated linearly to N; 0 skips it), STARFARM_BENCH_BARE=0 skips the bare loop.
//! Prints a table; writes JSON to target/bench-farm-<profile>-<N>.json.
//! Goals (the issue): farm ≥ 6× anchor (a), ≥ 1.3× anchor (b); overhead < 50 ms per job.

use std::collections::HashMap;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use starfarm_benches::{
    anchor_parameters, env_list, median, peak_rss_mib, profile_from_env, repo_root, reset_peak_rss,
};
use starfarm_prover::prover::{parameters, precompute};
use starfarm_prover::{
    execute, verify, CairoProgram, Felt, ProgramInput, ProofArtifact, Prover, SecurityProfile,
};
use starfarm_scheduler::api::{self, ApiConfig, ApiKeys, AppState};
use starfarm_scheduler::blobs::BlobStore;
use starfarm_scheduler::worker::{
    capabilities, JobTimings, Outcome, SchedulerClient, Stop, Worker, WorkerConfig,
};
use starfarm_scheduler::{JobStore, SqliteStore, StoreConfig};
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant;
use stwo_cairo_prover::prover::prove_cairo;

const KEY: &str = "bench-key";
const FIRST_INPUT: u64 = 100;
const GOAL_VS_PROVE_CAIRO: f64 = 6.0;
const GOAL_VS_WARM_LOOP: f64 = 1.3;
const GOAL_OVERHEAD_MS: f64 = 50.0;

fn main() -> Result<()> {
    let jobs = env_list("STARFARM_BENCH_JOBS", &[20])[0].max(1) as usize;
    let anchor_jobs =
        (env_list("STARFARM_BENCH_ANCHOR_JOBS", &[jobs as u32])[0] as usize).min(jobs);
    let bare_on = std::env::var("STARFARM_BENCH_BARE").map_or(true, |v| v != "0");
    let profile = profile_from_env()?;
    let cores = capabilities::cpu_cores();
    let root = repo_root();
    let program_path = root.join("examples/fibonacci.json");
    let program = CairoProgram::from_file(&program_path)?;
    let program_json: Value = serde_json::from_slice(&std::fs::read(&program_path)?)?;
    let inputs: Vec<u64> = (0..jobs as u64).map(|i| FIRST_INPUT + i).collect();
    println!(
        "farm benchmark: {jobs} jobs (fibonacci [{}..{}]), profile {profile} ({} bits), {cores} cores, avx2 build: {}",
        inputs[0],
        inputs[jobs - 1],
        profile.security_bits(),
        cfg!(target_feature = "avx2"),
    );

    // 1. The farm, with a fresh (cold) worker, batching up to `batch` jobs per proof; then,
    // for the per-job overhead, again with every job proven alone.
    let batch = env_list("STARFARM_BENCH_BATCH", &[8])[0].max(1) as usize;
    let unbatched_on = std::env::var("STARFARM_BENCH_UNBATCHED").map_or(true, |v| v != "0");
    reset_peak_rss();
    let farm = farm_run(&program_json, &inputs, profile, batch)?;
    let farm_peak = peak_rss_mib();
    let single = if batch > 1 && unbatched_on {
        Some(farm_run(&program_json, &inputs, profile, 1)?)
    } else {
        None
    };

    // 2. Anchor (b): one warm Prover, sequentially.
    println!("anchor (b): one starfarm Prover (prove_cairo_with_precompute + execute, adapt, verify), sequentially ...");
    reset_peak_rss();
    let mut prover = Prover::new(profile);
    let mut warm_loop = Vec::new();
    let mut variant = None;
    for &n in &inputs {
        let started = Instant::now();
        let artifact = prover.prove(&program, &fib_input(n), &mut |_| {})?;
        let secs = started.elapsed().as_secs_f64();
        variant = Some(artifact.header.preprocessed_trace);
        warm_loop.push(json!({
            "input": n, "seconds": secs, "phases_ms": artifact.header.timings_ms,
        }));
    }
    drop(prover);
    let warm_peak = peak_rss_mib();
    let warm_secs: Vec<f64> = warm_loop.iter().map(|r| secs_of(r, "seconds")).collect();
    let warm_total: f64 = warm_secs.iter().sum();
    println!("anchor (b): {warm_total:.2} s");
    let variant = variant.context("no proof")?;

    // 2b. The strictest anchor: bare prove_cairo_with_precompute on pre-adapted inputs.
    let bare = if bare_on {
        println!("bare loop: prove_cairo_with_precompute on pre-adapted inputs ({variant:?}) ...");
        reset_peak_rss();
        let bare = run_bare(&program, &inputs, profile, variant)?;
        println!(
            "bare loop: precompute {:.2} s + {:.2} s proving",
            bare.precompute,
            bare.proofs.iter().sum::<f64>()
        );
        Some((bare, peak_rss_mib()))
    } else {
        None
    };

    // 3. Anchor (a): prove_cairo, fresh every call.
    let mut anchor = Vec::new();
    if anchor_jobs > 0 {
        println!(
            "anchor (a): stwo-cairo prove_cairo, fresh precompute each call, {anchor_jobs} of {jobs} jobs ..."
        );
        reset_peak_rss();
        for &n in &inputs[..anchor_jobs] {
            let execution = execute(&program, &fib_input(n), Default::default())?;
            let input = execution.adapt()?;
            let started = Instant::now();
            let proof = prove_cairo::<Blake2sMerkleChannel>(input, anchor_parameters(profile))?;
            let secs = started.elapsed().as_secs_f64();
            drop(proof);
            println!("anchor (a): input [{n}]: {secs:.2} s");
            anchor.push(secs);
        }
    }
    let anchor_peak = (!anchor.is_empty()).then(peak_rss_mib).flatten();

    let report = report(
        &Setup {
            jobs,
            batch,
            profile,
            cores,
            inputs: &inputs,
        },
        &farm,
        single.as_ref(),
        (&warm_loop, warm_total, warm_peak, farm_peak),
        bare.as_ref(),
        (&anchor, anchor_peak),
    );
    print_table(&report);
    let out = root.join(format!("target/bench-farm-{}-{jobs}.json", profile.name()));
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("results written to {}", out.display());
    Ok(())
}

/// One farm run in its own runtime (a fresh worker: cold prover).
fn farm_run(
    program: &Value,
    inputs: &[u64],
    profile: SecurityProfile,
    batch: usize,
) -> Result<FarmRun> {
    println!(
        "farm: scheduler in-process, 1 worker, batches of up to {batch}, {} jobs over HTTP ...",
        inputs.len()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let farm = runtime.block_on(run_farm(program, inputs, profile, batch))?;
    println!(
        "farm: {:.2} s for {} jobs (first accepted after {:.2} s)",
        farm.wall,
        inputs.len(),
        farm.first_done
    );
    Ok(farm)
}

fn fib_input(n: u64) -> ProgramInput {
    ProgramInput::new(vec![Felt::from(n)])
}

fn secs_of(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

/// One job of the farm run, in the order the worker finished them.
struct FarmJob {
    job_id: i64,
    input: u64,
    timings: JobTimings,
    /// Seconds from the first submission.
    submitted: f64,
    claimed: f64,
    done: f64,
    /// The submit request's latency.
    submit: f64,
    /// From the job being claimable (its submission answered, the worker free) to its claim.
    claim: f64,
    /// Parsing and verifying the stored artifact, as the scheduler does on hand-in.
    reverify: f64,
    /// The artifact's own phase timings (execute, adapt, precompute, prove, verify).
    phases: Value,
}

struct FarmRun {
    /// First submission → last acceptance.
    wall: f64,
    /// First submission → first acceptance.
    first_done: f64,
    jobs: Vec<FarmJob>,
}

async fn run_farm(
    program: &Value,
    inputs: &[u64],
    profile: SecurityProfile,
    batch_size: usize,
) -> Result<FarmRun> {
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn JobStore> =
        Arc::new(SqliteStore::open(dir.path().join("jobs.sqlite"), StoreConfig::default()).await?);
    let blobs_dir = dir.path().join("blobs");
    let blobs = BlobStore::open(blobs_dir.to_str().context("temporary path")?)?;
    let state = AppState::new(
        Arc::clone(&store),
        blobs,
        ApiConfig::new(ApiKeys::new([KEY])),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state, async {
        let _ = shutdown_rx.await;
    }));

    // One fresh worker; routing is not measured here, so it offers memory enough for any job.
    let mut config = WorkerConfig::new("bench-worker", capabilities::cpu(1 << 40, vec![]));
    config.max_jobs = Some(inputs.len() as u64);
    config.batch_size = batch_size;
    let worker = Worker::new(SchedulerClient::new(&url, KEY)?, config);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(Stop::Run);
    let (events_tx, events) = mpsc::channel::<(Instant, Outcome)>();
    let worker = tokio::spawn(worker.run(stop_rx, move |outcome| {
        let _ = events_tx.send((Instant::now(), outcome.clone()));
    }));

    let http = reqwest::Client::new();
    let bodies: Vec<Value> = inputs
        .iter()
        .map(|n| json!({"program": program, "input": [n], "profile": profile.name()}))
        .collect();
    // Give the worker's first (long-polling) claim time to arrive, as a running farm's would.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    // job id → (input, submit latency, submission answered, seconds from t0)
    let mut submitted = HashMap::new();
    for (body, &n) in bodies.iter().zip(inputs) {
        let started = Instant::now();
        let response = http
            .post(format!("{url}/v1/jobs"))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let view: Value = response.json().await?;
        let latency = started.elapsed().as_secs_f64();
        ensure!(status.as_u16() == 201, "submit [{n}]: {status} {view}");
        let id = view["id"].as_i64().context("job id")?;
        submitted.insert(id, (n, latency, t0.elapsed().as_secs_f64()));
    }
    let summary = worker.await?;
    let _ = stop_tx.send(Stop::Now);
    let events: Vec<_> = events.try_iter().collect();
    ensure!(
        summary.done == inputs.len() as u64,
        "the worker finished {summary:?}: {:?}",
        events.iter().map(|(_, o)| o).collect::<Vec<_>>()
    );

    let mut jobs = Vec::new();
    let mut previous_done = 0.0_f64;
    for (at, outcome) in &events {
        let Outcome::Done {
            job_id, timings, ..
        } = outcome
        else {
            bail!("not done: {outcome:?}");
        };
        let done = at.duration_since(t0).as_secs_f64();
        let claimed = done - timings.total.as_secs_f64();
        let &(input, submit, answered) = submitted.get(job_id).context("unknown job")?;
        // The artifact as the scheduler stored it: time what `complete` did with it.
        let bytes = http
            .get(format!("{url}/v1/jobs/{job_id}/artifact"))
            .bearer_auth(KEY)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let started = Instant::now();
        let artifact = ProofArtifact::from_bytes(&bytes)?;
        verify(&artifact, profile.security_bits())?;
        let reverify = started.elapsed().as_secs_f64();
        jobs.push(FarmJob {
            job_id: *job_id,
            input,
            timings: *timings,
            submitted: answered - submit,
            claimed,
            done,
            submit,
            claim: (claimed - previous_done.max(answered)).max(0.0),
            reverify,
            phases: json!(artifact.header.timings_ms),
        });
        previous_done = done;
    }
    let _ = shutdown_tx.send(());
    server.await??;
    store.close().await;
    let first_done = jobs.first().map_or(f64::NAN, |j| j.done);
    let wall = jobs.last().map_or(f64::NAN, |j| j.done);
    Ok(FarmRun {
        wall,
        first_done,
        jobs,
    })
}

/// The bare loop: the precompute `starfarm_prover::Prover` builds (twiddles sized to the
/// variant, the preprocessed-trace commitment), then one `prove_cairo_with_precompute` per
/// pre-adapted input with the same parameters.
struct Bare {
    precompute: f64,
    proofs: Vec<f64>,
}

fn run_bare(
    program: &CairoProgram,
    inputs: &[u64],
    profile: SecurityProfile,
    variant: PreProcessedTraceVariant,
) -> Result<Bare> {
    let mut adapted = Vec::new();
    for &n in inputs {
        adapted.push(execute(program, &fib_input(n), Default::default())?.adapt()?);
    }
    let started = Instant::now();
    let warm = precompute::<Blake2sMerkleChannel>(variant, profile);
    let precompute = started.elapsed().as_secs_f64();
    let params = parameters(profile, variant);
    let mut proofs = Vec::new();
    for input in adapted {
        let started = Instant::now();
        let proof = warm.prove(input, params)?;
        proofs.push(started.elapsed().as_secs_f64());
        drop(proof);
    }
    Ok(Bare { precompute, proofs })
}

struct Setup<'a> {
    jobs: usize,
    batch: usize,
    profile: SecurityProfile,
    cores: usize,
    inputs: &'a [u64],
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn stats(values: &[f64]) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    let mut sorted = values.to_vec();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    json!({"mean": mean, "median": median(&mut sorted), "max": max})
}

/// `anchor / farm` when both are known.
fn ratio(anchor: Option<f64>, farm: Option<f64>) -> Option<f64> {
    Some(anchor? / farm?).filter(|r| r.is_finite())
}

fn report(
    setup: &Setup,
    farm: &FarmRun,
    single: Option<&FarmRun>,
    (warm_loop, warm_total, warm_peak, farm_peak): (&[Value], f64, Option<u64>, Option<u64>),
    bare: Option<&(Bare, Option<u64>)>,
    (anchor, anchor_peak): (&[f64], Option<u64>),
) -> Value {
    let n = setup.jobs;
    let steady = |total: f64, first: f64| (n > 1).then(|| (total - first) / (n - 1) as f64);

    // The farm: per job (from the run that proves every job alone: submit → claim →
    // complete each) and overall.
    let farm_jobs: Vec<Value> = single
        .unwrap_or(farm)
        .jobs
        .iter()
        .map(|j| {
            let t = &j.timings;
            let other = t.total.saturating_sub(t.prepare + t.prove + t.hand_in);
            let overhead = j.submit * 1e3 + j.claim * 1e3 + ms(t.total) - ms(t.prove);
            json!({
                "job_id": j.job_id, "input": j.input,
                "submitted_s": j.submitted, "claimed_s": j.claimed, "done_s": j.done,
                "submit_ms": j.submit * 1e3, "claim_ms": j.claim * 1e3,
                "prepare_ms": ms(t.prepare), "prove_ms": ms(t.prove),
                "hand_in_ms": ms(t.hand_in), "other_ms": ms(other), "total_ms": ms(t.total),
                "reverify_ms": j.reverify * 1e3,
                "overhead_ms": overhead,
                "overhead_without_reverify_ms": overhead - j.reverify * 1e3,
                "phases_ms": j.phases,
            })
        })
        .collect();
    let col = |key: &str| -> Vec<f64> { farm_jobs.iter().map(|j| secs_of(j, key)).collect() };
    let farm_steady = steady(farm.wall, farm.first_done);

    // Anchor (b) and the bare loop.
    let warm_first = warm_loop
        .first()
        .map_or(f64::NAN, |r| secs_of(r, "seconds"));
    let warm_steady = steady(warm_total, warm_first);
    let bare_json = bare.map(|(b, peak)| {
        let loop_total: f64 = b.proofs.iter().sum();
        let total = b.precompute + loop_total;
        json!({
            "precompute_s": b.precompute,
            "proofs_s": b.proofs,
            "total_s": total,
            "per_job_s": loop_total / b.proofs.len().max(1) as f64,
            "peak_rss_mib": peak,
            "farm_speedup": ratio(Some(total), Some(farm.wall)),
            "farm_steady_speedup": ratio(Some(loop_total / b.proofs.len().max(1) as f64), farm_steady),
        })
    });

    // Anchor (a), extrapolated to N when only k were measured.
    let anchor_json = (!anchor.is_empty()).then(|| {
        let k = anchor.len();
        let per_job = anchor.iter().sum::<f64>() / k as f64;
        let total = per_job * n as f64;
        json!({
            "measured_jobs": k,
            "extrapolated": k < n,
            "seconds": anchor,
            "per_job_s": per_job,
            "total_s": total,
            "peak_rss_mib": anchor_peak,
            "farm_speedup": ratio(Some(total), Some(farm.wall)),
            "farm_steady_speedup": ratio(Some(per_job), farm_steady),
        })
    });

    json!({
        "jobs": n,
        "program": "examples/fibonacci.json",
        "inputs": setup.inputs,
        "profile": setup.profile.name(),
        "security_bits": setup.profile.security_bits(),
        "cores": setup.cores,
        "avx2": cfg!(target_feature = "avx2"),
        "farm_unbatched": single.map(|s| json!({
            "wall_s": s.wall,
            "jobs_per_min": n as f64 / s.wall * 60.0,
            "vs_warm_loop": ratio(Some(warm_total), Some(s.wall)),
            "vs_prove_cairo": anchor_json.as_ref().and_then(|a| ratio(a["total_s"].as_f64(), Some(s.wall))),
        })),
        "farm": {
            "batch_size": setup.batch,
            "wall_s": farm.wall,
            "first_job_done_s": farm.first_done,
            "jobs_per_min": n as f64 / farm.wall * 60.0,
            "steady_per_job_s": farm_steady,
            "steady_jobs_per_min": farm_steady.map(|s| 60.0 / s),
            "peak_rss_mib": farm_peak,
            "jobs": farm_jobs,
        },
        "overhead_ms": {
            "per_job": stats(&col("overhead_ms")),
            "per_job_excluding_first": stats(col("overhead_ms").get(1..).unwrap_or_default()),
            "per_job_without_reverify": stats(&col("overhead_without_reverify_ms")),
            "submit": stats(&col("submit_ms")),
            "claim": stats(&col("claim_ms")),
            "prepare": stats(&col("prepare_ms")),
            "hand_in": stats(&col("hand_in_ms")),
            "reverify": stats(&col("reverify_ms")),
            "other": stats(&col("other_ms")),
            "goal_ms": GOAL_OVERHEAD_MS,
        },
        "anchor_warm_loop": {
            "what": "one starfarm Prover, sequential: prove_cairo_with_precompute + execute, adapt, encode, verify",
            "total_s": warm_total,
            "steady_per_job_s": warm_steady,
            "peak_rss_mib": warm_peak,
            "proofs": warm_loop,
            "farm_speedup": ratio(Some(warm_total), Some(farm.wall)),
            "farm_steady_speedup": ratio(warm_steady, farm_steady),
            "goal": GOAL_VS_WARM_LOOP,
        },
        "anchor_bare_loop": bare_json,
        "anchor_prove_cairo": anchor_json.map(|mut a| {
            a["goal"] = json!(GOAL_VS_PROVE_CAIRO);
            a
        }),
    })
}

fn f(v: &Value) -> String {
    v.as_f64().map_or_else(|| "-".into(), |x| format!("{x:.2}"))
}

fn meets(v: &Value, goal: f64) -> &'static str {
    match v.as_f64() {
        Some(x) if x >= goal => "meets",
        Some(_) => "BELOW",
        None => "-",
    }
}

fn print_table(r: &Value) {
    let farm = &r["farm"];
    println!();
    println!(
        "== farm benchmark: {} jobs, profile {} ({} bits), {} cores, avx2 {} ==",
        r["jobs"],
        r["profile"].as_str().unwrap_or("?"),
        r["security_bits"],
        r["cores"],
        r["avx2"]
    );
    println!("per job of the farm, every job proven alone (ms unless s; completion order):");
    println!(
        "  {:>4} {:>6} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>8} {:>10}  artifact phases (ms)",
        "job",
        "input",
        "submit",
        "claim",
        "prepare",
        "prove s",
        "hand_in",
        "reverify",
        "other",
        "overhead"
    );
    for j in farm["jobs"].as_array().into_iter().flatten() {
        println!(
            "  {:>4} {:>6} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>8} {:>10}  {}",
            j["job_id"].to_string(),
            j["input"].to_string(),
            f(&j["submit_ms"]),
            f(&j["claim_ms"]),
            f(&j["prepare_ms"]),
            f(&json!(j["prove_ms"].as_f64().map(|x| x / 1e3))),
            f(&j["hand_in_ms"]),
            f(&j["reverify_ms"]),
            f(&j["other_ms"]),
            f(&j["overhead_ms"]),
            j["phases_ms"],
        );
    }
    let b = &r["anchor_warm_loop"];
    println!("anchor (b) per job, s: {}", {
        let v: Vec<String> = b["proofs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| f(&p["seconds"]))
            .collect();
        v.join(" ")
    });
    println!();
    println!(
        "  {:<58} {:>10} {:>12} {:>9} {:>7}",
        "", "total s", "per job s*", "farm ×", "goal"
    );
    println!(
        "  {:<58} {:>10} {:>12} {:>9} {:>7}",
        format!(
            "farm (1 worker, cold start, batches ≤ {})",
            farm["batch_size"]
        ),
        f(&farm["wall_s"]),
        f(&farm["steady_per_job_s"]),
        "",
        ""
    );
    let single = &r["farm_unbatched"];
    if !single.is_null() {
        println!(
            "  {:<58} {:>10}   × vs (a) {}, × vs (b) {}",
            "farm, every job proven alone",
            f(&single["wall_s"]),
            f(&single["vs_prove_cairo"]),
            f(&single["vs_warm_loop"]),
        );
    }
    let a = &r["anchor_prove_cairo"];
    if a.is_null() {
        println!(
            "  {:<58} skipped (STARFARM_BENCH_ANCHOR_JOBS=0)",
            "(a) prove_cairo loop"
        );
    } else {
        let label = if a["extrapolated"] == true {
            format!(
                "(a) prove_cairo loop (measured {} of {}, extrapolated)",
                a["measured_jobs"], r["jobs"]
            )
        } else {
            "(a) prove_cairo loop (fresh precompute each call)".into()
        };
        println!(
            "  {:<58} {:>10} {:>12} {:>9} {:>7}  {}",
            label,
            f(&a["total_s"]),
            f(&a["per_job_s"]),
            f(&a["farm_speedup"]),
            format!("≥{GOAL_VS_PROVE_CAIRO}"),
            meets(&a["farm_speedup"], GOAL_VS_PROVE_CAIRO)
        );
    }
    println!(
        "  {:<58} {:>10} {:>12} {:>9} {:>7}  {}",
        "(b) warm Prover loop (precompute once; exec+verify incl.)",
        f(&b["total_s"]),
        f(&b["steady_per_job_s"]),
        f(&b["farm_speedup"]),
        format!("≥{GOAL_VS_WARM_LOOP}"),
        meets(&b["farm_speedup"], GOAL_VS_WARM_LOOP)
    );
    let bare = &r["anchor_bare_loop"];
    if !bare.is_null() {
        println!(
            "  {:<58} {:>10} {:>12} {:>9}",
            "bare prove_cairo_with_precompute loop (+ its precompute)",
            f(&bare["total_s"]),
            f(&bare["per_job_s"]),
            f(&bare["farm_speedup"]),
        );
    }
    println!("  * per job s: excluding the first job (farm: first → last acceptance over N−1).");
    println!(
        "  steady state (excl. first job), farm ×: vs (a) {}, vs (b) {}, vs bare {}",
        f(&a["farm_steady_speedup"]),
        f(&b["farm_steady_speedup"]),
        f(&bare["farm_steady_speedup"]),
    );
    println!(
        "  farm throughput: {} jobs/min overall, {} jobs/min excluding the first",
        f(&farm["jobs_per_min"]),
        f(&farm["steady_jobs_per_min"]),
    );
    println!(
        "  peak RSS, MiB: farm {}, (b) {}, bare {}, (a) {}",
        farm["peak_rss_mib"], b["peak_rss_mib"], bare["peak_rss_mib"], a["peak_rss_mib"]
    );
    let o = &r["overhead_ms"];
    let line = |name: &str, v: &Value| {
        println!(
            "    {:<44} mean {:>8}  median {:>8}  max {:>8}",
            name,
            f(&v["mean"]),
            f(&v["median"]),
            f(&v["max"])
        );
    };
    println!(
        "  scheduler overhead per job, ms (goal < {GOAL_OVERHEAD_MS}): {}",
        match o["per_job"]["mean"].as_f64() {
            Some(x) if x < GOAL_OVERHEAD_MS => "meets (mean)",
            Some(_) => "ABOVE (mean)",
            None => "-",
        }
    );
    line(
        "total = submit + claim + (claim→accepted − prove)",
        &o["per_job"],
    );
    line(
        "total, excluding the first job",
        &o["per_job_excluding_first"],
    );
    line(
        "total without the scheduler's re-verification",
        &o["per_job_without_reverify"],
    );
    line("  submit request", &o["submit"]);
    line("  claim (free worker → job claimed)", &o["claim"]);
    line("  prepare (fetch program + input, parse)", &o["prepare"]);
    line(
        "  hand in (encode, upload; scheduler re-verifies)",
        &o["hand_in"],
    );
    line("    of which re-verification (timed here)", &o["reverify"]);
    line("  other (phase report, lease keeper)", &o["other"]);
}
