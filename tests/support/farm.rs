//! The farm's processes as tests drive them: a `starfarm scheduler` and the HTTP calls a
//! test makes to it (submit, poll, fetch and verify artifacts, read metrics), and
//! `starfarm worker`s pointed at it (or at a proxy in front of it).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use starfarm_prover::ProofArtifact;

use super::{Proc, PATIENCE};

/// The API key of every scheduler started here (and of its workers).
pub const KEY: &str = "farm-test-key";

pub struct Scheduler {
    pub proc: Proc,
    pub url: String,
    http: reqwest::Client,
}

impl Scheduler {
    /// A scheduler on `listen` (127.0.0.1:0 for a free port) with its data in `data`,
    /// sweeping expired leases every 200 ms.
    pub async fn start(data: &Path, listen: &str) -> Self {
        Self::start_with(data, listen, &[]).await
    }

    /// [`Scheduler::start`] with more arguments (`--postgres-url`, `--blobs`, …).
    pub async fn start_with(data: &Path, listen: &str, extra: &[&str]) -> Self {
        Self::start_with_env(data, listen, extra, &[]).await
    }

    /// [`Scheduler::start_with`] with more environment variables (`env`: an S3 blob
    /// store's settings).
    pub async fn start_with_env(
        data: &Path,
        listen: &str,
        extra: &[&str],
        env: &[(String, String)],
    ) -> Self {
        let data = data.to_str().expect("UTF-8 path");
        let mut args = vec![
            "scheduler",
            "--listen",
            listen,
            "--data",
            data,
            "--api-key",
            KEY,
            "--lease-sweep-ms",
            "200",
        ];
        args.extend_from_slice(extra);
        let proc = Proc::spawn_with_env(&args, env);
        let line = proc.line_with("listening on http://").await;
        Self {
            proc,
            url: super::url_in(&line),
            http: reqwest::Client::new(),
        }
    }

    pub fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// A worker of this scheduler (8 GiB, `--id id`) with `extra` arguments.
    pub fn worker(&self, id: &str, extra: &[&str]) -> Proc {
        worker(&self.url, id, extra)
    }

    /// Submits the Fibonacci example with input `n` (Test profile); the job.
    pub async fn submit(&self, n: u64) -> Value {
        match self.try_submit(n).await {
            Ok(job) => job,
            Err(refused) => panic!("submit: {refused}"),
        }
    }

    /// [`Scheduler::submit`], or the status and body it was refused with.
    pub async fn try_submit(&self, n: u64) -> Result<Value, String> {
        let program: Value = serde_json::from_slice(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/fibonacci.json"
            ))
            .expect("example"),
        )
        .expect("JSON");
        let body = json!({"program": program, "input": [n], "profile": "test"});
        let response = self
            .http
            .post(format!("{}/v1/jobs", self.url))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "{status}: {}",
                response.text().await.unwrap_or_default()
            ));
        }
        response.json().await.map_err(|e| e.to_string())
    }

    pub async fn get(&self, path: &str) -> Value {
        match self.try_get(path).await {
            Ok(value) => value,
            Err(status) => panic!("{path}: {status}"),
        }
    }

    /// The answer to `GET path`, or the status (or error) it failed with.
    pub async fn try_get(&self, path: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(KEY)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(response.status().to_string());
        }
        response.json().await.map_err(|e| e.to_string())
    }

    pub async fn job(&self, id: i64) -> Value {
        self.get(&format!("/v1/jobs/{id}")).await
    }

    /// Polls until the job is in `state`; failed polls (a database away) are polled again.
    pub async fn until_state(&self, id: i64, state: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let job = self.try_get(&format!("/v1/jobs/{id}")).await;
            match job {
                Ok(job) if job["state"] == state => return job,
                _ => assert!(Instant::now() < deadline, "job {id} never {state}: {job:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The artifact of a done job, verified here.
    pub async fn verified_artifact(&self, id: i64) -> ProofArtifact {
        let bytes = self
            .http
            .get(format!("{}/v1/jobs/{id}/artifact", self.url))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("artifact")
            .bytes()
            .await
            .expect("bytes");
        let artifact = ProofArtifact::from_bytes(&bytes).expect("an artifact");
        starfarm_prover::verify(&artifact, 0).expect("the stored proof verifies");
        artifact
    }

    /// A job rescued after its first lease expired: done on its second attempt, the first's
    /// error naming `cause` and the expiry, its artifact verified, the expiry counted.
    pub async fn rescued(&self, done: &Value, cause: &str) -> ProofArtifact {
        assert_eq!(done["attempts"], 2, "{done}");
        let error = done["last_error"].as_str().unwrap_or_default();
        assert!(
            error.contains(cause) && error.contains("expired"),
            "{error}"
        );
        let artifact = self.verified_artifact(id(done)).await;
        let metrics = self.metrics().await;
        assert!(
            metric(&metrics, "starfarm_lease_expiries_total") >= 1.0,
            "{metrics}"
        );
        artifact
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}

/// A worker (8 GiB, `--id id`) of the scheduler at `url` with `extra` arguments.
pub fn worker(url: &str, id: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "worker",
        "--url",
        url,
        "--api-key",
        KEY,
        "--id",
        id,
        "--memory-gib",
        "8",
    ];
    args.extend_from_slice(extra);
    Proc::spawn(&args)
}

/// The value of a metric line (`name{labels} value`), 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

pub fn id(job: &Value) -> i64 {
    job["id"].as_i64().expect("job id")
}

/// The count before `what` in a worker's "worker stopped: 1 proven, 0 failed, …" line.
pub async fn stopped_count(worker: &Proc, what: &str) -> u64 {
    let summary = worker.line_with("worker stopped:").await;
    let counts = summary
        .trim_start_matches(|c| c != ':')
        .trim_start_matches(':');
    counts
        .split(',')
        .find_map(|part| part.trim().strip_suffix(what)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {what:?} count in {summary:?}"))
}
