//! `GET /v1/blobs/{sha256}`: the programs and inputs workers prove, and stored artifacts.
//! Who reads what: a `submit` key, the program, input and artifact of its own jobs; a
//! `worker` key, the program and input of the jobs it holds now; `admin`, every blob. Any
//! other blob answers 404, as if it were not stored.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{AnyKey, ApiError, AppState, Caller, ErrorBody};
use crate::blobs::BlobError;
use crate::job::ContentHash;
use crate::store::Role;

/// The URL of a blob on this API.
pub fn blob_url(hash: &ContentHash) -> String {
    format!("/v1/blobs/{hash}")
}

/// A stored blob (program, input or artifact) by its SHA-256: any blob for admin keys; the
/// program, input and artifact of its own jobs for a submit key; the program and input of
/// the jobs it holds for a worker key.
#[utoipa::path(
    get,
    path = "/v1/blobs/{sha256}",
    tag = "workers",
    params(("sha256" = String, Path, description = "SHA-256 of the blob, 64 lowercase hex digits")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The blob bytes", content_type = "application/octet-stream"),
        (status = 400, description = "Not a SHA-256 hex digest", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 404, description = "No such blob, or not one this key may read", body = ErrorBody)
    )
)]
pub async fn get_blob(
    AnyKey(caller): AnyKey,
    State(state): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(hash) = hash.map_err(|e| ApiError::bad_request("invalid_request", e.body_text()))?;
    let hash = ContentHash::parse(&hash)
        .map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
    let not_found = || {
        let e = BlobError::NotFound(hash.clone());
        ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
    };
    // Decided before reading the blob, so the answer says nothing about other tenants' blobs.
    if !may_read(&state, &caller, &hash).await? {
        return Err(not_found());
    }
    let bytes = match state.blobs.get(&hash).await {
        Ok(bytes) => bytes,
        Err(BlobError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// Whether `caller` may read the blob `hash` (see module docs).
async fn may_read(state: &AppState, caller: &Caller, hash: &ContentHash) -> Result<bool, ApiError> {
    let Some(key) = caller.key_id() else {
        return Ok(caller.is_admin()); // the --api-key admin
    };
    Ok(match caller.role {
        Role::Admin => true,
        Role::Submit => state.store.owner_has_blob(key, hash).await?,
        Role::Worker => state.store.holder_has_blob(key, hash).await?,
    })
}
