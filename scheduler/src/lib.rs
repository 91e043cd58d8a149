//! starfarm's job store: the jobs of the farm, their life cycle (queued → leased → proving →
//! verifying → done | failed | cancelled), leases with fencing tokens, retries with backoff,
//! dependencies between jobs (a block's chunk proofs before its aggregation), idempotent
//! submission and queue metrics, on SQLite (embedded default) or Postgres (several machines).
//!
//! The REST API ([`api`]), the worker loop and block planning build on [`JobStore`], holding
//! it as `Arc<dyn JobStore>`. The store keeps content hashes of inputs and artifacts, never
//! their bytes: those live in the object store ([`blobs`]).
//!
//! Feature `api` (default) adds the REST API and the blob store; it is the only part that
//! depends on the prover (to validate submitted programs). Without it the crate is the
//! store alone, light enough for every process that schedules or watches jobs.
//!
//! Feature `blocks` (implies `api`) adds [`blocks`]: ingestion of the sequencer's published
//! blocks into chunk and aggregate jobs, and the aggregator that marks blocks proven. It is
//! the one part that depends on the sequencer.

#[cfg(feature = "api")]
pub mod api;
#[cfg(feature = "api")]
pub mod blobs;
#[cfg(feature = "blocks")]
pub mod blocks;
pub mod clock;
pub mod job;
pub mod store;
#[cfg(feature = "api")]
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use job::{
    ContentHash, Job, JobId, JobKind, JobSpec, JobState, Lease, Phase, WorkerCapabilities,
};
pub use store::{
    JobFilter, JobPage, JobStore, PostgresStore, Readiness, SqliteStore, StoreConfig, StoreError,
    Submission,
};
