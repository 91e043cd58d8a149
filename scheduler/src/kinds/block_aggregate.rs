//! `block_aggregate`: a block's aggregation, run inside the scheduler by
//! [`crate::blocks::aggregate`] once the block's chunk jobs are done. No worker proves it and
//! no artifact is handed in for it: its "artifact" is the proven-block record the aggregator
//! writes.

use serde::{Deserialize, Serialize};
use starfarm_prover::Felt;

use super::{Claims, JobTerms, KindHandler, KindPayload, Refusal};
use crate::job::{JobId, JobKind};

/// The backend only the in-process aggregator advertises. Aggregate jobs require it: a
/// proving worker that names no kinds takes every kind, and must not get these.
pub const AGGREGATOR_BACKEND: &str = "scheduler-aggregator";

/// The payload of a `block_aggregate` job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatePayload {
    pub block_number: u64,
    pub block_hash: Felt,
    pub parent_hash: Felt,
    pub tx_count: u64,
    /// The global state root before the block (the first chunk's must equal it).
    pub previous_state_root: Felt,
    /// The block's state root (the last chunk's must equal it).
    pub new_state_root: Felt,
    pub cairo_program_hash: String,
    /// The chunk jobs, in transaction order.
    pub chunk_jobs: Vec<JobId>,
}

impl KindPayload for AggregatePayload {
    const KIND: JobKind = JobKind::BlockAggregate;
}

/// The handler of `block_aggregate` jobs.
pub struct BlockAggregate;

impl KindHandler for BlockAggregate {
    fn kind(&self) -> JobKind {
        JobKind::BlockAggregate
    }

    fn proven_by_workers(&self) -> bool {
        false
    }

    /// Nothing proves an aggregation: a proof of one chunk handed in for it would record
    /// the block as proven without the chain check.
    fn check(&self, _job: JobTerms<'_>, _claims: &Claims) -> Result<(), Refusal> {
        Err(Refusal::Invalid(
            "block_aggregate jobs are completed by the scheduler's aggregator, not with a \
             handed-in artifact"
                .into(),
        ))
    }
}
