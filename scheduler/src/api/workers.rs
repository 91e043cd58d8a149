//! `/v1/workers/*` and `/v1/blobs/{sha256}`: what proving workers call to claim jobs, keep
//! their leases, report progress, hand in verified proof artifacts or give jobs back, and
//! fetch the programs and inputs they prove.
//!
//! Workers authenticate like every other client: a worker key is an API key
//! ([`super::ApiConfig::api_keys`]) for now. Every write presents the lease (or, for
//! `complete`, its job id and fencing token); a lease that is no longer current gets 409 with
//! code `fenced`, and the worker must drop its work.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use starfarm_prover::{batch, CairoProgram, ProofArtifact, SecurityProfile, Verified};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState, Authenticated, ErrorBody, JobView};
use crate::blobs::BlobError;
use crate::job::{ContentHash, Job, JobId, JobKind, JobState, Lease, Phase, WorkerCapabilities};
use crate::store::StoreError;

/// Longest claim long-poll.
pub const MAX_CLAIM_WAIT: Duration = Duration::from_secs(30);

/// Lease length when the worker asks for none.
pub const DEFAULT_LEASE_SECS: u64 = 60;
/// Bounds of the lease length a worker may ask for.
pub const MIN_LEASE_SECS: u64 = 1;
pub const MAX_LEASE_SECS: u64 = 3600;

/// What a worker can run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CapabilitiesView {
    /// Memory the worker can give one job.
    pub memory_bytes: u64,
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
            backends: c.backends,
            kinds: c.kinds,
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompleteParams {
    pub job_id: i64,
    pub fencing_token: i64,
    /// The backend that proved the artifact (`cpu`, `cuda`, `wgpu`), for metrics.
    #[serde(default)]
    pub backend: Option<String>,
    /// The artifact proves a batch (`prover/cairo/batch.cairo`) and this job is its task at
    /// this index.
    #[serde(default)]
    pub task_index: Option<u32>,
}

/// Store errors, with a stale lease reported as code `fenced`.
fn store_error(e: StoreError) -> ApiError {
    let fenced = matches!(e, StoreError::Fenced { .. });
    let mut error = ApiError::from(e);
    if fenced {
        error.code = "fenced";
    }
    error
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::new(e.status(), "invalid_request", e.body_text()))
}

fn blob_url(hash: &ContentHash) -> String {
    format!("/v1/blobs/{hash}")
}

fn invalid_artifact(reason: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_artifact", reason)
}

/// Lease the best queued job that fits the worker's capabilities.
#[utoipa::path(
    post,
    path = "/v1/workers/claim",
    tag = "workers",
    request_body = ClaimRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A job, its lease, and where to fetch its program and input", body = ClaimResponse),
        (status = 204, description = "No job fits the worker now"),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key (worker keys are API keys)", body = ErrorBody)
    )
)]
pub async fn claim(
    _auth: Authenticated,
    State(state): State<AppState>,
    body: Result<Json<ClaimRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = json_body(body)?;
    if request.worker_id.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "`worker_id` must not be empty",
        ));
    }
    let secs = request
        .lease_secs
        .unwrap_or(DEFAULT_LEASE_SECS)
        .clamp(MIN_LEASE_SECS, MAX_LEASE_SECS);
    let wait = Duration::from_secs(request.wait_secs.unwrap_or(0)).min(MAX_CLAIM_WAIT);
    let capabilities = request.capabilities.into();
    let deadline = tokio::time::Instant::now() + wait;
    let claimed = loop {
        // Registered before the claim, so a submission in between wakes us.
        let changed = state.changes.notified();
        let claimed = state
            .store
            .claim(&request.worker_id, &capabilities, Duration::from_secs(secs))
            .await
            .map_err(store_error)?;
        let now = tokio::time::Instant::now();
        if claimed.is_some() || now >= deadline {
            break claimed;
        }
        // Jobs also become claimable without a change here (backoff ends, another scheduler
        // process): re-read every poll interval.
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(state.config.poll_interval.min(deadline - now)) => {}
        }
    };
    let Some((job, lease)) = claimed else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    state.job_changed();
    tracing::info!(job = %job.id, worker = %lease.worker_id, token = lease.fencing_token, "job claimed");
    let program_hash = job.spec.program_hash.clone();
    let input_hash = job.spec.input_hash.clone();
    Ok(Json(ClaimResponse {
        job: job.into(),
        lease: lease.into(),
        program_url: blob_url(&program_hash),
        program_hash: program_hash.to_string(),
        input_url: blob_url(&input_hash),
        input_hash: input_hash.to_string(),
    })
    .into_response())
}

/// Extend a lease by the duration it was claimed with.
#[utoipa::path(
    post,
    path = "/v1/workers/heartbeat",
    tag = "workers",
    request_body = HeartbeatRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The renewed lease", body = LeaseView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current; stop working on the job", body = ErrorBody)
    )
)]
pub async fn heartbeat(
    _auth: Authenticated,
    State(state): State<AppState>,
    body: Result<Json<HeartbeatRequest>, JsonRejection>,
) -> Result<Json<LeaseView>, ApiError> {
    let request = json_body(body)?;
    let lease = state
        .store
        .heartbeat(&request.lease.into())
        .await
        .map_err(store_error)?;
    Ok(Json(lease.into()))
}

/// Report progress: leased → proving → verifying.
#[utoipa::path(
    post,
    path = "/v1/workers/phase",
    tag = "workers",
    request_body = PhaseRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The job in its new phase", body = JobView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current; `conflict`: not a valid phase change", body = ErrorBody)
    )
)]
pub async fn set_phase(
    _auth: Authenticated,
    State(state): State<AppState>,
    body: Result<Json<PhaseRequest>, JsonRejection>,
) -> Result<Json<JobView>, ApiError> {
    let request = json_body(body)?;
    let job = state
        .store
        .set_phase(&request.lease.into(), request.phase)
        .await
        .map_err(store_error)?;
    state.job_changed();
    Ok(Json(job.into()))
}

/// Hand in the proof artifact (the raw bytes as the body). The server verifies it and checks
/// that it proves the job's program with the job's profile before the job is done; a bad
/// artifact gets 422 and the job stays leased.
#[utoipa::path(
    post,
    path = "/v1/workers/complete",
    tag = "workers",
    params(CompleteParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The proof artifact"),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The done job", body = JobView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current; nothing was stored", body = ErrorBody),
        (status = 413, description = "Body larger than the server's limit", body = ErrorBody),
        (status = 422, description = "`invalid_artifact`: the artifact is malformed, does not verify, or proves another program or profile; the job stays leased", body = ErrorBody)
    )
)]
pub async fn complete(
    _auth: Authenticated,
    State(state): State<AppState>,
    params: Result<Query<CompleteParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<JobView>, ApiError> {
    let params = params
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("invalid_request", e.body_text()))?;
    let backend = params.backend.clone().unwrap_or_else(|| "cpu".to_owned());
    let outcome = complete_job(&state, params, body).await;
    let metrics = &state.metrics;
    match &outcome {
        Ok(job) => {
            let result = job.result.as_ref().unwrap_or(&Value::Null);
            // The verified artifact's header names the backend that proved it; the query
            // parameter is only what the worker says.
            let proved_on = result.get("backend").and_then(Value::as_str);
            metrics.record_proof(
                job.spec.kind.as_str(),
                proved_on.unwrap_or(&backend),
                result,
            );
        }
        Err(e) if e.code == "fenced" || e.code == "invalid_artifact" => {
            let label = if e.code == "fenced" {
                "fenced"
            } else {
                "invalid"
            };
            metrics.artifacts.with_label_values(&[label]).inc();
        }
        Err(_) => {}
    }
    outcome.map(|job| Json(job.into()))
}

/// Checks and stores a handed-in artifact and completes its job.
async fn complete_job(
    state: &AppState,
    params: CompleteParams,
    body: Result<Bytes, BytesRejection>,
) -> Result<Job, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the request body is larger than this server's limit of {} bytes",
                    state.config.max_body_bytes
                ),
            )
        } else {
            ApiError::new(e.status(), "invalid_request", e.body_text())
        }
    })?;
    let id = JobId(params.job_id);
    let fenced = || {
        store_error(StoreError::Fenced {
            job: id,
            token: params.fencing_token,
        })
    };

    // Cheap check first: a stale token is refused before any verification.
    let job = state.store.get(id).await.map_err(store_error)?;
    if !job.state.is_active() || job.fencing_token != params.fencing_token {
        return Err(fenced());
    }
    let (Some(worker_id), Some(expires_at_ms)) = (job.worker_id.clone(), job.lease_expires_at_ms)
    else {
        return Err(fenced());
    };
    let lease = Lease {
        job_id: id,
        worker_id,
        fencing_token: params.fencing_token,
        expires_at_ms,
    };

    let result = match params.task_index {
        None => check_artifact(&job, body.to_vec()).await?,
        Some(index) => check_batch_artifact(state, &job, body.to_vec(), index).await?,
    };

    // `complete` checks the lease again (token and expiry) in the transaction that stores
    // the result; a blob stored for a job fenced meanwhile is only an unreferenced object.
    let hash = state.blobs.put(body.to_vec()).await?;
    let job = state
        .store
        .complete(&lease, &hash, result)
        .await
        .map_err(store_error)?;
    state.job_changed();
    tracing::info!(job = %job.id, artifact = %hash, "job done");
    Ok(job)
}

/// Parses and verifies `bytes` off the async threads, and checks that they prove `job`'s
/// program under its profile; returns what the job records as its result.
async fn check_artifact(job: &Job, bytes: Vec<u8>) -> Result<Value, ApiError> {
    let expected_program = job
        .spec
        .payload
        .get("cairo_program_hash")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (artifact, verified) = verify_for(job, bytes).await?;

    let proven = format!("{:#x}", verified.program_hash);
    match expected_program {
        Some(expected) if expected == proven => {}
        Some(expected) => {
            return Err(invalid_artifact(format!(
                "the artifact proves program {proven}, the job's program is {expected}"
            )))
        }
        None => {
            return Err(ApiError::internal(format!(
                "job {} has no `cairo_program_hash` in its payload",
                job.id
            )))
        }
    }
    check_output(job, &verified.output)?;
    Ok(json!({
        "program_hash": proven,
        "output": verified.output.iter().map(|f| format!("{f:#x}")).collect::<Vec<_>>(),
        "fact": verified.fact,
        "security_bits": verified.security_bits,
        "profile": artifact.header.profile.name(),
        "steps": artifact.header.steps,
        "prover": artifact.header.prover,
        "backend": artifact.header.backend,
        "gpu": artifact.header.gpu,
        "timings_ms": serde_json::to_value(artifact.header.timings_ms).unwrap_or(Value::Null),
    }))
}

/// Parses `bytes` and verifies them off the async threads with `job`'s profile.
async fn verify_for(job: &Job, bytes: Vec<u8>) -> Result<(ProofArtifact, Verified), ApiError> {
    let profile: SecurityProfile = job
        .spec
        .profile
        .parse()
        .map_err(|e: String| ApiError::internal(format!("job {}: {e}", job.id)))?;
    tokio::task::spawn_blocking(move || {
        let artifact = ProofArtifact::from_bytes(&bytes)
            .map_err(|e| invalid_artifact(format!("not a proof artifact: {e}")))?;
        if artifact.header.profile != profile {
            return Err(invalid_artifact(format!(
                "the artifact was proven with profile {}, the job asks for {profile}",
                artifact.header.profile
            )));
        }
        let verified = starfarm_prover::verify(&artifact, profile.security_bits())
            .map_err(|e| invalid_artifact(format!("the artifact does not verify: {e}")))?;
        Ok((artifact, verified))
    })
    .await
    .map_err(|e| ApiError::internal(format!("artifact verification panicked: {e}")))?
}

/// Checks a batch artifact for the job that is its task `index`: it verifies, proves the
/// batch program, and its task `index` ran the job's program code (by task hash).
async fn check_batch_artifact(
    state: &AppState,
    job: &Job,
    bytes: Vec<u8>,
    index: u32,
) -> Result<Value, ApiError> {
    let batch_hash = batch::batch_program()
        .map_err(|e| ApiError::internal(e.to_string()))?
        .hash();
    let (artifact, verified) = verify_for(job, bytes).await?;
    if verified.program_hash != batch_hash {
        return Err(invalid_artifact(format!(
            "a task index was given but the artifact proves {:#x}, not the batch program {batch_hash:#x}",
            verified.program_hash
        )));
    }
    let tasks = batch::parse_batch_output(&verified.output)
        .map_err(|e| invalid_artifact(format!("not a batch output: {e}")))?;
    let task = tasks.get(index as usize).ok_or_else(|| {
        invalid_artifact(format!(
            "the batch has {} tasks, no task {index}",
            tasks.len()
        ))
    })?;
    let program_bytes = state.blobs.get(&job.spec.program_hash).await?;
    let program = CairoProgram::from_json(&program_bytes, &format!("job {} program", job.id))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if batch::task_hash(&program) != task.task_hash {
        return Err(invalid_artifact(format!(
            "task {index} of the batch ran other code than job {}'s program",
            job.id
        )));
    }
    check_output(job, &task.output)?;
    let hex = |felts: &[starfarm_prover::Felt]| -> Vec<String> {
        felts.iter().map(|f| format!("{f:#x}")).collect()
    };
    Ok(json!({
        "program_hash": format!("{:#x}", program.hash()),
        "output": hex(&task.output),
        "batch": {
            "program_hash": format!("{batch_hash:#x}"),
            "task_index": index,
            "task_hash": format!("{:#x}", task.task_hash),
            "tasks": tasks.len(),
            "fact": verified.fact,
        },
        "security_bits": verified.security_bits,
        "profile": artifact.header.profile.name(),
        "steps": job.spec.payload.get("steps").cloned().unwrap_or(json!(artifact.header.steps)),
        "prover": artifact.header.prover,
        "backend": artifact.header.backend,
        "gpu": artifact.header.gpu,
        "timings_ms": serde_json::to_value(artifact.header.timings_ms).unwrap_or(Value::Null),
    }))
}

/// The output must be the one the job's program gives on the job's input, known in advance
/// from a native run: block chunks list it (`expected_output`), submitted programs give its
/// hash (`output_sha256`). A proof of the right program with any other output (another input)
/// proves something else.
fn check_output(job: &Job, output: &[starfarm_prover::Felt]) -> Result<(), ApiError> {
    if let Some(expected) = job.spec.payload.get("expected_output") {
        check_expected_output(job.id, expected, output)?;
    }
    if let Some(expected) = job
        .spec
        .payload
        .get("output_sha256")
        .and_then(Value::as_str)
    {
        if super::jobs::output_sha256(output) != expected {
            return Err(invalid_artifact(format!(
                "the proven output ({} felts) is not what job {}'s program outputs on its input",
                output.len(),
                job.id
            )));
        }
    }
    Ok(())
}

/// Refuses an output other than the job's `expected_output` (hex felts), naming the first
/// felt that differs.
fn check_expected_output(
    job: JobId,
    expected: &Value,
    actual: &[starfarm_prover::Felt],
) -> Result<(), ApiError> {
    let malformed = || ApiError::internal(format!("job {job}: `expected_output` is not hex felts"));
    let expected: Vec<starfarm_prover::Felt> = expected
        .as_array()
        .ok_or_else(malformed)?
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| starfarm_prover::Felt::from_hex(s).ok())
        })
        .collect::<Option<_>>()
        .ok_or_else(malformed)?;
    let show =
        |f: Option<&starfarm_prover::Felt>| f.map_or("nothing".into(), |f| format!("{f:#x}"));
    match (0..expected.len().max(actual.len())).find(|&i| expected.get(i) != actual.get(i)) {
        None => Ok(()),
        Some(i) => Err(invalid_artifact(format!(
            "output felt {i} is {}, the job expects {} ({} felts proven, {} expected)",
            show(actual.get(i)),
            show(expected.get(i)),
            actual.len(),
            expected.len()
        ))),
    }
}

/// Hand the job back untouched (the worker is shutting down): queued again at once, the
/// attempt not counted.
#[utoipa::path(
    post,
    path = "/v1/workers/release",
    tag = "workers",
    request_body = ReleaseRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The job, queued again", body = JobView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current", body = ErrorBody)
    )
)]
pub async fn release(
    _auth: Authenticated,
    State(state): State<AppState>,
    body: Result<Json<ReleaseRequest>, JsonRejection>,
) -> Result<Json<JobView>, ApiError> {
    let request = json_body(body)?;
    let job = state
        .store
        .release(&request.lease.into(), &request.reason)
        .await
        .map_err(store_error)?;
    state.job_changed();
    state.metrics.retries.with_label_values(&["released"]).inc();
    tracing::info!(job = %job.id, reason = %request.reason, "job handed back");
    Ok(Json(job.into()))
}

/// Give the job back after an error: re-queued with backoff if `retryable` and attempts are
/// left, failed otherwise.
#[utoipa::path(
    post,
    path = "/v1/workers/fail",
    tag = "workers",
    request_body = FailRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The job in its new state (queued or failed)", body = JobView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current", body = ErrorBody)
    )
)]
pub async fn fail(
    _auth: Authenticated,
    State(state): State<AppState>,
    body: Result<Json<FailRequest>, JsonRejection>,
) -> Result<Json<JobView>, ApiError> {
    let request = json_body(body)?;
    let job = state
        .store
        .fail(&request.lease.into(), &request.reason, request.retryable)
        .await
        .map_err(store_error)?;
    state.job_changed();
    if job.state == JobState::Queued {
        state
            .metrics
            .retries
            .with_label_values(&["worker_error"])
            .inc();
    }
    tracing::info!(job = %job.id, state = %job.state, "job given back");
    Ok(Json(job.into()))
}

/// A stored blob (program, input or artifact) by its SHA-256.
#[utoipa::path(
    get,
    path = "/v1/blobs/{sha256}",
    tag = "workers",
    params(("sha256" = String, Path, description = "SHA-256 of the blob, 64 lowercase hex digits")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The blob bytes", content_type = "application/octet-stream"),
        (status = 400, description = "Not a SHA-256 hex digest", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such blob", body = ErrorBody)
    )
)]
pub async fn get_blob(
    _auth: Authenticated,
    State(state): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(hash) = hash.map_err(|e| ApiError::bad_request("invalid_request", e.body_text()))?;
    let hash = ContentHash::parse(&hash)
        .map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
    let bytes = match state.blobs.get(&hash).await {
        Ok(bytes) => bytes,
        Err(e @ BlobError::NotFound(_)) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                e.to_string(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
