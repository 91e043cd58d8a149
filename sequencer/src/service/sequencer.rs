//! The [`Sequencer`] type, its configuration, the chain state its tasks share under one lock
//! (mempool, the pre-confirmed block, the latest closed block, the L1 mark), the requests its
//! tasks receive, and the account lookups admission, production and reads all use.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use starknet_types_core::felt::Felt;
use tokio::sync::{mpsc, oneshot};

use crate::block::BlockHeader;
use crate::chain::AdmissionError;
use crate::disk_guard::DiskGuard;
use crate::ecdsa::VerifyingKey;
use crate::execute::Receipt;
use crate::mempool::{Limits, Mempool};
use crate::metrics::SequencerMetrics;
use crate::publish::Publisher;
use crate::state::AccountState;
use crate::store::{Store, StoreError};
use crate::tx::Transaction;

#[derive(Clone, Debug)]
pub struct SequencerConfig {
    pub data_dir: PathBuf,
    /// Close a non-empty block this long after its first transaction.
    pub block_time: Duration,
    pub max_block_txs: usize,
    /// Close a block when its estimated block-program steps reach this.
    pub max_block_steps: u64,
    /// Also close empty blocks on the timer.
    pub empty_blocks: bool,
    pub mempool: Limits,
    /// Refuse admission below this many free bytes on the data folder's disk (0: never).
    pub min_free_disk: u64,
}

impl SequencerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        SequencerConfig {
            data_dir,
            block_time: Duration::from_secs(2),
            max_block_txs: 1_000,
            max_block_steps: 1 << 22,
            empty_blocks: false,
            mempool: Limits::default(),
            min_free_disk: 128 << 20,
        }
    }
}

/// The block being built.
#[derive(Default)]
pub(super) struct PreBlock {
    pub(super) number: u64,
    pub(super) parent_hash: Felt,
    pub(super) started: Option<Instant>,
    pub(super) timestamp: u64,
    /// State of touched accounts at the start of the block.
    pub(super) before: BTreeMap<Felt, AccountState>,
    /// Their current state.
    pub(super) accounts: BTreeMap<Felt, AccountState>,
    pub(super) transactions: Vec<Transaction>,
    pub(super) receipts: Vec<Receipt>,
    pub(super) hashes: HashSet<Felt>,
    pub(super) steps: u64,
}

pub(super) struct Chain {
    pub(super) mempool: Mempool,
    pub(super) pre: PreBlock,
    pub(super) latest: Option<BlockHeader>,
    pub(super) l1_accepted: Option<u64>,
}

/// The running sequencer. Its methods live in the `service` file of their responsibility
/// (see the module doc); its state in this one.
pub struct Sequencer {
    pub(super) config: SequencerConfig,
    pub(super) store: Store,
    pub(super) chain: Mutex<Chain>,
    pub(super) keys: RwLock<HashMap<Felt, Arc<VerifyingKey>>>,
    pub(super) admit: mpsc::Sender<Admit>,
    pub(super) close: mpsc::Sender<CloseRequest>,
    pub(super) next_log_number: AtomicU64,
    pub(super) publisher: Option<Publisher>,
    pub(super) disk: DiskGuard,
    pub(super) stop: tokio::sync::watch::Sender<bool>,
    pub(super) tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    pub metrics: SequencerMetrics,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data folder {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A transaction for the admission writer, with where to send its verdict.
pub(super) struct Admit {
    pub(super) tx: Transaction,
    pub(super) hash: Felt,
    pub(super) done: oneshot::Sender<Result<Felt, AdmissionError>>,
}

/// A request to the producer to close the block now.
pub(super) type CloseRequest = oneshot::Sender<Result<Option<BlockHeader>, AdmissionError>>;

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Sequencer {
    /// Resolves once `shutdown` was called.
    pub(super) async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Chain> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.chain.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn latest_number(chain: &Chain) -> Option<u64> {
        chain.latest.as_ref().map(|h| h.number)
    }

    /// Current (pre-confirmed) state of an account.
    pub(super) fn current_account(
        &self,
        chain: &Chain,
        address: &Felt,
    ) -> Result<AccountState, StoreError> {
        if let Some(a) = chain.pre.accounts.get(address) {
            return Ok(*a);
        }
        match Self::latest_number(chain) {
            Some(n) => self.store.account(address, n),
            None => Ok(AccountState::default()),
        }
    }

    pub(super) fn state_nonce(&self, chain: &Chain, tx: &Transaction) -> Result<u64, StoreError> {
        match tx.sender() {
            Some(a) => Ok(self.current_account(chain, &a)?.nonce),
            None => Ok(0),
        }
    }
}
