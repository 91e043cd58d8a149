//! `/v1/workers/*` except `complete`: what proving workers call to claim jobs, keep their
//! leases, report progress, or give jobs back. Handing in an artifact is [`super::complete`];
//! fetching programs and inputs, [`super::blobs`].
//!
//! Every route needs a `worker` or `admin` key ([`WorkerKey`]; other keys get 403). The
//! claim records the stored key that made it: while the job is active, that key may read
//! the job's program and input from `/v1/blobs`, and no other blob. Every write presents the lease (or, for
//! `complete`, its job id and fencing token); a lease that is no longer current gets 409 with
//! code `fenced`, and the worker must drop its work.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::blobs::blob_url;
use super::{ApiError, AppState, ErrorBody, WorkerKey};
use crate::job::JobState;
use crate::wire::{
    ClaimRequest, ClaimResponse, FailRequest, HeartbeatRequest, JobView, LeaseView, PhaseRequest,
    ReleaseRequest,
};

/// Longest claim long-poll.
pub const MAX_CLAIM_WAIT: Duration = Duration::from_secs(30);

/// Lease length when the worker asks for none.
pub const DEFAULT_LEASE_SECS: u64 = 60;
/// Bounds of the lease length a worker may ask for.
pub const MIN_LEASE_SECS: u64 = 1;
pub const MAX_LEASE_SECS: u64 = 3600;

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::new(e.status(), "invalid_request", e.body_text()))
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
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "Not a worker or admin key", body = ErrorBody)
    )
)]
pub async fn claim(
    WorkerKey(caller): WorkerKey,
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
            .claim_with_key(
                caller.key_id(),
                &request.worker_id,
                &capabilities,
                Duration::from_secs(secs),
            )
            .await
            .map_err(ApiError::lease)?;
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
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "Not a worker or admin key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current; stop working on the job", body = ErrorBody)
    )
)]
pub async fn heartbeat(
    _auth: WorkerKey,
    State(state): State<AppState>,
    body: Result<Json<HeartbeatRequest>, JsonRejection>,
) -> Result<Json<LeaseView>, ApiError> {
    let request = json_body(body)?;
    let lease = state
        .store
        .heartbeat(&request.lease.into())
        .await
        .map_err(ApiError::lease)?;
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
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "Not a worker or admin key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current; `conflict`: not a valid phase change", body = ErrorBody)
    )
)]
pub async fn set_phase(
    _auth: WorkerKey,
    State(state): State<AppState>,
    body: Result<Json<PhaseRequest>, JsonRejection>,
) -> Result<Json<JobView>, ApiError> {
    let request = json_body(body)?;
    let job = state
        .store
        .set_phase(&request.lease.into(), request.phase)
        .await
        .map_err(ApiError::lease)?;
    state.job_changed();
    Ok(Json(job.into()))
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
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "Not a worker or admin key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current", body = ErrorBody)
    )
)]
pub async fn release(
    _auth: WorkerKey,
    State(state): State<AppState>,
    body: Result<Json<ReleaseRequest>, JsonRejection>,
) -> Result<Json<JobView>, ApiError> {
    let request = json_body(body)?;
    let job = state
        .store
        .release(&request.lease.into(), &request.reason)
        .await
        .map_err(ApiError::lease)?;
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
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "Not a worker or admin key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current", body = ErrorBody)
    )
)]
pub async fn fail(
    _auth: WorkerKey,
    State(state): State<AppState>,
    body: Result<Json<FailRequest>, JsonRejection>,
) -> Result<Json<JobView>, ApiError> {
    let request = json_body(body)?;
    let job = state
        .store
        .fail(&request.lease.into(), &request.reason, request.retryable)
        .await
        .map_err(ApiError::lease)?;
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
