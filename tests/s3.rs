//! starfarm on `s3://` locations against a real S3 API server (s3rver, file-backed; see
//! tests/support/s3.rs): the sequencer publishes its blocks there and an l2 node syncs from
//! them; the scheduler keeps its job blobs there while a worker proves. In each case the
//! server is killed mid-run and started again on the same data: the processes say so while
//! it is away (metrics, logs, 503s) and, once it is back, nothing is lost and nothing is
//! published twice. Skipped loudly without STARFARM_S3_SERVER (`scripts/s3-server.sh`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde_json::{json, Value};
use starfarm_sequencer::client::Client;
use starfarm_sequencer::publish::{manifest_name, Publisher};
use starfarm_sequencer::tx::Deposit;
use starfarm_sequencer::Felt;
use support::farm::{id, metric, stopped_count, Scheduler};
use support::s3::S3Server;
use support::{spawn_sequencer_publishing, url_in, Proc, PATIENCE};

mod support;

const ADMIN: &str = "s3-test-admin";
/// How long a case keeps the S3 server away.
const OUTAGE: Duration = Duration::from_secs(6);

/// Admits deposits and closes a block after each until `stop`; the numbers of the blocks
/// the sequencer acknowledged.
async fn close_blocks(l2: Client, stop: Arc<AtomicBool>) -> Vec<u64> {
    let mut closed = Vec::new();
    let mut nonce = 0;
    while !stop.load(Ordering::Relaxed) {
        let deposit = Deposit {
            l1_sender: Felt::ONE,
            recipient: Felt::from(0x7000 + nonce),
            amount: 5,
            l1_nonce: nonce,
        };
        l2.admin_deposit(&deposit).await.expect("deposit admitted");
        let header = l2.close_block().await.expect("block closed");
        closed.push(header.expect("a block").number);
        nonce += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    closed
}

/// Waits until `proc`'s `/metrics` at `base` has `series` at `at_least` or more; its value.
async fn metric_reaches(proc: &Proc, base: &str, series: &str, at_least: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = support::metric(base, series).await.unwrap_or(0.0);
        if value >= at_least {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{series} stays at {value}:\n{}",
            proc.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The names under `prefix` of the store `url` names.
async fn listed(server: &S3Server, url: &str) -> BTreeSet<String> {
    let (store, prefix) = server.store(url);
    let metas: Vec<_> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .expect("a listing");
    metas
        .into_iter()
        .map(|meta| meta.location.as_ref().to_string())
        .collect()
}

/// How many PUTs of each key under `/bucket/prefix/` the server answered with 200 (its log
/// has a line `… PUT /bucket/key 200 …` for each).
fn answered_puts(server: &S3Server, bucket_prefix: &str) -> BTreeMap<String, usize> {
    let mut puts = BTreeMap::new();
    for line in server.output().lines() {
        let mut words = line.split_whitespace().skip_while(|w| *w != "PUT").skip(1);
        let (Some(path), Some("200")) = (words.next(), words.next()) else {
            continue;
        };
        if let Some(key) = path.strip_prefix(bucket_prefix) {
            *puts.entry(key.to_string()).or_default() += 1;
        }
    }
    puts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_follows_blocks_published_to_s3_through_a_server_restart() {
    let Some(mut server) = S3Server::start(&["chain"]) else {
        return;
    };
    let location = "s3://chain/devnet";
    let env = server.env();
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = ["--admin-token", ADMIN];
    let data = dir.path().join("sequencer");
    let (sequencer, seq_url) =
        spawn_sequencer_publishing(&data, location, 3_600_000, &admin, &env).await;
    let l2 = Client::new(seq_url.clone()).with_admin_token(ADMIN);
    let node_data = dir.path().join("node");
    let node_args = [
        "node",
        "--mode",
        "l2",
        "--source",
        location,
        "--data",
        node_data.to_str().expect("UTF-8"),
        "--rpc",
        "127.0.0.1:0",
        "--poll-ms",
        "100",
    ];
    let node = Proc::spawn_with_env(&node_args, &env);
    let node_url = url_in(&node.line_with("node listening on").await);

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(close_blocks(l2.clone(), Arc::clone(&stop)));
    let published = "starfarm_sequencer_published_blocks_total";
    metric_reaches(&sequencer, &seq_url, published, 3.0).await;

    server.stop();
    let down = Instant::now();
    let before = l2.block_number().await.expect("the sequencer answers");
    let failures = "starfarm_sequencer_publish_failures_total";
    metric_reaches(&sequencer, &seq_url, failures, 1.0).await;
    let node_failures = r#"starfarm_node_sync_failures_total{mode="l2"}"#;
    metric_reaches(&node, &node_url, node_failures, 1.0).await;
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    let waiting = "starfarm_sequencer_unpublished_blocks";
    let unpublished = metric_reaches(&sequencer, &seq_url, waiting, 1.0).await;
    sequencer.line_with("publishing blocks: object store").await;
    node.line_with("syncing: ").await;
    let during = l2.block_number().await.expect("the sequencer answers");
    assert!(during > before, "blocks close while the store is away");
    server.restart();
    let up = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let closed = load.await.expect("the load ran");
    let last = *closed.last().expect("blocks closed");
    eprintln!(
        "measured: S3 server down {:?}; {unpublished} blocks waited; {} blocks closed in all",
        up - down,
        closed.len()
    );

    // Every acknowledged block is published once, in order, and the node reaches the tip.
    let (store, prefix) = server.store(location);
    let publisher = Publisher::new(store, prefix);
    let deadline = Instant::now() + PATIENCE;
    while publisher.highest_published().await.ok().flatten() < Some(last) {
        assert!(Instant::now() < deadline, "{}", sequencer.output());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "measured: every block published {:?} after the server came back",
        up.elapsed()
    );
    let node_client = Client::new(node_url.clone());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status: Value = node_client
            .call("starfarm_syncStatus", json!([]))
            .await
            .expect("sync status");
        if status["synced_block"] == json!(last) {
            break;
        }
        assert!(status["refused"].is_null(), "{status}");
        assert!(Instant::now() < deadline, "{status}\n{}", node.output());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "measured: the node at the tip {:?} after the server came back",
        up.elapsed()
    );

    let mut expected = BTreeSet::new();
    for number in 0..=last {
        let manifest = publisher
            .manifest(number)
            .await
            .expect("manifest read")
            .unwrap_or_else(|| panic!("block {number} not published"));
        let block: Value = l2
            .call(
                "starknet_getBlockWithTxHashes",
                json!([{ "block_number": number }]),
            )
            .await
            .expect("the sequencer's block");
        assert_eq!(
            json!(manifest.block_hash),
            block["block_hash"],
            "block {number}"
        );
        publisher
            .block(&manifest)
            .await
            .expect("the block hash-checks");
        expected.insert(format!("devnet/{}", manifest_name(number)));
        for object in [Some(&manifest.block), manifest.prover_input.as_ref()]
            .into_iter()
            .flatten()
        {
            publisher.get_object(object).await.expect("hash-checked");
            expected.insert(format!("devnet/{}", object.path));
        }
    }
    assert_eq!(
        listed(&server, location).await,
        expected,
        "the bucket holds exactly the acknowledged blocks' manifests and objects"
    );
    // A manifest's write that the kill cut may be repeated once; no other is written twice.
    let puts = answered_puts(&server, "/chain/devnet/");
    let rewritten: Vec<_> = puts
        .iter()
        .filter(|(key, &n)| key.starts_with("blocks/") && n > 1)
        .collect();
    assert!(
        rewritten.len() <= 1,
        "manifests written twice: {rewritten:?}"
    );
    assert!(
        !sequencer.output().contains("panicked") && !node.output().contains("panicked"),
        "{}\n{}",
        sequencer.output(),
        node.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_keeps_job_blobs_in_s3_through_a_server_restart() {
    let Some(mut server) = S3Server::start(&["farm"]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = ["--blobs", "s3://farm/blobs"];
    let scheduler =
        Scheduler::start_with_env(dir.path(), "127.0.0.1:0", &blobs, &server.env()).await;
    let mut jobs = Vec::new();
    for n in 60..63 {
        jobs.push(id(&scheduler.submit(n).await));
    }
    let one = ["--lease-secs", "30", "--batch-size", "1", "--max-jobs", "2"];
    let mut early = scheduler.worker("early", &one);
    scheduler.until_state(jobs[0], "proving").await;

    server.stop();
    let down = Instant::now();
    // It claims a job whose program and input the scheduler cannot read now.
    let mut late = scheduler.worker("late", &one);
    let refused = scheduler
        .try_submit(64)
        .await
        .expect_err("no submission while the blob store is away");
    assert!(
        refused.contains("503") && refused.contains("blob_store_unavailable"),
        "{refused}"
    );
    eprintln!(
        "measured: a submission refused {:?} after the S3 server went away",
        down.elapsed()
    );
    let refusals = r#"starfarm_api_submissions_total{result="unavailable"}"#;
    assert_eq!(metric(&scheduler.metrics().await, refusals), 1.0);
    scheduler.proc.line_with("blob store unavailable").await;
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    server.restart();
    let up = Instant::now();
    jobs.push(id(&scheduler.submit(64).await));

    for &job in &jobs {
        let done = scheduler.until_state(job, "done").await;
        assert_eq!(done["attempts"], 1, "the outage cost no attempt: {done}");
        scheduler.verified_artifact(job).await;
    }
    eprintln!(
        "measured: S3 server down {:?}; every job done {:?} after it came back",
        up - down,
        up.elapsed()
    );
    let stored = listed(&server, "s3://farm/blobs").await;
    for &job in &jobs {
        let done = scheduler.job(job).await;
        for field in ["program_hash", "input_hash", "artifact_hash"] {
            let hash = done[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field}: {done}"));
            assert!(
                stored.contains(&format!("blobs/objects/{hash}")),
                "{field} of job {job}"
            );
        }
    }
    let mut proven = 0;
    for worker in [&mut early, &mut late] {
        assert!(worker.exited().await.success(), "{}", worker.output());
        proven += stopped_count(worker, "proven").await;
    }
    assert_eq!(proven, jobs.len() as u64, "each job proven once");
    late.line_with("cannot fetch the job's blob; retrying")
        .await;
}
