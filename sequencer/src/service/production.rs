//! Block production: every tick the producer moves ready transactions from the mempool into
//! the pre-confirmed block (executing them natively), and closes the block on the timer, the
//! transaction count, the Cairo-step budget or on demand (trie update, commit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use starknet_types_core::felt::Felt;
use tokio::sync::mpsc;

use super::sequencer::{now_secs, Chain, CloseRequest, PreBlock, Sequencer};
use crate::block::BlockHeader;
use crate::chain::AdmissionError;
use crate::execute::{apply_hashed, touched};
use crate::seal::{self, BlockPosition, Executed};
use crate::state::AccountState;
use crate::store::StoreError;
use crate::tx::Transaction;

/// Estimated Cairo steps of the block program per transaction kind (measured; see
/// docs/sequencer.md, "Where a signature's steps go" and "Signed 5-bit windows"), used for the
/// step budget of a block and the farm's chunks. A signed transaction pays ~4.2k steps for its
/// share of the batched signature check on top of its execution (~0.7–1k); measured on 1,000
/// accounts (`sequencer/tests/block_program.rs`, `steps_per_transaction_on_1000_accounts`,
/// which checks each estimate stays above): transfer 5,135, deploy 5,123, withdrawal 4,805,
/// deposit 567. The margin, ~9 % (~40 % for deposits), covers longer trie paths on larger
/// states and the batch's fixed ~11.3k steps spread over fewer signatures than the 100
/// measured.
pub fn estimated_steps(tx: &Transaction) -> u64 {
    match tx {
        Transaction::DeployAccount(_) => 5_600,
        Transaction::Transfer(_) => 5_600,
        Transaction::Withdraw(_) => 5_300,
        Transaction::Deposit(_) => 800,
    }
}

/// How often the producer moves ready transactions into the pre-confirmed block.
const TICK: Duration = Duration::from_millis(20);

impl Sequencer {
    pub(super) async fn run_producer(self: Arc<Self>, mut close_rx: mpsc::Receiver<CloseRequest>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let request = tokio::select! {
                _ = tick.tick() => None,
                r = close_rx.recv() => match r {
                    Some(r) => Some(r),
                    None => return,
                },
                _ = self.stopped() => return,
            };
            let this = Arc::clone(&self);
            let forced = request.is_some();
            let result = tokio::task::spawn_blocking(move || this.produce(forced)).await;
            let result = result
                .unwrap_or_else(|_| Err(AdmissionError::Storage("block producer panicked".into())));
            if let Err(e) = &result {
                tracing::error!("block production: {e}");
            }
            if let Some(reply) = request {
                let _ = reply.send(result);
            }
        }
    }

    /// Executes ready transactions, then closes the block if a limit is reached (or `forced`).
    fn produce(&self, forced: bool) -> Result<Option<BlockHeader>, AdmissionError> {
        let mut chain = self.lock();
        self.execute_ready(&mut chain)
            .map_err(|e| AdmissionError::Storage(e.to_string()))?;
        let pre = &chain.pre;
        let has_txs = !pre.transactions.is_empty();
        let timer = pre
            .started
            .is_some_and(|s| s.elapsed() >= self.config.block_time);
        let full = pre.transactions.len() >= self.config.max_block_txs
            || pre.steps >= self.config.max_block_steps;
        let empty_due = self.config.empty_blocks && !has_txs && {
            let last = chain.latest.as_ref().map_or(0, |h| h.timestamp);
            now_secs().saturating_sub(last) >= self.config.block_time.as_secs().max(1)
        };
        let close = (has_txs && (forced || timer || full))
            || empty_due
            || (forced && self.config.empty_blocks);
        if !close {
            return Ok(None);
        }
        self.seal(&mut chain)
            .map(Some)
            .map_err(|e| AdmissionError::Storage(e.to_string()))
    }

    fn execute_ready(&self, chain: &mut Chain) -> Result<(), StoreError> {
        let room = self
            .config
            .max_block_txs
            .saturating_sub(chain.pre.transactions.len());
        let mut taken = Vec::new();
        let mut steps = chain.pre.steps;
        // Respect the step budget too: stop taking once it would be exceeded.
        while taken.len() < room && steps < self.config.max_block_steps {
            let Some(entry) = chain.mempool.take_ready(1).pop() else {
                break;
            };
            steps += estimated_steps(&entry.tx);
            taken.push(entry);
        }
        if taken.is_empty() {
            return Ok(());
        }
        let latest = Self::latest_number(chain);
        for entry in taken {
            for address in touched(&entry.tx) {
                if !chain.pre.accounts.contains_key(&address) {
                    let state = match latest {
                        Some(n) => self.store.account(&address, n)?,
                        None => AccountState::default(),
                    };
                    chain.pre.before.insert(address, state);
                    chain.pre.accounts.insert(address, state);
                }
            }
            match apply_hashed(&mut chain.pre.accounts, &entry.tx, entry.hash) {
                Ok(receipt) => {
                    let pre = &mut chain.pre;
                    if pre.started.is_none() {
                        pre.started = Some(Instant::now());
                        pre.timestamp = now_secs();
                    }
                    pre.steps += estimated_steps(&entry.tx);
                    pre.hashes.insert(entry.hash);
                    pre.transactions.push(entry.tx);
                    pre.receipts.push(receipt);
                }
                // Admission rules make this unreachable; keep the block valid regardless.
                Err(e) => tracing::error!("dropping transaction {:#x}: {e}", entry.hash),
            }
        }
        chain.mempool.forget_idle();
        self.metrics.mempool_depth.set(chain.mempool.len() as i64);
        Ok(())
    }

    /// Closes the pre-confirmed block: trie update, commit, next block.
    fn seal(&self, chain: &mut Chain) -> Result<BlockHeader, StoreError> {
        let started = Instant::now();
        let pre = std::mem::take(&mut chain.pre);
        let timestamp = if pre.started.is_some() {
            pre.timestamp
        } else {
            now_secs()
        };
        let position = BlockPosition {
            number: pre.number,
            parent_hash: pre.parent_hash,
            prev_contracts_root: chain
                .latest
                .as_ref()
                .map_or(Felt::ZERO, |h| h.contracts_root),
            timestamp,
        };
        let executed = Executed {
            before: pre.before,
            after: pre.accounts,
            transactions: pre.transactions,
            receipts: pre.receipts,
        };
        let db_nodes = self.store.nodes()?;
        let mut sealed =
            seal::seal(&db_nodes, position, executed).map_err(|e| StoreError(e.to_string()))?;
        self.store.commit_block(sealed.commit())?;
        let block = sealed.block;
        let header = block.header.clone();
        let tx_count = header.tx_count;
        self.metrics.observe_block(&block, started.elapsed());
        chain.latest = Some(header.clone());
        chain.pre = PreBlock {
            number: header.number + 1,
            parent_hash: header.block_hash,
            ..Default::default()
        };
        tracing::info!(
            number = header.number,
            txs = tx_count,
            root = %format!("{:#x}", header.state_root),
            "block closed in {:?}",
            started.elapsed()
        );
        Ok(header)
    }
}
