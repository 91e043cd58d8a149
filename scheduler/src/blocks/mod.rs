//! Blocks (feature `blocks`): the scheduler's side of proving the sequencer's blocks.
//!
//! - [`chunking`] splits a block's transactions into chunks sized by estimated Cairo steps.
//! - [`ingest`] follows the sequencer's published manifests and submits, per block, one
//!   [`JobKind::BlockChunk`](crate::JobKind::BlockChunk) job per chunk (the block program on
//!   that transaction range, proven by ordinary workers) and one
//!   [`JobKind::BlockAggregate`](crate::JobKind::BlockAggregate) job depending on them all.
//! - [`aggregate`] runs the aggregate jobs inside the scheduler: it verifies every chunk's
//!   proof, checks that their outputs are the expected ones and chain into the block, and
//!   records the block as proven ([`BlockProven`]) for settlement.
//! - [`farm_blocks`] hands the proven blocks to the settlement line as ranges
//!   (`starfarm_common::settlement::ProvenRanges`).
//!
//! The two kinds' payloads and artifact checks are owned by their handlers
//! ([`crate::kinds::block_chunk`], [`crate::kinds::block_aggregate`]; re-exported here);
//! this module owns the aggregate job's input blob format ([`ChunkPlan`]).

pub mod aggregate;
pub mod chunking;
pub mod farm_blocks;
pub mod ingest;

pub use crate::kinds::{AggregatePayload, ChunkPayload, AGGREGATOR_BACKEND};
pub use aggregate::{
    aggregate_once, proven_blocks, spawn_aggregator, AggregateError, Aggregated, BlockProven,
    ProvenBlock, ProvenChunk,
};
pub use chunking::{chunk_memory_bytes, plan_block, plan_ranges, TxRange, DEFAULT_CHUNK_STEPS};
pub use ingest::{spawn_ingest, BlockProgram, IngestConfig, IngestError, IngestedBlock, Ingestor};

use serde::{Deserialize, Serialize};
use starfarm_sequencer::Felt;

use crate::job::ContentHash;

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
