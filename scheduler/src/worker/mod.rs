//! A proving worker (`starfarm worker`): claims jobs from a scheduler over HTTP, proves them
//! with one warm [`Prover`], verifies every proof before handing it in, and keeps its lease
//! alive with heartbeats while it works.
//!
//! - [`client`]: the HTTP calls.
//! - [`capabilities`]: what this machine offers (memory, backends).
//! - `lease`: the heartbeat task that keeps a lease and notices when it is lost.
//! - `prove`: proving claimed jobs, alone or batched, checking each proof against what the
//!   scheduler accepts for its kind ([`crate::kinds::check_claims`]), and reporting each
//!   one's outcome.
//!
//! Batching: when the job it claims is a small submitted program, the worker claims more
//! small ones (up to `batch_size`) and proves them all in one run of the batch program
//! (`starfarm_prover::batch`); each job is then completed with the shared artifact and its
//! task index. A batch whose run fails is proven job by job instead.
//!
//! Shutdown ([`Stop`]): `Drain` stops claiming and lets the current job finish within the
//! drain timeout, then hands it back; `Now` hands it back at once. A handed-back job is
//! queued again without losing an attempt. A job whose lease was lost (fenced) is finished
//! but its result dropped: the scheduler would refuse it.
//!
//! An unreachable scheduler: claims are retried with backoff; a finished proof is kept and
//! its hand-in retried with backoff for as long as the lease may still be current. Stopping
//! wins over waiting: on `Drain` the hand-in is given up at the end of the drain timeout, on
//! `Now` at once ([`Outcome::Abandoned`]); the lease then expires and the job is proven again
//! elsewhere. Every call to the scheduler is bounded ([`client::CALL_TIMEOUT`]).

pub mod capabilities;
pub mod client;
mod lease;
mod prove;

use std::time::Duration;

use starfarm_prover::resident::ResidentFactory;
use starfarm_prover::{Device, Prover};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::job::{ContentHash, WorkerCapabilities};
use crate::kinds;
use crate::wire::{CapabilitiesView, ClaimRequest, ClaimResponse};
pub use client::{ClientError, SchedulerClient};

/// Jobs of at most this many steps are batched: ~1.5 s of proving alone on 2 cores, so the
/// per-proof floor (~5-10 s) dominates them.
pub const BATCH_MAX_TASK_STEPS: u64 = 1 << 14;

/// First and longest wait before claiming again from an unreachable scheduler.
const CLAIM_RETRY_FIRST: Duration = Duration::from_millis(500);
const CLAIM_RETRY_MAX: Duration = Duration::from_secs(5);

/// Exponential backoff between retries of a call to an unreachable scheduler.
struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The wait before the next try; doubles up to the maximum.
    fn next(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    fn reset(&mut self) {
        self.next = self.first;
    }
}

/// What the worker is asked to do about stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Run,
    /// Claim nothing more; finish the current job within the drain timeout.
    Drain,
    /// Hand the current job back and stop.
    Now,
}

/// Settings of a worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique among the scheduler's workers; shows in the jobs it proves.
    pub worker_id: String,
    pub capabilities: WorkerCapabilities,
    /// The backend proofs are made with here (resolved by `starfarm_prover::device::select`);
    /// named in the scheduler's metrics.
    pub backend: Device,
    /// Lease length asked for; heartbeats go out every third of it.
    pub lease: Duration,
    /// Long-poll length of one claim.
    pub claim_wait: Duration,
    /// How long `Drain` lets the current job run before handing it back.
    pub drain_timeout: Duration,
    /// Stop after this many jobs (proven, failed or dropped); `None` to run until stopped.
    pub max_jobs: Option<u64>,
    /// Most jobs proven in one batch; 1 proves every job alone.
    pub batch_size: usize,
    /// The CUDA path that keeps the whole proof on the device (the binary builds it from the
    /// AIR crate, which the worker does not import); `None`: the streamed GPU path.
    pub resident: Option<ResidentFactory>,
}

impl WorkerConfig {
    pub fn new(worker_id: impl Into<String>, capabilities: WorkerCapabilities) -> Self {
        Self {
            worker_id: worker_id.into(),
            capabilities,
            backend: Device::Cpu,
            lease: Duration::from_secs(60),
            claim_wait: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(600),
            max_jobs: None,
            batch_size: 8,
            resident: None,
        }
    }
}

/// What happened to one claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Proven, verified here and accepted by the scheduler.
    Done {
        job_id: i64,
        artifact: ContentHash,
        timings: JobTimings,
        /// Proven in a batch of this many jobs (1: alone).
        batch: usize,
    },
    /// Given back as failed (`retryable`: the scheduler may try it again).
    Failed {
        job_id: i64,
        reason: String,
        retryable: bool,
    },
    /// The lease was lost (expired or taken over); the result, if any, was dropped.
    Fenced { job_id: i64 },
    /// Handed back because the worker is stopping.
    Released { job_id: i64 },
    /// Proven, but the scheduler could not be reached before the worker had to stop: the
    /// proof is lost, the lease expires and the job is proven again elsewhere.
    Abandoned { job_id: i64 },
}

/// Where a done job's time went on this worker, from claim to acceptance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobTimings {
    /// Fetching the program and input and parsing them.
    pub prepare: Duration,
    /// `Prover::prove`: execution, adaptation, precompute if cold, proving, verification
    /// (of the whole batch for a batched job).
    pub prove: Duration,
    /// Handing the artifact in (the scheduler verifies it again and stores it).
    pub hand_in: Duration,
    /// Everything from the claim's answer to the scheduler's acceptance.
    pub total: Duration,
}

/// Counts of what a worker did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub done: u64,
    pub failed: u64,
    pub fenced: u64,
    pub released: u64,
    pub abandoned: u64,
}

impl Summary {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Done { .. } => self.done += 1,
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Fenced { .. } => self.fenced += 1,
            Outcome::Released { .. } => self.released += 1,
            Outcome::Abandoned { .. } => self.abandoned += 1,
        }
    }

    pub fn jobs(&self) -> u64 {
        self.done + self.failed + self.fenced + self.released + self.abandoned
    }
}

/// One worker: one warm prover, one job or batch at a time.
pub struct Worker {
    client: SchedulerClient,
    config: WorkerConfig,
    prover: Option<Prover>,
    /// When `Drain` arrived: the current job must be done by then + drain timeout.
    drain_since: Option<Instant>,
}

impl Worker {
    pub fn new(client: SchedulerClient, config: WorkerConfig) -> Self {
        Self {
            client,
            config,
            prover: None,
            drain_since: None,
        }
    }

    /// Claims and proves jobs until `stop` leaves [`Stop::Run`] or `max_jobs` are handled.
    /// `on_outcome` hears about every job. An unreachable scheduler is retried with backoff
    /// until it answers or the worker is stopped.
    pub async fn run(
        mut self,
        mut stop: watch::Receiver<Stop>,
        mut on_outcome: impl FnMut(&Outcome),
    ) -> Summary {
        let mut summary = Summary::default();
        let mut unreachable_since: Option<Instant> = None;
        let mut backoff = Backoff::new(CLAIM_RETRY_FIRST, CLAIM_RETRY_MAX);
        while *stop.borrow() == Stop::Run
            && self.config.max_jobs.is_none_or(|max| summary.jobs() < max)
        {
            let request = self.claim_request();
            let claimed = tokio::select! {
                claimed = self.client.claim(&request, self.config.claim_wait) => claimed,
                _ = stop_requested(&mut stop) => break,
            };
            match claimed {
                Ok(Some(claim)) => {
                    unreachable_since = None;
                    backoff.reset();
                    let room = self
                        .config
                        .max_jobs
                        .map_or(u64::MAX, |max| max - summary.jobs());
                    let claims = self.gather_batch(claim, room).await;
                    for outcome in self.work_on(claims, &mut stop).await {
                        summary.count(&outcome);
                        on_outcome(&outcome);
                    }
                }
                Ok(None) => {
                    unreachable_since = None;
                    backoff.reset();
                }
                Err(e) => {
                    let since = *unreachable_since.get_or_insert_with(Instant::now);
                    tracing::warn!(error = %e, down_for_s = since.elapsed().as_secs(), "cannot claim; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff.next()) => {}
                        _ = stop_requested(&mut stop) => break,
                    }
                }
            }
        }
        summary
    }

    fn claim_request(&self) -> ClaimRequest {
        let caps = &self.config.capabilities;
        ClaimRequest {
            worker_id: self.config.worker_id.clone(),
            capabilities: CapabilitiesView::from(caps),
            lease_secs: Some(self.config.lease.as_secs().max(1)),
            wait_secs: Some(self.config.claim_wait.as_secs()),
        }
    }

    /// `first`, and if it is small, more small jobs of its profile that are queued now (at
    /// most `batch_size` and `room` in all).
    async fn gather_batch(&self, first: ClaimResponse, room: u64) -> Vec<ClaimResponse> {
        let limit = (self.config.batch_size as u64).min(room) as usize;
        if limit <= 1 || !batchable(&first) {
            return vec![first];
        }
        let mut request = self.claim_request();
        request.wait_secs = Some(0);
        request.capabilities.kinds = kinds::batched_kinds();
        // Only jobs the size of a batchable one come back (memory grows with steps).
        let small = starfarm_prover::memory_for(BATCH_MAX_TASK_STEPS, true, false).unwrap_or(0);
        request.capabilities.memory_bytes = request.capabilities.memory_bytes.min(small);
        let mut claims = vec![first];
        while claims.len() < limit {
            let Ok(Some(claim)) = self.client.claim(&request, Duration::ZERO).await else {
                break;
            };
            if batchable(&claim) && claim.job.profile == claims[0].job.profile {
                claims.push(claim);
                continue;
            }
            let reason = "handed back: not batchable with the worker's current batch";
            if let Err(e) = self.client.release(&claim.lease, reason).await {
                tracing::warn!(job = claim.lease.job_id, error = %e, "cannot hand back; its lease will expire");
            }
            break;
        }
        claims
    }
}

/// A job of a kind that batches, small enough to share a proof.
fn batchable(claim: &ClaimResponse) -> bool {
    let handler = kinds::handler(claim.job.kind);
    handler.batches()
        && handler
            .batch_steps(&claim.job.payload)
            .is_some_and(|s| s <= BATCH_MAX_TASK_STEPS)
}

/// Resolves when `stop` asks the worker to stop (or its sender is gone).
async fn stop_requested(stop: &mut watch::Receiver<Stop>) {
    let _ = stop.wait_for(|s| *s != Stop::Run).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum_and_starts_over_when_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(3));
        let waits: Vec<_> = (0..5).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 3000, 3000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(500));
    }
}
