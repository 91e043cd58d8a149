//! `starfarm devnet`: the whole system on one machine, from one command, with no account
//! anywhere. A supervisor of child processes (this same binary, plus anvil):
//!
//! anvil (L1, state kept in `<data>/anvil`) → contracts deployed once → sequencer (JSON-RPC,
//! L1 watcher) → scheduler (SQLite job store, local blobs, block ingestion, aggregation,
//! settlement) → N workers (GPU when present: `--backend auto`).
//!
//! Everything lives under `--data` (default `./data`): a restart resumes from it. Ctrl-C or
//! SIGTERM stops the children in order (workers first, anvil last, so that it saves its
//! chain); a devnet killed outright takes its children with it.

mod children;
mod secrets;
mod status;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use children::{OnParentDeath, Proc};
use starfarm_l1::anvil::DEV_KEYS;
use starfarm_prover::SecurityProfile;
use tokio::signal::unix::{signal, SignalKind};

use crate::l1_cli::{self, DeployArgs, L1Args};

#[derive(clap::Args)]
pub struct DevnetArgs {
    /// Where everything is kept; a restart resumes from it.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Proving workers to start.
    #[arg(long, default_value_t = 1)]
    workers: u32,
    /// Where the workers' Merkle hashing and grinding run: auto (CUDA, then a hardware wgpu
    /// adapter, then the CPU), cpu, cuda or wgpu. Each worker logs what it picked and why
    /// (logs/worker-N.log).
    #[arg(long, default_value = "auto")]
    backend: starfarm_prover::DeviceRequest,
    /// Memory each worker may use, in GiB (default: an equal share of 90% of what is
    /// available).
    #[arg(long)]
    worker_memory_gib: Option<f64>,
    /// Security profile blocks are proven with. The Keccak-channel profiles settle through
    /// the verifier on chain (StwoFactRegistry, its floor set to the profile's bits):
    /// l1-test (20 bits, NOT secure; the default) or l1 (96 bits). The others settle through
    /// the TRUSTED attested registry (a prover key signs facts): test (18 bits, fast, NOT
    /// secure) or production (96 bits; a first proof needs about a minute of set-up and
    /// 8+ GiB).
    #[arg(long, default_value = "l1-test")]
    profile: SecurityProfile,
    /// Sequencer JSON-RPC address (also /metrics).
    #[arg(long, default_value = "127.0.0.1:9545")]
    rpc: SocketAddr,
    /// Scheduler REST address (also /metrics).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Port of the local anvil (0: any free port).
    #[arg(long, default_value_t = 8545)]
    l1_port: u16,
    /// The anvil binary (default: $STARFARM_ANVIL, `anvil` on the PATH, or the copy
    /// `scripts/anvil.sh` installs).
    #[arg(long, env = "STARFARM_ANVIL")]
    anvil: Option<PathBuf>,
    /// Block time of the sequencer, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    block_time_ms: u64,
    /// Also send traffic: a `starfarm load` of a few accounts and transfers (its summary is
    /// printed when everything is on L1; its log is logs/load.log).
    #[arg(long)]
    demo: bool,
    /// Target of estimated Cairo steps per proof of a block range (default: the most a
    /// worker's memory allows, up to 2^17).
    #[arg(long)]
    chunk_steps: Option<u64>,
    /// Each worker's `--price-per-hour` (USD per machine-hour), for the estimated costs per
    /// proof and per settled transaction on the prover dashboard; 0: none.
    #[arg(long, env = "STARFARM_PRICE_PER_HOUR", default_value_t = 0.0, value_parser = crate::worker_cli::price)]
    price_per_hour: f64,
}

/// What the devnet serves, once started.
struct Endpoints {
    l1_rpc: String,
    sequencer: String,
    scheduler: String,
    worker_memory: u64,
    chunk_steps: u64,
    /// Whether the deployment verifies proofs on chain (`StwoFactRegistry`).
    verifying: bool,
}

pub fn run(args: DevnetArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // The children are spawned by this (the main) thread: they die with it.
    runtime.block_on(supervise(args))
}

async fn supervise(args: DevnetArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let data = args.data.canonicalize()?;
    let secrets = secrets::load_or_create(&data.join("devnet.json"))?;
    let logs = data.join("logs");
    let mut procs: Vec<Proc> = Vec::new();
    let result = start_and_watch(&args, &data, &secrets, &logs, &mut procs).await;
    eprintln!("\nstopping the devnet…");
    // Workers first (they hand back what they hold), anvil last (it saves the chain).
    for proc in procs.iter_mut().rev() {
        proc.stop(Duration::from_secs(20)).await;
    }
    eprintln!("devnet stopped; its state is in {}", data.display());
    result
}

async fn start_and_watch(
    args: &DevnetArgs,
    data: &Path,
    secrets: &secrets::Secrets,
    logs: &Path,
    procs: &mut Vec<Proc>,
) -> Result<()> {
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let stopped = async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    };
    tokio::pin!(stopped);
    let endpoints = tokio::select! {
        started = start(args, data, secrets, logs, procs) => started?,
        _ = &mut stopped => return Ok(()),
    };
    print_endpoints(&endpoints, secrets, data, args);
    let demo = match args.demo {
        true => Some(Proc::spawn(
            "load",
            demo_load(&endpoints, secrets, data)?,
            logs,
            OnParentDeath::Kill,
        )?),
        false => None,
    };
    tokio::select! {
        failed = watch(procs, demo, &endpoints) => failed,
        _ = &mut stopped => Ok(()),
    }
}

/// The `--demo` traffic: a small load, paced so that blocks keep coming for a while.
fn demo_load(e: &Endpoints, secrets: &secrets::Secrets, data: &Path) -> Result<Command> {
    let mut load = Command::new(std::env::current_exe()?);
    load.args(["load", "--rpc", &e.sequencer, "--l1-rpc", &e.l1_rpc])
        .arg("--deployment")
        .arg(data.join("l1-deployment.json"))
        .args(["--scheduler", &e.scheduler])
        .args([
            "--accounts",
            "4",
            "--transfers",
            "120",
            "--withdrawals",
            "2",
            "--rate",
            "2",
        ])
        .env("STARFARM_L1_KEY", DEV_KEYS[1])
        .env("STARFARM_API_KEY", &secrets.api_key);
    Ok(load)
}

async fn start(
    args: &DevnetArgs,
    data: &Path,
    secrets: &secrets::Secrets,
    logs: &Path,
    procs: &mut Vec<Proc>,
) -> Result<Endpoints> {
    let exe = std::env::current_exe().context("locating the starfarm binary")?;
    let worker_memory = worker_memory(args)?;
    let chunk_steps = match args.chunk_steps {
        Some(steps) => steps,
        None => chunk_steps_within(worker_memory)?,
    };
    let l1_rpc = start_anvil(args, data, logs, procs).await?;
    let deployment = data.join("l1-deployment.json");
    deploy_once(&l1_rpc, &deployment, secrets, args.profile).await?;
    // What the chain has decides (a data folder may hold an older, attested deployment).
    let verifying = l1_cli::read_deployment(&deployment)?.verifier.is_some();

    let mut sequencer = Command::new(&exe);
    sequencer
        .args(["sequencer", "run", "--rpc", &args.rpc.to_string()])
        .arg("--data")
        .arg(data.join("sequencer"))
        .arg("--publish")
        .arg(data.join("objects"))
        .args(["--block-time-ms", &args.block_time_ms.to_string()])
        .arg("--l1-deployment")
        .arg(&deployment)
        .args(["--l1-rpc", &l1_rpc])
        .env("STARFARM_ADMIN_TOKEN", &secrets.admin_token);
    let sequencer = listening(procs, "sequencer", sequencer, logs).await?;

    let mut scheduler = Command::new(&exe);
    scheduler
        .args(["scheduler", "--listen", &args.listen.to_string()])
        .arg("--data")
        .arg(data.join("scheduler"))
        .arg("--sequencer-store")
        .arg(data.join("objects"))
        .args(["--block-profile", args.profile.name()])
        .args(["--chunk-steps", &chunk_steps.to_string()])
        .arg("--settle")
        .arg(&deployment)
        .args(["--l1-rpc", &l1_rpc])
        // Callbacks to the user's own machine (localhost) are the devnet's use case.
        .arg("--webhook-allow-private")
        .env(
            "STARFARM_WEBHOOK_SECRET",
            secrets.webhook_secret.as_deref().unwrap_or_default(),
        )
        .env("STARFARM_API_KEYS", &secrets.api_key)
        .env("STARFARM_L1_KEY", DEV_KEYS[0])
        // A verifying deployment trusts no key: none is given to its settler.
        .env_remove("STARFARM_ATTEST_KEY");
    if !verifying {
        scheduler.env("STARFARM_ATTEST_KEY", &secrets.attest_key);
    }
    let scheduler = listening(procs, "scheduler", scheduler, logs).await?;

    for i in 0..args.workers {
        let mut worker = Command::new(&exe);
        worker
            .args([
                "worker",
                "--url",
                &scheduler,
                "--id",
                &format!("devnet-{i}"),
            ])
            .args(["--backend", args.backend.as_str()])
            .args(["--drain-timeout-secs", "15"])
            .args(["--price-per-hour", &args.price_per_hour.to_string()])
            .args([
                "--memory-gib",
                &format!("{:.2}", worker_memory as f64 / GIB),
            ])
            .env("STARFARM_API_KEY", &secrets.api_key);
        let name = format!("worker-{i}");
        procs.push(Proc::spawn(&name, worker, logs, OnParentDeath::Kill)?);
    }
    Ok(Endpoints {
        l1_rpc,
        sequencer,
        scheduler,
        worker_memory,
        chunk_steps,
        verifying,
    })
}

const GIB: f64 = (1u64 << 30) as f64;

/// Memory of one worker: `--worker-memory-gib`, or an equal share of what is available.
fn worker_memory(args: &DevnetArgs) -> Result<u64> {
    if let Some(gib) = args.worker_memory_gib {
        return Ok((gib * GIB) as u64);
    }
    let available = starfarm_scheduler::worker::capabilities::detect_memory_bytes()
        .context("cannot read the available memory: pass --worker-memory-gib")?;
    Ok(available / u64::from(args.workers.max(1)))
}

/// The largest chunk target (a power of two, up to the scheduler's default) whose proof
/// fits in `memory`: a chunk no worker can take would wait forever.
fn chunk_steps_within(memory: u64) -> Result<u64> {
    let mut steps = starfarm_scheduler::blocks::DEFAULT_CHUNK_STEPS;
    while starfarm_scheduler::blocks::chunk_memory_bytes(steps) > memory {
        if steps <= 1 << 10 {
            bail!(
                "a worker gets {:.1} GiB, too little to prove blocks (8 GiB at least): \
                 start fewer workers or free memory",
                memory as f64 / GIB
            );
        }
        steps /= 2;
    }
    Ok(steps)
}

/// Starts anvil with its chain kept in `<data>/anvil/state.json`; its URL.
async fn start_anvil(
    args: &DevnetArgs,
    data: &Path,
    logs: &Path,
    procs: &mut Vec<Proc>,
) -> Result<String> {
    let bin = find_anvil(args.anvil.as_deref())?;
    let port = match args.l1_port {
        0 => TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(),
        port => port,
    };
    if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        bail!("port {port} is taken: another node runs there (stop it, or pass --l1-port)");
    }
    let state = data.join("anvil");
    std::fs::create_dir_all(&state)?;
    let mut command = Command::new(&bin);
    command
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--state")
        .arg(state.join("state.json"))
        // Saved every second too: a devnet killed outright loses at most a second of L1.
        .args(["--state-interval", "1"]);
    let mut anvil = Proc::spawn("anvil", command, logs, OnParentDeath::Terminate)?;
    let url = format!("http://127.0.0.1:{port}");
    let ready = anvil
        .line_with("Listening on", 0, Duration::from_secs(30))
        .await;
    procs.push(anvil);
    ready?;
    Ok(url)
}

/// `--anvil`, else `anvil` on the PATH, else the copy `scripts/anvil.sh` installs.
fn find_anvil(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("anvil"))
                .collect()
        })
        .unwrap_or_default();
    let cached = std::env::var_os("HOME").map(|home| {
        PathBuf::from(home)
            .join(".cache/starfarm/npm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    });
    on_path
        .into_iter()
        .chain(cached)
        .find(|p| p.is_file())
        .context(
            "anvil (a local Ethereum node) was not found. Install it with \
             `scripts/anvil.sh` (npm @foundry-rs/anvil) or `npm install -g @foundry-rs/anvil`, \
             or pass --anvil PATH",
        )
}

/// Deploys the contracts unless `deployment` exists and L1 still has them.
async fn deploy_once(
    l1_rpc: &str,
    deployment: &Path,
    secrets: &secrets::Secrets,
    profile: SecurityProfile,
) -> Result<()> {
    if deployment.exists() {
        return l1_cli::check_deployed(l1_rpc, deployment)
            .await
            .map(|_| ())
            .with_context(|| {
                format!(
                    "{} names contracts that L1 does not have (was {} removed?). Start over \
                 with an empty --data folder",
                    deployment.display(),
                    deployment.with_file_name("anvil").display()
                )
            });
    }
    eprintln!("deploying the contracts on L1…");
    let verifier = match verifies(profile) {
        true => l1_cli::VerifierKind::Stwo,
        false => l1_cli::VerifierKind::Attested,
    };
    l1_cli::deploy(DeployArgs {
        l1: L1Args {
            rpc: l1_rpc.to_owned(),
            key: Some(DEV_KEYS[0].to_owned()),
            deployment: deployment.to_owned(),
        },
        signers: Vec::new(),
        attest_key: match verifier {
            l1_cli::VerifierKind::Stwo => None,
            l1_cli::VerifierKind::Attested => Some(secrets.attest_key.clone()),
        },
        // The floor is the profile's: l1-test's 20 bits are NOT secure (the banner says so).
        min_security_bits: profile.security_bits(),
        force: false,
        verifier,
        accept: Vec::new(),
        // The block program at the profile, its chunks' variant (CanonicalSmall).
        accept_programs: vec!["block".into()],
        profile,
        variants: vec![starfarm_prover::artifact::PreProcessedTraceVariant::CanonicalSmall],
    })
    .await
}

/// Whether the devnet settles through the verifier: its chunks are proven with the Keccak
/// channel the contracts replay. Otherwise it deploys the TRUSTED attested registry.
fn verifies(profile: SecurityProfile) -> bool {
    profile.channel() == starfarm_prover::ChannelKind::Keccak
}

/// Spawns a server and waits for its "listening on http://…" line; its URL.
async fn listening(
    procs: &mut Vec<Proc>,
    name: &str,
    command: Command,
    logs: &Path,
) -> Result<String> {
    let skip = children::read_lines(&logs.join(format!("{name}.log"))).len();
    let mut proc = Proc::spawn(name, command, logs, OnParentDeath::Kill)?;
    let line = proc
        .line_with("listening on http://", skip, Duration::from_secs(120))
        .await;
    procs.push(proc);
    let line = line?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .context("no URL in the listening line")?;
    Ok(url.to_owned())
}

/// The first line of the banner (named arguments: positional ones were once given in the
/// wrong order, printing the backend as the memory).
fn up_line(
    workers: u32,
    worker_memory: u64,
    backend: &str,
    chunk_steps: u64,
    profile: &str,
) -> String {
    let gib = worker_memory as f64 / GIB;
    format!(
        "starfarm devnet is up: {workers} worker(s) of {gib:.1} GiB (backend {backend}), \
         block chunks of up to {chunk_steps} steps, {profile} profile"
    )
}

fn print_endpoints(e: &Endpoints, secrets: &secrets::Secrets, data: &Path, args: &DevnetArgs) {
    println!(
        "{}",
        up_line(
            args.workers,
            e.worker_memory,
            &args.backend.to_string(),
            e.chunk_steps,
            args.profile.name()
        )
    );
    println!(
        "  L2 JSON-RPC   {}        (metrics {}/metrics)",
        e.sequencer, e.sequencer
    );
    println!(
        "  proving REST  {}        (metrics {}/metrics, OpenAPI /openapi.json)",
        e.scheduler, e.scheduler
    );
    println!(
        "  L1 RPC        {}        (anvil, chain id 31337)",
        e.l1_rpc
    );
    println!(
        "  L1 registry   {}",
        registry_line(args.profile, e.verifying)
    );
    println!("  API key       {}", secrets.api_key);
    if let Some(secret) = &secrets.webhook_secret {
        println!("  webhook key   {secret}        (Starfarm-Signature of callbacks)");
    }
    println!(
        "  data, logs    {}, {}",
        data.display(),
        data.join("logs").display()
    );
    match args.profile {
        SecurityProfile::Test => println!(
            "  proofs use the test profile: 18 bits, NOT secure (--profile production for 96)"
        ),
        SecurityProfile::L1Test => println!(
            "  proofs use the l1-test profile: 20 bits, NOT secure, and the verifier's floor is \
             set to 20 to accept them (--profile l1 for 96)"
        ),
        _ => {}
    }
    println!(
        "Ctrl-C stops it; starting it again resumes from {}.",
        data.display()
    );
    println!(
        "Load it: starfarm load --rpc {} --l1-rpc {} --l1-key {} --deployment {} --scheduler {} --api-key {}",
        e.sequencer,
        e.l1_rpc,
        DEV_KEYS[1],
        data.join("l1-deployment.json").display(),
        e.scheduler,
        secrets.api_key
    );
}

/// The banner's line on how blocks reach ACCEPTED_ON_L1.
fn registry_line(profile: SecurityProfile, verifying: bool) -> String {
    match verifying {
        true => format!(
            "StwoFactRegistry: blocks settle only through their chunk proofs verified on \
             chain ({} profile, Keccak channel, floor {} bits{}); no prover key is trusted",
            profile.name(),
            profile.security_bits(),
            match profile.security_bits() < 96 {
                true => ", NOT secure: a low-security L1 profile for a local chain",
                false => "",
            }
        ),
        false => format!(
            "TRUSTED attested facts (AttestedFactRegistry): a prover key signs each fact \
             ({} profile; --profile l1-test or l1 on a new --data folder settles through the \
             verifier)",
            profile.name()
        ),
    }
}

/// Shows the status line until a child exits (an error: the devnet stops). The demo load
/// may end: its summary is shown then.
async fn watch(procs: &mut [Proc], mut demo: Option<Proc>, endpoints: &Endpoints) -> Result<()> {
    let mut line = status::StatusLine::new(&endpoints.sequencer, &endpoints.scheduler);
    loop {
        for proc in procs.iter_mut() {
            if let Some(status) = proc.exited() {
                line.finish();
                bail!(
                    "{} exited ({status}); its last lines:\n{}",
                    proc.name,
                    proc.tail(20)
                );
            }
        }
        if let Some(status) = demo.as_mut().and_then(Proc::exited) {
            let outcome = if status.success() { "done" } else { "FAILED" };
            line.println(format!(
                "demo load {outcome}:\n{}",
                demo.as_ref().map(|d| d.tail(6)).unwrap_or_default()
            ));
            demo = None;
        }
        line.refresh().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_says_how_blocks_settle_and_how_secure_that_is() {
        let verified = registry_line(SecurityProfile::L1Test, true);
        assert!(
            verified.starts_with("StwoFactRegistry")
                && verified.contains("l1-test profile, Keccak channel, floor 20 bits, NOT secure"),
            "{verified}"
        );
        let production = registry_line(SecurityProfile::L1, true);
        assert!(
            production.contains("floor 96 bits)") && !production.contains("NOT secure"),
            "{production}"
        );
        let trusted = registry_line(SecurityProfile::Test, false);
        assert!(trusted.starts_with("TRUSTED"), "{trusted}");
        assert!(verifies(SecurityProfile::L1Test) && !verifies(SecurityProfile::Test));
    }

    #[test]
    fn the_banner_names_memory_backend_and_chunks_in_their_places() {
        let line = up_line(2, 12 * (1 << 30), "auto", 200_000, "test");
        assert_eq!(
            line,
            "starfarm devnet is up: 2 worker(s) of 12.0 GiB (backend auto), \
             block chunks of up to 200000 steps, test profile"
        );
    }
}
