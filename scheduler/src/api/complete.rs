//! `POST /v1/workers/complete`: a worker hands in a proof artifact. The lease is checked
//! first (cheap), then the artifact by [`verify_for_job`] (the job's kind decides what it
//! must prove); only then is it stored and the job done.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use starfarm_prover::CairoProgram;

use super::{ApiError, AppState, ErrorBody, WorkerKey};
use crate::job::{Job, JobId, Lease};
use crate::kinds::{verify_for_job, JobTerms, Proves, Refusal};
use crate::store::StoreError;
use crate::wire::{CompleteParams, JobView, PRICE_FIELD};

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
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "Not a worker or admin key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "`fenced`: the lease is no longer current; nothing was stored", body = ErrorBody),
        (status = 413, description = "Body larger than the server's limit", body = ErrorBody),
        (status = 422, description = "`invalid_artifact`: the artifact is malformed, does not verify, or proves another program or profile; the job stays leased", body = ErrorBody)
    )
)]
pub async fn complete(
    _auth: WorkerKey,
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
            let proved_on = proved_on.unwrap_or(&backend);
            metrics.record_proof(job.spec.kind.as_str(), proved_on, result);
            metrics.record_cost(proved_on, job);
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
    let body = ApiError::raw_body(body, state.config.max_body_bytes)?;
    let id = JobId(params.job_id);
    let fenced = || {
        ApiError::lease(StoreError::Fenced {
            job: id,
            token: params.fencing_token,
        })
    };

    // Cheap check first: a stale token is refused before any verification.
    let job = state.store.get(id).await.map_err(ApiError::lease)?;
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

    let price = price_per_hour(params.price_per_hour_usd)?;
    let mut result = verify(state, job, body.clone(), params.task_index).await?;
    if let (Some(price), Some(fields)) = (price, result.as_object_mut()) {
        fields.insert(PRICE_FIELD.to_owned(), price.into());
    }

    // `complete` checks the lease again (token and expiry) in the transaction that stores
    // the result; a blob stored for a job fenced meanwhile is only an unreferenced object.
    let hash = state.blobs.put(body.to_vec()).await?;
    let job = state
        .store
        .complete(&lease, &hash, result)
        .await
        .map_err(ApiError::lease)?;
    state.job_changed();
    tracing::info!(job = %job.id, artifact = %hash, "job done");
    Ok(job)
}

/// Runs [`verify_for_job`] off the async threads (for a batch task, with the job's program
/// from the blob store); returns what the job records as its result.
async fn verify(
    state: &AppState,
    job: Job,
    artifact: Bytes,
    task_index: Option<u32>,
) -> Result<Value, ApiError> {
    let program = match task_index {
        None => None,
        Some(_) => {
            let bytes = state.blobs.get(&job.spec.program_hash).await?;
            let program = CairoProgram::from_json(&bytes, &format!("job {} program", job.id))
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Some(program)
        }
    };
    tokio::task::spawn_blocking(move || {
        let proves = match (task_index, &program) {
            (Some(index), Some(program)) => Proves::Task { index, program },
            _ => Proves::Alone,
        };
        let terms = JobTerms::from(&job);
        Ok(verify_for_job(terms, &artifact, proves)
            .map_err(refused)?
            .result(terms))
    })
    .await
    .map_err(|e| ApiError::internal(format!("artifact verification panicked: {e}")))?
}

/// A refused artifact is the worker's fault (422, the job stays leased); an unreadable job
/// is the scheduler's (500).
/// The worker's price, `None` when it reports none (absent or 0).
fn price_per_hour(price: Option<f64>) -> Result<Option<f64>, ApiError> {
    match price {
        Some(p) if !p.is_finite() || p < 0.0 => Err(ApiError::bad_request(
            "invalid_request",
            format!("price_per_hour_usd must be a finite number of USD >= 0, not {p}"),
        )),
        Some(p) if p > 0.0 => Ok(Some(p)),
        _ => Ok(None),
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Invalid(reason) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_artifact", reason)
        }
        Refusal::Internal(reason) => ApiError::internal(reason),
    }
}
