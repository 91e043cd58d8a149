//! `starfarm node`: follows a sequencer's published chain (re-executing it, or applying its
//! state diffs, in l1 mode only once L1 settled them) and serves the same JSON-RPC reads.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use starfarm_l1::settled_log::SettledLog;
use starfarm_sequencer::chain::BoxFuture;
use starfarm_sequencer::node::{
    self, BlockSource, L1Gate, Mode, Node, Progress, RpcSource, Settled, SettledBlocks,
    SourceError, SyncError, Syncer,
};
use starfarm_sequencer::publish::Publisher;
use starfarm_sequencer::rpc::RpcConfig;

use crate::l1_cli::WatchArgs;

#[derive(clap::Args)]
pub struct NodeArgs {
    /// replay: re-execute every transaction; l2: apply the published state diffs; l1: apply
    /// them once L1 settled the block (needs --l1-deployment). Each refuses a block whose
    /// computed root or hash differs from the published one (l1: from L1's).
    #[arg(long)]
    mode: Mode,
    /// Where blocks come from: the sequencer's object store (a folder, file:///…, s3://…),
    /// or its JSON-RPC (http://… or https://…).
    #[arg(long, default_value = "data/objects")]
    source: String,
    /// Folder of the node's database (one per mode).
    #[arg(long, default_value = "data/node")]
    data: PathBuf,
    /// Address of the JSON-RPC server (also serves /metrics and /health).
    #[arg(long, default_value = "127.0.0.1:9546")]
    rpc: SocketAddr,
    /// Milliseconds between polls of the source once caught up.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    #[command(flatten)]
    l1: WatchArgs,
}

pub fn run(args: NodeArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: NodeArgs) -> Result<()> {
    let source = block_source(&args).await?;
    let node = Node::open(args.data.clone(), args.mode)
        .with_context(|| format!("cannot open the node on {}", args.data.display()))?;
    let listener = tokio::net::TcpListener::bind(args.rpc)
        .await
        .with_context(|| format!("cannot listen on {}", args.rpc))?;
    let address = listener.local_addr()?;
    let resumed = node.latest().map(|h| h.number);
    // One line a supervisor or test can parse to find the port.
    println!(
        "node listening on http://{address} (mode {}, data {}, source {}, {})",
        args.mode,
        args.data.display(),
        args.source,
        match resumed {
            Some(n) => format!("resuming after block {n}"),
            None => "starting from block 0".to_string(),
        }
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(node::serve(
        listener,
        Arc::clone(&node),
        RpcConfig::default(),
        async move {
            let _ = server_stop.wait_for(|s| *s).await;
        },
    ));
    let mut syncer = Syncer::new(Arc::clone(&node), source);
    syncer.poll = Duration::from_millis(args.poll_ms);
    let signal = async move {
        crate::sequencer_cli::shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    tokio::pin!(signal);
    let synced = tokio::select! {
        result = follow(&syncer, stop_rx.clone()) => result,
        _ = &mut signal => Ok(()),
    };
    if let Err(e) = synced {
        // A refused block: keep serving the last good state until stopped.
        eprintln!("node: {e}");
        signal.await;
    }
    server.await.context("the server task failed")??;
    eprintln!("node stopped");
    Ok(())
}

/// The object store or JSON-RPC, behind L1's settled blocks in l1 mode.
async fn block_source(args: &NodeArgs) -> Result<Arc<dyn BlockSource>> {
    let source: Arc<dyn BlockSource> =
        if args.source.starts_with("http://") || args.source.starts_with("https://") {
            Arc::new(RpcSource::new(&args.source))
        } else {
            let published = Publisher::from_location(&args.source)
                .with_context(|| format!("cannot open the object store {}", args.source))?;
            Arc::new(published)
        };
    match (args.mode, args.l1.follows_l1()) {
        (Mode::L1, true) => {}
        (Mode::L1, false) => bail!("--mode l1 needs --l1-deployment (a `starfarm l1 deploy` file)"),
        (mode, true) => bail!("--l1-deployment is for --mode l1, not {mode}"),
        (_, false) => return Ok(source),
    }
    let log = args.l1.settled_log().await?;
    Ok(Arc::new(L1Gate {
        source,
        l1: Arc::new(L1Settled(log)),
    }))
}

/// The blocks settled on L1, as the node's gate reads them.
struct L1Settled(SettledLog);

fn unavailable(e: starfarm_l1::L1Error) -> SourceError {
    SourceError::Unavailable(format!("L1: {e}"))
}

impl SettledBlocks for L1Settled {
    fn last_settled(&self) -> BoxFuture<'_, Result<Option<u64>, SourceError>> {
        Box::pin(async move { self.0.refresh().await.map_err(unavailable) })
    }

    fn settled(&self, number: u64) -> BoxFuture<'_, Result<Option<Settled>, SourceError>> {
        Box::pin(async move {
            let update = self.0.get(number).await.map_err(unavailable)?;
            Ok(update.map(|u| Settled {
                number: u.block_number,
                state_root: u.global_root,
                block_hash: u.block_hash,
            }))
        })
    }
}

/// The first catch-up with a progress bar and a summary line, then polling.
async fn follow(
    syncer: &Syncer,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), SyncError> {
    let started = Instant::now();
    let bar = CatchUpBar::new();
    let mut on_block = |p: Progress| bar.update(p);
    let progress = loop {
        match syncer.catch_up(&mut on_block).await {
            Ok(progress) => break progress,
            Err(refused @ SyncError::Refused(_)) => {
                bar.finish();
                return Err(refused);
            }
            Err(e) => {
                tracing::warn!("syncing: {e} (will retry)");
                tokio::time::sleep(syncer.poll).await;
            }
        }
    };
    bar.finish();
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "node caught up at block {} ({} blocks, {} transactions in {seconds:.2}s: {:.1} blocks/s, {:.1} tx/s)",
        progress.synced.map_or_else(|| "none".to_string(), |n| n.to_string()),
        progress.blocks,
        progress.transactions,
        progress.blocks as f64 / seconds,
        progress.transactions as f64 / seconds,
    );
    let mut stop = stop;
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let mut log_block = |p: Progress| {
        if let Some(n) = p.synced {
            tracing::info!("applied block {n}");
        }
    };
    syncer.run(stopped, &mut log_block).await
}

/// A bar on a terminal, a line every 100 blocks otherwise.
struct CatchUpBar {
    bar: Option<ProgressBar>,
}

impl CatchUpBar {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} blocks [{elapsed_precise}, {per_sec}, eta {eta}] {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        CatchUpBar { bar }
    }

    fn update(&self, p: Progress) {
        let synced = p.synced.map_or(0, |n| n + 1);
        let highest = p.highest.map_or(0, |n| n + 1).max(synced);
        match &self.bar {
            Some(bar) => {
                bar.set_length(highest);
                bar.set_position(synced);
                bar.set_message(format!("{} tx", p.transactions));
            }
            None if synced.is_multiple_of(100) || synced == highest => {
                eprintln!(
                    "node: synced {synced}/{highest} blocks, {} tx",
                    p.transactions
                )
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
