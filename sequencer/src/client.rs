//! A JSON-RPC client for the sequencer: the project's write methods and the reads a wallet
//! needs, so users and tools (`starfarm tx …`, load generators, tests) never write JSON by
//! hand.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use starknet_types_core::felt::Felt;

use crate::block::BlockHeader;
use crate::state::AccountState;
use crate::tx::{Deposit, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the sequencer at {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("the sequencer refused {method}: {message} (code {code}){}", data.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Rpc {
        method: String,
        code: i64,
        message: String,
        data: Option<Value>,
    },
    #[error("unexpected answer to {method}: {detail}")]
    Answer { method: String, detail: String },
    #[error("timed out after {0:?} waiting for transaction {1:#x} to reach {2}")]
    Timeout(Duration, Felt, String),
}

/// Finality and execution status of a transaction, as `starknet_getTransactionStatus` says.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct TxStatusAnswer {
    pub finality_status: String,
    #[serde(default)]
    pub execution_status: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

#[derive(Clone)]
pub struct Client {
    url: String,
    http: reqwest::Client,
    admin_token: Option<String>,
}

impl Client {
    pub fn new(url: impl Into<String>) -> Self {
        Client {
            url: url.into(),
            http: reqwest::Client::new(),
            admin_token: None,
        }
    }

    /// Sends this bearer token with admin methods (deposits, closing blocks).
    pub fn with_admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, ClientError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut request = self.http.post(&self.url).json(&body);
        if let Some(token) = &self.admin_token {
            request = request.bearer_auth(token);
        }
        let http = |source| ClientError::Http {
            url: self.url.clone(),
            source,
        };
        let answer: Value = request
            .send()
            .await
            .map_err(http)?
            .json()
            .await
            .map_err(http)?;
        let answer_err = |detail: String| ClientError::Answer {
            method: method.to_string(),
            detail,
        };
        if let Some(error) = answer.get("error") {
            return Err(ClientError::Rpc {
                method: method.to_string(),
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                data: error.get("data").cloned(),
            });
        }
        let result = answer
            .get("result")
            .cloned()
            .ok_or_else(|| answer_err(format!("no result in {answer}")))?;
        serde_json::from_value(result).map_err(|e| answer_err(e.to_string()))
    }

    /// Submits a signed transaction; returns its hash once the sequencer logged it.
    pub async fn add_transaction(&self, tx: &Transaction) -> Result<Felt, ClientError> {
        let answer: Value = self
            .call("starfarm_addTransaction", json!({ "transaction": tx }))
            .await?;
        self.hash_of(answer, "starfarm_addTransaction")
    }

    /// Injects a deposit (admin token required).
    pub async fn admin_deposit(&self, deposit: &Deposit) -> Result<Felt, ClientError> {
        let answer: Value = self
            .call("starfarm_adminDeposit", json!({ "deposit": deposit }))
            .await?;
        self.hash_of(answer, "starfarm_adminDeposit")
    }

    fn hash_of(&self, answer: Value, method: &str) -> Result<Felt, ClientError> {
        serde_json::from_value(
            answer
                .get("transaction_hash")
                .cloned()
                .unwrap_or(Value::Null),
        )
        .map_err(|e| ClientError::Answer {
            method: method.to_string(),
            detail: e.to_string(),
        })
    }

    /// Closes the pre-confirmed block now (admin token required).
    pub async fn close_block(&self) -> Result<Option<BlockHeader>, ClientError> {
        self.call("starfarm_closeBlock", json!({})).await
    }

    /// An account's state (`block_id`: "latest", "pre_confirmed", or a Starknet block id).
    pub async fn account(
        &self,
        address: Felt,
        block_id: Value,
    ) -> Result<AccountState, ClientError> {
        self.call(
            "starfarm_getAccount",
            json!({ "address": address, "block_id": block_id }),
        )
        .await
    }

    /// The nonce the account's next transaction needs (admitted transactions counted).
    pub async fn nonce(&self, address: Felt) -> Result<u64, ClientError> {
        let nonce: Felt = self
            .call("starfarm_getNextNonce", json!({ "address": address }))
            .await?;
        u64::try_from(nonce).map_err(|_| ClientError::Answer {
            method: "starfarm_getNextNonce".into(),
            detail: format!("nonce {nonce:#x} does not fit 64 bits"),
        })
    }

    pub async fn status(&self, hash: Felt) -> Result<TxStatusAnswer, ClientError> {
        self.call(
            "starknet_getTransactionStatus",
            json!({ "transaction_hash": hash }),
        )
        .await
    }

    pub async fn block_number(&self) -> Result<u64, ClientError> {
        self.call("starknet_blockNumber", json!([])).await
    }

    /// Polls until the transaction reaches `finality` (e.g. "ACCEPTED_ON_L2") or later.
    pub async fn wait_for(
        &self,
        hash: Felt,
        finality: &str,
        timeout: Duration,
    ) -> Result<TxStatusAnswer, ClientError> {
        const ORDER: [&str; 4] = [
            "RECEIVED",
            "PRE_CONFIRMED",
            "ACCEPTED_ON_L2",
            "ACCEPTED_ON_L1",
        ];
        let rank = |s: &str| ORDER.iter().position(|o| *o == s);
        let target = rank(finality);
        let start = Instant::now();
        loop {
            let status = self.status(hash).await?;
            if rank(&status.finality_status) >= target {
                return Ok(status);
            }
            if start.elapsed() > timeout {
                return Err(ClientError::Timeout(timeout, hash, finality.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
