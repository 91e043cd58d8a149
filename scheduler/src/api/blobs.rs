//! `GET /v1/blobs/{sha256}`: the programs and inputs workers prove, and stored artifacts.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState, Authenticated, ErrorBody};
use crate::blobs::BlobError;
use crate::job::ContentHash;

/// The URL of a blob on this API.
pub fn blob_url(hash: &ContentHash) -> String {
    format!("/v1/blobs/{hash}")
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
