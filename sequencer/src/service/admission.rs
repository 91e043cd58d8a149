//! Admission: format and signature checks outside the lock, then state checks (duplicate,
//! nonce, balance, deployment) and one fsync'd log write per group of requests before the
//! acknowledgement; the log is re-admitted at start. Implements `TxSubmitter`.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use starknet_types_core::felt::Felt;
use tokio::sync::{mpsc, oneshot};

use super::sequencer::{Admit, Chain, Sequencer};
use crate::block::BlockHeader;
use crate::chain::{AdmissionError, BoxFuture, TxSubmitter};
use crate::ecdsa::VerifyingKey;
use crate::mempool::Entry;
use crate::store::StoreError;
use crate::tx::Transaction;

impl Sequencer {
    /// Re-admits the logged transactions (acknowledged before a stop or crash).
    pub(super) fn restore_log(&self) -> Result<(), StoreError> {
        let logged = self.store.logged_transactions()?;
        let mut stale = Vec::new();
        let mut chain = self.lock();
        let mut last = None;
        for (number, tx) in logged {
            last = Some(number);
            let hash = tx.hash();
            if self.store.transaction(&hash)?.is_some() {
                stale.push(hash);
                continue;
            }
            if let Transaction::DeployAccount(d) = &tx {
                self.remember_key(tx.sender().unwrap_or_default(), d.public_key);
            }
            let state_nonce = self.state_nonce(&chain, &tx)?;
            match chain.mempool.check(&tx, hash, state_nonce) {
                Ok(()) => chain.mempool.insert(Entry { tx, hash }, state_nonce),
                Err(e) => tracing::error!("logged transaction {hash:#x} no longer admissible: {e}"),
            }
        }
        drop(chain);
        self.next_log_number
            .store(last.map_or(0, |n| n + 1), Ordering::SeqCst);
        if !stale.is_empty() {
            self.store.unlog(&stale)?;
        }
        self.metrics
            .mempool_depth
            .set(self.lock().mempool.len() as i64);
        Ok(())
    }

    fn remember_key(&self, address: Felt, public_key: Felt) -> Option<Arc<VerifyingKey>> {
        let key = Arc::new(VerifyingKey::from_public_key(public_key).ok()?);
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(address, Arc::clone(&key));
        Some(key)
    }

    /// The verifying key of a transaction's signer.
    fn signer_key(&self, tx: &Transaction) -> Result<Arc<VerifyingKey>, AdmissionError> {
        let storage = |e: StoreError| AdmissionError::Storage(e.to_string());
        if let Transaction::DeployAccount(d) = tx {
            return VerifyingKey::from_public_key(d.public_key)
                .map(Arc::new)
                .map_err(|_| AdmissionError::Format(crate::tx::FormatError::PublicKey));
        }
        let Some(address) = tx.sender() else {
            return Err(AdmissionError::DepositNotAllowed);
        };
        if let Some(key) = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&address)
        {
            return Ok(Arc::clone(key));
        }
        let account = {
            let chain = self.lock();
            self.current_account(&chain, &address).map_err(storage)?
        };
        if !account.is_deployed() {
            return Err(AdmissionError::NotDeployed(address));
        }
        self.remember_key(address, account.public_key)
            .ok_or(AdmissionError::Signature)
    }

    async fn admit(&self, tx: Transaction) -> Result<Felt, AdmissionError> {
        tx.check_format()?;
        let hash = tx.hash();
        if tx.signature().is_some() {
            let key = self.signer_key(&tx)?;
            let sig = *tx.signature().ok_or(AdmissionError::Signature)?;
            let valid = tokio::task::spawn_blocking(move || key.verify(hash, sig.r, sig.s))
                .await
                .map_err(|_| AdmissionError::ShuttingDown)?;
            if !valid {
                self.metrics.rejected.inc();
                return Err(AdmissionError::Signature);
            }
        }
        // (r, s) and (r, n − s) both verify; the block program accepts only the low-s one, so
        // that is the one the block records (wallets such as starknet.js sign with either).
        let tx = tx.with_canonical_signature();
        let (done, answer) = oneshot::channel();
        self.admit
            .send(Admit { tx, hash, done })
            .await
            .map_err(|_| AdmissionError::ShuttingDown)?;
        let result = answer.await.map_err(|_| AdmissionError::ShuttingDown)?;
        match &result {
            Ok(_) => self.metrics.received.inc(),
            Err(_) => self.metrics.rejected.inc(),
        }
        result
    }

    /// State checks for one transaction under the chain lock.
    fn check_state(
        &self,
        chain: &Chain,
        tx: &Transaction,
        hash: Felt,
    ) -> Result<u64, AdmissionError> {
        let storage = |e: StoreError| AdmissionError::Storage(e.to_string());
        if chain.pre.hashes.contains(&hash)
            || self.store.transaction(&hash).map_err(storage)?.is_some()
        {
            return Err(AdmissionError::Duplicate(hash));
        }
        let state_nonce = self.state_nonce(chain, tx).map_err(storage)?;
        chain.mempool.check(tx, hash, state_nonce)?;
        match tx {
            Transaction::DeployAccount(_) => {
                let address = tx.sender().unwrap_or_default();
                if self
                    .current_account(chain, &address)
                    .map_err(storage)?
                    .is_deployed()
                {
                    return Err(AdmissionError::AlreadyDeployed(address));
                }
            }
            Transaction::Transfer(t) => self.check_balance(chain, t.sender, t.amount)?,
            Transaction::Withdraw(t) => self.check_balance(chain, t.sender, t.amount)?,
            Transaction::Deposit(_) => {}
        }
        Ok(state_nonce)
    }

    fn check_balance(
        &self,
        chain: &Chain,
        sender: Felt,
        amount: u128,
    ) -> Result<(), AdmissionError> {
        let account = self
            .current_account(chain, &sender)
            .map_err(|e| AdmissionError::Storage(e.to_string()))?;
        if !account.is_deployed()
            && !self
                .keys
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&sender)
        {
            return Err(AdmissionError::NotDeployed(sender));
        }
        // Checked against what the account will hold once everything admitted before has
        // run (deposits and transfers to it included); if that does not materialise, the
        // transaction is REVERTED when it runs (its nonce is used).
        let projected = chain.mempool.projected_balance(&sender, account.balance);
        if amount > projected {
            return Err(AdmissionError::Balance {
                balance: projected,
                amount,
            });
        }
        Ok(())
    }

    /// Group commit: admits every queued request under one lock and one fsync.
    pub(super) async fn run_writer(self: Arc<Self>, mut rx: mpsc::Receiver<Admit>) {
        loop {
            let first = tokio::select! {
                a = rx.recv() => match a {
                    Some(a) => a,
                    None => return,
                },
                _ = self.stopped() => return,
            };
            let mut batch = vec![first];
            while batch.len() < 1024 {
                match rx.try_recv() {
                    Ok(a) => batch.push(a),
                    Err(_) => break,
                }
            }
            let this = Arc::clone(&self);
            let done = tokio::task::spawn_blocking(move || this.admit_batch(batch)).await;
            if done.is_err() {
                tracing::error!("admission batch panicked");
            }
        }
    }

    fn admit_batch(&self, batch: Vec<Admit>) {
        if let Err(refusal) = self.disk.check(&self.metrics) {
            self.metrics.disk_refusals.inc_by(batch.len() as u64);
            for admit in batch {
                let _ = admit.done.send(Err(refusal.clone()));
            }
            return;
        }
        let mut chain = self.lock();
        let mut accepted = Vec::new();
        for admit in batch {
            match self.check_state(&chain, &admit.tx, admit.hash) {
                Ok(state_nonce) => {
                    chain.mempool.insert(
                        Entry {
                            tx: admit.tx.clone(),
                            hash: admit.hash,
                        },
                        state_nonce,
                    );
                    accepted.push(admit);
                }
                Err(e) => {
                    let _ = admit.done.send(Err(e));
                }
            }
        }
        if accepted.is_empty() {
            return;
        }
        let first = self
            .next_log_number
            .fetch_add(accepted.len() as u64, Ordering::SeqCst);
        let records: Vec<(Felt, &Transaction)> = accepted.iter().map(|a| (a.hash, &a.tx)).collect();
        let logged = self.store.log_transactions(first, &records);
        if let Err(e) = &logged {
            tracing::error!("cannot log admitted transactions: {e}");
            let hashes: HashSet<Felt> = accepted.iter().map(|a| a.hash).collect();
            chain.mempool.remove(&hashes);
        }
        for admit in &accepted {
            if let Transaction::DeployAccount(d) = &admit.tx {
                self.remember_key(admit.tx.sender().unwrap_or_default(), d.public_key);
            }
        }
        self.metrics.mempool_depth.set(chain.mempool.len() as i64);
        drop(chain);
        for admit in accepted {
            let answer = match &logged {
                Ok(()) => Ok(admit.hash),
                Err(e) => Err(AdmissionError::Storage(e.to_string())),
            };
            let _ = admit.done.send(answer);
        }
    }
}

impl TxSubmitter for Sequencer {
    fn submit(&self, tx: Transaction) -> BoxFuture<'_, Result<Felt, AdmissionError>> {
        Box::pin(async move {
            if matches!(tx, Transaction::Deposit(_)) {
                return Err(AdmissionError::DepositNotAllowed);
            }
            self.admit(tx).await
        })
    }

    fn submit_deposit(&self, tx: Transaction) -> BoxFuture<'_, Result<Felt, AdmissionError>> {
        Box::pin(async move {
            if !matches!(tx, Transaction::Deposit(_)) {
                return Err(AdmissionError::DepositNotAllowed);
            }
            self.admit(tx).await
        })
    }

    fn close_block(&self) -> BoxFuture<'_, Result<Option<BlockHeader>, AdmissionError>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            self.close
                .send(reply)
                .await
                .map_err(|_| AdmissionError::ShuttingDown)?;
            answer.await.map_err(|_| AdmissionError::ShuttingDown)?
        })
    }
}
