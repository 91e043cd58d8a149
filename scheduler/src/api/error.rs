//! Every error the API returns: an HTTP status and `{"error": {"code": "...", "reason": "..."}}`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::blobs::BlobError;
use crate::store::StoreError;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable machine-readable `code` and a human-readable `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `unauthorized`, `forbidden` (the key's role may not use the route),
    /// `quota_exceeded`, `rate_limited`, `payload_too_large`, `invalid_program`,
    /// `invalid_input`, `invalid_profile`, `invalid_request`, `not_found`, `no_route`,
    /// `method_not_allowed`, `conflict`, `not_done`, `internal`, `unavailable` (the job
    /// store's database cannot be reached: try again), `blob_store_unavailable` (the blob
    /// store cannot be used: nothing was stored, try again).
    #[schema(example = "invalid_program")]
    pub code: String,
    /// What is wrong, naming the offending field or value.
    pub reason: String,
}

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub reason: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            status,
            code,
            reason: reason.into(),
            retry_after_secs: None,
        }
    }

    /// 403: the key is valid but its role may not use the route.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", reason)
    }

    /// 429 with `Retry-After: retry_after_secs` (at least 1).
    pub fn too_many(code: &'static str, reason: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, reason)
        }
    }

    pub fn bad_request(code: &'static str, reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, reason)
    }

    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", reason)
    }

    pub fn internal(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", reason)
    }

    /// A store error on a worker's write, with a stale lease reported as code `fenced`.
    pub fn lease(e: StoreError) -> Self {
        let fenced = matches!(e, StoreError::Fenced { .. });
        let mut error = Self::from(e);
        if fenced {
            error.code = "fenced";
        }
        error
    }

    /// A raw request body, or why it could not be read (413 above `limit` bytes).
    pub fn raw_body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, Self> {
        body.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the request body is larger than this server's limit of {limit} bytes"),
                )
            } else {
                Self::new(e.status(), "invalid_request", e.body_text())
            }
        })
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                reason: self.reason.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.reason)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, reason = %self.reason, "request failed");
        }
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let reason = e.to_string();
        match e {
            StoreError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", reason),
            StoreError::InvalidTransition { .. } | StoreError::Fenced { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", reason)
            }
            StoreError::UnknownKey(_) => Self::new(StatusCode::NOT_FOUND, "not_found", reason),
            StoreError::InvalidSpec(_)
            | StoreError::InvalidKey(_)
            | StoreError::UnknownDependency(_)
            | StoreError::DependencyFailed { .. } => Self::bad_request("invalid_request", reason),
            StoreError::Corrupt(_) | StoreError::Migration(_) | StoreError::Database(_) => {
                Self::internal(reason)
            }
            StoreError::Unavailable(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason)
            }
        }
    }
}

impl From<BlobError> for ApiError {
    /// The blob store down or refusing writes is a 503 (retry later: nothing was
    /// acknowledged); its details are logged here, not returned.
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Store(e) => {
                tracing::error!(error = %e, "blob store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "blob_store_unavailable",
                    "the scheduler's blob store cannot be used now; nothing was stored, retry later",
                )
            }
            e => Self::internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_a_503_to_try_again() {
        let e = ApiError::from(StoreError::Unavailable("connection refused".into()));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code, "unavailable");
        assert!(e.reason.contains("connection refused"), "{}", e.reason);
        let lease = ApiError::lease(StoreError::Unavailable("pool timed out".into()));
        assert_eq!(lease.code, "unavailable", "not mistaken for a fenced lease");
    }
}
