//! Fuzzed admission over HTTP against the real sequencer: malformed JSON, wrong types, bad
//! signatures, overflowing amounts and huge payloads each get a JSON-RPC error with a reason;
//! nothing panics, nothing is admitted, and the state is unchanged.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use starfarm_sequencer::chain::{BlockId, ChainReader, TxSubmitter};
use starfarm_sequencer::endpoint;
use starfarm_sequencer::rpc::RpcConfig;
use starfarm_sequencer::service::{Sequencer, SequencerConfig};
use starfarm_sequencer::testing::{open_account, Rng};
use starfarm_sequencer::tx::{KeyPair, Transaction};
use starfarm_sequencer::Felt;

/// Replaces one field (found by path) of a JSON value with `with`.
fn mutate(value: &mut Value, rng: &mut Rng, with: Value) {
    if let Value::Object(map) = value {
        let keys: Vec<String> = map.keys().cloned().collect();
        let key = rng.pick(&keys).clone();
        let field = map.get_mut(&key).expect("key exists");
        if field.is_object() && rng.next().is_multiple_of(2) {
            mutate(field, rng, with);
        } else {
            *field = with;
        }
    }
}

fn bad_values(rng: &mut Rng) -> Value {
    let choices = [
        json!(null),
        json!(-1),
        json!(1.5),
        json!(true),
        json!([]),
        json!({}),
        json!("0x"),
        json!("not a number"),
        json!(format!("0x{}", "f".repeat(70))),
        json!("0x100000000000000000000000000000000"), // 2^128: overflows an amount
        json!("340282366920938463463374607431768211456"),
        json!("0x800000000000011000000000000000000000000000000000000000000000001"), // P
        json!("0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00"),
        json!(u64::MAX),
        json!("\u{0000}\u{FFFF}"),
    ];
    rng.pick(&choices).clone()
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, Value) {
    try_post(http, url, body)
        .await
        .expect("the server answers every request")
}

async fn try_post(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> Result<(u16, Value), reqwest::Error> {
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await?;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, json))
}

fn assert_reasoned_error(status: u16, answer: &Value, what: &str) {
    let error = answer
        .get("error")
        .unwrap_or_else(|| panic!("{what}: no error in {answer} (HTTP {status})"));
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    assert!(
        error.get("code").and_then(Value::as_i64).is_some(),
        "{what}: no code in {answer}"
    );
    assert!(!message.is_empty(), "{what}: empty message in {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_admission_gets_reasoned_errors_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SequencerConfig::new(dir.path().to_path_buf());
    config.block_time = Duration::from_secs(3600);
    let seq = Sequencer::start(config, None).unwrap();
    let alice = KeyPair::from_private(Felt::from(4242u32));
    open_account(seq.as_ref(), &alice, 1_000, Felt::ONE, 0)
        .await
        .unwrap();
    seq.close_block().await.unwrap();
    let before = seq
        .account(alice.address(), BlockId::PreConfirmed)
        .unwrap()
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let rpc = RpcConfig {
        max_body_bytes: 64 * 1024,
        ..RpcConfig::default()
    };
    let app = endpoint::app(Arc::clone(&seq), rpc);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let valid = Transaction::transfer(&alice, 1, Felt::from(77u32), 10);
    let request = |tx: Value| json!({"jsonrpc": "2.0", "id": 1, "method": "starfarm_addTransaction", "params": {"transaction": tx}});

    let mut rng = Rng(0x5eed);
    for round in 0..300 {
        let mut tx = serde_json::to_value(&valid).unwrap();
        let body = match round % 5 {
            // A field replaced by a value of the wrong type or range.
            0 | 1 => {
                let bad = bad_values(&mut rng);
                mutate(&mut tx, &mut rng, bad);
                serde_json::to_vec(&request(tx)).unwrap()
            }
            // A signed field changed after signing: the signature no longer matches.
            2 => {
                let field = *rng.pick(&["nonce", "recipient", "amount"]);
                tx[field] = json!(format!("{:#x}", 2 + rng.next() % 1000));
                tx["signature"]["r"] = json!(format!("{:#x}", rng.next()));
                serde_json::to_vec(&request(tx)).unwrap()
            }
            // Truncated or byte-flipped JSON.
            3 => {
                let mut bytes = serde_json::to_vec(&request(tx)).unwrap();
                let at = (rng.next() as usize) % bytes.len();
                if rng.next().is_multiple_of(2) {
                    bytes.truncate(at);
                } else {
                    bytes[at] = (rng.next() % 256) as u8;
                }
                bytes
            }
            // Payloads over the limit (100 KiB: small enough that the client finishes
            // sending before the server answers 413 and closes).
            _ => {
                tx["recipient"] = json!(format!("0x{}", "1".repeat(100 << 10)));
                serde_json::to_vec(&request(tx)).unwrap()
            }
        };
        let (status, answer) = post(&http, &url, body).await;
        if answer.get("result").is_some() {
            // A byte flip can land in a place that leaves the request valid (e.g. the id);
            // then it is the valid transfer itself, which is fine exactly once.
            assert_eq!(
                answer["result"]["transaction_hash"],
                json!(format!("{:#x}", valid.hash())),
                "round {round}"
            );
            continue;
        }
        if status == 413 {
            assert_eq!(
                round % 5,
                4,
                "round {round}: only huge payloads are too large"
            );
        }
        assert_reasoned_error(status, &answer, &format!("round {round}"));
    }

    // A 4 MiB body is refused before it is read: the client sees 413 or, if it was still
    // sending, the closed connection; the server is unharmed either way.
    let huge = vec![b' '; 4 << 20];
    if let Ok((status, answer)) = try_post(&http, &url, huge).await {
        assert_eq!(status, 413);
        assert_reasoned_error(status, &answer, "4 MiB body");
    }

    // Nothing but (at most) the valid transfer was admitted; the state is unchanged.
    let after = seq
        .account(alice.address(), BlockId::PreConfirmed)
        .unwrap()
        .unwrap();
    let sent_valid = seq.transaction(valid.hash()).unwrap().is_some();
    assert_eq!(
        after.balance,
        before.balance - if sent_valid { 10 } else { 0 }
    );
    let header = seq.close_block().await.unwrap();
    assert_eq!(header.map_or(0, |h| h.tx_count), u64::from(sent_valid));
    // The server still admits a valid transaction.
    let next = Transaction::transfer(&alice, 1 + u64::from(sent_valid), Felt::from(78u32), 1);
    let (_, answer) = post(
        &http,
        &url,
        serde_json::to_vec(&request(serde_json::to_value(&next).unwrap())).unwrap(),
    )
    .await;
    assert!(answer.get("result").is_some(), "{answer}");
    seq.shutdown().await;
}
