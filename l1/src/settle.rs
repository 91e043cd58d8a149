//! The settlement line: proven ranges of blocks onto L1, in order, each exactly once.
//!
//! The L1 contract is the only record of progress: every step reads where settlement stands
//! (next block, tx index within it) and settles the proven range that starts there. A
//! restarted settler therefore neither skips nor repeats a range; registering a fact twice
//! is harmless. A range that cannot settle (its previous root is not L1's) stops the line
//! with an error instead of being skipped.

use std::future::Future;
use std::pin::Pin;

use starknet_types_core::felt::Felt;

use crate::client::{L1Client, L1State};
use crate::fact::fact;
use crate::{L1Error, PrivateKeySigner};

/// Where the proven ranges come from (the farm's proven blocks, in production).
pub trait ProvenRanges: Send + Sync {
    /// The block-program outputs of block `number`'s ranges, in transaction order, once
    /// every range is proven and verified; `None` until then.
    fn ranges(&self, number: u64) -> ProvenFuture<'_>;
}

pub type ProvenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Vec<Vec<Felt>>>, String>> + Send + 'a>>;

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
}

/// Settles with one wallet (`client`) and one attesting prover key.
pub struct Settler<'a> {
    pub client: &'a L1Client,
    pub signer: PrivateKeySigner,
    pub program_hash: Felt,
    pub security_bits: u32,
}

impl Settler<'_> {
    /// Settles the range L1 expects next, if it is proven.
    pub async fn step(&self, source: &dyn ProvenRanges) -> Result<Step, SettleError> {
        let state = self.client.state().await?;
        let block = state.next_block_number;
        let Some(ranges) = source
            .ranges(block)
            .await
            .map_err(|reason| SettleError::Source { block, reason })?
        else {
            return Ok(Step::Waiting { block });
        };
        let output = next_range(&ranges, &state)?;
        let fact = fact(self.program_hash, output);
        let register_gas = if self.client.is_fact_valid(fact).await? {
            0
        } else {
            let registered = self
                .client
                .register_fact(&self.signer, fact, self.security_bits);
            registered.await?.gas_used
        };
        let updated = self.client.update_state(output).await?;
        Ok(Step::Settled {
            block,
            tx_start: word(output, TX_START)?,
            tx_end: word(output, TX_END)?,
            gas: (register_gas, updated.gas_used),
        })
    }

    /// Settles every proven range in order; returns how many, stopping at the first block
    /// that is not proven yet.
    pub async fn catch_up(&self, source: &dyn ProvenRanges) -> Result<u64, SettleError> {
        let mut settled = 0;
        while let Step::Settled { .. } = self.step(source).await? {
            settled += 1;
        }
        Ok(settled)
    }
}

/// Output header offsets (docs/sequencer.md, "Block program output").
const PREVIOUS_ROOT: usize = 0;
const TX_START: usize = 6;
const TX_END: usize = 7;

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
