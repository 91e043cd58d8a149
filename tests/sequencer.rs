//! The `starfarm sequencer` process end to end: crash safety (SIGKILL after acknowledgements)
//! and publishing to the object store.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use starfarm_sequencer::client::Client;
use starfarm_sequencer::program_input::BlockProverInput;
use starfarm_sequencer::publish::Publisher;
use starfarm_sequencer::testing::runtime;
use starfarm_sequencer::tx::{KeyPair, Transaction};
use starfarm_sequencer::Felt;
use support::{start_sequencer, Proc};

mod support;

const ADMIN: &str = "test-admin-token";

/// A sequencer process; killed (SIGKILL) when dropped.
struct SequencerProcess {
    _proc: Proc,
    url: String,
}

impl SequencerProcess {
    fn start(data: &Path) -> Self {
        let (proc, url) = runtime().block_on(start_sequencer(data, ADMIN));
        SequencerProcess { _proc: proc, url }
    }

    fn client(&self) -> Client {
        Client::new(self.url.clone()).with_admin_token(ADMIN)
    }

    /// SIGKILL, and waits until the process is gone.
    fn kill(self) {
        drop(self);
    }
}

fn keys(i: u64) -> KeyPair {
    KeyPair::from_private(Felt::from(7_000 + i))
}

/// Funds and deploys `accounts`, then sends `per_account` transfers from each, concurrently;
/// returns every acknowledged hash.
async fn send_load(client: &Client, accounts: &[KeyPair], per_account: u64) -> Vec<Felt> {
    let mut hashes = support::fund_and_deploy(client, accounts).await;
    let sends = accounts.iter().map(|k| async move {
        let mut acked = Vec::new();
        for nonce in 1..=per_account {
            let tx = Transaction::transfer(k, nonce, keys(99).address(), 3);
            acked.push(client.add_transaction(&tx).await.expect("ok"));
        }
        acked
    });
    for acked in futures::future::join_all(sends).await {
        hashes.extend(acked);
    }
    hashes
}

#[test]
fn acknowledged_transactions_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let accounts: Vec<KeyPair> = (0..4).map(keys).collect();
    let first = SequencerProcess::start(dir.path());
    let acked = rt.block_on(send_load(&first.client(), &accounts, 25));
    first.kill();

    let second = SequencerProcess::start(dir.path());
    let client = second.client();
    rt.block_on(async {
        for hash in &acked {
            let status = client
                .status(*hash)
                .await
                .unwrap_or_else(|e| panic!("{hash:#x} lost: {e}"));
            assert!(
                ["RECEIVED", "PRE_CONFIRMED"].contains(&status.finality_status.as_str()),
                "{hash:#x}: {status:?}"
            );
        }
        let header = client.close_block().await.unwrap().expect("a block");
        assert_eq!(
            header.tx_count,
            acked.len() as u64,
            "every acknowledged transaction, once"
        );
        for hash in &acked {
            let status = client.status(*hash).await.unwrap();
            assert_eq!(status.finality_status, "ACCEPTED_ON_L2");
            assert_eq!(status.execution_status.as_deref(), Some("SUCCEEDED"));
        }
        let sink = client
            .account(keys(99).address(), serde_json::json!("latest"))
            .await
            .unwrap();
        assert_eq!(sink.balance, 4 * 25 * 3);
    });
}

#[test]
fn closed_blocks_are_published_with_checked_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let process = SequencerProcess::start(dir.path());
    let client = process.client();
    let publisher = Publisher::from_location(dir.path().join("objects").to_str().unwrap()).unwrap();
    rt.block_on(async {
        send_load(&client, &[keys(1)], 3).await;
        let header = client.close_block().await.unwrap().unwrap();
        let manifest = loop {
            if let Some(m) = publisher.manifest(0).await.unwrap() {
                break m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(manifest.block_hash, header.block_hash);
        assert_eq!(manifest.state_root, header.state_root);
        let block = publisher.block(&manifest).await.unwrap();
        assert_eq!(block.header, header);
        assert_eq!(block.transactions.len(), 5);
        // The prover input replays natively to the block's root and hash, also when split.
        let input_ref = manifest
            .prover_input
            .clone()
            .expect("a prover input is published");
        let input: BlockProverInput =
            serde_json::from_slice(&publisher.get_object(&input_ref).await.unwrap()).unwrap();
        let whole = input.range(0, 5).unwrap().expected_output();
        assert_eq!(
            (whole.new_state_root, whole.block_hash),
            (header.state_root, header.block_hash)
        );
        let (first, second) = (
            input.range(0, 2).unwrap().expected_output(),
            input.range(2, 5).unwrap().expected_output(),
        );
        assert_eq!(first.new_state_root, second.previous_state_root);
        assert_eq!(second.new_state_root, header.state_root);
        // A corrupted object is refused, not served.
        let object = dir.path().join("objects").join(&manifest.block.path);
        std::fs::write(&object, b"{}").unwrap();
        assert!(publisher.block(&manifest).await.is_err());
    });
}

/// `starfarm tx …` drives a running sequencer without any JSON written by hand.
#[test]
fn tx_commands_deploy_transfer_and_report_status() {
    let dir = tempfile::tempdir().unwrap();
    let process = SequencerProcess::start(dir.path());
    let tx = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_starfarm"))
            .arg("tx")
            .args(args)
            .args(["--rpc", &process.url])
            .env("STARFARM_ADMIN_TOKEN", ADMIN)
            .current_dir(dir.path())
            .output()
            .expect("starfarm runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "tx {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let keygen = tx(&["keygen", "--out", "alice.json"]);
    let address = keygen
        .split_whitespace()
        .nth(1)
        .expect("address printed")
        .to_string();
    // Refuses to overwrite a key file.
    let again = Command::new(env!("CARGO_BIN_EXE_starfarm"))
        .args(["tx", "keygen", "--out", "alice.json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success());

    tx(&[
        "deposit",
        "--to",
        &address,
        "--amount",
        "1000",
        "--l1-nonce",
        "1",
    ]);
    tx(&["deploy-account", "--key", "alice.json"]);
    let hash = tx(&[
        "transfer",
        "--key",
        "alice.json",
        "--to",
        "0x1234",
        "--amount",
        "250",
    ]);
    let hash = hash.trim();
    assert!(
        tx(&["status", hash]).starts_with("RECEIVED")
            || tx(&["status", hash]).starts_with("PRE_CONFIRMED")
    );
    let rt = runtime();
    rt.block_on(process.client().close_block()).unwrap();
    assert_eq!(
        tx(&["status", hash, "--wait", "ACCEPTED_ON_L2"])
            .lines()
            .next(),
        Some("ACCEPTED_ON_L2 SUCCEEDED")
    );
    let metrics = rt
        .block_on(async {
            reqwest::get(format!("{}/metrics", process.url))
                .await?
                .text()
                .await
        })
        .unwrap();
    assert!(
        metrics.contains("starfarm_sequencer_transactions_total{status=\"succeeded\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("starfarm_sequencer_latest_block 0"),
        "{metrics}"
    );
    let account: serde_json::Value = serde_json::from_str(&tx(&["account", &address])).unwrap();
    assert_eq!(account["balance"], "0x2ee"); // 1000 - 250
    assert_eq!(account["nonce"], "0x2");
}
