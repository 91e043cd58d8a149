//! Keeps a lease alive while its job is worked on: heartbeats in the background, the renewed
//! lease for every later call, and whether the lease was lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::client::{ClientError, SchedulerClient};
use crate::wire::LeaseView;

pub(crate) struct LeaseKeeper {
    lease: Arc<Mutex<LeaseView>>,
    lost: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    /// Heartbeats `lease` every `every` until stopped or the scheduler says it is fenced.
    /// Heartbeats that do not get through (or get no answer within `every`) are retried at
    /// the next tick: the lease may still be saved before it expires.
    pub fn spawn(client: SchedulerClient, lease: LeaseView, every: Duration) -> Self {
        let every = every.max(Duration::from_millis(100));
        let shared = Arc::new(Mutex::new(lease));
        let lost = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (shared, lost) = (Arc::clone(&shared), Arc::clone(&lost));
            async move {
                loop {
                    tokio::time::sleep(every).await;
                    let current = lock(&shared).clone();
                    // A heartbeat that takes longer than the interval is late anyway: the
                    // next one goes out on a fresh connection.
                    let Ok(answer) = tokio::time::timeout(every, client.heartbeat(&current)).await
                    else {
                        tracing::warn!(job = current.job_id, "heartbeat failed: no answer");
                        continue;
                    };
                    match answer {
                        Ok(renewed) => *lock(&shared) = renewed,
                        Err(e @ ClientError::Fenced { .. }) => {
                            tracing::warn!(job = current.job_id, error = %e, "lease lost");
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(job = current.job_id, error = %e, "heartbeat failed")
                        }
                    }
                }
            }
        });
        Self {
            lease: shared,
            lost,
            task,
        }
    }

    /// The lease as last renewed.
    pub fn current(&self) -> LeaseView {
        lock(&self.lease).clone()
    }

    /// The scheduler refused a heartbeat: another worker owns the job now.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// The lease behind the mutex; a panic elsewhere cannot leave a `LeaseView` half-written.
fn lock(m: &Mutex<LeaseView>) -> std::sync::MutexGuard<'_, LeaseView> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
