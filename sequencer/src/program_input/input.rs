//! The block program's input as data: what the sequencer publishes per block
//! ([`BlockProverInput`]) and what the program needs for one range ([`RangeInput`]).

use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use crate::execute::{InvalidTx, Receipt};
use crate::state::AccountState;
use crate::trie::{Node, TrieError};
use crate::tx::{hex_u64, Transaction};

/// Version of the serialized [`BlockProverInput`]. 2: its signatures are canonical (low s),
/// the only ones the block program of input layout 2 accepts; a version-1 input may hold
/// either form, so it is refused rather than failing inside a proof.
pub const BLOCK_PROVER_INPUT_VERSION: u32 = 2;

/// An account and its state (all zero when absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEntry {
    pub address: Felt,
    pub state: AccountState,
}

/// What the sequencer publishes for each block so that any range of it can be proven.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockProverInput {
    pub format_version: u32,
    #[serde(with = "hex_u64")]
    pub block_number: u64,
    pub parent_hash: Felt,
    #[serde(with = "hex_u64")]
    pub timestamp: u64,
    /// Contracts-trie root before the block.
    pub previous_contracts_root: Felt,
    pub transactions: Vec<Transaction>,
    /// Every account the transactions touch, sorted by address, with its state before the
    /// block.
    pub accounts: Vec<AccountEntry>,
    /// The union of the trie proofs of `accounts` against `previous_contracts_root`, each node
    /// once.
    pub multiproof: Vec<Node>,
}

/// How a transaction ended, as the program input states it (the program checks it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// REVERTED: the amount exceeds the sender's balance.
    InsufficientBalance,
    /// REVERTED: the recipient's balance would reach 2^128.
    BalanceOverflow,
}

impl Outcome {
    pub fn code(self) -> u64 {
        match self {
            Outcome::Succeeded => 0,
            Outcome::InsufficientBalance => 1,
            Outcome::BalanceOverflow => 2,
        }
    }
}

/// A transaction of a range with the hints the program checks instead of searching.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeTx {
    pub transaction: Transaction,
    pub outcome: Outcome,
    /// For each account slot of the transaction (deploy: the account; transfer: sender, then
    /// recipient unless it is the sender; withdraw: sender; deposit: recipient), the index of
    /// the account's version it starts from. Versions `0..n_accounts` are the accounts' states
    /// at the range start; each slot creates the next version, in transaction order.
    pub previous_versions: Vec<u64>,
    /// Deploy only: whether `H_many("STARFARM_ADDRESS", public_key)` is at least
    /// `2^251 - 256`, so that the address is the hash minus that bound.
    #[serde(default)]
    pub address_wrapped: bool,
}

/// A node of an account's proof as the program reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProofStep {
    /// A binary node; `bit` is the key's bit at its depth (true: right).
    Binary { left: Felt, right: Felt, bit: bool },
    /// An edge the key follows.
    Edge { child: Felt, path: Felt, length: u8 },
    /// The edge the key leaves, the last node of an absence proof. `path` is
    /// `common_path` (the `common` bits the key shares), then the bit `bit` (the key has the
    /// other), then `old_rest`; `new_rest` is the key's `new_length` bits below its differing
    /// bit.
    EdgeLeaves {
        child: Felt,
        path: Felt,
        length: u8,
        common: u8,
        bit: bool,
        new_length: u8,
        common_path: Felt,
        old_rest: Felt,
        new_rest: Felt,
    },
}

/// A node of the union of the paths of a range's present accounts, as the program reads it
/// (pre-order from the root; `docs/sequencer.md`, "One pass over the union of the paths").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SharedStep {
    /// A binary node with accounts below its left child only; `right` is the other child.
    Left { right: Felt },
    /// A binary node with accounts below its right child only; `left` is the other child.
    Right { left: Felt },
    /// A binary node with accounts below both children (left subtree's records first).
    Both,
    /// An edge the keys below follow.
    Edge { path: Felt, length: u8 },
}

/// Pass-2 witness of one account: its final version, and its proof against the contracts
/// root left by the accounts before it (in address order), which only the previous program
/// (layout 1, the benchmark anchor) reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountProof {
    pub final_version: u64,
    pub steps: Vec<ProofStep>,
}

/// Everything the block program needs to prove transactions `tx_start..tx_end` of a block,
/// plus what native execution computed (for [`RangeInput::expected_output`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeInput {
    #[serde(with = "hex_u64")]
    pub block_number: u64,
    pub parent_hash: Felt,
    #[serde(with = "hex_u64")]
    pub timestamp: u64,
    #[serde(with = "hex_u64")]
    pub tx_count: u64,
    #[serde(with = "hex_u64")]
    pub tx_start: u64,
    #[serde(with = "hex_u64")]
    pub tx_end: u64,
    pub tx_commitment_start: Felt,
    /// Contracts-trie root before `tx_start`.
    pub previous_contracts_root: Felt,
    /// The accounts the range touches, sorted by address, with their states at `tx_start`.
    pub accounts: Vec<AccountEntry>,
    pub transactions: Vec<RangeTx>,
    /// One per account, in the same order: final versions (every layout) and the proofs,
    /// one account after the other, of layout 1.
    pub proofs: Vec<AccountProof>,
    /// Layout 3: the union of the paths of the accounts present at `tx_start` (in
    /// `previous_contracts_root`), pre-order; empty when none is.
    pub shared: Vec<SharedStep>,
    /// Layout 3: for each account absent at `tx_start`, in address order, its proof against
    /// the root left by the shared update and the insertions before it.
    pub insertions: Vec<Vec<ProofStep>>,
    /// Native results: contracts root after `tx_end`, commitment and receipts.
    pub new_contracts_root: Felt,
    pub tx_commitment_end: Felt,
    pub receipts: Vec<Receipt>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProgramInputError {
    #[error("block prover input has format version {found}; this build reads {expected}")]
    Version { found: u32, expected: u32 },
    #[error("range {start}..{end} is not within the block's {count} transactions")]
    Range { start: u64, end: u64, count: u64 },
    #[error("accounts must be sorted by address without repeats: {0:#x} is out of order")]
    Unsorted(Felt),
    #[error("the state of account {0:#x} does not match its leaf in the previous contracts root")]
    StateMismatch(Felt),
    #[error("transaction {index} touches {address:#x}, which the block input does not list")]
    MissingAccount { index: u64, address: Felt },
    #[error("transaction {index} is invalid: {source}")]
    InvalidTx {
        index: u64,
        #[source]
        source: InvalidTx,
    },
    #[error("transaction {index}: native execution and the computed outcome disagree")]
    Outcome { index: u64 },
    #[error(transparent)]
    Trie(#[from] TrieError),
}

impl BlockProverInput {
    pub fn tx_count(&self) -> u64 {
        self.transactions.len() as u64
    }
}
