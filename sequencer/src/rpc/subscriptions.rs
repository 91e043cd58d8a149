//! WebSocket subscriptions of Starknet JSON-RPC 0.9 (what starknet.js's `WebSocketChannel`
//! and Pathfinder's and Juno's clients use), on the same paths as HTTP (`GET` upgrades).
//!
//! - `starknet_subscribeNewHeads(block_id?)` → notifications `starknet_subscriptionNewHeads`
//!   with each closed block's `BLOCK_HEADER`, from `block_id` (at most
//!   [`MAX_BLOCKS_BACK`] back) or from the next block.
//! - `starknet_subscribeEvents(from_address?, keys?, block_id?, finality_status?)` →
//!   `starknet_subscriptionEvents` with `EMITTED_EVENT` + `finality_status`; with
//!   `finality_status = "PRE_CONFIRMED"` events are sent as they enter the pre-confirmed block
//!   and again once their block closes (`ACCEPTED_ON_L2`, the default).
//! - `starknet_subscribeTransactionStatus(transaction_hash)` →
//!   `starknet_subscriptionTransactionStatus` with `{transaction_hash, status}` at every change
//!   of status, until `ACCEPTED_ON_L1`.
//! - `starknet_unsubscribe(subscription_id)` → `true` (66 for an unknown id).
//!
//! Every other message is an ordinary call (single or batch), answered as over HTTP.
//! Subscriptions poll the [`crate::chain::ChainReader`] every [`POLL`], so a node serves them
//! exactly as a sequencer does; they end with the connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::{codes, RpcError};
use super::params::{block_ref, felt, BlockRef, Params};
use super::read::ReadCtx;
use super::render;
use super::transport::{self, Admin, RpcState};
use crate::chain::{BlockId, TxStatus};

/// How often a subscription looks for news.
pub const POLL: Duration = Duration::from_millis(200);
/// How far back a subscription may start (the spec's limit).
pub const MAX_BLOCKS_BACK: u64 = 1024;
/// Subscriptions one connection may hold.
pub const MAX_PER_CONNECTION: usize = 64;

/// `GET` on an RPC path: upgrade to a WebSocket session.
pub(crate) async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<Arc<RpcState>>,
    headers: HeaderMap,
) -> Response {
    let admin = Admin::check(&headers, &state.config);
    ws.on_upgrade(move |socket| session(socket, state, admin))
}

/// One connection: calls in, answers and notifications out (one writer task, so that
/// subscriptions never interleave inside a frame).
async fn session(socket: WebSocket, state: Arc<RpcState>, admin: Admin) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut queue) = mpsc::channel::<Value>(1024);
    let writer = tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            if sink
                .send(Message::Text(message.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut subs = Subscriptions {
        state: Arc::clone(&state),
        out: out.clone(),
        tasks: HashMap::new(),
        next_id: 0,
    };
    while let Some(Ok(message)) = stream.next().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let answer = match subs.answer(text.as_bytes()).await {
            Some(answer) => Some(answer),
            None => transport::payload(&state, admin, text.as_bytes()).await,
        };
        if let Some(answer) = answer {
            if out.send(answer).await.is_err() {
                break;
            }
        }
    }
    for task in subs.tasks.into_values() {
        task.abort();
    }
    drop(out);
    let _ = writer.await;
}

/// A connection's subscriptions.
struct Subscriptions {
    state: Arc<RpcState>,
    out: mpsc::Sender<Value>,
    tasks: HashMap<String, JoinHandle<()>>,
    next_id: u64,
}

impl Subscriptions {
    /// The answer to a subscription call; `None` when the message is something else.
    async fn answer(&mut self, bytes: &[u8]) -> Option<Value> {
        let value: Value = serde_json::from_slice(bytes).ok()?;
        let method = value.get("method")?.as_str()?;
        if !(method.starts_with("starknet_subscribe") || method == "starknet_unsubscribe") {
            return None;
        }
        let id = value.get("id").cloned().unwrap_or(Value::Null);
        let method = method.to_string();
        let result = match Params::new(value.get("params").cloned()) {
            Ok(params) => self.call(&method, &params).await,
            Err(e) => Err(e),
        };
        Some(match result {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err(error) => transport::error_response(id, error),
        })
    }

    async fn call(&mut self, method: &str, params: &Params) -> Result<Value, RpcError> {
        if method == "starknet_unsubscribe" {
            let id = params
                .bind(&["subscription_id"])?
                .required("subscription_id", subscription_id)?;
            return match self.tasks.remove(&id) {
                Some(task) => {
                    task.abort();
                    Ok(json!(true))
                }
                None => Err(RpcError::new(
                    codes::INVALID_SUBSCRIPTION_ID,
                    "Invalid subscription id",
                    format!("no subscription {id:?} on this connection"),
                )),
            };
        }
        if self.tasks.len() >= MAX_PER_CONNECTION {
            return Err(RpcError::invalid_request(format!(
                "this connection already holds {MAX_PER_CONNECTION} subscriptions"
            )));
        }
        let id = self.next_id.to_string();
        let feed = Feed {
            state: Arc::clone(&self.state),
            out: self.out.clone(),
            id: id.clone(),
        };
        let task = match method {
            "starknet_subscribeNewHeads" => {
                let bound = params.bind(&["block_id"])?;
                let start =
                    start_block(&self.state, bound.optional("block_id", block_ref)?).await?;
                tokio::spawn(feed.new_heads(start))
            }
            "starknet_subscribeEvents" => {
                let filter = EventsFilter::parse(params)?;
                let start = start_block(&self.state, filter.block_id).await?;
                tokio::spawn(feed.events(filter, start))
            }
            "starknet_subscribeTransactionStatus" => {
                let hash = params
                    .bind(&["transaction_hash"])?
                    .required("transaction_hash", felt)?;
                tokio::spawn(feed.transaction_status(hash))
            }
            other => return Err(RpcError::method_not_found(other)),
        };
        self.next_id += 1;
        self.tasks.insert(id.clone(), task);
        Ok(json!(id))
    }
}

fn subscription_id(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "expected a string, got {}",
            super::params::kind(other)
        )),
    }
}

/// The first block a subscription sends: `block_id`'s, or the one after the latest.
async fn start_block(state: &Arc<RpcState>, id: Option<BlockRef>) -> Result<u64, RpcError> {
    read(state, move |ctx| {
        let latest = ctx.reader.latest_header()?.map(|h| h.number);
        let next = latest.map_or(0, |n| n + 1);
        let start = match id {
            None | Some(BlockRef::Latest) => return Ok(latest.unwrap_or(0)),
            Some(BlockRef::PreConfirmed) => {
                return Err(RpcError::invalid_params(
                    "block_id: a subscription starts at a closed block, not pre_confirmed",
                ))
            }
            Some(BlockRef::L1Accepted) => ctx
                .reader
                .l1_accepted_number()?
                .ok_or_else(|| RpcError::block_not_found("no block has been accepted on L1 yet"))?,
            Some(BlockRef::Hash(h)) => {
                ctx.reader
                    .header(BlockId::Hash(h))?
                    .ok_or_else(|| RpcError::block_not_found(format!("no block with hash {h:#x}")))?
                    .number
            }
            Some(BlockRef::Number(n)) if n >= next => {
                return Err(RpcError::block_not_found(format!(
                    "no block number {n} (the latest is {latest:?})"
                )))
            }
            Some(BlockRef::Number(n)) => n,
        };
        if next - start > MAX_BLOCKS_BACK {
            return Err(RpcError::new(
                codes::TOO_MANY_BLOCKS_BACK,
                "Cannot go back more than 1024 blocks",
                format!("block {start} is {} blocks back", next - start),
            ));
        }
        Ok(start)
    })
    .await
}

/// Runs a read on the blocking pool, as the HTTP dispatcher does.
async fn read<T: Send + 'static>(
    state: &Arc<RpcState>,
    f: impl FnOnce(&ReadCtx) -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    let ctx = state.ctx();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .map_err(|e| RpcError::internal(format!("the read failed: {e}")))?
}

/// `starknet_subscribeEvents`'s params.
struct EventsFilter {
    from_address: Option<Value>,
    keys: Option<Value>,
    block_id: Option<BlockRef>,
    pre_confirmed: bool,
}

impl EventsFilter {
    fn parse(params: &Params) -> Result<Self, RpcError> {
        let bound = params.bind(&["from_address", "keys", "block_id", "finality_status"])?;
        let pre_confirmed = bound
            .optional("finality_status", |v| match v.as_str() {
                Some("PRE_CONFIRMED") => Ok(true),
                Some("ACCEPTED_ON_L2") => Ok(false),
                _ => Err(format!(
                    "expected \"PRE_CONFIRMED\" or \"ACCEPTED_ON_L2\", got {v}"
                )),
            })?
            .unwrap_or(false);
        Ok(Self {
            from_address: bound.optional("from_address", |v| Ok(v.clone()))?,
            keys: bound.optional("keys", |v| Ok(v.clone()))?,
            block_id: bound.optional("block_id", block_ref)?,
            pre_confirmed,
        })
    }

    /// A `starknet_getEvents` filter over `from..=to` (block numbers).
    fn page(&self, from: u64, to: Value, token: Option<&str>) -> Params {
        let mut filter = Map::new();
        filter.insert("from_block".into(), json!({ "block_number": from }));
        filter.insert("to_block".into(), to);
        if let Some(address) = &self.from_address {
            filter.insert("address".into(), address.clone());
        }
        if let Some(keys) = &self.keys {
            filter.insert("keys".into(), keys.clone());
        }
        filter.insert("chunk_size".into(), json!(super::events::MAX_CHUNK_SIZE));
        if let Some(token) = token {
            filter.insert("continuation_token".into(), json!(token));
        }
        Params::Named(Map::from_iter([(
            "filter".to_string(),
            Value::Object(filter),
        )]))
    }
}

/// Where a subscription's notifications go.
struct Feed {
    state: Arc<RpcState>,
    out: mpsc::Sender<Value>,
    id: String,
}

impl Feed {
    /// Sends one notification; `false` once the connection is gone.
    async fn notify(&self, method: &str, result: Value) -> bool {
        let message = json!({
            "jsonrpc": "2.0",
            "method": method,
            "params": { "subscription_id": self.id, "result": result },
        });
        self.out.send(message).await.is_ok()
    }

    async fn new_heads(self, mut next: u64) {
        loop {
            let headers = read(&self.state, move |ctx| {
                let mut headers = Vec::new();
                while let Some(block) = ctx
                    .reader
                    .block(BlockId::Number(next + headers.len() as u64))?
                {
                    let mut map = super::read::closed_header(ctx, &block, TxStatus::AcceptedOnL2);
                    map.remove("status");
                    headers.push(Value::Object(map));
                }
                Ok(headers)
            })
            .await;
            for header in headers.unwrap_or_default() {
                if !self.notify("starknet_subscriptionNewHeads", header).await {
                    return;
                }
                next += 1;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn events(self, filter: EventsFilter, mut next: u64) {
        let filter = Arc::new(filter);
        // Pre-confirmed events already sent: (block number, how many).
        let mut pre_confirmed_sent = (u64::MAX, 0usize);
        loop {
            let latest = read(&self.state, |ctx| {
                Ok(ctx.reader.latest_header()?.map(|h| h.number))
            })
            .await
            .ok()
            .flatten();
            if let Some(latest) = latest.filter(|&l| l >= next) {
                let to = json!({ "block_number": latest });
                let Some(events) = self.all_events(&filter, next, to).await else {
                    tokio::time::sleep(POLL).await;
                    continue;
                };
                for event in events {
                    if !self.send_event(event, "ACCEPTED_ON_L2").await {
                        return;
                    }
                }
                next = latest + 1;
            }
            if filter.pre_confirmed {
                let events = self.all_events(&filter, next, json!("pre_confirmed")).await;
                let number = next;
                if pre_confirmed_sent.0 != number {
                    pre_confirmed_sent = (number, 0);
                }
                for event in events
                    .unwrap_or_default()
                    .into_iter()
                    .skip(pre_confirmed_sent.1)
                {
                    if !self.send_event(event, "PRE_CONFIRMED").await {
                        return;
                    }
                    pre_confirmed_sent.1 += 1;
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Every matching event of `from..=to`, following continuation tokens; `None` when a
    /// read failed (retried at the next poll).
    async fn all_events(
        &self,
        filter: &Arc<EventsFilter>,
        from: u64,
        to: Value,
    ) -> Option<Vec<Value>> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let params = filter.page(from, to.clone(), token.as_deref());
            let page = read(&self.state, move |ctx| {
                super::events::get_events(ctx, &params)
            })
            .await
            .ok()?;
            events.extend(page["events"].as_array().cloned().unwrap_or_default());
            match page["continuation_token"].as_str() {
                Some(next) => token = Some(next.to_string()),
                None => return Some(events),
            }
        }
    }

    async fn send_event(&self, mut event: Value, finality: &str) -> bool {
        event["finality_status"] = json!(finality);
        self.notify("starknet_subscriptionEvents", event).await
    }

    async fn transaction_status(self, hash: starknet_types_core::felt::Felt) {
        let mut last = Value::Null;
        loop {
            let status = read(&self.state, move |ctx| {
                Ok(ctx
                    .reader
                    .transaction(hash)?
                    .map(|record| render::tx_status(&record)))
            })
            .await;
            if let Ok(Some(status)) = status {
                if status != last {
                    let result = json!({ "transaction_hash": render::hex(hash), "status": status });
                    if !self
                        .notify("starknet_subscriptionTransactionStatus", result)
                        .await
                    {
                        return;
                    }
                    if status["finality_status"] == "ACCEPTED_ON_L1" {
                        return;
                    }
                    last = status;
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
