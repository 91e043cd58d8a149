//! Block aggregation, run inside the scheduler: claims [`JobKind::BlockAggregate`] jobs (their
//! chunk jobs are done by then), verifies every chunk's proof artifact, checks that each
//! proves the output native execution expects and that consecutive chunks chain (state root,
//! transaction commitment and range) from the block's previous root to its own root and hash,
//! then records the block as proven ([`BlockProven`], a blob named by the aggregate job's
//! artifact hash) for settlement to pick up ([`proven_blocks`]).
//!
//! Recursion is out of reach (docs/architecture.md), so aggregation checks leaf proofs here
//! and settlement posts one fact per chunk, chained.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use starfarm_prover::{ProofArtifact, SecurityProfile};
use starfarm_sequencer::execute::{MessageToL1, MessageToL2};
use starfarm_sequencer::program_input::BlockOutput;
use starfarm_sequencer::Felt;
use tokio::task::JoinHandle;

use super::{AggregatePayload, ChunkPayload, AGGREGATOR_BACKEND};
use crate::blobs::{BlobError, BlobStore};
use crate::job::{ContentHash, Job, JobId, JobKind, JobState, Lease, WorkerCapabilities};
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
        backends: vec![AGGREGATOR_BACKEND.to_owned()],
        kinds: vec![JobKind::BlockAggregate],
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
    let block: AggregatePayload = serde_json::from_value(job.spec.payload.clone())
        .map_err(|e| AggregateError::Check(format!("malformed aggregate payload: {e}")))?;
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
    if job.spec.kind != JobKind::BlockChunk || job.state != JobState::Done {
        return check(format!(
            "{name} is a {} job in state {}, not a done block chunk",
            job.spec.kind.as_str(),
            job.state
        ));
    }
    let payload: ChunkPayload = serde_json::from_value(job.spec.payload.clone())
        .map_err(|e| AggregateError::Check(format!("{name}: malformed payload: {e}")))?;
    if payload.cairo_program_hash != block.cairo_program_hash {
        return check(format!(
            "{name} is for program {}, the block's is {}",
            payload.cairo_program_hash, block.cairo_program_hash
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
    let expected_program = payload.cairo_program_hash.clone();
    let verified = tokio::task::spawn_blocking(move || verify(&bytes, profile, &expected_program))
        .await?
        .map_err(|e| AggregateError::Check(format!("{name}: {e}")))?;
    let output = BlockOutput::from_felts(&verified.output)
        .map_err(|e| AggregateError::Check(format!("{name}: {e}")))?;
    let expected = BlockOutput::from_felts(&payload.expected_output)
        .map_err(|e| AggregateError::Check(format!("{name}: expected output: {e}")))?;
    if let Some(difference) = first_difference(&output, &expected) {
        return check(format!("{name} proves the wrong output: {difference}"));
    }
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

/// Verifies an artifact's proof under `profile` and that it proves `program`.
fn verify(
    bytes: &[u8],
    profile: SecurityProfile,
    program: &str,
) -> Result<starfarm_prover::Verified, String> {
    let artifact =
        ProofArtifact::from_bytes(bytes).map_err(|e| format!("not a proof artifact: {e}"))?;
    if artifact.header.profile != profile {
        return Err(format!(
            "proven with profile {}, the block asks for {profile}",
            artifact.header.profile
        ));
    }
    let verified = starfarm_prover::verify(&artifact, profile.security_bits())
        .map_err(|e| format!("the proof does not verify: {e}"))?;
    let proven = format!("{:#x}", verified.program_hash);
    if proven != program {
        return Err(format!(
            "the artifact proves program {proven}, not {program}"
        ));
    }
    Ok(verified)
}

/// The fields of a block-program output, named, for reasons that say what differs.
fn fields(o: &BlockOutput) -> [(&'static str, String); 13] {
    [
        (
            "previous state root",
            format!("{:#x}", o.previous_state_root),
        ),
        ("new state root", format!("{:#x}", o.new_state_root)),
        ("block number", o.block_number.to_string()),
        ("parent hash", format!("{:#x}", o.parent_hash)),
        ("block hash", format!("{:#x}", o.block_hash)),
        ("timestamp", o.timestamp.to_string()),
        ("tx_start", o.tx_start.to_string()),
        ("tx_end", o.tx_end.to_string()),
        ("tx_count", o.tx_count.to_string()),
        (
            "tx commitment before tx_start",
            format!("{:#x}", o.tx_commitment_start),
        ),
        (
            "tx commitment after tx_end",
            format!("{:#x}", o.tx_commitment_end),
        ),
        ("messages to L1", format!("{:?}", o.messages_to_l1)),
        ("messages to L2", format!("{:?}", o.messages_to_l2)),
    ]
}

/// The first field where `actual` differs from `expected`, described.
fn first_difference(actual: &BlockOutput, expected: &BlockOutput) -> Option<String> {
    fields(actual)
        .into_iter()
        .zip(fields(expected))
        .find(|((_, a), (_, e))| a != e)
        .map(|((field, a), (_, e))| format!("{field} is {a}, expected {e}"))
}

/// Consecutive chunks chain, the first starts the block and the last ends it.
fn check_chain(chunks: &[CheckedChunk], block: &AggregatePayload) -> Result<(), String> {
    let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
        return Err(format!("block {} has no chunks", block.block_number));
    };
    let start = &first.output;
    let starts = [
        ("tx_start", start.tx_start.to_string(), "0".to_owned()),
        (
            "tx commitment before tx_start",
            format!("{:#x}", start.tx_commitment_start),
            "0x0".to_owned(),
        ),
        (
            "previous state root",
            format!("{:#x}", start.previous_state_root),
            format!("{:#x}", block.previous_state_root),
        ),
    ];
    ends("chunk 0 does not start the block", &starts)?;
    for (index, pair) in chunks.windows(2).enumerate() {
        let (a, b) = (&pair[0].output, &pair[1].output);
        let links = [
            (
                "previous state root",
                format!("{:#x}", b.previous_state_root),
                format!("{:#x}", a.new_state_root),
            ),
            ("tx_start", b.tx_start.to_string(), a.tx_end.to_string()),
            (
                "tx commitment before tx_start",
                format!("{:#x}", b.tx_commitment_start),
                format!("{:#x}", a.tx_commitment_end),
            ),
            (
                "block number",
                b.block_number.to_string(),
                a.block_number.to_string(),
            ),
            (
                "parent hash",
                format!("{:#x}", b.parent_hash),
                format!("{:#x}", a.parent_hash),
            ),
            (
                "timestamp",
                b.timestamp.to_string(),
                a.timestamp.to_string(),
            ),
            ("tx_count", b.tx_count.to_string(), a.tx_count.to_string()),
        ];
        ends(
            &format!("chunk {} does not chain onto chunk {index}", index + 1),
            &links,
        )?;
    }
    let end = &last.output;
    let finals = [
        (
            "block number",
            end.block_number.to_string(),
            block.block_number.to_string(),
        ),
        (
            "parent hash",
            format!("{:#x}", end.parent_hash),
            format!("{:#x}", block.parent_hash),
        ),
        ("tx_end", end.tx_end.to_string(), block.tx_count.to_string()),
        (
            "tx_count",
            end.tx_count.to_string(),
            block.tx_count.to_string(),
        ),
        (
            "new state root",
            format!("{:#x}", end.new_state_root),
            format!("{:#x}", block.new_state_root),
        ),
        (
            "block hash",
            format!("{:#x}", end.block_hash),
            format!("{:#x}", block.block_hash),
        ),
    ];
    ends(
        &format!(
            "chunk {} does not end block {}",
            chunks.len() - 1,
            block.block_number
        ),
        &finals,
    )
}

/// The first `(field, actual, required)` whose values differ, as an error under `what`.
fn ends(what: &str, checks: &[(&str, String, String)]) -> Result<(), String> {
    match checks
        .iter()
        .find(|(_, actual, required)| actual != required)
    {
        Some((field, actual, required)) => Err(format!(
            "{what}: its {field} is {actual}, it must be {required}"
        )),
        None => Ok(()),
    }
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
        kind: Some(JobKind::BlockAggregate),
        limit: JobFilter::MAX_LIMIT,
        before: None,
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
