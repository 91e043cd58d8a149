//! Prometheus metrics of a node, served on its `/metrics`.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntGauge, Opts, Registry, TextEncoder,
};

use super::Mode;

pub struct NodeMetrics {
    pub registry: Registry,
    /// Latest applied block (-1: none).
    pub synced_block: IntGauge,
    /// Highest block known at the source (-1: none).
    pub highest_block: IntGauge,
    /// Number of the refused block (-1: none): the alert.
    pub refused_block: IntGauge,
    /// Blocks applied by this process (a restart resumes, it does not re-apply).
    pub applied_blocks: IntCounter,
    /// Sync rounds that failed because the source could not be read (retried with backoff).
    pub sync_failures: IntCounter,
    pub applied_transactions: IntCounter,
    pub block_apply_seconds: Histogram,
}

impl NodeMetrics {
    pub fn new(mode: Mode) -> Self {
        let registry =
            Registry::new_custom(None, Some([("mode".to_string(), mode.to_string())].into()))
                .expect("static registry labels");
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::with_opts(Opts::new(name, help)).expect("static metric definition");
            g.set(-1);
            g
        };
        let counter = |name: &str, help: &str| {
            IntCounter::with_opts(Opts::new(name, help)).expect("static metric definition")
        };
        let synced_block = gauge(
            "starfarm_node_synced_block",
            "Latest applied block (-1: none)",
        );
        let highest_block = gauge(
            "starfarm_node_highest_block",
            "Highest block known at the source (-1: none)",
        );
        let refused_block = gauge(
            "starfarm_node_refused_block",
            "Block refused because its computed root or hash differs (-1: none)",
        );
        let applied_blocks = counter(
            "starfarm_node_applied_blocks_total",
            "Blocks verified and applied by this process",
        );
        let applied_transactions = counter(
            "starfarm_node_applied_transactions_total",
            "Transactions in the blocks applied by this process",
        );
        let sync_failures = counter(
            "starfarm_node_sync_failures_total",
            "Sync rounds that failed (source unreadable or local storage error), retried",
        );
        let block_apply_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "starfarm_node_block_apply_seconds",
                "Time to verify and commit a block",
            )
            .buckets(prometheus::exponential_buckets(0.0005, 2.0, 16).expect("static buckets")),
        )
        .expect("static metric definition");
        for c in [
            Box::new(synced_block.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(highest_block.clone()),
            Box::new(refused_block.clone()),
            Box::new(applied_blocks.clone()),
            Box::new(sync_failures.clone()),
            Box::new(applied_transactions.clone()),
            Box::new(block_apply_seconds.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        NodeMetrics {
            registry,
            synced_block,
            highest_block,
            refused_block,
            applied_blocks,
            sync_failures,
            applied_transactions,
            block_apply_seconds,
        }
    }

    pub fn set_synced(&self, number: Option<u64>) {
        self.synced_block.set(number.map_or(-1, |n| n as i64));
    }

    pub fn set_highest(&self, number: Option<u64>) {
        self.highest_block.set(number.map_or(-1, |n| n as i64));
    }

    pub fn observe_block(&self, transactions: usize, took: Duration) {
        self.applied_blocks.inc();
        self.applied_transactions.inc_by(transactions as u64);
        self.block_apply_seconds.observe(took.as_secs_f64());
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}
