//! `/v1/jobs`: submit, read, list, cancel, wait for and download proving jobs. Callers with
//! a `submit` key see only their own jobs (another tenant's job answers 404); `admin` sees
//! every job ([`super::auth`]).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use starfarm_prover::{
    execute, memory_estimate, CairoProgram, ExecutionLimits, ProgramInput, SecurityProfile,
};
use utoipa::IntoParams;

use super::auth::visible_job;
use super::{quota, ApiError, AppState, Caller, ErrorBody, Tenant};
use crate::job::{ContentHash, JobId, JobKind, JobSpec, JobState};
use crate::kinds::{output_sha256, CairoProofPayload, KindPayload};
use crate::store::JobFilter;
use crate::webhooks;
use crate::wire::{kind_schema, state_schema, JobList, JobView, SubmitRequest, WaitResponse};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only jobs in this state.
    #[param(schema_with = state_schema)]
    pub state: Option<String>,
    /// Only jobs of this kind.
    #[param(schema_with = kind_schema)]
    pub kind: Option<String>,
    /// Page size (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// Only jobs with a smaller id: the `next` of the previous page.
    pub before: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitParams {
    /// Seconds to wait at most (default 30; capped by the server, 300 by default).
    pub timeout_secs: Option<u64>,
}

pub(super) fn job_id(path: Result<Path<i64>, PathRejection>) -> Result<JobId, ApiError> {
    path.map(|Path(id)| JobId(id)).map_err(|e| {
        ApiError::bad_request("invalid_request", format!("bad job id: {}", e.body_text()))
    })
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("invalid_request", e.body_text()))
}

/// The same JSON with every object's keys sorted: equal programs get equal hashes whatever
/// order the client wrote their keys in.
pub(crate) fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// What a submission checks and stores, computed off the async threads (programs are big).
struct Checked {
    program: Vec<u8>,
    cairo_hash: String,
    input: Vec<u8>,
    /// Steps of the run, and the memory proving it takes (routes the job to workers that
    /// have it).
    steps: u64,
    memory_bytes: u64,
    /// What the program outputs on this input: an artifact must prove exactly this.
    output_sha256: String,
}

fn check_submission(program: &Value, input: Option<&Value>) -> Result<Checked, ApiError> {
    if !program.is_object() {
        return Err(ApiError::bad_request(
            "invalid_program",
            "`program` must be the JSON object written by `cairo-compile --proof_mode`",
        ));
    }
    let program_bytes = serde_json::to_vec(&canonical(program))
        .map_err(|e| ApiError::internal(format!("cannot encode the program: {e}")))?;
    let parsed = CairoProgram::from_json(&program_bytes, "program")
        .map_err(|e| ApiError::bad_request("invalid_program", e.to_string()))?;
    let input_bytes = match input {
        Some(input) => serde_json::to_vec(input)
            .map_err(|e| ApiError::internal(format!("cannot encode the input: {e}")))?,
        None => b"[]".to_vec(),
    };
    let parsed_input = ProgramInput::from_json(&input_bytes, "input")
        .map_err(|e| ApiError::bad_request("invalid_input", e.to_string()))?;
    // Running it here turns a program that fails into a 400 now rather than a failed job
    // later, and sizes the job.
    let execution = execute(&parsed, &parsed_input, ExecutionLimits::default())
        .map_err(|e| ApiError::bad_request("program_failed", e.to_string()))?;
    let memory_bytes = memory_estimate(&execution)
        .map_err(|e| ApiError::bad_request("too_large", e.to_string()))?;
    Ok(Checked {
        program: program_bytes,
        cairo_hash: format!("{:#x}", parsed.hash()),
        input: parsed_input.to_json().into_bytes(),
        steps: execution.steps,
        memory_bytes,
        output_sha256: output_sha256(&execution.output),
    })
}

/// Submit a program for proving (submit and admin keys). Idempotent per key: the same
/// program, input and profile return the key's live job that already has them (200) instead
/// of a new one (201); another key gets a job of its own. Over the key's quota: 429 with
/// `Retry-After`, nothing stored.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    tag = "jobs",
    request_body = SubmitRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "A new job", body = JobView),
        (status = 200, description = "The existing job for this program, input and profile", body = JobView),
        (status = 400, description = "Malformed request, program, input or profile", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "The key's role may not submit (worker keys)", body = ErrorBody),
        (status = 413, description = "Body larger than the server's limit", body = ErrorBody),
        (status = 429, description = "Over the key's quota (code `quota_exceeded`: live jobs or stored bytes; `rate_limited`: submissions per minute); header `Retry-After` says when to try again", body = ErrorBody),
        (status = 500, description = "Store failure", body = ErrorBody)
    )
)]
pub async fn submit_job(
    Tenant(caller): Tenant,
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let result = submit(&state, &caller, body).await;
    let label = match &result {
        Ok((StatusCode::CREATED, _)) => "created",
        Ok(_) => "existing",
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => "over_quota",
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        Err(_) => "rejected",
    };
    state.metrics.submissions.with_label_values(&[label]).inc();
    state
        .metrics
        .tenant_submissions
        .with_label_values(&[caller.tenant(), label])
        .inc();
    result
}

async fn submit(
    state: &AppState,
    caller: &Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let body = ApiError::raw_body(body, state.config.max_body_bytes)?;
    let request: SubmitRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_request", format!("not a valid submission: {e}"))
    })?;
    let profile: SecurityProfile = request
        .profile
        .parse()
        .map_err(|e: String| ApiError::bad_request("invalid_profile", e))?;
    let callback_url = match &request.callback_url {
        Some(url) => Some(callback(state, url).await?),
        None => None,
    };
    let checked = tokio::task::spawn_blocking(move || {
        check_submission(&request.program, request.input.as_ref())
    })
    .await
    .map_err(|e| ApiError::internal(format!("program check panicked: {e}")))??;

    let mut spec = job_spec(state, caller, &checked, request.priority, profile);
    spec.callback_url = callback_url;
    // A resubmission (a client retrying) gets its job back even at a full quota.
    if let Some(job) = state.store.live_job(&spec.idempotency_key()).await? {
        return Ok((StatusCode::OK, Json(job.into())));
    }
    quota::check(state, caller, spec.stored_bytes).await?;
    tokio::try_join!(
        state.blobs.put(checked.program),
        state.blobs.put(checked.input)
    )?;
    let submission = state.store.submit(spec).await?;
    state.job_changed(); // wakes workers waiting in a claim
    let status = if submission.created {
        tracing::info!(job = %submission.job.id, "job submitted");
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(submission.job.into())))
}

/// A submission's `callback_url`, checked: webhooks on, http(s), public unless allowed.
async fn callback(state: &AppState, url: &str) -> Result<String, ApiError> {
    let Some(config) = &state.config.webhooks else {
        return Err(ApiError::bad_request(
            "callbacks_disabled",
            "callback_url: this scheduler delivers no webhooks (it runs without --webhook-secret)",
        ));
    };
    let target = webhooks::target::check(url, config.allow_private)
        .await
        .map_err(|e| ApiError::bad_request("invalid_callback_url", format!("callback_url: {e}")))?;
    Ok(target.url.to_string())
}

/// The job a checked submission asks for, owned by the caller's key. Its blob hashes are
/// those [`crate::blobs::BlobStore::put`] stores the program and input under.
fn job_spec(
    state: &AppState,
    caller: &Caller,
    checked: &Checked,
    priority: Option<i32>,
    profile: SecurityProfile,
) -> JobSpec {
    let payload = CairoProofPayload {
        cairo_program_hash: checked.cairo_hash.clone(),
        steps: checked.steps,
        output_sha256: Some(checked.output_sha256.clone()),
    };
    let program_hash = ContentHash::of(&checked.program);
    let input_hash = ContentHash::of(&checked.input);
    let mut spec = payload.spec(program_hash, input_hash, profile.name());
    spec.priority = priority.unwrap_or(0);
    spec.max_attempts = state.config.max_attempts;
    spec.required_memory_bytes = checked.memory_bytes;
    spec.owner = caller.key_id();
    spec.stored_bytes = (checked.program.len() + checked.input.len()) as u64;
    spec
}

/// List jobs, newest first: the key's own jobs, or every job for an admin key.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    tag = "jobs",
    params(ListParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "One page of jobs", body = JobList),
        (status = 400, description = "Bad filter", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "The key's role may not list jobs (worker keys)", body = ErrorBody)
    )
)]
pub async fn list_jobs(
    Tenant(caller): Tenant,
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let params = query(params)?;
    let state_filter = params
        .state
        .as_deref()
        .map(str::parse::<JobState>)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_request", format!("state: {e}")))?;
    let kind = params
        .kind
        .as_deref()
        .map(str::parse::<JobKind>)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_request", format!("kind: {e}")))?;
    let filter = JobFilter {
        state: state_filter,
        kind,
        limit: params
            .limit
            .unwrap_or(JobFilter::default().limit)
            .clamp(1, JobFilter::MAX_LIMIT),
        before: params.before.map(JobId),
        owner: caller.owner_filter(),
    };
    Ok(Json(state.store.list(&filter).await?.into()))
}

/// One job.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "The key's role may not read jobs (worker keys)", body = ErrorBody),
        (status = 404, description = "No such job, or another tenant's", body = ErrorBody)
    )
)]
pub async fn get_job(
    Tenant(caller): Tenant,
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let id = job_id(id)?;
    Ok(Json(visible_job(&state, &caller, id).await?.into()))
}

/// Cancel a queued or active job (a worker holding it can no longer write). Cancelling a
/// cancelled job returns it unchanged; a done or failed job gives 409.
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/cancel",
    tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The cancelled job", body = JobView),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "The key's role may not read jobs (worker keys)", body = ErrorBody),
        (status = 404, description = "No such job, or another tenant's", body = ErrorBody),
        (status = 409, description = "The job is already done or failed", body = ErrorBody)
    )
)]
pub async fn cancel_job(
    Tenant(caller): Tenant,
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let id = job_id(id)?;
    // The owner never changes, so checking it before the cancel is as good as during.
    let result = match visible_job(&state, &caller, id).await {
        Ok(_) => state.store.cancel(id).await.map_err(ApiError::from),
        Err(hidden) => Err(hidden),
    };
    let label = if result.is_ok() {
        "cancelled"
    } else {
        "refused"
    };
    state
        .metrics
        .cancellations
        .with_label_values(&[label])
        .inc();
    let job = result?;
    state.job_changed();
    Ok(Json(job.into()))
}

/// Wait (long-poll) until the job is done, failed or cancelled, or the timeout passes;
/// answers with the job either way.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/wait",
    tag = "jobs",
    params(("id" = i64, Path, description = "Job id"), WaitParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The job, finished or not", body = WaitResponse),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "The key's role may not read jobs (worker keys)", body = ErrorBody),
        (status = 404, description = "No such job, or another tenant's", body = ErrorBody)
    )
)]
pub async fn wait_job(
    Tenant(caller): Tenant,
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    params: Result<Query<WaitParams>, QueryRejection>,
) -> Result<Json<WaitResponse>, ApiError> {
    let id = job_id(id)?;
    let params = query(params)?;
    let timeout = params
        .timeout_secs
        .map(Duration::from_secs)
        .unwrap_or(state.config.default_wait)
        .min(state.config.max_wait);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Registered before the read, so a change between the read and the sleep wakes us.
        let changed = state.changes.notified();
        let job = visible_job(&state, &caller, id).await?;
        let finished = job.state.is_terminal();
        let now = tokio::time::Instant::now();
        if finished || now >= deadline {
            return Ok(Json(WaitResponse {
                finished,
                job: job.into(),
            }));
        }
        let nap = state.config.poll_interval.min(deadline - now);
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(nap) => {}
        }
    }
}

/// The proof artifact of a done job (verified by the worker before it completed the job).
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/artifact",
    tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The artifact bytes; header `x-starfarm-sha256` is their SHA-256", content_type = "application/octet-stream"),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "The key's role may not read jobs (worker keys)", body = ErrorBody),
        (status = 404, description = "No such job, or another tenant's", body = ErrorBody),
        (status = 409, description = "The job is not done", body = ErrorBody)
    )
)]
pub async fn get_artifact(
    Tenant(caller): Tenant,
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = job_id(id)?;
    let job = visible_job(&state, &caller, id).await?;
    if job.state != JobState::Done {
        let mut reason = format!("job {id} is {}, not done", job.state);
        if let Some(error) = &job.last_error {
            reason.push_str(&format!(" (last error: {error})"));
        }
        return Err(ApiError::new(StatusCode::CONFLICT, "not_done", reason));
    }
    let hash = job
        .artifact_hash
        .ok_or_else(|| ApiError::internal(format!("job {id} is done but has no artifact")))?;
    let bytes = state.blobs.get(&hash).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"job-{id}.proof\""),
            ),
            (
                header::HeaderName::from_static("x-starfarm-sha256"),
                hash.to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}
