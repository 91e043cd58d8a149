//! starfarm's job store: the jobs of the farm, their life cycle (queued → leased → proving →
//! verifying → done | failed | cancelled), leases with fencing tokens, retries with backoff,
//! dependencies between jobs (a block's chunk proofs before its aggregation), idempotent
//! submission and queue metrics, on SQLite (embedded default) or Postgres (several machines).
//!
//! The REST API, the worker loop and block planning build on [`JobStore`], holding it as
//! `Arc<dyn JobStore>`. This crate stores content hashes of inputs and artifacts, never
//! their bytes (those live in the object store), and must not depend on the prover or the
//! sequencer: it stays light enough for every process that schedules or watches jobs.

pub mod clock;
pub mod job;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use job::{
    ContentHash, Job, JobId, JobKind, JobSpec, JobState, Lease, Phase, WorkerCapabilities,
};
pub use store::{
    JobFilter, JobPage, JobStore, PostgresStore, Readiness, SqliteStore, StoreConfig, StoreError,
    Submission,
};
