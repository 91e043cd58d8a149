//! The REST API's request and response bodies: what the server ([`crate::api`]) and its
//! clients (the worker's [`crate::worker::client`], tests, benches) exchange as JSON. Both
//! sides import them from here, so neither depends on the other.
//!
//! The OpenAPI document names these schemas (`JobView`, `ClaimRequest`, ...): renaming one
//! changes the document.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use starfarm_prover::SecurityProfile;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};

use crate::job::{
    ContentHash, Job, JobId, JobKind, JobState, Lease, Phase, WebhookDelivery, WorkerCapabilities,
};
use crate::store::JobPage;

/// A proving request (`POST /v1/jobs`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The compiled program: the JSON object written by `cairo-compile --proof_mode`.
    #[schema(value_type = Object)]
    pub program: Value,
    /// The program input: an array of felts (numbers, or decimal / 0x-hex strings).
    /// Absent for none.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>, example = json!([10, "0x1f"]))]
    pub input: Option<Value>,
    /// Security profile: `production`, `production-fast` or `test` (NOT SECURE).
    #[serde(default = "default_profile")]
    #[schema(example = "production")]
    pub profile: String,
    /// Higher is proven first; 0 when absent.
    #[serde(default)]
    pub priority: Option<i32>,
    /// An http or https URL the scheduler POSTs the job to once it is done, failed or
    /// cancelled: the body is the job as `GET /v1/jobs/{id}` shows it (a `JobView`), with
    /// headers `Starfarm-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"
    /// keyed with the scheduler's webhook secret>`, `Idempotency-Key` (the same on every
    /// attempt) and `Starfarm-Delivery-Attempt`. A 2xx answer delivers; anything else is
    /// retried with exponential backoff (8 attempts over about an hour by default). Refused
    /// (400 `invalid_callback_url`) unless the host resolves to public addresses only,
    /// unless the scheduler runs with `--webhook-allow-private`; refused (400
    /// `callbacks_disabled`) when the scheduler has no webhook secret.
    #[serde(default)]
    #[schema(example = "https://example.com/starfarm/jobs")]
    pub callback_url: Option<String>,
}

fn default_profile() -> String {
    SecurityProfile::Production.name().to_owned()
}

/// The OpenAPI schema of a [`JobState`]: its stored names.
pub(crate) fn state_schema() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(JobState::ALL.map(JobState::as_str)))
}

/// The OpenAPI schema of a [`JobKind`]: its stored names.
pub(crate) fn kind_schema() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(JobKind::ALL.map(JobKind::as_str)))
}

/// A job as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    #[schema(schema_with = kind_schema)]
    pub kind: JobKind,
    #[schema(schema_with = state_schema)]
    pub state: JobState,
    pub profile: String,
    pub priority: i32,
    /// SHA-256 of the stored (canonical JSON) program.
    #[schema(value_type = String)]
    pub program_hash: ContentHash,
    /// SHA-256 of the stored (canonical JSON) input.
    #[schema(value_type = String)]
    pub input_hash: ContentHash,
    pub attempts: u32,
    pub max_attempts: u32,
    /// Ids of jobs that must be done first.
    pub depends_on: Vec<i64>,
    /// The worker holding the job, or the last one that did.
    pub worker_id: Option<String>,
    /// Only workers with this much memory take the job.
    pub required_memory_bytes: u64,
    /// Only workers with this backend take the job; any when absent.
    pub required_backend: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// SHA-256 of the proof artifact, once done (download it from `/v1/jobs/{id}/artifact`).
    #[schema(value_type = Option<String>)]
    pub artifact_hash: Option<ContentHash>,
    /// What the worker reported with the artifact, once done.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Kind-specific parameters (for `cairo_proof`: the program's Cairo hash and steps).
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Id of the API key that submitted the job; absent for the farm's own jobs and the
    /// scheduler's `--api-key` admin.
    #[serde(default)]
    pub owner: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// Seconds workers spent in each phase, measured by the scheduler from their phase
    /// reports (over every attempt).
    pub seconds_by_phase: PhaseSeconds,
    /// Those seconds times the proving worker's price per machine-hour (`result`'s
    /// `price_per_hour_usd`, from the worker's `--price-per-hour`) / 3600, divided by the
    /// tasks of its batch proof if any; absent until a worker that reports a price hands in
    /// the artifact.
    pub estimated_cost_usd: Option<f64>,
    /// Where the job is POSTed once finished (see `SubmitRequest`); absent for none.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// How that delivery stands; absent without `callback_url`.
    #[serde(default)]
    pub webhook: Option<WebhookDelivery>,
}

/// Seconds spent proving and verifying a job.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct PhaseSeconds {
    pub proving: f64,
    pub verifying: f64,
}

impl PhaseSeconds {
    pub fn of(job: &Job) -> Self {
        Self {
            proving: job.proving_ms as f64 / 1000.0,
            verifying: job.verifying_ms as f64 / 1000.0,
        }
    }

    pub fn total(self) -> f64 {
        self.proving + self.verifying
    }
}

/// `price_per_hour_usd` in a done job's result: the price its prover reported.
pub const PRICE_FIELD: &str = "price_per_hour_usd";

/// The job's estimated cost: its phase seconds at the price its prover reported, shared
/// with the other tasks of its batch (they were proven in the same machine time).
pub fn estimated_cost_usd(job: &Job) -> Option<f64> {
    let result = job.result.as_ref()?;
    let price = result.get(PRICE_FIELD)?.as_f64()?;
    let tasks = result["batch"]["tasks"].as_u64().unwrap_or(1).max(1);
    Some(PhaseSeconds::of(job).total() * price / 3600.0 / tasks as f64)
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        let (seconds_by_phase, estimated_cost_usd) =
            (PhaseSeconds::of(&job), estimated_cost_usd(&job));
        Self {
            id: job.id.0,
            kind: job.spec.kind,
            state: job.state,
            profile: job.spec.profile,
            priority: job.spec.priority,
            program_hash: job.spec.program_hash,
            input_hash: job.spec.input_hash,
            attempts: job.attempts,
            max_attempts: job.spec.max_attempts,
            depends_on: job.spec.depends_on.iter().map(|d| d.0).collect(),
            worker_id: job.worker_id,
            required_memory_bytes: job.spec.required_memory_bytes,
            required_backend: job.spec.required_backend,
            last_error: job.last_error,
            artifact_hash: job.artifact_hash,
            result: job.result,
            payload: job.spec.payload,
            owner: job.spec.owner,
            created_at_ms: job.created_at_ms,
            updated_at_ms: job.updated_at_ms,
            finished_at_ms: job.finished_at_ms,
            seconds_by_phase,
            estimated_cost_usd,
            callback_url: job.spec.callback_url,
            webhook: job.webhook,
        }
    }
}

/// One page of jobs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<i64>,
}

impl From<JobPage> for JobList {
    fn from(page: JobPage) -> Self {
        Self {
            jobs: page.jobs.into_iter().map(JobView::from).collect(),
            next: page.next.map(|id| id.0),
        }
    }
}

/// The answer to a long-poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WaitResponse {
    /// The job reached a terminal state (done, failed or cancelled); false when the wait
    /// timed out first.
    pub finished: bool,
    pub job: JobView,
}

/// What a worker can run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CapabilitiesView {
    /// Memory the worker can give one job.
    pub memory_bytes: u64,
    /// Device (GPU) memory the worker can give one job; 0 (the default) when it has none or
    /// does not say.
    #[serde(default)]
    pub device_memory_bytes: u64,
    /// Prover backends the worker runs, e.g. `cpu`, `cuda`.
    #[serde(default)]
    pub backends: Vec<String>,
    /// Job kinds the worker handles (`cairo_proof`, ...); empty for all.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub kinds: Vec<JobKind>,
}

impl From<CapabilitiesView> for WorkerCapabilities {
    fn from(c: CapabilitiesView) -> Self {
        Self {
            memory_bytes: c.memory_bytes,
            device_memory_bytes: c.device_memory_bytes,
            backends: c.backends,
            kinds: c.kinds,
        }
    }
}

impl From<&WorkerCapabilities> for CapabilitiesView {
    fn from(c: &WorkerCapabilities) -> Self {
        Self {
            memory_bytes: c.memory_bytes,
            device_memory_bytes: c.device_memory_bytes,
            backends: c.backends.clone(),
            kinds: c.kinds.clone(),
        }
    }
}

/// A worker's lease on a job: present it with every write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeaseView {
    pub job_id: i64,
    pub worker_id: String,
    /// Only the holder of the job's current token may write.
    pub fencing_token: i64,
    /// The lease is valid until this instant (milliseconds since the epoch, store's clock);
    /// heartbeat before it.
    pub expires_at_ms: i64,
}

impl From<Lease> for LeaseView {
    fn from(l: Lease) -> Self {
        Self {
            job_id: l.job_id.0,
            worker_id: l.worker_id,
            fencing_token: l.fencing_token,
            expires_at_ms: l.expires_at_ms,
        }
    }
}

impl From<LeaseView> for Lease {
    fn from(l: LeaseView) -> Self {
        Self {
            job_id: JobId(l.job_id),
            worker_id: l.worker_id,
            fencing_token: l.fencing_token,
            expires_at_ms: l.expires_at_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub worker_id: String,
    pub capabilities: CapabilitiesView,
    /// Lease length in seconds (default 60, 1 to 3600).
    #[serde(default)]
    pub lease_secs: Option<u64>,
    /// Wait up to this many seconds (at most 30) for a job that fits instead of answering
    /// 204 at once (long-poll).
    #[serde(default)]
    pub wait_secs: Option<u64>,
}

/// A claimed job, its lease and where to fetch its program and input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaimResponse {
    pub job: JobView,
    pub lease: LeaseView,
    /// SHA-256 of the program (canonical JSON); fetch it from `program_url`.
    pub program_hash: String,
    pub program_url: String,
    /// SHA-256 of the input (JSON array of felts); fetch it from `input_url`.
    pub input_hash: String,
    pub input_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    pub lease: LeaseView,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseRequest {
    pub lease: LeaseView,
    /// `proving` or `verifying`.
    #[schema(value_type = String, example = "proving")]
    pub phase: Phase,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    pub lease: LeaseView,
    /// Why the job is handed back, e.g. "worker shutting down".
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    pub lease: LeaseView,
    pub reason: String,
    /// Re-queue the job (with backoff, while attempts are left) instead of failing it.
    pub retryable: bool,
}

/// The query of `POST /v1/workers/complete` (the body is the artifact's bytes).
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompleteParams {
    pub job_id: i64,
    pub fencing_token: i64,
    /// The backend that proved the artifact (`cpu`, `cuda`, `wgpu`), for metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The artifact proves a batch (`prover/cairo/batch.cairo`) and this job is its task at
    /// this index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_index: Option<u32>,
    /// The worker's price per machine-hour in USD (its `--price-per-hour`), kept in the
    /// job's result for its estimated cost; absent or 0: not reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_hour_usd: Option<f64>,
}

#[cfg(test)]
mod cost_tests {
    use super::*;
    use crate::job::JobSpec;

    fn done(result: Value) -> Job {
        let (program, input) = (ContentHash::of(b"p"), ContentHash::of(b"i"));
        let spec = JobSpec::new(JobKind::CairoProof, program, input, "test");
        let mut job = Job::queued(JobId(1), spec);
        (job.proving_ms, job.verifying_ms) = (90_000, 9_000);
        job.result = Some(result);
        job
    }

    #[test]
    fn cost_is_seconds_at_the_price_shared_by_the_batch() {
        let alone = done(serde_json::json!({ PRICE_FIELD: 4.0 }));
        assert_eq!(estimated_cost_usd(&alone), Some(99.0 * 4.0 / 3600.0));
        let batched = done(serde_json::json!({ PRICE_FIELD: 4.0, "batch": {"tasks": 3} }));
        assert_eq!(
            estimated_cost_usd(&batched),
            Some(99.0 * 4.0 / 3600.0 / 3.0)
        );
        assert_eq!(estimated_cost_usd(&done(serde_json::json!({}))), None);
        assert_eq!(PhaseSeconds::of(&alone).total(), 99.0);
    }
}
