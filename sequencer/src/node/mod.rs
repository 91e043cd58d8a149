//! A node: follows a sequencer's chain from its published blocks, keeps its own database
//! (the sequencer's `Store`: blocks, transaction records, account history, trie nodes) and
//! serves the same JSON-RPC reads, through the same `ChainReader`-based server.
//!
//! Modes (how much of the sequencer it trusts):
//! - `replay`: re-executes every transaction natively (signatures checked, the sequencer's own
//!   `seal` code computing roots and hashes) and refuses a block whose computed block differs
//!   from the published one in any field.
//! - `l2`: applies the published state diff (each account's `before` must equal the node's
//!   state) and refuses a block whose computed roots, commitment or hash differ.
//! - `l1`: applies the published state diff, as `l2`, but only once L1 settled the block
//!   (`L1Gate` over a `SettledBlocks`, implemented by starfarm-l1), and refuses it unless
//!   its computed global root and block hash are the ones L1 recorded.
//!
//! A refused block stops syncing; the node keeps serving the last good state and reports the
//! refusal in `starfarm_syncStatus`, its logs and the `starfarm_node_refused_block` gauge.
//! Layout: `apply` (verification and commit of one block), `sync` (sources and the catch-up
//! loop), `rpc_source` (the sequencer's JSON-RPC as a source), `metrics`.

mod apply;
mod metrics;
mod rpc_source;
mod sync;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use starknet_types_core::felt::Felt;

use crate::block::{Block, BlockHeader};
use crate::chain::{
    AdmissionError, BlockId, BoxFuture, ChainReader, PreConfirmed, ReadError, Refusal, SyncStatus,
    TxRecord, TxSubmitter,
};
use crate::ecdsa::VerifyingKey;
use crate::rpc::{router, RpcConfig};
use crate::state::AccountState;
use crate::store::{Store, StoreError};
use crate::tx::Transaction;

pub use apply::ApplyError;
pub use metrics::NodeMetrics;
pub use rpc_source::RpcSource;
pub use sync::{
    BlockSource, L1Gate, Progress, Published, Settled, SettledBlocks, SourceError, SyncError,
    Syncer,
};

/// How a node checks what it applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Replay,
    L2,
    L1,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Replay => "replay",
            Mode::L2 => "l2",
            Mode::L1 => "l1",
        }
    }

    /// Stored in the database so that a data folder is never reused by another mode (an l2
    /// node's state was never re-executed; a replay node must not inherit it).
    fn code(self) -> u64 {
        match self {
            Mode::Replay => 1,
            Mode::L2 => 2,
            Mode::L1 => 3,
        }
    }

    fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(Mode::Replay),
            2 => Some(Mode::L2),
            3 => Some(Mode::L1),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "replay" => Ok(Mode::Replay),
            "l2" => Ok(Mode::L2),
            "l1" => Ok(Mode::L1),
            other => Err(format!("unknown mode {other:?}: expected replay, l2 or l1")),
        }
    }
}

/// Meta key: the node's mode code.
const META_NODE_MODE: &str = "node_mode";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot create data folder {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read the refusal recorded in {0}: {1} (delete it to retry that block)")]
    Refusal(PathBuf, String),
    #[error("data folder {path} belongs to a node in mode {stored}, not {requested}")]
    ModeMismatch {
        path: PathBuf,
        stored: String,
        requested: Mode,
    },
}

/// What the sync loop updates and the readers see.
#[derive(Default)]
struct Tracking {
    latest: Option<BlockHeader>,
    starting_block: u64,
    highest: Option<u64>,
    refused: Option<Refusal>,
}

pub struct Node {
    mode: Mode,
    store: Store,
    /// Where a refusal is recorded, so that a restarted node keeps refusing (`refused.json`).
    refusal_file: PathBuf,
    state: RwLock<Tracking>,
    /// Verifying keys by public key (their tables cost more than a verification).
    keys: Mutex<std::collections::HashMap<Felt, Arc<VerifyingKey>>>,
    pub metrics: NodeMetrics,
}

impl Node {
    /// Opens (or creates) the node's database `node.redb` under `data_dir`; resumes after the
    /// latest block it holds.
    pub fn open(data_dir: PathBuf, mode: Mode) -> Result<Arc<Self>, NodeError> {
        std::fs::create_dir_all(&data_dir).map_err(|e| NodeError::DataDir(data_dir.clone(), e))?;
        let store = Store::open(&data_dir.join("node.redb"))?;
        match store.meta(META_NODE_MODE)? {
            None => store.set_meta(META_NODE_MODE, mode.code())?,
            Some(code) if code == mode.code() => {}
            Some(code) => {
                return Err(NodeError::ModeMismatch {
                    path: data_dir,
                    stored: Mode::from_code(code)
                        .map_or_else(|| format!("#{code}"), |m| m.to_string()),
                    requested: mode,
                })
            }
        }
        let latest = store.latest_block()?.map(|b| b.header);
        let metrics = NodeMetrics::new(mode);
        metrics.set_synced(latest.as_ref().map(|h| h.number));
        let refusal_file = data_dir.join(REFUSAL_FILE);
        let refused = read_refusal(&refusal_file)?;
        if let Some(refusal) = &refused {
            metrics.refused_block.set(refusal.block_number as i64);
        }
        Ok(Arc::new(Node {
            mode,
            state: RwLock::new(Tracking {
                starting_block: latest.as_ref().map_or(0, |h| h.number + 1),
                latest,
                refused,
                ..Tracking::default()
            }),
            store,
            refusal_file,
            keys: Mutex::new(Default::default()),
            metrics,
        }))
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The latest applied block's header.
    pub fn latest(&self) -> Option<BlockHeader> {
        self.read_state().latest.clone()
    }

    /// The block refused, if any (syncing stopped there).
    pub fn refused(&self) -> Option<Refusal> {
        self.read_state().refused.clone()
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, Tracking> {
        // The guarded data stays consistent: every writer replaces whole fields.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, Tracking> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn set_highest(&self, highest: Option<u64>) {
        let mut state = self.write_state();
        state.highest = state.highest.max(highest);
        self.metrics.set_highest(state.highest);
    }

    fn set_latest(&self, header: BlockHeader) {
        self.metrics.set_synced(Some(header.number));
        let mut state = self.write_state();
        state.highest = state.highest.max(Some(header.number));
        state.latest = Some(header);
    }

    fn refuse(&self, refusal: Refusal) {
        tracing::error!(
            block = refusal.block_number,
            mode = %self.mode,
            "REFUSED block {}: {}; syncing stopped, serving the state after the previous block",
            refusal.block_number,
            refusal.reason
        );
        self.metrics.refused_block.set(refusal.block_number as i64);
        if let Err(e) = write_refusal(&self.refusal_file, &refusal) {
            tracing::warn!(
                "cannot record the refusal in {}: {e}",
                self.refusal_file.display()
            );
        }
        self.write_state().refused = Some(refusal);
    }

    fn verifying_key(&self, public_key: Felt) -> Option<Arc<VerifyingKey>> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = keys.get(&public_key) {
            return Some(Arc::clone(key));
        }
        let key = Arc::new(VerifyingKey::from_public_key(public_key).ok()?);
        keys.insert(public_key, Arc::clone(&key));
        Some(key)
    }

    fn resolve(&self, id: BlockId) -> Result<Option<u64>, ReadError> {
        Ok(match id {
            BlockId::Latest | BlockId::PreConfirmed => self.latest().map(|h| h.number),
            BlockId::Number(n) => self.latest().filter(|h| n <= h.number).map(|_| n),
            BlockId::Hash(h) => self.store.block_number_of(&h).map_err(read_err)?,
        })
    }
}

/// The refusal file in a node's data folder: a refused block stays refused across restarts
/// until an operator deletes it.
pub const REFUSAL_FILE: &str = "refused.json";

fn read_refusal(path: &std::path::Path) -> Result<Option<Refusal>, NodeError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NodeError::Refusal(path.to_path_buf(), e.to_string())),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| NodeError::Refusal(path.to_path_buf(), e.to_string()))
}

/// Written whole (a temporary file renamed), so that a crash leaves no half refusal.
fn write_refusal(path: &std::path::Path, refusal: &Refusal) -> std::io::Result<()> {
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, serde_json::to_vec_pretty(refusal)?)?;
    std::fs::rename(&temporary, path)
}

fn read_err(e: StoreError) -> ReadError {
    ReadError::Storage(e.0)
}

impl ChainReader for Node {
    fn latest_header(&self) -> Result<Option<BlockHeader>, ReadError> {
        Ok(self.latest())
    }

    fn block(&self, id: BlockId) -> Result<Option<Block>, ReadError> {
        if id == BlockId::PreConfirmed {
            return Ok(None);
        }
        match self.resolve(id)? {
            Some(n) => self.store.block(n).map_err(read_err),
            None => Ok(None),
        }
    }

    /// A node sees no mempool: the pre-confirmed block is always empty.
    fn pre_confirmed(&self) -> Result<PreConfirmed, ReadError> {
        let latest = self.latest();
        Ok(PreConfirmed {
            number: latest.as_ref().map_or(0, |h| h.number + 1),
            parent_hash: latest.as_ref().map_or(Felt::ZERO, |h| h.block_hash),
            timestamp: latest.as_ref().map_or(0, |h| h.timestamp),
            transactions: Vec::new(),
            receipts: Vec::new(),
        })
    }

    fn transaction(&self, hash: Felt) -> Result<Option<TxRecord>, ReadError> {
        self.store.transaction(&hash).map_err(read_err)
    }

    fn account(&self, address: Felt, id: BlockId) -> Result<Option<AccountState>, ReadError> {
        if self.latest().is_none() && matches!(id, BlockId::Latest | BlockId::PreConfirmed) {
            return Ok(Some(AccountState::default()));
        }
        match self.resolve(id)? {
            Some(n) => self.store.account(&address, n).map(Some).map_err(read_err),
            None => Ok(None),
        }
    }

    fn sync_status(&self) -> Result<SyncStatus, ReadError> {
        let state = self.read_state();
        let synced = state.latest.as_ref().map(|h| h.number);
        let next = synced.map_or(0, |n| n + 1);
        Ok(SyncStatus {
            mode: self.mode.to_string(),
            starting_block: state.starting_block,
            synced_block: synced,
            highest_block: state.highest,
            blocks_behind: state.highest.map_or(0, |h| (h + 1).saturating_sub(next)),
            refused: state.refused.clone(),
        })
    }
}

/// A node accepts no transactions: they go to the sequencer.
struct ReadOnly(Mode);

impl ReadOnly {
    fn refusal(&self) -> AdmissionError {
        AdmissionError::ReadOnly(format!(
            "this is a read-only node (mode {}): send transactions to the sequencer",
            self.0
        ))
    }
}

impl TxSubmitter for ReadOnly {
    fn submit(&self, _: Transaction) -> BoxFuture<'_, Result<Felt, AdmissionError>> {
        Box::pin(async move { Err(self.refusal()) })
    }

    fn submit_deposit(&self, _: Transaction) -> BoxFuture<'_, Result<Felt, AdmissionError>> {
        Box::pin(async move { Err(self.refusal()) })
    }

    fn close_block(&self) -> BoxFuture<'_, Result<Option<BlockHeader>, AdmissionError>> {
        Box::pin(async move { Err(self.refusal()) })
    }
}

/// The node's HTTP application: the sequencer's JSON-RPC router over the node's reads (write
/// methods refused), `/metrics` and `/health`.
pub fn app(node: Arc<Node>, mut rpc: RpcConfig) -> Router {
    rpc.admin_token = None;
    rpc.admin_deposits = false;
    let probes = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::clone(&node));
    let mode = node.mode;
    router(node, Arc::new(ReadOnly(mode)), rpc).merge(probes)
}

async fn metrics(State(node): State<Arc<Node>>) -> String {
    node.metrics.render()
}

/// Serves the node's application until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    node: Arc<Node>,
    rpc: RpcConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(node, rpc))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests;
