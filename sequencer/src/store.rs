//! The sequencer's database (redb, one file, fsync'd commits): the write-ahead log of admitted
//! transactions, closed blocks, transaction records, account history per block, trie nodes,
//! and small metadata. A block's commit removes its transactions from the log in the same
//! transaction, so a crash at any point loses no acknowledged transaction.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use starknet_types_core::felt::Felt;

use crate::block::Block;
use crate::chain::TxRecord;
use crate::state::AccountState;
use crate::trie::{Node, NodeStore, TrieError};
use crate::tx::Transaction;

/// Admitted transactions not yet in a block: hash → admission number (8 bytes BE) ++ JSON.
const WAL: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("wal");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const BLOCK_BY_HASH: TableDefinition<[u8; 32], u64> = TableDefinition::new("block_by_hash");
const TXS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("txs");
const ACCOUNTS: TableDefinition<([u8; 32], u64), &[u8]> = TableDefinition::new("accounts");
const NODES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("nodes");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Meta key: highest block number settled on L1.
pub const META_L1_ACCEPTED: &str = "l1_accepted";
/// Meta key: next block number to publish to the object store.
pub const META_PUBLISH_CURSOR: &str = "publish_cursor";

#[derive(Debug, thiserror::Error)]
#[error("sequencer database: {0}")]
pub struct StoreError(pub String);

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

pub fn felt_key(f: &Felt) -> [u8; 32] {
    f.to_bytes_be()
}

/// Everything a closed block writes, committed atomically.
pub struct BlockCommit<'a> {
    pub block: &'a Block,
    pub records: Vec<TxRecord>,
    pub accounts: Vec<(Felt, AccountState)>,
    pub nodes: Vec<(Felt, Node)>,
}

pub struct Store {
    db: Database,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(db_err)?;
        // Create every table so readers never meet a missing one.
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(WAL).map_err(db_err)?;
        txn.open_table(BLOCKS).map_err(db_err)?;
        txn.open_table(BLOCK_BY_HASH).map_err(db_err)?;
        txn.open_table(TXS).map_err(db_err)?;
        txn.open_table(ACCOUNTS).map_err(db_err)?;
        txn.open_table(NODES).map_err(db_err)?;
        txn.open_table(META).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Store { db })
    }

    /// Logs admitted transactions (numbered from `first` in admission order) in one fsync'd
    /// commit.
    pub fn log_transactions(
        &self,
        first: u64,
        txs: &[(Felt, &Transaction)],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut wal = txn.open_table(WAL).map_err(db_err)?;
            for (i, (hash, tx)) in txs.iter().enumerate() {
                let mut bytes = (first + i as u64).to_be_bytes().to_vec();
                serde_json::to_writer(&mut bytes, tx).map_err(db_err)?;
                wal.insert(felt_key(hash), bytes.as_slice())
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// The logged transactions not yet in a closed block, in admission order, with their
    /// admission numbers.
    pub fn logged_transactions(&self) -> Result<Vec<(u64, Transaction)>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let wal = txn.open_table(WAL).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in wal.iter().map_err(db_err)? {
            let (_, v) = entry.map_err(db_err)?;
            let bytes = v.value();
            let (number, json) = bytes
                .split_at_checked(8)
                .ok_or_else(|| db_err("short log record"))?;
            let number = u64::from_be_bytes(number.try_into().map_err(db_err)?);
            out.push((number, serde_json::from_slice(json).map_err(db_err)?));
        }
        out.sort_by_key(|(n, _)| *n);
        Ok(out)
    }

    /// Drops log records (of transactions found already in a block at start-up).
    pub fn unlog(&self, hashes: &[Felt]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut wal = txn.open_table(WAL).map_err(db_err)?;
            for hash in hashes {
                wal.remove(felt_key(hash)).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Commits a closed block: block, records, account history, trie nodes; drops its
    /// transactions from the log.
    pub fn commit_block(&self, commit: BlockCommit<'_>) -> Result<(), StoreError> {
        let number = commit.block.header.number;
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let bytes = serde_json::to_vec(commit.block).map_err(db_err)?;
            txn.open_table(BLOCKS)
                .map_err(db_err)?
                .insert(number, bytes.as_slice())
                .map_err(db_err)?;
            txn.open_table(BLOCK_BY_HASH)
                .map_err(db_err)?
                .insert(felt_key(&commit.block.header.block_hash), number)
                .map_err(db_err)?;
            let mut txs = txn.open_table(TXS).map_err(db_err)?;
            let mut wal = txn.open_table(WAL).map_err(db_err)?;
            for (record, receipt) in commit.records.iter().zip(&commit.block.receipts) {
                let key = felt_key(&receipt.transaction_hash);
                let bytes = serde_json::to_vec(record).map_err(db_err)?;
                txs.insert(key, bytes.as_slice()).map_err(db_err)?;
                wal.remove(key).map_err(db_err)?;
            }
            let mut accounts = txn.open_table(ACCOUNTS).map_err(db_err)?;
            for (address, state) in &commit.accounts {
                let bytes = serde_json::to_vec(state).map_err(db_err)?;
                accounts
                    .insert((felt_key(address), number), bytes.as_slice())
                    .map_err(db_err)?;
            }
            let mut nodes = txn.open_table(NODES).map_err(db_err)?;
            for (hash, node) in &commit.nodes {
                nodes
                    .insert(felt_key(hash), node.to_bytes().as_slice())
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    pub fn block(&self, number: u64) -> Result<Option<Block>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
        match blocks.get(number).map_err(db_err)? {
            Some(v) => serde_json::from_slice(v.value()).map(Some).map_err(db_err),
            None => Ok(None),
        }
    }

    pub fn latest_block(&self) -> Result<Option<Block>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
        let last = blocks.last().map_err(db_err)?;
        match last {
            Some((_, v)) => serde_json::from_slice(v.value()).map(Some).map_err(db_err),
            None => Ok(None),
        }
    }

    pub fn block_number_of(&self, hash: &Felt) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(BLOCK_BY_HASH).map_err(db_err)?;
        Ok(table
            .get(felt_key(hash))
            .map_err(db_err)?
            .map(|v| v.value()))
    }

    pub fn transaction(&self, hash: &Felt) -> Result<Option<TxRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(TXS).map_err(db_err)?;
        match table.get(felt_key(hash)).map_err(db_err)? {
            Some(v) => serde_json::from_slice(v.value()).map(Some).map_err(db_err),
            None => Ok(None),
        }
    }

    /// State of `address` after block `at` (the empty account if it never changed).
    pub fn account(&self, address: &Felt, at: u64) -> Result<AccountState, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(ACCOUNTS).map_err(db_err)?;
        let key = felt_key(address);
        let mut range = table.range((key, 0)..=(key, at)).map_err(db_err)?;
        match range.next_back() {
            Some(entry) => {
                let (_, v) = entry.map_err(db_err)?;
                serde_json::from_slice(v.value()).map_err(db_err)
            }
            None => Ok(AccountState::default()),
        }
    }

    pub fn meta(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(META).map_err(db_err)?;
        Ok(table.get(key).map_err(db_err)?.map(|v| v.value()))
    }

    pub fn set_meta(&self, key: &str, value: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(META)
            .map_err(db_err)?
            .insert(key, value)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// A read-only view of the trie nodes for building proofs and updates.
    pub fn nodes(&self) -> Result<DbNodes, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        Ok(DbNodes {
            table: txn.open_table(NODES).map_err(db_err)?,
        })
    }
}

/// Trie nodes read from the database (writes go through an overlay and `commit_block`).
pub struct DbNodes {
    table: redb::ReadOnlyTable<[u8; 32], &'static [u8]>,
}

impl NodeStore for DbNodes {
    fn get(&self, hash: &Felt) -> Result<Option<Node>, TrieError> {
        let store = |e: redb::StorageError| TrieError::Store(e.to_string());
        match self.table.get(felt_key(hash)).map_err(store)? {
            Some(v) => Node::from_bytes(v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn put(&mut self, _hash: Felt, _node: Node) -> Result<(), TrieError> {
        Err(TrieError::Store(
            "the database node view is read-only; write through an overlay".into(),
        ))
    }
}
