//! JSON-RPC over HTTP (the "Transport" of the `rpc` module's doc): the body limit, the
//! envelope (single, batch, notification), admin authentication and dispatch to the read and
//! write methods. WebSocket sessions (`subscriptions`) answer their ordinary calls here too.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::join_all;
use futures::StreamExt;
use serde_json::{json, Map, Value};

use super::error::RpcError;
use super::params::{kind, Params};
use super::read::{self, ReadCtx, ReadFn};
use super::write::WriteMethod;
use super::{RpcConfig, SpecVersion};
use crate::chain::{ChainReader, TxSubmitter};

/// Shared by all requests.
pub(crate) struct RpcState {
    pub reader: Arc<dyn ChainReader>,
    pub submitter: Arc<dyn TxSubmitter>,
    pub config: Arc<RpcConfig>,
    /// The specification version of the path the request came in on.
    pub version: SpecVersion,
}

impl RpcState {
    /// What a read method sees.
    pub fn ctx(&self) -> ReadCtx {
        ReadCtx {
            reader: self.reader.clone(),
            config: self.config.clone(),
            version: self.version,
        }
    }
}

/// An oversized body is read (and dropped) up to this many times the limit before the
/// answer, so that the client sees the error instead of a connection reset.
const DRAIN_FACTOR: usize = 4;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) async fn handle(
    State(state): State<Arc<RpcState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = state.config.max_body_bytes;
    let bytes = match read_body(&headers, body, limit).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            let reason = format!("request body exceeds the limit of {limit} bytes");
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                error_response(Value::Null, RpcError::invalid_request(reason)),
            );
        }
        Err(BodyError::Read(reason)) => {
            let reason = format!("request body could not be read: {reason}");
            return reply(
                StatusCode::BAD_REQUEST,
                error_response(Value::Null, RpcError::invalid_request(reason)),
            );
        }
    };
    let admin = Admin::check(&headers, &state.config);
    match payload(&state, admin, &bytes).await {
        Some(answer) => reply(StatusCode::OK, answer),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

enum BodyError {
    TooLarge,
    Read(String),
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let drain_budget = limit.saturating_mul(DRAIN_FACTOR);
    if declared.is_some_and(|n| n > drain_budget) {
        return Err(BodyError::TooLarge);
    }
    let mut stream = body.into_data_stream();
    let mut buffer = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if buffer.len().saturating_add(chunk.len()) > limit {
            let seen = buffer.len().saturating_add(chunk.len());
            drain(stream, drain_budget.saturating_sub(seen)).await;
            return Err(BodyError::TooLarge);
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer)
}

/// Reads and drops up to `budget` more bytes (bounded in time).
async fn drain(mut stream: axum::body::BodyDataStream, budget: usize) {
    let drained = async {
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            seen = seen.saturating_add(chunk.len());
            if seen > budget {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drained).await;
}

/// Whether the request carries the admin token.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Admin {
    Authorized,
    Missing,
    Wrong,
    Disabled,
}

impl Admin {
    pub(crate) fn check(headers: &HeaderMap, config: &RpcConfig) -> Self {
        let Some(expected) = config.admin_token.as_deref().filter(|t| !t.is_empty()) else {
            return Admin::Disabled;
        };
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return Admin::Missing;
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "));
        match token {
            Some(token) if constant_time_eq(token.trim().as_bytes(), expected.as_bytes()) => {
                Admin::Authorized
            }
            _ => Admin::Wrong,
        }
    }

    fn require(self, method: &str) -> Result<(), RpcError> {
        let reason = match self {
            Admin::Authorized => return Ok(()),
            Admin::Missing => "requires an `Authorization: Bearer <admin token>` header",
            Admin::Wrong => "the `Authorization` header does not carry the admin token",
            Admin::Disabled => "admin methods are disabled on this server (no admin token set)",
        };
        Err(RpcError::unauthorized(format!("{method} {reason}")))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Answers a whole body: `None` when there is nothing to answer (notifications only).
pub(crate) async fn payload(state: &RpcState, admin: Admin, bytes: &[u8]) -> Option<Value> {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => {
            return Some(error_response(
                Value::Null,
                RpcError::parse_error(e.to_string()),
            ))
        }
    };
    match value {
        Value::Array(calls) => batch(state, admin, calls).await,
        single => call(state, admin, single).await,
    }
}

async fn batch(state: &RpcState, admin: Admin, calls: Vec<Value>) -> Option<Value> {
    let max = state.config.max_batch_len;
    let refusal = if calls.is_empty() {
        Some("empty batch".to_string())
    } else if calls.len() > max {
        Some(format!(
            "batch of {} calls exceeds the limit of {max}",
            calls.len()
        ))
    } else {
        None
    };
    if let Some(reason) = refusal {
        return Some(error_response(
            Value::Null,
            RpcError::invalid_request(reason),
        ));
    }
    let answers = join_all(calls.into_iter().map(|c| call(state, admin, c))).await;
    let answers: Vec<Value> = answers.into_iter().flatten().collect();
    (!answers.is_empty()).then_some(Value::Array(answers))
}

/// A parsed call: `id` is `None` for a notification.
struct Call {
    id: Option<Value>,
    method: String,
    params: Option<Value>,
}

/// Checks the envelope; a refusal comes with the id to answer under.
fn envelope(value: Value) -> Result<Call, (Value, RpcError)> {
    let Value::Object(mut object) = value else {
        let reason = format!("a request must be an object, not {}", kind(&value));
        return Err((Value::Null, RpcError::invalid_request(reason)));
    };
    let id = object.remove("id");
    let answer_id = match &id {
        None | Some(Value::Null | Value::Number(_) | Value::String(_)) => {
            id.clone().unwrap_or(Value::Null)
        }
        Some(other) => {
            let reason = format!("id must be a string, a number or null, not {}", kind(other));
            return Err((Value::Null, RpcError::invalid_request(reason)));
        }
    };
    let refuse = |reason: String| (answer_id.clone(), RpcError::invalid_request(reason));
    match object.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        _ => return Err(refuse("\"jsonrpc\" must be \"2.0\"".to_string())),
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(other) => {
            return Err(refuse(format!(
                "\"method\" must be a string, not {}",
                kind(&other)
            )))
        }
        None => return Err(refuse("missing \"method\"".to_string())),
    };
    Ok(Call {
        id,
        method,
        params: object.remove("params"),
    })
}

async fn call(state: &RpcState, admin: Admin, value: Value) -> Option<Value> {
    let call = match envelope(value) {
        Ok(call) => call,
        Err((id, error)) => return Some(error_response(id, error)),
    };
    let result = dispatch(state, admin, &call.method, call.params).await;
    let id = call.id?;
    Some(match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => error_response(id, error),
    })
}

pub(crate) fn error_response(id: Value, error: RpcError) -> Value {
    let mut object = Map::new();
    object.insert("jsonrpc".into(), json!("2.0"));
    object.insert("id".into(), id);
    object.insert("error".into(), error.to_json());
    Value::Object(object)
}

enum Method {
    Read(ReadFn),
    Write(WriteMethod),
}

async fn dispatch(
    state: &RpcState,
    admin: Admin,
    name: &str,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    let method = match (read::lookup(name), WriteMethod::lookup(name)) {
        (Some(read), _) => Method::Read(read),
        (None, Some(write)) => Method::Write(write),
        (None, None) => return Err(RpcError::method_not_found(name)),
    };
    let params = Params::new(params)?;
    match method {
        Method::Read(read) => run_read(state, read, params).await,
        Method::Write(write) => {
            if write.is_admin() {
                admin.require(name)?;
            }
            if write == WriteMethod::AdminDeposit && !state.config.admin_deposits {
                return Err(RpcError::unauthorized(
                    "this chain settles on L1: deposits come from the L1 bridge \
                     (`starfarm l1 deposit`); an admin deposit could never settle",
                ));
            }
            write.call(state.submitter.as_ref(), &params).await
        }
    }
}

/// Runs a read on the blocking pool (readers may touch the disk); a panicking reader becomes
/// an internal error.
async fn run_read(state: &RpcState, read: ReadFn, params: Params) -> Result<Value, RpcError> {
    let ctx = state.ctx();
    match tokio::task::spawn_blocking(move || read(&ctx, &params)).await {
        Ok(result) => result,
        Err(e) => Err(RpcError::internal(format!("the read failed: {e}"))),
    }
}
