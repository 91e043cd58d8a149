//! Write methods: admission of transactions and block control through a [`TxSubmitter`].

use serde_json::{json, Value};

use super::error::RpcError;
use super::params::{serde, Params};
use super::render::hex;
use crate::chain::TxSubmitter;
use crate::tx::{Deposit, Transaction};

/// The project's write methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteMethod {
    AddTransaction,
    AdminDeposit,
    CloseBlock,
}

impl WriteMethod {
    pub fn lookup(name: &str) -> Option<Self> {
        match name {
            "starfarm_addTransaction" => Some(WriteMethod::AddTransaction),
            "starfarm_adminDeposit" => Some(WriteMethod::AdminDeposit),
            "starfarm_closeBlock" => Some(WriteMethod::CloseBlock),
            _ => None,
        }
    }

    /// Whether the method needs the admin token.
    pub fn is_admin(self) -> bool {
        matches!(self, WriteMethod::AdminDeposit | WriteMethod::CloseBlock)
    }

    pub async fn call(
        self,
        submitter: &dyn TxSubmitter,
        params: &Params,
    ) -> Result<Value, RpcError> {
        match self {
            WriteMethod::AddTransaction => add_transaction(submitter, params).await,
            WriteMethod::AdminDeposit => admin_deposit(submitter, params).await,
            WriteMethod::CloseBlock => close_block(submitter, params).await,
        }
    }
}

async fn add_transaction(submitter: &dyn TxSubmitter, params: &Params) -> Result<Value, RpcError> {
    let tx: Transaction = params
        .bind(&["transaction"])?
        .required("transaction", serde)?;
    let hash = submitter.submit(tx).await?;
    Ok(json!({ "transaction_hash": hex(hash) }))
}

async fn admin_deposit(submitter: &dyn TxSubmitter, params: &Params) -> Result<Value, RpcError> {
    let deposit: Deposit = params.bind(&["deposit"])?.required("deposit", serde)?;
    let hash = submitter
        .submit_deposit(Transaction::Deposit(deposit))
        .await?;
    Ok(json!({ "transaction_hash": hex(hash) }))
}

async fn close_block(submitter: &dyn TxSubmitter, params: &Params) -> Result<Value, RpcError> {
    params.bind(&[])?;
    let header = submitter.close_block().await?;
    serde_json::to_value(header).map_err(|e| RpcError::internal(e.to_string()))
}
