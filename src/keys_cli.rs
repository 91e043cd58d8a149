//! `starfarm keys add|list|revoke`: the scheduler's API keys, in its job store (SQLite under
//! `--data`, or `--postgres-url`). A new key's secret is printed once and stored only as its
//! SHA-256; a revocation takes effect at the next request, in every scheduler process.

use std::path::PathBuf;

use anyhow::Context;
use starfarm_scheduler::{key_digest, ApiKey, JobStore, NewKey, Quota, Role};

/// Where the job store is: the scheduler's own flags.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The scheduler's data folder (its SQLite job store is `jobs.sqlite` there).
    #[arg(long, default_value = "data/scheduler")]
    data: PathBuf,
    /// The Postgres job store at this URL instead of SQLite.
    #[arg(long, env = "STARFARM_POSTGRES_URL")]
    postgres_url: Option<String>,
}

/// Quota limits; unset ones are unlimited.
#[derive(clap::Args, Default)]
pub struct QuotaArgs {
    /// Queued and active jobs a key may have at once.
    #[arg(long)]
    pub max_active_jobs: Option<u64>,
    /// New jobs a key may submit in any 60 seconds.
    #[arg(long)]
    pub max_submissions_per_minute: Option<u64>,
    /// Program and input bytes a key's submissions may store in total.
    #[arg(long)]
    pub max_stored_bytes: Option<u64>,
}

impl QuotaArgs {
    pub fn quota(&self) -> Quota {
        Quota {
            max_active_jobs: self.max_active_jobs,
            max_submissions_per_minute: self.max_submissions_per_minute,
            max_stored_bytes: self.max_stored_bytes,
        }
    }
}

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Make a key and print its secret (shown this once; only its SHA-256 is stored). Limits
    /// not given take the scheduler's defaults.
    Add {
        /// A unique name (letters, digits, '-', '_', '.'): the tenant in metrics and logs.
        #[arg(long)]
        name: String,
        /// submit (its own jobs), worker (claims and leases) or admin (everything).
        #[arg(long)]
        role: Role,
        #[command(flatten)]
        quota: QuotaArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List keys (never their secrets).
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by id or name: its next request gets 401.
    Revoke {
        id_or_name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(keys(command))
}

async fn open(store: &StoreArgs) -> anyhow::Result<std::sync::Arc<dyn JobStore>> {
    crate::scheduler_cli::open_job_store(store.postgres_url.as_deref(), &store.data).await
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Add {
            name,
            role,
            quota,
            store,
        } => {
            let store = open(&store).await?;
            let secret = new_secret()?;
            let key = NewKey {
                name,
                role,
                quota: quota.quota(),
                digest: key_digest(&secret),
            };
            let added = store.add_key(&key).await;
            store.close().await;
            let added = added.context("adding the key")?;
            eprintln!(
                "key {} ({}, role {}) added; its secret, shown only now:",
                added.id, added.name, added.role
            );
            println!("{secret}");
        }
        KeysCommand::List { json, store } => {
            let store = open(&store).await?;
            let keys = store.keys().await;
            store.close().await;
            let keys = keys.context("listing the keys")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "{:>4}  {:<24} {:<7} {:<8} quota (active, per minute, bytes)",
                    "id", "name", "role", "state"
                );
                for key in &keys {
                    println!("{}", line(key));
                }
            }
        }
        KeysCommand::Revoke { id_or_name, store } => {
            let store = open(&store).await?;
            let revoked = store.revoke_key(&id_or_name).await;
            store.close().await;
            let revoked = revoked.context("revoking the key")?;
            eprintln!("key {} ({}) is revoked", revoked.id, revoked.name);
        }
    }
    Ok(())
}

/// 32 random bytes, hex, with a prefix that says what it is (and lets secret scanners
/// find leaked keys).
fn new_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("reading random bytes for the key: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sfk_{hex}"))
}

fn line(key: &ApiKey) -> String {
    let limit = |l: Option<u64>| l.map_or("default".to_owned(), |n| n.to_string());
    let state = if key.revoked_at_ms.is_some() {
        "revoked"
    } else {
        "live"
    };
    format!(
        "{:>4}  {:<24} {:<7} {:<8} {}, {}, {}",
        key.id,
        key.name,
        key.role,
        state,
        limit(key.quota.max_active_jobs),
        limit(key.quota.max_submissions_per_minute),
        limit(key.quota.max_stored_bytes),
    )
}
