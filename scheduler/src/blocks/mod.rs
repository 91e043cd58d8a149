//! Blocks (feature `blocks`): the scheduler's side of proving the sequencer's blocks.
//!
//! - [`plan`] splits a block's transactions into chunks sized by estimated Cairo steps.
//! - [`ingest`] follows the sequencer's published manifests and submits, per block, one
//!   [`JobKind::BlockChunk`](crate::JobKind::BlockChunk) job per chunk (the block program on
//!   that transaction range, proven by ordinary workers) and one
//!   [`JobKind::BlockAggregate`](crate::JobKind::BlockAggregate) job depending on them all.
//! - [`aggregate`] runs the aggregate jobs inside the scheduler: it verifies every chunk's
//!   proof, checks that their outputs are the expected ones and chain into the block, and
//!   records the block as proven ([`BlockProven`]) for settlement.
//!
//! This module owns the payload and blob formats the three share ([`ChunkPayload`],
//! [`AggregatePayload`], [`ChunkPlan`]).

pub mod aggregate;
pub mod farm_blocks;
pub mod ingest;
pub mod plan;

pub use aggregate::{
    aggregate_once, proven_blocks, spawn_aggregator, AggregateError, Aggregated, BlockProven,
    ProvenBlock, ProvenChunk,
};
pub use ingest::{spawn_ingest, BlockProgram, IngestConfig, IngestError, IngestedBlock, Ingestor};
pub use plan::{chunk_memory_bytes, plan_block, plan_ranges, TxRange, DEFAULT_CHUNK_STEPS};

use serde::{Deserialize, Serialize};
use starfarm_sequencer::Felt;

use crate::job::{ContentHash, JobId};

/// The backend only the in-process aggregator advertises. Aggregate jobs require it: a
/// proving worker that names no kinds takes every kind, and must not get these.
pub const AGGREGATOR_BACKEND: &str = "scheduler-aggregator";

/// The payload of a [`JobKind::BlockChunk`](crate::JobKind::BlockChunk) job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkPayload {
    /// The block program's hash (`{:#x}`), checked against every artifact handed in.
    pub cairo_program_hash: String,
    pub block_number: u64,
    pub block_hash: Felt,
    pub chunk_index: u32,
    pub chunk_count: u32,
    pub tx_start: u64,
    pub tx_end: u64,
    pub estimated_steps: u64,
    /// The output the block program must give on this range (native execution), as felts:
    /// an artifact proving any other output is refused.
    pub expected_output: Vec<Felt>,
}

/// The payload of a [`JobKind::BlockAggregate`](crate::JobKind::BlockAggregate) job.
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

/// One chunk as the aggregate job's input blob lists it (the blob is a JSON array of these,
/// in transaction order): what the aggregation covers, independent of job ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkPlan {
    pub index: u32,
    pub tx_start: u64,
    pub tx_end: u64,
    pub estimated_steps: u64,
    pub input_hash: ContentHash,
    pub expected_output: Vec<Felt>,
}
