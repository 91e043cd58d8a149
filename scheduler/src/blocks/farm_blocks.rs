//! [`FarmBlocks`]: the farm's proven blocks as the settlement line reads them (the
//! [`ProvenRanges`] port of `starfarm-common`, driven by `starfarm-l1`'s settler): a block's
//! ranges are its chunks' outputs, once its aggregate job is done, attested at its profile's
//! conjectured security.

use std::sync::Arc;

use starfarm_common::settlement::{BlockRanges, ProvenRanges};
use starfarm_prover::SecurityProfile;

use super::{proven_blocks, BlockProven, ProvenBlock};
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
}

impl ProvenRanges for FarmBlocks {
    type Error = ProvenRangesError;

    async fn ranges(&self, number: u64) -> Result<Option<BlockRanges>, ProvenRangesError> {
        let block = self
            .proven()
            .await?
            .into_iter()
            .find(|b| b.record.block_number == number);
        block.map(|b| block_ranges(b.record)).transpose()
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
fn block_ranges(record: BlockProven) -> Result<BlockRanges, ProvenRangesError> {
    let profile: SecurityProfile =
        record
            .profile
            .parse()
            .map_err(|reason| ProvenRangesError::Profile {
                block: record.block_number,
                reason,
            })?;
    Ok(BlockRanges {
        outputs: record.chunks.into_iter().map(|c| c.output).collect(),
        security_bits: profile.security_bits(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::blocks::ProvenChunk;
    use crate::store::{SqliteStore, StoreConfig};
    use crate::{ContentHash, JobId, JobKind, JobSpec, WorkerCapabilities};
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
        let capabilities = WorkerCapabilities {
            memory_bytes: u64::MAX,
            backends: Vec::new(),
            kinds: vec![JobKind::BlockAggregate],
        };
        let claimed = store.claim("aggregator", &capabilities, Duration::from_secs(60));
        let (_, lease) = claimed.await.unwrap().expect("the aggregate job");
        let result = serde_json::to_value(record).unwrap();
        let hash = ContentHash::of(result.to_string().as_bytes());
        store.complete(&lease, &hash, result).await.unwrap();
    }

    #[test]
    fn ranges_are_attested_at_the_profile_security() {
        let ranges = block_ranges(record(4, "production")).unwrap();
        assert_eq!(ranges.security_bits, 96);
        assert_eq!(
            block_ranges(record(4, "test")).unwrap().security_bits,
            SecurityProfile::Test.security_bits()
        );
        let err = block_ranges(record(4, "nosuch")).unwrap_err();
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
        assert_eq!(ranges.security_bits, 96);
        assert_eq!(farm.ranges(6).await.unwrap(), None);
        assert_eq!(farm.proven_from(0).await.unwrap(), 2);
        assert_eq!(farm.proven_from(5).await.unwrap(), 1);
        assert_eq!(farm.proven_from(6).await.unwrap(), 0);
    }
}
