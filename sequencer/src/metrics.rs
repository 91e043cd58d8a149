//! Prometheus metrics of the sequencer, served on `/metrics`.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::block::Block;
use crate::execute::ExecutionStatus;

pub struct SequencerMetrics {
    pub registry: Registry,
    pub received: IntCounter,
    pub rejected: IntCounter,
    pub executed: IntCounterVec,
    pub mempool_depth: IntGauge,
    pub latest_block: IntGauge,
    pub block_build_seconds: Histogram,
    pub block_transactions: Histogram,
    /// Publishing attempts that failed (the object store down or refusing writes).
    pub publish_failures: IntCounter,
    /// Blocks written to the object store (each once).
    pub published_blocks: IntCounter,
    /// Closed blocks not yet in the object store.
    pub unpublished_blocks: IntGauge,
    /// Free bytes on the database's file system at the last admission.
    pub disk_free_bytes: IntGauge,
    /// Transactions refused because the database's disk is (nearly) full.
    pub disk_refusals: IntCounter,
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("static metric definition")
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("static metric definition")
}

impl SequencerMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let txs = IntCounterVec::new(
            Opts::new(
                "starfarm_sequencer_transactions_total",
                "Transactions by admission or execution outcome",
            ),
            &["status"],
        )
        .expect("static metric definition");
        let received = txs.with_label_values(&["received"]);
        let rejected = txs.with_label_values(&["rejected"]);
        let mempool_depth = IntGauge::new(
            "starfarm_sequencer_mempool_depth",
            "Admitted transactions waiting for a block",
        )
        .expect("static metric definition");
        let latest_block = IntGauge::new(
            "starfarm_sequencer_latest_block",
            "Number of the latest closed block (-1: none yet)",
        )
        .expect("static metric definition");
        let block_build_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "starfarm_sequencer_block_build_seconds",
                "Time to close a block (trie update and commit)",
            )
            .buckets(prometheus::exponential_buckets(0.001, 2.0, 14).expect("static buckets")),
        )
        .expect("static metric definition");
        let block_transactions = Histogram::with_opts(
            HistogramOpts::new(
                "starfarm_sequencer_block_transactions",
                "Transactions per closed block",
            )
            .buckets(prometheus::exponential_buckets(1.0, 2.0, 14).expect("static buckets")),
        )
        .expect("static metric definition");
        let publish_failures = counter(
            "starfarm_sequencer_publish_failures_total",
            "Failed attempts to publish blocks to the object store (retried with backoff)",
        );
        let published_blocks = counter(
            "starfarm_sequencer_published_blocks_total",
            "Blocks published to the object store",
        );
        let unpublished_blocks = gauge(
            "starfarm_sequencer_unpublished_blocks",
            "Closed blocks not yet published to the object store",
        );
        let disk_free_bytes = gauge(
            "starfarm_sequencer_disk_free_bytes",
            "Free bytes on the database's file system (as of the last admission)",
        );
        let disk_refusals = counter(
            "starfarm_sequencer_disk_refusals_total",
            "Transactions refused because the database's disk is below its free-space minimum",
        );
        for c in [
            Box::new(txs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(publish_failures.clone()),
            Box::new(published_blocks.clone()),
            Box::new(unpublished_blocks.clone()),
            Box::new(disk_free_bytes.clone()),
            Box::new(disk_refusals.clone()),
            Box::new(mempool_depth.clone()),
            Box::new(latest_block.clone()),
            Box::new(block_build_seconds.clone()),
            Box::new(block_transactions.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        SequencerMetrics {
            registry,
            received,
            rejected,
            executed: txs,
            mempool_depth,
            latest_block,
            block_build_seconds,
            block_transactions,
            publish_failures,
            published_blocks,
            unpublished_blocks,
            disk_free_bytes,
            disk_refusals,
        }
    }

    pub fn observe_block(&self, block: &Block, took: Duration) {
        for receipt in &block.receipts {
            let label = match receipt.execution_status {
                ExecutionStatus::Succeeded => "succeeded",
                ExecutionStatus::Reverted => "reverted",
            };
            self.executed.with_label_values(&[label]).inc();
        }
        self.latest_block.set(block.header.number as i64);
        self.block_build_seconds.observe(took.as_secs_f64());
        self.block_transactions
            .observe(block.transactions.len() as f64);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Default for SequencerMetrics {
    fn default() -> Self {
        Self::new()
    }
}
