//! The settlement line: proven ranges of blocks onto L1, in order, each exactly once.
//!
//! The L1 contract is the only record of progress: every step reads where settlement stands
//! (next block, tx index within it) and settles the proven range that starts there. A
//! restarted settler therefore neither skips nor repeats a range; registering a fact twice
//! is harmless. A range that cannot settle (its previous root is not L1's) stops the line
//! with an error instead of being skipped. A restarted settler first waits for the wallet's
//! transactions still in flight (sent before a crash), so it never sends a range twice.

use std::time::Duration;

use starknet_types_core::felt::Felt;

use super::{RangeProof, SettlementClient};
use crate::client::L1State;
use crate::fact::fact;
use crate::metrics::SettleMetrics;
use crate::L1Error;

pub use starfarm_common::settlement::{BlockRanges, ProvenRanges};

/// Why the line stopped.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    L1(#[from] L1Error),
    /// The source's own error, boxed (its message is part of this one's, so not a source).
    #[error("reading the proven ranges of block {block}: {error}")]
    Source {
        block: u64,
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("block {block} has no proven range starting at transaction {tx_index}")]
    NoRange { block: u64, tx_index: u64 },
    #[error("block {block}, range from tx {tx_index}: its previous root {proven:#x} is not L1's root {settled:#x}")]
    RootMismatch {
        block: u64,
        tx_index: u64,
        proven: Felt,
        settled: Felt,
    },
    #[error("a block-program output of {0} felts is too short")]
    Malformed(usize),
}

impl SettleError {
    /// Whether the line stands on a block it cannot settle as it is (rather than on L1 or
    /// the store being unreachable for a while).
    pub fn stops_the_line(&self) -> bool {
        match self {
            // A range without its proof stays without it, and a verification transaction
            // above EIP-7825's cap stays above it: retrying cannot verify either.
            Self::L1(e) => {
                e.revert_reason().is_some() || e.over_gas_cap() || matches!(e, L1Error::NoProof)
            }
            Self::Source { .. } => false,
            Self::NoRange { .. } | Self::RootMismatch { .. } | Self::Malformed(_) => true,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Settled transactions `tx_start..tx_end` of `block`.
    Settled {
        block: u64,
        tx_start: u64,
        tx_end: u64,
        /// Gas of the fact registration (0 if it was registered already) and of the update.
        gas: (u64, u64),
    },
    /// The next block is not proven yet.
    Waiting { block: u64 },
    /// Transactions of this wallet are not mined yet (sent before a restart): nothing is
    /// sent until they are.
    InFlight { transactions: u64 },
}

/// Settles the outputs of the block program `program_hash` through `client` (one wallet,
/// and one way of making facts valid).
pub struct Settler<C> {
    pub client: C,
    pub program_hash: Felt,
    pub metrics: SettleMetrics,
}

impl<C: SettlementClient> Settler<C> {
    /// A settler whose metrics are exported nowhere (replace `metrics` to export them).
    pub fn new(client: C, program_hash: Felt) -> Self {
        Self {
            client,
            program_hash,
            metrics: SettleMetrics::unregistered(),
        }
    }

    /// Settles the range L1 expects next, if it is proven.
    pub async fn step<S: ProvenRanges>(&self, source: &S) -> Result<Step, SettleError> {
        let transactions = self.client.in_flight().await?;
        if transactions > 0 {
            return Ok(Step::InFlight { transactions });
        }
        let state = self.client.state().await?;
        let block = state.next_block_number;
        self.observe(&state, source).await?;
        let Some(ranges) = source
            .ranges(block)
            .await
            .map_err(|e| source_error(block, e))?
        else {
            return Ok(Step::Waiting { block });
        };
        let (index, output) = next_range(&ranges.outputs, &state)?;
        let fact = fact(self.program_hash, output);
        let register_gas = if self.client.is_fact_valid(fact).await? {
            0
        } else {
            let proof = RangeProof {
                security_bits: ranges.security_bits,
                artifact: ranges.artifacts.get(index).cloned(),
            };
            let registered = self.client.register_fact(fact, &proof).await;
            self.metrics.submitted(C::REGISTER_CALL, &registered);
            registered?.gas_used
        };
        let updated = self.client.update_state(output).await;
        self.metrics.submitted("updateState", &updated);
        let update_gas = updated?.gas_used;
        let (tx_start, tx_end) = (word(output, TX_START)?, word(output, TX_END)?);
        self.metrics
            .settled_transactions
            .inc_by(tx_end.saturating_sub(tx_start));
        if word(output, TX_COUNT)? == tx_end {
            let number = i64::try_from(block).unwrap_or(i64::MAX);
            self.metrics.last_settled.set(number);
            self.metrics.pending_blocks.dec();
            // The whole block's proofs, once: its last range is the one that settles it.
            self.metrics
                .settled_proof_cost
                .inc_by(ranges.proof_cost_usd.max(0.0));
        }
        Ok(Step::Settled {
            block,
            tx_start,
            tx_end,
            gas: (register_gas, update_gas),
        })
    }

    /// Settles every proven range in order; returns how many, stopping at the first block
    /// that is not proven yet (or behind transactions still in flight).
    pub async fn catch_up<S: ProvenRanges>(&self, source: &S) -> Result<u64, SettleError> {
        let mut settled = 0;
        while let Step::Settled { .. } = self.step(source).await? {
            settled += 1;
        }
        Ok(settled)
    }

    /// Settles forever: a step every `every` while there is nothing to do. An error is
    /// logged and the same range tried again after `every` (never skipped); one that stops
    /// the line raises `starfarm_l1_settlement_stopped` until the range settles.
    pub async fn run<S: ProvenRanges>(&self, source: &S, every: Duration) {
        loop {
            match self.step(source).await {
                Ok(Step::Settled {
                    block,
                    tx_start,
                    tx_end,
                    gas: (register, update),
                }) => {
                    self.metrics.stopped.set(0);
                    tracing::info!(
                        block,
                        tx_start,
                        tx_end,
                        register_gas = register,
                        update_gas = update,
                        "settled on L1"
                    );
                    continue;
                }
                Ok(Step::Waiting { .. }) => self.metrics.stopped.set(0),
                Ok(Step::InFlight { transactions }) => {
                    tracing::info!(transactions, "waiting for L1 transactions in flight");
                }
                Err(e) if e.stops_the_line() => {
                    self.metrics.stopped.set(1);
                    tracing::error!(error = %e, "settlement stopped: this range cannot settle");
                }
                Err(e) => tracing::warn!(error = %e, "settlement step failed; will retry"),
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Brings the last-settled and pending gauges up to date with L1 and the source.
    async fn observe<S: ProvenRanges>(
        &self,
        state: &L1State,
        source: &S,
    ) -> Result<(), SettleError> {
        let last = state
            .last_block()
            .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX));
        self.metrics.last_settled.set(last);
        let block = state.next_block_number;
        let pending = source
            .proven_from(block)
            .await
            .map_err(|e| source_error(block, e))?;
        self.metrics
            .pending_blocks
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        Ok(())
    }
}

fn source_error(block: u64, e: impl std::error::Error + Send + Sync + 'static) -> SettleError {
    SettleError::Source {
        block,
        error: Box::new(e),
    }
}

/// Output header offsets (docs/sequencer.md, "Block program output").
const PREVIOUS_ROOT: usize = 0;
const TX_START: usize = 6;
const TX_END: usize = 7;
const TX_COUNT: usize = 8;

/// The range that starts where L1 stands (its index among `ranges`), checked to continue
/// L1's root.
fn next_range<'r>(
    ranges: &'r [Vec<Felt>],
    state: &L1State,
) -> Result<(usize, &'r [Felt]), SettleError> {
    let block = state.next_block_number;
    let tx_index = state.tx_index;
    let mut found = None;
    for (index, output) in ranges.iter().enumerate() {
        if word(output, TX_START)? == tx_index {
            found = Some((index, output.as_slice()));
        }
    }
    let (index, output) = found.ok_or(SettleError::NoRange { block, tx_index })?;
    let proven = output[PREVIOUS_ROOT];
    if proven != state.state_root {
        return Err(SettleError::RootMismatch {
            block,
            tx_index,
            proven,
            settled: state.state_root,
        });
    }
    Ok((index, output))
}

fn word(output: &[Felt], index: usize) -> Result<u64, SettleError> {
    let felt = output
        .get(index)
        .ok_or(SettleError::Malformed(output.len()))?;
    u64::try_from(felt.to_biguint()).map_err(|_| SettleError::Malformed(output.len()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::settlement::mock::MockSettlement;

    /// Proven ranges in memory; `unreadable` makes every read fail.
    #[derive(Default)]
    struct Proven {
        blocks: Mutex<HashMap<u64, BlockRanges>>,
        unreadable: bool,
    }

    impl Proven {
        fn insert(&self, block: u64, outputs: Vec<Vec<Felt>>, security_bits: u32) {
            self.insert_costing(block, outputs, security_bits, 0.0);
        }

        fn insert_costing(&self, block: u64, outputs: Vec<Vec<Felt>>, bits: u32, cost: f64) {
            let artifacts = (0..outputs.len())
                .map(|i| format!("proof-{block}-{i}"))
                .collect();
            let ranges = BlockRanges {
                artifacts,
                outputs,
                security_bits: bits,
                proof_cost_usd: cost,
            };
            self.blocks.lock().unwrap().insert(block, ranges);
        }
    }

    impl ProvenRanges for Proven {
        type Error = std::io::Error;

        async fn ranges(&self, number: u64) -> Result<Option<BlockRanges>, std::io::Error> {
            if self.unreadable {
                return Err(std::io::Error::other("job store unreachable"));
            }
            Ok(self.blocks.lock().unwrap().get(&number).cloned())
        }

        async fn proven_from(&self, from: u64) -> Result<u64, std::io::Error> {
            if self.unreadable {
                return Err(std::io::Error::other("job store unreachable"));
            }
            let blocks = self.blocks.lock().unwrap();
            Ok(blocks.keys().filter(|&&b| b >= from).count() as u64)
        }
    }

    /// The block-program output of transactions `start..end` of block `block` (of `count`),
    /// from root `from` to root `to` (docs/sequencer.md, "Block program output").
    fn output(block: u64, (start, end, count): (u64, u64, u64), from: u64, to: u64) -> Vec<Felt> {
        let hash = if end == count { 0xb0 + block } else { 0 };
        [
            from, to, block, 0, hash, 1, start, end, count, start, end, 0, 0,
        ]
        .map(Felt::from)
        .to_vec()
    }

    fn settler() -> Settler<MockSettlement> {
        Settler::new(
            MockSettlement::new(Felt::from(7u8), Felt::ONE),
            Felt::from(7u8),
        )
    }

    #[tokio::test]
    async fn settles_each_range_once_in_order_against_the_mock() {
        let settler = settler();
        let proven = Proven::default();
        assert_eq!(
            settler.step(&proven).await.unwrap(),
            Step::Waiting { block: 0 }
        );
        let ranges = vec![output(0, (0, 2, 3), 1, 2), output(0, (2, 3, 3), 2, 3)];
        proven.insert(0, ranges.clone(), 96);
        assert_eq!(settler.catch_up(&proven).await.unwrap(), 2);
        assert_eq!(settler.catch_up(&proven).await.unwrap(), 0, "nothing twice");
        let l1 = settler.client.l1();
        assert_eq!(l1.settled, ranges);
        assert_eq!(l1.registered.len(), 2);
        let proofs: Vec<_> = l1.proofs.iter().map(|p| p.artifact.as_deref()).collect();
        assert_eq!(
            proofs,
            [Some("proof-0-0"), Some("proof-0-1")],
            "each fact is made valid from its own range's proof"
        );
        assert!(l1.proofs.iter().all(|p| p.security_bits == 96));
        assert_eq!((l1.state.next_block_number, l1.state.tx_index), (1, 0));
        assert_eq!(l1.state.state_root, Felt::from(3u8));
        assert_eq!(settler.metrics.last_settled.get(), 0);
    }

    #[tokio::test]
    async fn transactions_count_per_settled_range_and_a_block_costs_once_when_it_settles() {
        let settler = settler();
        let proven = Proven::default();
        let block0 = vec![output(0, (0, 2, 3), 1, 2), output(0, (2, 3, 3), 2, 3)];
        proven.insert_costing(0, block0, 96, 0.25);
        proven.insert_costing(1, vec![output(1, (0, 4, 4), 3, 4)], 96, 0.5);
        let m = &settler.metrics;
        let settled = settler.step(&proven).await.unwrap();
        assert!(matches!(settled, Step::Settled { tx_end: 2, .. }));
        assert_eq!(m.settled_transactions.get(), 2);
        assert_eq!(m.settled_proof_cost.get(), 0.0, "block 0 is half settled");

        let rpc = L1Error::Rpc {
            call: "updateState",
            message: "connection reset".into(),
        };
        settler.client.fail_once("updateState", rpc);
        settler.step(&proven).await.unwrap_err();
        assert_eq!(
            m.settled_transactions.get(),
            2,
            "a failed update counts nothing"
        );

        assert_eq!(settler.catch_up(&proven).await.unwrap(), 2);
        assert_eq!(m.settled_transactions.get(), 3 + 4);
        assert_eq!(m.settled_proof_cost.get(), 0.25 + 0.5);
        assert_eq!(settler.catch_up(&proven).await.unwrap(), 0);
        assert_eq!(m.settled_proof_cost.get(), 0.75, "nothing counted twice");
    }

    #[tokio::test]
    async fn failures_are_typed_and_nothing_settles_twice() {
        let settler = settler();
        let unreadable = Proven {
            unreadable: true,
            ..Proven::default()
        };
        let err = settler.step(&unreadable).await.unwrap_err();
        assert!(matches!(err, SettleError::Source { block: 0, .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "reading the proven ranges of block 0: job store unreachable"
        );
        assert!(!err.stops_the_line(), "a source error is retried");

        let proven = Proven::default();
        let range = output(0, (0, 1, 1), 1, 2);
        proven.insert(0, vec![range.clone()], 96);
        let rpc = L1Error::Rpc {
            call: "updateState",
            message: "connection reset".into(),
        };
        settler.client.fail_once("updateState", rpc);
        let err = settler.step(&proven).await.unwrap_err();
        assert!(matches!(err, SettleError::L1(L1Error::Rpc { .. })), "{err}");
        assert!(!err.stops_the_line());
        assert!(settler.client.l1().settled.is_empty());
        // The retry finds the fact valid (registered once) and settles the range once.
        let step = settler.step(&proven).await.unwrap();
        assert!(
            matches!(
                step,
                Step::Settled {
                    block: 0,
                    tx_start: 0,
                    tx_end: 1,
                    gas: (0, _)
                }
            ),
            "{step:?}"
        );
        assert_eq!(settler.catch_up(&proven).await.unwrap(), 0);
        assert_eq!(settler.client.l1().registered.len(), 1);
        assert_eq!(settler.client.l1().settled, vec![range]);
        let m = &settler.metrics;
        assert_eq!(
            m.submissions
                .with_label_values(&["updateState", "error"])
                .get(),
            1
        );
        assert_eq!(
            m.submissions
                .with_label_values(&["updateState", "mined"])
                .get(),
            1
        );

        // A refused fact stops the line; the range is not sent.
        let next = output(1, (0, 1, 1), 2, 3);
        proven.insert(1, vec![next], 18);
        let revert = L1Error::Reverted {
            call: "registerFact",
            reason: "SECURITY_BITS_TOO_LOW".into(),
        };
        settler.client.fail_once("registerFact", revert);
        let err = settler.step(&proven).await.unwrap_err();
        assert!(err.stops_the_line(), "{err}");
        assert_eq!(settler.client.l1().settled.len(), 1);
    }

    #[test]
    fn a_range_without_its_proof_stops_the_line_and_a_failed_phase_is_named() {
        assert!(SettleError::L1(L1Error::NoProof).stops_the_line());
        let fetch = L1Error::Proof {
            artifact: "ab".into(),
            message: "artifact store unreachable".into(),
        };
        assert!(
            !SettleError::L1(fetch).stops_the_line(),
            "fetching is retried"
        );
        let reverted = L1Error::Verification {
            phase: "merkle[2]".into(),
            source: Box::new(L1Error::Reverted {
                call: "verify: Merkle statement",
                reason: "merkle: root mismatch".into(),
            }),
        };
        assert_eq!(
            reverted.to_string(),
            "verification phase merkle[2]: verify: Merkle statement reverted: merkle: root mismatch"
        );
        assert!(SettleError::L1(reverted).stops_the_line(), "a revert stops");
    }

    #[tokio::test]
    async fn a_range_off_l1_root_stops_the_line_unsent() {
        let settler = settler();
        let proven = Proven::default();
        let broken = output(0, (0, 1, 1), 5, 6);
        proven.insert(0, vec![broken], 96);
        let err = settler.step(&proven).await.unwrap_err();
        assert!(
            matches!(err, SettleError::RootMismatch { block: 0, .. }),
            "{err}"
        );
        assert!(err.stops_the_line());
        let l1 = settler.client.l1();
        assert!(l1.registered.is_empty() && l1.settled.is_empty());
    }
}
