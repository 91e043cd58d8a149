//! The mempool: admitted transactions waiting for a block. Transactions whose nonce is the
//! account's next one are "ready" and wait in one queue in admission order (so per-account
//! nonce order holds); a transaction with a future nonce is held, up to a bounded gap, until
//! the missing ones arrive. Deposits carry no nonce and are always ready.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use starknet_types_core::felt::Felt;

use crate::chain::AdmissionError;
use crate::tx::Transaction;

/// An admitted transaction.
#[derive(Clone, Debug)]
pub struct Entry {
    pub tx: Transaction,
    pub hash: Felt,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most transactions held (ready + future).
    pub capacity: usize,
    /// How far ahead of the account's next nonce a transaction may be.
    pub max_nonce_gap: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            capacity: 100_000,
            max_nonce_gap: 64,
        }
    }
}

#[derive(Default)]
pub struct Mempool {
    limits: Limits,
    ready: VecDeque<Entry>,
    future: HashMap<Felt, BTreeMap<u64, Entry>>,
    /// Next nonce per account, counting admitted ready transactions.
    next_nonce: HashMap<Felt, u64>,
    hashes: HashSet<Felt>,
    held: usize,
    /// Amounts admitted but not yet executed, per account: (incoming, outgoing).
    flows: HashMap<Felt, (u128, u128)>,
}

impl Mempool {
    pub fn new(limits: Limits) -> Self {
        Mempool {
            limits,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.ready.len() + self.held
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, hash: &Felt) -> bool {
        self.hashes.contains(hash)
    }

    /// The nonce the account's next transaction must have, given `state_nonce` (the nonce
    /// in the executed state) and what is already admitted.
    pub fn next_nonce(&self, account: &Felt, state_nonce: u64) -> u64 {
        self.next_nonce
            .get(account)
            .copied()
            .unwrap_or(state_nonce)
            .max(state_nonce)
    }

    /// Checks that `tx` may be admitted, without admitting it.
    pub fn check(
        &self,
        tx: &Transaction,
        hash: Felt,
        state_nonce: u64,
    ) -> Result<(), AdmissionError> {
        if self.hashes.contains(&hash) {
            return Err(AdmissionError::Duplicate(hash));
        }
        if self.len() >= self.limits.capacity {
            return Err(AdmissionError::MempoolFull(self.limits.capacity));
        }
        let (Some(account), Some(nonce)) = (tx.sender(), tx.nonce()) else {
            return Ok(());
        };
        let expected = self.next_nonce(&account, state_nonce);
        if nonce < expected {
            return Err(AdmissionError::NonceTooOld {
                expected,
                got: nonce,
            });
        }
        if nonce - expected > self.limits.max_nonce_gap {
            return Err(AdmissionError::NonceTooFar {
                expected,
                got: nonce,
                limit: self.limits.max_nonce_gap,
            });
        }
        Ok(())
    }

    /// The balance an account will have once everything admitted has run, assuming it all
    /// succeeds: what admission checks a new debit against.
    pub fn projected_balance(&self, account: &Felt, balance: u128) -> u128 {
        let (credit, debit) = self.flows.get(account).copied().unwrap_or_default();
        balance.saturating_add(credit).saturating_sub(debit)
    }

    fn track_flows(&mut self, tx: &Transaction, sign: bool) {
        let mut add = |account: Felt, amount: u128, incoming: bool| {
            let flow = self.flows.entry(account).or_default();
            let side = if incoming { &mut flow.0 } else { &mut flow.1 };
            *side = if sign {
                side.saturating_add(amount)
            } else {
                side.saturating_sub(amount)
            };
            if *flow == (0, 0) {
                self.flows.remove(&account);
            }
        };
        match tx {
            Transaction::Transfer(t) => {
                add(t.sender, t.amount, false);
                add(t.recipient, t.amount, true);
            }
            Transaction::Withdraw(t) => add(t.sender, t.amount, false),
            Transaction::Deposit(t) => add(t.recipient, t.amount, true),
            Transaction::DeployAccount(_) => {}
        }
    }

    /// Admits a checked transaction.
    pub fn insert(&mut self, entry: Entry, state_nonce: u64) {
        self.hashes.insert(entry.hash);
        self.track_flows(&entry.tx, true);
        let (Some(account), Some(nonce)) = (entry.tx.sender(), entry.tx.nonce()) else {
            self.ready.push_back(entry);
            return;
        };
        let expected = self.next_nonce(&account, state_nonce);
        if nonce != expected {
            self.future.entry(account).or_default().insert(nonce, entry);
            self.held += 1;
            return;
        }
        self.ready.push_back(entry);
        let mut next = expected + 1;
        // The arrival may close a gap: promote the held transactions that now follow.
        if let Some(held) = self.future.get_mut(&account) {
            while let Some(entry) = held.remove(&next) {
                self.ready.push_back(entry);
                self.held -= 1;
                next += 1;
            }
            if held.is_empty() {
                self.future.remove(&account);
            }
        }
        self.next_nonce.insert(account, next);
    }

    /// Removes up to `max` ready transactions, oldest first.
    pub fn take_ready(&mut self, max: usize) -> Vec<Entry> {
        let n = max.min(self.ready.len());
        let taken: Vec<Entry> = self.ready.drain(..n).collect();
        for entry in &taken {
            self.hashes.remove(&entry.hash);
            self.track_flows(&entry.tx, false);
        }
        taken
    }

    pub fn find(&self, hash: &Felt) -> Option<&Transaction> {
        if !self.hashes.contains(hash) {
            return None;
        }
        self.ready
            .iter()
            .chain(self.future.values().flat_map(|m| m.values()))
            .find(|e| e.hash == *hash)
            .map(|e| &e.tx)
    }

    /// Drops transactions whose admission could not be logged.
    pub fn remove(&mut self, hashes: &HashSet<Felt>) {
        self.ready.retain(|e| !hashes.contains(&e.hash));
        let mut held = 0;
        for queue in self.future.values_mut() {
            queue.retain(|_, e| !hashes.contains(&e.hash));
            held += queue.len();
        }
        self.future.retain(|_, q| !q.is_empty());
        self.held = held;
        self.hashes.retain(|h| !hashes.contains(h));
        self.flows.clear();
        let kept: Vec<Transaction> = self
            .ready
            .iter()
            .chain(self.future.values().flat_map(|q| q.values()))
            .map(|e| e.tx.clone())
            .collect();
        for tx in &kept {
            self.track_flows(tx, true);
        }
        // Recompute next nonces from what is still ready.
        self.next_nonce.clear();
        for entry in &self.ready {
            if let (Some(account), Some(nonce)) = (entry.tx.sender(), entry.tx.nonce()) {
                self.next_nonce.insert(account, nonce + 1);
            }
        }
    }

    /// Forgets the admitted-nonce count of accounts with nothing left queued, so
    /// `next_nonce` falls back to the executed state.
    pub fn forget_idle(&mut self) {
        if self.ready.is_empty() {
            let future = &self.future;
            self.next_nonce
                .retain(|account, _| future.contains_key(account));
        }
    }
}
