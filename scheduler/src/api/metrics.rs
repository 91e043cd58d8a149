//! The scheduler's Prometheus metrics, rendered on `/metrics`. Job gauges are refreshed from
//! the store at every scrape (the store is shared by every scheduler process, so these are
//! farm-wide numbers); counters count what this process did.

use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::job::JobState;
use crate::store::{JobStore, StoreError};

pub struct Metrics {
    /// Further collectors (e.g. the worker endpoints') register here.
    pub registry: Registry,
    /// `starfarm_jobs{state}`: jobs in each state.
    pub jobs: IntGaugeVec,
    /// `starfarm_queue_depth`: queued jobs.
    pub queue_depth: IntGauge,
    /// `starfarm_api_submissions_total{result}`: created, existing or rejected.
    pub submissions: IntCounterVec,
    /// `starfarm_api_cancellations_total`.
    pub cancellations: IntCounterVec,
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
        let cancellations = IntCounterVec::new(
            Opts::new(
                "starfarm_api_cancellations_total",
                "Cancellations requested through this process, by result",
            ),
            &["result"],
        )
        .expect("static metric");
        for collector in [
            Box::new(jobs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(queue_depth.clone()),
            Box::new(submissions.clone()),
            Box::new(cancellations.clone()),
        ] {
            registry.register(collector).expect("distinct metric names");
        }
        for state in JobState::ALL {
            jobs.with_label_values(&[state.as_str()]).set(0);
        }
        Self {
            registry,
            jobs,
            queue_depth,
            submissions,
            cancellations,
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
        Ok(())
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
