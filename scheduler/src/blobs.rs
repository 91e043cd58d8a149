//! Content-addressed blobs (programs, inputs, proof artifacts) in an `object_store`: each is
//! stored once under `objects/<sha256>` and read back only if its bytes still hash to its
//! name. The job store keeps the hashes ([`ContentHash`]); the bytes live here.

use crate::job::ContentHash;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use starfarm_common::location::{open_location, LocationError};
use std::sync::Arc;

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store location {location:?} cannot be used: {reason}")]
    Location {
        location: String,
        reason: LocationError,
    },
    #[error("blob {0} not found")]
    NotFound(ContentHash),
    #[error("blob {expected} is corrupt: its bytes hash to {actual}")]
    Corrupt {
        expected: ContentHash,
        actual: ContentHash,
    },
    #[error("blob store error: {0}")]
    Store(#[from] object_store::Error),
}

/// A content-addressed blob store; clones share the underlying store.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl BlobStore {
    /// A folder or an object_store URL, as [`open_location`] reads it (S3 included).
    pub fn open(location: &str) -> Result<Self, BlobError> {
        let (store, prefix) = open_location(location).map_err(|reason| BlobError::Location {
            location: location.to_owned(),
            reason,
        })?;
        Ok(Self::new(store, prefix))
    }

    /// Blobs under `prefix` of `store`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        Self { store, prefix }
    }

    /// A store that lives in memory only (tests).
    pub fn in_memory() -> Self {
        Self::new(
            Arc::new(object_store::memory::InMemory::new()),
            Path::default(),
        )
    }

    fn path(&self, hash: &ContentHash) -> Path {
        let relative = format!("objects/{hash}");
        if self.prefix.as_ref().is_empty() {
            Path::from(relative)
        } else {
            Path::from(format!("{}/{relative}", self.prefix))
        }
    }

    /// Stores `bytes` under their SHA-256 (nothing is written when they are there already)
    /// and returns it.
    pub async fn put(&self, bytes: Vec<u8>) -> Result<ContentHash, BlobError> {
        let hash = ContentHash::of(&bytes);
        let path = self.path(&hash);
        // The name (the hash) vouches for a blob only at its full size: a store whose writes
        // are not atomic (a file-backed S3 server killed mid-write) can keep a cut copy.
        match self.store.head(&path).await {
            Ok(meta) if meta.size == bytes.len() as u64 => {}
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {
                self.store.put(&path, PutPayload::from(bytes)).await?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(hash)
    }

    /// Reads the blob named `hash` and checks that its bytes still hash to it.
    pub async fn get(&self, hash: &ContentHash) -> Result<Vec<u8>, BlobError> {
        let result = match self.store.get(&self.path(hash)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::NotFound(hash.clone()))
            }
            Err(e) => return Err(e.into()),
        };
        let bytes = result.bytes().await?.to_vec();
        let actual = ContentHash::of(&bytes);
        if &actual != hash {
            return Err(BlobError::Corrupt {
                expected: hash.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Whether a blob named `hash` is stored (its bytes are not checked).
    pub async fn contains(&self, hash: &ContentHash) -> Result<bool, BlobError> {
        match self.store.head(&self.path(hash)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_round_trip_and_detects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path().to_str().unwrap()).unwrap();
        let hash = blobs.put(b"hello".to_vec()).await.unwrap();
        assert_eq!(hash, ContentHash::of(b"hello"));
        assert_eq!(blobs.put(b"hello".to_vec()).await.unwrap(), hash);
        assert_eq!(blobs.get(&hash).await.unwrap(), b"hello");
        assert!(blobs.contains(&hash).await.unwrap());
        let file = dir.path().join("objects").join(hash.as_str());
        assert!(file.exists(), "stored as objects/<sha256>");

        std::fs::write(&file, b"hel").unwrap();
        assert_eq!(blobs.put(b"hello".to_vec()).await.unwrap(), hash);
        assert_eq!(
            blobs.get(&hash).await.unwrap(),
            b"hello",
            "a cut copy is rewritten"
        );

        std::fs::write(&file, b"tampered").unwrap();
        assert!(matches!(
            blobs.get(&hash).await,
            Err(BlobError::Corrupt { .. })
        ));

        let missing = ContentHash::of(b"missing");
        assert!(matches!(
            blobs.get(&missing).await,
            Err(BlobError::NotFound(_))
        ));
        assert!(!blobs.contains(&missing).await.unwrap());
    }

    #[tokio::test]
    async fn memory_url() {
        let blobs = BlobStore::open("memory:///").unwrap();
        let hash = blobs.put(vec![1, 2, 3]).await.unwrap();
        assert_eq!(blobs.get(&hash).await.unwrap(), vec![1, 2, 3]);
    }
}
