//! Tenants: API keys with roles, jobs owned by their submitter, quotas and fair claiming,
//! through the store and through the REST API over a real socket. Every case runs on both
//! stores: `sqlite::<case>` and `postgres::<case>` (a fresh schema in the database at
//! `STARFARM_TEST_POSTGRES_URL`; skipped without it unless `STARFARM_REQUIRE_POSTGRES=1`).
#![cfg(feature = "api")]
// The cases are test code, but not `#[test]` functions themselves (the macro's wrappers
// are), so clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used)]

#[path = "support/http.rs"]
mod http;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{error, fibonacci, Api};
use reqwest::StatusCode;
use serde_json::{json, Value};
use starfarm_scheduler::{
    key_digest, ContentHash, JobFilter, JobId, JobStore, NewKey, Quota, Role, StoreError,
    WorkerCapabilities,
};
use support::{spec, Harness};

store_tests!(
    keys_are_added_listed_and_revoked,
    each_tenant_gets_its_own_job,
    claims_alternate_between_tenants,
    usage_counts_live_jobs_recent_submissions_and_bytes,
    blobs_belong_to_owners_and_holders,
    tenants_cannot_see_each_other,
    roles_limit_routes,
    revoked_key_is_refused_at_once,
    over_quota_is_429_and_stores_nothing,
    flood_does_not_delay_another_tenant,
);

const ADMIN: &str = "flag-admin-key";
const LEASE: Duration = Duration::from_secs(30);

fn new_key(name: &str, role: Role, quota: Quota) -> NewKey {
    NewKey {
        name: name.to_owned(),
        role,
        quota,
        digest: key_digest(&secret(name)),
    }
}

/// The secret of the test key `name`.
fn secret(name: &str) -> String {
    format!("secret-of-{name}")
}

async fn add(store: &dyn JobStore, name: &str, role: Role) -> i64 {
    store
        .add_key(&new_key(name, role, Quota::default()))
        .await
        .unwrap()
        .id
}

fn owned(name: &str, owner: Option<i64>) -> starfarm_scheduler::JobSpec {
    let mut s = spec(name);
    s.owner = owner;
    s
}

fn any_worker() -> WorkerCapabilities {
    WorkerCapabilities {
        memory_bytes: 1 << 40,
        device_memory_bytes: 0,
        backends: vec!["cpu".into()],
        kinds: vec![],
    }
}

// ---- the store ----

async fn keys_are_added_listed_and_revoked(h: &mut Harness) {
    let store = h.store();
    let a = store
        .add_key(&new_key(
            "tenant-a",
            Role::Submit,
            Quota {
                max_active_jobs: Some(3),
                ..Quota::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!((a.role, a.quota.max_active_jobs), (Role::Submit, Some(3)));
    let w = add(store, "worker-1", Role::Worker).await;
    let again = store
        .add_key(&new_key("tenant-a", Role::Admin, Quota::default()))
        .await;
    assert!(matches!(again, Err(StoreError::InvalidKey(_))), "{again:?}");
    let bad = store
        .add_key(&new_key("two words", Role::Admin, Quota::default()))
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidKey(_))), "{bad:?}");

    let live = store.live_key(&key_digest(&secret("tenant-a"))).await;
    assert_eq!(live.unwrap().map(|k| k.id), Some(a.id));
    assert_eq!(store.live_key(&key_digest("unknown")).await.unwrap(), None);
    let names: Vec<String> = store
        .keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["tenant-a", "worker-1"]);

    let revoked = store.revoke_key("tenant-a").await.unwrap();
    assert!(revoked.revoked_at_ms.is_some());
    assert_eq!(
        store.revoke_key("tenant-a").await.unwrap(),
        revoked,
        "idempotent"
    );
    assert_eq!(
        store
            .live_key(&key_digest(&secret("tenant-a")))
            .await
            .unwrap(),
        None
    );
    assert!(store.revoke_key(&w.to_string()).await.is_ok(), "by id");
    let unknown = store.revoke_key("nobody").await;
    assert!(
        matches!(unknown, Err(StoreError::UnknownKey(_))),
        "{unknown:?}"
    );
    h.reopen().await;
    assert!(h
        .store()
        .keys()
        .await
        .unwrap()
        .iter()
        .all(|k| k.revoked_at_ms.is_some()));
}

async fn each_tenant_gets_its_own_job(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (
        add(store, "a", Role::Submit).await,
        add(store, "b", Role::Submit).await,
    );
    let ja = store.submit(owned("same", Some(a))).await.unwrap();
    let jb = store.submit(owned("same", Some(b))).await.unwrap();
    assert!(ja.created && jb.created);
    assert_ne!(ja.job.id, jb.job.id, "two tenants, two jobs");
    let again = store.submit(owned("same", Some(a))).await.unwrap();
    assert_eq!(
        (again.created, again.job.id),
        (false, ja.job.id),
        "idempotent per tenant"
    );
    let farm = store.submit(owned("same", None)).await.unwrap();
    assert!(farm.created, "the farm's own job is a third one");
    assert_eq!(ja.job.spec.owner, Some(a));

    let mine = |owner| JobFilter {
        owner,
        ..JobFilter::default()
    };
    let ids = |page: starfarm_scheduler::JobPage| -> Vec<JobId> {
        page.jobs.into_iter().map(|j| j.id).collect()
    };
    assert_eq!(ids(store.list(&mine(Some(a))).await.unwrap()), [ja.job.id]);
    assert_eq!(ids(store.list(&mine(Some(b))).await.unwrap()), [jb.job.id]);
    assert_eq!(store.list(&mine(None)).await.unwrap().jobs.len(), 3);
}

async fn claims_alternate_between_tenants(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (
        add(store, "a", Role::Submit).await,
        add(store, "b", Role::Submit).await,
    );
    for i in 0..4 {
        store
            .submit(owned(&format!("a{i}"), Some(a)))
            .await
            .unwrap();
    }
    for i in 0..3 {
        store
            .submit(owned(&format!("b{i}"), Some(b)))
            .await
            .unwrap();
    }
    // Higher priority still goes first, whoever submitted it.
    let mut urgent = owned("a-urgent", Some(a));
    urgent.priority = 5;
    store.submit(urgent).await.unwrap();
    let mut owners = Vec::new();
    while let Some((job, _)) = store.claim("w", &any_worker(), LEASE).await.unwrap() {
        owners.push((job.spec.owner, job.spec.priority));
    }
    let (sa, sb) = ((Some(a), 0), (Some(b), 0));
    assert_eq!(owners, [(Some(a), 5), sa, sb, sa, sb, sa, sb, sa]);
}

async fn usage_counts_live_jobs_recent_submissions_and_bytes(h: &mut Harness) {
    let a = add(h.store(), "a", Role::Submit).await;
    let mut first = owned("one", Some(a));
    first.stored_bytes = 100;
    h.store().submit(first).await.unwrap();
    h.clock.advance(40_000);
    let mut second = owned("two", Some(a));
    second.stored_bytes = 50;
    let second = h.store().submit(second).await.unwrap().job;
    h.store().cancel(second.id).await.unwrap();
    let usage = h.store().usage(a, Duration::from_secs(60)).await.unwrap();
    assert_eq!(usage.live_jobs, 1, "the cancelled job is not live");
    assert_eq!(usage.recent_submissions, 2);
    assert_eq!(
        usage.window_frees_in_ms,
        Some(20_000),
        "the first leaves in 20 s"
    );
    assert_eq!(usage.stored_bytes, 150, "stored bytes stay charged");
    h.clock.advance(30_000);
    let usage = h.store().usage(a, Duration::from_secs(60)).await.unwrap();
    assert_eq!(usage.recent_submissions, 1);
}

async fn blobs_belong_to_owners_and_holders(h: &mut Harness) {
    let store = h.store();
    let (a, w) = (
        add(store, "a", Role::Submit).await,
        add(store, "w", Role::Worker).await,
    );
    let job = store.submit(owned("x", Some(a))).await.unwrap().job;
    let (program, input) = (&job.spec.program_hash, &job.spec.input_hash);
    let other = ContentHash::of(b"not a blob of a's");
    assert!(store.owner_has_blob(a, program).await.unwrap());
    assert!(store.owner_has_blob(a, input).await.unwrap());
    assert!(!store.owner_has_blob(a, &other).await.unwrap());
    assert!(!store.owner_has_blob(w, program).await.unwrap());
    assert!(
        !store.holder_has_blob(w, program).await.unwrap(),
        "not claimed yet"
    );
    let (_, lease) = store
        .claim_with_key(Some(w), "w-1", &any_worker(), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(store.holder_has_blob(w, program).await.unwrap());
    assert!(store.holder_has_blob(w, input).await.unwrap());
    store.release(&lease, "shutting down").await.unwrap();
    assert!(
        !store.holder_has_blob(w, input).await.unwrap(),
        "no longer held"
    );
}

// ---- the REST API ----

/// The API over the harness's store, with `ADMIN` as its `--api-key` key and these stored
/// keys (secret: [`secret`]).
async fn api(h: &Harness, keys: &[(&str, Role, Quota)]) -> Api {
    for (name, role, quota) in keys {
        h.store()
            .add_key(&new_key(name, *role, *quota))
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    Api::serve(Arc::clone(&h.store), dir, ADMIN, |_| {}).await
}

fn call(api: &Api, method: &str, path: &str, key: &str) -> reqwest::RequestBuilder {
    let url = format!("{}{path}", api.url);
    let request = match method {
        "get" => api.client.get(url),
        _ => api.client.post(url),
    };
    request.bearer_auth(key)
}

/// Fibonacci of `n`: the same program, another input.
fn fibonacci_of(n: u64) -> Value {
    let mut body = fibonacci();
    body["input"] = json!([n]);
    body
}

async fn submit_as(api: &Api, key: &str, body: &Value) -> reqwest::Response {
    call(api, "post", "/v1/jobs", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn submitted(api: &Api, key: &str, body: &Value, status: StatusCode) -> Value {
    let response = submit_as(api, key, body).await;
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

/// The JSON answer to `request`.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// A submits fibonacci of each `n` in `range`, each a new job.
async fn flood(api: &Api, range: std::ops::Range<u64>) {
    for n in range {
        submitted(api, &secret("a"), &fibonacci_of(n + 1), StatusCode::CREATED).await;
    }
}

async fn status(request: reqwest::RequestBuilder) -> StatusCode {
    request.send().await.unwrap().status()
}

fn claim_body(worker: &str) -> Value {
    json!({
        "worker_id": worker,
        "capabilities": {"memory_bytes": 1u64 << 40, "backends": ["cpu"], "kinds": []},
        "lease_secs": 30,
    })
}

async fn tenants_cannot_see_each_other(h: &mut Harness) {
    let none = Quota::default();
    let api = api(h, &[("a", Role::Submit, none), ("b", Role::Submit, none)]).await;
    let (ka, kb) = (secret("a"), secret("b"));
    let a = submitted(&api, &ka, &fibonacci_of(10), StatusCode::CREATED).await;
    let b = submitted(&api, &kb, &fibonacci_of(11), StatusCode::CREATED).await;
    let b_same_as_a = submitted(&api, &kb, &fibonacci_of(10), StatusCode::CREATED).await;
    assert_ne!(
        b_same_as_a["id"], a["id"],
        "same program and input: B's own job"
    );
    let a_again = submitted(&api, &ka, &fibonacci_of(10), StatusCode::OK).await;
    assert_eq!(a_again["id"], a["id"]);

    let b_id = b["id"].as_i64().unwrap();
    for (method, path) in [
        ("get", format!("/v1/jobs/{b_id}")),
        ("get", format!("/v1/jobs/{b_id}/wait?timeout_secs=0")),
        ("get", format!("/v1/jobs/{b_id}/events")),
        ("post", format!("/v1/jobs/{b_id}/cancel")),
        ("get", format!("/v1/jobs/{b_id}/artifact")),
        (
            "get",
            format!("/v1/blobs/{}", b["input_hash"].as_str().unwrap()),
        ),
    ] {
        let response = call(&api, method, &path, &ka).send().await.unwrap();
        let reason = error(response, StatusCode::NOT_FOUND, "not_found").await;
        // Exactly what a job or blob that does not exist answers.
        let (b_input, nothing) = (b["input_hash"].as_str().unwrap(), "0".repeat(64));
        let hide = |s: &str| {
            s.replace(b_input, &nothing)
                .replace(&b_id.to_string(), "999999")
        };
        let response = call(&api, method, &hide(&path), &ka).send().await.unwrap();
        let missing = error(response, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(hide(&reason), missing, "{path}");
    }
    let listed = json_of(call(&api, "get", "/v1/jobs", &ka)).await;
    let ids: Vec<&Value> = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["id"])
        .collect();
    assert_eq!(ids, [&a["id"]], "A lists its own job only");
    let own_input = format!("/v1/blobs/{}", a["input_hash"].as_str().unwrap());
    assert_eq!(
        status(call(&api, "get", &own_input, &ka)).await,
        StatusCode::OK
    );
    let own = call(&api, "get", &format!("/v1/jobs/{}", a["id"]), &ka);
    assert_eq!(status(own).await, StatusCode::OK);
    // B's job was not cancelled by A's attempt.
    let b_now = json_of(call(&api, "get", &format!("/v1/jobs/{b_id}"), &kb)).await;
    assert_eq!(b_now["state"], "queued");

    // An admin sees all.
    let all = json_of(call(&api, "get", "/v1/jobs", ADMIN)).await;
    assert_eq!(all["jobs"].as_array().unwrap().len(), 3);
    let b_input = format!("/v1/blobs/{}", b["input_hash"].as_str().unwrap());
    assert_eq!(
        status(call(&api, "get", &b_input, ADMIN)).await,
        StatusCode::OK
    );
    let cancel_b = call(&api, "post", &format!("/v1/jobs/{b_id}/cancel"), ADMIN);
    assert_eq!(status(cancel_b).await, StatusCode::OK);
}

async fn roles_limit_routes(h: &mut Harness) {
    let none = Quota::default();
    let keys = [("a", Role::Submit, none), ("w", Role::Worker, none)];
    let api = api(h, &keys).await;
    let (ka, kw) = (secret("a"), secret("w"));
    let first = submitted(&api, &ka, &fibonacci_of(10), StatusCode::CREATED).await;
    let second = submitted(&api, &ka, &fibonacci_of(12), StatusCode::CREATED).await;

    let response = submit_as(&api, &kw, &fibonacci_of(13)).await;
    error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = call(&api, "get", "/v1/jobs", &kw).send().await.unwrap();
    error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = call(&api, "post", "/v1/workers/claim", &ka)
        .json(&claim_body("sneaky"))
        .send()
        .await
        .unwrap();
    let reason = error(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(reason.contains("role submit"), "{reason}");

    let claim = call(&api, "post", "/v1/workers/claim", &kw)
        .json(&claim_body("w-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(claim.status(), StatusCode::OK);
    let claim: Value = claim.json().await.unwrap();
    assert_eq!(claim["job"]["id"], first["id"]);
    for url in [&claim["program_url"], &claim["input_url"]] {
        let held = call(&api, "get", url.as_str().unwrap(), &kw);
        assert_eq!(status(held).await, StatusCode::OK, "{url}");
    }
    let other_input = format!("/v1/blobs/{}", second["input_hash"].as_str().unwrap());
    let response = call(&api, "get", &other_input, &kw).send().await.unwrap();
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    let heartbeat =
        call(&api, "post", "/v1/workers/heartbeat", &ka).json(&json!({"lease": claim["lease"]}));
    assert_eq!(status(heartbeat).await, StatusCode::FORBIDDEN);
    let heartbeat =
        call(&api, "post", "/v1/workers/heartbeat", &kw).json(&json!({"lease": claim["lease"]}));
    assert_eq!(status(heartbeat).await, StatusCode::OK);
    // The --api-key admin runs workers too (the devnet's single key).
    let admin_claim = call(&api, "post", "/v1/workers/claim", ADMIN).json(&claim_body("w-2"));
    assert_eq!(status(admin_claim).await, StatusCode::OK);
}

async fn revoked_key_is_refused_at_once(h: &mut Harness) {
    let api = api(h, &[("a", Role::Submit, Quota::default())]).await;
    let ka = secret("a");
    assert_eq!(
        status(call(&api, "get", "/v1/jobs", &ka)).await,
        StatusCode::OK
    );
    // Revoked in the store, as `starfarm keys revoke` (maybe another process) does.
    h.store().revoke_key("a").await.unwrap();
    let response = call(&api, "get", "/v1/jobs", &ka).send().await.unwrap();
    let reason = error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(reason.contains("revoked"), "{reason}");
    let response = submit_as(&api, &ka, &fibonacci_of(10)).await;
    error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// Files under the blob folder.
fn stored_blobs(api: &Api) -> usize {
    let objects = api.blob_dir().join("objects");
    std::fs::read_dir(objects).map_or(0, |d| d.count())
}

async fn over_quota_is_429_and_stores_nothing(h: &mut Harness) {
    let one_live = Quota {
        max_active_jobs: Some(1),
        ..Quota::default()
    };
    let one_per_minute = Quota {
        max_submissions_per_minute: Some(1),
        ..Quota::default()
    };
    let tiny = Quota {
        max_stored_bytes: Some(10),
        ..Quota::default()
    };
    let keys = [
        ("live", Role::Submit, one_live),
        ("rate", Role::Submit, one_per_minute),
        ("bytes", Role::Submit, tiny),
    ];
    let api = api(h, &keys).await;

    let first = submitted(
        &api,
        &secret("live"),
        &fibonacci_of(10),
        StatusCode::CREATED,
    )
    .await;
    let (blobs, jobs) = (stored_blobs(&api), h.store().counts().await.unwrap());
    let response = submit_as(&api, &secret("live"), &fibonacci_of(11)).await;
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let reason = error(response, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    assert!(reason.contains("max_active_jobs"), "{reason}");
    assert_eq!(stored_blobs(&api), blobs, "no blob stored");
    assert_eq!(h.store().counts().await.unwrap(), jobs, "no job stored");
    // A client retrying its submission gets its live job back, quota full or not.
    let retried = submitted(&api, &secret("live"), &fibonacci_of(10), StatusCode::OK).await;
    assert_eq!(retried["id"], first["id"]);
    // A finished job frees its slot.
    let cancel = call(
        &api,
        "post",
        &format!("/v1/jobs/{}/cancel", first["id"]),
        &secret("live"),
    );
    assert_eq!(status(cancel).await, StatusCode::OK);
    submitted(
        &api,
        &secret("live"),
        &fibonacci_of(11),
        StatusCode::CREATED,
    )
    .await;

    submitted(
        &api,
        &secret("rate"),
        &fibonacci_of(20),
        StatusCode::CREATED,
    )
    .await;
    h.clock.advance(15_000);
    let response = submit_as(&api, &secret("rate"), &fibonacci_of(21)).await;
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry, 45, "the first submission leaves the minute in 45 s");
    error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    h.clock.advance(46_000);
    submitted(
        &api,
        &secret("rate"),
        &fibonacci_of(21),
        StatusCode::CREATED,
    )
    .await;

    let blobs = stored_blobs(&api);
    let response = submit_as(&api, &secret("bytes"), &fibonacci_of(30)).await;
    assert!(response.headers().contains_key("retry-after"));
    let reason = error(response, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    assert!(reason.contains("max_stored_bytes"), "{reason}");
    assert_eq!(stored_blobs(&api), blobs, "no blob stored");

    let metrics = api.metrics().await;
    for line in [
        r#"starfarm_tenant_submissions_total{result="over_quota",tenant="live"} 1"#,
        r#"starfarm_tenant_submissions_total{result="created",tenant="rate"} 2"#,
        r#"starfarm_tenant_live_jobs{tenant="live"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

/// Tenant A has flooded the farm (`FLOOD / 2` jobs queued) when tenant B submits one job;
/// then fake workers start claiming and ending jobs as fast as they can while A goes on
/// flooding. Under FIFO, B's job would be claim number `FLOOD / 2 + 1`. With fair claiming
/// B's tag ties A's oldest queued job, so B's job is claim #2 at the latest. Workers send one
/// claim at a time (their `fail`s overlap), so that the recorded order is the store's: a
/// worker's task may otherwise record its claim after others that came later.
async fn flood_does_not_delay_another_tenant(h: &mut Harness) {
    const FLOOD: u64 = 120;
    const WORKERS: usize = 3;
    let none = Quota::default();
    let keys = [
        ("a", Role::Submit, none),
        ("b", Role::Submit, none),
        ("w", Role::Worker, none),
    ];
    let api = Arc::new(api(h, &keys).await);
    flood(&api, 0..FLOOD / 2).await;
    let b = submitted(&api, &secret("b"), &fibonacci_of(1), StatusCode::CREATED).await;
    let submitted_at = Instant::now();
    let b_id = b["id"].as_i64().unwrap();
    let rest = tokio::spawn({
        let api = Arc::clone(&api);
        async move { flood(&api, FLOOD / 2..FLOOD).await }
    });
    let claims: Arc<tokio::sync::Mutex<Vec<i64>>> = Arc::default();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for n in 0..WORKERS {
        let (api, claims, stop) = (Arc::clone(&api), Arc::clone(&claims), stop.clone());
        workers.push(tokio::spawn(async move {
            while !*stop.borrow() {
                let mut recorded = claims.lock().await;
                let response = call(&api, "post", "/v1/workers/claim", &secret("w"))
                    .json(&claim_body(&format!("fake-{n}")))
                    .send()
                    .await
                    .unwrap();
                if response.status() == StatusCode::NO_CONTENT {
                    drop(recorded);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                let claim: Value = response.json().await.unwrap();
                recorded.push(claim["job"]["id"].as_i64().unwrap());
                drop(recorded);
                // The proof "fails" at once: the job ends, the worker claims the next.
                let fail = call(&api, "post", "/v1/workers/fail", &secret("w")).json(&json!({
                    "lease": claim["lease"], "reason": "fake worker", "retryable": false,
                }));
                assert_eq!(status(fail).await, StatusCode::OK);
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let position = loop {
        let seen = claims.lock().await.iter().position(|&id| id == b_id);
        if let Some(position) = seen {
            break position;
        }
        assert!(Instant::now() < deadline, "B's job was never claimed");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let waited = submitted_at.elapsed();
    rest.await.unwrap();
    stop_tx.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let total = claims.lock().await.len();
    println!(
        "B's job: claim #{} of {total}, {waited:?} after its submission, with {} of A's \
         jobs queued before it (FIFO: claim #{})",
        position + 1,
        FLOOD / 2,
        FLOOD / 2 + 1
    );
    assert!(
        position <= 1,
        "B's job was claim #{} (bound 2)",
        position + 1
    );
}

/// The document tells clients about roles and quotas: 403 where a role may not go, 404 for
/// other tenants' jobs, 429 on submission.
#[test]
fn openapi_documents_roles_and_quotas() {
    let doc = serde_json::to_value(starfarm_scheduler::api::openapi()).unwrap();
    let responses = |method: &str, path: &str| doc["paths"][path][method]["responses"].clone();
    let submit = responses("post", "/v1/jobs");
    for code in ["401", "403", "429"] {
        assert!(submit[code].is_object(), "POST /v1/jobs documents {code}");
    }
    assert!(submit["429"]["description"]
        .as_str()
        .unwrap()
        .contains("Retry-After"));
    for (method, path) in [
        ("get", "/v1/jobs"),
        ("get", "/v1/jobs/{id}"),
        ("post", "/v1/workers/claim"),
        ("post", "/v1/workers/complete"),
    ] {
        assert!(
            responses(method, path)["403"].is_object(),
            "{method} {path} documents 403"
        );
    }
    let not_found = responses("get", "/v1/jobs/{id}")["404"]["description"].clone();
    assert!(not_found.as_str().unwrap().contains("another tenant"));
    let about = doc["info"]["description"].as_str().unwrap();
    for role in ["`submit`", "`worker`", "`admin`"] {
        assert!(about.contains(role), "{role} in the description");
    }
}
