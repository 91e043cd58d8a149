//! The farm with real processes: a `starfarm scheduler` and `starfarm worker`s proving
//! submitted programs (Test profile), killed, frozen and restarted on purpose. Each test
//! bounds its waits and kills what it started (by PID) when it ends.

use std::time::Duration;

use support::farm::{id, metric, stopped_count, Scheduler};

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_proof_loses_its_lease_and_another_finishes_the_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let job = id(&scheduler.submit(30).await);

    let mut doomed = scheduler.worker("doomed", &["--lease-secs", "3"]);
    scheduler.until_state(job, "proving").await;
    doomed.sigkill();

    let rescuer = scheduler.worker("rescuer", &["--lease-secs", "30"]);
    let done = scheduler.until_state(job, "done").await;
    assert_eq!(done["worker_id"], "rescuer");
    let artifact = scheduler.rescued(&done, "doomed").await;
    assert_eq!(artifact.header.output.len(), 2);
    drop(rescuer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_is_fenced_out_and_its_late_result_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let job = id(&scheduler.submit(31).await);

    let mut frozen = scheduler.worker("frozen", &["--lease-secs", "3", "--max-jobs", "1"]);
    scheduler.until_state(job, "proving").await;
    frozen.signal("STOP");
    let mut other = scheduler.worker("other", &["--lease-secs", "30", "--max-jobs", "1"]);
    let done = scheduler.until_state(job, "done").await;
    assert_eq!(done["worker_id"], "other");
    let artifact_hash = done["artifact_hash"].clone();

    frozen.signal("CONT");
    assert!(frozen.exited().await.success(), "{}", frozen.output());
    assert!(other.exited().await.success());
    let log = frozen.output();
    assert!(
        log.contains("lease lost to another worker; result dropped"),
        "the frozen worker must learn it was fenced out:\n{log}"
    );
    assert!(log.contains("0 proven"), "{log}");
    let after = scheduler.job(job).await;
    assert_eq!(after["state"], "done");
    assert_eq!(
        after["worker_id"], "other",
        "the late worker overwrote nothing"
    );
    assert_eq!(after["artifact_hash"], artifact_hash);
    scheduler.verified_artifact(job).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_killed_and_restarted_loses_and_duplicates_no_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let address = scheduler.address().to_owned();
    let mut jobs = Vec::new();
    for n in 40..44 {
        jobs.push(id(&scheduler.submit(n).await));
    }
    let worker = scheduler.worker("steady", &["--lease-secs", "10", "--batch-size", "1"]);
    scheduler.until_state(jobs[0], "done").await;

    scheduler.proc.sigkill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let scheduler = Scheduler::start(dir.path(), &address).await;

    for (n, &job) in (40..44).zip(&jobs) {
        let resubmitted = scheduler.submit(n).await;
        assert_eq!(
            id(&resubmitted),
            job,
            "the job survived the crash and is not submitted twice"
        );
    }
    for &job in &jobs {
        let done = scheduler.until_state(job, "done").await;
        // A claim whose answer died with the scheduler costs an attempt: its lease expires
        // and the job is claimed again. Anything else is proven on its first attempt.
        let attempts = done["attempts"].as_u64().expect("attempts");
        let error = done["last_error"].as_str().unwrap_or_default();
        assert!(
            attempts == 1 || (attempts == 2 && error.contains("expired")),
            "job {job}: {done}"
        );
        scheduler.verified_artifact(job).await;
    }
    let listed = scheduler.get("/v1/jobs").await;
    assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(jobs.len()));
    drop(worker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_prove_every_job_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let mut jobs = Vec::new();
    for n in 50..56 {
        jobs.push(id(&scheduler.submit(n).await));
    }
    let mut workers = [
        scheduler.worker("left", &["--lease-secs", "60", "--batch-size", "1"]),
        scheduler.worker("right", &["--lease-secs", "60", "--batch-size", "1"]),
    ];
    for &job in &jobs {
        let done = scheduler.until_state(job, "done").await;
        assert_eq!(done["attempts"], 1, "{done}");
        scheduler.verified_artifact(job).await;
    }
    let mut proven = 0;
    for worker in &mut workers {
        worker.signal("TERM");
        assert!(worker.exited().await.success(), "{}", worker.output());
        proven += stopped_count(worker, "proven").await;
    }
    assert_eq!(
        proven,
        jobs.len() as u64,
        "every job proven by exactly one worker"
    );
    let metrics = scheduler.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"starfarm_proofs_total{backend="cpu",kind="cairo_proof"}"#
        ),
        jobs.len() as f64,
        "{metrics}"
    );
    assert!(metric(&metrics, r#"starfarm_proven_steps_total{backend="cpu"}"#) > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_current_job_or_hands_it_back_after_the_drain_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let first = id(&scheduler.submit(60).await);
    let mut patient = scheduler.worker("patient", &[]);
    scheduler.until_state(first, "proving").await;
    patient.signal("TERM");
    assert!(patient.exited().await.success(), "{}", patient.output());
    let job = scheduler.job(first).await;
    assert_eq!(job["state"], "done", "the job in hand was finished: {job}");

    let second = id(&scheduler.submit(61).await);
    let mut hasty = scheduler.worker("hasty", &["--drain-timeout-secs", "0"]);
    scheduler.until_state(second, "proving").await;
    hasty.signal("TERM");
    assert!(hasty.exited().await.success(), "{}", hasty.output());
    let job = scheduler.job(second).await;
    assert_eq!(job["state"], "queued", "handed back: {job}");
    assert_eq!(job["attempts"], 0, "a hand-back costs no attempt");
    assert_eq!(job["last_error"], "worker shutting down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_jobs_share_one_batch_proof() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let inputs = [70, 71, 72, 73, 74];
    let mut jobs = Vec::new();
    for n in inputs {
        jobs.push(id(&scheduler.submit(n).await));
    }
    let mut worker = scheduler.worker("batcher", &["--batch-size", "8", "--max-jobs", "5"]);
    assert!(worker.exited().await.success(), "{}", worker.output());
    assert!(
        worker.output().contains("shared by a batch of 5"),
        "{}",
        worker.output()
    );

    let first = scheduler.job(jobs[0]).await;
    let artifact = scheduler.verified_artifact(jobs[0]).await;
    let tasks = starfarm_prover::batch::parse_batch_output(&artifact.header.output)
        .expect("a batch output");
    assert_eq!(tasks.len(), 5);
    for (index, (&job, n)) in jobs.iter().zip(inputs).enumerate() {
        let done = scheduler.job(job).await;
        assert_eq!(done["state"], "done");
        assert_eq!(done["attempts"], 1);
        assert_eq!(
            done["artifact_hash"], first["artifact_hash"],
            "one shared proof"
        );
        assert_eq!(done["result"]["batch"]["task_index"], index);
        let output = &done["result"]["output"];
        assert_eq!(
            output[0],
            format!("{n:#x}"),
            "job {job} proved its own input"
        );
        assert_eq!(
            output[1],
            format!("{:#x}", tasks[index].output[1]),
            "the job's output is its task's"
        );
    }
}

/// `starfarm submit --wait` follows the job's event stream: one stderr line per state from
/// queued to done, no fallback to the long-poll, and the artifact written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_wait_follows_the_job_event_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scheduler = Scheduler::start(dir.path(), "127.0.0.1:0").await;
    let example = |name: &str| format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let proof = dir.path().join("fib.proof");
    let mut submit = support::Proc::spawn(&[
        "submit",
        &example("fibonacci.json"),
        "--input",
        &example("fibonacci.input.json"),
        "--profile",
        "test",
        "--url",
        &scheduler.url,
        "--api-key",
        support::farm::KEY,
        "--output",
        proof.to_str().expect("UTF-8 path"),
    ]);
    let queued = submit.line_with(": queued").await;
    let worker = scheduler.worker("w", &[]);
    let status = submit.exited().await;
    let output = submit.output();
    assert!(status.success(), "{output}");
    let job = queued
        .trim_start_matches("job ")
        .split(':')
        .next()
        .expect("job id");
    let done = format!("job {job}: done");
    let position = |line: &str| {
        output
            .find(line)
            .unwrap_or_else(|| panic!("{line}:\n{output}"))
    };
    assert!(position(&queued) < position(&done), "{output}");
    assert!(!output.contains("long-polling"), "{output}");
    let artifact = scheduler.verified_artifact(job.parse().expect("id")).await;
    let written = std::fs::read(&proof).expect("the proof file");
    let written = starfarm_prover::ProofArtifact::from_bytes(&written).expect("an artifact");
    assert_eq!(
        written.to_bytes().expect("bytes"),
        artifact.to_bytes().expect("bytes"),
        "the stored proof was written"
    );
    drop(worker);
}
