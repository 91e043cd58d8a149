//! Block aggregation, run inside the scheduler: claims `block_aggregate` jobs (their chunk
//! jobs are done by then), checks every chunk's proof artifact again with
//! [`verify_for_job`] (it proves the output native execution expects), checks that
//! consecutive chunks chain (state root,
//! transaction commitment and range) from the block's previous root to its own root and hash,
//! then records the block as proven ([`BlockProven`], a blob named by the aggregate job's
//! artifact hash) for settlement to pick up ([`proven_blocks`]).
//!
//! Recursion is out of reach (docs/architecture.md), so aggregation checks leaf proofs here
//! and settlement posts one fact per chunk, chained.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use starfarm_prover::SecurityProfile;
use starfarm_sequencer::execute::{MessageToL1, MessageToL2};
use starfarm_sequencer::program_input::BlockOutput;
use starfarm_sequencer::Felt;
use tokio::task::JoinHandle;

use crate::blobs::{BlobError, BlobStore};
use crate::job::{ContentHash, Job, JobId, JobState, Lease, WorkerCapabilities};
use crate::kinds::{
    verify_for_job, AggregatePayload, ChunkPayload, JobTerms, KindPayload, Proves,
    AGGREGATOR_BACKEND,
};
use crate::store::{JobFilter, JobStore, StoreError};

/// The worker id the aggregator claims under.
pub const AGGREGATOR_ID: &str = "scheduler-aggregator";

/// How long one aggregation may take before its lease expires (verification takes
/// milliseconds per chunk; this leaves room for slow blob stores).
const LEASE: Duration = Duration::from_secs(600);

/// Why an aggregation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// The chunks do not prove the block: the job fails for good.
    #[error("{0}")]
    Check(String),
    /// The store or the blob store failed: the job is retried.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("a blocking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl AggregateError {
    fn retryable(&self) -> bool {
        !matches!(self, Self::Check(_))
    }
}

fn check<T>(reason: impl Into<String>) -> Result<T, AggregateError> {
    Err(AggregateError::Check(reason.into()))
}

/// One proven chunk of a [`BlockProven`] record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenChunk {
    pub job_id: JobId,
    pub tx_start: u64,
    pub tx_end: u64,
    pub artifact_hash: ContentHash,
    /// `keccak256(program_hash ‖ keccak256(output))`, as the verifier computes it.
    pub fact: String,
    /// The proven program output (what settlement posts with the fact).
    pub output: Vec<Felt>,
}

/// The record of a proven block: the aggregate job's result, and a blob named by its
/// artifact hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockProven {
    pub block_number: u64,
    pub block_hash: Felt,
    pub parent_hash: Felt,
    pub previous_state_root: Felt,
    pub new_state_root: Felt,
    pub tx_count: u64,
    pub cairo_program_hash: String,
    pub profile: String,
    /// In transaction order.
    pub chunks: Vec<ProvenChunk>,
    /// The block's messages, in order (every chunk's, concatenated).
    pub messages_to_l1: Vec<MessageToL1>,
    pub messages_to_l2: Vec<MessageToL2>,
}

/// A proven block as [`proven_blocks`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenBlock {
    pub aggregate_job: JobId,
    /// The blob holding [`ProvenBlock::record`].
    pub record_hash: ContentHash,
    pub record: BlockProven,
}

/// What one [`aggregate_once`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Aggregated {
    /// The block is proven; the aggregate job is done.
    Proven(Box<BlockProven>),
    /// The aggregate job failed (re-queued when `retryable` and attempts remain).
    Failed {
        job: JobId,
        reason: String,
        retryable: bool,
    },
}

/// Claims one ready aggregate job and runs it; `None` when there is none.
pub async fn aggregate_once(
    store: &Arc<dyn JobStore>,
    blobs: &BlobStore,
) -> Result<Option<Aggregated>, StoreError> {
    let capabilities = WorkerCapabilities {
        memory_bytes: u64::MAX,
        device_memory_bytes: 0,
        backends: vec![AGGREGATOR_BACKEND.to_owned()],
        kinds: vec![AggregatePayload::KIND],
    };
    let Some((job, lease)) = store.claim(AGGREGATOR_ID, &capabilities, LEASE).await? else {
        return Ok(None);
    };
    match aggregate(store, blobs, &job).await {
        Ok((record, record_hash)) => {
            let result = serde_json::to_value(&record).unwrap_or(serde_json::Value::Null);
            store.complete(&lease, &record_hash, result).await?;
            tracing::info!(block = record.block_number, job = %job.id, "block proven");
            Ok(Some(Aggregated::Proven(Box::new(record))))
        }
        Err(e) => fail(store, &lease, e).await.map(Some),
    }
}

async fn fail(
    store: &Arc<dyn JobStore>,
    lease: &Lease,
    error: AggregateError,
) -> Result<Aggregated, StoreError> {
    let (reason, retryable) = (error.to_string(), error.retryable());
    tracing::warn!(job = %lease.job_id, %reason, retryable, "block aggregation failed");
    store.fail(lease, &reason, retryable).await?;
    Ok(Aggregated::Failed {
        job: lease.job_id,
        reason,
        retryable,
    })
}

/// Checks every chunk of `job`'s block; the proven record and its blob name.
async fn aggregate(
    store: &Arc<dyn JobStore>,
    blobs: &BlobStore,
    job: &Job,
) -> Result<(BlockProven, ContentHash), AggregateError> {
    let block = AggregatePayload::of(JobTerms::from(job))
        .map_err(|e| AggregateError::Check(e.to_string()))?;
    let profile: SecurityProfile = job.spec.profile.parse().map_err(AggregateError::Check)?;
    let mut chunks = Vec::with_capacity(block.chunk_jobs.len());
    for (index, &id) in block.chunk_jobs.iter().enumerate() {
        chunks.push(check_chunk(store, blobs, index, id, &block, profile).await?);
    }
    check_chain(&chunks, &block).map_err(AggregateError::Check)?;
    let record = record(&block, profile, chunks);
    let bytes = serde_json::to_vec(&record)
        .map_err(|e| AggregateError::Check(format!("cannot encode the record: {e}")))?;
    let hash = blobs.put(bytes).await?;
    Ok((record, hash))
}

/// A chunk whose proof verified and whose output is the expected one.
struct CheckedChunk {
    proven: ProvenChunk,
    output: BlockOutput,
}

async fn check_chunk(
    store: &Arc<dyn JobStore>,
    blobs: &BlobStore,
    index: usize,
    id: JobId,
    block: &AggregatePayload,
    profile: SecurityProfile,
) -> Result<CheckedChunk, AggregateError> {
    let name = format!("chunk {index} (job {id})");
    let job = store.get(id).await?;
    if job.spec.kind != ChunkPayload::KIND || job.state != JobState::Done {
        return check(format!(
            "{name} is a {} job in state {}, not a done block chunk",
            job.spec.kind.as_str(),
            job.state
        ));
    }
    let payload = ChunkPayload::of(JobTerms::from(&job))
        .map_err(|e| AggregateError::Check(format!("{name}: {e}")))?;
    if payload.cairo_program_hash != block.cairo_program_hash {
        return check(format!(
            "{name} is for program {}, the block's is {}",
            payload.cairo_program_hash, block.cairo_program_hash
        ));
    }
    if job.spec.profile != profile.name() {
        return check(format!(
            "{name} is proven with profile {}, the block asks for {profile}",
            job.spec.profile
        ));
    }
    let name = format!(
        "chunk {index} (job {id}, transactions {}..{})",
        payload.tx_start, payload.tx_end
    );
    let Some(artifact_hash) = job.artifact_hash.clone() else {
        return check(format!("{name} is done without an artifact"));
    };
    let bytes = match blobs.get(&artifact_hash).await {
        Err(e @ (BlobError::NotFound(_) | BlobError::Corrupt { .. })) => {
            return check(format!("{name}: {e}"))
        }
        other => other?,
    };
    // The same check the API made when the chunk was handed in: the artifact may have been
    // recorded without it (another process, a store edited by hand).
    let accepted = tokio::task::spawn_blocking(move || {
        verify_for_job(JobTerms::from(&job), &bytes, Proves::Alone)
    })
    .await?
    .map_err(|e| AggregateError::Check(format!("{name}: {e}")))?;
    let verified = accepted.verified;
    let output = BlockOutput::from_felts(&verified.output)
        .map_err(|e| AggregateError::Check(format!("{name}: {e}")))?;
    Ok(CheckedChunk {
        proven: ProvenChunk {
            job_id: id,
            tx_start: payload.tx_start,
            tx_end: payload.tx_end,
            artifact_hash,
            fact: verified.fact,
            output: verified.output,
        },
        output,
    })
}

/// The fields of a block-program output that chunks are checked on, named as the reasons
/// say them: the one place that reads them.
#[derive(Clone, Copy, Debug)]
enum Field {
    PreviousStateRoot,
    NewStateRoot,
    BlockNumber,
    ParentHash,
    BlockHash,
    Timestamp,
    TxStart,
    TxEnd,
    TxCount,
    TxCommitmentStart,
    TxCommitmentEnd,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Self::PreviousStateRoot => "previous state root",
            Self::NewStateRoot => "new state root",
            Self::BlockNumber => "block number",
            Self::ParentHash => "parent hash",
            Self::BlockHash => "block hash",
            Self::Timestamp => "timestamp",
            Self::TxStart => "tx_start",
            Self::TxEnd => "tx_end",
            Self::TxCount => "tx_count",
            Self::TxCommitmentStart => "tx commitment before tx_start",
            Self::TxCommitmentEnd => "tx commitment after tx_end",
        }
    }

    /// The field's value in `o` as reasons show it: felts in hex, numbers in decimal.
    fn of(self, o: &BlockOutput) -> String {
        match self {
            Self::PreviousStateRoot => hex(o.previous_state_root),
            Self::NewStateRoot => hex(o.new_state_root),
            Self::BlockNumber => o.block_number.to_string(),
            Self::ParentHash => hex(o.parent_hash),
            Self::BlockHash => hex(o.block_hash),
            Self::Timestamp => o.timestamp.to_string(),
            Self::TxStart => o.tx_start.to_string(),
            Self::TxEnd => o.tx_end.to_string(),
            Self::TxCount => o.tx_count.to_string(),
            Self::TxCommitmentStart => hex(o.tx_commitment_start),
            Self::TxCommitmentEnd => hex(o.tx_commitment_end),
        }
    }
}

fn hex(felt: Felt) -> String {
    format!("{felt:#x}")
}

/// Requires each `(field, value)` of `output`; the first that differs is an error under
/// `what`.
fn require(what: &str, output: &BlockOutput, required: &[(Field, String)]) -> Result<(), String> {
    match required
        .iter()
        .find(|(field, value)| field.of(output) != *value)
    {
        Some((field, value)) => Err(format!(
            "{what}: its {} is {}, it must be {value}",
            field.name(),
            field.of(output)
        )),
        None => Ok(()),
    }
}

/// Consecutive chunks chain, the first starts the block and the last ends it.
fn check_chain(chunks: &[CheckedChunk], block: &AggregatePayload) -> Result<(), String> {
    use Field::*;
    let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
        return Err(format!("block {} has no chunks", block.block_number));
    };
    let starts = [
        (TxStart, "0".to_owned()),
        (TxCommitmentStart, hex(Felt::ZERO)),
        (PreviousStateRoot, hex(block.previous_state_root)),
    ];
    require("chunk 0 does not start the block", &first.output, &starts)?;
    // Each chunk's field on the left must equal the previous chunk's on the right.
    let links = [
        (PreviousStateRoot, NewStateRoot),
        (TxStart, TxEnd),
        (TxCommitmentStart, TxCommitmentEnd),
        (BlockNumber, BlockNumber),
        (ParentHash, ParentHash),
        (Timestamp, Timestamp),
        (TxCount, TxCount),
    ];
    for (index, pair) in chunks.windows(2).enumerate() {
        let (a, b) = (&pair[0].output, &pair[1].output);
        let required = links.map(|(field, previous)| (field, previous.of(a)));
        let what = format!("chunk {} does not chain onto chunk {index}", index + 1);
        require(&what, b, &required)?;
    }
    let ends = [
        (BlockNumber, block.block_number.to_string()),
        (ParentHash, hex(block.parent_hash)),
        (TxEnd, block.tx_count.to_string()),
        (TxCount, block.tx_count.to_string()),
        (NewStateRoot, hex(block.new_state_root)),
        (BlockHash, hex(block.block_hash)),
    ];
    let what = format!(
        "chunk {} does not end block {}",
        chunks.len() - 1,
        block.block_number
    );
    require(&what, &last.output, &ends)
}

fn record(
    block: &AggregatePayload,
    profile: SecurityProfile,
    chunks: Vec<CheckedChunk>,
) -> BlockProven {
    let messages_to_l1 = chunks
        .iter()
        .flat_map(|c| c.output.messages_to_l1.clone())
        .collect();
    let messages_to_l2 = chunks
        .iter()
        .flat_map(|c| c.output.messages_to_l2.clone())
        .collect();
    BlockProven {
        block_number: block.block_number,
        block_hash: block.block_hash,
        parent_hash: block.parent_hash,
        previous_state_root: block.previous_state_root,
        new_state_root: block.new_state_root,
        tx_count: block.tx_count,
        cairo_program_hash: block.cairo_program_hash.clone(),
        profile: profile.name().to_owned(),
        chunks: chunks.into_iter().map(|c| c.proven).collect(),
        messages_to_l1,
        messages_to_l2,
    }
}

/// Runs [`aggregate_once`] until no aggregate job is ready, then waits `every`; store errors
/// are logged and retried.
pub fn spawn_aggregator(
    store: Arc<dyn JobStore>,
    blobs: BlobStore,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match aggregate_once(&store, &blobs).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "block aggregator: store error"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Every proven block (done aggregate jobs), by block number; a block aggregated more than
/// once (a re-ingested block after a failure) is listed once, with its latest job.
pub async fn proven_blocks(store: &dyn JobStore) -> Result<Vec<ProvenBlock>, StoreError> {
    let mut filter = JobFilter {
        state: Some(JobState::Done),
        kind: Some(AggregatePayload::KIND),
        limit: JobFilter::MAX_LIMIT,
        before: None,
        owner: None,
    };
    let mut blocks = std::collections::BTreeMap::new();
    loop {
        let page = store.list(&filter).await?;
        for job in page.jobs {
            let block = proven_block(job)?;
            // Newest first: keep the first seen.
            blocks.entry(block.record.block_number).or_insert(block);
        }
        match page.next {
            Some(next) => filter.before = Some(next),
            None => return Ok(blocks.into_values().collect()),
        }
    }
}

fn proven_block(job: Job) -> Result<ProvenBlock, StoreError> {
    let corrupt =
        |what: &str| StoreError::Corrupt(format!("done aggregate job {}: {what}", job.id));
    let record_hash = job
        .artifact_hash
        .clone()
        .ok_or_else(|| corrupt("no artifact hash"))?;
    let result = job.result.clone().ok_or_else(|| corrupt("no result"))?;
    let record = serde_json::from_value(result).map_err(|e| corrupt(&e.to_string()))?;
    Ok(ProvenBlock {
        aggregate_job: job.id,
        record_hash,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: u64 = 3;

    /// A chunk of block 3 (4 transactions) over `tx_start..tx_end`, moving the state root
    /// from `before` to `after`; tx commitments are the range bounds.
    fn chunk(tx_start: u64, tx_end: u64, before: u64, after: u64) -> CheckedChunk {
        let output = BlockOutput {
            previous_state_root: Felt::from(before),
            new_state_root: Felt::from(after),
            block_number: BLOCK,
            parent_hash: Felt::from(9u64),
            block_hash: Felt::from(0x77u64),
            timestamp: 100,
            tx_start,
            tx_end,
            tx_count: 4,
            tx_commitment_start: Felt::from(tx_start),
            tx_commitment_end: Felt::from(tx_end),
            messages_to_l1: Vec::new(),
            messages_to_l2: Vec::new(),
        };
        CheckedChunk {
            proven: ProvenChunk {
                job_id: JobId(tx_start as i64),
                tx_start,
                tx_end,
                artifact_hash: ContentHash::of(b"artifact"),
                fact: String::new(),
                output: Vec::new(),
            },
            output,
        }
    }

    fn block() -> AggregatePayload {
        AggregatePayload {
            block_number: BLOCK,
            block_hash: Felt::from(0x77u64),
            parent_hash: Felt::from(9u64),
            tx_count: 4,
            previous_state_root: Felt::ONE,
            new_state_root: Felt::from(3u64),
            cairo_program_hash: "0x1".into(),
            chunk_jobs: Vec::new(),
        }
    }

    #[test]
    fn chunks_that_chain_from_the_previous_root_to_the_block_pass() {
        let chunks = [chunk(0, 2, 1, 2), chunk(2, 4, 2, 3)];
        assert_eq!(check_chain(&chunks, &block()), Ok(()));
    }

    #[test]
    fn a_broken_chain_names_the_chunk_and_the_field() {
        let cases = [
            (
                vec![chunk(1, 2, 1, 2), chunk(2, 4, 2, 3)],
                "chunk 0 does not start the block: its tx_start is 1, it must be 0",
            ),
            (
                vec![chunk(0, 2, 1, 2), chunk(2, 4, 5, 3)],
                "chunk 1 does not chain onto chunk 0: its previous state root is 0x5, it must be 0x2",
            ),
            (
                vec![chunk(0, 2, 1, 2), chunk(3, 4, 2, 3)],
                "chunk 1 does not chain onto chunk 0: its tx_start is 3, it must be 2",
            ),
            (
                vec![chunk(0, 2, 1, 2), chunk(2, 4, 2, 4)],
                "chunk 1 does not end block 3: its new state root is 0x4, it must be 0x3",
            ),
            (
                vec![chunk(0, 2, 1, 2)],
                "chunk 0 does not end block 3: its tx_end is 2, it must be 4",
            ),
            (vec![], "block 3 has no chunks"),
        ];
        for (chunks, reason) in cases {
            assert_eq!(check_chain(&chunks, &block()), Err(reason.to_owned()));
        }
    }
}
