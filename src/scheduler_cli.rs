//! `starfarm scheduler`: the job store and the REST API on one port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use starfarm_scheduler::api::{self, ApiConfig, ApiKeys, AppState};
use starfarm_scheduler::blobs::BlobStore;
use starfarm_scheduler::blocks::{self, IngestConfig, Ingestor};
use starfarm_scheduler::webhooks::WebhookConfig;
use starfarm_scheduler::{JobStore, PostgresStore, SqliteStore, StoreConfig};
use starfarm_sequencer::publish::Publisher;
use tokio::task::JoinHandle;

#[derive(clap::Args)]
pub struct SchedulerArgs {
    /// Address of the REST API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data folder: the SQLite job store (`jobs.sqlite`) and, by default, the blobs.
    #[arg(long, default_value = "data/scheduler")]
    data: PathBuf,
    /// Use the Postgres job store at this URL instead of SQLite (several schedulers); add
    /// `?sslmode=require` (or `verify-full`) for TLS.
    #[arg(long, env = "STARFARM_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Where programs, inputs and artifacts go: a folder or an object_store URL
    /// (default: <data>/blobs).
    #[arg(long)]
    blobs: Option<String>,
    /// An admin API key accepted for `/v1` requests beside the stored ones (`starfarm keys`),
    /// kept in memory only: a one-key shortcut for a devnet (repeatable).
    #[arg(
        long = "api-key",
        env = "STARFARM_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,
    /// Default quotas of stored keys that set none of their own (unlimited when unset).
    #[command(flatten, next_help_heading = "Default quotas")]
    quota: crate::keys_cli::QuotaArgs,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = ApiConfig::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// The sequencer's object store (a folder or URL, as given to its `--publish`): follow
    /// its blocks, submit their chunk and aggregate jobs, and aggregate them here. Off when
    /// not given.
    #[arg(long)]
    sequencer_store: Option<String>,
    /// Target of estimated Cairo steps per block chunk.
    #[arg(long, default_value_t = blocks::DEFAULT_CHUNK_STEPS)]
    chunk_steps: u64,
    /// Security profile block chunks are proven with (`l1` or `l1-test`: the Keccak channel,
    /// for a deployment that verifies the chunk proofs on chain).
    #[arg(long, default_value = "production")]
    block_profile: starfarm_prover::SecurityProfile,
    /// How often leases of silent workers are looked for and taken back, in milliseconds.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..))]
    lease_sweep_ms: u64,
    #[command(flatten, next_help_heading = "Webhooks")]
    webhooks: WebhookArgs,
    #[command(flatten)]
    settle: crate::l1_cli::SchedulerSettleArgs,
}

/// Webhook delivery: jobs submitted with a `callback_url` are POSTed there once finished.
#[derive(clap::Args)]
struct WebhookArgs {
    /// Key of the HMAC-SHA256 `Starfarm-Signature` header of webhook bodies. Without it,
    /// submissions with a `callback_url` are refused.
    #[arg(long, env = "STARFARM_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Also call loopback, private and link-local addresses (devnets, trusted tenants only:
    /// otherwise a tenant could make the scheduler call into the farm's network).
    #[arg(long)]
    webhook_allow_private: bool,
    /// Attempts per webhook, the first included (pauses 30 s, 1, 2, 4, 8, 16, 30 min …).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    webhook_max_attempts: u32,
    /// Longest wait for a receiver's answer, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    webhook_timeout_secs: u64,
}

impl WebhookArgs {
    fn config(&self) -> anyhow::Result<Option<Arc<WebhookConfig>>> {
        let Some(secret) = &self.webhook_secret else {
            return Ok(None);
        };
        if secret.len() < 16 {
            bail!("--webhook-secret must be at least 16 bytes long");
        }
        let mut config = WebhookConfig::new(secret.as_bytes());
        config.allow_private = self.webhook_allow_private;
        config.max_attempts = self.webhook_max_attempts;
        config.timeout = Duration::from_secs(self.webhook_timeout_secs);
        Ok(Some(Arc::new(config)))
    }
}

pub fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: SchedulerArgs) -> anyhow::Result<()> {
    let keys = ApiKeys::new(&args.api_keys);
    let store = open_job_store(args.postgres_url.as_deref(), &args.data).await?;
    let stored = store.keys().await.context("reading the API keys")?;
    if keys.is_empty() && stored.iter().all(|k| k.revoked_at_ms.is_some()) {
        bail!(
            "no API key: make one with `starfarm keys add --name NAME --role admin`, or pass \
             --api-key KEY (or set STARFARM_API_KEYS)"
        );
    }
    let blobs_location = args
        .blobs
        .clone()
        .unwrap_or_else(|| args.data.join("blobs").display().to_string());
    let blobs = BlobStore::open(&blobs_location)?;
    let mut config = ApiConfig::new(keys);
    config.max_body_bytes = args.max_body_bytes;
    config.default_quota = args.quota.quota();
    config.webhooks = args.webhooks.config()?;
    let state = AppState::new(Arc::clone(&store), blobs, config);
    let mut block_tasks = start_blocks(&args, &state).await?;
    let settler = crate::l1_cli::spawn_settler(
        &args.settle,
        Arc::clone(&store),
        state.blobs.clone(),
        &state.metrics,
        args.block_profile,
    )
    .await?;
    block_tasks.extend(settler);
    let sweeper = api::spawn_lease_sweeper(&state, Duration::from_millis(args.lease_sweep_ms));
    block_tasks.extend(api::spawn_deliverer(&state).context("starting webhook delivery")?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    eprintln!(
        "scheduler listening on http://{} (OpenAPI at /openapi.json)",
        listener.local_addr()?
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    api::serve(listener, state, async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    })
    .await?;
    sweeper.abort();
    block_tasks.iter().for_each(JoinHandle::abort);
    store.close().await;
    Ok(())
}

/// The Postgres job store at `postgres_url`, else the SQLite one in `data`.
pub async fn open_job_store(
    postgres_url: Option<&str>,
    data: &Path,
) -> anyhow::Result<Arc<dyn JobStore>> {
    Ok(match postgres_url {
        Some(url) => Arc::new(
            PostgresStore::connect(url, StoreConfig::default())
                .await
                .context("connecting to the Postgres job store")?,
        ),
        None => {
            let path = data.join("jobs.sqlite");
            Arc::new(
                SqliteStore::open(&path, StoreConfig::default())
                    .await
                    .with_context(|| format!("opening {}", path.display()))?,
            )
        }
    })
}

/// Starts block ingestion (cursor in `<data>/ingest-cursor`) and the aggregator when
/// `--sequencer-store` is given.
async fn start_blocks(
    args: &SchedulerArgs,
    state: &AppState,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let Some(location) = &args.sequencer_store else {
        return Ok(Vec::new());
    };
    let publisher = Publisher::from_location(location)
        .with_context(|| format!("cannot open the sequencer's object store {location}"))?;
    let config = IngestConfig {
        profile: args.block_profile,
        chunk_steps: args.chunk_steps,
        ..IngestConfig::default()
    };
    let ingestor = Ingestor::new(
        publisher,
        state.blobs.clone(),
        Arc::clone(&state.store),
        config,
    )
    .await
    .context("preparing block ingestion")?;
    let cursor = args.data.join("ingest-cursor");
    eprintln!(
        "ingesting blocks from {location} (cursor {})",
        cursor.display()
    );
    let every = Duration::from_secs(1);
    Ok(vec![
        blocks::spawn_ingest(ingestor, cursor, every),
        blocks::spawn_aggregator(Arc::clone(&state.store), state.blobs.clone(), every),
    ])
}
