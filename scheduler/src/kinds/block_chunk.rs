//! `block_chunk`: the block program run on one contiguous range of a block's transactions
//! (submitted by [`crate::blocks::ingest`]), proven by a worker like any program; the
//! aggregator checks the chunks of a block again before it records the block as proven.

use serde::{Deserialize, Serialize};
use starfarm_prover::Felt;

use super::{check_program, Claims, JobTerms, KindHandler, KindPayload, Refusal};
use crate::job::JobKind;

/// The payload of a `block_chunk` job.
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

impl KindPayload for ChunkPayload {
    const KIND: JobKind = JobKind::BlockChunk;
}

/// The handler of `block_chunk` jobs.
pub struct BlockChunk;

impl KindHandler for BlockChunk {
    fn kind(&self) -> JobKind {
        JobKind::BlockChunk
    }

    fn proven_by_workers(&self) -> bool {
        true
    }

    /// The block program, with the output native execution expects of the chunk's range.
    fn check(&self, job: JobTerms<'_>, claims: &Claims) -> Result<(), Refusal> {
        let payload = ChunkPayload::of(job)?;
        check_program(&payload.cairo_program_hash, claims.program_hash)?;
        check_output(&payload.expected_output, &claims.output)
    }
}

/// Refuses an output other than `expected`, naming the first felt that differs.
fn check_output(expected: &[Felt], actual: &[Felt]) -> Result<(), Refusal> {
    let show = |f: Option<&Felt>| f.map_or("nothing".into(), |f| format!("{f:#x}"));
    match (0..expected.len().max(actual.len())).find(|&i| expected.get(i) != actual.get(i)) {
        None => Ok(()),
        Some(i) => Err(Refusal::Invalid(format!(
            "the artifact proves the wrong output: output felt {i} is {}, the job expects {} \
             ({} felts proven, {} expected)",
            show(actual.get(i)),
            show(expected.get(i)),
            actual.len(),
            expected.len()
        ))),
    }
}
