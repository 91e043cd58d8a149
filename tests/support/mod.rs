//! Helpers shared by the real-process tests: a `starfarm` child process whose stderr is
//! collected, killed by its PID when dropped.

#![allow(dead_code)] // each test binary uses its own part

pub mod farm;
pub mod line;
pub mod postgres;
pub mod prometheus;
pub mod proxy;
pub mod s3;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Long enough for any wait of a test on a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(480);

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.local_addr().expect("address").port()
}

/// A child process whose output lines (stdout and stderr) are collected; SIGKILLed when
/// dropped.
pub struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_with_env(args, &[])
    }

    /// [`Proc::spawn`] with more environment variables (an object store's settings, …).
    pub fn spawn_with_env(args: &[&str], env: &[(String, String)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_starfarm"))
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starfarm starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        collect(stdout, Arc::clone(&lines));
        let stderr = child.stderr.take().expect("piped stderr");
        collect(stderr, Arc::clone(&lines));
        Self { child, lines }
    }

    pub fn output(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// Waits for an output line containing `needle` and returns it.
    pub async fn line_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let found = self
                .lines
                .lock()
                .expect("lines")
                .iter()
                .find(|l| l.contains(needle))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?} in:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    pub fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Waits for the process to exit by itself; its exit status.
    pub async fn exited(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The first `http://` URL in `line` (a "… listening on http://…" line).
pub fn url_in(line: &str) -> String {
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string()
}

/// `starfarm sequencer run` on a free port, keeping its state in `dir/sequencer` and
/// publishing to `dir/objects`, with admin token `admin` and an hour-long block time (blocks
/// close when a test asks); and its URL.
pub async fn start_sequencer(dir: &std::path::Path, admin: &str) -> (Proc, String) {
    let objects = dir.join("objects");
    let admin = ["--admin-token", admin];
    spawn_sequencer(&dir.join("sequencer"), &objects, 3_600_000, &admin).await
}

/// `starfarm sequencer run` on a free port with its database in `data`, publishing to
/// `objects`, closing a block `block_time_ms` after its first transaction, with `extra`
/// arguments; and its URL.
pub async fn spawn_sequencer(
    data: &std::path::Path,
    objects: &std::path::Path,
    block_time_ms: u64,
    extra: &[&str],
) -> (Proc, String) {
    let objects = objects.to_str().expect("UTF-8 path");
    spawn_sequencer_publishing(data, objects, block_time_ms, extra, &[]).await
}

/// [`spawn_sequencer`] publishing to `location` (a folder or an object_store URL such as
/// `s3://bucket/prefix`) with more environment variables (`env`: the store's settings).
pub async fn spawn_sequencer_publishing(
    data: &std::path::Path,
    location: &str,
    block_time_ms: u64,
    extra: &[&str],
    env: &[(String, String)],
) -> (Proc, String) {
    let block_time = block_time_ms.to_string();
    let mut args = vec![
        "sequencer",
        "run",
        "--rpc",
        "127.0.0.1:0",
        "--block-time-ms",
        &block_time,
        "--data",
        data.to_str().expect("UTF-8 path"),
        "--publish",
        location,
    ];
    args.extend_from_slice(extra);
    let proc = Proc::spawn_with_env(&args, env);
    let url = url_in(&proc.line_with("sequencer listening on").await);
    (proc, url)
}

/// An admin deposit of 1 000 000 to each of `accounts` and its deployment (admitted, no
/// block closed); the acknowledged hashes in order.
pub async fn fund_and_deploy(
    l2: &starfarm_sequencer::client::Client,
    accounts: &[starfarm_sequencer::tx::KeyPair],
) -> Vec<starfarm_sequencer::Felt> {
    use starfarm_sequencer::tx::{Deposit, Transaction};
    let mut hashes = Vec::new();
    for (i, k) in accounts.iter().enumerate() {
        let deposit = Deposit {
            l1_sender: starfarm_sequencer::Felt::ONE,
            recipient: k.address(),
            amount: 1_000_000,
            l1_nonce: i as u64,
        };
        hashes.push(l2.admin_deposit(&deposit).await.expect("deposit admitted"));
        let deploy = Transaction::deploy_account(k);
        hashes.push(
            l2.add_transaction(&deploy)
                .await
                .expect("deployment admitted"),
        );
    }
    hashes
}

/// A sample of the `/metrics` of the server at `base` (`name{labels}` as written there).
pub async fn metric(base: &str, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(stream: impl std::io::Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            lines.lock().expect("lines").push(line);
        }
    });
}

/// Signs attestations: a registered signer of the deployments [`deploy_l1`] makes.
pub const ATTEST_KEY: &str = "0x4242424242424242424242424242424242424242424242424242424242424242";

/// `starfarm l1 deploy` on the Ethereum node at `rpc` into the file `deployment`, paid by the
/// operator (anvil's first dev key), the TRUSTED attested registry (`--verifier attested`)
/// with [`ATTEST_KEY`] registered and 18 bits minimum (the test profile, NOT secure); the
/// deployment file as JSON.
pub fn deploy_l1(rpc: &str, deployment: &str) -> serde_json::Value {
    l1_deploy(
        rpc,
        deployment,
        &[
            "--attest-key",
            ATTEST_KEY,
            "--min-security-bits",
            "18",
            "--verifier",
            "attested",
        ],
    )
}

/// `starfarm l1 deploy` with the verifying registry (the default, `--verifier stwo`): the
/// block program accepted at the `l1-test` profile, derived from the program alone, and the
/// floor at its 20 bits (NOT secure); no key is registered anywhere. The deployment file as
/// JSON.
pub fn deploy_l1_verifying(rpc: &str, deployment: &str) -> serde_json::Value {
    l1_deploy(
        rpc,
        deployment,
        &[
            "--accept-program",
            "block",
            "--profile",
            "l1-test",
            "--min-security-bits",
            "20",
        ],
    )
}

/// `starfarm l1 deploy --rpc rpc --deployment deployment` paid by anvil's first dev key, with
/// `args`, no attestation key from the environment; the deployment file as JSON.
fn l1_deploy(rpc: &str, deployment: &str, args: &[&str]) -> serde_json::Value {
    let deploy = Command::new(env!("CARGO_BIN_EXE_starfarm"))
        .args(["l1", "deploy", "--rpc", rpc])
        .args(["--key", starfarm_l1::anvil::DEV_KEYS[0]])
        .args(["--deployment", deployment])
        .args(args)
        .env_remove("STARFARM_ATTEST_KEY")
        .output()
        .expect("starfarm runs");
    assert!(
        deploy.status.success(),
        "l1 deploy: {}",
        String::from_utf8_lossy(&deploy.stderr)
    );
    serde_json::from_slice(&std::fs::read(deployment).expect("deployment file")).expect("JSON")
}

/// Asserts that L1 holds the sequencer's latest block (number, hash, state root) and no
/// range in progress; returns the latest block number.
pub async fn assert_l1_matches_l2(
    l2: &starfarm_sequencer::client::Client,
    l1: &starfarm_l1::L1Client,
) -> u64 {
    use serde_json::{json, Value};
    use starfarm_sequencer::Felt;
    let latest: Value = l2
        .call("starknet_blockHashAndNumber", json!([]))
        .await
        .expect("latest block");
    let update: Value = l2
        .call("starknet_getStateUpdate", json!({"block_id": "latest"}))
        .await
        .expect("latest state update");
    let felt = |v: &Value| Felt::from_hex(v.as_str().expect("hex")).expect("felt");
    let number = latest["block_number"].as_u64().expect("a block number");
    let state = l1.state().await.expect("L1 state");
    assert_eq!(state.last_block(), Some(number), "{state:?}");
    assert_eq!(state.block_hash, felt(&latest["block_hash"]));
    assert_eq!(state.state_root, felt(&update["new_root"]));
    assert_eq!(state.tx_index, 0);
    number
}
