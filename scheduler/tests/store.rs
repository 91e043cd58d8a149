//! The job store's behaviour, written once and run against both stores: every case below
//! becomes `sqlite::<case>` (a temporary file) and `postgres::<case>` (a fresh schema in the
//! database at `STARFARM_TEST_POSTGRES_URL`; skipped without it unless
//! `STARFARM_REQUIRE_POSTGRES=1`). Time is a manual clock: nothing sleeps.

// The cases are test code, but not `#[test]` functions themselves (the macro's wrappers
// are), so clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used)]

mod support;

use starfarm_scheduler::{
    ContentHash, Job, JobFilter, JobId, JobKind, JobSpec, JobState, JobStore, Lease, Phase,
    Readiness, StoreError, WorkerCapabilities,
};
use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use support::{spec, Harness};

store_tests!(
    idempotent_submission,
    concurrent_submissions_make_one_job,
    invalid_submissions_are_refused,
    claims_by_priority_then_submission_order,
    dependencies_gate_claims,
    failed_or_cancelled_dependency_fails_dependents,
    retries_back_off_then_fail,
    expired_lease_requeues_and_fences_old_worker,
    expired_lease_on_last_attempt_fails,
    released_job_keeps_its_attempts,
    cancellation,
    phases_and_completion,
    concurrent_claimers_take_each_job_once,
    memory_backend_and_kind_routing,
    gpu_jobs_route_by_device_memory,
    restart_keeps_jobs,
    list_pages_and_counts,
);

const LEASE: Duration = Duration::from_secs(30);
const GIB: u64 = 1 << 30;

fn cpu_worker(memory_gib: u64) -> WorkerCapabilities {
    WorkerCapabilities {
        memory_bytes: memory_gib * GIB,
        device_memory_bytes: 0,
        backends: vec!["cpu".into()],
        kinds: vec![],
    }
}

async fn submit(store: &dyn JobStore, spec: JobSpec) -> Job {
    store.submit(spec).await.expect("submit").job
}

async fn claim(store: &dyn JobStore, worker: &str) -> (Job, Lease) {
    try_claim(store, worker).await.expect("a claimable job")
}

async fn try_claim(store: &dyn JobStore, worker: &str) -> Option<(Job, Lease)> {
    store
        .claim(worker, &cpu_worker(64), LEASE)
        .await
        .expect("claim")
}

async fn finish(store: &dyn JobStore, lease: &Lease) -> Job {
    store
        .complete(
            lease,
            &ContentHash::of(b"proof"),
            serde_json::json!({"ok": true}),
        )
        .await
        .expect("complete")
}

fn assert_fenced<T: Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Fenced { .. })),
        "expected Fenced, got {result:?}"
    );
}

async fn state(store: &dyn JobStore, id: JobId) -> JobState {
    store.get(id).await.expect("get").state
}

async fn idempotent_submission(h: &mut Harness) {
    let s = h.store();
    let first = s.submit(spec("a")).await.unwrap();
    assert!(first.created);
    assert_eq!(first.job.state, JobState::Queued);

    let mut again = spec("a");
    again.priority = 7;
    let second = s.submit(again).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.job.id, first.job.id);
    assert_eq!(
        second.job.spec.priority, 0,
        "the first submission's spec stands"
    );

    let mut other_profile = spec("a");
    other_profile.profile = "fast".into();
    assert!(s.submit(other_profile).await.unwrap().created);

    // A done job is the answer to the same request: same job, same proof.
    let (job, lease) = claim(s, "w1").await;
    assert_eq!(job.id, first.job.id);
    let done = finish(s, &lease).await;
    let third = s.submit(spec("a")).await.unwrap();
    assert!(!third.created);
    assert_eq!(third.job.state, JobState::Done);
    assert_eq!(third.job.artifact_hash, done.artifact_hash);

    // A cancelled (or failed) job frees the key: submitting again starts over.
    let b = submit(s, spec("b")).await;
    s.cancel(b.id).await.unwrap();
    let b2 = s.submit(spec("b")).await.unwrap();
    assert!(b2.created);
    assert_ne!(b2.job.id, b.id);
}

async fn concurrent_submissions_make_one_job(h: &mut Harness) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move { store.submit(spec("same")).await.unwrap() })
        })
        .collect();
    let results = futures::future::join_all(tasks).await;
    let submissions: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(submissions.iter().filter(|s| s.created).count(), 1);
    let ids: HashSet<_> = submissions.iter().map(|s| s.job.id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(h.store().counts().await.unwrap()[&JobState::Queued], 1);
}

async fn invalid_submissions_are_refused(h: &mut Harness) {
    let s = h.store();
    let mut no_attempts = spec("a");
    no_attempts.max_attempts = 0;
    let r = s.submit(no_attempts).await;
    assert!(matches!(r, Err(StoreError::InvalidSpec(_))), "{r:?}");

    let mut unknown_dep = spec("b");
    unknown_dep.depends_on = vec![JobId(424242)];
    let r = s.submit(unknown_dep).await;
    assert!(
        matches!(r, Err(StoreError::UnknownDependency(JobId(424242)))),
        "{r:?}"
    );
    let counts = s.counts().await.unwrap();
    assert!(
        counts.values().all(|&n| n == 0),
        "nothing stored: {counts:?}"
    );
}

async fn claims_by_priority_then_submission_order(h: &mut Harness) {
    let s = h.store();
    let mut ids = Vec::new();
    for (name, priority) in [("a", 0), ("b", 10), ("c", 0), ("d", 10), ("e", 5)] {
        let mut sp = spec(name);
        sp.priority = priority;
        ids.push(submit(s, sp).await.id);
    }
    let mut order = Vec::new();
    while let Some((job, lease)) = try_claim(s, "w").await {
        assert_eq!(lease.job_id, job.id);
        order.push(job.id);
    }
    assert_eq!(order, vec![ids[1], ids[3], ids[4], ids[0], ids[2]]);
}

async fn dependencies_gate_claims(h: &mut Harness) {
    let s = h.store();
    let chunk = |name: &str| {
        let mut sp = spec(name);
        sp.kind = JobKind::BlockChunk;
        sp
    };
    let c1 = submit(s, chunk("c1")).await.id;
    let c2 = submit(s, chunk("c2")).await.id;
    let mut agg = spec("block");
    agg.kind = JobKind::BlockAggregate;
    agg.priority = 100; // outranks the chunks, yet must wait for them
    agg.depends_on = vec![c2, c1, c2];
    let agg = submit(s, agg).await;
    assert_eq!(
        agg.spec.depends_on,
        vec![c1, c2],
        "sorted, duplicates dropped"
    );
    assert_eq!(s.dependents(c1).await.unwrap(), vec![agg.id]);
    assert_eq!(
        s.readiness(agg.id).await.unwrap(),
        Readiness::Waiting {
            dependencies: vec![c1, c2]
        }
    );

    let (j1, l1) = claim(s, "w").await;
    let (j2, l2) = claim(s, "w").await;
    assert_eq!([j1.id, j2.id], [c1, c2]);
    assert!(try_claim(s, "w").await.is_none(), "aggregation waits");

    finish(s, &l1).await;
    assert!(try_claim(s, "w").await.is_none(), "one chunk still running");
    assert_eq!(
        s.readiness(agg.id).await.unwrap(),
        Readiness::Waiting {
            dependencies: vec![c2]
        }
    );
    finish(s, &l2).await;
    assert_eq!(s.readiness(agg.id).await.unwrap(), Readiness::Ready);
    let (job, _) = claim(s, "w").await;
    assert_eq!(job.id, agg.id);
    assert_eq!(job.spec.depends_on, vec![c1, c2]);
    assert_eq!(
        s.readiness(agg.id).await.unwrap(),
        Readiness::NotQueued {
            state: JobState::Leased
        }
    );
}

async fn failed_or_cancelled_dependency_fails_dependents(h: &mut Harness) {
    let s = h.store();
    let mut c1 = spec("c1");
    c1.max_attempts = 1;
    let c1 = submit(s, c1).await.id;
    let mut agg = spec("agg");
    agg.depends_on = vec![c1];
    let agg = submit(s, agg).await.id;
    let mut top = spec("top");
    top.depends_on = vec![agg];
    let top = submit(s, top).await.id;
    let unrelated = submit(s, spec("unrelated")).await.id;

    let (_, lease) = claim(s, "w").await;
    let failed = s.fail(&lease, "boom", true).await.unwrap();
    assert_eq!(failed.state, JobState::Failed, "no attempts left");

    let agg_job = s.get(agg).await.unwrap();
    assert_eq!(agg_job.state, JobState::Failed);
    assert_eq!(
        agg_job.last_error.as_deref(),
        Some(format!("dependency {c1} failed").as_str())
    );
    let top_job = s.get(top).await.unwrap();
    assert_eq!(top_job.state, JobState::Failed, "transitively");
    assert_eq!(
        top_job.last_error.as_deref(),
        Some(format!("dependency {agg} failed").as_str())
    );
    assert_eq!(state(s, unrelated).await, JobState::Queued);

    let mut late = spec("late");
    late.depends_on = vec![c1];
    let r = s.submit(late).await;
    assert!(
        matches!(r, Err(StoreError::DependencyFailed { dependency, state: JobState::Failed }) if dependency == c1),
        "{r:?}"
    );

    let c3 = submit(s, spec("c3")).await.id;
    let mut after_c3 = spec("after c3");
    after_c3.depends_on = vec![c3];
    let after_c3 = submit(s, after_c3).await.id;
    s.cancel(c3).await.unwrap();
    let job = s.get(after_c3).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(
        job.last_error.as_deref(),
        Some(format!("dependency {c3} was cancelled").as_str())
    );
}

async fn retries_back_off_then_fail(h: &mut Harness) {
    let s = h.store();
    let clock = &h.clock;
    let id = submit(s, spec("flaky")).await.id; // 3 attempts, 1 s base backoff

    let (_, l1) = claim(s, "w").await;
    let job = s.fail(&l1, "out of memory", true).await.unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error.as_deref(), Some("out of memory"));
    let retry_at = support::T0 + 1_000;
    assert_eq!(job.next_attempt_at_ms, retry_at);
    assert_eq!(
        s.readiness(id).await.unwrap(),
        Readiness::BackingOff { until_ms: retry_at }
    );
    clock.advance(999);
    assert!(try_claim(s, "w").await.is_none(), "still backing off");
    clock.advance(1);

    let (job, l2) = claim(s, "w").await;
    assert_eq!((job.attempts, l2.fencing_token), (2, l1.fencing_token + 1));
    let job = s.fail(&l2, "out of memory", true).await.unwrap();
    assert_eq!(job.next_attempt_at_ms, clock_now(h) + 2_000, "doubled");
    clock.advance(2_000);

    let (_, l3) = claim(s, "w").await;
    let job = s.fail(&l3, &"x".repeat(10_000), true).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.attempts, 3);
    assert!(job.finished_at_ms.is_some());
    assert!(
        job.last_error.unwrap().len() <= 4096 + '…'.len_utf8(),
        "truncated"
    );
    assert!(try_claim(s, "w").await.is_none());

    let other = submit(s, spec("broken input")).await.id;
    let (_, lease) = claim(s, "w").await;
    let job = s.fail(&lease, "invalid program", false).await.unwrap();
    assert_eq!(
        (job.id, job.state, job.attempts),
        (other, JobState::Failed, 1)
    );
}

fn clock_now(h: &Harness) -> i64 {
    use starfarm_scheduler::Clock;
    h.clock.now_ms()
}

async fn expired_lease_requeues_and_fences_old_worker(h: &mut Harness) {
    let s = h.store();
    let clock = &h.clock;
    let id = submit(s, spec("slow")).await.id;
    let (_, lease) = claim(s, "old").await;
    assert_eq!(lease.expires_at_ms, support::T0 + 30_000);

    clock.advance(20_000);
    let lease = s.heartbeat(&lease).await.unwrap();
    assert_eq!(
        lease.expires_at_ms,
        clock_now(h) + 30_000,
        "renewed by the claimed duration"
    );
    clock.advance(29_999);
    assert_eq!(s.expire_leases().await.unwrap(), 0);
    clock.advance(1);
    // Expired, even though the sweep has not run yet.
    assert_fenced(s.heartbeat(&lease).await);

    assert_eq!(s.expire_leases().await.unwrap(), 1);
    let job = s.get(id).await.unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 1, "the expired claim counted as an attempt");
    assert_eq!(job.fencing_token, lease.fencing_token + 1);
    assert!(job.last_error.unwrap().contains("expired"));
    assert_fenced(s.heartbeat(&lease).await);
    assert_fenced(s.set_phase(&lease, Phase::Proving).await);
    assert_fenced(s.fail(&lease, "late", true).await);
    assert_fenced(
        s.complete(&lease, &ContentHash::of(b"late"), serde_json::Value::Null)
            .await,
    );

    clock.advance(1_000); // backoff after the expired attempt
    let (job, new_lease) = claim(s, "new").await;
    assert_eq!(job.id, id);
    assert_eq!(new_lease.fencing_token, lease.fencing_token + 2);
    assert_fenced(
        s.complete(&lease, &ContentHash::of(b"late"), serde_json::Value::Null)
            .await,
    );
    let done = finish(s, &new_lease).await;
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.worker_id.as_deref(), Some("new"));
    assert_eq!(done.artifact_hash, Some(ContentHash::of(b"proof")));
}

async fn expired_lease_on_last_attempt_fails(h: &mut Harness) {
    let s = h.store();
    let mut once = spec("once");
    once.max_attempts = 1;
    let id = submit(s, once).await.id;
    let mut dependent = spec("dependent");
    dependent.depends_on = vec![id];
    let dependent = submit(s, dependent).await.id;
    claim(s, "w").await;
    h.clock.advance(30_000);
    assert_eq!(s.expire_leases().await.unwrap(), 1);
    assert_eq!(state(s, id).await, JobState::Failed);
    assert_eq!(state(s, dependent).await, JobState::Failed);
    assert_eq!(s.expire_leases().await.unwrap(), 0);
}

async fn released_job_keeps_its_attempts(h: &mut Harness) {
    let s = h.store();
    let mut once = spec("handed back");
    once.max_attempts = 1;
    let id = submit(s, once).await.id;
    let (_, lease) = claim(s, "leaving").await;
    s.set_phase(&lease, Phase::Proving).await.unwrap();
    let job = s.release(&lease, "worker shutting down").await.unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 0, "a hand-back is not a failed attempt");
    assert_eq!(job.next_attempt_at_ms, clock_now(h), "no backoff");
    assert_eq!(job.last_error.as_deref(), Some("worker shutting down"));
    assert_fenced(s.heartbeat(&lease).await);
    assert_fenced(s.release(&lease, "twice").await);

    let (job, next) = claim(s, "next").await;
    assert_eq!(
        (job.id, job.attempts),
        (id, 1),
        "its only attempt is still there"
    );
    assert!(next.fencing_token > lease.fencing_token);
    assert_fenced(
        s.complete(&lease, &ContentHash::of(b"late"), serde_json::Value::Null)
            .await,
    );
    assert_eq!(finish(s, &next).await.state, JobState::Done);
}

async fn cancellation(h: &mut Harness) {
    let s = h.store();
    let queued = submit(s, spec("queued")).await.id;
    let job = s.cancel(queued).await.unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert!(job.finished_at_ms.is_some());
    assert!(
        try_claim(s, "w").await.is_none(),
        "a cancelled job is never claimed"
    );
    assert_eq!(
        s.cancel(queued).await.unwrap().state,
        JobState::Cancelled,
        "idempotent"
    );

    let running = submit(s, spec("running")).await.id;
    let (_, lease) = claim(s, "w").await;
    s.set_phase(&lease, Phase::Proving).await.unwrap();
    assert_eq!(s.cancel(running).await.unwrap().state, JobState::Cancelled);
    assert_fenced(s.heartbeat(&lease).await);
    assert_fenced(
        s.complete(&lease, &ContentHash::of(b"p"), serde_json::Value::Null)
            .await,
    );
    assert_eq!(state(s, running).await, JobState::Cancelled);

    let done = submit(s, spec("done")).await.id;
    let (_, lease) = claim(s, "w").await;
    finish(s, &lease).await;
    let r = s.cancel(done).await;
    assert!(
        matches!(
            r,
            Err(StoreError::InvalidTransition {
                from: JobState::Done,
                to: JobState::Cancelled,
                ..
            })
        ),
        "{r:?}"
    );
    let r = s.cancel(JobId(999_999)).await;
    assert!(
        matches!(r, Err(StoreError::NotFound(JobId(999_999)))),
        "{r:?}"
    );
}

async fn phases_and_completion(h: &mut Harness) {
    let s = h.store();
    let mut sp = spec("p");
    sp.payload = serde_json::json!({"steps": 1000, "note": "kept as given"});
    let id = submit(s, sp.clone()).await.id;
    let (job, lease) = claim(s, "w1").await;
    assert_eq!(job.spec.payload, sp.payload);
    assert_eq!((job.state, job.attempts), (JobState::Leased, 1));

    let r = s.set_phase(&lease, Phase::Verifying).await;
    assert!(
        matches!(
            r,
            Err(StoreError::InvalidTransition {
                from: JobState::Leased,
                to: JobState::Verifying,
                ..
            })
        ),
        "{r:?}"
    );
    let impostor = Lease {
        worker_id: "w2".into(),
        ..lease.clone()
    };
    assert_fenced(s.set_phase(&impostor, Phase::Proving).await);

    h.clock.advance(7_000); // leased: not counted
    assert_eq!(
        s.set_phase(&lease, Phase::Proving).await.unwrap().state,
        JobState::Proving
    );
    h.clock.advance(1_000);
    s.set_phase(&lease, Phase::Proving)
        .await
        .expect("repeating a phase is accepted");
    h.clock.advance(2_000);
    let verifying = s.set_phase(&lease, Phase::Verifying).await.unwrap();
    assert_eq!(verifying.state, JobState::Verifying);
    assert_eq!((verifying.proving_ms, verifying.verifying_ms), (3_000, 0));
    h.clock.advance(500);
    let artifact = ContentHash::of(b"artifact bytes");
    let result = serde_json::json!({"output": ["0x1", "0x2"], "security_bits": 96});
    let done = s.complete(&lease, &artifact, result.clone()).await.unwrap();
    assert_eq!(
        (done.proving_ms, done.verifying_ms),
        (3_000, 500),
        "seconds by phase, on the store's clock"
    );
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.artifact_hash.as_ref(), Some(&artifact));
    assert_eq!(done.result.as_ref(), Some(&result));
    assert_eq!(done.lease_expires_at_ms, None);
    assert_eq!(s.get(id).await.unwrap(), done);
    assert_fenced(s.complete(&lease, &artifact, result).await);
}

async fn concurrent_claimers_take_each_job_once(h: &mut Harness) {
    for i in 0..100 {
        submit(h.store(), spec(&format!("job {i}"))).await;
    }
    let claimers: Vec<_> = (0..8)
        .map(|w| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some((job, _)) = try_claim(store.as_ref(), &format!("w{w}")).await {
                    mine.push(job.id);
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(
        (all.len(), unique.len()),
        (100, 100),
        "each job exactly once"
    );
    let counts = h.store().counts().await.unwrap();
    assert_eq!(counts[&JobState::Leased], 100);

    // All leases lapse at once: the sweep takes them all back, across its batches.
    h.clock.advance(LEASE.as_millis() as i64);
    assert_eq!(h.store().expire_leases().await.unwrap(), 100);
    assert_eq!(h.store().counts().await.unwrap()[&JobState::Queued], 100);
}

async fn memory_backend_and_kind_routing(h: &mut Harness) {
    let s = h.store();
    let mut big = spec("big");
    big.priority = 10;
    big.required_memory_bytes = 32 * GIB;
    let big = submit(s, big).await.id;
    let mut gpu = spec("gpu");
    gpu.priority = 10;
    gpu.required_backend = Some("cuda".into());
    let gpu = submit(s, gpu).await.id;
    let mut small = spec("small");
    small.required_memory_bytes = GIB;
    let small = submit(s, small).await.id;

    let claim_as = |caps: WorkerCapabilities| async move {
        s.claim("w", &caps, LEASE).await.unwrap().map(|(j, _)| j.id)
    };
    assert_eq!(
        claim_as(cpu_worker(16)).await,
        Some(small),
        "big does not fit"
    );
    assert_eq!(claim_as(cpu_worker(16)).await, None);
    assert_eq!(claim_as(cpu_worker(64)).await, Some(big));
    assert_eq!(
        claim_as(cpu_worker(64)).await,
        None,
        "the gpu job needs cuda"
    );
    let cuda = WorkerCapabilities {
        backends: vec!["cpu".into(), "cuda".into()],
        ..cpu_worker(64)
    };
    assert_eq!(claim_as(cuda).await, Some(gpu));

    let mut chunk = spec("chunk");
    chunk.kind = JobKind::BlockChunk;
    let chunk = submit(s, chunk).await.id;
    let only = |kind| WorkerCapabilities {
        kinds: vec![kind],
        ..cpu_worker(64)
    };
    assert_eq!(claim_as(only(JobKind::CairoProof)).await, None);
    assert_eq!(claim_as(only(JobKind::BlockChunk)).await, Some(chunk));
}

/// A job pinned to a GPU backend goes only to a worker whose advertised device memory holds
/// its memory estimate; a worker that advertises none (0, older workers) is not checked; jobs
/// without a GPU backend ignore device memory.
async fn gpu_jobs_route_by_device_memory(h: &mut Harness) {
    let s = h.store();
    let mut gpu = spec("gpu-8g");
    gpu.priority = 10;
    gpu.required_backend = Some("cuda".into());
    gpu.required_memory_bytes = 8 * GIB;
    let gpu = submit(s, gpu).await.id;
    let mut cpu = spec("cpu-8g");
    cpu.required_memory_bytes = 8 * GIB;
    let cpu = submit(s, cpu).await.id;

    let claim_as = |caps: WorkerCapabilities| async move {
        s.claim("w", &caps, LEASE).await.unwrap().map(|(j, _)| j.id)
    };
    let cuda = |device_gib: u64| WorkerCapabilities {
        backends: vec!["cuda".into(), "cpu".into()],
        device_memory_bytes: device_gib * GIB,
        ..cpu_worker(64)
    };
    assert_eq!(
        claim_as(cuda(4)).await,
        Some(cpu),
        "a 4 GiB GPU skips the 8 GiB GPU job and takes the CPU job, whatever its device"
    );
    assert_eq!(claim_as(cuda(4)).await, None, "the GPU job does not fit");
    assert_eq!(claim_as(cuda(8)).await, Some(gpu), "an 8 GiB GPU takes it");

    let mut again = spec("gpu-8g-again");
    again.required_backend = Some("cuda".into());
    again.required_memory_bytes = 8 * GIB;
    let again = submit(s, again).await.id;
    assert_eq!(
        claim_as(cuda(0)).await,
        Some(again),
        "a worker that does not say its device memory is not routed by it"
    );
}

async fn restart_keeps_jobs(h: &mut Harness) {
    let a = submit(h.store(), spec("a")).await;
    let mut b = spec("b");
    b.depends_on = vec![a.id];
    let b = submit(h.store(), b).await;
    let (_, lease) = claim(h.store(), "w").await;

    h.reopen().await;
    let s = h.store();
    let a_again = s.get(a.id).await.unwrap();
    assert_eq!(a_again.state, JobState::Leased);
    assert_eq!(a_again.fencing_token, lease.fencing_token);
    assert_eq!(s.get(b.id).await.unwrap(), b);
    let resubmitted = s.submit(spec("a")).await.unwrap();
    assert!(!resubmitted.created, "idempotency survives a restart");
    assert_eq!(resubmitted.job.id, a.id);

    let lease = s
        .heartbeat(&lease)
        .await
        .expect("the lease survives a restart");
    finish(s, &lease).await;
    let (next, _) = claim(s, "w").await;
    assert_eq!(next.id, b.id);
}

async fn list_pages_and_counts(h: &mut Harness) {
    let s = h.store();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(submit(s, spec(&format!("job {i}"))).await.id);
    }
    s.cancel(ids[1]).await.unwrap();
    claim(s, "w").await; // ids[0]

    let page = |before, limit| JobFilter {
        limit,
        before,
        ..JobFilter::default()
    };
    let p1 = s.list(&page(None, 2)).await.unwrap();
    let p1_ids: Vec<_> = p1.jobs.iter().map(|j| j.id).collect();
    assert_eq!(p1_ids, vec![ids[4], ids[3]], "newest first");
    assert_eq!(p1.next, Some(ids[3]));
    let p2 = s.list(&page(p1.next, 2)).await.unwrap();
    assert_eq!(
        p2.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    let p3 = s.list(&page(p2.next, 2)).await.unwrap();
    assert_eq!(
        p3.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    assert_eq!(p3.next, None);

    let cancelled = JobFilter {
        state: Some(JobState::Cancelled),
        ..JobFilter::default()
    };
    let listed = s.list(&cancelled).await.unwrap();
    assert_eq!(listed.jobs.len(), 1);
    assert_eq!(listed.jobs[0].id, ids[1]);
    let chunks = JobFilter {
        kind: Some(JobKind::BlockChunk),
        ..JobFilter::default()
    };
    assert!(s.list(&chunks).await.unwrap().jobs.is_empty());

    let counts = s.counts().await.unwrap();
    assert_eq!(counts.len(), JobState::ALL.len(), "every state present");
    assert_eq!(counts[&JobState::Queued], 3);
    assert_eq!(counts[&JobState::Leased], 1);
    assert_eq!(counts[&JobState::Cancelled], 1);
    assert_eq!(counts[&JobState::Done], 0);
}
