//! `starfarm scheduler`: the job store and the REST API on one port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use starfarm_scheduler::api::{self, ApiConfig, ApiKeys, AppState};
use starfarm_scheduler::blobs::BlobStore;
use starfarm_scheduler::{JobStore, PostgresStore, SqliteStore, StoreConfig};

#[derive(clap::Args)]
pub struct SchedulerArgs {
    /// Address of the REST API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data folder: the SQLite job store (`jobs.sqlite`) and, by default, the blobs.
    #[arg(long, default_value = "data/scheduler")]
    data: PathBuf,
    /// Use the Postgres job store at this URL instead of SQLite (several schedulers).
    #[arg(long, env = "STARFARM_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Where programs, inputs and artifacts go: a folder or an object_store URL
    /// (default: <data>/blobs).
    #[arg(long)]
    blobs: Option<String>,
    /// An API key accepted for `/v1` requests (repeatable).
    #[arg(
        long = "api-key",
        env = "STARFARM_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = ApiConfig::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
}

pub fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: SchedulerArgs) -> anyhow::Result<()> {
    let keys = ApiKeys::new(&args.api_keys);
    if keys.is_empty() {
        bail!("no API key: pass --api-key KEY or set STARFARM_API_KEYS");
    }
    let store: Arc<dyn JobStore> = match &args.postgres_url {
        Some(url) => Arc::new(
            PostgresStore::connect(url, StoreConfig::default())
                .await
                .context("connecting to the Postgres job store")?,
        ),
        None => {
            let path = args.data.join("jobs.sqlite");
            Arc::new(
                SqliteStore::open(&path, StoreConfig::default())
                    .await
                    .with_context(|| format!("opening {}", path.display()))?,
            )
        }
    };
    let blobs_location = args
        .blobs
        .clone()
        .unwrap_or_else(|| args.data.join("blobs").display().to_string());
    let blobs = BlobStore::open(&blobs_location)?;
    let mut config = ApiConfig::new(keys);
    config.max_body_bytes = args.max_body_bytes;
    let state = AppState::new(Arc::clone(&store), blobs, config);
    let sweeper = api::spawn_lease_sweeper(Arc::clone(&store), Duration::from_secs(5));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    eprintln!(
        "scheduler listening on http://{} (OpenAPI at /openapi.json)",
        listener.local_addr()?
    );
    api::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    sweeper.abort();
    store.close().await;
    Ok(())
}
