//! Starting a [`Sequencer`] (open the database, restore the admission log, spawn the
//! writer, producer and publisher tasks) and stopping it.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;

use super::sequencer::{Chain, PreBlock, Sequencer, SequencerConfig, StartError};
use crate::disk_guard::DiskGuard;
use crate::mempool::Mempool;
use crate::metrics::SequencerMetrics;
use crate::publish::Publisher;
use crate::store::{Store, META_L1_ACCEPTED};

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
            disk: DiskGuard::new(&config.data_dir, config.min_free_disk),
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
}
