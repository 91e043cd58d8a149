//! Blocks: header, block hash and transaction commitment formulas, and the state diff a
//! block applies (`docs/sequencer.md`, "Blocks").

use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use crate::execute::Receipt;
use crate::hash::{h, h_many, short_string, BLOCK_PREFIX};
use crate::state::AccountState;
use crate::tx::{hex_u64, Transaction};

/// Version of the serialized block types.
pub const BLOCK_FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    #[serde(with = "hex_u64")]
    pub number: u64,
    pub parent_hash: Felt,
    /// Seconds since the Unix epoch.
    #[serde(with = "hex_u64")]
    pub timestamp: u64,
    /// Global state root after the block.
    pub state_root: Felt,
    /// Contracts-trie root after the block.
    pub contracts_root: Felt,
    #[serde(with = "hex_u64")]
    pub tx_count: u64,
    pub tx_commitment: Felt,
    pub block_hash: Felt,
}

impl BlockHeader {
    /// `H_many("STARFARM_BLOCK_V1", number, parent_hash, timestamp, state_root, tx_count,
    /// tx_commitment)`.
    pub fn compute_hash(&self) -> Felt {
        block_hash(
            self.number,
            self.parent_hash,
            self.timestamp,
            self.state_root,
            self.tx_count,
            self.tx_commitment,
        )
    }
}

pub fn block_hash(
    number: u64,
    parent_hash: Felt,
    timestamp: u64,
    state_root: Felt,
    tx_count: u64,
    tx_commitment: Felt,
) -> Felt {
    h_many(&[
        short_string(BLOCK_PREFIX),
        Felt::from(number),
        parent_hash,
        Felt::from(timestamp),
        state_root,
        Felt::from(tx_count),
        tx_commitment,
    ])
}

/// One step of the transaction commitment chain: `c_{i+1} = H(c_i, tx_hash_i)`.
pub fn chain_commitment(previous: Felt, tx_hash: Felt) -> Felt {
    h(previous, tx_hash)
}

/// The commitment over a sequence of transaction hashes, starting from `start`.
pub fn tx_commitment(start: Felt, hashes: impl IntoIterator<Item = Felt>) -> Felt {
    hashes.into_iter().fold(start, chain_commitment)
}

/// An account the block changed, with its state before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDiff {
    pub address: Felt,
    pub before: AccountState,
    pub after: AccountState,
}

/// The accounts a block changed, sorted by address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDiff {
    pub accounts: Vec<AccountDiff>,
}

/// A block as published: header, transactions in order, their receipts, and its state diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub format_version: u32,
    pub header: BlockHeader,
    pub transactions: Vec<Transaction>,
    pub receipts: Vec<Receipt>,
    pub state_diff: StateDiff,
}
