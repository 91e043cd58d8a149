//! Block ingestion: reads the blocks the sequencer publishes (manifest, then the prover
//! input it names), plans their chunks, stores the block program and each chunk's input as
//! blobs exactly as `POST /v1/jobs` stores a submission (so the same worker proves them
//! unchanged), and submits the chunk jobs and the aggregate job. A cursor file remembers the
//! next block to ingest; the loop ([`spawn_ingest`]) never skips one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use starfarm_prover::{CairoProgram, ProgramInput, SecurityProfile};
use starfarm_sequencer::program_input::{
    BlockOutput, BlockProverInput, ProgramInputError, BLOCK_PROGRAM_JSON,
};
use starfarm_sequencer::publish::{BlockManifest, PublishError, Publisher};
use starfarm_sequencer::Felt;
use tokio::task::JoinHandle;

use super::chunking::{chunk_memory_bytes, plan_block, TxRange, DEFAULT_CHUNK_STEPS};
use super::{AggregatePayload, ChunkPayload, ChunkPlan, AGGREGATOR_BACKEND};
use crate::blobs::{BlobError, BlobStore};
use crate::job::{ContentHash, Job, JobSpec};
use crate::kinds::KindPayload;
use crate::store::{JobStore, StoreError};

/// Why a block could not be ingested (the loop retries the same block).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("sequencer object store: {0}")]
    Publish(#[from] PublishError),
    #[error("block {0} was published without a prover input")]
    NoProverInput(u64),
    #[error("prover input of block {0}: {1}")]
    Decode(u64, serde_json::Error),
    #[error("prover input of block {number}: {source}")]
    Input {
        number: u64,
        #[source]
        source: ProgramInputError,
    },
    #[error("block {number}: the prover input gives {what}, the manifest says otherwise")]
    Mismatch { number: u64, what: String },
    #[error("the block program cannot be loaded: {0}")]
    Program(String),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cursor file {0}: {1}")]
    Cursor(PathBuf, String),
    #[error("a blocking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The block program as a blob: the bytes workers fetch and its two hashes.
#[derive(Debug)]
pub struct BlockProgram {
    /// The program JSON with sorted keys, as `POST /v1/jobs` stores programs.
    pub json: Vec<u8>,
    /// Its blob name.
    pub hash: ContentHash,
    /// The Cairo program hash (`{:#x}`) a proof of it carries.
    pub cairo_hash: String,
}

impl BlockProgram {
    /// Parses the embedded block program (a few MB: call it off the async threads).
    pub fn load() -> Result<Self, IngestError> {
        let bad = |e: &dyn std::fmt::Display| IngestError::Program(e.to_string());
        let value: Value = serde_json::from_slice(BLOCK_PROGRAM_JSON).map_err(|e| bad(&e))?;
        let json = serde_json::to_vec(&crate::api::jobs::canonical(&value)).map_err(|e| bad(&e))?;
        let program = CairoProgram::from_json(&json, "block program").map_err(|e| bad(&e))?;
        Ok(Self {
            hash: ContentHash::of(&json),
            cairo_hash: format!("{:#x}", program.hash()),
            json,
        })
    }
}

/// How blocks become jobs.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// Profile the chunks are proven with.
    pub profile: SecurityProfile,
    /// Target of estimated Cairo steps per chunk.
    pub chunk_steps: u64,
    /// Attempts given to each job.
    pub max_attempts: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            profile: SecurityProfile::Production,
            chunk_steps: DEFAULT_CHUNK_STEPS,
            max_attempts: 3,
        }
    }
}

/// The jobs of one ingested block.
#[derive(Clone, Debug)]
pub struct IngestedBlock {
    pub number: u64,
    pub block_hash: Felt,
    /// The chunk jobs, in transaction order.
    pub chunks: Vec<Job>,
    pub aggregate: Job,
    /// How many of these jobs this call created (0 when the block was ingested before).
    pub created: usize,
}

/// One planned chunk, computed off the async threads.
struct PreparedChunk {
    range: TxRange,
    input_json: Vec<u8>,
    expected: BlockOutput,
}

/// Turns published blocks into jobs. Cheap to clone.
#[derive(Clone)]
pub struct Ingestor {
    publisher: Publisher,
    blobs: BlobStore,
    store: Arc<dyn JobStore>,
    program: Arc<BlockProgram>,
    config: IngestConfig,
}

impl Ingestor {
    /// Loads the block program and stores it as a blob.
    pub async fn new(
        publisher: Publisher,
        blobs: BlobStore,
        store: Arc<dyn JobStore>,
        config: IngestConfig,
    ) -> Result<Self, IngestError> {
        let program = Arc::new(tokio::task::spawn_blocking(BlockProgram::load).await??);
        blobs.put(program.json.clone()).await?;
        Ok(Self {
            publisher,
            blobs,
            store,
            program,
            config,
        })
    }

    pub fn program(&self) -> &BlockProgram {
        &self.program
    }

    /// Ingests block `number`: `None` while its manifest is not published. Idempotent: the
    /// same block gives the same jobs (the store deduplicates on program, input and profile).
    pub async fn ingest(&self, number: u64) -> Result<Option<IngestedBlock>, IngestError> {
        let Some(manifest) = self.publisher.manifest(number).await? else {
            return Ok(None);
        };
        let input = self.prover_input(&manifest).await?;
        let target = self.config.chunk_steps;
        let checked = manifest.clone();
        let chunks =
            tokio::task::spawn_blocking(move || prepare(&input, &checked, target)).await??;
        self.submit(&manifest, chunks).await.map(Some)
    }

    async fn prover_input(
        &self,
        manifest: &BlockManifest,
    ) -> Result<BlockProverInput, IngestError> {
        let object = manifest
            .prover_input
            .as_ref()
            .ok_or(IngestError::NoProverInput(manifest.number))?;
        let bytes = self.publisher.get_object(object).await?;
        serde_json::from_slice(&bytes).map_err(|e| IngestError::Decode(manifest.number, e))
    }

    async fn submit(
        &self,
        manifest: &BlockManifest,
        chunks: Vec<PreparedChunk>,
    ) -> Result<IngestedBlock, IngestError> {
        // The program blob may have been removed since start-up (a wiped blob store).
        if !self.blobs.contains(&self.program.hash).await? {
            self.blobs.put(self.program.json.clone()).await?;
        }
        let count = chunks.len();
        let (mut jobs, mut plans, mut created) = (Vec::new(), Vec::new(), 0);
        for (index, chunk) in chunks.into_iter().enumerate() {
            let (spec, plan) = self.chunk_spec(manifest, index, count, chunk).await?;
            let submission = self.store.submit(spec).await?;
            created += usize::from(submission.created);
            jobs.push(submission.job);
            plans.push(plan);
        }
        let spec = self.aggregate_spec(manifest, &jobs, &plans).await?;
        let submission = self.store.submit(spec).await?;
        created += usize::from(submission.created);
        Ok(IngestedBlock {
            number: manifest.number,
            block_hash: manifest.block_hash,
            chunks: jobs,
            aggregate: submission.job,
            created,
        })
    }

    async fn chunk_spec(
        &self,
        manifest: &BlockManifest,
        index: usize,
        count: usize,
        chunk: PreparedChunk,
    ) -> Result<(JobSpec, ChunkPlan), IngestError> {
        let input_hash = self.blobs.put(chunk.input_json).await?;
        let expected_output = chunk.expected.to_felts();
        let range = chunk.range;
        let payload = ChunkPayload {
            cairo_program_hash: self.program.cairo_hash.clone(),
            block_number: manifest.number,
            block_hash: manifest.block_hash,
            chunk_index: to_u32(index),
            chunk_count: to_u32(count),
            tx_start: range.tx_start,
            tx_end: range.tx_end,
            estimated_steps: range.estimated_steps,
            expected_output: expected_output.clone(),
        };
        let mut spec = self.spec(&payload, input_hash.clone());
        spec.required_memory_bytes = chunk_memory_bytes(range.estimated_steps);
        let plan = ChunkPlan {
            index: to_u32(index),
            tx_start: range.tx_start,
            tx_end: range.tx_end,
            estimated_steps: range.estimated_steps,
            input_hash,
            expected_output,
        };
        Ok((spec, plan))
    }

    async fn aggregate_spec(
        &self,
        manifest: &BlockManifest,
        chunks: &[Job],
        plans: &[ChunkPlan],
    ) -> Result<JobSpec, IngestError> {
        let plans_json =
            serde_json::to_vec(plans).map_err(|e| IngestError::Decode(manifest.number, e))?;
        let input_hash = self.blobs.put(plans_json).await?;
        let previous_state_root = plans
            .first()
            .and_then(|p| BlockOutput::from_felts(&p.expected_output).ok())
            .map_or(Felt::ZERO, |o| o.previous_state_root);
        let payload = AggregatePayload {
            block_number: manifest.number,
            block_hash: manifest.block_hash,
            parent_hash: manifest.parent_hash,
            tx_count: manifest.tx_count,
            previous_state_root,
            new_state_root: manifest.state_root,
            cairo_program_hash: self.program.cairo_hash.clone(),
            chunk_jobs: chunks.iter().map(|j| j.id).collect(),
        };
        let mut spec = self.spec(&payload, input_hash);
        spec.depends_on = chunks.iter().map(|j| j.id).collect();
        spec.required_backend = Some(AGGREGATOR_BACKEND.to_owned());
        Ok(spec)
    }

    /// A job of `payload`'s kind on the block program.
    fn spec(&self, payload: &impl KindPayload, input_hash: ContentHash) -> JobSpec {
        let mut spec = payload.spec(
            self.program.hash.clone(),
            input_hash,
            self.config.profile.name(),
        );
        spec.max_attempts = self.config.max_attempts;
        spec
    }

    /// Ingests every published block from the one the cursor file names (0 when the file
    /// does not exist), advancing the file after each; returns how many it ingested. Stops
    /// at the first block not published yet, or at the first error (that block is retried by
    /// the next call: none is skipped).
    pub async fn ingest_new(&self, cursor: &Path) -> Result<u64, IngestError> {
        let mut next = read_cursor(cursor)?;
        let mut ingested = 0;
        while let Some(block) = self.ingest(next).await? {
            tracing::info!(
                block = block.number,
                chunks = block.chunks.len(),
                aggregate = %block.aggregate.id,
                created = block.created,
                "block ingested"
            );
            next += 1;
            write_cursor(cursor, next)?;
            ingested += 1;
        }
        Ok(ingested)
    }
}

/// Plans a block and builds each chunk's program input (replays the block natively: CPU
/// work), checking the prover input against its manifest.
fn prepare(
    input: &BlockProverInput,
    manifest: &BlockManifest,
    target_steps: u64,
) -> Result<Vec<PreparedChunk>, IngestError> {
    let number = manifest.number;
    let mismatch = |what: String| IngestError::Mismatch { number, what };
    if input.block_number != number || input.tx_count() != manifest.tx_count {
        return Err(mismatch(format!(
            "block {} with {} transactions",
            input.block_number,
            input.tx_count()
        )));
    }
    let mut chunks = Vec::new();
    for range in plan_block(input, target_steps) {
        let range_input = input
            .range(range.tx_start, range.tx_end)
            .map_err(|source| IngestError::Input { number, source })?;
        let felts = ProgramInput::new(range_input.to_felts());
        chunks.push(PreparedChunk {
            range,
            input_json: felts.to_json().into_bytes(),
            expected: range_input.expected_output(),
        });
    }
    if let Some(last) = chunks.last().map(|c| &c.expected) {
        let ends = (last.new_state_root, last.block_hash, last.parent_hash);
        if ends
            != (
                manifest.state_root,
                manifest.block_hash,
                manifest.parent_hash,
            )
        {
            return Err(mismatch(format!(
                "state root {:#x}, block hash {:#x}, parent hash {:#x}",
                ends.0, ends.1, ends.2
            )));
        }
    }
    Ok(chunks)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The next block number to ingest: the cursor file's number, 0 when there is no file yet.
pub fn read_cursor(path: &Path) -> Result<u64, IngestError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|e| IngestError::Cursor(path.to_owned(), format!("not a block number: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(IngestError::Cursor(path.to_owned(), e.to_string())),
    }
}

/// Writes the cursor atomically (a crash leaves the old or the new number, never half).
pub fn write_cursor(path: &Path, next: u64) -> Result<(), IngestError> {
    let bad = |e: std::io::Error| IngestError::Cursor(path.to_owned(), e.to_string());
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(bad)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, format!("{next}\n")).map_err(bad)?;
    std::fs::rename(&temporary, path).map_err(bad)
}

/// Follows the sequencer's manifests from the cursor file every `every`: ingests each new
/// block in order, and on an error (a store not there yet, a network failure, a block it
/// cannot read) logs it and tries the same block again next time.
pub fn spawn_ingest(ingestor: Ingestor, cursor: PathBuf, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match ingestor.ingest_new(&cursor).await {
                Ok(0) => tracing::trace!("no new block"),
                Ok(n) => tracing::debug!(blocks = n, "blocks ingested"),
                Err(e) => tracing::warn!(error = %e, "block ingestion failed; retrying"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_starts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cursor");
        assert_eq!(read_cursor(&path).unwrap(), 0);
        write_cursor(&path, 42).unwrap();
        assert_eq!(read_cursor(&path).unwrap(), 42);
        std::fs::write(&path, "x").unwrap();
        assert!(matches!(read_cursor(&path), Err(IngestError::Cursor(..))));
    }

    #[test]
    fn the_block_program_loads_with_its_hashes() {
        let program = BlockProgram::load().unwrap();
        assert_eq!(program.hash, ContentHash::of(&program.json));
        assert!(program.cairo_hash.starts_with("0x"));
    }
}
