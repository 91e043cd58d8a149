//! Proving claimed jobs: fetch, prove on the warm prover (one job, or a batch in one proof),
//! hand the verified artifact in, or report why not; leases kept alive throughout.

use starfarm_prover::batch::{batch_program, execute_batch, BatchTask};
use starfarm_prover::resident::ResidentFactory;
use starfarm_prover::{
    CairoProgram, Device, ExecutionLimits, Felt, Phase as ProverPhase, ProgramInput, ProofArtifact,
    ProveError, Prover, SecurityProfile,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::lease::LeaseKeeper;
use super::{Backoff, ClientError, JobTimings, Outcome, Stop, Worker};
use crate::job::{ContentHash, Phase};
use crate::kinds::{check_claims, JobTerms, Proves};
use crate::wire::{ClaimResponse, LeaseView};

/// First and longest wait between two hand-ins of a proof the scheduler did not take.
const HAND_IN_RETRY_FIRST: Duration = Duration::from_millis(250);
const HAND_IN_RETRY_MAX: Duration = Duration::from_secs(10);

/// First and longest wait between two fetches of a blob the scheduler could not serve.
const FETCH_RETRY_FIRST: Duration = Duration::from_millis(250);
const FETCH_RETRY_MAX: Duration = Duration::from_secs(5);

/// Calls made while the worker is stopping (hand-backs) or only to inform (phases) wait at
/// most this long: an unreachable scheduler must not hold the worker up.
const BRIEF_CALL: Duration = Duration::from_secs(5);

/// Why a job could not be proven: what the scheduler is told.
pub(super) struct JobError {
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

/// A claimed job whose lease is kept, with its program and input once fetched.
struct Held {
    claim: ClaimResponse,
    keeper: LeaseKeeper,
    claimed_at: Instant,
    prepare: std::time::Duration,
}

struct Prepared {
    program: CairoProgram,
    input: ProgramInput,
    profile: SecurityProfile,
}

/// A proof made (and verified) here.
#[derive(Clone)]
struct Proof {
    bytes: Arc<[u8]>,
    /// What it proves, from its (verified) header.
    program_hash: Felt,
    output: Arc<[Felt]>,
    /// How long proving took.
    elapsed: std::time::Duration,
}

/// What proving gave: a proof, or nothing because the worker was told to stop.
type Proven = Option<Proof>;

impl Worker {
    /// Proves `claims` (one job, or a batch) and reports each one; one outcome per claim.
    pub(super) async fn work_on(
        &mut self,
        claims: Vec<ClaimResponse>,
        stop: &mut watch::Receiver<Stop>,
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(claims.len());
        let mut ready = Vec::new();
        for claim in claims {
            let held = self.hold(claim);
            let started = Instant::now();
            match self.prepare(&held, stop).await {
                Ok(prepared) => ready.push((
                    Held {
                        prepare: started.elapsed(),
                        ..held
                    },
                    prepared,
                )),
                Err(e) => outcomes.push(self.give_up(held, e).await),
            }
        }
        if ready.len() == 1 {
            let (held, prepared) = ready.remove(0);
            outcomes.push(self.prove_alone(held, prepared, stop).await);
        } else if !ready.is_empty() {
            outcomes.extend(self.prove_batch(ready, stop).await);
        }
        outcomes
    }

    fn hold(&self, claim: ClaimResponse) -> Held {
        tracing::info!(job = claim.lease.job_id, kind = ?claim.job.kind, profile = %claim.job.profile, attempt = claim.job.attempts, "claimed");
        let keeper = LeaseKeeper::spawn(
            self.client.clone(),
            claim.lease.clone(),
            self.config.lease / 3,
        );
        Held {
            claim,
            keeper,
            claimed_at: Instant::now(),
            prepare: std::time::Duration::ZERO,
        }
    }

    async fn prove_alone(
        &mut self,
        held: Held,
        job: Prepared,
        stop: &mut watch::Receiver<Stop>,
    ) -> Outcome {
        self.report_phase(&held.keeper, Phase::Proving).await;
        let proven = self
            .run_prover(
                job.profile,
                &[&held.keeper],
                stop,
                move |prover, on_phase| prover.prove(&job.program, &job.input, on_phase),
            )
            .await;
        self.finish(held, proven, Proves::Alone, 1, stop).await
    }

    /// Proves the jobs in one run of the batch program; if that run fails (a task failed),
    /// proves them one by one so that only the failing job fails.
    async fn prove_batch(
        &mut self,
        jobs: Vec<(Held, Prepared)>,
        stop: &mut watch::Receiver<Stop>,
    ) -> Vec<Outcome> {
        for (held, _) in &jobs {
            self.report_phase(&held.keeper, Phase::Proving).await;
        }
        let (held, prepared): (Vec<Held>, Vec<Prepared>) = jobs.into_iter().unzip();
        let profile = prepared[0].profile;
        let keepers: Vec<&LeaseKeeper> = held.iter().map(|h| &h.keeper).collect();
        let mut tasks = Arc::new(prepared);
        let run = Arc::clone(&tasks);
        let proven = self
            .run_prover(profile, &keepers, stop, move |prover, on_phase| {
                prove_tasks(prover, &run, on_phase)
            })
            .await;
        match &proven {
            // The run is over, so the prover thread no longer shares the jobs.
            Err(e) if !e.retryable => match Arc::try_unwrap(tasks) {
                Ok(prepared) => {
                    tracing::warn!(reason = %e.reason, "the batch failed; proving its jobs one by one");
                    let mut outcomes = Vec::new();
                    for (held, job) in held.into_iter().zip(prepared) {
                        outcomes.push(self.prove_alone(held, job, stop).await);
                    }
                    return outcomes;
                }
                Err(shared) => tasks = shared,
            },
            _ => {}
        }
        let size = held.len();
        let mut outcomes = Vec::with_capacity(size);
        for (index, held) in held.into_iter().enumerate() {
            let proven = match &proven {
                Ok(p) => Ok(p.clone()),
                Err(e) => Err(JobError {
                    reason: e.reason.clone(),
                    retryable: e.retryable,
                }),
            };
            let task = Proves::Task {
                index: index as u32,
                program: &tasks[index].program,
            };
            outcomes.push(self.finish(held, proven, task, size, stop).await);
        }
        outcomes
    }

    /// Runs `work` on the warm prover in a blocking thread, telling the scheduler when the
    /// jobs move on to verification and handing them back if the worker must stop first.
    async fn run_prover<F>(
        &mut self,
        profile: SecurityProfile,
        keepers: &[&LeaseKeeper],
        stop: &mut watch::Receiver<Stop>,
        work: F,
    ) -> Result<Proven, JobError>
    where
        F: FnOnce(&mut Prover, &mut dyn FnMut(ProverPhase)) -> Result<ProofArtifact, ProveError>
            + Send
            + 'static,
    {
        let backend = self.config.backend;
        let resident = self.config.resident.clone();
        let warm = self.prover.take();
        let (phases_tx, mut phases) = mpsc::unbounded_channel();
        let started = Instant::now();
        let mut proving = tokio::task::spawn_blocking(move || {
            // Built here, off the async threads: a resident flow compiles its kernels.
            let mut prover = warm.unwrap_or_else(|| new_prover(profile, backend, resident));
            prover.set_profile(profile);
            let result = work(&mut prover, &mut |phase| {
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
                    let elapsed = started.elapsed();
                    let artifact = result?;
                    let bytes = artifact
                        .to_bytes()
                        .map_err(|e| JobError::transient(e.to_string()))?;
                    return Ok(Some(Proof {
                        bytes: bytes.into(),
                        program_hash: artifact.header.program_hash,
                        output: artifact.header.output.into(),
                        elapsed,
                    }));
                }
                Some(phase) = phases.recv() => {
                    tracing::debug!(%phase, "phase");
                    if phase == ProverPhase::Verify {
                        for keeper in keepers {
                            self.report_phase(keeper, Phase::Verifying).await;
                        }
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
                    tracing::warn!("stopping before the proof finished; handing the jobs back");
                    return Ok(None);
                }
            }
        }
    }

    /// When the current work must be handed back: now for `Stop::Now`, at the end of the
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

    /// Reports what became of one job: hands in its artifact (alone or as a batch task, as
    /// `proves` says), hands it back, or reports its failure.
    async fn finish(
        &mut self,
        held: Held,
        proven: Result<Proven, JobError>,
        proves: Proves<'_>,
        batch: usize,
        stop: &mut watch::Receiver<Stop>,
    ) -> Outcome {
        let job_id = held.claim.lease.job_id;
        let proven = proven.and_then(|p| match p {
            Some(proof) => accepts(&held.claim, &proof, proves).map(|()| Some(proof)),
            None => Ok(None),
        });
        let outcome = match proven {
            Ok(Some(proof)) => {
                let timings = JobTimings {
                    prepare: held.prepare,
                    prove: proof.elapsed,
                    ..JobTimings::default()
                };
                let task_index = match proves {
                    Proves::Alone => None,
                    Proves::Task { index, .. } => Some(index),
                };
                let hand_in = HandIn {
                    bytes: proof.bytes,
                    task_index,
                    timings,
                    batch,
                };
                self.hand_in(&held, hand_in, stop).await
            }
            Ok(None) => self.release(&held).await,
            Err(e) if held.keeper.lost() => {
                tracing::warn!(job = job_id, reason = %e.reason, "lease lost while failing");
                Outcome::Fenced { job_id }
            }
            Err(e) => return self.give_up(held, e).await,
        };
        held.keeper.stop();
        tracing::info!(job = job_id, ?outcome, "job handled");
        outcome
    }

    async fn release(&self, held: &Held) -> Outcome {
        let job_id = held.claim.lease.job_id;
        let lease = held.keeper.current();
        let released = tokio::time::timeout(
            BRIEF_CALL,
            self.client.release(&lease, "worker shutting down"),
        )
        .await;
        // Nothing lost either way: the lease expires and the job is taken back.
        match released {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(job = job_id, error = %e, "could not hand the job back; its lease will expire")
            }
            Err(_) => {
                tracing::warn!(
                    job = job_id,
                    "the scheduler did not answer the hand-back; its lease will expire"
                )
            }
        }
        Outcome::Released { job_id }
    }

    async fn prepare(
        &self,
        held: &Held,
        stop: &watch::Receiver<Stop>,
    ) -> Result<Prepared, JobError> {
        let claim = &held.claim;
        let profile: SecurityProfile = claim
            .job
            .profile
            .parse()
            .map_err(|e: String| JobError::permanent(e))?;
        let program_hash = hash_of(&claim.program_hash)?;
        let input_hash = hash_of(&claim.input_hash)?;
        let (program_bytes, input_bytes) = tokio::try_join!(
            self.fetch(&program_hash, &held.keeper, stop),
            self.fetch(&input_hash, &held.keeper, stop)
        )?;
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

    /// A blob of the job. While the scheduler cannot serve it (no answer, or a 5xx: its blob
    /// store may be away) it is fetched again with backoff, as long as the lease holds and
    /// the worker is not told to stop now: giving the job back would spend one of its
    /// attempts on an outage.
    async fn fetch(
        &self,
        hash: &ContentHash,
        keeper: &LeaseKeeper,
        stop: &watch::Receiver<Stop>,
    ) -> Result<Vec<u8>, JobError> {
        let started = Instant::now();
        let mut backoff = Backoff::new(FETCH_RETRY_FIRST, FETCH_RETRY_MAX);
        loop {
            let e = match self.client.blob(hash).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) => e,
            };
            if matches!(e, ClientError::Api { status: 404, .. }) {
                return Err(JobError::permanent(e.to_string()));
            }
            if !e.is_transient() || keeper.lost() || *stop.borrow() == Stop::Now {
                return Err(JobError::transient(e.to_string()));
            }
            let (job, down_for_s) = (keeper.current().job_id, started.elapsed().as_secs());
            tracing::warn!(job, blob = %hash, error = %e, down_for_s, "cannot fetch the job's blob; retrying");
            tokio::time::sleep(backoff.next()).await;
        }
    }

    /// Tells the scheduler the job's phase. Only informative: a lost lease is noticed by the
    /// heartbeats, anything else is logged.
    async fn report_phase(&self, keeper: &LeaseKeeper, phase: Phase) {
        let job = keeper.current().job_id;
        match tokio::time::timeout(BRIEF_CALL, self.client.phase(&keeper.current(), phase)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(job, error = %e, "cannot report the phase"),
            Err(_) => tracing::warn!(job, "cannot report the phase: no answer"),
        }
    }

    /// Hands in a verified artifact, retrying with backoff while the scheduler is
    /// unreachable and the lease is not known lost; gives up ([`Outcome::Abandoned`]) when
    /// the worker must stop first.
    async fn hand_in(
        &mut self,
        held: &Held,
        mut proof: HandIn,
        stop: &mut watch::Receiver<Stop>,
    ) -> Outcome {
        let keeper = &held.keeper;
        let job_id = keeper.current().job_id;
        if keeper.lost() {
            return Outcome::Fenced { job_id };
        }
        let artifact_hash = ContentHash::of(&proof.bytes);
        let started = Instant::now();
        let mut backoff = Backoff::new(HAND_IN_RETRY_FIRST, HAND_IN_RETRY_MAX);
        loop {
            let client = self.client.clone();
            let (lease, bytes) = (keeper.current(), proof.bytes.to_vec());
            let (backend, task_index) = (self.config.backend.as_str(), proof.task_index);
            let attempt = async move { client.complete(&lease, backend, task_index, bytes).await };
            let Some(answer) = self.unless_stopped(attempt, stop).await else {
                return abandon(job_id, started);
            };
            match answer {
                Ok(_) => {
                    proof.timings.hand_in = started.elapsed();
                    proof.timings.total = held.claimed_at.elapsed();
                    return Outcome::Done {
                        job_id,
                        artifact: artifact_hash,
                        timings: proof.timings,
                        batch: proof.batch,
                    };
                }
                Err(ClientError::Fenced { .. }) => return Outcome::Fenced { job_id },
                Err(e) if e.is_transient() && !keeper.lost() => {
                    let down_for_s = started.elapsed().as_secs();
                    tracing::warn!(job = job_id, error = %e, down_for_s, "cannot hand in the proof; retrying");
                    let wait = tokio::time::sleep(backoff.next());
                    if self.unless_stopped(wait, stop).await.is_none() {
                        return abandon(job_id, started);
                    }
                }
                // Refused although it verified here: another worker may agree with the
                // scheduler (e.g. a different build).
                Err(e) => {
                    return self
                        .report_failure(keeper, JobError::transient(e.to_string()))
                        .await
                }
            }
        }
    }

    /// Runs `work` to its end, unless the worker must stop first (`Stop::Now`, or the end
    /// of the drain timeout): then `None`.
    async fn unless_stopped<T>(
        &mut self,
        work: impl Future<Output = T>,
        stop: &mut watch::Receiver<Stop>,
    ) -> Option<T> {
        tokio::pin!(work);
        let mut stop_open = true;
        loop {
            let deadline = self.drain_deadline(*stop.borrow());
            tokio::select! {
                done = &mut work => return Some(done),
                changed = stop.changed(), if stop_open => stop_open = changed.is_ok(),
                _ = sleep_until(deadline) => return None,
            }
        }
    }

    async fn give_up(&self, held: Held, error: JobError) -> Outcome {
        let outcome = self.report_failure(&held.keeper, error).await;
        held.keeper.stop();
        outcome
    }

    /// Reports the job failed (re-queued by the scheduler when retryable).
    async fn report_failure(&self, keeper: &LeaseKeeper, error: JobError) -> Outcome {
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

/// A verified proof on its way to the scheduler, and what the job's outcome will say.
struct HandIn {
    bytes: Arc<[u8]>,
    /// The job is this task of a batch proof.
    task_index: Option<u32>,
    timings: JobTimings,
    batch: usize,
}

/// The worker is stopping and the scheduler has not taken the proof: it is dropped, and the
/// job proven again once its lease expires. Logged for operators to alert on.
fn abandon(job_id: i64, started: Instant) -> Outcome {
    let tried_for_s = started.elapsed().as_secs();
    tracing::warn!(job = job_id, tried_for_s, "proof abandoned: the worker is stopping and the scheduler did not take it; the job will be proven again after its lease expires");
    Outcome::Abandoned { job_id }
}

/// Runs the batch program over `jobs` and proves it. A failed run is a permanent error: the
/// caller then proves the jobs one by one to find the culprit.
fn prove_tasks(
    prover: &mut Prover,
    jobs: &[Prepared],
    on_phase: &mut dyn FnMut(ProverPhase),
) -> Result<ProofArtifact, ProveError> {
    let tasks: Vec<BatchTask> = jobs
        .iter()
        .map(|job| BatchTask {
            program: &job.program,
            input: &job.input,
        })
        .collect();
    on_phase(ProverPhase::Execute);
    let execution = execute_batch(&tasks, ExecutionLimits::default())?;
    let program = batch_program().map_err(|e| ProveError::Stwo(e.to_string()))?;
    prover.prove_execution(&program, &execution, on_phase)
}

/// Checks the proof against what the scheduler will accept for the job (the same
/// [`check_claims`] its `verify_for_job` runs; the proof itself was verified by the prover),
/// so that a proof it would refuse is not uploaded. A refusal is reported like the
/// scheduler's would be: retryable.
fn accepts(claim: &ClaimResponse, proof: &Proof, proves: Proves<'_>) -> Result<(), JobError> {
    check_claims(
        JobTerms::from(&claim.job),
        proof.program_hash,
        &proof.output,
        proves,
    )
    .map(|_| ())
    .map_err(|e| JobError::transient(format!("the proof is not what the job asks for: {e}")))
}

fn hash_of(s: &str) -> Result<ContentHash, JobError> {
    ContentHash::parse(s).map_err(|e| JobError::permanent(e.to_string()))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A worker's prover on `backend`, with the resident flow `resident` builds if there is one
/// (else, or if it cannot be built, the streamed GPU path).
fn new_prover(
    profile: SecurityProfile,
    backend: Device,
    resident: Option<ResidentFactory>,
) -> Prover {
    let prover = Prover::new(profile).with_backend(backend);
    match resident.map(|factory| factory.build()) {
        Some(Ok(flow)) => {
            tracing::info!(device = flow.device(), "proving on the resident flow");
            prover.with_resident(flow)
        }
        Some(Err(e)) => {
            tracing::warn!("{e}: proving on the streamed GPU path");
            prover
        }
        None => prover,
    }
}
