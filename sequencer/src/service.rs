//! The running sequencer: admission (format, signature, nonce, balance, duplicate checks,
//! then an fsync'd log write before the acknowledgement), the pre-confirmed block executed as
//! transactions become ready, block closing (timer, transaction count, Cairo-step budget, on
//! demand), commits, and publishing. Implements `ChainReader` and `TxSubmitter`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use starknet_types_core::felt::Felt;
use tokio::sync::{mpsc, oneshot};

use crate::block::{Block, BlockHeader};
use crate::chain::{
    AdmissionError, BlockId, BoxFuture, ChainReader, PreConfirmed, ReadError, TxRecord, TxStatus,
    TxSubmitter,
};
use crate::ecdsa::VerifyingKey;
use crate::execute::{apply_hashed, touched, Receipt};
use crate::mempool::{Entry, Limits, Mempool};
use crate::metrics::SequencerMetrics;
use crate::publish::Publisher;
use crate::seal::{self, BlockPosition, Executed};
use crate::state::AccountState;
use crate::store::{Store, StoreError, META_L1_ACCEPTED};
use crate::tx::{Deposit, Transaction};

/// Estimated Cairo steps of the block program per transaction kind (measured; see
/// docs/sequencer.md), used for the step budget of a block.
pub fn estimated_steps(tx: &Transaction) -> u64 {
    match tx {
        Transaction::DeployAccount(_) => 1_500,
        Transaction::Transfer(_) => 2_000,
        Transaction::Withdraw(_) => 1_500,
        Transaction::Deposit(_) => 800,
    }
}

#[derive(Clone, Debug)]
pub struct SequencerConfig {
    pub data_dir: PathBuf,
    /// Close a non-empty block this long after its first transaction.
    pub block_time: Duration,
    pub max_block_txs: usize,
    /// Close a block when its estimated block-program steps reach this.
    pub max_block_steps: u64,
    /// Also close empty blocks on the timer.
    pub empty_blocks: bool,
    pub mempool: Limits,
}

impl SequencerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        SequencerConfig {
            data_dir,
            block_time: Duration::from_secs(2),
            max_block_txs: 1_000,
            max_block_steps: 1 << 22,
            empty_blocks: false,
            mempool: Limits::default(),
        }
    }
}

/// The block being built.
#[derive(Default)]
struct PreBlock {
    number: u64,
    parent_hash: Felt,
    started: Option<Instant>,
    timestamp: u64,
    /// State of touched accounts at the start of the block.
    before: BTreeMap<Felt, AccountState>,
    /// Their current state.
    accounts: BTreeMap<Felt, AccountState>,
    transactions: Vec<Transaction>,
    receipts: Vec<Receipt>,
    hashes: HashSet<Felt>,
    steps: u64,
}

struct Chain {
    mempool: Mempool,
    pre: PreBlock,
    latest: Option<BlockHeader>,
    l1_accepted: Option<u64>,
}

struct Admit {
    tx: Transaction,
    hash: Felt,
    done: oneshot::Sender<Result<Felt, AdmissionError>>,
}

pub struct Sequencer {
    config: SequencerConfig,
    store: Store,
    chain: Mutex<Chain>,
    keys: RwLock<HashMap<Felt, Arc<VerifyingKey>>>,
    admit: mpsc::Sender<Admit>,
    close: mpsc::Sender<oneshot::Sender<Result<Option<BlockHeader>, AdmissionError>>>,
    next_log_number: AtomicU64,
    publisher: Option<Publisher>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    pub metrics: SequencerMetrics,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data folder {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Sequencer {
    /// Opens (or creates) the database under `data_dir`, restores the mempool from the log,
    /// and starts the admission writer and the block producer on the current tokio runtime.
    pub fn start(
        config: SequencerConfig,
        publisher: Option<Publisher>,
    ) -> Result<Arc<Self>, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| StartError::DataDir(config.data_dir.clone(), e))?;
        let store = Store::open(&config.data_dir.join("sequencer.redb"))?;
        let latest = store.latest_block()?.map(|b| b.header);
        let l1_accepted = store.meta(META_L1_ACCEPTED)?;
        let (admit_tx, admit_rx) = mpsc::channel(4096);
        let (close_tx, close_rx) = mpsc::channel(16);
        let mut pre = PreBlock::default();
        if let Some(h) = &latest {
            pre.number = h.number + 1;
            pre.parent_hash = h.block_hash;
        }
        let metrics = SequencerMetrics::new();
        // -1: no block yet (block 0 is a block).
        let latest_number = latest.as_ref().map_or(-1, |h| h.number as i64);
        metrics.latest_block.set(latest_number);
        let seq = Arc::new(Sequencer {
            chain: Mutex::new(Chain {
                mempool: Mempool::new(config.mempool),
                pre,
                latest,
                l1_accepted,
            }),
            config,
            store,
            keys: RwLock::new(HashMap::new()),
            admit: admit_tx,
            close: close_tx,
            next_log_number: AtomicU64::new(0),
            publisher,
            stop: tokio::sync::watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
            metrics,
        });
        seq.restore_log()?;
        crate::ecdsa::warm_up();
        let mut tasks = vec![
            tokio::spawn(Arc::clone(&seq).run_writer(admit_rx)),
            tokio::spawn(Arc::clone(&seq).run_producer(close_rx)),
        ];
        if seq.publisher.is_some() {
            tasks.push(tokio::spawn(Arc::clone(&seq).run_publisher()));
        }
        *seq.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        Ok(seq)
    }

    /// Stops admission, block production and publishing, and waits for them; the database
    /// closes when the last handle is dropped. Acknowledged transactions stay in the log.
    pub async fn shutdown(&self) {
        // send_replace: `send` would drop the value while no task happens to be waiting.
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Resolves once `shutdown` was called.
    async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    fn lock(&self) -> MutexGuard<'_, Chain> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.chain.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-admits the logged transactions (acknowledged before a stop or crash).
    fn restore_log(&self) -> Result<(), StoreError> {
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

    fn latest_number(chain: &Chain) -> Option<u64> {
        chain.latest.as_ref().map(|h| h.number)
    }

    /// Current (pre-confirmed) state of an account.
    fn current_account(&self, chain: &Chain, address: &Felt) -> Result<AccountState, StoreError> {
        if let Some(a) = chain.pre.accounts.get(address) {
            return Ok(*a);
        }
        match Self::latest_number(chain) {
            Some(n) => self.store.account(address, n),
            None => Ok(AccountState::default()),
        }
    }

    fn state_nonce(&self, chain: &Chain, tx: &Transaction) -> Result<u64, StoreError> {
        match tx.sender() {
            Some(a) => Ok(self.current_account(chain, &a)?.nonce),
            None => Ok(0),
        }
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
    async fn run_writer(self: Arc<Self>, mut rx: mpsc::Receiver<Admit>) {
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

type CloseRequest = oneshot::Sender<Result<Option<BlockHeader>, AdmissionError>>;

/// How often the producer moves ready transactions into the pre-confirmed block.
const TICK: Duration = Duration::from_millis(20);

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Sequencer {
    async fn run_producer(self: Arc<Self>, mut close_rx: mpsc::Receiver<CloseRequest>) {
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

    /// Admits a deposit seen on L1, once: the L1 watcher delivers events at least once, and a
    /// deposit admitted before (pending or in a block) is not an error.
    pub async fn admit_l1_deposit(&self, deposit: Deposit) -> Result<(), AdmissionError> {
        match self.submit_deposit(Transaction::Deposit(deposit)).await {
            Ok(_) | Err(AdmissionError::Duplicate(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Marks blocks up to `number` as settled on L1 (called by the L1 watcher). Never moves
    /// back: a restarted watcher replaying older events leaves the mark where it is.
    pub fn mark_accepted_on_l1(&self, number: u64) -> Result<(), StoreError> {
        let mut chain = self.lock();
        if chain.l1_accepted.is_some_and(|known| known >= number) {
            return Ok(());
        }
        self.store.set_meta(META_L1_ACCEPTED, number)?;
        chain.l1_accepted = Some(number);
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Publishes closed blocks to the object store in order, resuming from the stored cursor.
    async fn run_publisher(self: Arc<Self>) {
        let Some(publisher) = &self.publisher else {
            return;
        };
        loop {
            let pause = match publisher.publish_pending(&self.store).await {
                Ok(_) => Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!("publishing blocks: {e} (will retry)");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {},
                _ = self.stopped() => return,
            }
        }
    }
}

fn read_err(e: StoreError) -> ReadError {
    ReadError::Storage(e.0)
}

impl ChainReader for Sequencer {
    fn latest_header(&self) -> Result<Option<BlockHeader>, ReadError> {
        Ok(self.lock().latest.clone())
    }

    fn l1_accepted_number(&self) -> Result<Option<u64>, ReadError> {
        Ok(self.lock().l1_accepted)
    }

    fn next_nonce(&self, address: Felt) -> Result<u64, ReadError> {
        let chain = self.lock();
        let state = self
            .current_account(&chain, &address)
            .map_err(read_err)?
            .nonce;
        Ok(chain.mempool.next_nonce(&address, state))
    }

    fn block(&self, id: BlockId) -> Result<Option<Block>, ReadError> {
        let number = match id {
            BlockId::Latest => match self.lock().latest.as_ref() {
                Some(h) => h.number,
                None => return Ok(None),
            },
            BlockId::PreConfirmed => return Ok(None),
            BlockId::Number(n) => n,
            BlockId::Hash(h) => match self.store.block_number_of(&h).map_err(read_err)? {
                Some(n) => n,
                None => return Ok(None),
            },
        };
        self.store.block(number).map_err(read_err)
    }

    fn pre_confirmed(&self) -> Result<PreConfirmed, ReadError> {
        let chain = self.lock();
        Ok(PreConfirmed {
            number: chain.pre.number,
            parent_hash: chain.pre.parent_hash,
            timestamp: if chain.pre.started.is_some() {
                chain.pre.timestamp
            } else {
                now_secs()
            },
            transactions: chain.pre.transactions.clone(),
            receipts: chain.pre.receipts.clone(),
        })
    }

    fn transaction(&self, hash: Felt) -> Result<Option<TxRecord>, ReadError> {
        let chain = self.lock();
        if let Some(tx) = chain.mempool.find(&hash) {
            return Ok(Some(TxRecord {
                transaction: tx.clone(),
                status: TxStatus::Received,
                receipt: None,
                block: None,
            }));
        }
        if chain.pre.hashes.contains(&hash) {
            let i = chain
                .pre
                .receipts
                .iter()
                .position(|r| r.transaction_hash == hash);
            if let Some(i) = i {
                return Ok(Some(TxRecord {
                    transaction: chain.pre.transactions[i].clone(),
                    status: TxStatus::PreConfirmed,
                    receipt: Some(chain.pre.receipts[i].clone()),
                    block: None,
                }));
            }
        }
        let l1 = chain.l1_accepted;
        drop(chain);
        let mut record = self.store.transaction(&hash).map_err(read_err)?;
        if let Some(r) = &mut record {
            if r.block.is_some_and(|(n, _)| l1.is_some_and(|l1| n <= l1)) {
                r.status = TxStatus::AcceptedOnL1;
            }
        }
        Ok(record)
    }

    fn account(&self, address: Felt, id: BlockId) -> Result<Option<AccountState>, ReadError> {
        let chain = self.lock();
        let number = match id {
            BlockId::PreConfirmed => {
                return self
                    .current_account(&chain, &address)
                    .map(Some)
                    .map_err(read_err)
            }
            BlockId::Latest => match Self::latest_number(&chain) {
                Some(n) => n,
                None => return Ok(Some(AccountState::default())),
            },
            BlockId::Number(n) => {
                if Self::latest_number(&chain).is_none_or(|l| n > l) {
                    return Ok(None);
                }
                n
            }
            BlockId::Hash(h) => match self.store.block_number_of(&h).map_err(read_err)? {
                Some(n) => n,
                None => return Ok(None),
            },
        };
        drop(chain);
        self.store
            .account(&address, number)
            .map(Some)
            .map_err(read_err)
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
