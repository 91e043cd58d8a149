//! Native execution: the state transition of one transaction over the accounts it touches.
//! The Cairo block program implements the same rules (`docs/sequencer.md`, "Execution
//! rules"); signatures are checked at admission, not here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use crate::hash::short_string;
use crate::state::AccountState;
use crate::tx::{account_class_hash, address_of, hex_u64, Transaction};

/// Selector of the deposit L1→L2 message.
pub fn deposit_selector() -> Felt {
    short_string("deposit")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Reverted,
}

/// An L2→L1 message (Starknet's shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageToL1 {
    pub from_address: Felt,
    pub to_address: Felt,
    pub payload: Vec<Felt>,
}

/// An L1→L2 message consumed by a deposit (Starknet's shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageToL2 {
    pub from_address: Felt,
    pub to_address: Felt,
    #[serde(with = "hex_u64")]
    pub nonce: u64,
    pub selector: Felt,
    pub payload: Vec<Felt>,
}

impl MessageToL2 {
    /// Its hash as the L1 core contract keys it (`l1ToL2Messages`), Starknet's formula
    /// ([`starfarm_common::message::l1_to_l2_message_hash`]).
    pub fn hash(&self) -> [u8; 32] {
        starfarm_common::message::l1_to_l2_message_hash(
            self.from_address,
            self.to_address,
            self.nonce,
            self.selector,
            &self.payload,
        )
    }
}

/// What executing one transaction did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub transaction_hash: Felt,
    pub execution_status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_reason: Option<String>,
    #[serde(default)]
    pub messages_sent: Vec<MessageToL1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_consumed: Option<MessageToL2>,
}

/// A transaction that must never reach a block (admission refuses it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTx {
    #[error("account {0:#x} is not deployed")]
    NotDeployed(Felt),
    #[error("account {account:#x} has nonce {expected}, transaction has nonce {got}")]
    Nonce {
        account: Felt,
        expected: u64,
        got: u64,
    },
    #[error("account {0:#x} is already deployed")]
    AlreadyDeployed(Felt),
}

/// The addresses a transaction reads or writes.
pub fn touched(tx: &Transaction) -> Vec<Felt> {
    match tx {
        Transaction::DeployAccount(t) => vec![address_of(t.public_key)],
        Transaction::Transfer(t) => vec![t.sender, t.recipient],
        Transaction::Withdraw(t) => vec![t.sender],
        Transaction::Deposit(t) => vec![t.recipient],
    }
}

/// Applies `tx` to `accounts` (addresses missing from the map are empty accounts).
pub fn apply(
    accounts: &mut BTreeMap<Felt, AccountState>,
    tx: &Transaction,
) -> Result<Receipt, InvalidTx> {
    apply_hashed(accounts, tx, tx.hash())
}

/// `apply` for a transaction whose hash is already known (Poseidon costs ~10 µs a block).
pub fn apply_hashed(
    accounts: &mut BTreeMap<Felt, AccountState>,
    tx: &Transaction,
    hash: Felt,
) -> Result<Receipt, InvalidTx> {
    let mut receipt = Receipt {
        transaction_hash: hash,
        execution_status: ExecutionStatus::Succeeded,
        revert_reason: None,
        messages_sent: Vec::new(),
        message_consumed: None,
    };
    let revert = |receipt: &mut Receipt, reason: String| {
        receipt.execution_status = ExecutionStatus::Reverted;
        receipt.revert_reason = Some(reason);
    };
    match tx {
        Transaction::DeployAccount(t) => {
            let address = address_of(t.public_key);
            let account = accounts.entry(address).or_default();
            if account.is_deployed() {
                return Err(InvalidTx::AlreadyDeployed(address));
            }
            account.class_hash = account_class_hash();
            account.public_key = t.public_key;
            account.nonce = 1;
        }
        Transaction::Transfer(t) => {
            bump_nonce(accounts, t.sender, t.nonce)?;
            if let Err(reason) = move_funds(accounts, t.sender, Some(t.recipient), t.amount) {
                revert(&mut receipt, reason);
            }
        }
        Transaction::Withdraw(t) => {
            bump_nonce(accounts, t.sender, t.nonce)?;
            match move_funds(accounts, t.sender, None, t.amount) {
                Ok(()) => receipt.messages_sent.push(MessageToL1 {
                    from_address: t.sender,
                    to_address: t.l1_recipient,
                    payload: vec![Felt::from(t.amount)],
                }),
                Err(reason) => revert(&mut receipt, reason),
            }
        }
        Transaction::Deposit(t) => {
            receipt.message_consumed = Some(MessageToL2 {
                from_address: t.l1_sender,
                to_address: t.recipient,
                nonce: t.l1_nonce,
                selector: deposit_selector(),
                payload: vec![Felt::from(t.amount)],
            });
            let account = accounts.entry(t.recipient).or_default();
            match account.balance.checked_add(t.amount) {
                Some(balance) => account.balance = balance,
                None => revert(&mut receipt, balance_overflow(t.recipient)),
            }
        }
    }
    Ok(receipt)
}

fn bump_nonce(
    accounts: &mut BTreeMap<Felt, AccountState>,
    sender: Felt,
    nonce: u64,
) -> Result<(), InvalidTx> {
    let account = accounts.entry(sender).or_default();
    if !account.is_deployed() {
        return Err(InvalidTx::NotDeployed(sender));
    }
    if account.nonce != nonce {
        return Err(InvalidTx::Nonce {
            account: sender,
            expected: account.nonce,
            got: nonce,
        });
    }
    account.nonce += 1;
    Ok(())
}

/// Debits `from` and credits `to` (none: burnt for a withdrawal), or says why it cannot.
fn move_funds(
    accounts: &mut BTreeMap<Felt, AccountState>,
    from: Felt,
    to: Option<Felt>,
    amount: u128,
) -> Result<(), String> {
    let balance = accounts.get(&from).map_or(0, |a| a.balance);
    if amount > balance {
        return Err(format!("insufficient balance: {balance:#x} < {amount:#x}"));
    }
    if let Some(to) = to {
        if to == from {
            return Ok(());
        }
        let credited = accounts
            .get(&to)
            .map_or(0, |a| a.balance)
            .checked_add(amount);
        accounts.entry(to).or_default().balance = credited.ok_or_else(|| balance_overflow(to))?;
    }
    accounts.entry(from).or_default().balance = balance - amount;
    Ok(())
}

fn balance_overflow(account: Felt) -> String {
    format!("balance of {account:#x} would reach 2^128")
}
