//! What the sequencer's APIs read and write, as traits: the JSON-RPC server (`rpc`) is written
//! against these, the sequencer service implements them, and a node (`crate::node`) implements
//! the read side too.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use crate::block::{Block, BlockHeader};
use crate::execute::Receipt;
use crate::state::AccountState;
use crate::tx::Transaction;

/// Starknet's finality statuses of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TxStatus {
    /// Admitted (and durably logged), waiting in the mempool.
    Received,
    /// Executed into the block being built.
    PreConfirmed,
    /// In a closed block.
    AcceptedOnL2,
    /// In a block settled on L1.
    AcceptedOnL1,
}

/// Which state or block a read refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockId {
    Latest,
    PreConfirmed,
    Number(u64),
    Hash(Felt),
}

/// A transaction and what is known about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    pub transaction: Transaction,
    pub status: TxStatus,
    /// Present once executed (pre-confirmed or in a block).
    pub receipt: Option<Receipt>,
    /// Number and hash of the closed block holding it.
    pub block: Option<(u64, Felt)>,
}

/// The pre-confirmed block: transactions executed since the last closed block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreConfirmed {
    pub number: u64,
    pub parent_hash: Felt,
    pub timestamp: u64,
    pub transactions: Vec<Transaction>,
    pub receipts: Vec<Receipt>,
}

/// How far a reader is behind the chain it follows (`starfarm_syncStatus`,
/// `starknet_syncing`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// `sequencer`, or the node's mode (`replay`, `l2`).
    pub mode: String,
    /// The block this process started syncing from (its first block to apply).
    pub starting_block: u64,
    /// Latest block applied and served (None before block 0).
    pub synced_block: Option<u64>,
    /// Highest block the source is known to hold.
    pub highest_block: Option<u64>,
    /// Blocks known at the source and not applied yet.
    pub blocks_behind: u64,
    /// A block refused (its computed root or hash differs from the published one): syncing
    /// stopped there and the state stays at `synced_block`.
    pub refused: Option<Refusal>,
}

/// A block a node refused to apply, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub block_number: u64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("storage error: {0}")]
    Storage(String),
    #[error(
        "the sequencer's disk is nearly full ({free_mib} MiB free, admission needs \
         {minimum_mib} MiB): transaction not accepted; retry once an operator frees space"
    )]
    DiskFull { free_mib: u64, minimum_mib: u64 },
}

/// Read access to the chain.
pub trait ChainReader: Send + Sync + 'static {
    /// Header of the latest closed block (None before block 0 closes).
    fn latest_header(&self) -> Result<Option<BlockHeader>, ReadError>;
    fn block(&self, id: BlockId) -> Result<Option<Block>, ReadError>;
    fn pre_confirmed(&self) -> Result<PreConfirmed, ReadError>;
    fn transaction(&self, hash: Felt) -> Result<Option<TxRecord>, ReadError>;
    /// Account state after block `id`; None when the block is unknown. An address that
    /// never held anything reads as the empty account.
    fn account(&self, address: Felt, id: BlockId) -> Result<Option<AccountState>, ReadError>;
    /// Header of a closed block (None when unknown). Override to avoid reading the block.
    fn header(&self, id: BlockId) -> Result<Option<BlockHeader>, ReadError> {
        Ok(self.block(id)?.map(|block| block.header))
    }
    /// Number of the latest block settled on L1 (the `l1_accepted` block tag); None until
    /// one is, or for readers that do not follow L1.
    fn l1_accepted_number(&self) -> Result<Option<u64>, ReadError> {
        Ok(None)
    }
    /// The nonce an account's next transaction needs, counting admitted transactions that
    /// have not run yet (what a wallet signs with). Readers without a mempool answer the
    /// pre-confirmed nonce.
    fn next_nonce(&self, address: Felt) -> Result<u64, ReadError> {
        Ok(self
            .account(address, BlockId::PreConfirmed)?
            .map_or(0, |a| a.nonce))
    }
    /// Sync progress; the default is a chain's producer, never behind itself.
    fn sync_status(&self) -> Result<SyncStatus, ReadError> {
        let synced = self.latest_header()?.map(|h| h.number);
        Ok(SyncStatus {
            mode: "sequencer".to_string(),
            starting_block: 0,
            synced_block: synced,
            highest_block: synced,
            blocks_behind: 0,
            refused: None,
        })
    }
}

/// Why a transaction was refused at admission (each maps to a JSON-RPC error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    #[error("invalid transaction: {0}")]
    Format(#[from] crate::tx::FormatError),
    #[error("invalid signature")]
    Signature,
    #[error("account {0:#x} is not deployed")]
    NotDeployed(Felt),
    #[error("account {0:#x} is already deployed")]
    AlreadyDeployed(Felt),
    #[error("invalid nonce: account has nonce {expected}, transaction has {got}")]
    NonceTooOld { expected: u64, got: u64 },
    #[error("nonce {got} is too far ahead of the account's next nonce {expected} (limit {limit})")]
    NonceTooFar { expected: u64, got: u64, limit: u64 },
    #[error("insufficient balance: {balance:#x} < {amount:#x}")]
    Balance { balance: u128, amount: u128 },
    #[error("transaction {0:#x} is already known")]
    Duplicate(Felt),
    #[error("the mempool is full ({0} transactions); retry later")]
    MempoolFull(usize),
    #[error("deposits come only from L1 (or the authenticated admin method)")]
    DepositNotAllowed,
    #[error("the sequencer is shutting down")]
    ShuttingDown,
    /// A node serves reads only.
    #[error("{0}")]
    ReadOnly(String),
    #[error("storage error: {0}")]
    Storage(String),
    /// The database's disk is below its free-space minimum (`disk_guard`).
    #[error(
        "the sequencer's disk is nearly full ({free_mib} MiB free, admission needs \
         {minimum_mib} MiB): transaction not accepted; retry once an operator frees space"
    )]
    DiskFull { free_mib: u64, minimum_mib: u64 },
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Write access: admission of transactions and block control.
pub trait TxSubmitter: Send + Sync + 'static {
    /// Admits a signed transaction; resolves once it is durably logged.
    fn submit(&self, tx: Transaction) -> BoxFuture<'_, Result<Felt, AdmissionError>>;
    /// Admits a deposit (an L1→L2 message), for the L1 watcher or an admin.
    fn submit_deposit(&self, tx: Transaction) -> BoxFuture<'_, Result<Felt, AdmissionError>>;
    /// Closes the pre-confirmed block now; resolves with its header (None when empty and
    /// empty blocks are not produced).
    fn close_block(&self) -> BoxFuture<'_, Result<Option<BlockHeader>, AdmissionError>>;
}
