//! `starfarm node` end to end with real processes: a sequencer publishes blocks to a folder;
//! a replay node and an l2 node follow it, serve the same reads block for block (also to
//! starknet-rs), resume after a restart, and refuse blocks whose published state diff or root
//! was tampered with. An l1 node (anvil, `starfarm l1 deploy`, blocks settled by the test
//! with attested facts, no proofs) follows exactly the settled blocks and refuses a settled
//! block whose published diff does not reach L1's root.

// The helpers run only inside tests: a panic there is the test's failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use starfarm_l1::anvil::{Anvil, DEV_KEYS};
use starfarm_l1::{L1Client, PrivateKeySigner, U256};
use starfarm_sequencer::client::{Client, ClientError};
use starfarm_sequencer::program_input::BlockProverInput;
use starfarm_sequencer::publish::{manifest_name, Publisher};
use starfarm_sequencer::testing::runtime;
use starfarm_sequencer::tx::{Deposit, KeyPair, Transaction};
use starfarm_sequencer::Felt;
use starknet_core::types as sn;
use starknet_providers::jsonrpc::HttpTransport;
use starknet_providers::{JsonRpcClient, Provider, Url};
use support::{deploy_l1, start_sequencer, url_in, Proc, ATTEST_KEY};

mod support;

const ADMIN: &str = "test-admin-token";
const MODES: [&str; 2] = ["replay", "l2"];

async fn sequencer(dir: &Path) -> (Proc, Client) {
    let (proc, url) = start_sequencer(dir, ADMIN).await;
    (proc, Client::new(url).with_admin_token(ADMIN))
}

async fn node(mode: &str, source: &Path, data: &Path) -> (Proc, Client) {
    node_with(mode, source.to_str().unwrap(), data, &[]).await
}

/// A node reading `source` (a folder or URL), with more arguments (`extra`).
async fn node_with(mode: &str, source: &str, data: &Path, extra: &[&str]) -> (Proc, Client) {
    let mut args = vec![
        "node",
        "--mode",
        mode,
        "--source",
        source,
        "--data",
        data.to_str().unwrap(),
        "--rpc",
        "127.0.0.1:0",
        "--poll-ms",
        "100",
    ];
    args.extend_from_slice(extra);
    let proc = Proc::spawn(&args);
    let url = url_in(&proc.line_with("node listening on").await);
    (proc, Client::new(url))
}

fn keys(i: u64) -> KeyPair {
    KeyPair::from_private(Felt::from(9_000 + i))
}

/// Block: a deposit and the deployment of each account. The deposits are made on L1 through
/// the bridge first when `l1` is given (a block can settle only if L1 holds its deposits).
async fn open_accounts(seq: &Client, accounts: &[KeyPair], l1: Option<&L1Client>) {
    for (i, k) in accounts.iter().enumerate() {
        let mut deposit = Deposit {
            l1_sender: Felt::ONE,
            recipient: k.address(),
            amount: 1_000_000,
            l1_nonce: i as u64,
        };
        if let Some(l1) = l1 {
            let (_, message) = l1
                .deposit(k.address(), U256::from(deposit.amount))
                .await
                .unwrap();
            (deposit.l1_sender, deposit.l1_nonce) = (message.from_felt(), message.nonce);
        }
        seq.admin_deposit(&deposit).await.unwrap();
        seq.add_transaction(&Transaction::deploy_account(k))
            .await
            .unwrap();
    }
    seq.close_block().await.unwrap().expect("a block");
}

/// Block: two transfers per account (to the next account and to a fresh address) and a
/// withdrawal.
async fn transfers(seq: &Client, accounts: &[KeyPair], round: u64) {
    for (i, k) in accounts.iter().enumerate() {
        let nonce = seq.nonce(k.address()).await.unwrap();
        let next = accounts[(i + 1) % accounts.len()].address();
        let fresh = Felt::from(0x5000 + round * 100 + i as u64);
        for (j, to) in [next, fresh].into_iter().enumerate() {
            let tx = Transaction::transfer(k, nonce + j as u64, to, 10 + round as u128);
            seq.add_transaction(&tx).await.unwrap();
        }
        if i == 0 {
            let tx = Transaction::withdraw(k, nonce + 2, Felt::from(0xabcu64), 7);
            seq.add_transaction(&tx).await.unwrap();
        }
    }
    seq.close_block().await.unwrap().expect("a block");
}

async fn wait_published(objects: &Path, number: u64) {
    let publisher = Publisher::from_location(objects.to_str().unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while publisher.highest_published().await.unwrap() < Some(number) {
        assert!(Instant::now() < deadline, "block {number} not published");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sync_status(node: &Client) -> Value {
    node.call("starfarm_syncStatus", json!([])).await.unwrap()
}

/// Waits until the node holds block `number` and knows of nothing newer.
async fn wait_synced(node: &Client, proc: &Proc, number: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = sync_status(node).await;
        if status["synced_block"] == json!(number) && status["blocks_behind"] == json!(0) {
            return status;
        }
        assert!(
            status["refused"].is_null(),
            "refused: {status}\n{}",
            proc.output()
        );
        assert!(
            Instant::now() < deadline,
            "not synced to {number}: {status}\n{}",
            proc.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the node refused a block; its status.
async fn wait_refused(node: &Client, proc: &Proc) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = sync_status(node).await;
        if !status["refused"].is_null() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "nothing refused: {status}\n{}",
            proc.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The node answers every read of blocks `0..=last` exactly as the sequencer does.
async fn assert_same_chain(seq: &Client, node: &Client, last: u64) {
    for n in 0..=last {
        let id = json!({ "block_number": n });
        for method in [
            "starknet_getStateUpdate",
            "starknet_getBlockWithReceipts",
            "starknet_getBlockWithTxHashes",
        ] {
            let expected: Value = seq.call(method, json!([id])).await.unwrap();
            let got: Value = node.call(method, json!([id])).await.unwrap();
            assert_eq!(got, expected, "{method} of block {n}");
        }
    }
    let block: Value = seq
        .call(
            "starknet_getBlockWithTxHashes",
            json!([{ "block_number": last }]),
        )
        .await
        .unwrap();
    let latest: Value = node
        .call("starknet_blockHashAndNumber", json!([]))
        .await
        .unwrap();
    assert_eq!(
        latest,
        json!({ "block_hash": block["block_hash"], "block_number": last })
    );
    for i in 0..4 {
        let address = keys(i).address();
        let expected: Value = seq
            .call(
                "starfarm_getAccount",
                json!([address, { "block_number": last }]),
            )
            .await
            .unwrap();
        let got: Value = node
            .call("starfarm_getAccount", json!([address, "latest"]))
            .await
            .unwrap();
        assert_eq!(got, expected, "account {i}");
    }
}

fn applied_blocks(metrics: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with("starfarm_node_applied_blocks_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no applied-blocks metric in {metrics}"))
}

async fn metrics(proc: &Proc) -> String {
    let base = url_in(&proc.line_with("node listening on").await);
    reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[test]
fn nodes_follow_the_sequencer_and_resume_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    let accounts: Vec<KeyPair> = (0..4).map(keys).collect();
    runtime().block_on(async {
        let (seq_proc, seq) = sequencer(dir.path()).await;
        open_accounts(&seq, &accounts, None).await;
        for round in 1..=3 {
            transfers(&seq, &accounts, round).await;
        }
        wait_published(&objects, 3).await;

        let mut nodes = Vec::new();
        for mode in MODES {
            nodes.push(node(mode, &objects, &dir.path().join(mode)).await);
        }
        for (mode, (proc, client)) in MODES.iter().zip(&nodes) {
            let status = wait_synced(client, proc, 3).await;
            assert_eq!(status["mode"], json!(mode));
            assert_eq!(status["highest_block"], json!(3));
            let syncing: Value = client.call("starknet_syncing", json!([])).await.unwrap();
            assert_eq!(syncing, json!(false), "{mode}");
            assert_same_chain(&seq, client, 3).await;
            assert_starknet_rs_reads_the_same(&seq_proc, proc, 3).await;
            if *mode == "l2" {
                assert_starknet_js_reads_events(&seq_proc, proc).await;
            }
            // Reads only: a transaction sent to a node is refused with a clear reason.
            let tx = Transaction::transfer(&accounts[0], 99, Felt::from(5u64), 1);
            match client.add_transaction(&tx).await {
                Err(ClientError::Rpc { code, data, .. }) => {
                    assert_eq!(code, -32001);
                    assert!(format!("{data:?}").contains("read-only node"), "{data:?}");
                }
                other => panic!("{mode}: a node took a transaction: {other:?}"),
            }
            assert_eq!(applied_blocks(&metrics(proc).await), 4, "{mode}");
        }

        // The sequencer's JSON-RPC as the source, instead of its object store.
        let seq_url = url_in(&seq_proc.line_with("sequencer listening on").await);
        let data = dir.path().join("l2-rpc");
        let (rpc_proc, rpc_node) = node_with("l2", &seq_url, &data, &[]).await;
        wait_synced(&rpc_node, &rpc_proc, 3).await;
        assert_same_chain(&seq, &rpc_node, 3).await;
        assert_starknet_rs_reads_the_same(&seq_proc, &rpc_proc, 3).await;
        drop(rpc_proc);

        // Stopped nodes resume where they stopped: only the new blocks are applied.
        for (proc, _) in &mut nodes {
            proc.signal("TERM");
            assert!(proc.exited().await.success(), "{}", proc.output());
        }
        transfers(&seq, &accounts, 4).await;
        transfers(&seq, &accounts, 5).await;
        wait_published(&objects, 5).await;
        for mode in MODES {
            let (proc, client) = node(mode, &objects, &dir.path().join(mode)).await;
            assert!(
                proc.line_with("node listening on")
                    .await
                    .contains("resuming after block 3"),
                "{}",
                proc.output()
            );
            wait_synced(&client, &proc, 5).await;
            assert_same_chain(&seq, &client, 5).await;
            assert_eq!(applied_blocks(&metrics(&proc).await), 2, "{mode}");
        }
    });
}

/// Copies a folder tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Rewrites block `number` in the object store at `objects` as `edit` changes it, with valid
/// content hashes (what someone with write access to the store could do).
async fn tamper(objects: &Path, number: u64, edit: impl FnOnce(&mut Value)) {
    let publisher = Publisher::from_location(objects.to_str().unwrap()).unwrap();
    let mut manifest = publisher.manifest(number).await.unwrap().unwrap();
    let block = publisher.block(&manifest).await.unwrap();
    let mut value = serde_json::to_value(&block).unwrap();
    edit(&mut value);
    let bytes = serde_json::to_vec(&value).unwrap();
    manifest.block = publisher.put_object(bytes).await.unwrap();
    manifest.state_root = Felt::from_hex(value["header"]["state_root"].as_str().unwrap()).unwrap();
    std::fs::write(
        objects.join(manifest_name(number)),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// A copy of the store at `objects` in `to`, with block `number` altered by `edit`.
async fn altered_copy(objects: &Path, to: &Path, number: u64, edit: impl FnOnce(&mut Value)) {
    copy_tree(objects, to);
    tamper(to, number, edit).await;
}

/// Credits the first account of a block's state diff more.
fn credit_more(block: &mut Value) {
    block["state_diff"]["accounts"][0]["after"]["balance"] = json!("0xffffff");
}

#[test]
fn nodes_refuse_blocks_whose_state_diff_or_root_was_altered() {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    let accounts: Vec<KeyPair> = (0..4).map(keys).collect();
    runtime().block_on(async {
        let (_seq_proc, seq) = sequencer(dir.path()).await;
        open_accounts(&seq, &accounts, None).await;
        transfers(&seq, &accounts, 1).await;
        transfers(&seq, &accounts, 2).await;
        wait_published(&objects, 2).await;

        // Block 2's state diff credits someone more; or its state root is another one.
        let diff_store = dir.path().join("objects-diff");
        altered_copy(&objects, &diff_store, 2, credit_more).await;
        let root_store = dir.path().join("objects-root");
        altered_copy(&objects, &root_store, 2, |block| {
            block["header"]["state_root"] = json!("0x1234");
        })
        .await;

        let mut running = Vec::new();
        for (name, store) in [("diff", &diff_store), ("root", &root_store)] {
            for mode in MODES {
                let data = dir.path().join(format!("{mode}-{name}"));
                running.push((name, mode, node(mode, store, &data).await));
            }
        }
        for (name, mode, (proc, client)) in &running {
            let status = wait_refused(client, proc).await;
            assert_eq!(status["refused"]["block_number"], json!(2), "{name} {mode}");
            assert_eq!(status["synced_block"], json!(1), "{name} {mode}: {status}");
            // Still serving the last good state, identical to the sequencer's.
            assert_same_chain(&seq, client, 1).await;
            // Behind by the refused block: Starknet's sync object, not `false`.
            let syncing: Value = client.call("starknet_syncing", json!([])).await.unwrap();
            assert_eq!(syncing["current_block_num"], json!(1), "{syncing}");
            assert_eq!(syncing["highest_block_num"], json!(2), "{syncing}");
            let metrics = metrics(proc).await;
            assert!(
                metrics
                    .lines()
                    .any(|l| l.starts_with("starfarm_node_refused_block") && l.ends_with(" 2")),
                "{metrics}"
            );
            assert!(
                proc.output().contains("REFUSED block 2"),
                "{}",
                proc.output()
            );
        }
    });
}

/// starknet-rs's provider on a process's JSON-RPC server (the URL its `needle` line names).
async fn starknet_rs(proc: &Proc, needle: &str) -> JsonRpcClient<HttpTransport> {
    let base = url_in(&proc.line_with(needle).await);
    let url = Url::parse(&format!("{base}/rpc/v0_9")).unwrap();
    JsonRpcClient::new(HttpTransport::new(url))
}

/// starknet-rs reads the same answers from the node as from the sequencer, for blocks
/// `0..=last` and the test's accounts at `last`.
async fn assert_starknet_rs_reads_the_same(seq: &Proc, node: &Proc, last: u64) {
    let (seq, node) = (
        starknet_rs(seq, "sequencer listening on").await,
        starknet_rs(node, "node listening on").await,
    );
    assert_eq!(node.block_number().await.unwrap(), last);
    for n in 0..=last {
        let id = sn::BlockId::Number(n);
        assert_eq!(
            node.get_block_with_tx_hashes(id).await.unwrap(),
            seq.get_block_with_tx_hashes(id).await.unwrap(),
            "block {n}"
        );
        assert_eq!(
            node.get_state_update(id).await.unwrap(),
            seq.get_state_update(id).await.unwrap(),
            "state update {n}"
        );
    }
    // Events too: every Transfer of blocks 0..=last, the same pages from both.
    let transfers = sn::EventFilter {
        from_block: Some(sn::BlockId::Number(0)),
        to_block: Some(sn::BlockId::Number(last)),
        address: Some(starfarm_sequencer::events::token_address()),
        keys: Some(vec![vec![starfarm_sequencer::events::selector("Transfer")]]),
    };
    let from_node = node
        .get_events(transfers.clone(), None, 1000)
        .await
        .unwrap();
    assert!(
        !from_node.events.is_empty(),
        "the accounts' deposits are Transfer events"
    );
    assert_eq!(
        from_node,
        seq.get_events(transfers, None, 1000).await.unwrap()
    );
    let id = sn::BlockId::Number(last);
    for i in 0..4 {
        let address = keys(i).address();
        assert_eq!(
            node.get_nonce(id, address).await.unwrap(),
            seq.get_nonce(id, address).await.unwrap(),
            "nonce of account {i}"
        );
        assert_eq!(
            node.get_class_hash_at(id, address).await.unwrap(),
            seq.get_class_hash_at(id, address).await.unwrap(),
            "class hash of account {i}"
        );
    }
}

/// starknet.js (default settings) reads the same Transfer events from the node as from the
/// sequencer, following continuation tokens, and a transfer's receipt carries its event.
/// Needs STARFARM_STARKNET_JS (`scripts/starknet-js.sh`, run by `scripts/test.sh`); skipped
/// loudly without it, unless `STARFARM_REQUIRE_STARKNET_JS=1` (CI).
async fn assert_starknet_js_reads_events(seq: &Proc, node: &Proc) {
    let Some(package) = std::env::var_os("STARFARM_STARKNET_JS") else {
        assert!(
            std::env::var("STARFARM_REQUIRE_STARKNET_JS").as_deref() != Ok("1"),
            "STARFARM_REQUIRE_STARKNET_JS=1 but STARFARM_STARKNET_JS is unset (run scripts/starknet-js.sh)"
        );
        eprintln!(
            "SKIPPED: starknet.js reads (run scripts/starknet-js.sh, set STARFARM_STARKNET_JS)"
        );
        return;
    };
    let (token, transfer) = (
        starfarm_sequencer::events::token_address(),
        starfarm_sequencer::events::selector("Transfer"),
    );
    let filter = sn::EventFilter {
        from_block: Some(sn::BlockId::Number(0)),
        to_block: Some(sn::BlockId::Tag(sn::BlockTag::Latest)),
        address: Some(token),
        keys: Some(vec![vec![transfer]]),
    };
    let expected = starknet_rs(seq, "sequencer listening on")
        .await
        .get_events(filter, None, 1000)
        .await
        .unwrap()
        .events;
    let between_accounts = expected
        .iter()
        .find(|e| e.keys[1] != Felt::ZERO)
        .expect("a transfer between accounts");
    for (proc, needle) in [(seq, "sequencer listening on"), (node, "node listening on")] {
        let url = format!("{}/rpc/v0_9", url_in(&proc.line_with(needle).await));
        let out = std::process::Command::new("node")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/read_events.cjs"))
            .args([
                url.as_str(),
                &format!("{token:#x}"),
                &format!("{transfer:#x}"),
            ])
            .arg(format!("{:#x}", between_accounts.transaction_hash))
            .env("STARFARM_STARKNET_JS", &package)
            .output()
            .expect("node runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "starknet.js against {url}: {stderr}");
        let read: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
        let felts = |v: &Value| -> Vec<Felt> {
            v.as_array()
                .expect("an array of felts")
                .iter()
                .map(|f| Felt::from_hex(f.as_str().expect("a hex felt")).expect("a felt"))
                .collect()
        };
        let events = read["events"].as_array().expect("events");
        let got: Vec<(Vec<Felt>, Vec<Felt>)> = events
            .iter()
            .map(|e| (felts(&e["keys"]), felts(&e["data"])))
            .collect();
        let want: Vec<(Vec<Felt>, Vec<Felt>)> = expected
            .iter()
            .map(|e| (e.keys.clone(), e.data.clone()))
            .collect();
        assert_eq!(got, want, "starknet.js against {url}");
        assert!(read["pages"].as_u64() > Some(1), "two a page: {read}");
        let receipt_events = read["receipt_events"].as_array().expect("receipt events");
        assert_eq!(receipt_events.len(), 1, "{read}");
        assert_eq!(felts(&receipt_events[0]["keys"]), between_accounts.keys);
    }
}

/// anvil with the contracts `starfarm l1 deploy` deployed, and the operator's client on
/// them (it settles blocks as the settlement line would, without proofs: the registry takes
/// facts attested by ATTEST_KEY).
struct L1 {
    operator: L1Client,
    program_hash: Felt,
    deployment: String,
    anvil: Anvil,
}

impl L1 {
    async fn deploy(anvil: Anvil, dir: &Path) -> Self {
        let deployment = dir.join("l1-deployment.json").display().to_string();
        let file = deploy_l1(&anvil.url, &deployment);
        let operator = L1Client::connect(&anvil.url, DEV_KEYS[0])
            .await
            .unwrap()
            .attach(serde_json::from_value(file.clone()).unwrap());
        L1 {
            operator,
            program_hash: serde_json::from_value(file["program_hash"].clone()).unwrap(),
            deployment,
            anvil,
        }
    }

    /// Settles block `number` in one range, its output computed from the prover input the
    /// sequencer published in `objects`.
    async fn settle(&self, objects: &Path, number: u64) {
        let publisher = Publisher::from_location(objects.to_str().unwrap()).unwrap();
        let manifest = publisher.manifest(number).await.unwrap().unwrap();
        let object = manifest.prover_input.as_ref().unwrap();
        let bytes = publisher.get_object(object).await.unwrap();
        let input: BlockProverInput = serde_json::from_slice(&bytes).unwrap();
        let range = input.range(0, input.tx_count()).unwrap();
        let output = range.expected_output().to_felts();
        let key: PrivateKeySigner = ATTEST_KEY.parse().unwrap();
        let settled = self
            .operator
            .settle_attested(&key, self.program_hash, &output, 96);
        settled.await.unwrap();
    }

    async fn node(&self, source: &Path, data: &Path) -> (Proc, Client) {
        let l1 = [
            "--l1-deployment",
            &self.deployment,
            "--l1-rpc",
            &self.anvil.url,
        ];
        node_with("l1", source.to_str().unwrap(), data, &l1).await
    }
}

#[test]
fn an_l1_node_follows_exactly_the_settled_blocks_and_refuses_a_diff_l1_disagrees_with() {
    let Some(anvil) = Anvil::for_tests() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    let accounts: Vec<KeyPair> = (0..4).map(keys).collect();
    runtime().block_on(async {
        let l1 = L1::deploy(anvil, dir.path()).await;
        let (seq_proc, seq) = sequencer(dir.path()).await;
        open_accounts(&seq, &accounts, Some(&l1.operator)).await;
        for round in 1..=3 {
            transfers(&seq, &accounts, round).await;
        }
        wait_published(&objects, 3).await;
        // A copy of the store whose block 3 credits someone more (not settled yet).
        let tampered = dir.path().join("objects-tampered");
        altered_copy(&objects, &tampered, 3, credit_more).await;
        for n in 0..=1 {
            l1.settle(&objects, n).await;
        }
        let (proc, node) = l1.node(&objects, &dir.path().join("l1")).await;
        let (tampered_proc, tampered_node) = l1.node(&tampered, &dir.path().join("l1-t")).await;

        // The sequencer is at block 3; the nodes stop at the last settled block, 1.
        for (proc, client) in [(&proc, &node), (&tampered_proc, &tampered_node)] {
            let status = wait_synced(client, proc, 1).await;
            assert_eq!(status["mode"], json!("l1"));
            assert_eq!(status["highest_block"], json!(1), "{status}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(sync_status(&node).await["synced_block"], json!(1));
        assert_same_chain(&seq, &node, 1).await;
        assert_starknet_rs_reads_the_same(&seq_proc, &proc, 1).await;

        // Settle more: the node follows, block for block the sequencer's.
        for n in 2..=3 {
            l1.settle(&objects, n).await;
        }
        let status = wait_synced(&node, &proc, 3).await;
        assert_eq!(status["highest_block"], json!(3), "{status}");
        assert_same_chain(&seq, &node, 3).await;
        assert_starknet_rs_reads_the_same(&seq_proc, &proc, 3).await;

        // Block 3 of the tampered store does not reach the root L1 settled: refused.
        let status = wait_refused(&tampered_node, &tampered_proc).await;
        assert_eq!(status["refused"]["block_number"], json!(3), "{status}");
        assert_eq!(status["synced_block"], json!(2), "{status}");
        let reason = status["refused"]["reason"].as_str().unwrap();
        assert!(reason.contains("settled on L1"), "{reason}");
        assert_same_chain(&seq, &tampered_node, 2).await;
        let metrics = metrics(&tampered_proc).await;
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("starfarm_node_refused_block") && l.ends_with(" 3")),
            "{metrics}"
        );
        assert!(tampered_proc.output().contains("REFUSED block 3"));
    });
}

/// `starfarm node` with `args` exits unsuccessfully and says `expected`.
fn refuses(args: &[&str], expected: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_starfarm"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(expected),
        "{args:?}: {stderr}"
    );
}

#[test]
fn l1_flags_go_with_mode_l1_only() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, data) = (dir.path().join("objects"), dir.path().join("node"));
    let (objects, data) = (objects.to_str().unwrap(), data.to_str().unwrap());
    let node = [
        "node",
        "--source",
        objects,
        "--data",
        data,
        "--rpc",
        "127.0.0.1:0",
    ];
    let l1 = [node.as_slice(), &["--mode", "l1"]].concat();
    refuses(&l1, "--mode l1 needs --l1-deployment");
    let l2 = [
        node.as_slice(),
        &["--mode", "l2", "--l1-deployment", "d.json"],
    ]
    .concat();
    refuses(&l2, "--l1-deployment is for --mode l1, not l2");
    let missing = [l1.as_slice(), &["--l1-deployment", "missing.json"]].concat();
    refuses(&missing, "missing.json");
    // Nothing was opened: the folder is still free for any mode.
    assert!(!dir.path().join("node").join("node.redb").exists());
}
