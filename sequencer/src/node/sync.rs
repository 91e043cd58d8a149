//! Where a node reads blocks (`BlockSource`: the sequencer's object store through
//! `Publisher`, or its JSON-RPC through `RpcSource`; `L1Gate` holds a source's blocks back
//! until L1 settled them) and the catch-up loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use starfarm_common::backoff::Backoff;
use starknet_types_core::felt::Felt;

use super::{ApplyError, Node};
use crate::block::Block;
use crate::chain::{BoxFuture, Refusal};
use crate::publish::{BlockManifest, PublishError, Publisher};

/// A block as a source publishes it.
#[derive(Clone, Debug)]
pub struct Published {
    /// The object store's manifest (None from a JSON-RPC source, which has none).
    pub manifest: Option<BlockManifest>,
    pub block: Block,
    /// What L1 recorded for the block (through `L1Gate`; None from other sources).
    pub settled: Option<Settled>,
}

/// A block as L1 recorded it when its settlement completed (`LogStateUpdate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    pub number: u64,
    /// The global root after the block.
    pub state_root: Felt,
    pub block_hash: Felt,
}

/// The blocks settled on L1 (implemented by starfarm-l1, which depends on this crate).
pub trait SettledBlocks: Send + Sync + 'static {
    /// The last block settled (None before the first).
    fn last_settled(&self) -> BoxFuture<'_, Result<Option<u64>, SourceError>>;
    /// What L1 recorded for block `number`, or None while it is not settled.
    fn settled(&self, number: u64) -> BoxFuture<'_, Result<Option<Settled>, SourceError>>;
}

/// The source of an l1 node: `source`'s blocks, each only once L1 settled it (with what L1
/// recorded, checked when the block is applied); its highest block is L1's last settled.
pub struct L1Gate {
    pub source: Arc<dyn BlockSource>,
    pub l1: Arc<dyn SettledBlocks>,
}

impl BlockSource for L1Gate {
    fn highest(&self) -> BoxFuture<'_, Result<Option<u64>, SourceError>> {
        self.l1.last_settled()
    }

    fn fetch(&self, number: u64) -> BoxFuture<'_, Result<Option<Published>, SourceError>> {
        Box::pin(async move {
            let Some(settled) = self.l1.settled(number).await? else {
                return Ok(None);
            };
            let published = self.source.fetch(number).await?;
            Ok(published.map(|p| Published {
                settled: Some(settled),
                ..p
            }))
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source cannot be read now (network, permissions): retry.
    #[error("source unavailable: {0}")]
    Unavailable(String),
    /// What the source holds is malformed or fails its content hash: refuse the block.
    #[error("{0}")]
    Invalid(String),
}

impl From<PublishError> for SourceError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Corrupt { .. } | PublishError::Decode(..) => {
                SourceError::Invalid(e.to_string())
            }
            other => SourceError::Unavailable(other.to_string()),
        }
    }
}

/// Published blocks, by number.
pub trait BlockSource: Send + Sync + 'static {
    /// The highest block number the source holds (None when empty).
    fn highest(&self) -> BoxFuture<'_, Result<Option<u64>, SourceError>>;
    /// Block `number`, or None when not published yet.
    fn fetch(&self, number: u64) -> BoxFuture<'_, Result<Option<Published>, SourceError>>;
}

impl BlockSource for Publisher {
    fn highest(&self) -> BoxFuture<'_, Result<Option<u64>, SourceError>> {
        Box::pin(async move { Ok(self.highest_published().await?) })
    }

    fn fetch(&self, number: u64) -> BoxFuture<'_, Result<Option<Published>, SourceError>> {
        Box::pin(async move {
            let Some(manifest) = self.manifest(number).await? else {
                return Ok(None);
            };
            let block = self.block(&manifest).await?;
            Ok(Some(Published {
                manifest: Some(manifest),
                block,
                settled: None,
            }))
        })
    }
}

/// Where a catch-up stands, reported after each applied block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub synced: Option<u64>,
    pub highest: Option<u64>,
    /// Blocks and transactions applied by this catch-up.
    pub blocks: u64,
    pub transactions: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(SourceError),
    #[error(transparent)]
    Apply(ApplyError),
    /// The block was refused: syncing stopped for good (the node keeps serving).
    #[error("block {} refused: {}", .0.block_number, .0.reason)]
    Refused(Refusal),
    #[error("the apply task failed: {0}")]
    Task(String),
}

/// Longest pause between sync attempts while the source cannot be read.
const SYNC_RETRY_CAP: Duration = Duration::from_secs(8);

/// Follows a source into a node.
pub struct Syncer {
    node: Arc<Node>,
    source: Arc<dyn BlockSource>,
    /// Pause between polls once caught up (and after a transient error).
    pub poll: Duration,
}

impl Syncer {
    pub fn new(node: Arc<Node>, source: Arc<dyn BlockSource>) -> Self {
        Syncer {
            node,
            source,
            poll: Duration::from_millis(500),
        }
    }

    /// Refreshes the highest block the source holds.
    pub async fn refresh_highest(&self) -> Result<Option<u64>, SyncError> {
        let highest = self.source.highest().await.map_err(SyncError::Source)?;
        self.node.set_highest(highest);
        Ok(highest)
    }

    /// Applies every block the source holds after the node's latest, in order; `on_block`
    /// sees the progress after each. Stops at the first block not published yet, or at a
    /// refusal (then `SyncError::Refused`, and every later call refuses at once).
    pub async fn catch_up(
        &self,
        on_block: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Progress, SyncError> {
        if let Some(refusal) = self.node.refused() {
            return Err(SyncError::Refused(refusal));
        }
        let mut progress = Progress {
            synced: self.node.latest().map(|h| h.number),
            highest: self.refresh_highest().await?,
            ..Progress::default()
        };
        let mut next = progress.synced.map_or(0, |n| n + 1);
        // The next block is fetched while the current one is applied.
        let mut fetched = self.source.fetch(next).await;
        loop {
            let published = match fetched {
                Ok(Some(published)) => published,
                Ok(None) => return Ok(progress),
                Err(SourceError::Invalid(reason)) => return Err(self.refuse(next, reason)),
                Err(e) => return Err(SyncError::Source(e)),
            };
            let node = Arc::clone(&self.node);
            let apply = tokio::task::spawn_blocking(move || {
                let txs = published.block.transactions.len() as u64;
                node.apply(&published).map(|header| (header, txs))
            });
            let (applied, prefetch) = tokio::join!(apply, self.source.fetch(next + 1));
            fetched = prefetch;
            match applied.map_err(|e| SyncError::Task(e.to_string()))? {
                Ok((header, txs)) => {
                    progress.synced = Some(header.number);
                    progress.highest = progress.highest.max(Some(header.number));
                    progress.blocks += 1;
                    progress.transactions += txs;
                    on_block(progress);
                }
                Err(ApplyError::Mismatch(reason)) => return Err(self.refuse(next, reason)),
                Err(e) => return Err(SyncError::Apply(e)),
            }
            next += 1;
        }
    }

    fn refuse(&self, number: u64, reason: String) -> SyncError {
        let refusal = Refusal {
            block_number: number,
            reason,
        };
        self.node.refuse(refusal.clone());
        SyncError::Refused(refusal)
    }

    /// Catches up, then polls the source for new blocks until `stop` resolves. Transient
    /// errors are logged and retried; a refusal ends syncing (the caller keeps serving).
    pub async fn run(
        &self,
        stop: impl Future<Output = ()>,
        on_block: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), SyncError> {
        tokio::pin!(stop);
        let mut backoff = Backoff::new(self.poll, self.poll.max(SYNC_RETRY_CAP));
        loop {
            let pause = match self.catch_up(on_block).await {
                Ok(_) => {
                    let failures = backoff.succeeded();
                    if failures > 0 {
                        tracing::warn!(failures, "syncing resumed");
                    }
                    self.poll
                }
                Err(refused @ SyncError::Refused(_)) => return Err(refused),
                Err(e) => {
                    self.node.metrics.sync_failures.inc();
                    let pause = backoff.failed();
                    tracing::warn!("syncing: {e} (will retry in {pause:?})");
                    pause
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = &mut stop => return Ok(()),
            }
        }
    }
}
