//! JSON-RPC errors: the JSON-RPC 2.0 codes, Starknet's codes (spec 0.9.0, with the spec's
//! messages), and the project's. Every error carries a human-readable reason: in `data` as a
//! string (the spec's `data` for 52, 55 and 63 is a string too, so typed clients keep it).

use serde_json::{json, Map, Value};
use starknet_types_core::felt::Felt;

use crate::chain::{AdmissionError, ReadError};

/// Error codes.
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// Project code: an admin method without a valid `Authorization: Bearer` token.
    pub const UNAUTHORIZED: i64 = -32001;
    pub const FAILED_TO_RECEIVE_TXN: i64 = 1;
    pub const CONTRACT_NOT_FOUND: i64 = 20;
    pub const BLOCK_NOT_FOUND: i64 = 24;
    pub const INVALID_TXN_INDEX: i64 = 27;
    pub const TXN_HASH_NOT_FOUND: i64 = 29;
    pub const PAGE_SIZE_TOO_BIG: i64 = 31;
    pub const NO_BLOCKS: i64 = 32;
    pub const INVALID_CONTINUATION_TOKEN: i64 = 33;
    pub const TOO_MANY_KEYS_IN_FILTER: i64 = 34;
    pub const INVALID_TRANSACTION_NONCE: i64 = 52;
    pub const INSUFFICIENT_ACCOUNT_BALANCE: i64 = 54;
    pub const VALIDATION_FAILURE: i64 = 55;
    pub const DUPLICATE_TX: i64 = 59;
    pub const INVALID_SUBSCRIPTION_ID: i64 = 66;
    pub const TOO_MANY_BLOCKS_BACK: i64 = 68;
    pub const UNEXPECTED_ERROR: i64 = 63;
}

/// One JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("JSON-RPC error {code}: {message}")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    /// An error whose `data` is the reason as a string.
    pub fn new(code: i64, message: impl Into<String>, reason: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: Some(Value::String(reason.into())),
        }
    }

    pub fn parse_error(reason: impl Into<String>) -> Self {
        Self::new(codes::PARSE_ERROR, "Parse error", reason)
    }

    pub fn invalid_request(reason: impl Into<String>) -> Self {
        Self::new(codes::INVALID_REQUEST, "Invalid Request", reason)
    }

    pub fn method_not_found(method: &str) -> Self {
        let reason = format!("unknown method {method:?}");
        Self::new(codes::METHOD_NOT_FOUND, "Method not found", reason)
    }

    /// The message names the param and says what is wrong with it.
    pub fn invalid_params(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(
            codes::INVALID_PARAMS,
            format!("Invalid params: {reason}"),
            reason,
        )
    }

    pub fn internal(reason: impl Into<String>) -> Self {
        Self::new(codes::INTERNAL_ERROR, "Internal error", reason)
    }

    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Self::new(codes::UNAUTHORIZED, "Unauthorized", reason)
    }

    pub fn contract_not_found(address: Felt) -> Self {
        let reason = format!("no contract at address {address:#x}");
        Self::new(codes::CONTRACT_NOT_FOUND, "Contract not found", reason)
    }

    pub fn block_not_found(reason: impl Into<String>) -> Self {
        Self::new(codes::BLOCK_NOT_FOUND, "Block not found", reason)
    }

    pub fn invalid_txn_index(index: u64, count: usize) -> Self {
        let reason = format!("index {index} is out of range: the block has {count} transactions");
        Self::new(
            codes::INVALID_TXN_INDEX,
            "Invalid transaction index in a block",
            reason,
        )
    }

    pub fn txn_hash_not_found(hash: Felt, reason: &str) -> Self {
        let reason = format!("transaction {hash:#x} {reason}");
        Self::new(
            codes::TXN_HASH_NOT_FOUND,
            "Transaction hash not found",
            reason,
        )
    }

    pub fn no_blocks() -> Self {
        Self::new(
            codes::NO_BLOCKS,
            "There are no blocks",
            "no block has been closed yet",
        )
    }

    pub fn unexpected(reason: impl Into<String>) -> Self {
        Self::new(
            codes::UNEXPECTED_ERROR,
            "An unexpected error occurred",
            reason,
        )
    }

    /// The error object: `{code, message, data?}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("code".into(), json!(self.code));
        object.insert("message".into(), json!(self.message));
        if let Some(data) = &self.data {
            object.insert("data".into(), data.clone());
        }
        Value::Object(object)
    }
}

impl From<ReadError> for RpcError {
    fn from(error: ReadError) -> Self {
        RpcError::unexpected(error.to_string())
    }
}

/// Admission refusals, mapped to Starknet's codes with the reason in `data`.
impl From<AdmissionError> for RpcError {
    fn from(error: AdmissionError) -> Self {
        use AdmissionError as E;
        let reason = error.to_string();
        let (code, message) = match error {
            E::NonceTooOld { .. } | E::NonceTooFar { .. } => (
                codes::INVALID_TRANSACTION_NONCE,
                "Invalid transaction nonce",
            ),
            E::Balance { .. } => (
                codes::INSUFFICIENT_ACCOUNT_BALANCE,
                "Account balance is smaller than the transaction's maximal fee (calculated as \
                 the sum of each resource's limit x max price)",
            ),
            E::Duplicate(_) => (
                codes::DUPLICATE_TX,
                "A transaction with the same hash already exists in the mempool",
            ),
            E::Format(_)
            | E::Signature
            | E::NotDeployed(_)
            | E::AlreadyDeployed(_)
            | E::DepositNotAllowed => (codes::VALIDATION_FAILURE, "Account validation failed"),
            E::ReadOnly(_) => (codes::UNAUTHORIZED, "Unsupported on this server"),
            E::MempoolFull(_) | E::ShuttingDown | E::DiskFull { .. } => {
                (codes::FAILED_TO_RECEIVE_TXN, "Failed to write transaction")
            }
            E::Storage(_) => (codes::UNEXPECTED_ERROR, "An unexpected error occurred"),
        };
        RpcError::new(code, message, reason)
    }
}
