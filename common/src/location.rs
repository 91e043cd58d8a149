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
        let options = std::env::vars()
            .filter(|(key, _)| key.starts_with("AWS_"))
            .map(|(key, value)| (key.to_ascii_lowercase(), value));
        return open_url(location, options);
    }
    std::fs::create_dir_all(location)?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(location)?;
    Ok((Arc::new(store), Path::default()))
}

/// How long object_store retries one request before its caller hears of the failure. Its
/// default (10 retries within 3 minutes) would hide an S3 outage for about a minute per
/// request: the sequencer could not count and log failed publishing rounds, and the
/// scheduler's clients would wait instead of getting a 503. Every caller retries on its own.
fn bounded_retries() -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_secs(1),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: std::time::Duration::from_secs(5),
    }
}

/// The store an object_store URL names, and the prefix within it, with `options` (lower-case
/// object_store keys such as `aws_endpoint`; those the store does not know are ignored). S3
/// requests give up after [`bounded_retries`].
pub fn open_url<K, V>(
    url: &str,
    options: impl IntoIterator<Item = (K, V)>,
) -> Result<(Arc<dyn ObjectStore>, Path), LocationError>
where
    K: AsRef<str>,
    V: Into<String>,
{
    // The HTTP client needs a rustls crypto provider; an error only means one is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = url::Url::parse(url)?;
    let (scheme, prefix) =
        object_store::ObjectStoreScheme::parse(&url).map_err(object_store::Error::from)?;
    if scheme != object_store::ObjectStoreScheme::AmazonS3 {
        let (store, prefix) = object_store::parse_url_opts(&url, options)?;
        return Ok((Arc::from(store), prefix));
    }
    let builder = options.into_iter().fold(
        object_store::aws::AmazonS3Builder::new().with_url(url.as_str()),
        |builder, (key, value)| match key.as_ref().parse() {
            Ok(key) => builder.with_config(key, value),
            Err(_) => builder,
        },
    );
    let store = builder.with_retry(bounded_retries()).build()?;
    Ok((Arc::new(store), prefix))
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

    /// A request to an S3 server that does not answer is signed, sent, and an error within
    /// seconds (object_store's own retries would take about a minute), so callers can count,
    /// log and retry it.
    #[tokio::test]
    async fn an_unreachable_s3_server_fails_fast() {
        use object_store::ObjectStoreExt;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let endpoint = format!("http://{}", closed.local_addr().expect("address"));
        drop(closed);
        let options = [
            ("aws_endpoint", endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "key"),
            ("aws_secret_access_key", "secret"),
            ("aws_region", "us-east-1"),
            ("not_an_option", "ignored"),
        ];
        let (store, prefix) = open_url("s3://bucket/a/b", options).expect("an S3 store");
        assert_eq!(prefix.as_ref(), "a/b");
        let started = std::time::Instant::now();
        let err = store
            .head(&prefix.clone().join("object"))
            .await
            .expect_err("nothing listens");
        let waited = started.elapsed();
        assert!(
            waited < std::time::Duration::from_secs(10),
            "{waited:?}: {err}"
        );
        // Signed and sent (a build without a crypto provider fails before sending), then
        // retried as bounded here.
        assert!(err.to_string().contains("max_retries: 3"), "{err}");
    }
}
