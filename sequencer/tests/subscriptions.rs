//! JSON-RPC subscriptions over a WebSocket, against a real sequencer: new heads, events
//! (pre-confirmed, then accepted) and a transaction's status changes, unsubscribing, and the
//! refusals, as a WebSocket client (starknet.js's `WebSocketChannel`, an indexer) sees them.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use starfarm_sequencer::chain::TxSubmitter;
use starfarm_sequencer::events::{selector, token_address};
use starfarm_sequencer::testing::{alice_and_bob, serve_sequencer};
use starfarm_sequencer::tx::Transaction;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client that numbers its calls and keeps the notifications it reads while waiting for an
/// answer.
struct Client {
    socket: Socket,
    next_id: u64,
    notifications: Vec<Value>,
}

impl Client {
    async fn connect(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgrade");
        Self {
            socket,
            next_id: 0,
            notifications: Vec::new(),
        }
    }

    async fn read(&mut self) -> Value {
        let message = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
            .await
            .expect("a message within 20 s")
            .expect("the connection is open")
            .expect("a frame");
        serde_json::from_str(message.to_text().expect("text")).expect("JSON")
    }

    /// Calls `method` and returns its whole answer (result or error).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let request =
            json!({ "jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params });
        self.socket
            .send(Message::Text(request.to_string().into()))
            .await
            .expect("sent");
        loop {
            let message = self.read().await;
            if message["id"] == json!(self.next_id) {
                return message;
            }
            self.notifications.push(message);
        }
    }

    async fn subscribe(&mut self, method: &str, params: Value) -> String {
        let answer = self.call(method, params).await;
        answer["result"]
            .as_str()
            .unwrap_or_else(|| panic!("{method}: {answer}"))
            .to_string()
    }

    /// Reads until `count` notifications of `subscription` arrived; returns their results.
    async fn notifications_of(&mut self, subscription: &str, count: usize) -> Vec<Value> {
        loop {
            let of: Vec<Value> = self
                .notifications
                .iter()
                .filter(|n| n["params"]["subscription_id"] == json!(subscription))
                .map(|n| n["params"]["result"].clone())
                .collect();
            if of.len() >= count {
                return of;
            }
            let message = self.read().await;
            self.notifications.push(message);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_events_and_statuses_arrive_over_a_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, addr) = serve_sequencer(dir.path()).await;
    let url = format!("ws://{addr}/rpc/v0_9");

    let (alice, bob, block0) = alice_and_bob(seq.as_ref()).await;

    let mut client = Client::connect(&url).await;
    // Ordinary calls work on the same connection.
    let answer = client.call("starknet_blockNumber", json!([])).await;
    assert_eq!(answer["result"], json!(0));

    let heads = client
        .subscribe(
            "starknet_subscribeNewHeads",
            json!({ "block_id": { "block_number": 0 } }),
        )
        .await;
    let events = client
        .subscribe(
            "starknet_subscribeEvents",
            json!({
                "from_address": format!("{:#x}", token_address()),
                "keys": [[format!("{:#x}", selector("Transfer"))], [format!("{:#x}", alice.address())]],
                "finality_status": "PRE_CONFIRMED",
            }),
        )
        .await;
    let head0 = client.notifications_of(&heads, 1).await;
    assert_eq!(
        head0[0]["block_hash"],
        json!(format!("{:#x}", block0.block_hash))
    );
    assert_eq!(head0[0]["block_number"], json!(0));

    let t1 = seq
        .submit(Transaction::transfer(&alice, 1, bob.address(), 400))
        .await
        .unwrap();
    let status = client
        .subscribe(
            "starknet_subscribeTransactionStatus",
            json!({ "transaction_hash": format!("{t1:#x}") }),
        )
        .await;
    let pre = client.notifications_of(&events, 1).await;
    assert_eq!(pre[0]["finality_status"], json!("PRE_CONFIRMED"));
    assert_eq!(pre[0]["transaction_hash"], json!(format!("{t1:#x}")));
    assert!(
        pre[0].get("block_hash").is_none(),
        "pre-confirmed: no hash yet"
    );
    client.notifications_of(&status, 1).await;

    let block1 = seq.close_block().await.unwrap().unwrap();
    let head1 = client.notifications_of(&heads, 2).await;
    assert_eq!(
        head1[1]["block_hash"],
        json!(format!("{:#x}", block1.block_hash))
    );
    assert!(
        head1[1].get("status").is_none(),
        "BLOCK_HEADER has no status"
    );
    let accepted = client.notifications_of(&events, 2).await;
    assert_eq!(accepted[1]["finality_status"], json!("ACCEPTED_ON_L2"));
    assert_eq!(accepted[1]["block_number"], json!(1));
    assert_eq!(accepted[1]["data"][0], json!("0x190"));
    assert!(accepted[1].get("transaction_index").is_none(), "0.9");

    // RPC 0.10 on its path: heads with counts, events with their indices, a list of emitters.
    let mut v0_10 = Client::connect(&format!("ws://{addr}/rpc/v0_10")).await;
    let new_heads = v0_10
        .subscribe(
            "starknet_subscribeNewHeads",
            json!({ "block_id": { "block_number": 1 } }),
        )
        .await;
    let head = &v0_10.notifications_of(&new_heads, 1).await[0];
    assert_eq!(head["transaction_count"], json!(1), "{head}");
    assert_eq!(head["event_commitment"], json!("0x0"), "{head}");
    let new_events = v0_10
        .subscribe(
            "starknet_subscribeEvents",
            json!({
                "from_address": [format!("{:#x}", token_address())],
                "keys": [[format!("{:#x}", selector("Transfer"))], [format!("{:#x}", alice.address())]],
                "block_id": { "block_number": 1 },
            }),
        )
        .await;
    let event = &v0_10.notifications_of(&new_events, 1).await[0];
    assert_eq!(event["transaction_hash"], json!(format!("{t1:#x}")));
    assert_eq!(
        (&event["transaction_index"], &event["event_index"]),
        (&json!(0), &json!(0)),
        "{event}"
    );
    // Each change once (RECEIVED, PRE_CONFIRMED, ...), ending with ACCEPTED_ON_L2.
    let mut statuses = client.notifications_of(&status, 2).await;
    while statuses.last().map(|s| &s["status"]["finality_status"]) != Some(&json!("ACCEPTED_ON_L2"))
    {
        assert!(statuses.len() < 4, "{statuses:?}");
        statuses = client.notifications_of(&status, statuses.len() + 1).await;
    }
    assert!(statuses.windows(2).all(|w| w[0] != w[1]), "{statuses:?}");
    assert_eq!(statuses[0]["transaction_hash"], json!(format!("{t1:#x}")));

    // Unsubscribed: no more heads; an unknown id is refused.
    assert_eq!(
        client.call("starknet_unsubscribe", json!([heads])).await["result"],
        json!(true)
    );
    let again = client.call("starknet_unsubscribe", json!([heads])).await;
    assert_eq!(again["error"]["code"], json!(66), "{again}");
    let too_far = client
        .call("starknet_subscribeNewHeads", json!([{ "block_number": 7 }]))
        .await;
    assert_eq!(too_far["error"]["code"], json!(24), "{too_far}");
    seq.submit(Transaction::transfer(&alice, 2, bob.address(), 1))
        .await
        .unwrap();
    // Pre-confirmed events are seen by polling: close only once it was sent.
    client.notifications_of(&events, 3).await;
    seq.close_block().await.unwrap().unwrap();
    let more = client.notifications_of(&events, 4).await;
    let finality: Vec<&str> = more
        .iter()
        .map(|e| e["finality_status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        finality,
        ["PRE_CONFIRMED", "ACCEPTED_ON_L2"].repeat(2),
        "pre-confirmed then accepted, for the second transfer too"
    );
    let heads_now = client
        .notifications
        .iter()
        .filter(|n| n["params"]["subscription_id"] == json!(heads))
        .count();
    assert_eq!(heads_now, 2, "no head after unsubscribing");
    seq.shutdown().await;
}
