//! Who is calling, and what their role lets them do.
//!
//! Every `/v1` request presents `Authorization: Bearer <key>`. The key is either one of the
//! scheduler's `--api-key` keys ([`super::ApiConfig::api_keys`]: admin, kept in memory, a
//! devnet shortcut) or a stored key ([`crate::store::KeyStore`], made by `starfarm keys add`)
//! looked up by its digest on every request, so that a revocation answers 401 at once.
//!
//! Handlers take [`Tenant`] (routes of `submit` and `admin` keys: `/v1/jobs`),
//! [`WorkerKey`] (routes of `worker` and `admin` keys: `/v1/workers/*`) or [`AnyKey`]
//! (`/v1/blobs`, which decides per role); another role gets 403 `forbidden`. What a tenant may see of a job or blob is [`Caller::sees`]: another
//! tenant's job answers 404, exactly like a job that does not exist.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::job::{Job, JobId};
use crate::store::{key_digest, ApiKey, Role, StoreError};

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The stored key; `None` for an `--api-key` key.
    pub key: Option<ApiKey>,
    pub role: Role,
}

/// The tenant label of callers with no stored key (the `--api-key` admin).
pub const FLAG_ADMIN: &str = "(--api-key)";

impl Caller {
    /// The stored key's id: the owner of what it submits, the holder of what it claims.
    pub fn key_id(&self) -> Option<i64> {
        self.key.as_ref().map(|k| k.id)
    }

    /// The key's name, the tenant label of the metrics.
    pub fn tenant(&self) -> &str {
        self.key.as_ref().map_or(FLAG_ADMIN, |k| k.name.as_str())
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may see `job`: admin sees all; anyone else, its own jobs only.
    pub fn sees(&self, job: &Job) -> bool {
        self.is_admin() || (job.spec.owner.is_some() && job.spec.owner == self.key_id())
    }

    /// `job` if the caller may see it, else the same 404 as a job that does not exist.
    pub fn visible(&self, job: Job) -> Result<Job, ApiError> {
        if self.sees(&job) {
            Ok(job)
        } else {
            Err(StoreError::NotFound(job.id).into())
        }
    }

    /// Jobs a listing shows: the caller's own, or every job for admin.
    pub fn owner_filter(&self) -> Option<i64> {
        if self.is_admin() {
            None
        } else {
            // A non-admin always has a stored key; a missing id would match no job.
            Some(self.key_id().unwrap_or(-1))
        }
    }

    fn require(self, allowed: &[Role], what: &str) -> Result<Self, ApiError> {
        if allowed.contains(&self.role) {
            return Ok(self);
        }
        let roles: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "{what} need a key with role {}; key {:?} has role {}",
            roles.join(" or "),
            self.tenant(),
            self.role
        )))
    }
}

/// The job `id` as `caller` may see it (404 for another tenant's job).
pub async fn visible_job(state: &AppState, caller: &Caller, id: JobId) -> Result<Job, ApiError> {
    caller.visible(state.store.get(id).await?)
}

/// Reads and checks the bearer key (401 when missing, unknown or revoked).
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "missing `Authorization: Bearer <API key>` header",
        ));
    };
    let key = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <API key>`")
        })?;
    if state.config.api_keys.contains(key) {
        return Ok(Caller {
            key: None,
            role: Role::Admin,
        });
    }
    match state.store.live_key(&key_digest(key)).await? {
        Some(stored) => Ok(Caller {
            role: stored.role,
            key: Some(stored),
        }),
        None => Err(ApiError::unauthorized(
            "the API key is not valid (unknown or revoked)",
        )),
    }
}

/// A caller with a `submit` or `admin` key: the routes of jobs and blobs.
pub struct Tenant(pub Caller);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state)
            .await?
            .require(&[Role::Submit, Role::Admin], "job routes")
            .map(Tenant)
    }
}

/// A caller with any valid key (`/v1/blobs`, where each role sees different blobs).
pub struct AnyKey(pub Caller);

impl FromRequestParts<AppState> for AnyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(AnyKey)
    }
}

/// A caller with a `worker` or `admin` key: claims, leases and hand-ins.
pub struct WorkerKey(pub Caller);

impl FromRequestParts<AppState> for WorkerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state)
            .await?
            .require(&[Role::Worker, Role::Admin], "worker routes")
            .map(WorkerKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{ContentHash, JobKind, JobSpec};

    fn key(id: i64, role: Role) -> Caller {
        Caller {
            key: Some(ApiKey {
                id,
                name: format!("k{id}"),
                role,
                created_at_ms: 0,
                revoked_at_ms: None,
                quota: Default::default(),
                stored_bytes: 0,
            }),
            role,
        }
    }

    fn job(owner: Option<i64>) -> Job {
        let mut spec = JobSpec::new(
            JobKind::CairoProof,
            ContentHash::of(b"p"),
            ContentHash::of(b"i"),
            "test",
        );
        spec.owner = owner;
        Job::queued(JobId(7), spec)
    }

    #[test]
    fn tenants_see_their_own_jobs_and_admin_sees_all() {
        let (a, b) = (key(1, Role::Submit), key(2, Role::Submit));
        assert!(a.sees(&job(Some(1))));
        assert!(!b.sees(&job(Some(1))));
        assert!(!a.sees(&job(None)), "the farm's own jobs are admin's");
        let flag_admin = Caller {
            key: None,
            role: Role::Admin,
        };
        assert!(flag_admin.sees(&job(Some(1))) && flag_admin.sees(&job(None)));
        assert!(key(3, Role::Admin).sees(&job(Some(1))));
        let hidden = b.visible(job(Some(1))).unwrap_err();
        assert_eq!((hidden.status.as_u16(), hidden.code), (404, "not_found"));
        assert_eq!(a.owner_filter(), Some(1));
        assert_eq!(flag_admin.owner_filter(), None);
    }

    #[test]
    fn roles_gate_routes_with_403() {
        let worker = key(1, Role::Worker);
        let refused = worker
            .clone()
            .require(&[Role::Submit, Role::Admin], "job routes")
            .unwrap_err();
        assert_eq!((refused.status.as_u16(), refused.code), (403, "forbidden"));
        assert!(refused.reason.contains("role worker"), "{}", refused.reason);
        assert!(worker.require(&[Role::Worker, Role::Admin], "x").is_ok());
    }
}
