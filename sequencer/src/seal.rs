//! Closing a block from executed transactions: state diff, contracts-trie update, header
//! and block hash, and what the database commit writes. The sequencer seals the block it
//! built; a replaying node seals the block it re-executed with the same code, so both compute
//! roots and hashes identically by construction.

use std::collections::BTreeMap;

use starknet_types_core::felt::Felt;

use crate::block::{
    tx_commitment, AccountDiff, Block, BlockHeader, StateDiff, BLOCK_FORMAT_VERSION,
};
use crate::chain::{TxRecord, TxStatus};
use crate::execute::{apply_hashed, touched, InvalidTx, Receipt};
use crate::state::{global_root, AccountState};
use crate::store::{BlockCommit, Store, StoreError};
use crate::trie::{Node, NodeStore, Overlay, Trie, TrieError};
use crate::tx::Transaction;

/// The block's place in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockPosition {
    pub number: u64,
    pub parent_hash: Felt,
    /// Contracts root after the parent block (0 before block 0).
    pub prev_contracts_root: Felt,
    pub timestamp: u64,
}

impl BlockPosition {
    /// The position after `latest` (block 0 when None).
    pub fn after(latest: Option<&BlockHeader>, timestamp: u64) -> Self {
        BlockPosition {
            number: latest.map_or(0, |h| h.number + 1),
            parent_hash: latest.map_or(Felt::ZERO, |h| h.block_hash),
            prev_contracts_root: latest.map_or(Felt::ZERO, |h| h.contracts_root),
            timestamp,
        }
    }
}

/// Executed transactions and the accounts they touched, before and after.
#[derive(Clone, Debug, Default)]
pub struct Executed {
    pub before: BTreeMap<Felt, AccountState>,
    pub after: BTreeMap<Felt, AccountState>,
    pub transactions: Vec<Transaction>,
    pub receipts: Vec<Receipt>,
}

/// A sealed block and the trie nodes its root needs.
pub struct Sealed {
    pub block: Block,
    pub nodes: Vec<(Felt, Node)>,
}

impl Sealed {
    /// What `Store::commit_block` writes: the block, its transaction records (ACCEPTED_ON_L2),
    /// the accounts' new states and the new trie nodes (moved out, not copied: closing a
    /// block is on the sequencer's latency path).
    pub fn commit(&mut self) -> BlockCommit<'_> {
        let nodes = std::mem::take(&mut self.nodes);
        let header = &self.block.header;
        let records = self
            .block
            .transactions
            .iter()
            .zip(&self.block.receipts)
            .map(|(tx, receipt)| TxRecord {
                transaction: tx.clone(),
                status: TxStatus::AcceptedOnL2,
                receipt: Some(receipt.clone()),
                block: Some((header.number, header.block_hash)),
            })
            .collect();
        let accounts = self
            .block
            .state_diff
            .accounts
            .iter()
            .map(|d| (d.address, d.after))
            .collect();
        BlockCommit {
            block: &self.block,
            records,
            accounts,
            nodes,
        }
    }
}

/// The accounts that changed, sorted by address.
pub fn diff(
    before: &BTreeMap<Felt, AccountState>,
    after: &BTreeMap<Felt, AccountState>,
) -> StateDiff {
    let accounts = after
        .iter()
        .filter_map(|(address, after)| {
            let before = before.get(address).copied().unwrap_or_default();
            (before != *after).then_some(AccountDiff {
                address: *address,
                before,
                after: *after,
            })
        })
        .collect();
    StateDiff { accounts }
}

/// Applies a state diff to the contracts trie; the new contracts root and the new nodes.
pub fn update_trie<S: NodeStore>(
    nodes: &S,
    prev_contracts_root: Felt,
    state_diff: &StateDiff,
) -> Result<(Felt, Vec<(Felt, Node)>), TrieError> {
    let updates: Vec<(Felt, Felt)> = state_diff
        .accounts
        .iter()
        .map(|d| (d.address, d.after.leaf()))
        .collect();
    let mut trie = Trie::new(Overlay::new(nodes), prev_contracts_root);
    let contracts_root = trie.update(&updates)?;
    Ok((contracts_root, trie.into_store().into_new_nodes()))
}

/// Builds the block: header (roots, commitment, hash), state diff, new trie nodes.
pub fn seal<S: NodeStore>(
    nodes: &S,
    position: BlockPosition,
    executed: Executed,
) -> Result<Sealed, TrieError> {
    let state_diff = diff(&executed.before, &executed.after);
    seal_diff(
        nodes,
        position,
        executed.transactions,
        executed.receipts,
        state_diff,
    )
}

/// `seal` for a block whose state diff is given (a node that trusts the published diff).
pub fn seal_diff<S: NodeStore>(
    nodes: &S,
    position: BlockPosition,
    transactions: Vec<Transaction>,
    receipts: Vec<Receipt>,
    state_diff: StateDiff,
) -> Result<Sealed, TrieError> {
    let (contracts_root, new_nodes) =
        update_trie(nodes, position.prev_contracts_root, &state_diff)?;
    let mut header = BlockHeader {
        number: position.number,
        parent_hash: position.parent_hash,
        timestamp: position.timestamp,
        state_root: global_root(contracts_root),
        contracts_root,
        tx_count: transactions.len() as u64,
        tx_commitment: tx_commitment(Felt::ZERO, receipts.iter().map(|r| r.transaction_hash)),
        block_hash: Felt::ZERO,
    };
    header.block_hash = header.compute_hash();
    Ok(Sealed {
        block: Block {
            format_version: BLOCK_FORMAT_VERSION,
            header,
            transactions,
            receipts,
            state_diff,
        },
        nodes: new_nodes,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("transaction {index} ({hash:#x}) cannot run: {error}")]
    Invalid {
        index: usize,
        hash: Felt,
        error: InvalidTx,
    },
}

/// Executes a whole block's transactions natively on the state after block `latest` (the
/// empty state when None), as the sequencer did one by one.
pub fn execute_block(
    store: &Store,
    latest: Option<u64>,
    transactions: Vec<Transaction>,
) -> Result<Executed, ExecuteError> {
    let mut executed = Executed::default();
    for (index, tx) in transactions.iter().enumerate() {
        for address in touched(tx) {
            if !executed.after.contains_key(&address) {
                let state = match latest {
                    Some(n) => store.account(&address, n)?,
                    None => AccountState::default(),
                };
                executed.before.insert(address, state);
                executed.after.insert(address, state);
            }
        }
        let hash = tx.hash();
        let receipt = apply_hashed(&mut executed.after, tx, hash)
            .map_err(|error| ExecuteError::Invalid { index, hash, error })?;
        executed.receipts.push(receipt);
    }
    executed.transactions = transactions;
    Ok(executed)
}
