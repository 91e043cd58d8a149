//! The scheduler's Prometheus metrics, rendered on `/metrics`. Job gauges are refreshed from
//! the store at every scrape (the store is shared by every scheduler process, so these are
//! farm-wide numbers); counters count what this process did.

use prometheus::{
    CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use serde_json::Value;

use crate::job::{Job, JobState};
use crate::store::{JobStore, StoreError};
use crate::wire::{estimated_cost_usd, PhaseSeconds};

pub struct Metrics {
    /// Further collectors (e.g. the worker endpoints') register here.
    pub registry: Registry,
    /// `starfarm_jobs{state}`: jobs in each state.
    pub jobs: IntGaugeVec,
    /// `starfarm_queue_depth`: queued jobs.
    pub queue_depth: IntGauge,
    /// `starfarm_api_submissions_total{result}`: created, existing or rejected.
    pub submissions: IntCounterVec,
    /// `starfarm_tenant_submissions_total{tenant,result}`: submissions by key name
    /// (`(--api-key)` for the flag's admin keys) and result (also `over_quota`).
    pub tenant_submissions: IntCounterVec,
    /// `starfarm_tenant_live_jobs{tenant}`: queued and active jobs of each stored key.
    pub tenant_live_jobs: IntGaugeVec,
    /// `starfarm_api_cancellations_total`.
    pub cancellations: IntCounterVec,
    /// `starfarm_proofs_total{kind,backend}`: verified proofs accepted.
    pub proofs: IntCounterVec,
    /// `starfarm_proven_steps_total{backend}`: Cairo steps of those proofs.
    pub proven_steps: IntCounterVec,
    /// `starfarm_proof_phase_seconds{phase}`: how long each phase of an accepted proof took
    /// on its worker (execute, adapt, precompute, prove, verify).
    pub phase_seconds: HistogramVec,
    /// `starfarm_artifacts_total{result}`: artifacts handed in: accepted, fenced, invalid.
    pub artifacts: IntCounterVec,
    /// `starfarm_lease_expiries_total`: leases taken back from silent workers.
    pub lease_expiries: IntCounter,
    /// `starfarm_job_retries_total{cause}`: jobs queued again (`worker_error`, `released`).
    pub retries: IntCounterVec,
    /// `starfarm_gpu_kernel_calls_total{backend}` and `starfarm_gpu_fallbacks_total{backend}`:
    /// GPU kernel calls of the accepted proofs, and those redone on the CPU after a device
    /// error.
    pub gpu_calls: IntCounterVec,
    pub gpu_fallbacks: IntCounterVec,
    /// `starfarm_gpu_memory_fallbacks_total{backend}`: accepted proofs meant for a GPU whose
    /// memory estimate exceeded the device's memory, proven on the CPU (`backend` is where
    /// they ran: `cpu`).
    pub gpu_memory_fallbacks: IntCounterVec,
    /// `starfarm_store_unavailable_total{during}`: requests answered 503 and lease sweeps
    /// skipped because the job store's database could not be reached.
    pub store_unavailable: IntCounterVec,
    /// `starfarm_proof_seconds_total{backend,phase}`: scheduler-measured seconds of the
    /// accepted proofs in each phase (proving, verifying).
    pub proof_seconds: CounterVec,
    /// `starfarm_proof_cost_usd_total{backend}`: their estimated cost (seconds × the
    /// worker's price per machine-hour; workers reporting no price add nothing).
    pub proof_cost: CounterVec,
    /// `starfarm_webhook_deliveries_total{result}`: webhook attempts made by this process:
    /// delivered, retried (failed, another attempt follows), failed (the last attempt).
    pub webhook_deliveries: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let jobs = IntGaugeVec::new(
            Opts::new("starfarm_jobs", "Jobs in the store, by state"),
            &["state"],
        )
        .expect("static metric");
        let queue_depth = IntGauge::new("starfarm_queue_depth", "Jobs waiting for a worker")
            .expect("static metric");
        let submissions = IntCounterVec::new(
            Opts::new(
                "starfarm_api_submissions_total",
                "Job submissions received by this process, by result",
            ),
            &["result"],
        )
        .expect("static metric");
        let tenant_submissions = counter_vec(
            "starfarm_tenant_submissions_total",
            "Job submissions received by this process, by tenant (API key name) and result",
            &["tenant", "result"],
        );
        let tenant_live_jobs = IntGaugeVec::new(
            Opts::new(
                "starfarm_tenant_live_jobs",
                "Queued and active jobs in the store, by tenant (API key name)",
            ),
            &["tenant"],
        )
        .expect("static metric");
        let cancellations = IntCounterVec::new(
            Opts::new(
                "starfarm_api_cancellations_total",
                "Cancellations requested through this process, by result",
            ),
            &["result"],
        )
        .expect("static metric");
        let proofs = counter_vec(
            "starfarm_proofs_total",
            "Verified proofs accepted, by job kind and prover backend",
            &["kind", "backend"],
        );
        let proven_steps = counter_vec(
            "starfarm_proven_steps_total",
            "Cairo steps of the accepted proofs, by prover backend",
            &["backend"],
        );
        let phase_seconds = HistogramVec::new(
            HistogramOpts::new(
                "starfarm_proof_phase_seconds",
                "Duration of each phase of accepted proofs, as the worker measured it",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
            ]),
            &["phase"],
        )
        .expect("static metric");
        let artifacts = counter_vec(
            "starfarm_artifacts_total",
            "Proof artifacts handed in by workers, by result (accepted, fenced, invalid)",
            &["result"],
        );
        let lease_expiries = IntCounter::new(
            "starfarm_lease_expiries_total",
            "Leases taken back from workers that stopped heartbeating",
        )
        .expect("static metric");
        let retries = counter_vec(
            "starfarm_job_retries_total",
            "Jobs queued again after a worker gave them back, by cause",
            &["cause"],
        );
        let gpu_calls = counter_vec(
            "starfarm_gpu_kernel_calls_total",
            "GPU kernel calls (Merkle layers, grinding) of the accepted proofs, by backend",
            &["backend"],
        );
        let gpu_fallbacks = counter_vec(
            "starfarm_gpu_fallbacks_total",
            "GPU kernel calls of the accepted proofs that failed on the device and were redone on the CPU, by backend",
            &["backend"],
        );
        let gpu_memory_fallbacks = counter_vec(
            "starfarm_gpu_memory_fallbacks_total",
            "Accepted proofs meant for a GPU that did not fit its memory and were proven on the CPU, by the backend they ran on",
            &["backend"],
        );
        let store_unavailable = counter_vec(
            "starfarm_store_unavailable_total",
            "Requests (503) and lease sweeps that failed because the job store's database could not be reached",
            &["during"],
        );
        let proof_seconds = float_counter_vec(
            "starfarm_proof_seconds_total",
            "Seconds workers spent on the accepted proofs, by backend and phase (proving, verifying), measured by the scheduler",
            &["backend", "phase"],
        );
        let proof_cost = float_counter_vec(
            "starfarm_proof_cost_usd_total",
            "Estimated cost in USD of the accepted proofs (seconds × the worker's price per machine-hour), by backend",
            &["backend"],
        );
        let webhook_deliveries = counter_vec(
            "starfarm_webhook_deliveries_total",
            "Webhook attempts made by this process, by result (delivered; retried: failed, another attempt follows; failed: the last attempt failed)",
            &["result"],
        );
        for collector in [
            Box::new(jobs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(proof_seconds.clone()),
            Box::new(proof_cost.clone()),
            Box::new(queue_depth.clone()),
            Box::new(submissions.clone()),
            Box::new(tenant_submissions.clone()),
            Box::new(tenant_live_jobs.clone()),
            Box::new(cancellations.clone()),
            Box::new(proofs.clone()),
            Box::new(proven_steps.clone()),
            Box::new(phase_seconds.clone()),
            Box::new(artifacts.clone()),
            Box::new(lease_expiries.clone()),
            Box::new(retries.clone()),
            Box::new(gpu_calls.clone()),
            Box::new(gpu_fallbacks.clone()),
            Box::new(gpu_memory_fallbacks.clone()),
            Box::new(store_unavailable.clone()),
            Box::new(webhook_deliveries.clone()),
        ] {
            registry.register(collector).expect("distinct metric names");
        }
        for state in JobState::ALL {
            jobs.with_label_values(&[state.as_str()]).set(0);
        }
        // Present (at 0) before any GPU proof, so that dashboards and alerts see them.
        for backend in ["cpu", "cuda", "wgpu"] {
            gpu_calls.with_label_values(&[backend]);
            gpu_fallbacks.with_label_values(&[backend]);
            gpu_memory_fallbacks.with_label_values(&[backend]);
            proof_cost.with_label_values(&[backend]);
            for phase in ["proving", "verifying"] {
                proof_seconds.with_label_values(&[backend, phase]);
            }
        }
        for during in ["request", "lease_sweep"] {
            store_unavailable.with_label_values(&[during]);
        }
        for result in ["delivered", "retried", "failed"] {
            webhook_deliveries.with_label_values(&[result]);
        }
        // Every result and cause at 0 from the start: a dashboard shows a flat 0, not
        // "No data", on a farm where nothing was submitted, cancelled or given back yet.
        for result in [
            "created",
            "existing",
            "rejected",
            "over_quota",
            "unavailable",
        ] {
            submissions.with_label_values(&[result]);
        }
        for result in ["cancelled", "refused"] {
            cancellations.with_label_values(&[result]);
        }
        for cause in ["worker_error", "released"] {
            retries.with_label_values(&[cause]);
        }
        Self {
            registry,
            jobs,
            queue_depth,
            submissions,
            tenant_submissions,
            tenant_live_jobs,
            cancellations,
            proofs,
            proven_steps,
            phase_seconds,
            artifacts,
            lease_expiries,
            retries,
            gpu_calls,
            gpu_fallbacks,
            gpu_memory_fallbacks,
            store_unavailable,
            proof_seconds,
            proof_cost,
            webhook_deliveries,
        }
    }

    /// Adds an accepted proof's phase seconds and estimated cost to the totals of `backend`.
    pub fn record_cost(&self, backend: &str, job: &Job) {
        let seconds = PhaseSeconds::of(job);
        for (phase, secs) in [
            ("proving", seconds.proving),
            ("verifying", seconds.verifying),
        ] {
            self.proof_seconds
                .with_label_values(&[backend, phase])
                .inc_by(secs);
        }
        if let Some(cost) = estimated_cost_usd(job) {
            self.proof_cost.with_label_values(&[backend]).inc_by(cost);
        }
    }

    /// Counts an accepted proof from the result its job records (`steps`, `timings_ms`).
    pub fn record_proof(&self, kind: &str, backend: &str, result: &Value) {
        self.proofs.with_label_values(&[kind, backend]).inc();
        self.artifacts.with_label_values(&["accepted"]).inc();
        if let Some(steps) = result.get("steps").and_then(Value::as_u64) {
            self.proven_steps
                .with_label_values(&[backend])
                .inc_by(steps);
        }
        if let Some(gpu) = result.get("gpu") {
            let count = |name| gpu.get(name).and_then(Value::as_u64).unwrap_or(0);
            self.gpu_calls
                .with_label_values(&[backend])
                .inc_by(count("calls"));
            self.gpu_fallbacks
                .with_label_values(&[backend])
                .inc_by(count("fallbacks"));
            self.gpu_memory_fallbacks
                .with_label_values(&[backend])
                .inc_by(count("memory_fallbacks"));
        }
        let Some(timings) = result.get("timings_ms").and_then(Value::as_object) else {
            return;
        };
        for (name, ms) in timings {
            if let (Some(phase), Some(ms)) = (name.strip_suffix("_ms"), ms.as_u64()) {
                if phase == "precompute" && ms == 0 {
                    continue; // the prover was warm: nothing was precomputed
                }
                self.phase_seconds
                    .with_label_values(&[phase])
                    .observe(ms as f64 / 1000.0);
            }
        }
    }

    /// Reads the job counts from the store into the gauges.
    pub async fn refresh(&self, store: &dyn JobStore) -> Result<(), StoreError> {
        let counts = store.counts().await?;
        for (state, n) in &counts {
            self.jobs
                .with_label_values(&[state.as_str()])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        let queued = counts.get(&JobState::Queued).copied().unwrap_or(0);
        self.queue_depth
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
        // Reset first: a tenant whose jobs all finished drops out instead of staying stale.
        self.tenant_live_jobs.reset();
        for (tenant, n) in store.live_jobs_by_tenant().await? {
            self.tenant_live_jobs
                .with_label_values(&[tenant.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        Ok(())
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

fn float_counter_vec(name: &str, help: &str, labels: &[&str]) -> CounterVec {
    CounterVec::new(Opts::new(name, help), labels).expect("static metric")
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("static metric")
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
