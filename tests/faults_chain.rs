//! The chain's infrastructure failing, with real processes: the object store gone (the
//! sequencer's publishing folder and the scheduler's blob folder replaced by a file: writes
//! and reads fail for root too), the L1 RPC refusing, answering errors, going silent and
//! slow between starfarm and anvil (a loopback proxy), and the sequencer's disk nearly full
//! (a small tmpfs; needs root or CAP_SYS_ADMIN: skipped loudly without, a failure with
//! `STARFARM_REQUIRE_TMPFS=1` as in CI). The L1 case needs anvil (`STARFARM_ANVIL`).
//! Each case injects the fault, checks that the system refuses or waits (and says so in its
//! log and metrics), heals it, and checks that everything acknowledged is there once.

// The helpers run only inside tests: a panic there is the test's failure report.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use starfarm_l1::anvil::{Anvil, DEV_KEYS};
use starfarm_l1::fact::address_to_felt;
use starfarm_l1::{L1Client, U256};
use starfarm_sequencer::client::Client;
use starfarm_sequencer::testing::runtime;
use starfarm_sequencer::tx::{KeyPair, Transaction};
use starfarm_sequencer::Felt;
use support::line::Line;
use support::proxy::{Mode, Proxy};
use support::{deploy_l1, metric, spawn_sequencer, start_sequencer, url_in, Proc, PATIENCE};

mod support;

const ADMIN: &str = "faults-admin";
const API_KEY: &str = support::line::API_KEY;

/// Polls `check` until it holds, for at most [`PATIENCE`]; how long it took.
async fn until<F, Fut>(what: &str, procs: &[&Proc], mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        if started.elapsed() > PATIENCE {
            let logs: Vec<String> = procs.iter().map(|p| p.output()).collect();
            panic!("never {what}:\n{}", logs.join("\n---\n"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// How many output lines of `proc` contain `needle`.
fn lines_with(proc: &Proc, needle: &str) -> usize {
    proc.output().lines().filter(|l| l.contains(needle)).count()
}

fn keys(i: u64) -> KeyPair {
    KeyPair::from_private(Felt::from(7_000 + i))
}

/// Block: an admin deposit to and the deployment of each account.
async fn open_accounts(l2: &Client, accounts: &[KeyPair]) {
    support::fund_and_deploy(l2, accounts).await;
    l2.close_block().await.unwrap().expect("a block");
}

/// A transfer of `amount` from `from` to a fresh address, at its next nonce.
async fn transfer(l2: &Client, from: &KeyPair, amount: u128) -> Transaction {
    let nonce = l2.nonce(from.address()).await.unwrap();
    Transaction::transfer(from, nonce, Felt::from(0x5000u64 + amount as u64), amount)
}

/// `(number, hash)` of the latest block a server reports.
async fn head(client: &Client) -> Option<(u64, String)> {
    let latest: Value = client
        .call("starknet_blockHashAndNumber", json!([]))
        .await
        .ok()?;
    Some((
        latest["block_number"].as_u64()?,
        latest["block_hash"].as_str()?.to_owned(),
    ))
}

/// A folder made unusable the way a lost mount or a deleted bucket is: moved away and
/// replaced by a file, so that creating, writing and listing under it fail (for root too,
/// unlike permission bits). Healing moves it back with everything it held.
struct FolderOutage {
    folder: PathBuf,
    away: PathBuf,
}

impl FolderOutage {
    fn start(folder: &Path) -> Self {
        let away = folder.with_extension("away");
        std::fs::rename(folder, &away).unwrap();
        std::fs::write(folder, b"not a folder: the store is gone").unwrap();
        Self {
            folder: folder.to_path_buf(),
            away,
        }
    }

    fn heal(self) {
        std::fs::remove_file(&self.folder).unwrap();
        std::fs::rename(&self.away, &self.folder).unwrap();
    }
}

/// A scheduler with its blobs in `blobs`; its URL.
async fn scheduler(dir: &Path, blobs: &Path) -> (Proc, String) {
    let proc = Proc::spawn(&[
        "scheduler",
        "--listen",
        "127.0.0.1:0",
        "--data",
        dir.join("scheduler").to_str().unwrap(),
        "--blobs",
        blobs.to_str().unwrap(),
        "--api-key",
        API_KEY,
    ]);
    let url = url_in(&proc.line_with("listening on http://").await);
    (proc, url)
}

/// Submits a Fibonacci job; the HTTP status and the body.
async fn submit_job(scheduler: &str, n: u64) -> (u16, Value) {
    let program: Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/fibonacci.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let response = reqwest::Client::new()
        .post(format!("{scheduler}/v1/jobs"))
        .bearer_auth(API_KEY)
        .json(&json!({"program": program, "input": [n], "profile": "test"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The object store gone while blocks close and a job is submitted: the sequencer keeps
/// the blocks and publishes them, each once, when it returns; a replay node waits and then
/// syncs them; the scheduler refuses the submission with a 503 (nothing acknowledged) and
/// takes it afterwards.
#[test]
fn object_store_gone_delays_publishing_sync_and_blobs_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (sequencer, url) = start_sequencer(dir.path(), ADMIN).await;
        let l2 = Client::new(url.clone()).with_admin_token(ADMIN);
        let objects = dir.path().join("objects");
        let node = Proc::spawn(&[
            "node",
            "--mode",
            "replay",
            "--source",
            objects.to_str().unwrap(),
            "--data",
            dir.path().join("node").to_str().unwrap(),
            "--rpc",
            "127.0.0.1:0",
            "--poll-ms",
            "100",
        ]);
        let node_url = url_in(&node.line_with("node listening on").await);
        let replica = Client::new(node_url.clone());
        let blobs = dir.path().join("blobs");
        let (scheduler, scheduler_url) = scheduler(dir.path(), &blobs).await;
        let procs = [&sequencer, &node, &scheduler];
        let accounts = [keys(1), keys(2)];
        open_accounts(&l2, &accounts).await;
        until("the node synced block 0", &procs, || async {
            head(&replica).await.is_some_and(|(n, _)| n == 0)
        })
        .await;
        assert_eq!(submit_job(&scheduler_url, 10).await.0, 201);

        // The store goes away; two blocks are acknowledged and closed meanwhile.
        let publishing = FolderOutage::start(&objects);
        let job_blobs = FolderOutage::start(&blobs);
        let mut acknowledged = Vec::new();
        for (round, k) in accounts.iter().enumerate() {
            let tx = transfer(&l2, k, 10 + round as u128).await;
            acknowledged.push(l2.add_transaction(&tx).await.unwrap());
            l2.close_block().await.unwrap().expect("a block");
        }
        let seq_url = url.as_str();
        until("the publisher reported failures", &procs, || async {
            metric(seq_url, "starfarm_sequencer_publish_failures_total").await >= Some(2.0)
        })
        .await;
        until("both blocks counted as unpublished", &procs, || async {
            metric(seq_url, "starfarm_sequencer_unpublished_blocks").await == Some(2.0)
        })
        .await;
        sequencer.line_with("publishing blocks:").await;
        assert_eq!(
            head(&replica).await.map(|h| h.0),
            Some(0),
            "nothing to sync"
        );
        let (status, refusal) = submit_job(&scheduler_url, 11).await;
        assert_eq!(status, 503, "{refusal}");
        assert_eq!(refusal["error"]["code"], "blob_store_unavailable");
        let unavailable = r#"starfarm_api_submissions_total{result="unavailable"}"#;
        assert_eq!(metric(&scheduler_url, unavailable).await, Some(1.0));

        // The store returns: everything is published once and the node catches up.
        publishing.heal();
        job_blobs.heal();
        let healed = Instant::now();
        let sequencer_head = head(&l2).await.unwrap();
        assert_eq!(sequencer_head.0, 2);
        until("the node synced the blocks", &procs, || async {
            head(&replica).await.as_ref() == Some(&sequencer_head)
        })
        .await;
        let recovered = healed.elapsed();
        assert_eq!(
            metric(seq_url, "starfarm_sequencer_unpublished_blocks").await,
            Some(0.0)
        );
        assert_eq!(
            metric(seq_url, "starfarm_sequencer_published_blocks_total").await,
            Some(3.0),
            "each block published once"
        );
        sequencer.line_with("publishing blocks resumed").await;
        for hash in &acknowledged {
            let status = replica.status(*hash).await.unwrap();
            assert_eq!(status.finality_status, "ACCEPTED_ON_L2");
        }
        for k in &accounts {
            let at_node = replica.account(k.address(), json!("latest")).await.unwrap();
            let at_sequencer = l2.account(k.address(), json!("latest")).await.unwrap();
            assert_eq!(at_node.balance, at_sequencer.balance);
        }
        let (status, job) = submit_job(&scheduler_url, 11).await;
        assert_eq!(status, 201, "{job}");
        eprintln!(
            "object store: {} blocks published and synced {:.1} s after it returned",
            acknowledged.len(),
            recovered.as_secs_f64()
        );
    });
}

/// A tmpfs of `size_mib` mounted on `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// None (with the reason) where mounting is not allowed.
    fn mount(dir: &Path, size_mib: u64) -> Result<Self, String> {
        std::fs::create_dir_all(dir).unwrap();
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The sequencer's disk nearly full (a 48 MiB tmpfs filled below the 16 MiB minimum):
/// admission refuses with a JSON-RPC error that says so, the transaction acknowledged
/// before is still closed into a block, and admission resumes when the filler is deleted.
#[test]
fn disk_nearly_full_refuses_admission_clearly_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _mount = match Tmpfs::mount(&data, 48) {
        Ok(mount) => mount,
        Err(reason) => {
            assert!(
                std::env::var("STARFARM_REQUIRE_TMPFS").as_deref() != Ok("1"),
                "STARFARM_REQUIRE_TMPFS=1 but a tmpfs cannot be mounted (needs root): {reason}"
            );
            // Straight to the process's stderr: the harness captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: the disk-full case cannot mount a tmpfs (needs root or \
                 CAP_SYS_ADMIN): {reason} ***\n"
            );
            return;
        }
    };
    runtime().block_on(async {
        let guard = ["--admin-token", ADMIN, "--min-free-disk-mb", "16"];
        let objects = dir.path().join("objects");
        let (sequencer, url) =
            spawn_sequencer(&data.join("sequencer"), &objects, 3_600_000, &guard).await;
        let l2 = Client::new(url.clone()).with_admin_token(ADMIN);
        let alice = keys(3);
        open_accounts(&l2, std::slice::from_ref(&alice)).await;
        let before = transfer(&l2, &alice, 5).await;
        let before = l2.add_transaction(&before).await.unwrap();

        // Fill the disk to 8 MiB free.
        let free = starfarm_sequencer::disk_guard::free_bytes(&data).unwrap();
        let filler = data.join("filler");
        std::fs::write(&filler, vec![0u8; (free - (8 << 20)) as usize]).unwrap();
        let refused = Transaction::transfer(&alice, 2, Felt::from(0x77u8), 6);
        let error = l2.add_transaction(&refused).await.unwrap_err().to_string();
        assert!(
            error.contains("disk is nearly full") && error.contains("16 MiB"),
            "{error}"
        );
        // The log line arrives through a pipe: wait for it, then count.
        sequencer.line_with("disk nearly full").await;
        assert_eq!(lines_with(&sequencer, "disk nearly full"), 1, "logged once");
        assert_eq!(
            metric(&url, "starfarm_sequencer_disk_refusals_total").await,
            Some(1.0)
        );
        assert!(metric(&url, "starfarm_sequencer_disk_free_bytes").await < Some(16e6));
        // What was acknowledged before still goes into a block.
        let block = l2.close_block().await.unwrap().expect("a block");
        assert_eq!(block.tx_count, 1);
        assert_eq!(
            l2.status(before).await.unwrap().finality_status,
            "ACCEPTED_ON_L2"
        );
        assert!(l2.status(refused.hash()).await.is_err(), "not acknowledged");

        // Space returns: the same transaction is admitted.
        std::fs::remove_file(&filler).unwrap();
        let healed = Instant::now();
        let admitted = l2.add_transaction(&refused).await.unwrap();
        let recovered = healed.elapsed();
        l2.close_block().await.unwrap().expect("a block");
        assert_eq!(
            l2.status(admitted).await.unwrap().finality_status,
            "ACCEPTED_ON_L2"
        );
        sequencer.line_with("disk space is back").await;
        assert_eq!(lines_with(&sequencer, "disk space is back"), 1);
        eprintln!(
            "disk nearly full: refused, admitting again {:.3} s after space returned",
            recovered.as_secs_f64()
        );
    });
}

/// The L1 RPC down (connections refused), answering JSON-RPC errors, silent (accepting and
/// never answering) and slow, while a deposit waits on L1 and L2 transactions wait for
/// settlement: the deposit reaches L2 once, every block settles in order and once (no
/// reverted `updateState`), and L1 ends equal to L2.
#[test]
fn l1_down_erroring_silent_or_slow_delays_watching_and_settlement_but_skips_and_repeats_nothing() {
    let Some(anvil) = Anvil::for_tests() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let deployment = dir.path().join("l1-deployment.json");
        deploy_l1(&anvil.url, deployment.to_str().unwrap());
        let anvil_addr = anvil.url.trim_start_matches("http://").parse().unwrap();
        let proxy = Proxy::start(anvil_addr).await;
        let line = Line::start(&proxy.url(), &deployment, dir.path()).await;
        let procs = [&line.sequencer, &line.scheduler];
        let user = L1Client::connect(&anvil.url, DEV_KEYS[1])
            .await
            .unwrap()
            .attach(line.deployment);
        let alice = KeyPair::from_private(Felt::from(7_101u32));
        let bob = KeyPair::from_private(Felt::from(7_102u32));

        // Watching: a deposit is made on L1 while its RPC refuses, then answers errors.
        let watcher_failures = "L1 watcher; will retry";
        proxy.set(Mode::Refuse);
        user.deposit(alice.address(), U256::from(1_000u32))
            .await
            .unwrap();
        until("the watcher met the refusal", &procs, || async {
            lines_with(&line.sequencer, watcher_failures) >= 1
        })
        .await;
        proxy.set(Mode::JsonRpcError);
        let seen = lines_with(&line.sequencer, watcher_failures);
        until("the watcher met the errors", &procs, || async {
            lines_with(&line.sequencer, watcher_failures) > seen
        })
        .await;
        assert_eq!(line.balance(alice.address()).await, 0);
        proxy.set(Mode::Delay(Duration::from_millis(300)));
        let deposit_delay = until("the deposit reached L2", &procs, || async {
            line.balance(alice.address()).await == 1_000
        })
        .await;

        // Settlement: L2 transactions are proven while L1 fails every way in turn; L1
        // heals once nothing is left to prove, so the time to settle is the recovery's.
        proxy.set(Mode::Open);
        let url = line.scheduler_url.as_str();
        until("the deposit's block settled", &procs, || async {
            metric(url, "starfarm_l1_last_settled_block").await == Some(0.0)
        })
        .await;
        let done_before = metric(url, r#"starfarm_jobs{state="done"}"#).await;
        let txs = [
            Transaction::deploy_account(&alice),
            Transaction::transfer(&alice, 1, bob.address(), 10),
            Transaction::withdraw(&alice, 2, address_to_felt(user.address()), 100),
        ];
        let mut hashes = Vec::new();
        for tx in &txs {
            hashes.push(line.l2.add_transaction(tx).await.unwrap());
        }
        let settlement_failures = "settlement step failed; will retry";
        let seen = lines_with(&line.scheduler, settlement_failures);
        let outage = Instant::now();
        let mut proven_twice = 0;
        while proven_twice < 2 {
            for mode in [Mode::Refuse, Mode::JsonRpcError, Mode::Blackhole] {
                proxy.set(mode);
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            assert!(
                outage.elapsed() < PATIENCE,
                "never proven:\n{}",
                line.scheduler.output()
            );
            // Proven: more jobs done than before, none in flight (twice in a row, so that a
            // block's aggregation not created yet does not count as the end).
            let done = metric(url, r#"starfarm_jobs{state="done"}"#).await;
            let mut active = 0.0;
            for state in ["queued", "leased", "proving", "verifying"] {
                let series = format!("starfarm_jobs{{state=\"{state}\"}}");
                active += metric(url, &series).await.unwrap_or(0.0);
            }
            let proven = done > done_before && active == 0.0;
            proven_twice = if proven { proven_twice + 1 } else { 0 };
        }
        for hash in &hashes {
            let status = line.l2.status(*hash).await.unwrap();
            assert_eq!(
                status.finality_status, "ACCEPTED_ON_L2",
                "not settled during the outage"
            );
        }
        let outage = outage.elapsed();
        // Healed as a partition heals: calls stuck in the silence are not cut here, only
        // the client's timeout ends them.
        proxy.set(Mode::Open);
        let healed = Instant::now();
        for hash in &hashes {
            until("ACCEPTED_ON_L1", &procs, || async {
                let status = line.l2.status(*hash).await;
                status.is_ok_and(|s| s.finality_status == "ACCEPTED_ON_L1")
            })
            .await;
        }
        let settled_after = healed.elapsed();
        assert!(
            lines_with(&line.scheduler, settlement_failures) > seen,
            "the outage was seen:\n{}",
            line.scheduler.output()
        );

        // Nothing skipped, nothing twice.
        let operator = L1Client::connect(&anvil.url, DEV_KEYS[0])
            .await
            .unwrap()
            .attach(line.deployment);
        let number = support::assert_l1_matches_l2(&line.l2, &operator).await;
        until("the metrics caught up", &procs, || async {
            metric(url, "starfarm_l1_last_settled_block").await == Some(number as f64)
        })
        .await;
        let reverted = r#"starfarm_l1_submissions_total{call="updateState",result="reverted"}"#;
        assert_eq!(metric(url, reverted).await, None, "no range settled twice");
        assert_eq!(
            metric(url, "starfarm_l1_settlement_stopped").await,
            Some(0.0)
        );
        let log = starfarm_l1::settled_log::SettledLog::new(operator, 0, 0);
        log.refresh().await.unwrap();
        let mut settled = Vec::new();
        for block in 0..=number {
            if log.get(block).await.unwrap().is_some() {
                settled.push(block);
            }
        }
        let every: Vec<u64> = (0..=number).collect();
        assert_eq!(
            settled, every,
            "every block settled, in order, none skipped"
        );
        assert_eq!(
            line.balance(alice.address()).await,
            1_000 - 10 - 100,
            "deposited once"
        );
        user.consume_withdrawal(alice.address(), 100)
            .await
            .expect("the withdrawal settled");
        eprintln!(
            "L1 faults: deposit on L2 {:.1} s after L1 answered again (slowly); after a \
             {:.0} s outage, all transactions ACCEPTED_ON_L1 {:.1} s after L1 returned",
            deposit_delay.as_secs_f64(),
            outage.as_secs_f64(),
            settled_after.as_secs_f64()
        );
    });
}
