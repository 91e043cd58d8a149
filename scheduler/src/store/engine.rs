//! The job state machine, written once over [`SqlBackend`] and run by both stores.

use super::sql::{self, Arg, Dialect, JobRow, SqlBackend, SqlTx};
use super::{JobFilter, JobPage, Readiness, StoreConfig, StoreError, Submission, WebhookOutcome};
use crate::job::{
    ContentHash, Job, JobId, JobSpec, JobState, Lease, Phase, WebhookState, WorkerCapabilities,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// Expired leases are taken back this many per transaction, so one sweep never holds the
/// write lock for long.
const EXPIRY_BATCH: i64 = 100;

/// Most dependencies one job may declare (a block's chunks fit many times over).
const MAX_DEPENDENCIES: usize = 10_000;

/// Longest callback URL stored.
pub(crate) const MAX_CALLBACK_URL_LEN: usize = 2048;

pub(crate) struct Engine<B> {
    pub(super) backend: B,
    config: StoreConfig,
}

/// How a read locks the job row (Postgres; a SQLite write transaction holds the database).
#[derive(Debug, Clone, Copy)]
enum Lock {
    None,
    /// Against updates, not against other sharers.
    Share,
    Update,
}

/// What happens to a job whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterFailure {
    Retry { at_ms: i64 },
    GiveUp,
}

impl<B: SqlBackend> Engine<B> {
    pub fn new(backend: B, config: StoreConfig) -> Self {
        Self { backend, config }
    }

    #[cfg(test)]
    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub(super) fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }

    fn sql(&self) -> &Dialect {
        self.backend.dialect()
    }

    pub async fn close(&self) {
        self.backend.close().await;
    }

    pub async fn submit(&self, mut spec: JobSpec) -> Result<Submission, StoreError> {
        validate(&mut spec)?;
        let key = spec.idempotency_key();
        let mut tx = self.backend.write().await?;
        if let Some(job) = self.live_job_with_key(tx.as_mut(), &key).await? {
            tx.commit().await?;
            return Ok(Submission {
                job,
                created: false,
            });
        }
        self.check_dependencies(tx.as_mut(), &spec.depends_on)
            .await?;
        let tag = self.fair_tag(tx.as_mut(), spec.owner).await?;
        let args = insert_args(&spec, &key, self.now(), tag)?;
        let inserted = tx.ints(sql::INSERT_JOB, &args).await?;
        let Some(&id) = inserted.first() else {
            // A concurrent submission of the same key committed first (Postgres).
            let job = self.live_job_with_key(tx.as_mut(), &key).await?;
            tx.commit().await?;
            let job = job.ok_or_else(|| {
                StoreError::Database("a concurrent submission of the same job vanished".into())
            })?;
            return Ok(Submission {
                job,
                created: false,
            });
        };
        for dep in &spec.depends_on {
            let args = [Arg::I64(id), Arg::I64(dep.0)];
            tx.execute(sql::INSERT_DEP, &args).await?;
        }
        if let Some(owner) = spec.owner {
            let args = [Arg::I64(owner), Arg::I64(stored_bytes(&spec)?)];
            tx.execute(sql::CHARGE_BYTES, &args).await?;
        }
        let job = self.load(tx.as_mut(), Lock::None, JobId(id)).await?.job;
        tx.commit().await?;
        Ok(Submission { job, created: true })
    }

    /// Start-time fair queueing: a job's tag is the queue head's tag, or one more than the
    /// owner's last queued job if that is later. Claims at equal priority go by tag, so each
    /// owner with queued jobs gets about one claim per tag: a flood of one owner queues
    /// behind itself, and a newcomer waits for at most one job of each other owner. Two
    /// concurrent submissions may get the same tag (Postgres); ties go by id.
    async fn fair_tag(&self, tx: &mut dyn SqlTx, owner: Option<i64>) -> Result<i64, StoreError> {
        let head = tx.ints(sql::QUEUE_HEAD_TAG, &[]).await?;
        let last = match owner {
            Some(owner) => tx.ints(sql::OWNER_LAST_TAG, &[Arg::I64(owner)]).await?,
            None => tx.ints(sql::FARM_LAST_TAG, &[]).await?,
        };
        let head = head.first().copied().unwrap_or(0);
        let last = last.first().copied().unwrap_or(-1);
        Ok(head.max(last.saturating_add(1)))
    }

    pub async fn live_job(&self, key: &str) -> Result<Option<Job>, StoreError> {
        let mut tx = self.backend.read().await?;
        let job = self.live_job_with_key(tx.as_mut(), key).await?;
        tx.commit().await?;
        Ok(job)
    }

    async fn live_job_with_key(
        &self,
        tx: &mut dyn SqlTx,
        key: &str,
    ) -> Result<Option<Job>, StoreError> {
        let rows = tx
            .jobs(&self.sql().job_by_key, &[Arg::Text(key.to_owned())])
            .await?;
        Ok(rows.into_iter().next().map(|row| row.job))
    }

    /// Dependencies must exist and be able to finish. They are locked against updates until
    /// commit, so a dependency cannot fail between this check and the insert (the failure's
    /// cascade then sees the new dependent).
    async fn check_dependencies(
        &self,
        tx: &mut dyn SqlTx,
        deps: &[JobId],
    ) -> Result<(), StoreError> {
        for &dep in deps {
            let state = match self.load(tx, Lock::Share, dep).await {
                Ok(row) => row.job.state,
                Err(StoreError::NotFound(_)) => return Err(StoreError::UnknownDependency(dep)),
                Err(e) => return Err(e),
            };
            if matches!(state, JobState::Failed | JobState::Cancelled) {
                return Err(StoreError::DependencyFailed {
                    dependency: dep,
                    state,
                });
            }
        }
        Ok(())
    }

    pub async fn get(&self, id: JobId) -> Result<Job, StoreError> {
        let mut tx = self.backend.read().await?;
        let job = self.load(tx.as_mut(), Lock::None, id).await?.job;
        tx.commit().await?;
        Ok(job)
    }

    pub async fn list(&self, filter: &JobFilter) -> Result<JobPage, StoreError> {
        let limit = filter.limit.clamp(1, JobFilter::MAX_LIMIT);
        let args = [
            Arg::OptText(filter.state.map(|s| s.as_str().to_owned())),
            Arg::OptText(filter.kind.map(|k| k.as_str().to_owned())),
            Arg::OptI64(filter.before.map(|id| id.0)),
            Arg::I64(i64::from(limit)),
            Arg::OptI64(filter.owner),
        ];
        let mut tx = self.backend.read().await?;
        let rows = tx.jobs(&self.sql().list, &args).await?;
        tx.commit().await?;
        let jobs: Vec<Job> = rows.into_iter().map(|r| r.job).collect();
        // A full page may have a successor; a short one is the last.
        let next = (jobs.len() == limit as usize)
            .then(|| jobs.last().map(|j| j.id))
            .flatten();
        Ok(JobPage { jobs, next })
    }

    pub async fn cancel(&self, id: JobId) -> Result<Job, StoreError> {
        let mut tx = self.backend.write().await?;
        let job = self.load(tx.as_mut(), Lock::Update, id).await?.job;
        match job.state {
            JobState::Cancelled => {
                tx.commit().await?;
                return Ok(job);
            }
            from @ (JobState::Done | JobState::Failed) => {
                let to = JobState::Cancelled;
                return Err(StoreError::InvalidTransition { job: id, from, to });
            }
            _ => {}
        }
        let now = self.now();
        let args = [Arg::I64(id.0), Arg::I64(now)];
        let cancelled = update(tx.as_mut(), &self.sql().cancel, &args).await?;
        fail_dependents(tx.as_mut(), id, "was cancelled", now).await?;
        tx.commit().await?;
        Ok(cancelled)
    }

    /// One statement, committed on its own: the hot path of every worker.
    pub async fn claim(
        &self,
        claimed_by: Option<i64>,
        worker_id: &str,
        worker: &WorkerCapabilities,
        lease_duration: Duration,
    ) -> Result<Option<(Job, Lease)>, StoreError> {
        let lease_ms = i64::try_from(lease_duration.as_millis()).unwrap_or(i64::MAX);
        let args = sql::claim_args(claimed_by, worker_id, worker, self.now(), lease_ms);
        let rows = self.backend.write_one(&self.sql().claim, &args).await?;
        match rows.into_iter().next() {
            Some(row) => {
                let lease = lease_of(&row.job)?;
                Ok(Some((row.job, lease)))
            }
            None => Ok(None),
        }
    }

    pub async fn heartbeat(&self, lease: &Lease) -> Result<Lease, StoreError> {
        let now = self.now();
        let (mut tx, row) = self.leased(lease, now).await?;
        let duration = row.lease_duration_ms.unwrap_or(0);
        let args = [
            Arg::I64(lease.job_id.0),
            Arg::I64(now.saturating_add(duration)),
            Arg::I64(now),
        ];
        let renewed = update(tx.as_mut(), &self.sql().renew_lease, &args).await?;
        tx.commit().await?;
        lease_of(&renewed)
    }

    pub async fn set_phase(&self, lease: &Lease, phase: Phase) -> Result<Job, StoreError> {
        let now = self.now();
        let (mut tx, row) = self.leased(lease, now).await?;
        let from = row.job.state;
        if !phase.allowed_from(from) {
            tx.commit().await?; // nothing written: release the row lock at once
            let (job, to) = (lease.job_id, phase.state());
            return Err(StoreError::InvalidTransition { job, from, to });
        }
        let args = [
            Arg::I64(lease.job_id.0),
            Arg::Text(phase.state().as_str().to_owned()),
            Arg::I64(now),
        ];
        let updated = update(tx.as_mut(), &self.sql().set_state, &args).await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn complete(
        &self,
        lease: &Lease,
        artifact: &ContentHash,
        result: serde_json::Value,
    ) -> Result<Job, StoreError> {
        let now = self.now();
        let (mut tx, _) = self.leased(lease, now).await?;
        let args = [
            Arg::I64(lease.job_id.0),
            Arg::Text(artifact.as_str().to_owned()),
            Arg::Text(result.to_string()),
            Arg::I64(now),
        ];
        let done = update(tx.as_mut(), &self.sql().complete, &args).await?;
        tx.commit().await?;
        Ok(done)
    }

    pub async fn fail(
        &self,
        lease: &Lease,
        reason: &str,
        retryable: bool,
    ) -> Result<Job, StoreError> {
        let now = self.now();
        let (mut tx, row) = self.leased(lease, now).await?;
        let reason = truncate(reason, self.config.max_error_len);
        // The worker gives its own lease back: no token increment needed, the job is no
        // longer active under it.
        let updated = self
            .end_attempt(tx.as_mut(), &row.job, retryable, &reason, 0, now)
            .await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn release(&self, lease: &Lease, reason: &str) -> Result<Job, StoreError> {
        let now = self.now();
        let (mut tx, _) = self.leased(lease, now).await?;
        let reason = truncate(reason, self.config.max_error_len);
        let args = [Arg::I64(lease.job_id.0), Arg::Text(reason), Arg::I64(now)];
        let released = update(tx.as_mut(), &self.sql().release, &args).await?;
        tx.commit().await?;
        Ok(released)
    }

    pub async fn expire_leases(&self) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let now = self.now();
            let mut tx = self.backend.write().await?;
            let args = [Arg::I64(now), Arg::I64(EXPIRY_BATCH)];
            let rows = tx.jobs(&self.sql().expired, &args).await?;
            for row in &rows {
                let worker = row.job.worker_id.as_deref().unwrap_or("?");
                let reason = format!("lease of worker {worker} expired");
                // The token moves so the worker that lost the lease is fenced out even before
                // anyone claims the job again.
                self.end_attempt(tx.as_mut(), &row.job, true, &reason, 1, now)
                    .await?;
            }
            tx.commit().await?;
            total += rows.len() as u64;
            if (rows.len() as i64) < EXPIRY_BATCH {
                return Ok(total);
            }
        }
    }

    pub async fn counts(&self) -> Result<BTreeMap<JobState, u64>, StoreError> {
        let mut tx = self.backend.read().await?;
        let rows = tx.text_ints(sql::COUNT_BY_STATE, &[]).await?;
        tx.commit().await?;
        let mut counts: BTreeMap<JobState, u64> =
            JobState::ALL.into_iter().map(|s| (s, 0)).collect();
        for (name, n) in rows {
            counts.insert(sql::state_of(&name)?, u64::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }

    pub async fn dependents(&self, id: JobId) -> Result<Vec<JobId>, StoreError> {
        let mut tx = self.backend.read().await?;
        self.load(tx.as_mut(), Lock::None, id).await?;
        let ids = tx.ints(sql::DEPENDENTS_OF, &[Arg::I64(id.0)]).await?;
        tx.commit().await?;
        Ok(ids.into_iter().map(JobId).collect())
    }

    pub async fn readiness(&self, id: JobId) -> Result<Readiness, StoreError> {
        let mut tx = self.backend.read().await?;
        let job = self.load(tx.as_mut(), Lock::None, id).await?.job;
        let pending = tx.ints(sql::PENDING_DEPS_OF, &[Arg::I64(id.0)]).await?;
        tx.commit().await?;
        Ok(if job.state != JobState::Queued {
            Readiness::NotQueued { state: job.state }
        } else if !pending.is_empty() {
            Readiness::Waiting {
                dependencies: pending.into_iter().map(JobId).collect(),
            }
        } else if job.next_attempt_at_ms > self.now() {
            Readiness::BackingOff {
                until_ms: job.next_attempt_at_ms,
            }
        } else {
            Readiness::Ready
        })
    }

    /// One statement: claimed rows are hidden from other claimers until `hold` passes.
    pub async fn claim_webhooks(&self, limit: u32, hold: Duration) -> Result<Vec<Job>, StoreError> {
        let now = self.now();
        let hold_ms = i64::try_from(hold.as_millis()).unwrap_or(i64::MAX);
        let args = [
            Arg::I64(now),
            Arg::I64(now.saturating_add(hold_ms)),
            Arg::I64(i64::from(limit.max(1))),
        ];
        let rows = self
            .backend
            .write_one(&self.sql().claim_webhooks, &args)
            .await?;
        Ok(rows.into_iter().map(|row| row.job).collect())
    }

    pub async fn record_webhook(
        &self,
        id: JobId,
        attempt: u32,
        outcome: &WebhookOutcome,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let (id, attempt) = (Arg::I64(id.0), Arg::I64(i64::from(attempt)));
        let error = |e: &str| Arg::Text(truncate(e, self.config.max_error_len));
        let (query, args) = match outcome {
            WebhookOutcome::Delivered => (sql::WEBHOOK_DELIVERED, vec![id, attempt, Arg::I64(now)]),
            WebhookOutcome::Retry { after, error: e } => {
                let after_ms = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
                let at = Arg::I64(now.saturating_add(after_ms));
                (sql::WEBHOOK_RETRY, vec![id, attempt, at, error(e)])
            }
            WebhookOutcome::GaveUp { error: e } => {
                (sql::WEBHOOK_FAILED, vec![id, attempt, error(e)])
            }
        };
        let mut tx = self.backend.write().await?;
        let changed = tx.execute(query, &args).await?;
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// Reads one job, locked as asked.
    async fn load(&self, tx: &mut dyn SqlTx, lock: Lock, id: JobId) -> Result<JobRow, StoreError> {
        let query = match lock {
            Lock::None => &self.sql().job_by_id,
            Lock::Share => &self.sql().job_for_share,
            Lock::Update => &self.sql().job_for_update,
        };
        let rows = tx.jobs(query, &[Arg::I64(id.0)]).await?;
        rows.into_iter().next().ok_or(StoreError::NotFound(id))
    }

    /// Opens a write transaction holding the job of `lease`, if the lease is current.
    async fn leased(
        &self,
        lease: &Lease,
        now: i64,
    ) -> Result<(Box<dyn SqlTx>, JobRow), StoreError> {
        let mut tx = self.backend.write().await?;
        let row = self.load(tx.as_mut(), Lock::Update, lease.job_id).await?;
        if let Err(fenced) = check_lease(&row.job, lease, now) {
            // End the transaction now: a dropped sqlx transaction rolls back only later, and
            // until then its row lock hides the job from `SKIP LOCKED` sweeps and claims.
            tx.commit().await?;
            return Err(fenced);
        }
        Ok((tx, row))
    }

    /// Ends the current attempt of an active job: re-queue with backoff, or fail it and its
    /// dependents. `token_bump` is 1 when the lease is taken away from a worker.
    async fn end_attempt(
        &self,
        tx: &mut dyn SqlTx,
        job: &Job,
        retryable: bool,
        reason: &str,
        token_bump: i64,
        now: i64,
    ) -> Result<Job, StoreError> {
        let id = Arg::I64(job.id.0);
        let reason = Arg::Text(reason.to_owned());
        match after_failure(job, retryable, now, &self.config) {
            AfterFailure::Retry { at_ms } => {
                let args = [
                    id,
                    Arg::I64(at_ms),
                    reason,
                    Arg::I64(token_bump),
                    Arg::I64(now),
                ];
                update(tx, &self.sql().requeue, &args).await
            }
            AfterFailure::GiveUp => {
                let args = [id, reason, Arg::I64(token_bump), Arg::I64(now)];
                let failed = update(tx, &self.sql().fail, &args).await?;
                fail_dependents(tx, job.id, "failed", now).await?;
                Ok(failed)
            }
        }
    }
}

/// Normalises and checks a spec before it is stored.
fn validate(spec: &mut JobSpec) -> Result<(), StoreError> {
    let invalid = |msg: &str| Err(StoreError::InvalidSpec(msg.to_owned()));
    if spec.max_attempts == 0 || i32::try_from(spec.max_attempts).is_err() {
        return invalid("max_attempts must be between 1 and 2^31-1");
    }
    if i64::try_from(spec.required_memory_bytes).is_err() {
        return invalid("required_memory_bytes must be below 2^63");
    }
    if spec.profile.is_empty() {
        return invalid("profile must not be empty");
    }
    if spec.required_backend.as_deref() == Some("") {
        return invalid("required_backend must be a backend name or absent");
    }
    if let Some(url) = &spec.callback_url {
        if url.is_empty() || url.len() > MAX_CALLBACK_URL_LEN {
            return invalid("callback_url must be 1 to 2048 bytes");
        }
    }
    spec.depends_on.sort();
    spec.depends_on.dedup();
    if spec.depends_on.len() > MAX_DEPENDENCIES {
        return invalid("too many dependencies");
    }
    Ok(())
}

/// The bytes a submission stored, as a column value.
fn stored_bytes(spec: &JobSpec) -> Result<i64, StoreError> {
    i64::try_from(spec.stored_bytes)
        .map_err(|_| StoreError::InvalidSpec("stored_bytes must be below 2^63".into()))
}

fn insert_args(spec: &JobSpec, key: &str, now: i64, tag: i64) -> Result<Vec<Arg>, StoreError> {
    // validate() bounded both numbers.
    let max_attempts = i32::try_from(spec.max_attempts)
        .map_err(|_| StoreError::InvalidSpec("max_attempts too large".into()))?;
    let memory = i64::try_from(spec.required_memory_bytes)
        .map_err(|_| StoreError::InvalidSpec("required_memory_bytes too large".into()))?;
    Ok(vec![
        Arg::Text(spec.kind.as_str().to_owned()),
        Arg::Text(key.to_owned()),
        Arg::Text(spec.program_hash.as_str().to_owned()),
        Arg::Text(spec.input_hash.as_str().to_owned()),
        Arg::Text(spec.profile.clone()),
        Arg::I32(spec.priority),
        Arg::I32(max_attempts),
        Arg::I64(memory),
        Arg::OptText(spec.required_backend.clone()),
        Arg::Text(spec.payload.to_string()),
        Arg::I64(now),
        Arg::OptI64(spec.owner),
        Arg::I64(stored_bytes(spec)?),
        Arg::I64(tag),
        Arg::OptText(spec.callback_url.clone()),
        Arg::OptText(
            spec.callback_url
                .as_ref()
                .map(|_| WebhookState::Pending.as_str().to_owned()),
        ),
    ])
}

/// Runs an UPDATE … RETURNING of one job that the caller knows exists (it holds it locked).
async fn update(tx: &mut dyn SqlTx, query: &str, args: &[Arg]) -> Result<Job, StoreError> {
    let rows = tx.jobs(query, args).await?;
    rows.into_iter()
        .next()
        .map(|r| r.job)
        .ok_or_else(|| StoreError::Database("a locked job disappeared during an update".into()))
}

/// Fails, transitively, every queued job that depends on `root`: none of them can run.
async fn fail_dependents(
    tx: &mut dyn SqlTx,
    root: JobId,
    what_happened: &str,
    now: i64,
) -> Result<(), StoreError> {
    let mut frontier = vec![(root, what_happened.to_owned())];
    while let Some((dep, happened)) = frontier.pop() {
        let reason = format!("dependency {dep} {happened}");
        let args = [Arg::I64(dep.0), Arg::Text(reason), Arg::I64(now)];
        let failed = tx.ints(sql::FAIL_DEPENDENTS, &args).await?;
        frontier.extend(
            failed
                .into_iter()
                .map(|id| (JobId(id), "failed".to_owned())),
        );
    }
    Ok(())
}

fn lease_of(job: &Job) -> Result<Lease, StoreError> {
    match (&job.worker_id, job.lease_expires_at_ms) {
        (Some(worker_id), Some(expires_at_ms)) => Ok(Lease {
            job_id: job.id,
            worker_id: worker_id.clone(),
            fencing_token: job.fencing_token,
            expires_at_ms,
        }),
        _ => Err(StoreError::Corrupt(format!(
            "job {} is leased without worker or expiry",
            job.id
        ))),
    }
}

/// A lease is current while the job is active under its token and worker and the store's
/// clock has not reached its expiry.
fn check_lease(job: &Job, lease: &Lease, now: i64) -> Result<(), StoreError> {
    let current = job.state.is_active()
        && job.fencing_token == lease.fencing_token
        && job.worker_id.as_deref() == Some(lease.worker_id.as_str())
        && job.lease_expires_at_ms.is_some_and(|t| now < t);
    if current {
        Ok(())
    } else {
        Err(StoreError::Fenced {
            job: lease.job_id,
            token: lease.fencing_token,
        })
    }
}

/// Retry while attempts are left, after `retry_base · 2^(attempts-1)` capped at `retry_max`.
fn after_failure(job: &Job, retryable: bool, now: i64, config: &StoreConfig) -> AfterFailure {
    if !retryable || job.attempts >= job.spec.max_attempts {
        return AfterFailure::GiveUp;
    }
    let base = i64::try_from(config.retry_base.as_millis()).unwrap_or(i64::MAX);
    let max = i64::try_from(config.retry_max.as_millis()).unwrap_or(i64::MAX);
    let doublings = job.attempts.saturating_sub(1).min(62);
    let delay = base.saturating_mul(1_i64 << doublings).min(max);
    AfterFailure::Retry {
        at_ms: now.saturating_add(delay),
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobKind, JobSpec};

    fn job(attempts: u32, max_attempts: u32) -> Job {
        let mut spec = JobSpec::new(
            JobKind::CairoProof,
            ContentHash::of(b"p"),
            ContentHash::of(b"i"),
            "production",
        );
        spec.max_attempts = max_attempts;
        Job {
            state: JobState::Proving,
            attempts,
            fencing_token: 4,
            worker_id: Some("w".into()),
            lease_expires_at_ms: Some(2_000),
            ..Job::queued(JobId(1), spec)
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = StoreConfig {
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_millis(350),
            ..StoreConfig::default()
        };
        let at = |attempts| after_failure(&job(attempts, 10), true, 1_000, &config);
        assert_eq!(at(1), AfterFailure::Retry { at_ms: 1_100 });
        assert_eq!(at(2), AfterFailure::Retry { at_ms: 1_200 });
        assert_eq!(at(3), AfterFailure::Retry { at_ms: 1_350 });
        assert_eq!(at(9), AfterFailure::Retry { at_ms: 1_350 });
        assert_eq!(at(10), AfterFailure::GiveUp, "no attempts left");
        assert_eq!(
            after_failure(&job(1, 10), false, 1_000, &config),
            AfterFailure::GiveUp
        );
    }

    #[test]
    fn lease_is_current_only_with_token_worker_state_and_time() {
        let j = job(1, 3);
        let lease = lease_of(&j).unwrap();
        assert!(check_lease(&j, &lease, 1_999).is_ok());
        assert!(
            check_lease(&j, &lease, 2_000).is_err(),
            "expired at its instant"
        );
        let stale = Lease {
            fencing_token: 3,
            ..lease.clone()
        };
        assert!(check_lease(&j, &stale, 0).is_err());
        let other = Lease {
            worker_id: "x".into(),
            ..lease.clone()
        };
        assert!(check_lease(&j, &other, 0).is_err());
        let done = Job {
            state: JobState::Done,
            ..j
        };
        assert!(check_lease(&done, &lease, 0).is_err());
    }

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        assert_eq!(truncate("aé", 2), "a…");
    }

    #[test]
    fn validate_normalises_dependencies_and_rejects_nonsense() {
        let mut s = job(0, 3).spec;
        s.depends_on = vec![JobId(3), JobId(1), JobId(3)];
        validate(&mut s).unwrap();
        assert_eq!(s.depends_on, vec![JobId(1), JobId(3)]);
        s.max_attempts = 0;
        assert!(matches!(validate(&mut s), Err(StoreError::InvalidSpec(_))));
        s.max_attempts = 1;
        s.required_memory_bytes = u64::MAX;
        assert!(matches!(validate(&mut s), Err(StoreError::InvalidSpec(_))));
    }
}
