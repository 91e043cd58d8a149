//! Webhooks end to end: jobs submitted with a `callback_url` are POSTed, signed, to a local
//! receiver (axum on 127.0.0.1) once they are done, failed or cancelled; failed attempts are
//! retried with backoff by the store's (manual) clock, across restarts and without two
//! schedulers claiming one attempt. The store cases run on SQLite and on Postgres
//! (`STARFARM_TEST_POSTGRES_URL`), like `store.rs`.
#![cfg(feature = "api")]
// Helpers outside `#[test]` functions unwrap too (clippy's allow-unwrap-in-tests does not reach them).
#![allow(clippy::unwrap_used)]

#[path = "support/http.rs"]
mod http;
mod support;

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use reqwest::StatusCode as ClientStatus;
use serde_json::{json, Value};
use starfarm_scheduler::api::{self, ApiConfig, Metrics};
use starfarm_scheduler::webhooks::{signature, Deliverer, WebhookConfig};
use starfarm_scheduler::{
    ContentHash, Job, JobId, JobState, JobStore, Lease, StoreConfig, WebhookOutcome, WebhookState,
    WorkerCapabilities,
};
use support::{spec, Harness, T0};

const SECRET: &[u8] = b"a test webhook secret";
const KEY: &str = "webhook-key";

store_tests!(
    delivered_once_on_each_terminal_state_with_a_valid_signature,
    a_failing_receiver_is_retried_with_backoff_until_it_answers,
    the_last_failed_attempt_marks_the_delivery_failed,
    a_restarted_scheduler_still_delivers,
    an_attempt_of_a_dead_scheduler_is_taken_over_after_its_hold,
    two_schedulers_never_claim_the_same_delivery,
    a_private_address_is_refused_at_delivery_without_the_flag,
);

/// One request the receiver got.
struct Hit {
    headers: HeaderMap,
    body: Bytes,
}

/// An HTTP receiver on 127.0.0.1 answering with the scripted statuses, then 200.
#[derive(Clone)]
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

type Script = Arc<Mutex<VecDeque<u16>>>;

impl Receiver {
    async fn start(script: &[u16]) -> Self {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let script: Script = Arc::new(Mutex::new(script.iter().copied().collect()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state((Arc::clone(&hits), script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, hits }
    }

    fn count(&self) -> usize {
        self.hits.lock().unwrap().len()
    }

    /// The `n`th request's body, after checking its signature and JSON type.
    fn verified(&self, n: usize) -> (HeaderMap, Value) {
        let hits = self.hits.lock().unwrap();
        let hit = &hits[n];
        assert_eq!(hit.headers["content-type"], "application/json");
        let header = hit.headers[signature::HEADER].to_str().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        signature::verify(SECRET, header, &hit.body, now, 300).unwrap();
        assert!(
            signature::verify(b"another secret", header, &hit.body, now, 300).is_err(),
            "the signature depends on the secret"
        );
        (
            hit.headers.clone(),
            serde_json::from_slice(&hit.body).unwrap(),
        )
    }
}

async fn receive(
    State((hits, script)): State<(Arc<Mutex<Vec<Hit>>>, Script)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    hits.lock().unwrap().push(Hit { headers, body });
    let status = script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// Retries after 1 s, 2 s, 4 s … by the store's clock; private addresses allowed.
fn config() -> WebhookConfig {
    let mut config = WebhookConfig::new(SECRET);
    config.allow_private = true;
    config.retry_base = Duration::from_secs(1);
    config.retry_max = Duration::from_secs(60);
    config.timeout = Duration::from_secs(5);
    config.poll_interval = Duration::from_millis(20);
    config
}

fn deliverer(store: &Arc<dyn JobStore>, config: WebhookConfig) -> (Deliverer, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let deliverer =
        Deliverer::new(Arc::clone(store), Arc::new(config), Arc::clone(&metrics)).unwrap();
    (deliverer, metrics)
}

/// `starfarm_webhook_deliveries_total{result}`.
fn counted(metrics: &Metrics, result: &str) -> u64 {
    metrics
        .webhook_deliveries
        .with_label_values(&[result])
        .get()
}

/// A job with a callback to `url`, submitted straight to the store.
async fn submit(h: &Harness, name: &str, url: Option<&str>) -> JobId {
    let mut s = spec(name);
    s.callback_url = url.map(str::to_owned);
    h.store().submit(s).await.unwrap().job.id
}

/// Claims the next job.
async fn claim(store: &dyn JobStore) -> Lease {
    let worker = WorkerCapabilities {
        memory_bytes: 1 << 40,
        device_memory_bytes: 0,
        ..WorkerCapabilities::default()
    };
    let claimed = store.claim("w", &worker, Duration::from_secs(60)).await;
    claimed.unwrap().expect("a job to claim").1
}

/// Claims the next job and hands it in as done.
async fn finish(store: &dyn JobStore) -> Job {
    let lease = claim(store).await;
    let artifact = ContentHash::of(b"artifact");
    let result = json!({"steps": 1});
    store.complete(&lease, &artifact, result).await.unwrap()
}

fn webhook(job: &Job) -> &starfarm_scheduler::WebhookDelivery {
    job.webhook.as_ref().expect("the job has a webhook")
}

async fn delivered_once_on_each_terminal_state_with_a_valid_signature(h: &mut Harness) {
    let receiver = Receiver::start(&[]).await;
    let url = Some(receiver.url.as_str());
    let done = submit(h, "done", url).await;
    finish(h.store()).await;
    let failed = submit(h, "failed", url).await;
    let lease = claim(h.store()).await;
    h.store().fail(&lease, "boom", false).await.unwrap();
    let cancelled = submit(h, "cancelled", url).await;
    h.store().cancel(cancelled).await.unwrap();
    let queued = submit(h, "still queued", url).await;
    let silent = submit(h, "no callback", None).await;
    h.store().cancel(silent).await.unwrap();
    assert_eq!(h.store().get(silent).await.unwrap().webhook, None);

    let (deliverer, metrics) = deliverer(&h.store, config());
    assert_eq!(deliverer.deliver_due().await.unwrap(), 3);
    assert_eq!(receiver.count(), 3);
    let mut seen = HashSet::new();
    for n in 0..3 {
        let (headers, body) = receiver.verified(n);
        let id = JobId(body["id"].as_i64().unwrap());
        let expected = [(done, "done"), (failed, "failed"), (cancelled, "cancelled")];
        let (_, state) = expected.iter().find(|(j, _)| *j == id).unwrap();
        assert_eq!(body["state"], *state, "{body}");
        assert_eq!(body["callback_url"], receiver.url);
        assert_eq!(body["webhook"]["attempts"], 1);
        assert_eq!(headers["starfarm-delivery-attempt"], "1");
        let key = headers["idempotency-key"].to_str().unwrap();
        assert!(key.starts_with(&format!("starfarm-job-{id}-")), "{key}");
        seen.insert(id);
    }
    assert_eq!(seen.len(), 3, "one POST per finished job");

    // Delivered once: nothing is due any more, not even later.
    h.clock.advance(3_600_000);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 0);
    assert_eq!(receiver.count(), 3);
    for id in [done, failed, cancelled] {
        let job = h.store().get(id).await.unwrap();
        let w = webhook(&job);
        assert_eq!((w.state, w.attempts), (WebhookState::Delivered, 1));
        assert_eq!(w.delivered_at_ms, Some(T0));
        assert_eq!(w.last_error, None);
    }
    let queued = h.store().get(queued).await.unwrap();
    assert_eq!(webhook(&queued).state, WebhookState::Pending);
    assert_eq!(webhook(&queued).attempts, 0, "a live job is not delivered");
    assert_eq!(counted(&metrics, "delivered"), 3);
    assert_eq!(counted(&metrics, "retried"), 0);
}

async fn a_failing_receiver_is_retried_with_backoff_until_it_answers(h: &mut Harness) {
    let receiver = Receiver::start(&[500, 503]).await;
    let id = submit(h, "job", Some(&receiver.url)).await;
    finish(h.store()).await;
    let (deliverer, metrics) = deliverer(&h.store, config());

    assert_eq!(deliverer.deliver_due().await.unwrap(), 1);
    let job = h.store().get(id).await.unwrap();
    let w = webhook(&job);
    assert_eq!((w.state, w.attempts), (WebhookState::Pending, 1));
    assert_eq!(w.next_attempt_at_ms, T0 + 1_000, "first pause: 1 s");
    assert!(w.last_error.as_deref().unwrap().contains("500"), "{w:?}");

    assert_eq!(deliverer.deliver_due().await.unwrap(), 0, "backing off");
    h.clock.advance(999);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 0, "backing off");
    h.clock.advance(1);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 1);
    let job = h.store().get(id).await.unwrap();
    assert_eq!(webhook(&job).next_attempt_at_ms, T0 + 3_000, "then 2 s");
    assert!(webhook(&job).last_error.as_deref().unwrap().contains("503"));

    h.clock.advance(2_000);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 1);
    let job = h.store().get(id).await.unwrap();
    let w = webhook(&job);
    assert_eq!((w.state, w.attempts), (WebhookState::Delivered, 3));
    assert_eq!(w.delivered_at_ms, Some(T0 + 3_000));

    assert_eq!(receiver.count(), 3);
    let keys: HashSet<String> = (0..3)
        .map(|n| {
            let (headers, _) = receiver.verified(n);
            assert_eq!(headers["starfarm-delivery-attempt"], (n + 1).to_string());
            headers["idempotency-key"].to_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 1, "every attempt has the same idempotency key");
    assert_eq!(counted(&metrics, "retried"), 2);
    assert_eq!(counted(&metrics, "delivered"), 1);
}

async fn the_last_failed_attempt_marks_the_delivery_failed(h: &mut Harness) {
    let receiver = Receiver::start(&[500, 500, 500]).await;
    let id = submit(h, "job", Some(&receiver.url)).await;
    finish(h.store()).await;
    let mut config = config();
    config.max_attempts = 2;
    let (deliverer, metrics) = deliverer(&h.store, config);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 1);
    h.clock.advance(1_000);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 1);
    let job = h.store().get(id).await.unwrap();
    let w = webhook(&job);
    assert_eq!((w.state, w.attempts), (WebhookState::Failed, 2));
    assert!(w.last_error.as_deref().unwrap().contains("500"));
    h.clock.advance(3_600_000);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 0, "given up");
    assert_eq!(receiver.count(), 2);
    assert_eq!(counted(&metrics, "retried"), 1);
    assert_eq!(counted(&metrics, "failed"), 1);
}

async fn a_restarted_scheduler_still_delivers(h: &mut Harness) {
    let receiver = Receiver::start(&[500]).await;
    let id = submit(h, "job", Some(&receiver.url)).await;
    finish(h.store()).await;
    let (first, _) = deliverer(&h.store, config());
    assert_eq!(first.deliver_due().await.unwrap(), 1);
    drop(first);

    h.reopen().await; // a new scheduler process on the same database
    let (second, metrics) = deliverer(&h.store, config());
    assert_eq!(second.deliver_due().await.unwrap(), 0, "still backing off");
    h.clock.advance(1_000);
    assert_eq!(second.deliver_due().await.unwrap(), 1);
    let job = h.store().get(id).await.unwrap();
    let w = webhook(&job);
    assert_eq!((w.state, w.attempts), (WebhookState::Delivered, 2));
    assert_eq!(receiver.count(), 2);
    assert_eq!(counted(&metrics, "delivered"), 1);
}

async fn an_attempt_of_a_dead_scheduler_is_taken_over_after_its_hold(h: &mut Harness) {
    let receiver = Receiver::start(&[]).await;
    let id = submit(h, "job", Some(&receiver.url)).await;
    finish(h.store()).await;
    // A scheduler claims the attempt and dies before POSTing.
    let hold = Duration::from_secs(40);
    let claimed = h.store().claim_webhooks(10, hold).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(webhook(&claimed[0]).attempts, 1);

    let (alive, _) = deliverer(&h.store, config());
    assert_eq!(
        alive.deliver_due().await.unwrap(),
        0,
        "held by the dead one"
    );
    h.clock.advance(40_000);
    assert_eq!(alive.deliver_due().await.unwrap(), 1);
    let job = h.store().get(id).await.unwrap();
    assert_eq!(webhook(&job).state, WebhookState::Delivered);
    assert_eq!(webhook(&job).attempts, 2);
    assert_eq!(receiver.count(), 1);
    // The dead one's late report is fenced out: nothing changes.
    let late = WebhookOutcome::GaveUp {
        error: "late".into(),
    };
    assert!(!h.store().record_webhook(id, 1, &late).await.unwrap());
    let job = h.store().get(id).await.unwrap();
    assert_eq!(webhook(&job).state, WebhookState::Delivered);
}

async fn two_schedulers_never_claim_the_same_delivery(h: &mut Harness) {
    for n in 0..6 {
        submit(h, &format!("job {n}"), Some("http://127.0.0.1:9/hook")).await;
        finish(h.store()).await;
    }
    let hold = Duration::from_secs(40);
    let store = Arc::clone(&h.store);
    let (a, b) = tokio::join!(
        store.claim_webhooks(4, hold),
        h.store.claim_webhooks(4, hold)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let ids: HashSet<JobId> = a.iter().chain(&b).map(|j| j.id).collect();
    assert_eq!(a.len() + b.len(), 6, "every due delivery claimed once");
    assert_eq!(ids.len(), 6, "no delivery claimed twice");
    assert!(h.store().claim_webhooks(10, hold).await.unwrap().is_empty());
}

async fn a_private_address_is_refused_at_delivery_without_the_flag(h: &mut Harness) {
    let receiver = Receiver::start(&[]).await;
    // Accepted by a scheduler that allows private addresses …
    let id = submit(h, "job", Some(&receiver.url)).await;
    finish(h.store()).await;
    // … delivered by one that does not.
    let mut strict = config();
    strict.allow_private = false;
    let (deliverer, metrics) = deliverer(&h.store, strict);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 1);
    assert_eq!(receiver.count(), 0, "never called");
    let job = h.store().get(id).await.unwrap();
    let error = webhook(&job).last_error.clone().unwrap();
    assert!(
        error.contains("127.0.0.1") && error.contains("private"),
        "{error}"
    );
    assert_eq!(counted(&metrics, "retried"), 1);
}

/// The API with webhooks configured by `configure`, over a SQLite store.
async fn api(webhooks: Option<WebhookConfig>) -> http::Api {
    http::Api::start(KEY, StoreConfig::default(), |c: &mut ApiConfig| {
        c.webhooks = webhooks.map(Arc::new)
    })
    .await
}

fn with_callback(url: &str) -> Value {
    let mut body = http::fibonacci();
    body["callback_url"] = json!(url);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_private_callback_urls_are_400_naming_the_field() {
    let mut strict = config();
    strict.allow_private = false;
    let s = api(Some(strict)).await;
    for (url, code, says) in [
        ("not a url", "invalid_callback_url", "not a URL"),
        ("ftp://example.com/x", "invalid_callback_url", "scheme"),
        ("http://127.0.0.1:9/hook", "invalid_callback_url", "private"),
        ("http://localhost:9/hook", "invalid_callback_url", "private"),
        ("http://[fe80::1]/hook", "invalid_callback_url", "private"),
    ] {
        let response = s
            .post("/v1/jobs")
            .json(&with_callback(url))
            .send()
            .await
            .unwrap();
        let reason = http::error(response, ClientStatus::BAD_REQUEST, code).await;
        assert!(reason.starts_with("callback_url: "), "{url}: {reason}");
        assert!(reason.contains(says), "{url}: {reason}");
    }
    let listed = s.get_json("/v1/jobs").await;
    assert_eq!(listed["jobs"], json!([]), "nothing stored");

    let off = api(None).await;
    let response = off
        .post("/v1/jobs")
        .json(&with_callback("https://example.com/hook"))
        .send()
        .await
        .unwrap();
    let reason = http::error(response, ClientStatus::BAD_REQUEST, "callbacks_disabled").await;
    assert!(reason.contains("--webhook-secret"), "{reason}");

    // The document describes the field, its payload and the delivery's status.
    let document = off.get_json("/openapi.json").await;
    let schemas = &document["components"]["schemas"];
    let field = &schemas["SubmitRequest"]["properties"]["callback_url"];
    let description = field["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("Starfarm-Signature") && description.contains("JobView"),
        "{field}"
    );
    assert!(schemas["JobView"]["properties"]["webhook"].is_object());
    let states = &schemas["WebhookState"]["enum"];
    assert_eq!(
        *states,
        json!(["pending", "delivered", "failed"]),
        "{schemas}"
    );
}

/// The scheduler's own task (as `starfarm scheduler` runs it) delivers a job submitted
/// through the API, and `/metrics` counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_its_deliverer_post_a_finished_job() {
    let receiver = Receiver::start(&[]).await;
    let s = api(Some(config())).await;
    let response = s
        .post("/v1/jobs")
        .json(&with_callback(&receiver.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), ClientStatus::CREATED);
    let submitted: Value = response.json().await.unwrap();
    assert_eq!(submitted["callback_url"], receiver.url);
    assert_eq!(submitted["webhook"]["state"], "pending");
    assert_eq!(submitted["webhook"]["attempts"], 0);
    let task = api::spawn_deliverer(&s.state)
        .unwrap()
        .expect("webhooks on");

    let id = JobId(submitted["id"].as_i64().unwrap());
    finish(s.store.as_ref()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let job = loop {
        let job = s.get_json(&format!("/v1/jobs/{id}")).await;
        if job["webhook"]["state"] == "delivered" {
            break job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    task.abort();
    assert_eq!(receiver.count(), 1);
    let (_, body) = receiver.verified(0);
    assert_eq!(body["id"], id.0);
    assert_eq!(body["state"], JobState::Done.as_str());
    assert_eq!(body["artifact_hash"], job["artifact_hash"]);
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("starfarm_webhook_deliveries_total{result=\"delivered\"} 1"),
        "{metrics}"
    );
}
