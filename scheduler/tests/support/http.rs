//! Helpers of the HTTP API tests (`api.rs`, `workers.rs`): the API served in-process on a
//! free port over a SQLite store in a temporary folder, example requests and the JSON error
//! shape.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use starfarm_scheduler::api::{self, ApiConfig, ApiKeys, AppState};
use starfarm_scheduler::blobs::BlobStore;
use starfarm_scheduler::{JobStore, SqliteStore, StoreConfig};

/// The REST API on 127.0.0.1 (a free port), serving until the test ends.
pub struct Api {
    pub url: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn JobStore>,
    key: &'static str,
    _dir: tempfile::TempDir,
}

impl Api {
    /// `configure` adjusts the API settings (body limit…) before the server starts.
    pub async fn start(
        key: &'static str,
        store_config: StoreConfig,
        configure: impl FnOnce(&mut ApiConfig),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn JobStore> = Arc::new(
            SqliteStore::open(dir.path().join("jobs.sqlite"), store_config)
                .await
                .unwrap(),
        );
        Self::serve(store, dir, key, configure).await
    }

    /// The API over `store` (any backend), with `key` as its `--api-key` admin key and
    /// blobs under `dir`.
    pub async fn serve(
        store: Arc<dyn JobStore>,
        dir: tempfile::TempDir,
        key: &'static str,
        configure: impl FnOnce(&mut ApiConfig),
    ) -> Self {
        let blobs = BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap();
        let mut config = ApiConfig::new(ApiKeys::new([key]));
        configure(&mut config);
        let state = AppState::new(Arc::clone(&store), blobs, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(api::serve(listener, state, std::future::pending()));
        Self {
            url,
            client: reqwest::Client::new(),
            store,
            key,
            _dir: dir,
        }
    }

    /// An authenticated GET of `path`.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.url))
            .bearer_auth(self.key)
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The blob folder: what the blob store holds.
    pub fn blob_dir(&self) -> PathBuf {
        self._dir.path().join("blobs")
    }

    /// An authenticated POST to `path`.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.url))
            .bearer_auth(self.key)
    }
}

pub fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

pub fn json_file(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo_file(path)).unwrap()).unwrap()
}

pub fn fibonacci() -> Value {
    json!({
        "program": json_file("examples/fibonacci.json"),
        "input": json_file("examples/fibonacci.input.json"),
        "profile": "test",
    })
}

/// Asserts the JSON error shape and returns the reason.
pub async fn error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["reason"].as_str().unwrap().to_owned()
}
