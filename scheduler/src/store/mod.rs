//! The job store: one trait ([`JobStore`]), two implementations ([`SqliteStore`], embedded;
//! [`PostgresStore`], shared by several machines), one test suite (`tests/store.rs`).
//!
//! Both implementations run the same state machine (`engine.rs`) over the same SQL
//! (`sql.rs`); they differ only in how they open a database, start a transaction and lock
//! rows (`sqlite.rs`, `postgres.rs`).
//!
//! Rules every implementation follows:
//! - Submission is idempotent on [`JobSpec::idempotency_key`], which includes the owner
//!   (the submitting key, [`JobSpec::owner`]): while a job with the key is queued, active or
//!   done, submitting again returns it (`created: false`, the rest of the new spec ignored);
//!   once it failed or was cancelled, a new submission creates a new job. Two owners never
//!   share a job.
//! - A claim takes the queued job with the highest priority, then the lowest fair-queueing
//!   tag, then the lowest id (oldest submission), whose dependencies are all done, whose
//!   backoff has passed and whose memory, backend and kind fit the worker. Each claim is one
//!   attempt and increments the fencing token. A job's tag is set when it is submitted: the
//!   queue head's tag, or one more than its owner's last queued job if that is later, so
//!   owners (the farm's own jobs count as one) take turns at equal priority.
//! - API keys ([`KeyStore`], `keys.rs`) live in the same database; a submission by an owner
//!   adds its stored bytes to the key's account in the same transaction.
//! - Every worker write presents its [`Lease`]; it is refused with [`StoreError::Fenced`]
//!   unless the job is active under that exact token and worker and the lease has not expired
//!   (even if the expiry sweep has not run yet).
//! - A failure (retryable, or an expired lease found by [`JobStore::expire_leases`]) re-queues
//!   the job with exponential backoff while attempts are left; otherwise the job fails.
//!   An expired lease counts as a failed attempt, so a job that kills its workers ends.
//! - When a job fails or is cancelled, every queued job that depends on it (transitively)
//!   fails too, with the reason naming the dependency: it could never run.

mod engine;
mod keys;
mod migrations;
mod postgres;
mod sql;
mod sqlite;

pub(crate) use engine::MAX_CALLBACK_URL_LEN;
pub use keys::{key_digest, ApiKey, KeyStore, NewKey, Quota, Role, UnknownRole, Usage};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
/// Options for [`PostgresStore::connect_with`] (TLS, timeouts…), so callers need no sqlx.
pub use sqlx::postgres::PgConnectOptions;

use crate::clock::{Clock, SystemClock};
use crate::job::WorkerCapabilities;
use crate::job::{ContentHash, Job, JobId, JobKind, JobSpec, JobState, Lease, Phase};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Why a store operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("job {0} not found")]
    NotFound(JobId),
    /// The lease presented is no longer the job's current one: it expired, the job was
    /// cancelled, or another worker claimed it since. The worker must stop and drop its result.
    #[error("job {job}: the lease with fencing token {token} is no longer current")]
    Fenced { job: JobId, token: i64 },
    #[error("job {job} cannot go from {from} to {to}")]
    InvalidTransition {
        job: JobId,
        from: JobState,
        to: JobState,
    },
    #[error("invalid job spec: {0}")]
    InvalidSpec(String),
    #[error("dependency {0} does not exist")]
    UnknownDependency(JobId),
    #[error("dependency {dependency} is {state}: it will never be done")]
    DependencyFailed { dependency: JobId, state: JobState },
    /// A stored row the store cannot read back (written by a newer version, or edited by hand).
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    #[error("migrating the job store failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Database(String),
    /// A key that cannot be stored (name taken or malformed, quota out of range).
    #[error("invalid API key: {0}")]
    InvalidKey(String),
    #[error("no API key with id or name {0:?}")]
    UnknownKey(String),
    /// The database could not be reached (down, restarting, or every connection busy): worth
    /// trying again later; nothing was written.
    #[error("the job store's database is unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                Self::Unavailable(e.to_string())
            }
            // The server going away mid-query (restart, failover, admin shutdown).
            E::Database(ref db) if db.code().is_some_and(|c| c.starts_with("57P")) => {
                Self::Unavailable(e.to_string())
            }
            e => Self::Database(e.to_string()),
        }
    }
}

/// Settings shared by both stores.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Where "now" comes from (leases, backoff, timestamps).
    pub clock: Arc<dyn Clock>,
    /// Delay before the first retry; doubles with every further attempt.
    pub retry_base: Duration,
    /// Longest delay between two attempts.
    pub retry_max: Duration,
    /// Failure reasons are cut to this many bytes (a panic message can be huge).
    pub max_error_len: usize,
    /// Connections in the pool (for SQLite: readers; writes go through one connection).
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            max_error_len: 4096,
            max_connections: 8,
        }
    }
}

/// The answer to a submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub job: Job,
    /// False when an existing job with the same idempotency key was returned.
    pub created: bool,
}

/// Which jobs [`JobStore::list`] returns: newest first, `limit` at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub kind: Option<JobKind>,
    /// Clamped to 1..=[`JobFilter::MAX_LIMIT`].
    pub limit: u32,
    /// Only jobs with a smaller id: the `next` of the previous page.
    pub before: Option<JobId>,
    /// Only the jobs of this key (a tenant's view); `None` for every job.
    #[serde(default)]
    pub owner: Option<i64>,
}

impl JobFilter {
    pub const MAX_LIMIT: u32 = 1000;
}

impl Default for JobFilter {
    fn default() -> Self {
        Self {
            state: None,
            kind: None,
            limit: 100,
            before: None,
            owner: None,
        }
    }
}

/// One page of [`JobStore::list`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Cursor for the next page (`JobFilter::before`), if there may be more.
    pub next: Option<JobId>,
}

/// Whether a job can be claimed now, and if not, what it waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Readiness {
    /// Queued, dependencies done, backoff passed: the next fitting worker takes it.
    Ready,
    /// Queued, but these dependencies are not done yet.
    Waiting { dependencies: Vec<JobId> },
    /// Queued after a failure; claimable from this instant.
    BackingOff { until_ms: i64 },
    /// Not queued (active or terminal).
    NotQueued { state: JobState },
}

/// The farm's job store. Every operation is one transaction. Held by the REST server as
/// `Arc<dyn JobStore>`; its tenants' keys are [`KeyStore`]'s part.
#[async_trait]
pub trait JobStore: KeyStore + Send + Sync {
    /// Adds a job, or returns the live job with the same idempotency key (see module docs).
    /// Dependencies must exist and must not have failed or been cancelled.
    async fn submit(&self, spec: JobSpec) -> Result<Submission, StoreError>;

    async fn get(&self, id: JobId) -> Result<Job, StoreError>;

    /// The queued, active or done job with this idempotency key, if any: what
    /// [`JobStore::submit`] would return for a spec with the key.
    async fn live_job(&self, idempotency_key: &str) -> Result<Option<Job>, StoreError>;

    async fn list(&self, filter: &JobFilter) -> Result<JobPage, StoreError>;

    /// Cancels a queued or active job (its lease can no longer write) and fails its queued
    /// dependents. Cancelling a cancelled job returns it unchanged; a done or failed job
    /// gives [`StoreError::InvalidTransition`].
    async fn cancel(&self, id: JobId) -> Result<Job, StoreError>;

    /// Leases the best job that fits `worker` for `lease_duration`, or `None` if none fits;
    /// a claim by no stored key (see [`JobStore::claim_with_key`]).
    async fn claim(
        &self,
        worker_id: &str,
        worker: &WorkerCapabilities,
        lease_duration: Duration,
    ) -> Result<Option<(Job, Lease)>, StoreError> {
        self.claim_with_key(None, worker_id, worker, lease_duration)
            .await
    }

    /// [`JobStore::claim`], recording the stored key the worker called with: while the job
    /// is active, that key may read its program and input ([`KeyStore::holder_has_blob`]).
    async fn claim_with_key(
        &self,
        key: Option<i64>,
        worker_id: &str,
        worker: &WorkerCapabilities,
        lease_duration: Duration,
    ) -> Result<Option<(Job, Lease)>, StoreError>;

    /// Extends the lease by the duration it was claimed with; returns the renewed lease.
    async fn heartbeat(&self, lease: &Lease) -> Result<Lease, StoreError>;

    /// Reports progress: leased → proving → verifying (repeating a phase is accepted).
    async fn set_phase(&self, lease: &Lease, phase: Phase) -> Result<Job, StoreError>;

    /// Finishes the job with its artifact's content hash and the worker's result.
    async fn complete(
        &self,
        lease: &Lease,
        artifact: &ContentHash,
        result: serde_json::Value,
    ) -> Result<Job, StoreError>;

    /// Gives the job back after an error: re-queued with backoff if `retryable` and attempts
    /// are left, failed otherwise. Returns the job in its new state.
    async fn fail(&self, lease: &Lease, reason: &str, retryable: bool) -> Result<Job, StoreError>;

    /// Hands the job back untouched (a worker shutting down): queued again at once, the
    /// attempt not counted, no backoff. The reason is kept as the job's last error.
    async fn release(&self, lease: &Lease, reason: &str) -> Result<Job, StoreError>;

    /// Takes back every lease that expired by the store's clock (re-queue or fail, as for a
    /// retryable failure) and returns how many; the scheduler calls it periodically.
    async fn expire_leases(&self) -> Result<u64, StoreError>;

    /// Number of jobs in each state (every state present, zero included).
    async fn counts(&self) -> Result<BTreeMap<JobState, u64>, StoreError>;

    /// Jobs that declared `id` as a dependency.
    async fn dependents(&self, id: JobId) -> Result<Vec<JobId>, StoreError>;

    async fn readiness(&self, id: JobId) -> Result<Readiness, StoreError>;

    /// Claims up to `limit` due webhook deliveries: finished jobs whose callback is pending
    /// and whose backoff has passed. Each claim counts one attempt and hides the job from
    /// other claimers (this or another process) for `hold`, after which an attempt whose
    /// outcome was never recorded (the process died) is claimed again.
    async fn claim_webhooks(&self, limit: u32, hold: Duration) -> Result<Vec<Job>, StoreError>;

    /// Records how attempt `attempt` of job `id`'s webhook went. Returns false, writing
    /// nothing, when that attempt is no longer the job's latest (its hold passed and another
    /// process claimed the next) or the delivery is over.
    async fn record_webhook(
        &self,
        id: JobId,
        attempt: u32,
        outcome: &WebhookOutcome,
    ) -> Result<bool, StoreError>;

    /// Closes the store's connections; later calls fail.
    async fn close(&self);
}

/// How one webhook delivery attempt went ([`JobStore::record_webhook`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed; the next attempt is due `after` from now (the store's clock).
    Retry { after: Duration, error: String },
    /// The last attempt failed: the delivery is marked failed.
    GaveUp { error: String },
}

/// Implements [`JobStore`] for a type whose `engine` field runs the shared state machine.
macro_rules! delegate_job_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::JobStore for $store {
            async fn submit(
                &self,
                spec: $crate::job::JobSpec,
            ) -> Result<$crate::store::Submission, $crate::store::StoreError> {
                self.engine.submit(spec).await
            }
            async fn get(
                &self,
                id: $crate::job::JobId,
            ) -> Result<$crate::job::Job, $crate::store::StoreError> {
                self.engine.get(id).await
            }
            async fn live_job(
                &self,
                idempotency_key: &str,
            ) -> Result<Option<$crate::job::Job>, $crate::store::StoreError> {
                self.engine.live_job(idempotency_key).await
            }
            async fn list(
                &self,
                filter: &$crate::store::JobFilter,
            ) -> Result<$crate::store::JobPage, $crate::store::StoreError> {
                self.engine.list(filter).await
            }
            async fn cancel(
                &self,
                id: $crate::job::JobId,
            ) -> Result<$crate::job::Job, $crate::store::StoreError> {
                self.engine.cancel(id).await
            }
            async fn claim_with_key(
                &self,
                key: Option<i64>,
                worker_id: &str,
                worker: &$crate::job::WorkerCapabilities,
                lease_duration: std::time::Duration,
            ) -> Result<Option<($crate::job::Job, $crate::job::Lease)>, $crate::store::StoreError>
            {
                self.engine
                    .claim(key, worker_id, worker, lease_duration)
                    .await
            }
            async fn heartbeat(
                &self,
                lease: &$crate::job::Lease,
            ) -> Result<$crate::job::Lease, $crate::store::StoreError> {
                self.engine.heartbeat(lease).await
            }
            async fn set_phase(
                &self,
                lease: &$crate::job::Lease,
                phase: $crate::job::Phase,
            ) -> Result<$crate::job::Job, $crate::store::StoreError> {
                self.engine.set_phase(lease, phase).await
            }
            async fn complete(
                &self,
                lease: &$crate::job::Lease,
                artifact: &$crate::job::ContentHash,
                result: serde_json::Value,
            ) -> Result<$crate::job::Job, $crate::store::StoreError> {
                self.engine.complete(lease, artifact, result).await
            }
            async fn fail(
                &self,
                lease: &$crate::job::Lease,
                reason: &str,
                retryable: bool,
            ) -> Result<$crate::job::Job, $crate::store::StoreError> {
                self.engine.fail(lease, reason, retryable).await
            }
            async fn release(
                &self,
                lease: &$crate::job::Lease,
                reason: &str,
            ) -> Result<$crate::job::Job, $crate::store::StoreError> {
                self.engine.release(lease, reason).await
            }
            async fn expire_leases(&self) -> Result<u64, $crate::store::StoreError> {
                self.engine.expire_leases().await
            }
            async fn counts(
                &self,
            ) -> Result<
                std::collections::BTreeMap<$crate::job::JobState, u64>,
                $crate::store::StoreError,
            > {
                self.engine.counts().await
            }
            async fn dependents(
                &self,
                id: $crate::job::JobId,
            ) -> Result<Vec<$crate::job::JobId>, $crate::store::StoreError> {
                self.engine.dependents(id).await
            }
            async fn readiness(
                &self,
                id: $crate::job::JobId,
            ) -> Result<$crate::store::Readiness, $crate::store::StoreError> {
                self.engine.readiness(id).await
            }
            async fn claim_webhooks(
                &self,
                limit: u32,
                hold: std::time::Duration,
            ) -> Result<Vec<$crate::job::Job>, $crate::store::StoreError> {
                self.engine.claim_webhooks(limit, hold).await
            }
            async fn record_webhook(
                &self,
                id: $crate::job::JobId,
                attempt: u32,
                outcome: &$crate::store::WebhookOutcome,
            ) -> Result<bool, $crate::store::StoreError> {
                self.engine.record_webhook(id, attempt, outcome).await
            }
            async fn close(&self) {
                self.engine.close().await
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::KeyStore for $store {
            async fn add_key(
                &self,
                key: &$crate::store::NewKey,
            ) -> Result<$crate::store::ApiKey, $crate::store::StoreError> {
                self.engine.add_key(key).await
            }
            async fn keys(&self) -> Result<Vec<$crate::store::ApiKey>, $crate::store::StoreError> {
                self.engine.keys().await
            }
            async fn revoke_key(
                &self,
                id_or_name: &str,
            ) -> Result<$crate::store::ApiKey, $crate::store::StoreError> {
                self.engine.revoke_key(id_or_name).await
            }
            async fn live_key(
                &self,
                digest: &str,
            ) -> Result<Option<$crate::store::ApiKey>, $crate::store::StoreError> {
                self.engine.live_key(digest).await
            }
            async fn usage(
                &self,
                owner: i64,
                window: std::time::Duration,
            ) -> Result<$crate::store::Usage, $crate::store::StoreError> {
                self.engine.usage(owner, window).await
            }
            async fn owner_has_blob(
                &self,
                owner: i64,
                blob: &$crate::job::ContentHash,
            ) -> Result<bool, $crate::store::StoreError> {
                self.engine.owner_has_blob(owner, blob).await
            }
            async fn holder_has_blob(
                &self,
                key: i64,
                blob: &$crate::job::ContentHash,
            ) -> Result<bool, $crate::store::StoreError> {
                self.engine.holder_has_blob(key, blob).await
            }
            async fn live_jobs_by_tenant(
                &self,
            ) -> Result<Vec<(String, u64)>, $crate::store::StoreError> {
                self.engine.live_jobs_by_tenant().await
            }
        }
    };
}
pub(crate) use delegate_job_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable_and_other_errors_are_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for unreachable in [
            sqlx::Error::Io(refused),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
        ] {
            let e = StoreError::from(unreachable);
            assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
            assert!(e
                .to_string()
                .starts_with("the job store's database is unavailable"));
        }
        let e = StoreError::from(sqlx::Error::RowNotFound);
        assert!(matches!(e, StoreError::Database(_)), "{e:?}");
    }
}
