//! The block program's input and output (`sequencer/cairo/block.cairo`; layouts in
//! `docs/sequencer.md`, "Block program input" and "Block program output").
//!
//! Per block the sequencer publishes a [`BlockProverInput`]: the header fields, the
//! transactions, the pre-block states of the accounts they touch and one multiproof of those
//! accounts against the previous contracts root. Any range of the block can then be proven on
//! its own: [`BlockProverInput::range`] replays the block natively on the partial trie the
//! multiproof forms and gives the [`RangeInput`] whose felts ([`RangeInput::to_felts`]) the
//! program reads, with the output the program must give ([`RangeInput::expected_output`]);
//! [`BlockOutput::from_felts`] parses what a run or a proof's artifact output.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use crate::block::{block_hash, chain_commitment};
use crate::execute::{
    apply, touched, ExecutionStatus, InvalidTx, MessageToL1, MessageToL2, Receipt,
};
use crate::hash::{address_upper_bound, h_many, short_string, ADDRESS_PREFIX};
use crate::state::{global_root, AccountState};
use crate::trie::{MemoryNodes, Node, NodeStore, Trie, TrieError, HEIGHT};
use crate::tx::{hex_u64, Transaction};

/// Version of the serialized [`BlockProverInput`].
pub const BLOCK_PROVER_INPUT_VERSION: u32 = 1;

/// First felt of the program input: the version of its layout.
pub const PROGRAM_INPUT_VERSION: u64 = 1;

/// Felts of the output header before the messages-to-L1 segment.
pub const OUTPUT_HEADER_LEN: usize = 11;

/// The compiled block program (`cairo/block.cairo`, `cairo-compile --proof_mode`): the
/// program whose input and output this module lays out, embedded so that whoever proves a
/// published block (the scheduler) proves the program this build's input format is for.
pub const BLOCK_PROGRAM_JSON: &[u8] = include_bytes!("../cairo/block.json");

/// Cairo steps the block program spends on a range besides its transactions (header, output,
/// the empty pass 2; `docs/sequencer.md`, "Cost": ~300, measured on an empty block).
pub const RANGE_OVERHEAD_STEPS: u64 = 300;

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

/// Pass-2 witness of one account: its proof against the contracts root left by the accounts
/// before it (in address order), and its final version.
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
    /// One per account, in the same order.
    pub proofs: Vec<AccountProof>,
    /// Native results: contracts root after `tx_end`, commitment and receipts.
    pub new_contracts_root: Felt,
    pub tx_commitment_end: Felt,
    pub receipts: Vec<Receipt>,
}

/// The block program's output (`docs/sequencer.md`, "Block program output").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockOutput {
    pub previous_state_root: Felt,
    pub new_state_root: Felt,
    #[serde(with = "hex_u64")]
    pub block_number: u64,
    pub parent_hash: Felt,
    /// The block hash when the range ends the block, else 0.
    pub block_hash: Felt,
    #[serde(with = "hex_u64")]
    pub timestamp: u64,
    #[serde(with = "hex_u64")]
    pub tx_start: u64,
    #[serde(with = "hex_u64")]
    pub tx_end: u64,
    #[serde(with = "hex_u64")]
    pub tx_count: u64,
    pub tx_commitment_start: Felt,
    pub tx_commitment_end: Felt,
    pub messages_to_l1: Vec<MessageToL1>,
    pub messages_to_l2: Vec<MessageToL2>,
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("block program output ends before its {0}")]
    Truncated(&'static str),
    #[error("block program output: {field} = {value:#x} is not a 64-bit integer")]
    NotU64 { field: &'static str, value: Felt },
    #[error("block program output: {0} felts follow the messages")]
    Trailing(usize),
    #[error("block program output: the {segment} segment {reason}")]
    Segment {
        segment: &'static str,
        reason: String,
    },
}

impl BlockProverInput {
    /// The prover input of a block whose `transactions` run on the state of `trie` (the
    /// contracts trie at the previous block's root). `pre_states` holds the states of (at
    /// least) the accounts the transactions touch; a missing address is an absent account.
    /// Each state is checked against its leaf.
    pub fn build<S: NodeStore>(
        trie: &Trie<S>,
        pre_states: &BTreeMap<Felt, AccountState>,
        block_number: u64,
        parent_hash: Felt,
        timestamp: u64,
        transactions: Vec<Transaction>,
    ) -> Result<Self, ProgramInputError> {
        let addresses: BTreeSet<Felt> = transactions.iter().flat_map(touched).collect();
        let mut accounts = Vec::with_capacity(addresses.len());
        for &address in &addresses {
            let state = pre_states.get(&address).copied().unwrap_or_default();
            if trie.get(address)? != state.leaf() {
                return Err(ProgramInputError::StateMismatch(address));
            }
            accounts.push(AccountEntry { address, state });
        }
        let keys: Vec<Felt> = addresses.into_iter().collect();
        Ok(Self {
            format_version: BLOCK_PROVER_INPUT_VERSION,
            block_number,
            parent_hash,
            timestamp,
            previous_contracts_root: trie.root(),
            transactions,
            accounts,
            multiproof: trie.multiproof(&keys)?,
        })
    }

    pub fn tx_count(&self) -> u64 {
        self.transactions.len() as u64
    }

    /// The program input and expected output for transactions `tx_start..tx_end`: replays
    /// the block natively up to `tx_end` on the partial trie of the multiproof, which also
    /// checks the published states against it.
    pub fn range(&self, tx_start: u64, tx_end: u64) -> Result<RangeInput, ProgramInputError> {
        if self.format_version != BLOCK_PROVER_INPUT_VERSION {
            return Err(ProgramInputError::Version {
                found: self.format_version,
                expected: BLOCK_PROVER_INPUT_VERSION,
            });
        }
        let count = self.tx_count();
        if tx_start > tx_end || tx_end > count {
            return Err(ProgramInputError::Range {
                start: tx_start,
                end: tx_end,
                count,
            });
        }
        let mut trie = Trie::new(
            MemoryNodes::from_nodes(self.multiproof.iter().copied()),
            self.previous_contracts_root,
        );
        let mut states = BTreeMap::new();
        let mut previous: Option<Felt> = None;
        for entry in &self.accounts {
            if previous.is_some_and(|p| p >= entry.address) {
                return Err(ProgramInputError::Unsorted(entry.address));
            }
            previous = Some(entry.address);
            if trie.get(entry.address)? != entry.state.leaf() {
                return Err(ProgramInputError::StateMismatch(entry.address));
            }
            states.insert(entry.address, entry.state);
        }
        let (start, end) = (tx_start as usize, tx_end as usize);

        // The transactions before the range: states, commitment and root at `tx_start`.
        let mut commitment = Felt::ZERO;
        for (index, tx) in self.transactions[..start].iter().enumerate() {
            self.check_listed(index as u64, tx, &states)?;
            apply(&mut states, tx).map_err(|source| ProgramInputError::InvalidTx {
                index: index as u64,
                source,
            })?;
            commitment = chain_commitment(commitment, tx.hash());
        }
        let changed: Vec<(Felt, Felt)> = self
            .accounts
            .iter()
            .filter(|entry| states[&entry.address] != entry.state)
            .map(|entry| (entry.address, states[&entry.address].leaf()))
            .collect();
        trie.update(&changed)?;
        let previous_contracts_root = trie.root();
        let tx_commitment_start = commitment;

        // The range: its accounts, then the transactions with their hints.
        let txs = &self.transactions[start..end];
        for (offset, tx) in txs.iter().enumerate() {
            self.check_listed((start + offset) as u64, tx, &states)?;
        }
        let addresses: BTreeSet<Felt> = txs.iter().flat_map(touched).collect();
        let accounts: Vec<AccountEntry> = addresses
            .iter()
            .map(|&address| AccountEntry {
                address,
                state: states[&address],
            })
            .collect();
        let position: BTreeMap<Felt, usize> = addresses
            .iter()
            .enumerate()
            .map(|(i, &address)| (address, i))
            .collect();
        let mut current: Vec<u64> = (0..accounts.len() as u64).collect();
        let mut next_version = accounts.len() as u64;
        let mut transactions = Vec::with_capacity(txs.len());
        let mut receipts = Vec::with_capacity(txs.len());
        for (offset, tx) in txs.iter().enumerate() {
            let index = (start + offset) as u64;
            let outcome = outcome(tx, &states);
            let mut previous_versions = Vec::with_capacity(2);
            for address in slots(tx) {
                let slot = position[&address];
                previous_versions.push(current[slot]);
                current[slot] = next_version;
                next_version += 1;
            }
            let receipt = apply(&mut states, tx)
                .map_err(|source| ProgramInputError::InvalidTx { index, source })?;
            let reverted = receipt.execution_status == ExecutionStatus::Reverted;
            if reverted != (outcome != Outcome::Succeeded) {
                return Err(ProgramInputError::Outcome { index });
            }
            commitment = chain_commitment(commitment, receipt.transaction_hash);
            let address_wrapped = match tx {
                Transaction::DeployAccount(t) => {
                    address_hash(t.public_key) >= address_upper_bound()
                }
                _ => false,
            };
            transactions.push(RangeTx {
                transaction: tx.clone(),
                outcome,
                previous_versions,
                address_wrapped,
            });
            receipts.push(receipt);
        }

        // Pass 2: each account's proof against the root its predecessors left.
        let mut proofs = Vec::with_capacity(accounts.len());
        for (slot, entry) in accounts.iter().enumerate() {
            let nodes = trie.proof(entry.address)?;
            let steps = proof_steps(entry.address, &nodes)?;
            trie.update(&[(entry.address, states[&entry.address].leaf())])?;
            proofs.push(AccountProof {
                final_version: current[slot],
                steps,
            });
        }

        Ok(RangeInput {
            block_number: self.block_number,
            parent_hash: self.parent_hash,
            timestamp: self.timestamp,
            tx_count: count,
            tx_start,
            tx_end,
            tx_commitment_start,
            previous_contracts_root,
            accounts,
            transactions,
            proofs,
            new_contracts_root: trie.root(),
            tx_commitment_end: commitment,
            receipts,
        })
    }

    /// Transactions may only touch listed accounts (the multiproof covers no other).
    fn check_listed(
        &self,
        index: u64,
        tx: &Transaction,
        states: &BTreeMap<Felt, AccountState>,
    ) -> Result<(), ProgramInputError> {
        match touched(tx)
            .into_iter()
            .find(|address| !states.contains_key(address))
        {
            Some(address) => Err(ProgramInputError::MissingAccount { index, address }),
            None => Ok(()),
        }
    }
}

/// The accounts whose versions a transaction consumes, in the program's slot order.
fn slots(tx: &Transaction) -> Vec<Felt> {
    let mut addresses = touched(tx);
    addresses.dedup();
    addresses
}

/// How `tx` ends on `states` (the rules of `execute::apply`, with the revert cause).
fn outcome(tx: &Transaction, states: &BTreeMap<Felt, AccountState>) -> Outcome {
    let balance = |address: &Felt| states.get(address).map_or(0, |s| s.balance);
    match tx {
        Transaction::DeployAccount(_) => Outcome::Succeeded,
        Transaction::Transfer(t) => {
            if t.amount > balance(&t.sender) {
                Outcome::InsufficientBalance
            } else if t.recipient != t.sender
                && balance(&t.recipient).checked_add(t.amount).is_none()
            {
                Outcome::BalanceOverflow
            } else {
                Outcome::Succeeded
            }
        }
        Transaction::Withdraw(t) => {
            if t.amount > balance(&t.sender) {
                Outcome::InsufficientBalance
            } else {
                Outcome::Succeeded
            }
        }
        Transaction::Deposit(t) => match balance(&t.recipient).checked_add(t.amount) {
            Some(_) => Outcome::Succeeded,
            None => Outcome::BalanceOverflow,
        },
    }
}

/// `H_many("STARFARM_ADDRESS", public_key)` before its reduction to an address.
fn address_hash(public_key: Felt) -> Felt {
    h_many(&[short_string(ADDRESS_PREFIX), public_key])
}

/// The program's view of `address`'s proof `nodes` (root-down): key bits at binary nodes,
/// and the split of the edge the key leaves, if it is absent.
fn proof_steps(address: Felt, nodes: &[Node]) -> Result<Vec<ProofStep>, ProgramInputError> {
    let bad = |reason: &str| TrieError::BadProof {
        key: address,
        reason: reason.to_string(),
    };
    let key = Word::from_felt(&address);
    let height = u32::from(HEIGHT);
    let mut depth = 0u32;
    let mut steps = Vec::with_capacity(nodes.len());
    for (index, node) in nodes.iter().enumerate() {
        match *node {
            Node::Binary { left, right } => {
                if depth >= height {
                    return Err(bad("binary node below the leaves").into());
                }
                steps.push(ProofStep::Binary {
                    left,
                    right,
                    bit: key.bit(height - 1 - depth),
                });
                depth += 1;
            }
            Node::Edge {
                child,
                path,
                length,
            } => {
                let len = u32::from(length);
                if len == 0 || depth + len > height {
                    return Err(bad("edge length out of range").into());
                }
                let segment = key.shr(height - depth - len).low(len);
                let path_bits = Word::from_felt(&path);
                if segment == path_bits {
                    steps.push(ProofStep::Edge {
                        child,
                        path,
                        length,
                    });
                    depth += len;
                    continue;
                }
                if index + 1 != nodes.len() {
                    return Err(bad("the key leaves an edge before the proof's last node").into());
                }
                // Highest differing bit (from the least significant end of the path).
                let differ = segment.xor(path_bits).bit_len() - 1;
                let common = len - 1 - differ;
                let new_length = height - depth - common - 1;
                steps.push(ProofStep::EdgeLeaves {
                    child,
                    path,
                    length,
                    common: common as u8,
                    bit: path_bits.bit(differ),
                    new_length: new_length as u8,
                    common_path: path_bits.shr(differ + 1).to_felt(),
                    old_rest: path_bits.low(differ).to_felt(),
                    new_rest: key.low(new_length).to_felt(),
                });
            }
        }
    }
    Ok(steps)
}

/// A 256-bit unsigned integer, enough for trie key arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Word {
    high: u128,
    low: u128,
}

impl Word {
    fn from_felt(felt: &Felt) -> Self {
        let bytes = felt.to_bytes_be();
        let mut high = [0u8; 16];
        let mut low = [0u8; 16];
        high.copy_from_slice(&bytes[..16]);
        low.copy_from_slice(&bytes[16..]);
        Self {
            high: u128::from_be_bytes(high),
            low: u128::from_be_bytes(low),
        }
    }

    fn to_felt(self) -> Felt {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(&self.high.to_be_bytes());
        bytes[16..].copy_from_slice(&self.low.to_be_bytes());
        Felt::from_bytes_be(&bytes)
    }

    fn shr(self, n: u32) -> Self {
        match n {
            0 => self,
            1..=127 => Self {
                high: self.high >> n,
                low: (self.low >> n) | (self.high << (128 - n)),
            },
            128..=255 => Self {
                high: 0,
                low: self.high >> (n - 128),
            },
            _ => Self { high: 0, low: 0 },
        }
    }

    /// The low `n` bits.
    fn low(self, n: u32) -> Self {
        let mask = |bits: u32| {
            if bits >= 128 {
                u128::MAX
            } else {
                (1u128 << bits) - 1
            }
        };
        if n >= 128 {
            Self {
                high: self.high & mask(n - 128),
                low: self.low,
            }
        } else {
            Self {
                high: 0,
                low: self.low & mask(n),
            }
        }
    }

    fn bit(self, i: u32) -> bool {
        self.shr(i).low & 1 == 1
    }

    fn xor(self, other: Self) -> Self {
        Self {
            high: self.high ^ other.high,
            low: self.low ^ other.low,
        }
    }

    fn bit_len(self) -> u32 {
        if self.high != 0 {
            256 - self.high.leading_zeros()
        } else {
            128 - self.low.leading_zeros()
        }
    }
}

/// `x = high * 2^128 + low`, as the program reads bounded numbers.
fn split(x: Felt) -> [Felt; 2] {
    let word = Word::from_felt(&x);
    [Felt::from(word.high), Felt::from(word.low)]
}

impl RangeInput {
    /// The program input (`docs/sequencer.md`, "Block program input").
    pub fn to_felts(&self) -> Vec<Felt> {
        let mut felts = vec![
            Felt::from(PROGRAM_INPUT_VERSION),
            Felt::from(self.block_number),
            self.parent_hash,
            Felt::from(self.timestamp),
            Felt::from(self.tx_count),
            Felt::from(self.tx_start),
            self.tx_commitment_start,
            self.previous_contracts_root,
            Felt::from(self.accounts.len()),
        ];
        for entry in &self.accounts {
            let s = &entry.state;
            let [high, low] = split(entry.address);
            felts.extend([
                entry.address,
                high,
                low,
                s.class_hash,
                s.public_key,
                Felt::from(s.balance),
                Felt::from(s.nonce),
            ]);
        }
        felts.push(Felt::from(self.transactions.len()));
        for tx in &self.transactions {
            let status = Felt::from(tx.outcome.code());
            let prev = |i: usize| Felt::from(tx.previous_versions.get(i).copied().unwrap_or(0));
            let kind = Felt::from(tx.transaction.kind());
            match &tx.transaction {
                Transaction::DeployAccount(t) => felts.extend([
                    kind,
                    t.public_key,
                    t.signature.r,
                    t.signature.s,
                    Felt::from(u8::from(tx.address_wrapped)),
                    prev(0),
                ]),
                Transaction::Transfer(t) => felts.extend([
                    kind,
                    t.sender,
                    Felt::from(t.nonce),
                    t.recipient,
                    Felt::from(t.amount),
                    t.signature.r,
                    t.signature.s,
                    status,
                    prev(0),
                    prev(1),
                ]),
                Transaction::Withdraw(t) => felts.extend([
                    kind,
                    t.sender,
                    Felt::from(t.nonce),
                    t.l1_recipient,
                    Felt::from(t.amount),
                    t.signature.r,
                    t.signature.s,
                    status,
                    prev(0),
                ]),
                Transaction::Deposit(t) => felts.extend([
                    kind,
                    t.l1_sender,
                    t.recipient,
                    Felt::from(t.amount),
                    Felt::from(t.l1_nonce),
                    status,
                    prev(0),
                ]),
            }
        }
        for proof in &self.proofs {
            felts.push(Felt::from(proof.final_version));
            felts.push(Felt::from(proof.steps.len()));
            // Bottom-up: the program climbs from the leaf (or the edge the key leaves).
            for step in proof.steps.iter().rev() {
                match *step {
                    ProofStep::Binary { left, right, bit } => {
                        let sibling = if bit { left } else { right };
                        felts.extend([Felt::from(u8::from(bit)), sibling]);
                    }
                    ProofStep::Edge { path, length, .. } => {
                        felts.extend([Felt::TWO, path, Felt::from(length)]);
                    }
                    ProofStep::EdgeLeaves {
                        child,
                        path,
                        length,
                        common,
                        bit,
                        new_length,
                        common_path,
                        old_rest,
                        new_rest,
                    } => {
                        felts.extend([
                            Felt::THREE,
                            child,
                            path,
                            Felt::from(length),
                            Felt::from(common),
                            Felt::from(u8::from(bit)),
                            Felt::from(new_length),
                        ]);
                        felts.extend(split(common_path));
                        felts.extend(split(old_rest));
                        felts.extend(split(new_rest));
                    }
                }
            }
        }
        felts
    }

    /// The output the program must give on this input, from native execution.
    pub fn expected_output(&self) -> BlockOutput {
        let new_state_root = global_root(self.new_contracts_root);
        let block_hash = if self.tx_end == self.tx_count {
            block_hash(
                self.block_number,
                self.parent_hash,
                self.timestamp,
                new_state_root,
                self.tx_count,
                self.tx_commitment_end,
            )
        } else {
            Felt::ZERO
        };
        BlockOutput {
            previous_state_root: global_root(self.previous_contracts_root),
            new_state_root,
            block_number: self.block_number,
            parent_hash: self.parent_hash,
            block_hash,
            timestamp: self.timestamp,
            tx_start: self.tx_start,
            tx_end: self.tx_end,
            tx_count: self.tx_count,
            tx_commitment_start: self.tx_commitment_start,
            tx_commitment_end: self.tx_commitment_end,
            messages_to_l1: self
                .receipts
                .iter()
                .flat_map(|r| r.messages_sent.clone())
                .collect(),
            messages_to_l2: self
                .receipts
                .iter()
                .filter_map(|r| r.message_consumed.clone())
                .collect(),
        }
    }
}

impl BlockOutput {
    /// The output as felts, as the program writes it.
    pub fn to_felts(&self) -> Vec<Felt> {
        let mut felts = vec![
            self.previous_state_root,
            self.new_state_root,
            Felt::from(self.block_number),
            self.parent_hash,
            self.block_hash,
            Felt::from(self.timestamp),
            Felt::from(self.tx_start),
            Felt::from(self.tx_end),
            Felt::from(self.tx_count),
            self.tx_commitment_start,
            self.tx_commitment_end,
        ];
        let mut l1 = Vec::new();
        for m in &self.messages_to_l1 {
            l1.extend([m.from_address, m.to_address, Felt::from(m.payload.len())]);
            l1.extend(m.payload.iter().copied());
        }
        felts.push(Felt::from(l1.len()));
        felts.extend(l1);
        let mut l2 = Vec::new();
        for m in &self.messages_to_l2 {
            l2.extend([
                m.from_address,
                m.to_address,
                Felt::from(m.nonce),
                m.selector,
                Felt::from(m.payload.len()),
            ]);
            l2.extend(m.payload.iter().copied());
        }
        felts.push(Felt::from(l2.len()));
        felts.extend(l2);
        felts
    }

    /// Parses the program's output (for example a proof artifact's), refusing any felt more
    /// or less than the layout has.
    pub fn from_felts(felts: &[Felt]) -> Result<Self, OutputError> {
        let mut reader = Reader { felts, at: 0 };
        let previous_state_root = reader.felt("previous state root")?;
        let new_state_root = reader.felt("new state root")?;
        let block_number = reader.u64("block number")?;
        let parent_hash = reader.felt("parent hash")?;
        let block_hash = reader.felt("block hash")?;
        let timestamp = reader.u64("timestamp")?;
        let tx_start = reader.u64("tx_start")?;
        let tx_end = reader.u64("tx_end")?;
        let tx_count = reader.u64("tx_count")?;
        let tx_commitment_start = reader.felt("tx commitment before tx_start")?;
        let tx_commitment_end = reader.felt("tx commitment after tx_end")?;

        let segment = "messages-to-L1";
        let mut l1 = reader.segment(segment)?;
        let mut messages_to_l1 = Vec::new();
        while !l1.done() {
            let from_address = l1.felt("message sender")?;
            let to_address = l1.felt("message recipient")?;
            let payload = l1.payload()?;
            messages_to_l1.push(MessageToL1 {
                from_address,
                to_address,
                payload,
            });
        }

        let segment = "messages-to-L2";
        let mut l2 = reader.segment(segment)?;
        let mut messages_to_l2 = Vec::new();
        while !l2.done() {
            let from_address = l2.felt("message sender")?;
            let to_address = l2.felt("message recipient")?;
            let nonce = l2.u64("message nonce")?;
            let selector = l2.felt("message selector")?;
            let payload = l2.payload()?;
            messages_to_l2.push(MessageToL2 {
                from_address,
                to_address,
                nonce,
                selector,
                payload,
            });
        }
        if !reader.done() {
            return Err(OutputError::Trailing(felts.len() - reader.at));
        }
        Ok(Self {
            previous_state_root,
            new_state_root,
            block_number,
            parent_hash,
            block_hash,
            timestamp,
            tx_start,
            tx_end,
            tx_count,
            tx_commitment_start,
            tx_commitment_end,
            messages_to_l1,
            messages_to_l2,
        })
    }
}

/// Reads felts in order; inside a segment, running out names the segment.
struct Reader<'a> {
    felts: &'a [Felt],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at == self.felts.len()
    }

    fn felt(&mut self, what: &'static str) -> Result<Felt, OutputError> {
        let felt = *self
            .felts
            .get(self.at)
            .ok_or(OutputError::Truncated(what))?;
        self.at += 1;
        Ok(felt)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, OutputError> {
        let value = self.felt(field)?;
        u64::try_from(value).map_err(|_| OutputError::NotU64 { field, value })
    }

    /// A size-prefixed segment, as a reader of its own.
    fn segment(&mut self, segment: &'static str) -> Result<Reader<'a>, OutputError> {
        let size = self.felt(segment)?;
        let size = u64::try_from(size)
            .ok()
            .and_then(|s| usize::try_from(s).ok())
            .filter(|s| *s <= self.felts.len() - self.at)
            .ok_or_else(|| OutputError::Segment {
                segment,
                reason: format!("size {size:#x} exceeds the output"),
            })?;
        let felts = &self.felts[self.at..self.at + size];
        self.at += size;
        Ok(Reader { felts, at: 0 })
    }

    fn payload(&mut self) -> Result<Vec<Felt>, OutputError> {
        let size = self.u64("message payload size")?;
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= self.felts.len() - self.at)
            .ok_or(OutputError::Truncated("message payload"))?;
        let payload = self.felts[self.at..self.at + size].to_vec();
        self.at += size;
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::deposit_selector;

    #[test]
    fn words_shift_mask_and_round_trip() {
        let x = Felt::from_hex("0x7f0123456789abcdeff0123456789abcdeff0123456789abcdeff0123456789")
            .expect("hex");
        let w = Word::from_felt(&x);
        assert_eq!(w.to_felt(), x);
        assert_eq!(w.bit_len(), 251);
        assert_eq!(w.shr(250).to_felt(), Felt::ONE);
        assert_eq!(
            w.shr(4).to_felt(),
            x.floor_div(&Felt::from(16u8).try_into().expect("nonzero"))
        );
        assert_eq!(w.low(8).to_felt(), Felt::from(0x89u8));
        assert_eq!(
            w.low(130).shr(128).to_felt(),
            Felt::from((w.high & 3) as u8)
        );
        let [high, low] = split(x);
        assert_eq!(high * Felt::from(2u8).pow(128u32) + low, x);
    }

    #[test]
    fn output_round_trips_and_refuses_bad_sizes() {
        let output = BlockOutput {
            previous_state_root: Felt::from(1u8),
            new_state_root: Felt::from(2u8),
            block_number: 3,
            parent_hash: Felt::from(4u8),
            block_hash: Felt::ZERO,
            timestamp: 5,
            tx_start: 0,
            tx_end: 2,
            tx_count: 4,
            tx_commitment_start: Felt::ZERO,
            tx_commitment_end: Felt::from(6u8),
            messages_to_l1: vec![MessageToL1 {
                from_address: Felt::from(7u8),
                to_address: Felt::from(8u8),
                payload: vec![Felt::from(9u8)],
            }],
            messages_to_l2: vec![MessageToL2 {
                from_address: Felt::from(10u8),
                to_address: Felt::from(11u8),
                nonce: 12,
                selector: deposit_selector(),
                payload: vec![Felt::from(13u8)],
            }],
        };
        let felts = output.to_felts();
        assert_eq!(felts.len(), OUTPUT_HEADER_LEN + 1 + 4 + 1 + 6);
        assert_eq!(BlockOutput::from_felts(&felts), Ok(output));
        assert!(matches!(
            BlockOutput::from_felts(&felts[..felts.len() - 1]),
            Err(OutputError::Segment { .. })
        ));
        let mut longer = felts.clone();
        longer.push(Felt::ZERO);
        assert_eq!(
            BlockOutput::from_felts(&longer),
            Err(OutputError::Trailing(1))
        );
        assert_eq!(
            BlockOutput::from_felts(&felts[..5]),
            Err(OutputError::Truncated("timestamp"))
        );
    }
}
