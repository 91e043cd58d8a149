//! Opening an object store from a location: a folder (created if missing), or an
//! object_store URL: `file:///…`, `memory:///`, `s3://bucket/prefix`. S3 settings come from
//! the environment as the AWS tools name them (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT` for MinIO and other S3-compatible stores, `AWS_ALLOW_HTTP`).
//! The sequencer publishes its blocks there, the scheduler keeps its blobs there.

use std::sync::Arc;

use object_store::path::Path;
use object_store::ObjectStore;

/// Why a location names no object store.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error(transparent)]
    Url(#[from] url::ParseError),
    #[error(transparent)]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Folder(#[from] std::io::Error),
}

/// The object store `location` names, and the prefix within it.
pub fn open_location(location: &str) -> Result<(Arc<dyn ObjectStore>, Path), LocationError> {
    if location.contains("://") {
        // https needs a rustls crypto provider; an error only means one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = url::Url::parse(location)?;
        let options = std::env::vars()
            .filter(|(key, _)| key.starts_with("AWS_"))
            .map(|(key, value)| (key.to_ascii_lowercase(), value));
        let (store, prefix) = object_store::parse_url_opts(&url, options)?;
        return Ok((Arc::from(store), prefix));
    }
    std::fs::create_dir_all(location)?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(location)?;
    Ok((Arc::new(store), Path::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S3 locations are understood (settings from the environment); what is not a location
    /// says why.
    #[test]
    fn s3_urls_open_and_bad_locations_explain() {
        let (_, prefix) = open_location("s3://blocks/devnet/objects").expect("an S3 store");
        assert_eq!(prefix.as_ref(), "devnet/objects");
        let err = open_location("nosuch://bucket")
            .map(|_| ())
            .expect_err("unknown scheme")
            .to_string();
        assert!(err.contains("nosuch"), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("objects");
        open_location(folder.to_str().expect("UTF-8")).expect("a folder store");
        assert!(folder.is_dir());
    }
}
