//! The project's blocks, transactions and receipts in Starknet JSON-RPC 0.9.0 shapes (field
//! names and encodings as starknet-rs 0.17 deserialises them).
//!
//! Transactions take the nearest Starknet shape:
//! - `DEPLOY_ACCOUNT` → `DEPLOY_ACCOUNT` v3: `contract_address_salt = public_key`,
//!   `constructor_calldata = [public_key]`, `class_hash = "STARFARM_ACCOUNT_V1"`,
//!   `nonce = 0`, `signature = [r, s]`.
//! - `TRANSFER` → `INVOKE` v3 from `sender_address = sender` with
//!   `calldata = ["transfer", recipient, amount]`.
//! - `WITHDRAW` → `INVOKE` v3 from `sender_address = sender` with
//!   `calldata = ["withdraw", l1_recipient, amount]`.
//!   (The first calldata element is the short string that also prefixes the transaction's
//!   hash, `docs/sequencer.md`; `signature = [r, s]`, `nonce` the sender's nonce.)
//! - `DEPOSIT` → `L1_HANDLER` v0: `contract_address = recipient`,
//!   `entry_point_selector = "deposit"` (the short string of the L1→L2 message's selector),
//!   `calldata = [l1_sender, amount]` (Starknet's `[from_address, payload…]`),
//!   `nonce = l1_nonce`.
//!
//! Resource bounds, tips and prices are zero, data-availability modes `L1`, fees `0` in FRI,
//! execution resources zero (starfarm has no fees). Events are [`crate::events`]'s.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use starfarm_common::fact::hex32;
use starknet_types_core::felt::Felt;

use super::RpcConfig;
use crate::block::{AccountDiff, Block, BlockHeader};
use crate::chain::{PreConfirmed, TxRecord, TxStatus};
use crate::events::Event;
use crate::execute::{deposit_selector, ExecutionStatus, MessageToL2, Receipt};
use crate::hash::short_string;
use crate::state::{BALANCE_SLOT, KEY_SLOT};
use crate::tx::{account_class_hash, address_of, Deposit, Signature, Transaction};

pub(crate) fn hex(value: Felt) -> Value {
    Value::String(format!("{value:#x}"))
}

fn hex_u64(value: u64) -> Value {
    Value::String(format!("{value:#x}"))
}

fn hex_list(values: &[Felt]) -> Value {
    Value::Array(values.iter().copied().map(hex).collect())
}

/// Starknet's name of a finality status.
pub(crate) fn status_name(status: TxStatus) -> &'static str {
    match status {
        TxStatus::Received => "RECEIVED",
        TxStatus::PreConfirmed => "PRE_CONFIRMED",
        TxStatus::AcceptedOnL2 => "ACCEPTED_ON_L2",
        TxStatus::AcceptedOnL1 => "ACCEPTED_ON_L1",
    }
}

fn price() -> Value {
    json!({ "price_in_fri": "0x0", "price_in_wei": "0x0" })
}

fn resource_bounds() -> Value {
    let zero = json!({ "max_amount": "0x0", "max_price_per_unit": "0x0" });
    json!({ "l1_gas": zero, "l1_data_gas": zero, "l2_gas": zero })
}

/// Header fields shared by closed and pre-confirmed blocks.
fn common_header(number: u64, timestamp: u64, config: &RpcConfig) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("block_number".into(), json!(number));
    map.insert("timestamp".into(), json!(timestamp));
    map.insert("sequencer_address".into(), hex(config.sequencer_address));
    map.insert("l1_gas_price".into(), price());
    map.insert("l2_gas_price".into(), price());
    map.insert("l1_data_gas_price".into(), price());
    map.insert("l1_da_mode".into(), json!("CALLDATA"));
    map.insert("starknet_version".into(), json!(config.starknet_version));
    map
}

/// `BLOCK_HEADER` plus `status` (`ACCEPTED_ON_L2` or `ACCEPTED_ON_L1`).
pub(crate) fn block_header(
    header: &BlockHeader,
    status: TxStatus,
    config: &RpcConfig,
) -> Map<String, Value> {
    let mut map = common_header(header.number, header.timestamp, config);
    map.insert("status".into(), json!(status_name(status)));
    map.insert("block_hash".into(), hex(header.block_hash));
    map.insert("parent_hash".into(), hex(header.parent_hash));
    map.insert("new_root".into(), hex(header.state_root));
    map
}

/// The `BLOCK_HEADER` fields 0.10 adds: the block's counts, and Starknet's commitments, which
/// this chain does not compute (the spec's `0x0`: "not available").
pub(crate) fn header_0_10(map: &mut Map<String, Value>, block: &Block) {
    for name in [
        "event_commitment",
        "transaction_commitment",
        "receipt_commitment",
        "state_diff_commitment",
    ] {
        map.insert(name.into(), json!("0x0"));
    }
    let pairs = block.transactions.iter().zip(&block.receipts);
    let events: usize = pairs
        .map(|(tx, r)| crate::events::emitted(tx, r).len())
        .sum();
    map.insert("event_count".into(), json!(events));
    map.insert("transaction_count".into(), json!(block.transactions.len()));
    let diff = state_diff(&block.state_diff.accounts);
    map.insert("state_diff_length".into(), json!(state_diff_length(&diff)));
}

/// Entries of a rendered `STATE_DIFF`: storage entries, nonces, deployed, declared and
/// replaced classes.
fn state_diff_length(diff: &Value) -> usize {
    let len = |v: &Value| v.as_array().map_or(0, Vec::len);
    let storage: usize = diff["storage_diffs"]
        .as_array()
        .map_or(0, |d| d.iter().map(|c| len(&c["storage_entries"])).sum());
    let others = [
        "nonces",
        "deployed_contracts",
        "declared_classes",
        "deprecated_declared_classes",
        "replaced_classes",
    ];
    storage + others.iter().map(|name| len(&diff[*name])).sum::<usize>()
}

/// `PRE_CONFIRMED_BLOCK_HEADER`.
pub(crate) fn pre_confirmed_header(block: &PreConfirmed, config: &RpcConfig) -> Map<String, Value> {
    common_header(block.number, block.timestamp, config)
}

fn signature(sig: &Signature) -> Value {
    hex_list(&[sig.r, sig.s])
}

fn invoke(sender: Felt, nonce: u64, calldata: &[Felt], sig: &Signature) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("type".into(), json!("INVOKE"));
    map.insert("version".into(), json!("0x3"));
    map.insert("sender_address".into(), hex(sender));
    map.insert("calldata".into(), hex_list(calldata));
    map.insert("signature".into(), signature(sig));
    map.insert("nonce".into(), hex_u64(nonce));
    insert_v3_defaults(&mut map);
    map.insert("account_deployment_data".into(), json!([]));
    map
}

fn insert_v3_defaults(map: &mut Map<String, Value>) {
    map.insert("resource_bounds".into(), resource_bounds());
    map.insert("tip".into(), json!("0x0"));
    map.insert("paymaster_data".into(), json!([]));
    map.insert("nonce_data_availability_mode".into(), json!("L1"));
    map.insert("fee_data_availability_mode".into(), json!("L1"));
}

fn deploy_account(public_key: Felt, sig: &Signature) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("type".into(), json!("DEPLOY_ACCOUNT"));
    map.insert("version".into(), json!("0x3"));
    map.insert("signature".into(), signature(sig));
    map.insert("nonce".into(), json!("0x0"));
    map.insert("contract_address_salt".into(), hex(public_key));
    map.insert("constructor_calldata".into(), hex_list(&[public_key]));
    map.insert("class_hash".into(), hex(account_class_hash()));
    insert_v3_defaults(&mut map);
    map
}

fn l1_handler(deposit: &Deposit) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("type".into(), json!("L1_HANDLER"));
    map.insert("version".into(), json!("0x0"));
    map.insert("nonce".into(), hex_u64(deposit.l1_nonce));
    map.insert("contract_address".into(), hex(deposit.recipient));
    map.insert("entry_point_selector".into(), hex(deposit_selector()));
    map.insert(
        "calldata".into(),
        hex_list(&[deposit.l1_sender, Felt::from(deposit.amount)]),
    );
    map
}

/// `TXN` content, with `transaction_hash` when `hash` is given (`TXN_WITH_HASH`).
pub(crate) fn transaction(tx: &Transaction, hash: Option<Felt>) -> Value {
    let mut map = match tx {
        Transaction::DeployAccount(t) => deploy_account(t.public_key, &t.signature),
        Transaction::Transfer(t) => {
            let calldata = [short_string("transfer"), t.recipient, Felt::from(t.amount)];
            invoke(t.sender, t.nonce, &calldata, &t.signature)
        }
        Transaction::Withdraw(t) => {
            let calldata = [
                short_string("withdraw"),
                t.l1_recipient,
                Felt::from(t.amount),
            ];
            invoke(t.sender, t.nonce, &calldata, &t.signature)
        }
        Transaction::Deposit(t) => l1_handler(t),
    };
    if let Some(hash) = hash {
        map.insert("transaction_hash".into(), hex(hash));
    }
    Value::Object(map)
}

/// Where an executed transaction is: a closed block (hash and number) or the pre-confirmed
/// block (number only).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    pub block_hash: Option<Felt>,
    pub block_number: u64,
}

/// `TXN_RECEIPT`, plus `block_hash`/`block_number` when `place` is given
/// (`TXN_RECEIPT_WITH_BLOCK_INFO`).
pub(crate) fn receipt(
    tx: &Transaction,
    receipt: &Receipt,
    finality: TxStatus,
    place: Option<Place>,
) -> Value {
    let mut map = Map::new();
    map.insert("type".into(), json!(type_name(tx)));
    map.insert("transaction_hash".into(), hex(receipt.transaction_hash));
    map.insert(
        "actual_fee".into(),
        json!({ "amount": "0x0", "unit": "FRI" }),
    );
    map.insert("finality_status".into(), json!(status_name(finality)));
    map.insert("messages_sent".into(), messages_sent(receipt));
    map.insert("events".into(), events(tx, receipt));
    map.insert(
        "execution_resources".into(),
        json!({ "l1_gas": 0, "l1_data_gas": 0, "l2_gas": 0 }),
    );
    insert_execution(&mut map, receipt, "revert_reason");
    match tx {
        Transaction::DeployAccount(t) => {
            map.insert("contract_address".into(), hex(address_of(t.public_key)));
        }
        Transaction::Deposit(t) => {
            map.insert("message_hash".into(), message_hash(t, receipt));
        }
        Transaction::Transfer(_) | Transaction::Withdraw(_) => {}
    }
    if let Some(place) = place {
        if let Some(hash) = place.block_hash {
            map.insert("block_hash".into(), hex(hash));
        }
        map.insert("block_number".into(), json!(place.block_number));
    }
    Value::Object(map)
}

/// A receipt's `events`: Starknet's `EVENT` objects (emitter, keys, data).
fn events(tx: &Transaction, receipt: &Receipt) -> Value {
    let events = crate::events::emitted(tx, receipt);
    Value::Array(events.iter().map(|e| event(e, Map::new())).collect())
}

/// One event as JSON, after the fields already in `map` (`EMITTED_EVENT` puts its block and
/// transaction there).
pub(crate) fn event(event: &Event, mut map: Map<String, Value>) -> Value {
    map.insert("from_address".into(), hex(event.from_address));
    map.insert("keys".into(), hex_list(&event.keys));
    map.insert("data".into(), hex_list(&event.data));
    Value::Object(map)
}

fn type_name(tx: &Transaction) -> &'static str {
    match tx {
        Transaction::DeployAccount(_) => "DEPLOY_ACCOUNT",
        Transaction::Transfer(_) | Transaction::Withdraw(_) => "INVOKE",
        Transaction::Deposit(_) => "L1_HANDLER",
    }
}

fn messages_sent(receipt: &Receipt) -> Value {
    let messages = receipt.messages_sent.iter().map(|m| {
        json!({
            "from_address": hex(m.from_address),
            "to_address": hex(m.to_address),
            "payload": hex_list(&m.payload),
        })
    });
    Value::Array(messages.collect())
}

/// `execution_status`, and the reason under `reason_field` when reverted (a reverted
/// transaction always has a reason: typed clients require one).
fn insert_execution(map: &mut Map<String, Value>, receipt: &Receipt, reason_field: &str) {
    match receipt.execution_status {
        ExecutionStatus::Succeeded => {
            map.insert("execution_status".into(), json!("SUCCEEDED"));
        }
        ExecutionStatus::Reverted => {
            map.insert("execution_status".into(), json!("REVERTED"));
            let reason = receipt.revert_reason.as_deref().unwrap_or("reverted");
            map.insert(reason_field.into(), json!(reason));
        }
    }
}

/// The L1→L2 message hash as the L1 core contract computes it, `0x` + 64 hex digits.
fn message_hash(deposit: &Deposit, receipt: &Receipt) -> Value {
    let message = receipt
        .message_consumed
        .clone()
        .unwrap_or_else(|| MessageToL2 {
            from_address: deposit.l1_sender,
            to_address: deposit.recipient,
            nonce: deposit.l1_nonce,
            selector: deposit_selector(),
            payload: vec![Felt::from(deposit.amount)],
        });
    Value::String(hex32(&message.hash()))
}

/// `TXN_STATUS_RESULT`: `finality_status`, plus `execution_status` (and `failure_reason`
/// when reverted) once executed.
pub(crate) fn tx_status(record: &TxRecord) -> Value {
    let mut map = Map::new();
    match (&record.receipt, record.status) {
        (Some(receipt), status) if status != TxStatus::Received => {
            map.insert("finality_status".into(), json!(status_name(status)));
            insert_execution(&mut map, receipt, "failure_reason");
        }
        _ => {
            map.insert(
                "finality_status".into(),
                json!(status_name(TxStatus::Received)),
            );
        }
    }
    Value::Object(map)
}

/// `STATE_DIFF` of the changed accounts: storage slot 0 (public key) and 1 (balance),
/// nonces, deployed contracts (class hash 0 → non-zero) and replaced classes.
pub(crate) fn state_diff(accounts: &[AccountDiff]) -> Value {
    let mut storage_diffs = Vec::new();
    let mut nonces = Vec::new();
    let mut deployed = Vec::new();
    let mut replaced = Vec::new();
    for diff in sorted(accounts) {
        let (before, after, address) = (&diff.before, &diff.after, diff.address);
        let entries = storage_entries(diff);
        if !entries.is_empty() {
            storage_diffs.push(json!({ "address": hex(address), "storage_entries": entries }));
        }
        if before.nonce != after.nonce {
            nonces.push(json!({ "contract_address": hex(address), "nonce": hex_u64(after.nonce) }));
        }
        if before.class_hash != after.class_hash {
            let class_hash = hex(after.class_hash);
            if before.class_hash == Felt::ZERO {
                deployed.push(json!({ "address": hex(address), "class_hash": class_hash }));
            } else {
                replaced
                    .push(json!({ "contract_address": hex(address), "class_hash": class_hash }));
            }
        }
    }
    json!({
        "storage_diffs": storage_diffs,
        "deprecated_declared_classes": [],
        "declared_classes": [],
        "deployed_contracts": deployed,
        "replaced_classes": replaced,
        "nonces": nonces,
    })
}

fn sorted(accounts: &[AccountDiff]) -> Vec<&AccountDiff> {
    let order: BTreeSet<(Felt, usize)> = accounts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.address, i))
        .collect();
    order
        .into_iter()
        .filter_map(|(_, i)| accounts.get(i))
        .collect()
}

fn storage_entries(diff: &AccountDiff) -> Vec<Value> {
    let mut entries = Vec::new();
    if diff.before.public_key != diff.after.public_key {
        entries.push(json!({ "key": hex_u64(KEY_SLOT), "value": hex(diff.after.public_key) }));
    }
    if diff.before.balance != diff.after.balance {
        entries.push(
            json!({ "key": hex_u64(BALANCE_SLOT), "value": hex(Felt::from(diff.after.balance)) }),
        );
    }
    entries
}
