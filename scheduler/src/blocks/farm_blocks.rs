//! [`FarmBlocks`]: the farm's proven blocks as the settlement line reads them (the
//! [`ProvenRanges`] port of `starfarm-common`, driven by `starfarm-l1`'s settler): a block's
//! ranges are its chunks' outputs (and where their proofs are), once its aggregate job is done, attested at its profile's
//! conjectured security, with what proving it cost.

use std::sync::Arc;

use starfarm_common::settlement::{BlockRanges, ProvenRanges};
use starfarm_prover::SecurityProfile;

use super::{proven_blocks, BlockProven, ProvenBlock};
use crate::wire::estimated_cost_usd;
use crate::{JobStore, StoreError};

/// Why the proven blocks could not be read as ranges.
#[derive(Debug, thiserror::Error)]
pub enum ProvenRangesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record names a profile this build does not know.
    #[error("block {block}: {reason}")]
    Profile { block: u64, reason: String },
}

/// The proven blocks of the scheduler's job store.
#[derive(Clone)]
pub struct FarmBlocks(pub Arc<dyn JobStore>);

impl FarmBlocks {
    async fn proven(&self) -> Result<Vec<ProvenBlock>, StoreError> {
        proven_blocks(self.0.as_ref()).await
    }

    /// What proving `block` cost: the estimated costs of its chunk jobs and of its aggregate
    /// job (every attempt's seconds at the price of the worker that handed the proof in).
    /// Jobs done without a price add 0, as does the aggregation while the scheduler runs
    /// it (its machine has no price), and a job no longer in the store.
    async fn proof_cost_usd(&self, block: &ProvenBlock) -> Result<f64, StoreError> {
        let chunks = block.record.chunks.iter().map(|c| c.job_id);
        let mut usd = 0.0;
        for id in chunks.chain([block.aggregate_job]) {
            usd += match self.0.get(id).await {
                Ok(job) => estimated_cost_usd(&job).unwrap_or(0.0),
                Err(StoreError::NotFound(_)) => 0.0,
                Err(e) => return Err(e),
            };
        }
        Ok(usd)
    }
}

impl ProvenRanges for FarmBlocks {
    type Error = ProvenRangesError;

    async fn ranges(&self, number: u64) -> Result<Option<BlockRanges>, ProvenRangesError> {
        let block = self
            .proven()
            .await?
            .into_iter()
            .find(|b| b.record.block_number == number);
        let Some(block) = block else {
            return Ok(None);
        };
        let cost = self.proof_cost_usd(&block).await?;
        block_ranges(block.record, cost).map(Some)
    }

    async fn proven_from(&self, from: u64) -> Result<u64, ProvenRangesError> {
        let proven = self.proven().await?;
        Ok(proven
            .iter()
            .filter(|b| b.record.block_number >= from)
            .count() as u64)
    }
}

/// A proven block's ranges, attested at its profile's conjectured security.
fn block_ranges(
    record: BlockProven,
    proof_cost_usd: f64,
) -> Result<BlockRanges, ProvenRangesError> {
    let profile: SecurityProfile =
        record
            .profile
            .parse()
            .map_err(|reason| ProvenRangesError::Profile {
                block: record.block_number,
                reason,
            })?;
    Ok(BlockRanges {
        artifacts: record
            .chunks
            .iter()
            .map(|c| c.artifact_hash.to_string())
            .collect(),
        outputs: record.chunks.into_iter().map(|c| c.output).collect(),
        security_bits: profile.security_bits(),
        proof_cost_usd,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::blocks::ProvenChunk;
    use crate::store::{SqliteStore, StoreConfig};
    use crate::{
        ContentHash, JobId, JobKind, JobSpec, Lease, ManualClock, Phase, WorkerCapabilities,
    };
    use serde_json::json;
    use starfarm_sequencer::Felt;

    fn record(block_number: u64, profile: &str) -> BlockProven {
        let chunk = |tx_start: u64, tx_end: u64| ProvenChunk {
            job_id: JobId(tx_start as i64),
            tx_start,
            tx_end,
            artifact_hash: ContentHash::of(&[tx_start as u8]),
            fact: "0x0".into(),
            output: vec![Felt::from(block_number), Felt::from(tx_start)],
        };
        BlockProven {
            block_number,
            block_hash: Felt::ONE,
            parent_hash: Felt::ZERO,
            previous_state_root: Felt::ZERO,
            new_state_root: Felt::TWO,
            tx_count: 3,
            cairo_program_hash: "0x1".into(),
            profile: profile.into(),
            chunks: vec![chunk(0, 2), chunk(2, 3)],
            messages_to_l1: Vec::new(),
            messages_to_l2: Vec::new(),
        }
    }

    /// The lease of the queued job of `kind`.
    async fn claim_a(store: &dyn JobStore, kind: JobKind) -> Lease {
        let capabilities = WorkerCapabilities {
            memory_bytes: u64::MAX,
            device_memory_bytes: 0,
            backends: Vec::new(),
            kinds: vec![kind],
        };
        let claimed = store.claim("w", &capabilities, Duration::from_secs(3600));
        let (_, lease) = claimed.await.unwrap().expect("a queued job of the kind");
        lease
    }

    /// Records `record` as the result of a done aggregate job, as the aggregator does.
    async fn prove(store: &dyn JobStore, record: &BlockProven) {
        let input = ContentHash::of(&record.block_number.to_be_bytes());
        let spec = JobSpec::new(
            JobKind::BlockAggregate,
            ContentHash::of(b"block program"),
            input,
            record.profile.clone(),
        );
        store.submit(spec).await.unwrap();
        let lease = claim_a(store, JobKind::BlockAggregate).await;
        let result = serde_json::to_value(record).unwrap();
        let hash = ContentHash::of(result.to_string().as_bytes());
        store.complete(&lease, &hash, result).await.unwrap();
    }

    /// A block-chunk job proven for `seconds` (on `clock`, the store's) by a worker asking
    /// `price` USD per hour (`None`: no price).
    async fn prove_chunk(
        store: &dyn JobStore,
        clock: &ManualClock,
        (input, seconds): (u8, i64),
        price: Option<f64>,
    ) -> JobId {
        let program = ContentHash::of(b"block program");
        let spec = JobSpec::new(
            JobKind::BlockChunk,
            program,
            ContentHash::of(&[input]),
            "test",
        );
        let job = store.submit(spec).await.unwrap().job;
        let lease = claim_a(store, JobKind::BlockChunk).await;
        store.set_phase(&lease, Phase::Proving).await.unwrap();
        clock.advance(seconds * 1000);
        let result = price.map_or(json!({}), |p| json!({ "price_per_hour_usd": p }));
        let hash = ContentHash::of(&[input]);
        store.complete(&lease, &hash, result).await.unwrap();
        job.id
    }

    #[tokio::test]
    async fn a_block_costs_its_chunk_proofs_at_their_workers_prices() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_000_000);
        let config = StoreConfig {
            clock: Arc::new(clock.clone()),
            ..StoreConfig::default()
        };
        let path = dir.path().join("jobs.sqlite");
        let farm = FarmBlocks(Arc::new(SqliteStore::open(path, config).await.unwrap()));
        let store = farm.0.as_ref();
        // 36 s at 10 USD/h and 72 s at 2.5 USD/h: 0.1 + 0.05; none without a price.
        let priced = prove_chunk(store, &clock, (1, 36), Some(10.0)).await;
        let cheaper = prove_chunk(store, &clock, (2, 72), Some(2.5)).await;
        let unpriced = prove_chunk(store, &clock, (3, 100), None).await;
        let mut block = record(7, "test");
        block.chunks[0].job_id = priced;
        block.chunks[1].job_id = cheaper;
        let more = [unpriced, JobId(999)].map(|job_id| ProvenChunk {
            job_id,
            ..block.chunks[1].clone()
        });
        block.chunks.extend(more);
        prove(store, &block).await;
        let ranges = farm.ranges(7).await.unwrap().expect("block 7 is proven");
        let cost = ranges.proof_cost_usd;
        assert!((cost - 0.15).abs() < 1e-12, "{cost}");
    }

    #[test]
    fn ranges_are_attested_at_the_profile_security() {
        let ranges = block_ranges(record(4, "production"), 0.0).unwrap();
        assert_eq!(ranges.security_bits, 96);
        assert_eq!(
            block_ranges(record(4, "test"), 0.0).unwrap().security_bits,
            SecurityProfile::Test.security_bits()
        );
        let err = block_ranges(record(4, "nosuch"), 0.0).unwrap_err();
        assert!(
            matches!(err, ProvenRangesError::Profile { block: 4, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_block_has_ranges_once_its_aggregate_job_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("jobs.sqlite"), StoreConfig::default())
            .await
            .unwrap();
        let farm = FarmBlocks(Arc::new(store));
        assert_eq!(farm.ranges(4).await.unwrap(), None);
        assert_eq!(farm.proven_from(0).await.unwrap(), 0);

        for number in [4, 5] {
            prove(farm.0.as_ref(), &record(number, "production")).await;
        }
        let ranges = farm.ranges(4).await.unwrap().expect("block 4 is proven");
        let outputs = [0u64, 2].map(|start| vec![Felt::from(4u8), Felt::from(start)]);
        assert_eq!(
            ranges.outputs,
            outputs.to_vec(),
            "the chunks' outputs, in order"
        );
        let hashes = [0u8, 2].map(|start| ContentHash::of(&[start]).to_string());
        assert_eq!(
            ranges.artifacts,
            hashes.to_vec(),
            "where each range's proof is, in the outputs' order"
        );
        assert_eq!(ranges.security_bits, 96);
        assert_eq!(ranges.proof_cost_usd, 0.0, "no job had a price");
        assert_eq!(farm.ranges(6).await.unwrap(), None);
        assert_eq!(farm.proven_from(0).await.unwrap(), 2);
        assert_eq!(farm.proven_from(5).await.unwrap(), 1);
        assert_eq!(farm.proven_from(6).await.unwrap(), 0);
    }
}
