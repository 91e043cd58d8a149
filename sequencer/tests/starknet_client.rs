//! starknet-rs's typed provider against the real sequencer (service + HTTP server): blocks,
//! state updates, nonces, storage, class hashes, statuses and receipts parse and say what the
//! sequencer did.

use std::time::Duration;

use starfarm_sequencer::chain::{BlockId, ChainReader, TxSubmitter};
use starfarm_sequencer::state::global_root;
use starfarm_sequencer::testing::{alice_and_bob, open_account, serve_sequencer};
use starfarm_sequencer::tx::{account_class_hash, KeyPair, Transaction};
use starfarm_sequencer::Felt;
use starknet_core::types as sn;
use starknet_providers::jsonrpc::HttpTransport;
use starknet_providers::{JsonRpcClient, Provider, Url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starknet_rs_reads_the_real_sequencer() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, addr) = serve_sequencer(dir.path()).await;
    let url = Url::parse(&format!("http://{addr}/rpc/v0_9")).unwrap();
    let client = JsonRpcClient::new(HttpTransport::new(url));

    let (alice, bob) = (
        KeyPair::from_private(Felt::from(11u32)),
        KeyPair::from_private(Felt::from(12u32)),
    );
    let (d, _) = open_account(seq.as_ref(), &alice, 1_000, Felt::from(0xe7u32), 5)
        .await
        .unwrap();
    let block0 = seq.close_block().await.unwrap().unwrap();
    let t1 = seq
        .submit(Transaction::transfer(&alice, 1, bob.address(), 400))
        .await
        .unwrap();
    let w = seq
        .submit(Transaction::withdraw(&alice, 2, Felt::from(0xbeefu32), 100))
        .await
        .unwrap();
    let block1 = seq.close_block().await.unwrap().unwrap();

    assert_eq!(client.block_number().await.unwrap(), 1);
    assert_eq!(
        client.chain_id().await.unwrap(),
        starfarm_sequencer::tx::chain_id()
    );
    let latest = client.block_hash_and_number().await.unwrap();
    assert_eq!(
        (latest.block_number, latest.block_hash),
        (1, block1.block_hash)
    );

    let sn::MaybePreConfirmedBlockWithTxHashes::Block(b1) = client
        .get_block_with_tx_hashes(sn::BlockId::Number(1))
        .await
        .unwrap()
    else {
        panic!("block 1 is closed");
    };
    assert_eq!(
        (b1.parent_hash, b1.new_root),
        (block0.block_hash, block1.state_root)
    );
    assert_eq!(b1.transactions, vec![t1, w]);
    let sn::MaybePreConfirmedBlockWithTxs::Block(b0) = client
        .get_block_with_txs(sn::BlockId::Number(0))
        .await
        .unwrap()
    else {
        panic!("block 0 is closed");
    };
    assert_eq!(b0.transactions.len(), 2);
    assert!(matches!(b0.transactions[0], sn::Transaction::L1Handler(_)));

    let sn::MaybePreConfirmedStateUpdate::Update(update) = client
        .get_state_update(sn::BlockId::Number(0))
        .await
        .unwrap()
    else {
        panic!("block 0 has a state update");
    };
    assert_eq!(
        (update.old_root, update.new_root),
        (global_root(Felt::ZERO), block0.state_root)
    );
    assert_eq!(update.state_diff.deployed_contracts.len(), 1);
    assert_eq!(
        update.state_diff.deployed_contracts[0].address,
        alice.address()
    );

    let latest_id = sn::BlockId::Tag(sn::BlockTag::Latest);
    assert_eq!(
        client.get_nonce(latest_id, alice.address()).await.unwrap(),
        Felt::from(3u32)
    );
    assert_eq!(
        client
            .get_storage_at(bob.address(), Felt::ONE, latest_id)
            .await
            .unwrap(),
        Felt::from(400u32)
    );
    assert_eq!(
        client
            .get_storage_at(alice.address(), Felt::ZERO, latest_id)
            .await
            .unwrap(),
        alice.public_key
    );
    assert_eq!(
        client
            .get_class_hash_at(latest_id, alice.address())
            .await
            .unwrap(),
        account_class_hash()
    );
    let native = seq
        .account(alice.address(), BlockId::Latest)
        .unwrap()
        .unwrap();
    assert_eq!(native.balance, 500);

    let status = client.get_transaction_status(w).await.unwrap();
    assert_eq!(
        status.finality_status(),
        sn::SequencerTransactionStatus::AcceptedOnL2
    );
    let receipt = client.get_transaction_receipt(w).await.unwrap();
    let sn::TransactionReceipt::Invoke(invoke) = receipt.receipt else {
        panic!("an invoke receipt")
    };
    assert_eq!(invoke.messages_sent.len(), 1);
    assert_eq!(invoke.messages_sent[0].to_address, Felt::from(0xbeefu32));
    let deposit_receipt = client.get_transaction_receipt(d).await.unwrap();
    assert!(matches!(
        deposit_receipt.receipt,
        sn::TransactionReceipt::L1Handler(_)
    ));
    assert!(matches!(
        client.get_transaction_by_hash(t1).await.unwrap(),
        sn::Transaction::Invoke(_)
    ));
    seq.shutdown().await;
}

/// starknet-rs follows balances through events: receipts carry them, and
/// `starknet_getEvents` pages through a block range by emitter and keys, the pre-confirmed
/// block included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starknet_rs_reads_transfer_events() {
    use starfarm_sequencer::events::{bridge_address, selector, token_address};

    let dir = tempfile::tempdir().unwrap();
    let (seq, addr) = serve_sequencer(dir.path()).await;
    let url = Url::parse(&format!("http://{addr}/rpc/v0_9")).unwrap();
    let client = JsonRpcClient::new(HttpTransport::new(url));

    let (alice, bob, _) = alice_and_bob(seq.as_ref()).await;
    let t1 = seq
        .submit(Transaction::transfer(&alice, 1, bob.address(), 400))
        .await
        .unwrap();
    let w = seq
        .submit(Transaction::withdraw(&alice, 2, Felt::from(0xbeefu32), 100))
        .await
        .unwrap();
    let block1 = seq.close_block().await.unwrap().unwrap();
    let t2 = seq
        .submit(Transaction::transfer(&alice, 3, bob.address(), 7))
        .await
        .unwrap();

    // Admitted is not yet executed: wait until t2 runs in the pre-confirmed block.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while client
        .get_transaction_status(t2)
        .await
        .unwrap()
        .finality_status()
        != sn::SequencerTransactionStatus::PreConfirmed
    {
        assert!(
            std::time::Instant::now() < deadline,
            "t2 never pre-confirmed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let receipt = client.get_transaction_receipt(t1).await.unwrap();
    let sn::TransactionReceipt::Invoke(invoke) = receipt.receipt else {
        panic!("an invoke receipt")
    };
    let transfer = selector("Transfer");
    assert_eq!(invoke.events.len(), 1);
    assert_eq!(invoke.events[0].from_address, token_address());
    assert_eq!(
        invoke.events[0].keys,
        vec![transfer, alice.address(), bob.address()]
    );
    assert_eq!(invoke.events[0].data, vec![Felt::from(400u32), Felt::ZERO]);

    // Every Transfer of the token up to the pre-confirmed block, two a page.
    let filter = sn::EventFilter {
        from_block: Some(sn::BlockId::Number(0)),
        to_block: Some(sn::BlockId::Tag(sn::BlockTag::PreConfirmed)),
        address: Some(token_address()),
        keys: Some(vec![vec![transfer]]),
    };
    let (mut all, mut token, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = client.get_events(filter.clone(), token, 2).await.unwrap();
        assert!(page.events.len() <= 2);
        all.extend(page.events);
        pages += 1;
        token = page.continuation_token;
        if token.is_none() {
            break;
        }
    }
    assert!(pages >= 2, "two a page: more than one page");
    let moves: Vec<_> = all
        .iter()
        .map(|e| (e.keys[1], e.keys[2], e.data[0]))
        .collect();
    assert_eq!(
        moves,
        vec![
            (Felt::ZERO, alice.address(), Felt::from(1_000u32)),
            (alice.address(), bob.address(), Felt::from(400u32)),
            (alice.address(), Felt::ZERO, Felt::from(100u32)),
            (alice.address(), bob.address(), Felt::from(7u32)),
        ]
    );
    assert_eq!(
        (
            all[1].block_number,
            all[1].block_hash,
            all[1].transaction_hash
        ),
        (Some(1), Some(block1.block_hash), t1)
    );
    assert_eq!((all[3].block_hash, all[3].transaction_hash), (None, t2));

    // By key position: only what bob received, from the latest closed block back.
    let to_bob = sn::EventFilter {
        from_block: None,
        to_block: None,
        address: None,
        keys: Some(vec![vec![transfer], vec![], vec![bob.address()]]),
    };
    let page = client.get_events(to_bob, None, 100).await.unwrap();
    assert_eq!(
        page.events.len(),
        1,
        "the pre-confirmed transfer is after latest"
    );
    assert_eq!(page.continuation_token, None);

    // The bridge's withdrawal, keyed by the L1 recipient.
    let bridge = sn::EventFilter {
        from_block: None,
        to_block: None,
        address: Some(bridge_address()),
        keys: Some(vec![
            vec![selector("WithdrawInitiated")],
            vec![Felt::from(0xbeefu32)],
        ]),
    };
    let page = client.get_events(bridge, None, 10).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].transaction_hash, w);
    seq.shutdown().await;
}

/// starknet.js 10 (whose default channel is RPC 0.10) reads the token's Transfer events on
/// `/rpc/v0_10` with their indices, and on `/rpc/v0_9` without. Needs STARFARM_STARKNET_JS
/// (`scripts/starknet-js.sh`) and node; skipped loudly without it, unless
/// `STARFARM_REQUIRE_STARKNET_JS=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starknet_js_reads_events_on_both_versions() {
    use starfarm_sequencer::events::{selector, token_address};

    let Some(package) = starknet_js("reads") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (seq, addr, t1) = serving_a_transfer(dir.path()).await;
    seq.close_block().await.unwrap().unwrap();

    let script = js_script("read_events.cjs");
    for (path, indexed) in [("/rpc/v0_9", false), ("/rpc/v0_10", true)] {
        let out = std::process::Command::new("node")
            .arg(&script)
            .arg(format!("http://{addr}{path}"))
            .arg(format!("{:#x}", token_address()))
            .arg(format!("{:#x}", selector("Transfer")))
            .arg(format!("{t1:#x}"))
            .env("STARFARM_STARKNET_JS", &package)
            .output()
            .expect("node runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{path}: {stderr}");
        let read: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
        let events = read["events"].as_array().expect("events");
        assert_eq!(events.len(), 2, "the deposit's and t1's Transfer: {read}");
        let last = &events[1];
        assert_eq!(last["transaction_hash"], format!("{t1:#x}"), "{read}");
        if indexed {
            assert_eq!(last["transaction_index"], 0, "{read}");
            assert_eq!(last["event_index"], 0, "{read}");
        } else {
            assert!(last.get("transaction_index").is_none(), "{read}");
        }
        assert_eq!(read["receipt_events"].as_array().map(Vec::len), Some(1));
    }
    seq.shutdown().await;
}

/// starknet.js's `WebSocketChannel` (node's own WebSocket, no other package) follows new heads
/// and a transfer's status from PRE_CONFIRMED to ACCEPTED_ON_L2 on `/rpc/v0_10`, and
/// unsubscribes from both. Needs STARFARM_STARKNET_JS as the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starknet_js_websocket_channel_follows_heads_and_a_transaction() {
    let Some(package) = starknet_js("WebSocketChannel") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (seq, addr, t1) = serving_a_transfer(dir.path()).await;

    let mut node = std::process::Command::new("node");
    if !node_has_websocket() {
        node.arg("--experimental-websocket");
    }
    let mut child = node
        .arg(js_script("subscribe.cjs"))
        .arg(format!("ws://{addr}/rpc/v0_10"))
        .arg(format!("{t1:#x}"))
        .arg("1")
        .env("STARFARM_STARKNET_JS", &package)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let lines = stdout_lines(&mut child);
    let stderr = child.stderr.take().expect("piped");
    let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // Blocking reads off the runtime's threads: the sequencer serves the socket meanwhile.
    let next_line = |lines: std::sync::mpsc::Receiver<String>| {
        tokio::task::spawn_blocking(move || (lines.recv_timeout(Duration::from_secs(70)), lines))
    };
    let (first, lines) = next_line(lines).await.unwrap();
    let out = if first.as_deref() == Ok("subscribed") {
        seq.close_block().await.unwrap().unwrap();
        next_line(lines).await.unwrap().0
    } else {
        first
    };
    let status = wait_or_kill(&mut child, Duration::from_secs(15));
    let stderr = stderr.join().unwrap_or_default();
    assert!(status.success(), "{out:?}\n{stderr}");
    let seen: serde_json::Value =
        serde_json::from_str(&out.expect("a JSON line")).expect("one JSON line");
    assert!(
        seen["heads"].as_array().unwrap().contains(&1.into()),
        "{seen}"
    );
    assert_eq!(
        seen["statuses"],
        serde_json::json!(["PRE_CONFIRMED", "ACCEPTED_ON_L2"]),
        "the transfer's status changes, in order, none repeated: {seen}"
    );
    assert_eq!(
        seen["unsubscribed"],
        serde_json::json!([true, true]),
        "{seen}"
    );
    seq.shutdown().await;
}

/// A sequencer serving on a free port, Alice's account open in block 0 and her transfer of
/// 400 to Bob admitted (the pre-confirmed block is not closed); the transfer's hash.
async fn serving_a_transfer(
    dir: &std::path::Path,
) -> (
    std::sync::Arc<starfarm_sequencer::service::Sequencer>,
    std::net::SocketAddr,
    Felt,
) {
    let (seq, addr) = serve_sequencer(dir).await;
    let (alice, bob, _) = alice_and_bob(seq.as_ref()).await;
    let t1 = seq
        .submit(Transaction::transfer(&alice, 1, bob.address(), 400))
        .await
        .expect("the transfer is admitted");
    (seq, addr, t1)
}

/// The child's exit status once it exits by itself within `patience` (the script ends itself
/// within 60 s), or after it is killed.
fn wait_or_kill(child: &mut std::process::Child, patience: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + patience;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait().expect("node exits")
}

/// A child's stdout, line by line, read on a thread of its own.
fn stdout_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped");
    let (lines, read) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    read
}

/// The starknet package's folder (`STARFARM_STARKNET_JS`), or None with a loud skip, unless
/// `STARFARM_REQUIRE_STARKNET_JS=1` makes a missing one a failure.
fn starknet_js(what: &str) -> Option<std::ffi::OsString> {
    let package = std::env::var_os("STARFARM_STARKNET_JS");
    if package.is_none() {
        assert!(
            std::env::var("STARFARM_REQUIRE_STARKNET_JS").as_deref() != Ok("1"),
            "STARFARM_REQUIRE_STARKNET_JS=1 but STARFARM_STARKNET_JS is unset"
        );
        eprintln!(
            "SKIPPED: starknet.js {what} (run scripts/starknet-js.sh, set STARFARM_STARKNET_JS)"
        );
    }
    package
}

fn js_script(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/js")
        .join(name)
}

/// Node 22 has a global WebSocket; node 20 needs `--experimental-websocket` for it.
fn node_has_websocket() -> bool {
    std::process::Command::new("node")
        .args([
            "-e",
            "process.exit(typeof WebSocket === 'function' ? 0 : 1)",
        ])
        .status()
        .is_ok_and(|s| s.success())
}
