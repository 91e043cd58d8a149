//! The farm when the infrastructure around it fails (issue 23, part A): the scheduler out
//! of the workers' reach, a network partition between them (a loopback proxy the test
//! breaks and heals), and the job store's Postgres restarted under two schedulers (sharing
//! their blobs on a real S3 server) and several workers. Real `starfarm` processes proving
//! the Fibonacci example (Test profile); each case bounds its waits, kills what it started
//! (by PID) and prints what it measured.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::farm::{id, metric, stopped_count, worker, Scheduler};
use support::postgres::Postgres;
use support::proxy::{Mode, Proxy};
use support::s3::S3Server;
use support::PATIENCE;

mod support;

/// A proxy in front of `scheduler`: the workers' only way to it.
async fn proxy_to(scheduler: &Scheduler) -> Proxy {
    let target: SocketAddr = scheduler.address().parse().expect("a socket address");
    Proxy::start(target).await
}

/// What a case measured, for the issue's table.
fn report(case: &str, recovered_in: Duration) {
    eprintln!(
        "measured: {case}: recovered {:.1} s after the fault healed",
        recovered_in.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_keeps_its_proof_while_the_scheduler_is_away_and_hands_it_in_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let proxy = proxy_to(&scheduler).await;
    let job = id(&scheduler.submit(300).await);
    let mut keeper = worker(&proxy.url(), "keeper", &["--lease-secs", "60"]);
    scheduler.until_state(job, "proving").await;

    proxy.set(Mode::Refuse);
    keeper.line_with("cannot hand in the proof; retrying").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(scheduler.job(job).await["state"], "proving");
    proxy.set(Mode::Open);
    let healed = Instant::now();

    let done = scheduler.until_state(job, "done").await;
    report("scheduler refused mid-proof (60 s lease)", healed.elapsed());
    assert_eq!(done["worker_id"], "keeper");
    assert_eq!(
        done["attempts"], 1,
        "the proof made during the outage counted: {done}"
    );
    scheduler.verified_artifact(job).await;
    keeper.signal("TERM");
    assert!(keeper.exited().await.success(), "{}", keeper.output());
    assert_eq!(stopped_count(&keeper, "proven").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_worker_cut_off_from_its_scheduler_within_the_drain_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let proxy = proxy_to(&scheduler).await;
    let job = id(&scheduler.submit(301).await);
    let drain = ["--lease-secs", "4", "--drain-timeout-secs", "3"];
    let mut cut_off = worker(&proxy.url(), "cut-off", &drain);
    scheduler.until_state(job, "proving").await;

    proxy.set(Mode::Refuse);
    cut_off
        .line_with("cannot hand in the proof; retrying")
        .await;
    // Now calls hang instead of failing: the worker must not wait for them.
    proxy.set(Mode::Blackhole);
    cut_off.signal("TERM");
    let signalled = Instant::now();
    assert!(cut_off.exited().await.success(), "{}", cut_off.output());
    let stopped_in = signalled.elapsed();
    eprintln!("measured: SIGTERM to exit, scheduler unreachable: {stopped_in:?}");
    assert!(
        stopped_in < Duration::from_secs(3 + 4),
        "stopped {stopped_in:?} after SIGTERM with a 3 s drain timeout:\n{}",
        cut_off.output()
    );
    let log = cut_off.output();
    assert!(log.contains("proof abandoned"), "{log}");
    assert_eq!(stopped_count(&cut_off, "abandoned").await, 1, "{log}");

    // The price: the lease expires and another worker proves the job again.
    proxy.set(Mode::Open);
    let healed = Instant::now();
    let rescuer = scheduler.worker("rescuer", &["--lease-secs", "30"]);
    let done = scheduler.until_state(job, "done").await;
    report("abandoned proof re-proven (4 s lease)", healed.elapsed());
    assert_eq!(done["worker_id"], "rescuer");
    scheduler.rescued(&done, "cut-off").await;
    drop(rescuer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_mid_claim_heals_and_the_job_is_proven_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let proxy = proxy_to(&scheduler).await;
    let mut waiting = worker(&proxy.url(), "waiting", &["--lease-secs", "5"]);
    waiting.line_with("proving for").await;
    // Its long-poll is in flight: the partition cuts it, and the next claims hang.
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.set(Mode::Blackhole);
    let job = id(&scheduler.submit(302).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        scheduler.job(job).await["state"],
        "queued",
        "nobody could claim it"
    );

    proxy.set(Mode::Open);
    let healed = Instant::now();
    let claimed = loop {
        if scheduler.job(job).await["state"] != "queued" {
            break healed.elapsed();
        }
        assert!(healed.elapsed() < PATIENCE, "never claimed again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("measured: partition mid-claim: claimed again {claimed:?} after the heal");
    // A hanging claim gives up after its long-poll (10 s) + 15 s, then claims again.
    assert!(claimed < Duration::from_secs(10 + 15 + 10), "{claimed:?}");
    let done = scheduler.until_state(job, "done").await;
    report(
        "partition mid-claim (claims hang until their timeout)",
        healed.elapsed(),
    );
    assert_eq!(done["worker_id"], "waiting");
    assert_eq!(done["attempts"], 1, "{done}");
    scheduler.verified_artifact(job).await;
    waiting.signal("TERM");
    assert!(waiting.exited().await.success(), "{}", waiting.output());
    assert_eq!(stopped_count(&waiting, "proven").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_mid_proof_longer_than_the_lease_fences_the_late_proof() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let proxy = proxy_to(&scheduler).await;
    let job = id(&scheduler.submit(303).await);
    let mut islanded = worker(
        &proxy.url(),
        "islanded",
        &["--lease-secs", "3", "--max-jobs", "1"],
    );
    scheduler.until_state(job, "proving").await;

    proxy.set(Mode::Blackhole);
    let rescuer = scheduler.worker("rescuer", &["--lease-secs", "30"]);
    let done = scheduler.until_state(job, "done").await;
    assert_eq!(done["worker_id"], "rescuer");
    // Cut the hanging calls, as a healed network's resets would, and let it through again.
    proxy.set(Mode::Refuse);
    proxy.set(Mode::Open);
    let healed = Instant::now();
    assert!(islanded.exited().await.success(), "{}", islanded.output());
    report(
        "partition longer than the lease: late worker learns it was fenced",
        healed.elapsed(),
    );
    assert_eq!(
        stopped_count(&islanded, "fenced").await,
        1,
        "{}",
        islanded.output()
    );
    let after = scheduler.job(job).await;
    assert_eq!(
        after["worker_id"], "rescuer",
        "the late proof overwrote nothing"
    );
    assert_eq!(after["artifact_hash"], done["artifact_hash"]);
    scheduler.verified_artifact(job).await;
    drop(rescuer);
}

/// Two schedulers on one Postgres and one S3 blob store (a real S3 server), three workers;
/// the database is stopped mid-proof for a while and started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_two_schedulers_loses_and_duplicates_no_job() {
    let Some(postgres) = Postgres::start() else {
        return;
    };
    let Some(s3) = S3Server::start(&["farm"]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let url = postgres.url();
    let shared = ["--postgres-url", &url, "--blobs", "s3://farm/blobs"];
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let a = Scheduler::start_with_env(&a, "127.0.0.1:0", &shared, &s3.env()).await;
    let b = Scheduler::start_with_env(&b, "127.0.0.1:0", &shared, &s3.env()).await;
    let mut jobs = Vec::new();
    for n in 310..316 {
        jobs.push(id(&a.submit(n).await));
    }
    // a1 and a2 ride the outage out; b1's lease is shorter than it: a job b1 holds is
    // taken back, proven again, and b1's late proof fenced.
    let alone = ["--lease-secs", "20", "--batch-size", "1"];
    let short = ["--lease-secs", "4", "--batch-size", "1"];
    let mut workers = [
        a.worker("a1", &alone),
        a.worker("a2", &alone),
        b.worker("b1", &short),
    ];
    a.until_state(jobs[0], "proving").await;

    postgres.down();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let refused = a.try_get(&format!("/v1/jobs/{}", jobs[0])).await;
    assert_eq!(refused.err().as_deref(), Some("503 Service Unavailable"));
    postgres.up();
    let up = Instant::now();
    let (mut a_back, mut b_back) = (None, None);
    while a_back.is_none() || b_back.is_none() {
        let path = format!("/v1/jobs/{}", jobs[0]);
        if a_back.is_none() && a.try_get(&path).await.is_ok() {
            a_back = Some(up.elapsed());
        }
        if b_back.is_none() && b.try_get(&path).await.is_ok() {
            b_back = Some(up.elapsed());
        }
        assert!(
            up.elapsed() < Duration::from_secs(60),
            "the schedulers did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("measured: Postgres down {:?}; schedulers answering again {a_back:?} and {b_back:?} after it came back", up - down);

    for &job in &jobs {
        let done = a.until_state(job, "done").await;
        // A lease that ran out while the database was away costs an attempt; nothing else.
        let attempts = done["attempts"].as_u64().expect("attempts");
        let error = done["last_error"].as_str().unwrap_or_default();
        assert!(
            attempts == 1 || (attempts == 2 && error.contains("expired")),
            "{done}"
        );
        a.verified_artifact(job).await;
    }
    report(
        "Postgres restarted (down 6 s), every job done",
        up.elapsed(),
    );
    let (mut proven, mut dropped) = (0, 0);
    for worker in &mut workers {
        worker.signal("TERM");
        assert!(worker.exited().await.success(), "{}", worker.output());
        proven += stopped_count(worker, "proven").await;
        dropped += stopped_count(worker, "fenced").await;
    }
    let (ma, mb) = (a.metrics().await, b.metrics().await);
    let accepted = r#"starfarm_artifacts_total{result="accepted"}"#;
    let unavailable = "starfarm_store_unavailable_total";
    assert_eq!(
        metric(&ma, accepted) + metric(&mb, accepted),
        jobs.len() as f64,
        "one accepted hand-in per job:\n{ma}\n{mb}"
    );
    assert_eq!(
        proven,
        jobs.len() as u64,
        "each job proven by exactly one worker"
    );
    let refusals = metric(&ma, &format!("{unavailable}{{during=\"request\"}}"))
        + metric(&ma, &format!("{unavailable}{{during=\"lease_sweep\"}}"));
    assert!(refusals >= 1.0, "the outage is counted:\n{ma}");
    let expired =
        metric(&ma, "starfarm_lease_expiries_total") + metric(&mb, "starfarm_lease_expiries_total");
    let fenced = r#"starfarm_artifacts_total{result="fenced"}"#;
    let fenced = metric(&ma, fenced) + metric(&mb, fenced);
    eprintln!("measured: Postgres outage: {refusals} refusals counted by scheduler a, {expired} leases expired, {fenced} late proofs fenced, {dropped} proofs dropped by fenced workers");
    for scheduler in [&a, &b] {
        let listed = scheduler.get("/v1/jobs").await;
        assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(jobs.len()));
    }
}
