//! The REST API over a real socket: a SQLite store in a temporary folder, blobs in a folder,
//! no workers (nothing is proven here).

// Helpers outside `#[test]` functions unwrap too (clippy's allow-unwrap-in-tests does not reach them).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use starfarm_scheduler::StoreConfig;

#[path = "support/http.rs"]
mod http;
use http::{error, fibonacci, json_file, Api};

const KEY: &str = "test-key";
const BODY_LIMIT: usize = 512 * 1024;

struct Server;

impl Server {
    async fn start() -> Api {
        Api::start(KEY, StoreConfig::default(), |config| {
            config.max_body_bytes = BODY_LIMIT
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_needs_a_valid_api_key() {
    let s = Server::start().await;
    let url = format!("{}/v1/jobs", s.url);
    let response = s.client.post(&url).json(&fibonacci()).send().await.unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
    error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = s
        .client
        .post(&url)
        .bearer_auth("wrong")
        .json(&fibonacci())
        .send()
        .await
        .unwrap();
    error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = s.client.get(&url).send().await.unwrap();
    error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_413() {
    let s = Server::start().await;
    let body = vec![b' '; BODY_LIMIT + 1];
    let response = s
        .post("/v1/jobs")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let reason = error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(reason.contains(&BODY_LIMIT.to_string()), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_submissions_are_400_with_a_reason() {
    let s = Server::start().await;
    let submit = |body: Vec<u8>| {
        s.post("/v1/jobs")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let reason = error(
        submit(b"{not json".to_vec()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(reason.contains("not a valid submission"), "{reason}");

    let mut body = fibonacci();
    body["program"] = json_file("tests/programs/missing_builtins.json");
    let reason = error(
        submit(serde_json::to_vec(&body).unwrap()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_program",
    )
    .await;
    assert!(reason.contains("builtins"), "{reason}");

    body["program"] = json_file("tests/programs/not_proof_mode.json");
    let reason = error(
        submit(serde_json::to_vec(&body).unwrap()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_program",
    )
    .await;
    assert!(reason.contains("proof mode"), "{reason}");

    body["program"] = json!({"garbage": true});
    error(
        submit(serde_json::to_vec(&body).unwrap()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_program",
    )
    .await;

    let mut body = fibonacci();
    body["input"] = json!([1, "not a felt"]);
    let reason = error(
        submit(serde_json::to_vec(&body).unwrap()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
    assert!(reason.contains("[1]"), "{reason}");

    // Programs run at submission: one that fails is refused before it becomes a job.
    let mut body = fibonacci();
    body["program"] = json_file("tests/programs/failing_assert.json");
    body["input"] = json!([42]);
    let reason = error(
        submit(serde_json::to_vec(&body).unwrap()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "program_failed",
    )
    .await;
    assert!(reason.contains("the program failed"), "{reason}");

    let mut body = fibonacci();
    body["profile"] = json!("fastest");
    let reason = error(
        submit(serde_json::to_vec(&body).unwrap()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_profile",
    )
    .await;
    assert!(reason.contains("fastest"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_life_cycle_without_workers() {
    let s = Server::start().await;
    let response = s.post("/v1/jobs").json(&fibonacci()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["state"], "queued");
    assert_eq!(job["kind"], "cairo_proof");
    assert_eq!(job["profile"], "test");
    let id = job["id"].as_i64().unwrap();

    let response = s.post("/v1/jobs").json(&fibonacci()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "idempotent");
    let again: Value = response.json().await.unwrap();
    assert_eq!(again["id"], id);

    let got: Value = s
        .get(&format!("/v1/jobs/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, job);

    let list: Value = s
        .get("/v1/jobs?state=queued&limit=10")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(list["jobs"][0]["id"], id);
    let response = s.get("/v1/jobs?state=running").send().await.unwrap();
    error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Nothing proves here: the wait times out and shows the job still queued.
    let started = std::time::Instant::now();
    let waited: Value = s
        .get(&format!("/v1/jobs/{id}/wait?timeout_secs=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(waited["finished"], false);
    assert_eq!(waited["job"]["state"], "queued");

    let response = s
        .get(&format!("/v1/jobs/{id}/artifact"))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::CONFLICT, "not_done").await;

    let metrics = s.metrics().await;
    assert!(
        metrics.contains("starfarm_jobs{state=\"queued\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("starfarm_queue_depth 1"), "{metrics}");

    // A wait in progress answers as soon as the job is cancelled.
    let waiter = {
        let request = s.get(&format!("/v1/jobs/{id}/wait?timeout_secs=30"));
        tokio::spawn(async move { request.send().await.unwrap().json::<Value>().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cancelled: Value = s
        .post(&format!("/v1/jobs/{id}/cancel"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["state"], "cancelled");
    let waited = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(waited["finished"], true);
    assert_eq!(waited["job"]["state"], "cancelled");

    let metrics = s.metrics().await;
    assert!(
        metrics.contains("starfarm_jobs{state=\"cancelled\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("starfarm_queue_depth 0"), "{metrics}");

    // Once cancelled, the same submission makes a new job.
    let response = s.post("/v1/jobs").json(&fibonacci()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_jobs_and_routes_are_404() {
    let s = Server::start().await;
    for path in [
        "/v1/jobs/999",
        "/v1/jobs/999/wait?timeout_secs=0",
        "/v1/jobs/999/artifact",
    ] {
        let reason = error(
            s.get(path).send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert!(reason.contains("999"), "{reason}");
    }
    let response = s.post("/v1/jobs/999/cancel").send().await.unwrap();
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = s.get("/v1/nothing").send().await.unwrap();
    error(response, StatusCode::NOT_FOUND, "no_route").await;
    let response = s.get("/v1/jobs/abc").send().await.unwrap();
    error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

/// Every route the router serves, by method and path template.
const ROUTES: [(&str, &str); 17] = [
    ("post", "/v1/jobs"),
    ("get", "/v1/jobs"),
    ("get", "/v1/jobs/{id}"),
    ("post", "/v1/jobs/{id}/cancel"),
    ("get", "/v1/jobs/{id}/wait"),
    ("get", "/v1/jobs/{id}/events"),
    ("get", "/v1/jobs/{id}/artifact"),
    ("post", "/v1/workers/claim"),
    ("post", "/v1/workers/heartbeat"),
    ("post", "/v1/workers/phase"),
    ("post", "/v1/workers/complete"),
    ("post", "/v1/workers/fail"),
    ("post", "/v1/workers/release"),
    ("get", "/v1/blobs/{sha256}"),
    ("get", "/openapi.json"),
    ("get", "/metrics"),
    ("get", "/health"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_covers_every_route() {
    let s = Server::start().await;
    let response = s
        .client
        .get(format!("{}/openapi.json", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    for schema in [
        "SubmitRequest",
        "JobView",
        "JobList",
        "WaitResponse",
        "ClaimRequest",
        "ClaimResponse",
        "LeaseView",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }

    let job = &doc["components"]["schemas"]["JobView"]["properties"];
    for field in ["seconds_by_phase", "estimated_cost_usd"] {
        assert!(job[field].is_object(), "JobView.{field}: {job}");
    }
    let complete = doc["paths"]["/v1/workers/complete"]["post"]["parameters"].to_string();
    assert!(complete.contains("price_per_hour_usd"), "{complete}");
    let events = &doc["paths"]["/v1/jobs/{id}/events"]["get"]["responses"]["200"]["content"];
    assert!(events["text/event-stream"].is_object(), "{events}");

    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["responses"].is_object(), "{method} {path} has responses");
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut expected: Vec<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    documented.sort();
    assert_eq!(documented, expected);

    // Every documented operation is served (none falls through to `no_route`/405).
    for (method, path) in &documented {
        let url = format!("{}{}", s.url, path.replace("{id}", "1"));
        let request = match method.as_str() {
            "get" => s.client.get(&url),
            "post" => s.client.post(&url),
            other => panic!("unexpected method {other}"),
        };
        let response = request.bearer_auth(KEY).send().await.unwrap();
        assert_ne!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        if response.status() == StatusCode::NOT_FOUND {
            let body: Value = response.json().await.unwrap();
            assert_ne!(body["error"]["code"], "no_route", "{method} {path}");
        }
    }
    let response = s
        .client
        .delete(format!("{}/v1/jobs", s.url))
        .send()
        .await
        .unwrap();
    error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;

    let health = s
        .client
        .get(format!("{}/health", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
}
