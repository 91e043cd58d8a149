//! A proving worker (`starfarm worker`): claims jobs from a scheduler over HTTP, proves them
//! with one warm [`Prover`], verifies every proof before handing it in, and keeps its lease
//! alive with heartbeats while it works.
//!
//! - [`client`]: the HTTP calls.
//! - [`capabilities`]: what this machine offers (memory, backends).
//! - [`lease`]: the heartbeat task that keeps a lease and notices when it is lost.
//!
//! Shutdown ([`Stop`]): `Drain` stops claiming and lets the current job finish within the
//! drain timeout, then hands it back; `Now` hands it back at once. A handed-back job is
//! queued again without losing an attempt. A job whose lease was lost (fenced) is finished
//! but its result dropped: the scheduler would refuse it.

pub mod capabilities;
pub mod client;
mod lease;

use std::time::Duration;

use starfarm_prover::{
    CairoProgram, Phase as ProverPhase, ProgramInput, ProofArtifact, ProveError, Prover,
    SecurityProfile,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::api::workers::{CapabilitiesView, ClaimRequest, ClaimResponse, LeaseView};
use crate::job::{ContentHash, Phase, WorkerCapabilities};
pub use client::{ClientError, SchedulerClient};
use lease::LeaseKeeper;

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
    /// The backend named in metrics for the proofs made here.
    pub backend: String,
    /// Lease length asked for; heartbeats go out every third of it.
    pub lease: Duration,
    /// Long-poll length of one claim.
    pub claim_wait: Duration,
    /// How long `Drain` lets the current job run before handing it back.
    pub drain_timeout: Duration,
    /// Stop after this many jobs (proven, failed or dropped); `None` to run until stopped.
    pub max_jobs: Option<u64>,
}

impl WorkerConfig {
    pub fn new(worker_id: impl Into<String>, capabilities: WorkerCapabilities) -> Self {
        Self {
            worker_id: worker_id.into(),
            capabilities,
            backend: "cpu".to_owned(),
            lease: Duration::from_secs(60),
            claim_wait: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(600),
            max_jobs: None,
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
}

/// Where a done job's time went on this worker, from claim to acceptance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobTimings {
    /// Fetching the program and input and parsing them.
    pub prepare: Duration,
    /// `Prover::prove`: execution, adaptation, precompute if cold, proving, verification.
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
}

impl Summary {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Done { .. } => self.done += 1,
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Fenced { .. } => self.fenced += 1,
            Outcome::Released { .. } => self.released += 1,
        }
    }

    pub fn jobs(&self) -> u64 {
        self.done + self.failed + self.fenced + self.released
    }
}

/// Why a job could not be proven: what the scheduler is told.
struct JobError {
    reason: String,
    retryable: bool,
}

impl JobError {
    fn permanent(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retryable: false,
        }
    }

    fn transient(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retryable: true,
        }
    }
}

impl From<ProveError> for JobError {
    fn from(e: ProveError) -> Self {
        // The program or its size is at fault: no other worker would do better.
        let retryable = matches!(e, ProveError::Stwo(_) | ProveError::SelfCheck(_));
        Self {
            reason: e.to_string(),
            retryable,
        }
    }
}

/// A claimed job, fetched and parsed.
struct Prepared {
    program: CairoProgram,
    input: ProgramInput,
    profile: SecurityProfile,
}

/// One worker: one warm prover, one job at a time.
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
    /// `on_outcome` hears about every job. Unreachable schedulers are retried forever.
    pub async fn run(
        mut self,
        mut stop: watch::Receiver<Stop>,
        mut on_outcome: impl FnMut(&Outcome),
    ) -> Summary {
        let mut summary = Summary::default();
        let mut unreachable_since: Option<Instant> = None;
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
                    let outcome = self.work_on(claim, &mut stop).await;
                    summary.count(&outcome);
                    on_outcome(&outcome);
                }
                Ok(None) => unreachable_since = None,
                Err(e) => {
                    let since = *unreachable_since.get_or_insert_with(Instant::now);
                    tracing::warn!(error = %e, down_for_s = since.elapsed().as_secs(), "cannot claim; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
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
            capabilities: CapabilitiesView {
                memory_bytes: caps.memory_bytes,
                backends: caps.backends.clone(),
                kinds: caps.kinds.clone(),
            },
            lease_secs: Some(self.config.lease.as_secs().max(1)),
            wait_secs: Some(self.config.claim_wait.as_secs()),
        }
    }

    /// Proves one claimed job and reports the result, keeping the lease meanwhile.
    async fn work_on(&mut self, claim: ClaimResponse, stop: &mut watch::Receiver<Stop>) -> Outcome {
        let job_id = claim.lease.job_id;
        let claimed_at = Instant::now();
        tracing::info!(job = job_id, kind = ?claim.job.kind, profile = %claim.job.profile, attempt = claim.job.attempts, "claimed");
        let keeper = LeaseKeeper::spawn(
            self.client.clone(),
            claim.lease.clone(),
            self.config.lease / 3,
        );
        let outcome = match self.prove_job(&claim, &keeper, stop).await {
            Ok(Some((artifact, timings))) => {
                self.hand_in(&keeper, artifact, timings, claimed_at).await
            }
            Ok(None) => {
                let lease = keeper.current();
                match self.client.release(&lease, "worker shutting down").await {
                    Ok(_) => Outcome::Released { job_id },
                    // Nothing lost: the lease expires and the job is taken back.
                    Err(e) => {
                        tracing::warn!(job = job_id, error = %e, "could not hand the job back; its lease will expire");
                        Outcome::Released { job_id }
                    }
                }
            }
            Err(e) if keeper.lost() => {
                tracing::warn!(job = job_id, reason = %e.reason, "lease lost while failing");
                Outcome::Fenced { job_id }
            }
            Err(e) => self.give_up(&keeper, e).await,
        };
        keeper.stop();
        tracing::info!(job = job_id, ?outcome, "job handled");
        outcome
    }

    /// Fetches, proves and verifies the job; `None` when the worker was stopped first.
    async fn prove_job(
        &mut self,
        claim: &ClaimResponse,
        keeper: &LeaseKeeper,
        stop: &mut watch::Receiver<Stop>,
    ) -> Result<Option<(ProofArtifact, JobTimings)>, JobError> {
        let started = Instant::now();
        let prepared = self.prepare(claim).await?;
        let mut timings = JobTimings {
            prepare: started.elapsed(),
            ..JobTimings::default()
        };
        self.report_phase(keeper, Phase::Proving).await;
        let mut prover = self
            .prover
            .take()
            .unwrap_or_else(|| Prover::new(prepared.profile));
        prover.set_profile(prepared.profile);
        let (phases_tx, mut phases) = mpsc::unbounded_channel();
        let proving_since = Instant::now();
        let mut proving = tokio::task::spawn_blocking(move || {
            let result = prover.prove(&prepared.program, &prepared.input, &mut |phase| {
                let _ = phases_tx.send(phase);
            });
            (prover, result)
        });
        let mut stop_open = true;
        loop {
            let deadline = self.drain_deadline(*stop.borrow());
            tokio::select! {
                joined = &mut proving => {
                    let (prover, result) = joined
                        .map_err(|e| JobError::transient(format!("the prover panicked: {e}")))?;
                    self.prover = Some(prover);
                    timings.prove = proving_since.elapsed();
                    return Ok(Some((result?, timings)));
                }
                Some(phase) = phases.recv() => {
                    tracing::debug!(job = claim.lease.job_id, %phase, "phase");
                    if phase == ProverPhase::Verify {
                        self.report_phase(keeper, Phase::Verifying).await;
                    }
                }
                changed = stop.changed(), if stop_open => {
                    stop_open = changed.is_ok();
                    if *stop.borrow() == Stop::Drain {
                        self.drain_since.get_or_insert_with(Instant::now);
                    }
                }
                _ = sleep_until(deadline) => {
                    // The proof thread cannot be interrupted; the process is about to exit.
                    tracing::warn!(job = claim.lease.job_id, "stopping before the proof finished; handing the job back");
                    return Ok(None);
                }
            }
        }
    }

    /// When the current job must be handed back: now for `Stop::Now`, at the end of the
    /// drain timeout for `Stop::Drain`, never while running.
    fn drain_deadline(&mut self, stop: Stop) -> Option<Instant> {
        match stop {
            Stop::Run => None,
            Stop::Now => Some(Instant::now()),
            Stop::Drain => {
                let since = *self.drain_since.get_or_insert_with(Instant::now);
                Some(since + self.config.drain_timeout)
            }
        }
    }

    async fn prepare(&self, claim: &ClaimResponse) -> Result<Prepared, JobError> {
        let profile: SecurityProfile = claim
            .job
            .profile
            .parse()
            .map_err(|e: String| JobError::permanent(e))?;
        let program_hash = hash_of(&claim.program_hash)?;
        let input_hash = hash_of(&claim.input_hash)?;
        let program_bytes = self.fetch(&program_hash).await?;
        let input_bytes = self.fetch(&input_hash).await?;
        let job = claim.lease.job_id;
        let program = CairoProgram::from_json(&program_bytes, &format!("job {job} program"))
            .map_err(|e| JobError::permanent(e.to_string()))?;
        let input = ProgramInput::from_json(&input_bytes, &format!("job {job} input"))
            .map_err(|e| JobError::permanent(e.to_string()))?;
        Ok(Prepared {
            program,
            input,
            profile,
        })
    }

    async fn fetch(&self, hash: &ContentHash) -> Result<Vec<u8>, JobError> {
        self.client.blob(hash).await.map_err(|e| match e {
            ClientError::Api { status: 404, .. } => JobError::permanent(e.to_string()),
            e => JobError::transient(e.to_string()),
        })
    }

    /// Tells the scheduler the job's phase. Only informative: a lost lease is noticed by the
    /// heartbeats, anything else is logged.
    async fn report_phase(&self, keeper: &LeaseKeeper, phase: Phase) {
        if let Err(e) = self.client.phase(&keeper.current(), phase).await {
            tracing::warn!(job = keeper.current().job_id, error = %e, "cannot report the phase");
        }
    }

    /// Hands in a verified artifact, retrying while the scheduler is unreachable and the
    /// lease is held.
    async fn hand_in(
        &self,
        keeper: &LeaseKeeper,
        artifact: ProofArtifact,
        mut timings: JobTimings,
        claimed_at: Instant,
    ) -> Outcome {
        let job_id = keeper.current().job_id;
        let started = Instant::now();
        if keeper.lost() {
            return Outcome::Fenced { job_id };
        }
        let bytes = match artifact.to_bytes() {
            Ok(bytes) => bytes,
            Err(e) => {
                return self
                    .give_up(keeper, JobError::transient(e.to_string()))
                    .await
            }
        };
        let artifact_hash = ContentHash::of(&bytes);
        let mut delay = Duration::from_millis(250);
        loop {
            let lease = keeper.current();
            match self
                .client
                .complete(&lease, &self.config.backend, bytes.clone())
                .await
            {
                Ok(_) => {
                    timings.hand_in = started.elapsed();
                    timings.total = claimed_at.elapsed();
                    return Outcome::Done {
                        job_id,
                        artifact: artifact_hash,
                        timings,
                    };
                }
                Err(ClientError::Fenced { .. }) => return Outcome::Fenced { job_id },
                Err(e) if e.is_transient() && !keeper.lost() => {
                    tracing::warn!(job = job_id, error = %e, "cannot hand in the proof; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                // Refused although it verified here: another worker may agree with the
                // scheduler (e.g. a different build).
                Err(e) => {
                    return self
                        .give_up(keeper, JobError::transient(e.to_string()))
                        .await
                }
            }
        }
    }

    /// Reports the job failed (re-queued by the scheduler when retryable).
    async fn give_up(&self, keeper: &LeaseKeeper, error: JobError) -> Outcome {
        let lease: LeaseView = keeper.current();
        let job_id = lease.job_id;
        tracing::warn!(job = job_id, reason = %error.reason, retryable = error.retryable, "job failed");
        match self
            .client
            .fail(&lease, &error.reason, error.retryable)
            .await
        {
            Err(ClientError::Fenced { .. }) => Outcome::Fenced { job_id },
            Err(e) => {
                tracing::warn!(job = job_id, error = %e, "cannot report the failure; its lease will expire");
                Outcome::Failed {
                    job_id,
                    reason: error.reason,
                    retryable: true,
                }
            }
            Ok(_) => Outcome::Failed {
                job_id,
                reason: error.reason,
                retryable: error.retryable,
            },
        }
    }
}

fn hash_of(s: &str) -> Result<ContentHash, JobError> {
    ContentHash::parse(s).map_err(|e| JobError::permanent(e.to_string()))
}

/// Resolves when `stop` asks the worker to stop (or its sender is gone).
async fn stop_requested(stop: &mut watch::Receiver<Stop>) {
    let _ = stop.wait_for(|s| *s != Stop::Run).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
