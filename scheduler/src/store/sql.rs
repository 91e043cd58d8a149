//! The SQL both stores run, and the small interface each backend provides to run it.
//!
//! Statements use `$1`-style parameters, which SQLite (through sqlx) and Postgres both
//! accept. The few places where the two dialects differ — row locks, lists bound as one
//! parameter, aggregating a job's dependencies — are filled in by [`Dialect`].

use super::keys::{ApiKey, Quota, Role};
use super::StoreError;
use crate::job::{
    ContentHash, Job, JobId, JobSpec, JobState, WebhookDelivery, WebhookState, WorkerCapabilities,
};
use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Row, Type};

/// One bound parameter. Lists travel as one parameter: a JSON array for SQLite (read with
/// `json_each`), an array for Postgres (read with `ANY`).
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I32(i32),
    I64(i64),
    OptI64(Option<i64>),
    Text(String),
    OptText(Option<String>),
    TextList(Vec<String>),
}

/// An open transaction; dropping it without [`SqlTx::commit`] rolls it back.
#[async_trait]
pub(crate) trait SqlTx: Send {
    /// Runs a statement; returns the number of rows it changed.
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError>;
    /// Runs a query whose columns are the job columns (see [`Dialect`]).
    async fn jobs(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<JobRow>, StoreError>;
    /// Runs a query whose first column is an integer.
    async fn ints(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<i64>, StoreError>;
    /// Runs a query whose first column is text and second an integer.
    async fn text_ints(
        &mut self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<(String, i64)>, StoreError>;
    /// Runs a query whose columns are [`KEY_COLUMNS`].
    async fn keys(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<ApiKey>, StoreError>;
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A database the engine can run on.
#[async_trait]
pub(crate) trait SqlBackend: Send + Sync + 'static {
    /// A transaction that may write; it holds the locks its statements take (SQLite: the
    /// whole database, Postgres: the rows it locks) until commit.
    async fn write(&self) -> Result<Box<dyn SqlTx>, StoreError>;
    /// A transaction that only reads.
    async fn read(&self) -> Result<Box<dyn SqlTx>, StoreError>;
    /// Runs one statement returning the job columns (see [`Dialect`]) as a write transaction
    /// of its own, in as few round trips as the database allows (the claim's hot path).
    async fn write_one(&self, sql: &str, args: &[Arg]) -> Result<Vec<JobRow>, StoreError>;
    fn dialect(&self) -> &Dialect;
    async fn close(&self);
}

/// The statements whose text differs between SQLite and Postgres, built once per store.
/// Every statement that returns jobs returns the job columns: [`COLUMNS`] plus `deps`, the
/// job's dependencies as a JSON array, so that one query reads a whole job.
#[derive(Debug, Clone)]
pub(crate) struct Dialect {
    /// A job by id: `$1` id.
    pub job_by_id: String,
    /// A job by id, locked for update: `$1` id.
    pub job_for_update: String,
    /// A job by id, locked against updates but not against other sharers: `$1` id.
    pub job_for_share: String,
    /// The live job with an idempotency key: `$1` key.
    pub job_by_key: String,
    /// `$1` state or NULL, `$2` kind or NULL, `$3` cursor or NULL, `$4` limit, `$5` owner or
    /// NULL.
    pub list: String,
    /// Leases the best claimable job; see [`claim_args`] for the parameters.
    pub claim: String,
    /// Active jobs whose lease expired, locked: `$1` now, `$2` batch size.
    pub expired: String,
    /// `$1` id, `$2` lease_expires_at, `$3` now.
    pub renew_lease: String,
    /// `$1` id, `$2` state, `$3` now.
    pub set_state: String,
    /// `$1` id, `$2` artifact hash, `$3` result JSON, `$4` now. The worker id stays: who
    /// proved it.
    pub complete: String,
    /// `$1` id, `$2` next_attempt_at, `$3` reason, `$4` fencing-token increment, `$5` now.
    pub requeue: String,
    /// `$1` id, `$2` reason, `$3` fencing-token increment, `$4` now.
    pub fail: String,
    /// `$1` id, `$2` reason, `$3` now. The attempt is given back with the job.
    pub release: String,
    /// `$1` id, `$2` now. The token moves so that the lease of a running worker is dead.
    pub cancel: String,
    /// Claims due webhook deliveries of finished jobs, skipping rows other claimers hold:
    /// `$1` now, `$2` end of the claim's hold, `$3` batch size.
    pub claim_webhooks: String,
}

impl Dialect {
    /// `deps` is an expression giving the dependencies of the current row of `jobs` as JSON
    /// array text; `in_list(column, n)` a condition that `column` is in the list bound at
    /// `$n`; `for_update`, `for_share` and `skip_locked` row-lock clauses ("" where the whole
    /// transaction is already exclusive).
    pub fn new(
        deps: &str,
        in_list: fn(&str, u32) -> String,
        for_update: &str,
        for_share: &str,
        skip_locked: &str,
    ) -> Self {
        let cols = format!("{COLUMNS}, {deps} AS deps");
        let select = format!("SELECT {cols} FROM jobs");
        let update = |set: &str| format!("UPDATE jobs SET {set} WHERE id = $1 RETURNING {cols}");
        Self {
            job_by_id: format!("{select} WHERE id = $1"),
            job_for_update: format!("{select} WHERE id = $1{for_update}"),
            job_for_share: format!("{select} WHERE id = $1{for_share}"),
            job_by_key: format!(
                "{select} WHERE idempotency_key = $1 AND state NOT IN ('failed', 'cancelled')"
            ),
            list: format!(
                "{select} WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR kind = $2) \
                 AND ($3 IS NULL OR id < $3) AND ($5 IS NULL OR owner = $5) \
                 ORDER BY id DESC LIMIT $4"
            ),
            claim: claim_sql(
                &cols,
                in_list("j.required_backend", 6),
                in_list("j.kind", 7),
                skip_locked,
            ),
            expired: format!(
                "{select} WHERE state IN ('leased', 'proving', 'verifying') \
                 AND lease_expires_at <= $1 ORDER BY id LIMIT $2{skip_locked}"
            ),
            renew_lease: update("lease_expires_at = $2, updated_at = $3"),
            set_state: update(&format!(
                "state = $2, updated_at = $3, phase_started_at = $3, {}",
                phase_elapsed("$3")
            )),
            complete: update(&format!(
                "state = 'done', artifact_hash = $2, result = $3, lease_expires_at = NULL, \
                 updated_at = $4, finished_at = $4, phase_started_at = NULL, {}",
                phase_elapsed("$4")
            )),
            requeue: update(
                "state = 'queued', next_attempt_at = $2, last_error = $3, \
                 fencing_token = fencing_token + $4, lease_expires_at = NULL, updated_at = $5",
            ),
            fail: update(
                "state = 'failed', last_error = $2, fencing_token = fencing_token + $3, \
                 lease_expires_at = NULL, updated_at = $4, finished_at = $4",
            ),
            release: update(
                "state = 'queued', attempts = attempts - 1, next_attempt_at = $3, \
                 last_error = $2, lease_expires_at = NULL, updated_at = $3",
            ),
            cancel: update(
                "state = 'cancelled', fencing_token = fencing_token + 1, \
                 lease_expires_at = NULL, updated_at = $2, finished_at = $2",
            ),
            claim_webhooks: format!(
                "UPDATE jobs SET webhook_attempts = webhook_attempts + 1, \
                 webhook_next_attempt_at = $2 \
                 WHERE id IN (SELECT id FROM jobs WHERE webhook_state = 'pending' \
                     AND webhook_next_attempt_at <= $1 \
                     AND state IN ('done', 'failed', 'cancelled') \
                     ORDER BY webhook_next_attempt_at, id LIMIT $3{skip_locked}) \
                 RETURNING {cols}"
            ),
        }
    }
}

/// The claim is one statement: pick the best queued job (locked, skipping rows other
/// claimers hold) and lease it. A job pinned to a GPU backend also needs its memory estimate
/// in the worker's device memory (`$9`; 0: the worker does not say, not checked): the
/// resident backend holds the proof's columns on the device, so the host estimate is the
/// device's too. `$4` (now) is used twice: the claim time and the backoff
/// check. At equal priority the fair-queueing tag orders tenants (see `Engine::fair_tag`),
/// then submission order.
fn claim_sql(cols: &str, backend_in: String, kind_in: String, skip_locked: &str) -> String {
    format!(
        "UPDATE jobs SET state = 'leased', attempts = attempts + 1, \
             fencing_token = fencing_token + 1, worker_id = $1, lease_expires_at = $2, \
             lease_duration_ms = $3, updated_at = $4, claimed_by = $8 \
         WHERE id = ( \
             SELECT j.id FROM jobs j \
             WHERE j.state = 'queued' AND j.next_attempt_at <= $4 \
               AND j.required_memory_bytes <= $5 \
               AND (j.required_backend IS NULL OR {backend_in}) \
               AND (j.required_backend IS NULL OR j.required_backend = 'cpu' OR $9 = 0 \
                    OR j.required_memory_bytes <= $9) \
               AND {kind_in} \
               AND NOT EXISTS ( \
                   SELECT 1 FROM job_deps d JOIN jobs p ON p.id = d.depends_on \
                   WHERE d.job_id = j.id AND p.state <> 'done') \
             ORDER BY j.priority DESC, j.fair_tag, j.id \
             LIMIT 1{skip_locked}) \
         RETURNING {cols}"
    )
}

/// Parameters of [`Dialect::claim`]. A worker that lists no kinds takes every kind.
/// `claimed_by` is the stored key the worker called with (`None` for the `--api-key` admin).
pub(crate) fn claim_args(
    claimed_by: Option<i64>,
    worker_id: &str,
    worker: &WorkerCapabilities,
    now: i64,
    lease_ms: i64,
) -> Vec<Arg> {
    let kinds = if worker.kinds.is_empty() {
        crate::job::JobKind::ALL.to_vec()
    } else {
        worker.kinds.clone()
    };
    vec![
        Arg::Text(worker_id.to_owned()),
        Arg::I64(now.saturating_add(lease_ms)),
        Arg::I64(lease_ms),
        Arg::I64(now),
        Arg::I64(i64::try_from(worker.memory_bytes).unwrap_or(i64::MAX)),
        Arg::TextList(worker.backends.clone()),
        Arg::TextList(kinds.iter().map(|k| k.as_str().to_owned()).collect()),
        Arg::OptI64(claimed_by),
        Arg::I64(i64::try_from(worker.device_memory_bytes).unwrap_or(i64::MAX)),
    ]
}

/// Adds the time since the current phase began (until `now`, a parameter) to that phase's
/// total: every phase change and the hand-in end a phase.
fn phase_elapsed(now: &str) -> String {
    let add = |phase: &str| {
        format!(
            "{phase}_ms = {phase}_ms + CASE WHEN state = '{phase}' AND phase_started_at IS NOT NULL \
             THEN {now} - phase_started_at ELSE 0 END"
        )
    };
    format!("{}, {}", add("proving"), add("verifying"))
}

/// The stored columns of a job; queries return them plus `deps` (see [`Dialect`]).
pub(crate) const COLUMNS: &str = "id, kind, idempotency_key, program_hash, input_hash, \
    profile, priority, max_attempts, required_memory_bytes, required_backend, payload, state, \
    attempts, fencing_token, worker_id, lease_expires_at, lease_duration_ms, next_attempt_at, \
    last_error, artifact_hash, result, created_at, updated_at, finished_at, owner, stored_bytes, \
    proving_ms, verifying_ms, callback_url, webhook_state, webhook_attempts, \
    webhook_next_attempt_at, webhook_delivered_at, webhook_last_error";

/// Inserts a job unless a live one has its idempotency key: then nothing is returned (on
/// Postgres this also waits for a concurrent insert of the same key to commit or abort).
pub(crate) const INSERT_JOB: &str = "INSERT INTO jobs (kind, idempotency_key, program_hash, \
    input_hash, profile, priority, max_attempts, required_memory_bytes, required_backend, \
    payload, state, next_attempt_at, created_at, updated_at, owner, stored_bytes, fair_tag, \
    callback_url, webhook_state) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $11, $11, $12, $13, $14, \
    $15, $16) \
    ON CONFLICT (idempotency_key) WHERE state NOT IN ('failed', 'cancelled') DO NOTHING \
    RETURNING id";

pub(crate) const INSERT_DEP: &str = "INSERT INTO job_deps (job_id, depends_on) VALUES ($1, $2)";

pub(crate) const DEPENDENTS_OF: &str =
    "SELECT job_id FROM job_deps WHERE depends_on = $1 ORDER BY job_id";

pub(crate) const PENDING_DEPS_OF: &str = "SELECT d.depends_on FROM job_deps d \
    JOIN jobs p ON p.id = d.depends_on \
    WHERE d.job_id = $1 AND p.state <> 'done' ORDER BY d.depends_on";

pub(crate) const COUNT_BY_STATE: &str = "SELECT state, COUNT(*) FROM jobs GROUP BY state";

/// Records that attempt `$2` of job `$1`'s webhook was answered 2xx at `$3`, unless a later
/// attempt was claimed since.
pub(crate) const WEBHOOK_DELIVERED: &str = "UPDATE jobs SET webhook_state = 'delivered', \
    webhook_delivered_at = $3, webhook_last_error = NULL \
    WHERE id = $1 AND webhook_attempts = $2 AND webhook_state = 'pending'";

/// Records that attempt `$2` of job `$1`'s webhook failed with `$4`; the next is due at `$3`.
pub(crate) const WEBHOOK_RETRY: &str = "UPDATE jobs SET webhook_next_attempt_at = $3, \
    webhook_last_error = $4 \
    WHERE id = $1 AND webhook_attempts = $2 AND webhook_state = 'pending'";

/// Records that attempt `$2` of job `$1`'s webhook, its last, failed with `$3`.
pub(crate) const WEBHOOK_FAILED: &str = "UPDATE jobs SET webhook_state = 'failed', \
    webhook_last_error = $3 \
    WHERE id = $1 AND webhook_attempts = $2 AND webhook_state = 'pending'";

/// Fails the queued direct dependents of `$1`, with reason `$2` at `$3`; returns their ids.
pub(crate) const FAIL_DEPENDENTS: &str = "UPDATE jobs SET state = 'failed', last_error = $2, \
    updated_at = $3, finished_at = $3 \
    WHERE state = 'queued' AND id IN (SELECT job_id FROM job_deps WHERE depends_on = $1) \
    RETURNING id";

/// The tag new jobs start at: the lowest of the queued jobs (0 when none is queued).
pub(crate) const QUEUE_HEAD_TAG: &str =
    "SELECT COALESCE(MIN(fair_tag), 0) FROM jobs WHERE state = 'queued'";

/// The last tag among the queued jobs of owner `$1` (-1 when it has none queued).
pub(crate) const OWNER_LAST_TAG: &str = "SELECT COALESCE(MAX(fair_tag), -1) FROM jobs \
    WHERE owner = $1 AND state = 'queued'";

/// [`OWNER_LAST_TAG`] for the farm's own jobs (no owner).
pub(crate) const FARM_LAST_TAG: &str = "SELECT COALESCE(MAX(fair_tag), -1) FROM jobs \
    WHERE owner IS NULL AND state = 'queued'";

/// Queued and active jobs of owner `$1`.
pub(crate) const LIVE_JOBS_OF_OWNER: &str = "SELECT COUNT(*) FROM jobs WHERE owner = $1 \
    AND state IN ('queued', 'leased', 'proving', 'verifying')";

/// Creation times of the jobs owner `$1` submitted after `$2`, oldest first.
pub(crate) const RECENT_SUBMISSIONS: &str = "SELECT created_at FROM jobs \
    WHERE owner = $1 AND created_at > $2 ORDER BY created_at";

/// Whether `$2` is the program, input or artifact of a job of owner `$1`.
pub(crate) const OWNER_BLOB: &str = "SELECT id FROM jobs WHERE owner = $1 \
    AND (program_hash = $2 OR input_hash = $2 OR artifact_hash = $2) LIMIT 1";

/// Whether `$2` is the program or input of an active job claimed with key `$1`.
pub(crate) const HELD_BLOB: &str = "SELECT id FROM jobs WHERE claimed_by = $1 \
    AND state IN ('leased', 'proving', 'verifying') \
    AND (program_hash = $2 OR input_hash = $2) LIMIT 1";

/// Queued and active jobs per key name (keys with none are left out).
pub(crate) const LIVE_JOBS_BY_TENANT: &str = "SELECT k.name, COUNT(*) FROM jobs j \
    JOIN api_keys k ON k.id = j.owner \
    WHERE j.state IN ('queued', 'leased', 'proving', 'verifying') GROUP BY k.name";

/// Adds `$2` stored bytes to key `$1`'s account.
pub(crate) const CHARGE_BYTES: &str =
    "UPDATE api_keys SET stored_bytes = stored_bytes + $2 WHERE id = $1";

/// The columns of an API key row.
pub(crate) const KEY_COLUMNS: &str = "id, name, role, created_at, revoked_at, max_active_jobs, \
    max_submissions_per_minute, max_stored_bytes, stored_bytes";

/// Reads a row of [`KEY_COLUMNS`]; shared by both backends.
pub(crate) fn decode_key<R>(row: &R) -> Result<ApiKey, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let limit = |column: &str| -> Result<Option<u64>, StoreError> {
        row.try_get::<Option<i64>, _>(column)?
            .map(non_negative)
            .transpose()
    };
    let role: String = row.try_get("role")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: role
            .parse::<Role>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at_ms: row.try_get("created_at")?,
        revoked_at_ms: row.try_get("revoked_at")?,
        quota: Quota {
            max_active_jobs: limit("max_active_jobs")?,
            max_submissions_per_minute: limit("max_submissions_per_minute")?,
            max_stored_bytes: limit("max_stored_bytes")?,
        },
        stored_bytes: non_negative(row.try_get("stored_bytes")?)?,
    })
}

/// A job row: the job and the lease duration heartbeats renew by.
#[derive(Debug, Clone)]
pub(crate) struct JobRow {
    pub job: Job,
    pub lease_duration_ms: Option<i64>,
}

/// Reads a row of the job columns (see [`Dialect`]); shared by both backends.
pub(crate) fn decode_job<R>(row: &R) -> Result<JobRow, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let spec = JobSpec {
        kind: parse_name(row.try_get("kind")?)?,
        program_hash: hash(row.try_get("program_hash")?)?,
        input_hash: hash(row.try_get("input_hash")?)?,
        profile: row.try_get("profile")?,
        priority: row.try_get("priority")?,
        max_attempts: non_negative(row.try_get::<i32, _>("max_attempts")?.into())?,
        depends_on: dependencies(row.try_get("deps")?)?,
        required_memory_bytes: non_negative(row.try_get("required_memory_bytes")?)?,
        required_backend: row.try_get("required_backend")?,
        payload: json(row.try_get("payload")?)?,
        owner: row.try_get("owner")?,
        stored_bytes: non_negative(row.try_get("stored_bytes")?)?,
        callback_url: row.try_get("callback_url")?,
    };
    let job = Job {
        id: JobId(row.try_get("id")?),
        spec,
        idempotency_key: row.try_get("idempotency_key")?,
        state: parse_name(row.try_get("state")?)?,
        attempts: non_negative(row.try_get::<i32, _>("attempts")?.into())?,
        fencing_token: row.try_get("fencing_token")?,
        worker_id: row.try_get("worker_id")?,
        lease_expires_at_ms: row.try_get("lease_expires_at")?,
        next_attempt_at_ms: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        artifact_hash: row
            .try_get::<Option<String>, _>("artifact_hash")?
            .map(hash)
            .transpose()?,
        result: row
            .try_get::<Option<String>, _>("result")?
            .map(json)
            .transpose()?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
        finished_at_ms: row.try_get("finished_at")?,
        proving_ms: non_negative(row.try_get("proving_ms")?)?,
        verifying_ms: non_negative(row.try_get("verifying_ms")?)?,
        webhook: match row.try_get::<Option<String>, _>("webhook_state")? {
            None => None,
            Some(state) => Some(WebhookDelivery {
                state: parse_name::<WebhookState>(state)?,
                attempts: non_negative(row.try_get::<i32, _>("webhook_attempts")?.into())?,
                next_attempt_at_ms: row.try_get("webhook_next_attempt_at")?,
                delivered_at_ms: row.try_get("webhook_delivered_at")?,
                last_error: row.try_get("webhook_last_error")?,
            }),
        },
    };
    Ok(JobRow {
        job,
        lease_duration_ms: row.try_get("lease_duration_ms")?,
    })
}

fn parse_name<T: std::str::FromStr<Err = crate::job::UnknownName>>(
    s: String,
) -> Result<T, StoreError> {
    s.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))
}

fn hash(s: String) -> Result<ContentHash, StoreError> {
    ContentHash::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dependencies(s: String) -> Result<Vec<JobId>, StoreError> {
    let ids: Vec<i64> = serde_json::from_str(&s)
        .map_err(|e| StoreError::Corrupt(format!("dependency list {s:?}: {e}")))?;
    Ok(ids.into_iter().map(JobId).collect())
}

fn json(s: String) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
}

fn non_negative<T: TryFrom<i64>>(v: i64) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative or too large count {v}")))
}

/// Reads `state` names from [`COUNT_BY_STATE`].
pub(crate) fn state_of(name: &str) -> Result<JobState, StoreError> {
    name.parse()
        .map_err(|e: crate::job::UnknownName| StoreError::Corrupt(e.to_string()))
}
