//! starfarm's job store: the jobs of the farm, their life cycle (queued → leased → proving →
//! verifying → done | failed | cancelled), leases with fencing tokens, retries with backoff,
//! dependencies between jobs (a block's chunk proofs before its aggregation), idempotent
//! submission and queue metrics, on SQLite (embedded default) or Postgres (several machines).
//!
//! # Who owns what
//! | behaviour | owner |
//! | --- | --- |
//! | jobs, states, leases, content hashes | [`job`] |
//! | storing jobs: claim, heartbeat, complete, fail, expiry | [`store`] ([`JobStore`]; SQLite, Postgres) |
//! | tenants: API keys, roles, quotas, who may read which blob | [`store`] ([`KeyStore`], table `api_keys`) |
//! | time (real or manual in tests) | [`clock`] |
//! | what each job kind means: typed payload, who proves it, batching | `kinds` (one module per kind) |
//! | accepting a proof artifact for a job (API, aggregator; the worker before upload) | `kinds::verify_for_job`, `kinds::check_claims` |
//! | request/response bodies shared by the API and its clients | `wire` |
//! | the REST API: one module per resource (jobs, workers, complete, blobs), metrics | `api` |
//! | inputs and artifacts by content hash | `blobs` |
//! | POSTing finished jobs to their `callback_url`: claims, retries, signatures, address checks | `webhooks` |
//! | the proving worker: claim, prove (alone or batched), hand in | `worker` |
//! | splitting a block into chunks by estimated steps | `blocks::chunking` |
//! | turning published blocks into chunk and aggregate jobs | `blocks::ingest` |
//! | aggregating a block's chunk proofs into a proven block | `blocks::aggregate` |
//! | handing proven blocks to the settlement line (`ProvenRanges`) | `blocks::farm_blocks` |
//!
//! The REST API, the worker loop and block planning build on [`JobStore`], holding it as
//! `Arc<dyn JobStore>`. The store keeps content hashes of inputs and artifacts, never their
//! bytes: those live in the object store (`blobs`).
//!
//! Feature `api` (default) adds the REST API, the blob store, the job-kind handlers, the wire
//! types and the worker; it is the only part that depends on the prover (to validate
//! submitted programs and verify artifacts). Without it the crate is the store alone, light
//! enough for every process that schedules or watches jobs. `worker` must not import `api`
//! (both speak through `wire`), and nothing outside `kinds` decides by matching on a
//! [`JobKind`].
//!
//! Feature `blocks` (implies `api`) adds `blocks`: ingestion of the sequencer's published
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
#[cfg(feature = "api")]
pub mod kinds;
pub mod store;
#[cfg(feature = "api")]
pub mod webhooks;
#[cfg(feature = "api")]
pub mod wire;
#[cfg(feature = "api")]
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use job::{
    ContentHash, Job, JobId, JobKind, JobSpec, JobState, Lease, Phase, WebhookDelivery,
    WebhookState, WorkerCapabilities,
};
pub use store::{
    key_digest, ApiKey, JobFilter, JobPage, JobStore, KeyStore, NewKey, PostgresStore, Quota,
    Readiness, Role, SqliteStore, StoreConfig, StoreError, Submission, Usage, WebhookOutcome,
};
