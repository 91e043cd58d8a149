//! A range's program input from a block's published input: the native replay on the partial
//! trie of the multiproof, which checks the published states, and the hints the program
//! checks instead of searching (outcomes, account versions, wrapped addresses, proofs).

use std::collections::{BTreeMap, BTreeSet};

use starknet_types_core::felt::Felt;

use super::input::{
    AccountEntry, AccountProof, BlockProverInput, Outcome, ProgramInputError, RangeInput, RangeTx,
    BLOCK_PROVER_INPUT_VERSION,
};
use super::proof_steps::{proof_steps, shared_steps};
use crate::block::chain_commitment;
use crate::execute::{apply, touched, ExecutionStatus};
use crate::hash::{address_upper_bound, h_many, short_string, ADDRESS_PREFIX};
use crate::state::AccountState;
use crate::trie::{MemoryNodes, Trie, TrieError};
use crate::tx::Transaction;

impl BlockProverInput {
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

        // Pass 2 of layout 3: the present accounts' union of paths against the start root,
        // then each absent account's proof against the root left before it.
        let finals: Vec<(Felt, Felt)> = accounts
            .iter()
            .map(|entry| (entry.address, states[&entry.address].leaf()))
            .collect();
        let (present, absent): (Vec<usize>, Vec<usize>) =
            (0..accounts.len()).partition(|&slot| accounts[slot].state.leaf() != Felt::ZERO);
        let mut shared_trie = Trie::new(trie.store().clone(), trie.root());
        let present_addresses: Vec<Felt> =
            present.iter().map(|&slot| accounts[slot].address).collect();
        let present_proofs = present_addresses
            .iter()
            .map(|&address| shared_trie.proof(address))
            .collect::<Result<Vec<_>, _>>()?;
        let shared = shared_steps(&present_addresses, &present_proofs)?;
        let present_finals: Vec<(Felt, Felt)> = present.iter().map(|&slot| finals[slot]).collect();
        shared_trie.update(&present_finals)?;
        let mut insertions = Vec::with_capacity(absent.len());
        for &slot in &absent {
            let (address, leaf) = finals[slot];
            let nodes = shared_trie.proof(address)?;
            insertions.push(proof_steps(address, &nodes)?);
            shared_trie.update(&[(address, leaf)])?;
        }

        // Pass 2 of layout 1 (the anchor): each account's proof against the root its
        // predecessors left.
        let mut proofs = Vec::with_capacity(accounts.len());
        for (slot, entry) in accounts.iter().enumerate() {
            let nodes = trie.proof(entry.address)?;
            let steps = proof_steps(entry.address, &nodes)?;
            trie.update(&[finals[slot]])?;
            proofs.push(AccountProof {
                final_version: current[slot],
                steps,
            });
        }
        // Both orders of updates give the one trie of the final leaves.
        if shared_trie.root() != trie.root() {
            return Err(ProgramInputError::Trie(TrieError::BadProof {
                key: Felt::ZERO,
                reason: "the shared update and the one-by-one update disagree".to_string(),
            }));
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
            shared,
            insertions,
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
