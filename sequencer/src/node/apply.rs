//! Verifying and committing one published block, per mode. Every check compares what the
//! node computed with what was published; any difference refuses the block before anything
//! is written, so the database only ever holds verified blocks.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use starknet_types_core::felt::Felt;

use super::{Mode, Node, Published, Settled};
use crate::block::{Block, BlockHeader};
use crate::ecdsa::{verify_many, SignatureCheck, VerifyingKey};
use crate::hash::address_upper_bound;
use crate::publish::BlockManifest;
use crate::seal::{self, execute_block, BlockPosition, ExecuteError};
use crate::store::StoreError;
use crate::trie::TrieError;
use crate::tx::Transaction;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The published block is not what the node computes: refuse it.
    #[error("{0}")]
    Mismatch(String),
    /// The node's own storage failed: retry later, nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("trie: {0}")]
    Trie(#[from] TrieError),
}

fn mismatch(reason: impl Into<String>) -> ApplyError {
    ApplyError::Mismatch(reason.into())
}

/// Compares one field; the reason names it with both values.
fn same<T: PartialEq + fmt::LowerHex>(
    what: &str,
    computed: T,
    published: T,
) -> Result<(), ApplyError> {
    if computed == published {
        return Ok(());
    }
    Err(mismatch(format!(
        "{what}: computed {computed:#x}, published {published:#x}"
    )))
}

impl Node {
    /// Verifies block `expected` (the next one) and commits it; its header.
    pub fn apply(&self, published: &Published) -> Result<BlockHeader, ApplyError> {
        let started = Instant::now();
        let latest = self.latest();
        let block = &published.block;
        let position = BlockPosition::after(latest.as_ref(), block.header.timestamp);
        check_envelope(published, &position)?;
        let nodes = self.store.nodes()?;
        let mut sealed = match self.mode {
            Mode::Replay => {
                let executed = execute_block(
                    &self.store,
                    latest.as_ref().map(|h| h.number),
                    block.transactions.clone(),
                )
                .map_err(|e| match e {
                    ExecuteError::Store(e) => ApplyError::Store(e),
                    invalid => mismatch(invalid.to_string()),
                })?;
                self.check_signatures(&block.transactions, &executed.after)?;
                seal::seal(&nodes, position, executed)?
            }
            Mode::L2 | Mode::L1 => {
                self.check_diff_before(block, latest.as_ref())?;
                check_tx_hashes(block)?;
                seal::seal_diff(
                    &nodes,
                    position,
                    block.transactions.clone(),
                    block.receipts.clone(),
                    block.state_diff.clone(),
                )?
            }
        };
        drop(nodes);
        if self.mode == Mode::L1 {
            check_settled(&sealed.block.header, published.settled.as_ref())?;
        }
        compare(&sealed.block, block)?;
        self.store.commit_block(sealed.commit())?;
        self.metrics
            .observe_block(block.transactions.len(), started.elapsed());
        self.set_latest(sealed.block.header.clone());
        Ok(sealed.block.header)
    }

    /// l2, l1: the diff's `before` states must be the node's states, addresses sorted and
    /// unique, and every entry must change its account (otherwise the diff does not describe
    /// a transition from this state, or not the only one that reaches its root: see
    /// docs/node.md, "Why the root binds the diff").
    fn check_diff_before(
        &self,
        block: &Block,
        latest: Option<&BlockHeader>,
    ) -> Result<(), ApplyError> {
        let mut previous: Option<Felt> = None;
        for diff in &block.state_diff.accounts {
            if previous.is_some_and(|p| p >= diff.address) {
                return Err(mismatch(format!(
                    "state diff: addresses not strictly increasing at {:#x}",
                    diff.address
                )));
            }
            previous = Some(diff.address);
            // Else the trie fails on it, which would read as the node's own trouble.
            if diff.address == Felt::ZERO || diff.address >= address_upper_bound() {
                return Err(mismatch(format!(
                    "state diff: {:#x} is not an L2 address (non-zero, below 2^251 - 256)",
                    diff.address
                )));
            }
            if diff.before == diff.after {
                return Err(mismatch(format!(
                    "state diff: account {:#x} is listed but unchanged",
                    diff.address
                )));
            }
            let current = match latest {
                Some(h) => self.store.account(&diff.address, h.number)?,
                None => Default::default(),
            };
            if current != diff.before {
                return Err(mismatch(format!(
                    "state diff: account {:#x} is {current:?} here, the diff says it was {:?}",
                    diff.address, diff.before
                )));
            }
        }
        Ok(())
    }

    /// replay: every signed transaction is signed by its account's key (admission checked it
    /// on the sequencer; a node trusts nothing it can recompute). Keys never change after
    /// deployment, so the block's final states hold the signing keys.
    fn check_signatures(
        &self,
        transactions: &[Transaction],
        after: &std::collections::BTreeMap<Felt, crate::state::AccountState>,
    ) -> Result<(), ApplyError> {
        let mut keys: Vec<(usize, Felt, Arc<VerifyingKey>)> = Vec::new();
        for (index, tx) in transactions.iter().enumerate() {
            let Some(signature) = tx.signature() else {
                continue;
            };
            // The block program refuses high s (docs/sequencer.md, "Malleability").
            if !signature.is_canonical() {
                return Err(mismatch(format!(
                    "transaction {index}: signature not in low-s form"
                )));
            }
            let public_key = match tx {
                Transaction::DeployAccount(d) => d.public_key,
                _ => tx
                    .sender()
                    .and_then(|a| after.get(&a))
                    .map_or(Felt::ZERO, |a| a.public_key),
            };
            let key = self
                .verifying_key(public_key)
                .ok_or_else(|| mismatch(format!("transaction {index}: invalid public key")))?;
            keys.push((index, tx.hash(), key));
        }
        let checks: Vec<SignatureCheck<'_>> = keys
            .iter()
            .filter_map(|(index, hash, key)| {
                let signature = transactions.get(*index)?.signature()?;
                Some(SignatureCheck {
                    key,
                    hash: *hash,
                    r: signature.r,
                    s: signature.s,
                })
            })
            .collect();
        let valid = verify_many(&checks);
        match valid.iter().position(|ok| !ok) {
            Some(i) => Err(mismatch(format!(
                "transaction {} ({:#x}): invalid signature",
                keys[i].0, keys[i].1
            ))),
            None => Ok(()),
        }
    }
}

/// The manifest (if any) agrees with the block, and the block follows the node's latest block.
fn check_envelope(published: &Published, position: &BlockPosition) -> Result<(), ApplyError> {
    let h = &published.block.header;
    same(
        "block number",
        Felt::from(position.number),
        Felt::from(h.number),
    )?;
    if let Some(m) = &published.manifest {
        check_manifest(m, h)?;
    }
    same("parent hash", position.parent_hash, h.parent_hash)?;
    let block = &published.block;
    if block.transactions.len() != block.receipts.len() {
        return Err(mismatch(format!(
            "{} transactions but {} receipts",
            block.transactions.len(),
            block.receipts.len()
        )));
    }
    Ok(())
}

fn check_manifest(m: &BlockManifest, h: &BlockHeader) -> Result<(), ApplyError> {
    same(
        "manifest block number",
        Felt::from(h.number),
        Felt::from(m.number),
    )?;
    same("manifest block hash", h.block_hash, m.block_hash)?;
    same("manifest parent hash", h.parent_hash, m.parent_hash)?;
    same("manifest state root", h.state_root, m.state_root)?;
    same(
        "manifest tx count",
        Felt::from(h.tx_count),
        Felt::from(m.tx_count),
    )
}

/// l1: the computed block is the one L1 settled (its global root and its block hash, which
/// commits to the whole header).
fn check_settled(computed: &BlockHeader, settled: Option<&Settled>) -> Result<(), ApplyError> {
    let Some(settled) = settled else {
        return Err(mismatch(format!(
            "block {} is not settled on L1",
            computed.number
        )));
    };
    same(
        "block number settled on L1",
        Felt::from(computed.number),
        Felt::from(settled.number),
    )?;
    same(
        "state root settled on L1",
        computed.state_root,
        settled.state_root,
    )?;
    same(
        "block hash settled on L1",
        computed.block_hash,
        settled.block_hash,
    )
}

/// l2: receipts name their transactions' hashes (the commitment is computed over them), and
/// no transaction appears twice.
fn check_tx_hashes(block: &Block) -> Result<(), ApplyError> {
    let mut seen = HashSet::new();
    for (index, (tx, receipt)) in block.transactions.iter().zip(&block.receipts).enumerate() {
        let hash = tx.hash();
        same(
            &format!("transaction {index} hash"),
            hash,
            receipt.transaction_hash,
        )?;
        if !seen.insert(hash) {
            return Err(mismatch(format!("transaction {hash:#x} appears twice")));
        }
    }
    Ok(())
}

/// The computed block against the published one, field by field so that the refusal says
/// what differs (roots first: the alert operators look for).
fn compare(computed: &Block, published: &Block) -> Result<(), ApplyError> {
    let (c, p) = (&computed.header, &published.header);
    same("state root", c.state_root, p.state_root)?;
    same("contracts root", c.contracts_root, p.contracts_root)?;
    same("tx commitment", c.tx_commitment, p.tx_commitment)?;
    same("tx count", Felt::from(c.tx_count), Felt::from(p.tx_count))?;
    same("block hash", c.block_hash, p.block_hash)?;
    if computed.receipts != published.receipts {
        let index = computed
            .receipts
            .iter()
            .zip(&published.receipts)
            .position(|(a, b)| a != b)
            .unwrap_or(computed.receipts.len());
        return Err(mismatch(format!("receipt {index} differs")));
    }
    if computed.state_diff != published.state_diff {
        return Err(mismatch("state diff differs from the re-executed one"));
    }
    if computed != published {
        return Err(mismatch("block differs (format version or header)"));
    }
    Ok(())
}
