//! `starfarm sequencer …`: runs the sequencer service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use starfarm_sequencer::endpoint;
use starfarm_sequencer::mempool::Limits;
use starfarm_sequencer::program_input::with_prover_inputs;
use starfarm_sequencer::publish::Publisher;
use starfarm_sequencer::rpc::RpcConfig;
use starfarm_sequencer::service::{Sequencer, SequencerConfig};

#[derive(clap::Subcommand)]
pub enum SequencerCommand {
    /// Run the sequencer: JSON-RPC on --rpc, blocks under --data, published to --publish.
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Folder of the sequencer's database.
    #[arg(long, default_value = "data/sequencer")]
    data: PathBuf,
    /// Address of the JSON-RPC server (also serves /metrics and /health).
    #[arg(long, default_value = "127.0.0.1:9545")]
    rpc: SocketAddr,
    /// Object store for published blocks: a folder, or a URL (file:///…, memory:///,
    /// s3://bucket/prefix with settings from the AWS_* variables).
    #[arg(long, default_value = "data/objects")]
    publish: String,
    /// Close a non-empty block this many milliseconds after its first transaction.
    #[arg(long, default_value_t = 2000)]
    block_time_ms: u64,
    /// Close a block at this many transactions.
    #[arg(long, default_value_t = 1000)]
    max_block_txs: usize,
    /// Close a block when the block program's estimated Cairo steps reach this.
    #[arg(long, default_value_t = 1 << 22)]
    max_block_steps: u64,
    /// Also close empty blocks on the timer.
    #[arg(long)]
    empty_blocks: bool,
    /// Most transactions the mempool holds.
    #[arg(long, default_value_t = 100_000)]
    mempool_capacity: usize,
    /// Token for admin methods (deposits, closing blocks); without it they are refused.
    #[arg(long, env = "STARFARM_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Largest JSON-RPC request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Refuse new transactions while the data folder's disk has less than this many MiB
    /// free (0: never); admission resumes by itself when space returns.
    #[arg(long, default_value_t = 128)]
    min_free_disk_mb: u64,
    #[command(flatten)]
    l1: crate::l1_cli::WatchArgs,
}

pub fn run(command: SequencerCommand) -> Result<()> {
    let SequencerCommand::Run(args) = command;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: RunArgs) -> Result<()> {
    let mut config = SequencerConfig::new(args.data.clone());
    config.block_time = Duration::from_millis(args.block_time_ms);
    config.max_block_txs = args.max_block_txs;
    config.max_block_steps = args.max_block_steps;
    config.empty_blocks = args.empty_blocks;
    config.mempool = Limits {
        capacity: args.mempool_capacity,
        ..Limits::default()
    };
    config.min_free_disk = args.min_free_disk_mb << 20;
    let publisher = Publisher::from_location(&args.publish)
        .with_context(|| format!("cannot open the object store {}", args.publish))?;
    let publisher = with_prover_inputs(publisher);
    let sequencer = Sequencer::start(config, Some(publisher))
        .with_context(|| format!("cannot start the sequencer on {}", args.data.display()))?;
    let watcher = crate::l1_cli::spawn_watcher(&args.l1, Arc::clone(&sequencer)).await?;
    let rpc = RpcConfig {
        admin_token: args.admin_token,
        admin_deposits: !args.l1.follows_l1(),
        max_body_bytes: args.max_body_bytes,
        ..RpcConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(args.rpc)
        .await
        .with_context(|| format!("cannot listen on {}", args.rpc))?;
    let address = listener.local_addr()?;
    // One line a supervisor or test can parse to find the port.
    println!(
        "sequencer listening on http://{address} (data {}, objects {})",
        args.data.display(),
        args.publish
    );
    endpoint::serve(listener, Arc::clone(&sequencer), rpc, shutdown_signal()).await?;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    eprintln!("sequencer stopped");
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}
