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
    use super::*;
    use crate::store::{SqliteStore, StoreConfig};
    use starfarm_sequencer::Felt;

    fn record(profile: &str) -> BlockProven {
        BlockProven {
            block_number: 4,
            block_hash: Felt::ONE,
            parent_hash: Felt::ZERO,
            previous_state_root: Felt::ZERO,
            new_state_root: Felt::TWO,
            tx_count: 0,
            cairo_program_hash: "0x1".into(),
            profile: profile.into(),
            chunks: Vec::new(),
            messages_to_l1: Vec::new(),
            messages_to_l2: Vec::new(),
        }
    }

    #[test]
    fn ranges_are_attested_at_the_profile_security() {
        let ranges = block_ranges(record("production")).unwrap();
        assert_eq!(ranges.security_bits, 96);
        assert_eq!(
            block_ranges(record("test")).unwrap().security_bits,
            SecurityProfile::Test.security_bits()
        );
        let err = block_ranges(record("nosuch")).unwrap_err();
        assert!(
            matches!(err, ProvenRangesError::Profile { block: 4, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_empty_farm_has_nothing_proven() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("jobs.sqlite"), StoreConfig::default())
            .await
            .unwrap();
        let farm = FarmBlocks(Arc::new(store));
        assert_eq!(farm.ranges(0).await.unwrap(), None);
        assert_eq!(farm.proven_from(0).await.unwrap(), 0);
    }
}
