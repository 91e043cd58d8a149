//! The worker-facing endpoints over a real socket: a SQLite store driven by a manual clock,
//! blobs in a folder; then the worker itself, in-process, against them (Test-profile proofs
//! of the Fibonacci example).
#![cfg(feature = "api")]
// Helpers outside `#[test]` functions unwrap too (clippy's allow-unwrap-in-tests does not reach them).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use starfarm_prover::Felt;
use starfarm_scheduler::kinds::{ChunkPayload, KindPayload};
use starfarm_scheduler::worker::{
    capabilities, Outcome, SchedulerClient, Stop, Worker, WorkerConfig,
};
use starfarm_scheduler::{ContentHash, ManualClock, StoreConfig};
use tokio::sync::watch;

#[path = "support/http.rs"]
mod http;
use http::{error, fibonacci, Api, Events};

const KEY: &str = "worker-key";
const T0: i64 = 1_800_000_000_000;

/// The API over a store whose clock the test moves.
struct Server {
    api: Api,
    clock: ManualClock,
}

impl std::ops::Deref for Server {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Server {
    async fn start() -> Self {
        let clock = ManualClock::new(T0);
        let config = StoreConfig {
            clock: Arc::new(clock.clone()),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(1),
            ..StoreConfig::default()
        };
        let api = Api::start(KEY, config, |_| {}).await;
        Self { api, clock }
    }

    async fn submit(&self) -> Value {
        let response = self
            .post("/v1/jobs")
            .json(&fibonacci())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    async fn claim(&self, worker: &str) -> reqwest::Response {
        self.post("/v1/workers/claim")
            .json(&json!({
                "worker_id": worker,
                "capabilities": {"memory_bytes": 1u64 << 34, "backends": ["cpu"], "kinds": []},
                "lease_secs": 30,
            }))
            .send()
            .await
            .unwrap()
    }

    async fn job(&self, id: i64) -> Value {
        let response = self.get(&format!("/v1/jobs/{id}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn complete(&self, lease: &Value, body: Vec<u8>) -> reqwest::Response {
        self.post(&format!(
            "/v1/workers/complete?job_id={}&fencing_token={}",
            lease["job_id"], lease["fencing_token"]
        ))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_heartbeat_phase_and_a_bad_artifact() {
    let s = Server::start().await;
    let submitted = s.submit().await;
    let id = submitted["id"].as_i64().unwrap();

    let response = s.claim("w1").await;
    assert_eq!(response.status(), StatusCode::OK);
    let claimed: Value = response.json().await.unwrap();
    assert_eq!(claimed["job"]["id"], id);
    assert_eq!(claimed["job"]["state"], "leased");
    let lease = claimed["lease"].clone();
    assert_eq!(lease["job_id"], id);
    assert_eq!(lease["worker_id"], "w1");
    assert_eq!(lease["expires_at_ms"], T0 + 30_000);
    assert_eq!(claimed["program_hash"], submitted["program_hash"]);
    assert_eq!(claimed["input_hash"], submitted["input_hash"]);
    assert_eq!(
        claimed["program_url"],
        format!("/v1/blobs/{}", submitted["program_hash"].as_str().unwrap())
    );

    // Nothing else to claim.
    assert_eq!(s.claim("w2").await.status(), StatusCode::NO_CONTENT);

    s.clock.advance(10_000);
    let response = s
        .post("/v1/workers/heartbeat")
        .json(&json!({ "lease": lease }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let renewed: Value = response.json().await.unwrap();
    assert_eq!(renewed["expires_at_ms"], T0 + 40_000);
    assert_eq!(renewed["fencing_token"], lease["fencing_token"]);

    let response = s
        .post("/v1/workers/phase")
        .json(&json!({ "lease": renewed, "phase": "proving" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["state"], "proving");

    // Garbage is refused with a reason; the job stays with its worker.
    let reason = error(
        s.complete(&renewed, b"not a proof artifact".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_artifact",
    )
    .await;
    assert!(reason.contains("not a proof artifact"), "{reason}");
    let job = s.job(id).await;
    assert_eq!(job["state"], "proving");
    assert_eq!(job["worker_id"], "w1");
    assert!(job["artifact_hash"].is_null());

    // The lease still works: the worker gives up for good.
    let response = s
        .post("/v1/workers/fail")
        .json(&json!({ "lease": renewed, "reason": "out of memory", "retryable": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["state"], "failed");
    assert!(job["last_error"]
        .as_str()
        .unwrap()
        .contains("out of memory"));
    assert_eq!(s.job(id).await["state"], "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_claim_gets_a_job_submitted_meanwhile() {
    let s = Server::start().await;
    let claim = s
        .post("/v1/workers/claim")
        .json(&json!({
            "worker_id": "patient",
            "capabilities": {"memory_bytes": 1u64 << 34, "backends": ["cpu"]},
            "wait_secs": 20,
        }))
        .send();
    let (claimed, submitted) = tokio::join!(claim, async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.submit().await
    });
    let claimed = claimed.unwrap();
    assert_eq!(
        claimed.status(),
        StatusCode::OK,
        "the claim waited for the job"
    );
    let claimed: Value = claimed.json().await.unwrap();
    assert_eq!(claimed["job"]["id"], submitted["id"]);

    // Nothing left: a short wait ends with 204.
    let response = s
        .post("/v1/workers/claim")
        .json(&json!({
            "worker_id": "patient",
            "capabilities": {"memory_bytes": 1u64 << 34},
            "wait_secs": 1,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_go_only_to_workers_with_enough_memory() {
    let s = Server::start().await;
    let job = s.submit().await;
    let needed = job["required_memory_bytes"].as_u64().unwrap();
    assert!(needed >= 1 << 30, "sized from its run: {job}");
    assert!(job["payload"]["steps"].as_u64().unwrap() > 0, "{job}");
    let claim = |memory: u64| {
        s.post("/v1/workers/claim")
            .json(&json!({"worker_id": "w", "capabilities": {"memory_bytes": memory}}))
            .send()
    };
    assert_eq!(
        claim(needed - 1).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(claim(needed).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_job_is_claimed_again_with_its_attempts_intact() {
    let s = Server::start().await;
    let id = s.submit().await["id"].as_i64().unwrap();
    let first: Value = s.claim("leaving").await.json().await.unwrap();
    let lease = first["lease"].clone();
    let response = s
        .post("/v1/workers/release")
        .json(&json!({ "lease": lease, "reason": "worker shutting down" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["state"], "queued");
    assert_eq!(job["attempts"], 0);
    assert_eq!(job["last_error"], "worker shutting down");

    let again = s
        .post("/v1/workers/release")
        .json(&json!({ "lease": lease, "reason": "twice" }))
        .send()
        .await
        .unwrap();
    error(again, StatusCode::CONFLICT, "fenced").await;
    let second: Value = s.claim("staying").await.json().await.unwrap();
    assert_eq!(
        (
            second["job"]["id"].as_i64(),
            second["job"]["attempts"].as_u64()
        ),
        (Some(id), Some(1))
    );
    let metrics = s.metrics().await;
    assert!(
        metrics.contains(r#"starfarm_job_retries_total{cause="released"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_fenced() {
    let s = Server::start().await;
    let id = s.submit().await["id"].as_i64().unwrap();
    let first: Value = s.claim("w1").await.json().await.unwrap();
    let old = first["lease"].clone();

    // The lease runs out, the sweep takes the job back, and another worker claims it.
    s.clock.advance(31_000);
    assert_eq!(s.store.expire_leases().await.unwrap(), 1);
    s.clock.advance(2_000);
    let response = s.claim("w2").await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["job"]["id"], id);
    let new = second["lease"].clone();
    assert!(new["fencing_token"].as_i64() > old["fencing_token"].as_i64());

    let response = s
        .post("/v1/workers/heartbeat")
        .json(&json!({ "lease": old }))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::CONFLICT, "fenced").await;
    let response = s
        .post("/v1/workers/phase")
        .json(&json!({ "lease": old, "phase": "verifying" }))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::CONFLICT, "fenced").await;
    error(
        s.complete(&old, b"whatever".to_vec()).await,
        StatusCode::CONFLICT,
        "fenced",
    )
    .await;
    let response = s
        .post("/v1/workers/fail")
        .json(&json!({ "lease": old, "reason": "late", "retryable": false }))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::CONFLICT, "fenced").await;

    // None of that touched the new holder's job.
    let job = s.job(id).await;
    assert_eq!(job["state"], "leased");
    assert_eq!(job["worker_id"], "w2");
    assert!(job["artifact_hash"].is_null());
    let response = s
        .post("/v1/workers/heartbeat")
        .json(&json!({ "lease": new }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_served_by_hash() {
    let s = Server::start().await;
    let submitted = s.submit().await;
    for field in ["program_hash", "input_hash"] {
        let hash = submitted[field].as_str().unwrap();
        let response = s.get(&format!("/v1/blobs/{hash}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{field}");
        let bytes = response.bytes().await.unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), hash, "{field}");
    }
    let program: Value = serde_json::from_slice(
        &s.get(&format!(
            "/v1/blobs/{}",
            submitted["program_hash"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap(),
    )
    .unwrap();
    assert!(program.is_object());

    let unknown = "0".repeat(64);
    let response = s.get(&format!("/v1/blobs/{unknown}")).send().await.unwrap();
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = s.get("/v1/blobs/not-a-hash").send().await.unwrap();
    error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = s
        .client
        .get(format!("{}/v1/blobs/{unknown}", s.url))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// Submits the Fibonacci example on `input`.
async fn submit_fibonacci(s: &Server, input: u64) -> Value {
    let mut body = fibonacci();
    body["input"] = json!([input]);
    let response = s.post("/v1/jobs").json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// A real batch proof (Test profile) of the Fibonacci example on each input.
async fn prove_fibonacci_batch(inputs: &[u64]) -> Vec<u8> {
    let inputs = inputs.to_vec();
    tokio::task::spawn_blocking(move || {
        use starfarm_prover::batch::{batch_program, execute_batch, BatchTask};
        use starfarm_prover::{CairoProgram, Felt, ProgramInput, Prover, SecurityProfile};
        let bytes = serde_json::to_vec(&http::json_file("examples/fibonacci.json")).unwrap();
        let program = CairoProgram::from_json(&bytes, "fibonacci").unwrap();
        let inputs: Vec<ProgramInput> = inputs
            .iter()
            .map(|n| ProgramInput::new(vec![Felt::from(*n)]))
            .collect();
        let tasks: Vec<BatchTask> = inputs
            .iter()
            .map(|input| BatchTask {
                program: &program,
                input,
            })
            .collect();
        let execution = execute_batch(&tasks, Default::default()).unwrap();
        let mut prover = Prover::new(SecurityProfile::Test);
        let artifact = prover
            .prove_execution(&batch_program().unwrap(), &execution, &mut |_| {})
            .unwrap();
        artifact.to_bytes().unwrap()
    })
    .await
    .unwrap()
}

/// A fake worker moves a job step by step; its event stream shows each state as it comes,
/// the whole job each time, and ends after `done`. A second stream opened on the done job
/// gets that state and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_follows_a_job_to_done() {
    let s = Server::start().await;
    let submitted = submit_fibonacci(&s, 7).await;
    let id = submitted["id"].as_i64().unwrap();
    let mut events = Events::open(s.get(&format!("/v1/jobs/{id}/events"))).await;
    assert_eq!(events.expect_state("queued").await, submitted);

    let claimed: Value = s.claim("w1").await.json().await.unwrap();
    let lease = &claimed["lease"];
    assert_eq!(events.expect_state("leased").await["worker_id"], "w1");
    for phase in ["proving", "verifying"] {
        let response = s
            .post("/v1/workers/phase")
            .json(&json!({ "lease": lease, "phase": phase }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        events.expect_state(phase).await;
    }
    let artifact = prove_fibonacci_batch(&[7]).await;
    let response = s
        .post(&format!(
            "/v1/workers/complete?job_id={id}&fencing_token={}&task_index=0",
            lease["fencing_token"]
        ))
        .header("content-type", "application/octet-stream")
        .body(artifact)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let done = events.expect_state("done").await;
    assert_eq!(
        done,
        s.job(id).await,
        "the event carries the job as GET shows it"
    );
    assert!(done["artifact_hash"].is_string(), "{done}");
    assert_eq!(
        events.next().await,
        None,
        "the stream ends after a terminal state"
    );

    let mut again = Events::open(s.get(&format!("/v1/jobs/{id}/events"))).await;
    again.expect_state("done").await;
    assert_eq!(again.next().await, None);
}

/// A change made behind the API's back (another scheduler process on the same store) reaches
/// the stream through its polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_sees_changes_of_other_processes() {
    let s = Server::start().await;
    let id = submit_fibonacci(&s, 8).await["id"].as_i64().unwrap();
    let mut events = Events::open(s.get(&format!("/v1/jobs/{id}/events"))).await;
    events.expect_state("queued").await;
    s.store.cancel(starfarm_scheduler::JobId(id)).await.unwrap();
    events.expect_state("cancelled").await;
    assert_eq!(events.next().await, None);
    let response = s.get("/v1/jobs/999999/events").send().await.unwrap();
    error(response, StatusCode::NOT_FOUND, "not_found").await;
}

/// Seconds by phase come from the phase reports on the store's clock; the hand-in's price
/// per hour gives the estimated cost, on the job and in `/metrics` by backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phase_seconds_and_the_estimated_cost_of_a_proof() {
    let s = Server::start().await;
    let id = submit_fibonacci(&s, 9).await["id"].as_i64().unwrap();
    let claimed: Value = s.claim("w1").await.json().await.unwrap();
    let lease = &claimed["lease"];
    let phase = |phase: &'static str| {
        s.post("/v1/workers/phase")
            .json(&json!({ "lease": lease, "phase": phase }))
            .send()
    };
    s.clock.advance(2_000); // fetching blobs: not a phase
    assert_eq!(phase("proving").await.unwrap().status(), StatusCode::OK);
    s.clock.advance(20_000); // within the 30 s lease
    assert_eq!(phase("verifying").await.unwrap().status(), StatusCode::OK);
    s.clock.advance(4_500);
    let job = s.job(id).await;
    assert_eq!(
        job["seconds_by_phase"],
        json!({"proving": 20.0, "verifying": 0.0})
    );
    assert_eq!(job["estimated_cost_usd"], Value::Null, "no price yet");

    let artifact = prove_fibonacci_batch(&[9]).await;
    let hand_in = |price: &str| {
        s.post(&format!(
            "/v1/workers/complete?job_id={id}&fencing_token={}&task_index=0&backend=cuda&price_per_hour_usd={price}",
            lease["fencing_token"]
        ))
        .header("content-type", "application/octet-stream")
        .body(artifact.clone())
        .send()
    };
    let reason = error(
        hand_in("-1").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(reason.contains("price_per_hour_usd"), "{reason}");
    let response = hand_in("3.6").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let done: Value = response.json().await.unwrap();
    assert_eq!(
        done["seconds_by_phase"],
        json!({"proving": 20.0, "verifying": 4.5})
    );
    // 24.5 s at 3.6 USD per hour.
    let cost = done["estimated_cost_usd"].as_f64().unwrap();
    assert!((cost - 0.0245).abs() < 1e-12, "{done}");
    assert_eq!(done["result"]["price_per_hour_usd"], 3.6);
    assert_eq!(s.job(id).await, done, "stored as answered");

    // The artifact's header says the CPU proved it: totals go to `cpu`, not the claimed `cuda`.
    let metrics = s.metrics().await;
    let value = |series: &str| -> f64 {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(series))
            .unwrap_or_else(|| panic!("{series} in {metrics}"));
        line[series.len()..].trim().parse().unwrap()
    };
    let cpu_cost = value("starfarm_proof_cost_usd_total{backend=\"cpu\"}");
    assert!((cpu_cost - 0.0245).abs() < 1e-12, "{metrics}");
    assert_eq!(
        value("starfarm_proof_cost_usd_total{backend=\"cuda\"}"),
        0.0
    );
    let seconds = |phase: &str| {
        value(&format!(
            "starfarm_proof_seconds_total{{backend=\"cpu\",phase=\"{phase}\"}}"
        ))
    };
    assert_eq!((seconds("proving"), seconds("verifying")), (20.0, 4.5));
}

/// A stream on a job that does not finish ends after the server's longest wait, as a
/// long-poll does, so that a graceful shutdown is not held up by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_ends_after_the_longest_wait() {
    let config = StoreConfig::default();
    let api = Api::start(KEY, config, |c| c.max_wait = Duration::from_millis(300)).await;
    let response = api
        .post("/v1/jobs")
        .json(&fibonacci())
        .send()
        .await
        .unwrap();
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let started = std::time::Instant::now();
    let mut events = Events::open(api.get(&format!("/v1/jobs/{id}/events"))).await;
    events.expect_state("queued").await;
    assert_eq!(events.next().await, None);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_proof_completes_each_job_only_as_its_own_task() {
    let s = Server::start().await;
    let five = submit_fibonacci(&s, 5).await;
    let six = submit_fibonacci(&s, 6).await;
    let first: Value = s.claim("batcher").await.json().await.unwrap();
    let second: Value = s.claim("batcher").await.json().await.unwrap();
    assert_eq!(first["job"]["id"], five["id"]);
    assert_eq!(second["job"]["id"], six["id"]);
    let artifact = prove_fibonacci_batch(&[5, 6]).await;

    let complete = |lease: &Value, index: u32| {
        s.post(&format!(
            // The worker claims a GPU; the artifact's header says the CPU proved it.
            "/v1/workers/complete?job_id={}&fencing_token={}&task_index={index}&backend=cuda",
            lease["job_id"], lease["fencing_token"]
        ))
        .header("content-type", "application/octet-stream")
        .body(artifact.clone())
        .send()
    };
    // Same code, other input: the output gives it away.
    let reason = error(
        complete(&first["lease"], 1).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_artifact",
    )
    .await;
    assert!(reason.contains("on its input"), "{reason}");
    let reason = error(
        complete(&second["lease"], 2).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_artifact",
    )
    .await;
    assert!(reason.contains("no task 2"), "{reason}");
    // Without a task index the batch proof proves the wrong program.
    error(
        s.complete(&first["lease"], artifact.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_artifact",
    )
    .await;

    for (claimed, index, fib) in [(&first, 0, "0x5"), (&second, 1, "0x8")] {
        let response = complete(&claimed["lease"], index).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let job: Value = response.json().await.unwrap();
        assert_eq!(job["state"], "done");
        assert_eq!(job["result"]["batch"]["task_index"], index);
        assert_eq!(job["result"]["batch"]["tasks"], 2);
        assert_eq!(job["result"]["output"][1], fib, "{job}");
        assert_eq!(
            job["result"]["program_hash"],
            five["payload"]["cairo_program_hash"]
        );
    }
    let (a, b) = (
        s.job(five["id"].as_i64().unwrap()).await,
        s.job(six["id"].as_i64().unwrap()).await,
    );
    assert_eq!(
        a["artifact_hash"], b["artifact_hash"],
        "one proof, stored once"
    );
    let metrics = s.metrics().await;
    let proofs = |backend: &str| {
        format!("starfarm_proofs_total{{backend=\"{backend}\",kind=\"cairo_proof\"}} 2")
    };
    assert!(metrics.contains(&proofs("cpu")), "{metrics}");
    assert!(!metrics.contains(&proofs("cuda")), "{metrics}");
}

/// Runs an in-process worker (over HTTP, CPU, every kind) until it has handled `jobs` jobs.
async fn run_worker(s: &Server, jobs: u64) -> Vec<Outcome> {
    let client = SchedulerClient::new(&s.url, KEY).unwrap();
    let mut config = WorkerConfig::new("in-process", capabilities::cpu(1 << 34, vec![]));
    config.max_jobs = Some(jobs);
    config.claim_wait = Duration::from_secs(1);
    let (_stop, stop) = watch::channel(Stop::Run);
    let mut outcomes = Vec::new();
    Worker::new(client, config)
        .run(stop, |o| outcomes.push(o.clone()))
        .await;
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_proves_small_jobs_in_one_batch_each_as_its_task() {
    let s = Server::start().await;
    let five = submit_fibonacci(&s, 5).await;
    let six = submit_fibonacci(&s, 6).await;
    let outcomes = run_worker(&s, 2).await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Done { batch: 2, .. })),
        "{outcomes:?}"
    );
    for (submitted, index) in [(five, 0), (six, 1)] {
        let job = s.job(submitted["id"].as_i64().unwrap()).await;
        assert_eq!(job["state"], "done");
        assert_eq!(job["result"]["batch"]["task_index"], index);
    }
}

/// A block chunk whose expected output is not what its program gives: the worker proves it,
/// sees that the scheduler would refuse the proof, and reports that instead of uploading it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_does_not_hand_in_a_proof_its_job_would_refuse() {
    let s = Server::start().await;
    let submitted = s.submit().await;
    let id = submitted["id"].as_i64().unwrap();
    s.post(&format!("/v1/jobs/{id}/cancel"))
        .send()
        .await
        .unwrap();
    let payload = ChunkPayload {
        cairo_program_hash: submitted["payload"]["cairo_program_hash"]
            .as_str()
            .unwrap()
            .to_owned(),
        block_number: 0,
        block_hash: Felt::ZERO,
        chunk_index: 0,
        chunk_count: 1,
        tx_start: 0,
        tx_end: 0,
        estimated_steps: 100,
        expected_output: vec![Felt::from(12_345u64)],
    };
    let hash = |field: &str| ContentHash::parse(submitted[field].as_str().unwrap()).unwrap();
    let spec = payload.spec(hash("program_hash"), hash("input_hash"), "test");
    let chunk = s.store.submit(spec).await.unwrap().job;

    let outcomes = run_worker(&s, 1).await;
    let [Outcome::Failed {
        job_id,
        reason,
        retryable: true,
    }] = outcomes.as_slice()
    else {
        panic!("one retryable failure: {outcomes:?}");
    };
    assert_eq!(*job_id, chunk.id.0);
    // Refused here, not by the scheduler's `complete` (whose refusal reads "complete: HTTP 422").
    assert!(
        reason.starts_with("the proof is not what the job asks for"),
        "{reason}"
    );
    assert!(reason.contains("wrong output: output felt 0"), "{reason}");
    let job = s.job(chunk.id.0).await;
    assert!(job["artifact_hash"].is_null());
    assert!(job["last_error"].as_str().unwrap().contains("wrong output"));
    let metrics = s.metrics().await;
    assert!(
        !metrics.contains("starfarm_artifacts_total{result=\"invalid\"}"),
        "nothing was handed in: {metrics}"
    );
}
