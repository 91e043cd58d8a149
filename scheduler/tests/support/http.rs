//! Helpers of the HTTP API tests (`api.rs`, `workers.rs`): example requests and the JSON error
//! shape.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{json, Value};

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
