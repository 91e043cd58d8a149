//! Helpers of the HTTP API tests (`api.rs`, `workers.rs`): the API served in-process on a
//! free port over a SQLite store in a temporary folder, example requests and the JSON error
//! shape.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    /// What the handlers share (metrics, change notifications), for tasks served beside.
    pub state: AppState,
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
        tokio::spawn(api::serve(listener, state.clone(), std::future::pending()));
        Self {
            url,
            client: reqwest::Client::new(),
            store,
            state,
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

    /// The JSON answer of an authenticated GET of `path`.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).send().await.unwrap().json().await.unwrap()
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

/// A server-sent event stream (`/v1/jobs/{id}/events`), read one event at a time.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// Opens the stream; panics unless the server answers 200 with `text/event-stream`.
    pub async fn open(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event's name and JSON data (keep-alive comments skipped), or `None` once the
    /// server ended the stream. Panics after 30 s without one.
    pub async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = "message".to_owned();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if !data.is_empty() {
                    return Some((name, serde_json::from_str(&data).unwrap()));
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.response.chunk())
                .await
                .expect("an event within 30 s")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event, which must be `state` with the job in `expected`.
    pub async fn expect_state(&mut self, expected: &str) -> Value {
        let (name, job) = self.next().await.expect("the stream goes on");
        assert_eq!(name, "state", "{job}");
        assert_eq!(job["state"], expected, "{job}");
        job
    }
}
