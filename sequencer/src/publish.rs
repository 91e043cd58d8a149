//! Publishing closed blocks to an object store (a local folder by default, or any
//! object_store URL the build supports). Objects are content-addressed
//! (`objects/<sha256>.json`); each block number has a manifest (`blocks/<number>.json`)
//! naming the block and its prover input by hash. Readers (scheduler, nodes) check hashes.

use std::sync::Arc;

use object_store::{path::Path, ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use starfarm_common::location::{open_location, LocationError};
use starknet_types_core::felt::Felt;

use crate::block::Block;
use crate::store::{Store, META_PUBLISH_CURSOR};
use crate::tx::hex_u64;

/// Version of the manifest format.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("object store location {0:?}: {1}")]
    Location(String, LocationError),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("{path}: content hash {actual} does not match the manifest's {expected}")]
    Corrupt {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("{0}: {1}")]
    Decode(String, serde_json::Error),
    #[error(transparent)]
    Database(#[from] crate::store::StoreError),
    #[error("prover input of block {0}: {1}")]
    ProverInput(u64, String),
}

/// A content-addressed object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// What `blocks/<number>.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockManifest {
    pub format_version: u32,
    #[serde(with = "hex_u64")]
    pub number: u64,
    pub block_hash: Felt,
    pub parent_hash: Felt,
    pub state_root: Felt,
    #[serde(with = "hex_u64")]
    pub tx_count: u64,
    pub block: ObjectRef,
    pub prover_input: Option<ObjectRef>,
}

/// Builds the prover input of a closed block (the block program's witness), as JSON bytes.
pub type ProverInputSource = dyn Fn(&Store, &Block) -> Result<Vec<u8>, String> + Send + Sync;

#[derive(Clone)]
pub struct Publisher {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    prover_input: Option<Arc<ProverInputSource>>,
}

impl Publisher {
    /// A folder path, or an object_store URL (`file:///…`, `memory:///`, `s3://…`), as
    /// [`open_location`] reads it.
    pub fn from_location(location: &str) -> Result<Self, PublishError> {
        let (store, prefix) =
            open_location(location).map_err(|e| PublishError::Location(location.to_string(), e))?;
        Ok(Self::new(store, prefix))
    }

    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        Publisher {
            store,
            prefix,
            prover_input: None,
        }
    }

    /// Publishes each block's prover input too, built by `source`.
    pub fn with_prover_input(mut self, source: Arc<ProverInputSource>) -> Self {
        self.prover_input = Some(source);
        self
    }

    fn path(&self, relative: &str) -> Path {
        Path::from(format!("{}/{relative}", self.prefix).trim_start_matches('/'))
    }

    /// Stores bytes under their SHA-256 (no-op when already there).
    pub async fn put_object(&self, bytes: Vec<u8>) -> Result<ObjectRef, PublishError> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let relative = format!("objects/{sha256}.json");
        let size = bytes.len() as u64;
        let path = self.path(&relative);
        // The name (the hash) vouches for an object only at its full size: a store whose
        // writes are not atomic (a file-backed S3 server killed mid-write) can keep a cut copy.
        match self.store.head(&path).await {
            Ok(meta) if meta.size == size => {}
            _ => {
                self.store.put(&path, PutPayload::from(bytes)).await?;
            }
        }
        Ok(ObjectRef {
            path: relative,
            sha256,
            size,
        })
    }

    /// Reads an object and checks its hash.
    pub async fn get_object(&self, object: &ObjectRef) -> Result<Vec<u8>, PublishError> {
        let bytes = self
            .store
            .get(&self.path(&object.path))
            .await?
            .bytes()
            .await?
            .to_vec();
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != object.sha256 {
            return Err(PublishError::Corrupt {
                path: object.path.clone(),
                expected: object.sha256.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    pub async fn publish_block(
        &self,
        db: &Store,
        block: &Block,
    ) -> Result<BlockManifest, PublishError> {
        let bytes =
            serde_json::to_vec(block).map_err(|e| PublishError::Decode("block".into(), e))?;
        let block_ref = self.put_object(bytes).await?;
        let prover_input = match &self.prover_input {
            Some(source) => {
                let bytes = source(db, block)
                    .map_err(|e| PublishError::ProverInput(block.header.number, e))?;
                Some(self.put_object(bytes).await?)
            }
            None => None,
        };
        let h = &block.header;
        let manifest = BlockManifest {
            format_version: MANIFEST_VERSION,
            number: h.number,
            block_hash: h.block_hash,
            parent_hash: h.parent_hash,
            state_root: h.state_root,
            tx_count: h.tx_count,
            block: block_ref,
            prover_input,
        };
        let bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| PublishError::Decode("manifest".into(), e))?;
        self.store
            .put(
                &self.path(&manifest_name(h.number)),
                PutPayload::from(bytes),
            )
            .await?;
        Ok(manifest)
    }

    /// Publishes every closed block after the stored cursor, in order.
    pub async fn publish_pending(&self, db: &Store) -> Result<u64, PublishError> {
        let mut next = db.meta(META_PUBLISH_CURSOR)?.unwrap_or(0);
        let mut published = 0;
        while let Some(block) = db.block(next)? {
            self.publish_block(db, &block).await?;
            next += 1;
            db.set_meta(META_PUBLISH_CURSOR, next)?;
            published += 1;
        }
        Ok(published)
    }

    /// The manifest of block `number`, if published.
    pub async fn manifest(&self, number: u64) -> Result<Option<BlockManifest>, PublishError> {
        let name = manifest_name(number);
        match self.store.get(&self.path(&name)).await {
            Ok(r) => {
                let bytes = r.bytes().await?;
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| PublishError::Decode(name, e))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The highest block number with a manifest (None when nothing is published). Lists the
    /// manifests: a reader calls it to size its catch-up, then probes `manifest(n + 1)`.
    pub async fn highest_published(&self) -> Result<Option<u64>, PublishError> {
        use futures::TryStreamExt;
        let prefix = self.path("blocks");
        let mut highest = None;
        let mut listing = self.store.list(Some(&prefix));
        while let Some(meta) = listing.try_next().await? {
            let number = meta
                .location
                .filename()
                .and_then(|name| name.strip_suffix(".json"))
                .and_then(|digits| digits.parse::<u64>().ok());
            if let Some(number) = number {
                highest = highest.max(Some(number));
            }
        }
        Ok(highest)
    }

    /// The block a manifest names, hash-checked.
    pub async fn block(&self, manifest: &BlockManifest) -> Result<Block, PublishError> {
        let bytes = self.get_object(&manifest.block).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| PublishError::Decode(manifest.block.path.clone(), e))
    }
}

/// `blocks/<number, 12 digits>.json`: sorts by number in listings.
pub fn manifest_name(number: u64) -> String {
    format!("blocks/{number:012}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cut copy under an object's name (a store killed mid-write) is not taken for the
    /// object: publishing writes it again.
    #[tokio::test]
    async fn a_cut_copy_of_an_object_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let publisher = Publisher::from_location(dir.path().to_str().unwrap()).unwrap();
        let bytes = br#"{"block":1}"#.to_vec();
        let object = publisher.put_object(bytes.clone()).await.unwrap();
        std::fs::write(dir.path().join(&object.path), &bytes[..5]).unwrap();
        assert_eq!(publisher.put_object(bytes.clone()).await.unwrap(), object);
        assert_eq!(publisher.get_object(&object).await.unwrap(), bytes);
    }
}
