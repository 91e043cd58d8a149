//! `starfarm worker`: a proving worker that claims jobs from a scheduler until stopped.
//!
//! SIGTERM or Ctrl-C once: claim nothing more, finish the current job (within
//! `--drain-timeout-secs`, else hand it back). Twice: hand it back now. A proof the
//! scheduler cannot be reached to take is kept and retried until then, and abandoned after
//! (its lease expires and the job is proven again elsewhere). Should anything still hold
//! the worker [`EXIT_GRACE`] after the drain timeout, it exits anyway (status 2).

use std::time::Duration;

use anyhow::{bail, Context};
use starfarm_prover::DeviceRequest;
use starfarm_scheduler::worker::{
    capabilities, Outcome, SchedulerClient, Stop, Worker, WorkerConfig,
};
use starfarm_scheduler::{kinds, JobKind};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// How long after the drain timeout (or the second signal) the worker exits whatever it is
/// still waiting for: every call to the scheduler is bounded, this is the last resort.
const EXIT_GRACE: Duration = Duration::from_secs(15);

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// The scheduler's URL.
    #[arg(long, env = "STARFARM_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Worker key: a `worker` (or `admin`) key of the scheduler.
    #[arg(long, env = "STARFARM_API_KEY", hide_env_values = true)]
    api_key: String,
    /// This worker's name (default: host name and process id).
    #[arg(long)]
    id: Option<String>,
    /// Memory one job may use, in GiB (default: 90% of what the OS reports available).
    /// Jobs that need more are left to other workers.
    #[arg(long)]
    memory_gib: Option<f64>,
    /// Job kinds to take: cairo_proof, block_chunk (default: every kind workers prove).
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// Lease length asked for, in seconds; heartbeats go out every third of it.
    #[arg(long, default_value_t = 60)]
    lease_secs: u64,
    /// On SIGTERM, how long the current job may still run before it is handed back.
    #[arg(long, default_value_t = 600)]
    drain_timeout_secs: u64,
    /// Stop after this many jobs.
    #[arg(long)]
    max_jobs: Option<u64>,
    /// Where Merkle hashing and grinding run: auto (CUDA, then a hardware wgpu adapter, then
    /// the CPU), cpu, cuda or wgpu. A kernel call that fails on the GPU is redone on the CPU
    /// (counted in the scheduler's `starfarm_gpu_fallbacks_total`).
    #[arg(long, env = "STARFARM_BACKEND", default_value = "auto")]
    backend: DeviceRequest,
    /// How a CUDA proof uses the device: resident (the whole proof on the device, for a job
    /// that fits its memory; a device fault proves the job on the CPU) or streamed (Merkle
    /// hashing and grinding only).
    #[arg(long, env = "STARFARM_GPU_FLOW", value_enum, default_value_t = crate::commands::GpuFlow::Streamed)]
    gpu_flow: crate::commands::GpuFlow,
    /// Most small submitted programs proven together in one proof (1: every job alone).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    batch_size: u64,
    /// What this machine costs per hour in USD (CPU or GPU instance), reported with each
    /// proof for the job's estimated cost; 0: not reported.
    #[arg(long, env = "STARFARM_PRICE_PER_HOUR", default_value_t = 0.0, value_parser = price)]
    price_per_hour: f64,
}

/// A price in USD: a finite number >= 0 (also `starfarm devnet --price-per-hour`).
pub(crate) fn price(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(usd),
        _ => Err(format!("{text:?} is not a price in USD (a number >= 0)")),
    }
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result = runtime.block_on(work(args));
    // A proof handed back on shutdown may still be running on a blocking thread: do not
    // wait for it.
    runtime.shutdown_background();
    result
}

async fn work(args: WorkerArgs) -> anyhow::Result<()> {
    let config = config(&args)?;
    let client =
        SchedulerClient::new(&args.url, &args.api_key)?.with_price_per_hour(args.price_per_hour);
    let (stop_tx, stop) = watch::channel(Stop::Run);
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let drain_timeout = config.drain_timeout;
    tokio::spawn(async move {
        for next in [Stop::Drain, Stop::Now] {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            let what = if next == Stop::Drain {
                "finishing the current job (signal again to hand it back now)"
            } else {
                "handing the current job back"
            };
            eprintln!("worker: stopping: {what}");
            stop_tx.send_replace(next);
            let limit = match next {
                Stop::Drain => drain_timeout,
                _ => Duration::ZERO,
            };
            tokio::spawn(exit_after(limit + EXIT_GRACE));
        }
    });
    eprintln!(
        "worker {} proving for {} ({:.1} GiB per job, {} cores, backend {})",
        config.worker_id,
        client.base_url(),
        config.capabilities.memory_bytes as f64 / (1u64 << 30) as f64,
        capabilities::cpu_cores(),
        config.backend,
    );
    let summary = Worker::new(client, config)
        .run(stop, |outcome| eprintln!("{}", describe(outcome)))
        .await;
    eprintln!(
        "worker stopped: {} proven, {} failed, {} fenced, {} handed back, {} abandoned",
        summary.done, summary.failed, summary.fenced, summary.released, summary.abandoned
    );
    Ok(())
}

/// The last resort of a stopping worker: exits after `limit` even if a call still hangs.
async fn exit_after(limit: Duration) {
    tokio::time::sleep(limit).await;
    eprintln!(
        "worker: still not stopped {} s after the signal; exiting (a job in hand is proven again after its lease expires)",
        limit.as_secs()
    );
    std::process::exit(2);
}

fn config(args: &WorkerArgs) -> anyhow::Result<WorkerConfig> {
    let memory_bytes = match args.memory_gib {
        Some(gib) if gib.is_finite() && gib > 0.0 => (gib * (1u64 << 30) as f64) as u64,
        Some(gib) => bail!("--memory-gib must be a positive number, not {gib}"),
        None => capabilities::detect_memory_bytes()
            .context("cannot read /proc/meminfo: pass --memory-gib")?,
    };
    // Some kinds run inside the scheduler (aggregation): a worker never takes them.
    let provable = kinds::proven_by_workers();
    let kinds = args
        .kinds
        .iter()
        .map(|k| match k.parse::<JobKind>() {
            Ok(kind) if provable.contains(&kind) => Ok(kind),
            _ => {
                let names: Vec<_> = provable.iter().map(|k| k.as_str()).collect();
                bail!(
                    "--kinds: {k:?} is not a kind a worker proves ({})",
                    names.join(", ")
                )
            }
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let kinds = if kinds.is_empty() { provable } else { kinds };
    if args.lease_secs < 3 {
        bail!("--lease-secs must be at least 3 (heartbeats go out every third of it)");
    }
    let id = args
        .id
        .clone()
        .unwrap_or_else(capabilities::default_worker_id);
    let backend = crate::commands::select_backend(args.backend)?;
    let offered = capabilities::with_device_memory(
        capabilities::for_backend(memory_bytes, backend, kinds),
        starfarm_prover::device::device_memory_bytes(backend),
    );
    let mut config = WorkerConfig::new(id, offered);
    config.backend = backend;
    config.resident = crate::commands::resident_factory(backend, args.gpu_flow);
    config.lease = Duration::from_secs(args.lease_secs);
    config.drain_timeout = Duration::from_secs(args.drain_timeout_secs);
    config.max_jobs = args.max_jobs;
    config.batch_size = args.batch_size as usize;
    Ok(config)
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Done {
            job_id,
            artifact,
            timings,
            batch,
        } => {
            let shared = if *batch > 1 {
                format!(", shared by a batch of {batch}")
            } else {
                String::new()
            };
            format!(
                "job {job_id}: proven in {:.1} s (proof {:.1} s{shared}), artifact {artifact}",
                timings.total.as_secs_f64(),
                timings.prove.as_secs_f64()
            )
        }
        Outcome::Failed {
            job_id,
            reason,
            retryable,
        } => {
            let next = if *retryable {
                "will be retried"
            } else {
                "failed for good"
            };
            format!("job {job_id}: {reason} ({next})")
        }
        Outcome::Fenced { job_id } => {
            format!("job {job_id}: lease lost to another worker; result dropped")
        }
        Outcome::Released { job_id } => format!("job {job_id}: handed back"),
        Outcome::Abandoned { job_id } => format!(
            "job {job_id}: proof abandoned: the scheduler could not be reached before the \
             worker had to stop; it is proven again after its lease expires"
        ),
    }
}
