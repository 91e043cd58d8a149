//! Read methods: synchronous calls into a [`ChainReader`], run on tokio's blocking pool by
//! the dispatcher. Shapes: `render`.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use starknet_types_core::felt::Felt;

use super::error::RpcError;
use super::params::{block_ref, felt, kind, u64_number, BlockRef, Bound, Params};
use super::render::{self, hex, Place};
use super::{RpcConfig, SpecVersion};
use crate::block::{AccountDiff, Block, BlockHeader};
use crate::chain::{BlockId, ChainReader, PreConfirmed, TxRecord, TxStatus};
use crate::execute::{touched, Receipt};
use crate::state::{global_root, AccountState};
use crate::tx::Transaction;

/// What a read method sees.
pub(crate) struct ReadCtx {
    pub reader: Arc<dyn ChainReader>,
    pub config: Arc<RpcConfig>,
    /// The version to answer in.
    pub version: SpecVersion,
}

pub(crate) type ReadFn = fn(&ReadCtx, &Params) -> Result<Value, RpcError>;

/// The read method called `name`, if any.
pub(crate) fn lookup(name: &str) -> Option<ReadFn> {
    let method: ReadFn = match name {
        "starknet_specVersion" => spec_version,
        "starknet_chainId" => chain_id,
        "starknet_syncing" => syncing,
        "starknet_blockNumber" => block_number,
        "starknet_blockHashAndNumber" => block_hash_and_number,
        "starknet_getBlockWithTxHashes" => block_with_tx_hashes,
        "starknet_getBlockWithTxs" => block_with_txs,
        "starknet_getBlockWithReceipts" => block_with_receipts,
        "starknet_getBlockTransactionCount" => block_transaction_count,
        "starknet_getStateUpdate" => state_update,
        "starknet_getTransactionStatus" => transaction_status,
        "starknet_getTransactionByHash" => transaction_by_hash,
        "starknet_getTransactionByBlockIdAndIndex" => transaction_by_block_and_index,
        "starknet_getTransactionReceipt" => transaction_receipt,
        "starknet_getNonce" => nonce,
        "starknet_getStorageAt" => storage_at,
        "starknet_getClassHashAt" => class_hash_at,
        "starknet_getEvents" => super::events::get_events,
        "starfarm_getAccount" => account,
        "starfarm_getNextNonce" => next_nonce,
        "starfarm_syncStatus" => sync_status,
        "starfarm_getBlock" => published_block,
        _ => return None,
    };
    Some(method)
}

const NONE: &[&str] = &[];
const BLOCK_ID: &[&str] = &["block_id"];
const TX_HASH: &[&str] = &["transaction_hash"];

/// `response_flags` of the 0.10 block and transaction reads: only `INCLUDE_PROOF_FACTS`,
/// which adds nothing here (no transaction of this chain carries proof facts).
fn txn_flags(value: &Value) -> Result<(), String> {
    let flags = value
        .as_array()
        .ok_or_else(|| format!("expected an array of flags, got {}", kind(value)))?;
    match flags
        .iter()
        .find(|f| f.as_str() != Some("INCLUDE_PROOF_FACTS"))
    {
        Some(other) => Err(format!(
            "unknown flag {other} (expected INCLUDE_PROOF_FACTS)"
        )),
        None => Ok(()),
    }
}

/// Binds `names` (0.9), or `names` then `response_flags` (0.10, checked).
fn bind_flagged<'a>(
    ctx: &ReadCtx,
    params: &'a Params,
    names: &'static [&'static str],
    with_flags: &'static [&'static str],
) -> Result<Bound<'a>, RpcError> {
    if ctx.version < SpecVersion::V0_10 {
        return params.bind(names);
    }
    let bound = params.bind(with_flags)?;
    bound.optional("response_flags", txn_flags)?;
    Ok(bound)
}

/// The header of a closed block, with the 0.10 counts and commitments when asked in 0.10.
pub(crate) fn closed_header(ctx: &ReadCtx, block: &Block, status: TxStatus) -> Map<String, Value> {
    let mut header = render::block_header(&block.header, status, &ctx.config);
    if ctx.version >= SpecVersion::V0_10 {
        render::header_0_10(&mut header, block);
    }
    header
}

fn spec_version(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    params.bind(NONE)?;
    Ok(json!(ctx.version.name()))
}

fn chain_id(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    params.bind(NONE)?;
    Ok(hex(ctx.config.chain_id))
}

/// `false` when caught up (a sequencer always is), else Starknet's `SYNC_STATUS`.
fn syncing(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    params.bind(NONE)?;
    let status = ctx.reader.sync_status()?;
    let (Some(highest), false) = (status.highest_block, status.blocks_behind == 0) else {
        return Ok(json!(false));
    };
    let hash_of = |number: Option<u64>| -> Result<Value, RpcError> {
        let header = match number {
            Some(n) => ctx.reader.header(BlockId::Number(n))?,
            None => None,
        };
        // Blocks not applied yet have no known hash: Starknet's clients accept 0x0.
        Ok(hex(header.map_or(Felt::ZERO, |h| h.block_hash)))
    };
    let current = status.synced_block;
    Ok(json!({
        "starting_block_hash": hash_of(status.starting_block.checked_sub(1))?,
        "starting_block_num": status.starting_block,
        "current_block_hash": hash_of(current)?,
        "current_block_num": current.unwrap_or(0),
        "highest_block_hash": hash_of(Some(highest))?,
        "highest_block_num": highest,
    }))
}

/// The reader's `SyncStatus` as JSON (mode, synced and highest block, blocks behind,
/// refused block).
fn sync_status(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    params.bind(NONE)?;
    serde_json::to_value(ctx.reader.sync_status()?).map_err(|e| RpcError::internal(e.to_string()))
}

/// A closed block as the sequencer publishes it (header, transactions, receipts and the state
/// diff with each account's state before and after): what a node syncing over JSON-RPC
/// applies, as it would the object store's.
fn published_block(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let id = params.bind(BLOCK_ID)?.required("block_id", block_ref)?;
    match resolve(ctx, id)? {
        Resolved::Closed(block) => {
            serde_json::to_value(block).map_err(|e| RpcError::internal(e.to_string()))
        }
        Resolved::PreConfirmed(_) => Err(RpcError::block_not_found(
            "the pre-confirmed block is not closed: ask for a closed one",
        )),
    }
}

fn latest(ctx: &ReadCtx) -> Result<BlockHeader, RpcError> {
    ctx.reader.latest_header()?.ok_or_else(RpcError::no_blocks)
}

fn block_number(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    params.bind(NONE)?;
    Ok(json!(latest(ctx)?.number))
}

fn block_hash_and_number(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    params.bind(NONE)?;
    let header = latest(ctx)?;
    Ok(json!({ "block_hash": hex(header.block_hash), "block_number": header.number }))
}

/// A block id resolved to a closed block or the pre-confirmed one.
enum Resolved {
    Closed(Block),
    PreConfirmed(PreConfirmed),
}

fn describe(id: BlockRef) -> String {
    match id {
        BlockRef::Latest => "no block has been closed yet".to_string(),
        BlockRef::PreConfirmed => "no pre-confirmed block".to_string(),
        BlockRef::L1Accepted => "no block has been accepted on L1 yet".to_string(),
        BlockRef::Number(n) => format!("no block number {n}"),
        BlockRef::Hash(h) => format!("no block with hash {h:#x}"),
    }
}

/// The chain's id for a spec block id (`l1_accepted` becomes a number).
fn chain_block_id(ctx: &ReadCtx, id: BlockRef) -> Result<BlockId, RpcError> {
    Ok(match id {
        BlockRef::Latest => BlockId::Latest,
        BlockRef::PreConfirmed => BlockId::PreConfirmed,
        BlockRef::Number(n) => BlockId::Number(n),
        BlockRef::Hash(h) => BlockId::Hash(h),
        BlockRef::L1Accepted => match ctx.reader.l1_accepted_number()? {
            Some(n) => BlockId::Number(n),
            None => return Err(RpcError::block_not_found(describe(id))),
        },
    })
}

fn resolve(ctx: &ReadCtx, id: BlockRef) -> Result<Resolved, RpcError> {
    match chain_block_id(ctx, id)? {
        BlockId::PreConfirmed => Ok(Resolved::PreConfirmed(ctx.reader.pre_confirmed()?)),
        chain_id => match ctx.reader.block(chain_id)? {
            Some(block) => Ok(Resolved::Closed(block)),
            None => Err(RpcError::block_not_found(describe(id))),
        },
    }
}

fn block_status(ctx: &ReadCtx, number: u64) -> Result<TxStatus, RpcError> {
    let on_l1 = ctx
        .reader
        .l1_accepted_number()?
        .is_some_and(|l1| number <= l1);
    Ok(if on_l1 {
        TxStatus::AcceptedOnL1
    } else {
        TxStatus::AcceptedOnL2
    })
}

/// A block's header fields and contents, ready to render.
struct View<'a> {
    header: Map<String, Value>,
    transactions: &'a [Transaction],
    receipts: &'a [Receipt],
    finality: TxStatus,
}

impl View<'_> {
    fn hash(&self, index: usize, tx: &Transaction) -> Felt {
        self.receipts
            .get(index)
            .map_or_else(|| tx.hash(), |r| r.transaction_hash)
    }
}

fn view<'a>(ctx: &ReadCtx, resolved: &'a Resolved) -> Result<View<'a>, RpcError> {
    Ok(match resolved {
        Resolved::Closed(block) => {
            let status = block_status(ctx, block.header.number)?;
            View {
                header: closed_header(ctx, block, status),
                transactions: &block.transactions,
                receipts: &block.receipts,
                finality: status,
            }
        }
        Resolved::PreConfirmed(block) => View {
            header: render::pre_confirmed_header(block, &ctx.config),
            transactions: &block.transactions,
            receipts: &block.receipts,
            finality: TxStatus::PreConfirmed,
        },
    })
}

/// A block object whose `transactions` member `contents` renders.
fn block_with(
    ctx: &ReadCtx,
    bound: Bound,
    contents: fn(&View) -> Vec<Value>,
) -> Result<Value, RpcError> {
    let id = bound.required("block_id", block_ref)?;
    let resolved = resolve(ctx, id)?;
    let view = view(ctx, &resolved)?;
    let mut object = view.header.clone();
    object.insert("transactions".into(), Value::Array(contents(&view)));
    Ok(Value::Object(object))
}

/// `block_id`, then (0.10) `response_flags`.
const BLOCK_ID_FLAGS: &[&str] = &["block_id", "response_flags"];

fn block_with_tx_hashes(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let bound = bind_flagged(ctx, params, BLOCK_ID, BLOCK_ID_FLAGS)?;
    block_with(ctx, bound, |view| {
        view.transactions
            .iter()
            .enumerate()
            .map(|(i, tx)| hex(view.hash(i, tx)))
            .collect()
    })
}

fn block_with_txs(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let bound = bind_flagged(ctx, params, BLOCK_ID, BLOCK_ID_FLAGS)?;
    block_with(ctx, bound, |view| {
        let txs = view.transactions.iter().enumerate();
        txs.map(|(i, tx)| render::transaction(tx, Some(view.hash(i, tx))))
            .collect()
    })
}

fn block_with_receipts(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    block_with(ctx, params.bind(BLOCK_ID)?, |view| {
        let pairs = view.transactions.iter().zip(view.receipts);
        pairs
            .map(|(tx, receipt)| {
                json!({
                    "transaction": render::transaction(tx, None),
                    "receipt": render::receipt(tx, receipt, view.finality, None),
                })
            })
            .collect()
    })
}

fn block_transaction_count(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let id = params.bind(BLOCK_ID)?.required("block_id", block_ref)?;
    let count = match resolve(ctx, id)? {
        Resolved::Closed(block) => block.transactions.len(),
        Resolved::PreConfirmed(block) => block.transactions.len(),
    };
    Ok(json!(count))
}

fn transaction_by_block_and_index(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let names = &["block_id", "index"];
    let bound = bind_flagged(ctx, params, names, &["block_id", "index", "response_flags"])?;
    let id = bound.required("block_id", block_ref)?;
    let index = bound.required("index", u64_number)?;
    let resolved = resolve(ctx, id)?;
    let view = view(ctx, &resolved)?;
    let position = usize::try_from(index).ok();
    match position.and_then(|i| view.transactions.get(i).map(|tx| (i, tx))) {
        Some((i, tx)) => Ok(render::transaction(tx, Some(view.hash(i, tx)))),
        None => Err(RpcError::invalid_txn_index(index, view.transactions.len())),
    }
}

/// The global root of the empty state (before block 0).
fn empty_root() -> Felt {
    global_root(Felt::ZERO)
}

/// The global root before block `number`.
fn old_root(ctx: &ReadCtx, number: u64) -> Result<Felt, RpcError> {
    let Some(parent) = number.checked_sub(1) else {
        return Ok(empty_root());
    };
    match ctx.reader.header(BlockId::Number(parent))? {
        Some(header) => Ok(header.state_root),
        None => Err(RpcError::unexpected(format!(
            "block {parent}, parent of {number}, is missing"
        ))),
    }
}

/// `starknet_getStateUpdate`; 0.10 adds `contract_addresses`: only their entries.
fn state_update(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let (id, wanted) = if ctx.version < SpecVersion::V0_10 {
        (
            params.bind(BLOCK_ID)?.required("block_id", block_ref)?,
            None,
        )
    } else {
        let bound = params.bind(&["block_id", "contract_addresses"])?;
        let id = bound.required("block_id", block_ref)?;
        (id, bound.optional("contract_addresses", felts)?)
    };
    let only = |accounts: &[AccountDiff]| -> Vec<AccountDiff> {
        let keep = |a: &&AccountDiff| wanted.as_ref().is_none_or(|w| w.contains(&a.address));
        accounts.iter().filter(keep).cloned().collect()
    };
    match resolve(ctx, id)? {
        Resolved::Closed(block) => Ok(json!({
            "block_hash": hex(block.header.block_hash),
            "old_root": hex(old_root(ctx, block.header.number)?),
            "new_root": hex(block.header.state_root),
            "state_diff": render::state_diff(&only(&block.state_diff.accounts)),
        })),
        Resolved::PreConfirmed(block) => {
            let old_root = ctx
                .reader
                .latest_header()?
                .map_or_else(empty_root, |h| h.state_root);
            Ok(json!({
                "old_root": hex(old_root),
                "state_diff": render::state_diff(&only(&pre_confirmed_diff(ctx, &block)?)),
            }))
        }
    }
}

/// The accounts the pre-confirmed block changed, compared with the latest closed block.
fn pre_confirmed_diff(ctx: &ReadCtx, block: &PreConfirmed) -> Result<Vec<AccountDiff>, RpcError> {
    let addresses: BTreeSet<Felt> = block.transactions.iter().flat_map(touched).collect();
    let mut diffs = Vec::new();
    for address in addresses {
        let before = ctx
            .reader
            .account(address, BlockId::Latest)?
            .unwrap_or_default();
        let after = ctx
            .reader
            .account(address, BlockId::PreConfirmed)?
            .unwrap_or_default();
        if before != after {
            diffs.push(AccountDiff {
                address,
                before,
                after,
            });
        }
    }
    Ok(diffs)
}

/// A list of felts.
fn felts(value: &Value) -> Result<Vec<Felt>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("expected an array of felts, got {}", kind(value)))?;
    items.iter().map(felt).collect()
}

fn record(ctx: &ReadCtx, params: &Params) -> Result<(Felt, TxRecord), RpcError> {
    record_of(ctx, params.bind(TX_HASH)?)
}

fn record_of(ctx: &ReadCtx, bound: Bound) -> Result<(Felt, TxRecord), RpcError> {
    let hash = bound.required("transaction_hash", felt)?;
    match ctx.reader.transaction(hash)? {
        Some(record) => Ok((hash, record)),
        None => Err(RpcError::txn_hash_not_found(hash, "is not known")),
    }
}

fn transaction_status(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let (_, record) = record(ctx, params)?;
    Ok(render::tx_status(&record))
}

fn transaction_by_hash(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let with_flags = &["transaction_hash", "response_flags"];
    let (hash, record) = record_of(ctx, bind_flagged(ctx, params, TX_HASH, with_flags)?)?;
    Ok(render::transaction(&record.transaction, Some(hash)))
}

fn transaction_receipt(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let (hash, record) = record(ctx, params)?;
    let Some(receipt) = &record.receipt else {
        return Err(RpcError::txn_hash_not_found(
            hash,
            "is received but not executed yet",
        ));
    };
    let place = match record.block {
        Some((number, block_hash)) => Place {
            block_hash: Some(block_hash),
            block_number: number,
        },
        None => Place {
            block_hash: None,
            block_number: ctx.reader.pre_confirmed()?.number,
        },
    };
    let finality = match (record.status, record.block) {
        (TxStatus::Received, _) | (_, None) => TxStatus::PreConfirmed,
        (status, Some(_)) => status,
    };
    Ok(render::receipt(
        &record.transaction,
        receipt,
        finality,
        Some(place),
    ))
}

/// The account at `address` after block `id`.
fn account_at(ctx: &ReadCtx, address: Felt, id: BlockRef) -> Result<AccountState, RpcError> {
    let chain_id = chain_block_id(ctx, id)?;
    ctx.reader
        .account(address, chain_id)?
        .ok_or_else(|| RpcError::block_not_found(describe(id)))
}

/// An account that exists (anything non-zero), or CONTRACT_NOT_FOUND.
fn existing(ctx: &ReadCtx, address: Felt, id: BlockRef) -> Result<AccountState, RpcError> {
    let account = account_at(ctx, address, id)?;
    if account.is_empty() {
        return Err(RpcError::contract_not_found(address));
    }
    Ok(account)
}

fn nonce(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let bound = params.bind(&["block_id", "contract_address"])?;
    let id = bound.required("block_id", block_ref)?;
    let address = bound.required("contract_address", felt)?;
    Ok(hex(Felt::from(existing(ctx, address, id)?.nonce)))
}

fn storage_at(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let names: &[&str] = &["contract_address", "key", "block_id", "response_flags"];
    let bound = match ctx.version {
        SpecVersion::V0_9 => params.bind(&names[..3])?,
        SpecVersion::V0_10 => {
            let bound = params.bind(names)?;
            let flags = bound.optional("response_flags", storage_flags)?;
            if let Some(flags) = flags.filter(|f| !f.is_empty()) {
                return Err(RpcError::invalid_params(format!(
                    "response_flags: {flags:?} not supported: this sequencer does not index \
                     when each storage slot last changed (INCLUDE_LAST_UPDATE_BLOCK)"
                )));
            }
            bound
        }
    };
    let address = bound.required("contract_address", felt)?;
    let key = bound.required("key", felt)?;
    let id = bound.required("block_id", block_ref)?;
    Ok(hex(existing(ctx, address, id)?.storage_at(key)))
}

/// `starknet_getStorageAt`'s flags, as given.
fn storage_flags(value: &Value) -> Result<Vec<String>, String> {
    let flags = value
        .as_array()
        .ok_or_else(|| format!("expected an array of flags, got {}", kind(value)))?;
    Ok(flags
        .iter()
        .map(|f| f.as_str().unwrap_or("?").to_owned())
        .collect())
}

fn class_hash_at(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let bound = params.bind(&["block_id", "contract_address"])?;
    let id = bound.required("block_id", block_ref)?;
    let address = bound.required("contract_address", felt)?;
    let account = account_at(ctx, address, id)?;
    if !account.is_deployed() {
        return Err(RpcError::contract_not_found(address));
    }
    Ok(hex(account.class_hash))
}

fn account(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let bound = params.bind(&["address", "block_id"])?;
    let address = bound.required("address", felt)?;
    let id = bound
        .optional("block_id", block_ref)?
        .unwrap_or(BlockRef::Latest);
    let account = account_at(ctx, address, id)?;
    serde_json::to_value(account).map_err(|e| RpcError::internal(e.to_string()))
}

fn next_nonce(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let address = params.bind(&["address"])?.required("address", felt)?;
    Ok(hex(Felt::from(ctx.reader.next_nonce(address)?)))
}
