//! Jobs as the store keeps them: what a client submits ([`JobSpec`]), what the store tracks
//! ([`Job`], [`JobState`]), and what a worker holds while it works on one ([`Lease`]).
//!
//! These types cross process boundaries (REST API, workers), so they are serde types with
//! stable snake_case names.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A job's id, assigned by the store in submission order: FIFO tie-breaks and list cursors
/// are plain integer comparisons, identical in SQLite and Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a job does; each kind gets its own handler in the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Prove one Cairo program run submitted through the API.
    CairoProof,
    /// Prove one chunk of a block's execution.
    BlockChunk,
    /// Aggregate a block's chunk proofs; depends on the block's chunk jobs.
    BlockAggregate,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [Self::CairoProof, Self::BlockChunk, Self::BlockAggregate];

    /// The name stored in the database and used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CairoProof => "cairo_proof",
            Self::BlockChunk => "block_chunk",
            Self::BlockAggregate => "block_aggregate",
        }
    }
}

/// A job's place in its life cycle (mirrored by a CHECK constraint in both schemas).
///
/// ```text
/// queued ──claim──▶ leased ──▶ proving ──▶ verifying ──complete──▶ done
///   ▲                 │           │            │
///   └─ retryable fail or expired lease, attempts left (with backoff)
///                     └───────────┴────────────┴──▶ failed (no attempts left / not retryable)
/// queued | leased | proving | verifying ──cancel──▶ cancelled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker; claimable once its dependencies are done and its backoff passed.
    Queued,
    /// Claimed by a worker that has not started proving yet.
    Leased,
    /// The worker is executing and proving.
    Proving,
    /// The worker is verifying its proof.
    Verifying,
    /// Finished: the artifact's content hash and the result are recorded. Terminal.
    Done,
    /// Gave up: no attempts left, a non-retryable error, or a dependency that cannot finish.
    /// Terminal.
    Failed,
    /// Cancelled by a client. Terminal.
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        Self::Queued,
        Self::Leased,
        Self::Proving,
        Self::Verifying,
        Self::Done,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The name stored in the database and used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Leased => "leased",
            Self::Proving => "proving",
            Self::Verifying => "verifying",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// A worker holds a lease on the job (leased, proving or verifying).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Leased | Self::Proving | Self::Verifying)
    }

    /// Nothing will happen to the job any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `FromStr` by stored name (`as_str`) for enums that list every value in `ALL`.
macro_rules! from_stored_name {
    ($($t:ty),*) => {$(
        impl FromStr for $t {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|k| k.as_str() == s)
                    .ok_or_else(|| UnknownName(s.to_owned()))
            }
        }
    )*};
}

from_stored_name!(JobKind, JobState, WebhookState);

/// A name that is not one of an enum's stored names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

/// The phase a worker reports while it holds a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Proving,
    Verifying,
}

impl Phase {
    pub fn state(self) -> JobState {
        match self {
            Self::Proving => JobState::Proving,
            Self::Verifying => JobState::Verifying,
        }
    }

    /// The states a worker may move from into this phase. Repeating the current phase is
    /// accepted so that a worker can retry a request whose answer it lost.
    pub fn allowed_from(self, state: JobState) -> bool {
        match self {
            Self::Proving => matches!(state, JobState::Leased | JobState::Proving),
            Self::Verifying => matches!(state, JobState::Proving | JobState::Verifying),
        }
    }
}

/// A SHA-256 digest as 64 lowercase hex digits: how inputs and artifacts are named in the
/// object store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentHash(String);

impl ContentHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    /// Accepts exactly 64 lowercase hex digits, so that one object has one name.
    pub fn parse(s: &str) -> Result<Self, InvalidContentHash> {
        let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidContentHash(s.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ContentHash {
    type Error = InvalidContentHash;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ContentHash> for String {
    fn from(h: ContentHash) -> Self {
        h.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 hex digest (64 lowercase hex digits): {0:?}")]
pub struct InvalidContentHash(pub String);

/// What a client asks the farm to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub kind: JobKind,
    /// Content hash of the compiled program in the object store.
    pub program_hash: ContentHash,
    /// Content hash of the program's input in the object store. For an aggregation job, the
    /// hash of whatever identifies what it aggregates (e.g. the block's chunk list).
    pub input_hash: ContentHash,
    /// Prover security profile, e.g. "production".
    pub profile: String,
    /// Higher is claimed first.
    pub priority: i32,
    /// How many claims the job may have in total (at least 1).
    pub max_attempts: u32,
    /// Jobs that must be done before this one can be claimed. They must exist already, which
    /// keeps the graph acyclic.
    pub depends_on: Vec<JobId>,
    /// Memory a worker must have to take the job.
    pub required_memory_bytes: u64,
    /// A prover backend (e.g. "cuda") the worker must advertise; `None` for any.
    pub required_backend: Option<String>,
    /// Kind-specific parameters, stored as given.
    pub payload: serde_json::Value,
    /// The stored API key that submitted the job (its tenant); `None` for the farm's own
    /// jobs and the scheduler's `--api-key` admin. Part of the idempotency key: tenants
    /// never share a job.
    #[serde(default)]
    pub owner: Option<i64>,
    /// Program and input bytes the submission stored, charged to the owner's quota.
    #[serde(default)]
    pub stored_bytes: u64,
    /// Where the scheduler POSTs the job once it is done, failed or cancelled (a webhook);
    /// checked by the API (http/https, no private address unless allowed). Not part of the
    /// idempotency key: a resubmission returns the live job with its own callback.
    #[serde(default)]
    pub callback_url: Option<String>,
}

impl JobSpec {
    /// A spec with defaults: priority 0, 3 attempts, no dependencies, no memory or backend
    /// requirement, empty payload.
    pub fn new(
        kind: JobKind,
        program_hash: ContentHash,
        input_hash: ContentHash,
        profile: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            program_hash,
            input_hash,
            profile: profile.into(),
            priority: 0,
            max_attempts: 3,
            depends_on: Vec::new(),
            required_memory_bytes: 0,
            required_backend: None,
            payload: serde_json::Value::Null,
            owner: None,
            stored_bytes: 0,
            callback_url: None,
        }
    }

    /// The key under which submissions are deduplicated: SHA-256 over kind, program hash,
    /// input hash and profile, each length-prefixed so that no two tuples share a key.
    /// Priority, attempts, routing and payload are not part of it: they do not change the
    /// proof. The owner is, when there is one, so that each tenant gets its own job (jobs
    /// without an owner keep the keys they had before tenants existed).
    pub fn idempotency_key(&self) -> String {
        let mut hasher = Sha256::new();
        let owner = self.owner.map(|id| format!("owner {id}"));
        let parts = [
            Some(self.kind.as_str()),
            Some(self.program_hash.as_str()),
            Some(self.input_hash.as_str()),
            Some(self.profile.as_str()),
            owner.as_deref(),
        ];
        for part in parts.into_iter().flatten() {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// A job as the store tracks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub spec: JobSpec,
    pub idempotency_key: String,
    pub state: JobState,
    /// Claims so far (each claim is one attempt, including those whose lease expired).
    pub attempts: u32,
    /// Incremented by every claim, lease expiry and cancellation: only the holder of the
    /// current token may write.
    pub fencing_token: i64,
    /// The worker holding the lease while the job is active; afterwards, the last one that
    /// held it (for a done job: the worker that proved it).
    pub worker_id: Option<String>,
    pub lease_expires_at_ms: Option<i64>,
    /// Earliest time of the next claim (retry backoff).
    pub next_attempt_at_ms: i64,
    /// The last failure, truncated.
    pub last_error: Option<String>,
    /// Content hash of the proof artifact, once done.
    pub artifact_hash: Option<ContentHash>,
    /// What the worker reported with the artifact, once done.
    pub result: Option<serde_json::Value>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// Milliseconds workers spent proving and verifying it (the scheduler's clock, from
    /// their phase reports to the next report or the hand-in).
    pub proving_ms: u64,
    pub verifying_ms: u64,
    /// The delivery of the job's webhook; `None` when it has no `callback_url`.
    #[serde(default)]
    pub webhook: Option<WebhookDelivery>,
}

/// Where a job's webhook delivery stands (mirrored by a CHECK constraint in both schemas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WebhookState {
    /// Waiting for the job to finish, or for a receiver's 2xx (retried with backoff).
    Pending,
    /// A receiver answered 2xx. Terminal.
    Delivered,
    /// Every attempt failed. Terminal.
    Failed,
}

impl WebhookState {
    pub const ALL: [WebhookState; 3] = [Self::Pending, Self::Delivered, Self::Failed];

    /// The name stored in the database and used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// The delivery of a job's webhook: claimed attempt by attempt by the scheduler processes
/// sharing the store (the attempt count fences a process that lost its claim).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    pub state: WebhookState,
    /// Attempts made or in progress.
    pub attempts: u32,
    /// Earliest time of the next attempt while pending.
    pub next_attempt_at_ms: i64,
    /// When a receiver answered 2xx.
    pub delivered_at_ms: Option<i64>,
    /// The last failed attempt's error (HTTP status, connection error, refused address).
    pub last_error: Option<String>,
}

#[cfg(test)]
impl Job {
    /// A job just submitted, as the store would return it (unit tests).
    pub(crate) fn queued(id: JobId, spec: JobSpec) -> Self {
        Self {
            id,
            spec,
            idempotency_key: String::new(),
            state: JobState::Queued,
            attempts: 0,
            fencing_token: 0,
            worker_id: None,
            lease_expires_at_ms: None,
            next_attempt_at_ms: 0,
            last_error: None,
            artifact_hash: None,
            result: None,
            created_at_ms: 0,
            updated_at_ms: 0,
            finished_at_ms: None,
            proving_ms: 0,
            verifying_ms: 0,
            webhook: None,
        }
    }
}

/// A worker's claim on a job. Every write the worker makes presents it; the store refuses
/// ([`crate::StoreError::Fenced`]) once the token is no longer the job's current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub job_id: JobId,
    pub worker_id: String,
    pub fencing_token: i64,
    /// The lease is valid while the store's clock is before this instant.
    pub expires_at_ms: i64,
}

/// What a worker offers when it claims; jobs that do not fit are left for others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCapabilities {
    pub memory_bytes: u64,
    /// Device (GPU) memory the worker can give one job; 0 when it has no GPU or does not say
    /// (older workers): then jobs pinned to a GPU backend are not routed by it.
    pub device_memory_bytes: u64,
    /// Prover backends the worker runs, e.g. "cpu", "cuda", "wgpu".
    pub backends: Vec<String>,
    /// Job kinds the worker handles; empty for all.
    pub kinds: Vec<JobKind>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(profile: &str) -> JobSpec {
        JobSpec::new(
            JobKind::CairoProof,
            ContentHash::of(b"program"),
            ContentHash::of(b"input"),
            profile,
        )
    }

    #[test]
    fn names_round_trip() {
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for k in JobKind::ALL {
            assert_eq!(k.as_str().parse::<JobKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!("running".parse::<JobState>().is_err());
    }

    #[test]
    fn content_hash_accepts_only_lowercase_sha256_hex() {
        let h = ContentHash::of(b"abc");
        assert_eq!(
            h.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ContentHash::parse(h.as_str()), Ok(h.clone()));
        assert!(ContentHash::parse(&h.as_str().to_uppercase()).is_err());
        assert!(ContentHash::parse(&h.as_str()[1..]).is_err());
        assert!(serde_json::from_str::<ContentHash>("\"xyz\"").is_err());
    }

    #[test]
    fn idempotency_key_covers_what_changes_the_proof_only() {
        let base = spec("production");
        let mut same = base.clone();
        same.priority = 9;
        same.payload = serde_json::json!({"note": 1});
        assert_eq!(base.idempotency_key(), same.idempotency_key());
        assert_ne!(
            base.idempotency_key(),
            spec("fast").idempotency_key(),
            "profile is part of the key"
        );
        let mut other_kind = base.clone();
        other_kind.kind = JobKind::BlockChunk;
        assert_ne!(base.idempotency_key(), other_kind.idempotency_key());
        let mut owned = base.clone();
        owned.owner = Some(1);
        let mut other_owner = base.clone();
        other_owner.owner = Some(2);
        assert_ne!(base.idempotency_key(), owned.idempotency_key());
        assert_ne!(owned.idempotency_key(), other_owner.idempotency_key());
    }

    #[test]
    fn phases_only_move_forward() {
        assert!(Phase::Proving.allowed_from(JobState::Leased));
        assert!(Phase::Proving.allowed_from(JobState::Proving));
        assert!(!Phase::Proving.allowed_from(JobState::Verifying));
        assert!(Phase::Verifying.allowed_from(JobState::Proving));
        assert!(!Phase::Verifying.allowed_from(JobState::Leased));
    }
}
