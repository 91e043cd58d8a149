//! Prometheus metrics of the settlement line, registered in the registry of the process that
//! runs it (the scheduler serves them on its `/metrics`).

use prometheus::{
    exponential_buckets, Counter, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, Opts, Registry,
};

/// `starfarm_l1_*`.
#[derive(Clone)]
pub struct SettleMetrics {
    /// `starfarm_l1_submissions_total{call,result}`: transactions sent (`mined`) or refused
    /// (`reverted`, `error`).
    pub submissions: IntCounterVec,
    /// `starfarm_l1_gas_used_total{call}`.
    pub gas_used: IntCounterVec,
    /// `starfarm_l1_last_settled_block` (-1 before the first).
    pub last_settled: IntGauge,
    /// `starfarm_l1_blocks_pending_settlement`: proven blocks L1 has not settled yet.
    pub pending_blocks: IntGauge,
    /// `starfarm_l1_settlement_stopped`: 1 while the line stands on a block it cannot settle
    /// (alert on it; the reason is in the log).
    pub stopped: IntGauge,
    /// `starfarm_l1_settled_transactions_total`: L2 transactions of the ranges settled.
    pub settled_transactions: IntCounter,
    /// `starfarm_l1_settled_proof_cost_usd_total`: the estimated proving cost of the blocks
    /// settled, counted when a block's last range settles (with the transactions above:
    /// the cost per settled transaction).
    pub settled_proof_cost: Counter,
    /// `starfarm_l1_verification_gas{phase}`: gas of each transaction of a proof's on-chain
    /// verification (`merkle`, `quotients`, `fri`, `verifyProof`).
    pub verification_gas: HistogramVec,
    /// `starfarm_l1_proof_verification_gas`: a proof's verification transactions together
    /// (those this process sent).
    pub proof_verification_gas: Histogram,
}

impl SettleMetrics {
    /// The metrics, registered in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self::unregistered();
        registry.register(Box::new(metrics.submissions.clone()))?;
        registry.register(Box::new(metrics.gas_used.clone()))?;
        registry.register(Box::new(metrics.last_settled.clone()))?;
        registry.register(Box::new(metrics.pending_blocks.clone()))?;
        registry.register(Box::new(metrics.stopped.clone()))?;
        registry.register(Box::new(metrics.settled_transactions.clone()))?;
        registry.register(Box::new(metrics.settled_proof_cost.clone()))?;
        registry.register(Box::new(metrics.verification_gas.clone()))?;
        registry.register(Box::new(metrics.proof_verification_gas.clone()))?;
        Ok(metrics)
    }

    /// The metrics, counted but exported nowhere.
    pub fn unregistered() -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("static metric")
        };
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("static metric");
        let metrics = Self {
            submissions: counter(
                "starfarm_l1_submissions_total",
                "L1 transactions of the settlement line, by call and result",
                &["call", "result"],
            ),
            gas_used: counter(
                "starfarm_l1_gas_used_total",
                "Gas used by the settlement line's mined transactions, by call",
                &["call"],
            ),
            last_settled: gauge(
                "starfarm_l1_last_settled_block",
                "The last L2 block settled on L1 (-1: none yet)",
            ),
            pending_blocks: gauge(
                "starfarm_l1_blocks_pending_settlement",
                "Proven L2 blocks that L1 has not settled yet",
            ),
            stopped: gauge(
                "starfarm_l1_settlement_stopped",
                "1 while the settlement line is stopped on a block it cannot settle",
            ),
            settled_transactions: IntCounter::new(
                "starfarm_l1_settled_transactions_total",
                "L2 transactions settled on L1 by this settlement line",
            )
            .expect("static metric"),
            settled_proof_cost: Counter::new(
                "starfarm_l1_settled_proof_cost_usd_total",
                "Estimated cost in USD of proving the blocks this settlement line settled (chunk and aggregate proofs at their workers' price per machine-hour)",
            )
            .expect("static metric"),
            // 100k to ~52M gas, doubling: a statement's transaction is 0.1M-16.7M (EIP-7825's
            // cap), a proof's total tens of millions.
            verification_gas: HistogramVec::new(
                HistogramOpts::new(
                    "starfarm_l1_verification_gas",
                    "Gas of each on-chain verification transaction, by phase",
                )
                .buckets(exponential_buckets(100_000.0, 2.0, 10).expect("static buckets")),
                &["phase"],
            )
            .expect("static metric"),
            proof_verification_gas: Histogram::with_opts(
                HistogramOpts::new(
                    "starfarm_l1_proof_verification_gas",
                    "Gas of one proof's on-chain verification, all its transactions",
                )
                .buckets(exponential_buckets(100_000.0, 2.0, 10).expect("static buckets")),
            )
            .expect("static metric"),
        };
        metrics.last_settled.set(-1);
        metrics
    }

    /// Counts one transaction's outcome.
    pub(crate) fn submitted(&self, call: &str, outcome: &Result<crate::TxOutcome, crate::L1Error>) {
        let result = match outcome {
            Ok(tx) => {
                self.gas_used.with_label_values(&[call]).inc_by(tx.gas_used);
                "mined"
            }
            Err(e) if e.revert_reason().is_some() => "reverted",
            Err(_) => "error",
        };
        self.submissions.with_label_values(&[call, result]).inc();
    }
}
