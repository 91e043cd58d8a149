//! The settlement line: proven ranges of blocks onto L1, in order, each exactly once.
//!
//! The L1 contract is the only record of progress: every step reads where settlement stands
//! (next block, tx index within it) and settles the proven range that starts there. A
//! restarted settler therefore neither skips nor repeats a range; registering a fact twice
//! is harmless. A range that cannot settle (its previous root is not L1's) stops the line
//! with an error instead of being skipped. A restarted settler first waits for the wallet's
//! transactions still in flight (sent before a crash), so it never sends a range twice.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use starknet_types_core::felt::Felt;

use crate::client::{L1Client, L1State};
use crate::fact::fact;
use crate::metrics::SettleMetrics;
use crate::{L1Error, PrivateKeySigner};

/// Where the proven ranges come from (the farm's proven blocks, in production).
pub trait ProvenRanges: Send + Sync {
    /// Block `number`'s proven ranges, once every range is proven and verified; `None`
    /// until then.
    fn ranges(&self, number: u64) -> ProvenFuture<'_>;
    /// How many blocks numbered `from` or above are proven (for the pending-blocks metric).
    fn proven_from(&self, from: u64) -> CountFuture<'_>;
}

pub type ProvenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<BlockRanges>, String>> + Send + 'a>>;

/// The proven ranges of one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRanges {
    /// Their block-program outputs, in transaction order.
    pub outputs: Vec<Vec<Felt>>,
    /// The conjectured security of the weakest of their proofs: what the facts are
    /// attested at (the registry refuses bits below its floor).
    pub security_bits: u32,
}
pub type CountFuture<'a> = Pin<Box<dyn Future<Output = Result<u64, String>> + Send + 'a>>;

/// Why the line stopped.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    L1(#[from] L1Error),
    #[error("reading the proven ranges of block {block}: {reason}")]
    Source { block: u64, reason: String },
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
            Self::L1(e) => e.revert_reason().is_some(),
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

/// Settles with one wallet (`client`) and one attesting prover key.
pub struct Settler<'a> {
    pub client: &'a L1Client,
    pub signer: PrivateKeySigner,
    pub program_hash: Felt,
    pub metrics: SettleMetrics,
}

impl<'a> Settler<'a> {
    /// A settler whose metrics are exported nowhere (replace `metrics` to export them).
    pub fn new(client: &'a L1Client, signer: PrivateKeySigner, program_hash: Felt) -> Self {
        Self {
            client,
            signer,
            program_hash,
            metrics: SettleMetrics::unregistered(),
        }
    }

    /// Settles the range L1 expects next, if it is proven.
    pub async fn step(&self, source: &dyn ProvenRanges) -> Result<Step, SettleError> {
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
            .map_err(|reason| SettleError::Source { block, reason })?
        else {
            return Ok(Step::Waiting { block });
        };
        let output = next_range(&ranges.outputs, &state)?;
        let fact = fact(self.program_hash, output);
        let register_gas = if self.client.is_fact_valid(fact).await? {
            0
        } else {
            let registered = self
                .client
                .register_fact(&self.signer, fact, ranges.security_bits)
                .await;
            self.metrics.submitted("registerFact", &registered);
            registered?.gas_used
        };
        let updated = self.client.update_state(output).await;
        self.metrics.submitted("updateState", &updated);
        let update_gas = updated?.gas_used;
        let (tx_start, tx_end) = (word(output, TX_START)?, word(output, TX_END)?);
        if word(output, TX_COUNT)? == tx_end {
            let number = i64::try_from(block).unwrap_or(i64::MAX);
            self.metrics.last_settled.set(number);
            self.metrics.pending_blocks.dec();
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
    pub async fn catch_up(&self, source: &dyn ProvenRanges) -> Result<u64, SettleError> {
        let mut settled = 0;
        while let Step::Settled { .. } = self.step(source).await? {
            settled += 1;
        }
        Ok(settled)
    }

    /// Settles forever: a step every `every` while there is nothing to do. An error is
    /// logged and the same range tried again after `every` (never skipped); one that stops
    /// the line raises `starfarm_l1_settlement_stopped` until the range settles.
    pub async fn run(&self, source: &dyn ProvenRanges, every: Duration) {
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
    async fn observe(&self, state: &L1State, source: &dyn ProvenRanges) -> Result<(), SettleError> {
        let last = state
            .last_block()
            .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX));
        self.metrics.last_settled.set(last);
        let block = state.next_block_number;
        let pending = source
            .proven_from(block)
            .await
            .map_err(|reason| SettleError::Source { block, reason })?;
        self.metrics
            .pending_blocks
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        Ok(())
    }
}

/// Output header offsets (docs/sequencer.md, "Block program output").
const PREVIOUS_ROOT: usize = 0;
const TX_START: usize = 6;
const TX_END: usize = 7;
const TX_COUNT: usize = 8;

/// The range that starts where L1 stands, checked to continue L1's root.
fn next_range<'r>(ranges: &'r [Vec<Felt>], state: &L1State) -> Result<&'r [Felt], SettleError> {
    let block = state.next_block_number;
    let tx_index = state.tx_index;
    let mut found = None;
    for output in ranges {
        if word(output, TX_START)? == tx_index {
            found = Some(output.as_slice());
        }
    }
    let output = found.ok_or(SettleError::NoRange { block, tx_index })?;
    let proven = output[PREVIOUS_ROOT];
    if proven != state.state_root {
        return Err(SettleError::RootMismatch {
            block,
            tx_index,
            proven,
            settled: state.state_root,
        });
    }
    Ok(output)
}

fn word(output: &[Felt], index: usize) -> Result<u64, SettleError> {
    let felt = output
        .get(index)
        .ok_or(SettleError::Malformed(output.len()))?;
    u64::try_from(felt.to_biguint()).map_err(|_| SettleError::Malformed(output.len()))
}
