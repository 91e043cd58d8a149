//! The sequencer's JSON-RPC server: Starknet JSON-RPC **0.9.0** and **0.10.0** reads, and the
//! project's `starfarm_*` write methods.
//!
//! # Versions
//! Each version has its path, as Pathfinder and Juno serve them: `/rpc/v0_9` (0.9.0) and
//! `/rpc/v0_10` (0.10.0); `/` and `/rpc` stay 0.9.0 (what starknet-rs 0.17's typed
//! `JsonRpcClient` speaks, and what every client of this server used so far). One
//! implementation serves both ([`SpecVersion`] in each call's context); 0.10.0 differs by:
//! - `starknet_specVersion` → `"0.10.0"`.
//! - `EMITTED_EVENT` (`starknet_getEvents`, `starknet_subscriptionEvents`) adds
//!   `transaction_index` (in the block) and `event_index` (in the transaction).
//! - `BLOCK_HEADER` of closed blocks (block reads, `starknet_subscriptionNewHeads`) adds
//!   `transaction_count`, `event_count`, `state_diff_length`, and `event_commitment`,
//!   `transaction_commitment`, `receipt_commitment`, `state_diff_commitment`, which read
//!   `0x0`: this chain does not compute Starknet's commitments (the spec's value for "not
//!   available").
//! - The event filter's `address` (and the events subscription's `from_address`) may be an
//!   array of addresses (0.9: one address).
//! - `response_flags` (optional) of `starknet_getBlockWithTxHashes`, `…WithTxs`,
//!   `starknet_getTransactionByHash` and `…ByBlockIdAndIndex`: `INCLUDE_PROOF_FACTS` is
//!   accepted and changes nothing (no transaction here carries proof facts).
//!   `starknet_getStorageAt`'s `INCLUDE_LAST_UPDATE_BLOCK` is refused (-32602): the sequencer
//!   does not index when each slot last changed.
//! - `starknet_getStateUpdate(block_id, contract_addresses?)`: only those contracts' entries.
//!
//! # Transport
//! JSON-RPC 2.0 over HTTP `POST` at `/`, `/rpc`, `/rpc/v0_9` and `/rpc/v0_10`, and over a
//! WebSocket on the same paths (`GET` upgrades; subscriptions as listed in `subscriptions`). Single requests and batches
//! (arrays, answered in order; at most [`RpcConfig::max_batch_len`] calls); requests without
//! `id` are notifications and get no answer (HTTP 204 when nothing is left to answer).
//! Params by position (the spec's order) or by name. Bodies above
//! [`RpcConfig::max_body_bytes`] get HTTP 413 with a JSON-RPC `-32600` error.
//!
//! # Errors
//! `-32700` parse error, `-32600` invalid request, `-32601` method not found, `-32602`
//! invalid params (the message names the param and says what is wrong), `-32603` internal,
//! `-32001` unauthorized (admin methods). Starknet's codes with the spec's messages:
//! 1 FAILED_TO_RECEIVE_TXN (mempool full, disk nearly full, shutting down), 20
//! CONTRACT_NOT_FOUND, 24 BLOCK_NOT_FOUND, 27 INVALID_TXN_INDEX, 29 TXN_HASH_NOT_FOUND, 31
//! PAGE_SIZE_TOO_BIG, 32 NO_BLOCKS, 33 INVALID_CONTINUATION_TOKEN, 34 TOO_MANY_KEYS_IN_FILTER, 52
//! INVALID_TRANSACTION_NONCE, 54 INSUFFICIENT_ACCOUNT_BALANCE, 55 VALIDATION_FAILURE (bad
//! format or signature, account not deployed or already deployed, deposit not allowed), 59
//! DUPLICATE_TX, 63 UNEXPECTED_ERROR (storage), 66 INVALID_SUBSCRIPTION_ID, 68
//! TOO_MANY_BLOCKS_BACK (subscriptions). Every error carries its reason as a string
//! in `data`.
//!
//! # Block ids
//! `"latest"` (latest closed block), `"pre_confirmed"` (the block being built),
//! `"l1_accepted"` (latest block settled on L1, [`ChainReader::l1_accepted_number`]),
//! `{"block_number": n}`, `{"block_hash": "0x…"}`.
//!
//! # Read methods (Starknet 0.9.0 shapes, 0.10.0 as listed above; see `render` for how
//! transactions map)
//! - `starknet_specVersion()` → `"0.9.0"` (`"0.10.0"` on `/rpc/v0_10`).
//! - `starknet_chainId()` → the chain id felt ([`RpcConfig::chain_id`]).
//! - `starknet_syncing()` → `false` when caught up (always on a sequencer); on a node that is
//!   behind, `{starting_block_hash, starting_block_num, current_block_hash,
//!   current_block_num, highest_block_hash, highest_block_num}` (hashes of blocks not
//!   applied yet read `0x0`).
//! - `starfarm_syncStatus()` → `{mode, starting_block, synced_block, highest_block,
//!   blocks_behind, refused}` ([`crate::chain::SyncStatus`]; `mode` is `sequencer`, `replay`
//!   or `l2`; `refused` is `{block_number, reason}` once a node refused a block).
//! - `starknet_blockNumber()`, `starknet_blockHashAndNumber()` → latest closed block, or 32.
//! - `starknet_getBlockWithTxHashes(block_id)`, `starknet_getBlockWithTxs(block_id)`,
//!   `starknet_getBlockWithReceipts(block_id)` → block (status `ACCEPTED_ON_L2`, or
//!   `ACCEPTED_ON_L1` up to the L1-accepted block) or pre-confirmed block; 24 if unknown.
//! - `starknet_getBlockTransactionCount(block_id)`,
//!   `starknet_getTransactionByBlockIdAndIndex(block_id, index)` (27 out of range).
//! - `starknet_getStateUpdate(block_id)` → `{block_hash, old_root, new_root, state_diff}`
//!   (pre-confirmed: `{old_root, state_diff}` against the latest block). Storage key 0 is the
//!   public key, key 1 the balance; `nonces`; `deployed_contracts` for class hash 0 →
//!   non-zero. `old_root` of block 0 is the empty state's root `global_root(0)`.
//! - `starknet_getTransactionStatus(transaction_hash)` → `finality_status` (`RECEIVED`,
//!   `PRE_CONFIRMED`, `ACCEPTED_ON_L2`, `ACCEPTED_ON_L1`), plus `execution_status` and
//!   `failure_reason` (when reverted) once executed; 29 if unknown.
//! - `starknet_getTransactionByHash(transaction_hash)` → transaction; 29 if unknown.
//! - `starknet_getTransactionReceipt(transaction_hash)` → receipt with `block_hash` and
//!   `block_number` (pre-confirmed: `block_number` only); 29 if unknown or not yet executed.
//! - `starknet_getNonce(block_id, contract_address)`,
//!   `starknet_getStorageAt(contract_address, key, block_id)` → felt; 20 for an address
//!   that holds nothing. `starknet_getClassHashAt(block_id, contract_address)` → the account
//!   class hash; 20 unless deployed.
//! - `starknet_getEvents(filter)` → `{events, continuation_token?}`: `filter` is
//!   `{from_block?, to_block?, address?, keys?, chunk_size, continuation_token?}` (from block
//!   0 to `latest` by default; `keys[i]` lists the values allowed at position `i`, `[]` any).
//!   Events are [`crate::events`]'s, also in every receipt's `events`. `chunk_size` at most
//!   1024 (31 above), at most 16 key positions (34), tokens only as given (33); see `events`.
//! - `starfarm_getAccount(address, block_id = "latest")` → `AccountState` JSON
//!   (`{class_hash, public_key, balance, nonce}`; an unused address reads as zeros).
//! - `starfarm_getNextNonce(address)` → the nonce the account's next transaction needs,
//!   counting admitted transactions that have not run yet (what a wallet signs with).
//! - `starfarm_getBlock(block_id)` → a closed block as the sequencer publishes it
//!   (`crate::block::Block` JSON: header, transactions, receipts, state diff with each
//!   account's state before and after); 24 if unknown or pre-confirmed. A node's JSON-RPC
//!   source (`node::RpcSource`).
//!
//! # Write methods
//! - `starfarm_addTransaction(transaction)` → `{transaction_hash}`: `transaction` is the
//!   project's JSON (`crate::tx::Transaction`, e.g. `{"type": "TRANSFER", "sender": …}`);
//!   resolves once durably logged. Refusals map as listed under Errors.
//! - `starfarm_adminDeposit(deposit)` → `{transaction_hash}`: `deposit` is
//!   `{l1_sender, recipient, amount, l1_nonce}`; needs `Authorization: Bearer <admin token>`,
//!   and is refused on a chain that follows L1 (`RpcConfig::admin_deposits`).
//! - `starfarm_closeBlock()` → the closed block's header JSON, or `null` when nothing was
//!   closed; admin too.
//! - On a node, every write method answers `-32001` (the node serves reads only).

mod error;
mod events;
mod params;
mod read;
mod render;
mod subscriptions;
mod transport;
mod write;

use std::fmt;
use std::sync::Arc;

use axum::routing::{post, MethodRouter};
use axum::Router;
use starknet_types_core::felt::Felt;

use crate::chain::{ChainReader, TxSubmitter};
pub use error::{codes, RpcError};

/// A Starknet JSON-RPC specification version served (see "Versions" above).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecVersion {
    /// 0.9.0, at `/`, `/rpc` and `/rpc/v0_9`.
    V0_9,
    /// 0.10.0, at `/rpc/v0_10`.
    V0_10,
}

impl SpecVersion {
    pub const ALL: [SpecVersion; 2] = [Self::V0_9, Self::V0_10];
    /// Served at `/` and `/rpc`.
    pub const DEFAULT: SpecVersion = Self::V0_9;

    /// What `starknet_specVersion` answers.
    pub fn name(self) -> &'static str {
        match self {
            Self::V0_9 => "0.9.0",
            Self::V0_10 => "0.10.0",
        }
    }

    /// The version's own path.
    pub fn path(self) -> &'static str {
        match self {
            Self::V0_9 => "/rpc/v0_9",
            Self::V0_10 => "/rpc/v0_10",
        }
    }
}

/// Server settings.
#[derive(Clone)]
pub struct RpcConfig {
    /// Bearer token of the admin methods; `None` disables them.
    pub admin_token: Option<String>,
    /// Whether `starfarm_adminDeposit` is allowed (not on a chain that settles on L1: its
    /// deposits must come from the bridge, or the block that holds them cannot settle).
    pub admin_deposits: bool,
    /// Largest accepted request body (default 1 MiB).
    pub max_body_bytes: usize,
    /// Most calls in one batch (default 1000).
    pub max_batch_len: usize,
    /// Answer of `starknet_chainId` (default `"SN_STARFARM"`).
    pub chain_id: Felt,
    /// `sequencer_address` of block headers (default 0).
    pub sequencer_address: Felt,
    /// `starknet_version` of block headers (default `"0.14.0"`, the Starknet version of
    /// RPC 0.9).
    pub starknet_version: String,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            admin_token: None,
            admin_deposits: true,
            max_body_bytes: 1 << 20,
            max_batch_len: 1000,
            chain_id: crate::tx::chain_id(),
            sequencer_address: Felt::ZERO,
            starknet_version: "0.14.0".to_string(),
        }
    }
}

impl fmt::Debug for RpcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcConfig")
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_batch_len", &self.max_batch_len)
            .field("chain_id", &format_args!("{:#x}", self.chain_id))
            .field(
                "sequencer_address",
                &format_args!("{:#x}", self.sequencer_address),
            )
            .field("starknet_version", &self.starknet_version)
            .finish()
    }
}

/// The JSON-RPC service: `POST` at `/` and `/rpc` ([`SpecVersion::DEFAULT`]) and at each
/// version's path; `GET` on the same paths upgrades to a WebSocket (`subscriptions`).
pub fn router(
    reader: Arc<dyn ChainReader>,
    submitter: Arc<dyn TxSubmitter>,
    config: RpcConfig,
) -> Router {
    let config = Arc::new(config);
    let service = |version| -> MethodRouter {
        let state = Arc::new(transport::RpcState {
            reader: Arc::clone(&reader),
            submitter: Arc::clone(&submitter),
            config: Arc::clone(&config),
            version,
        });
        post(transport::handle)
            .get(subscriptions::upgrade)
            .with_state(state)
    };
    let mut router = Router::new()
        .route("/", service(SpecVersion::DEFAULT))
        .route("/rpc", service(SpecVersion::DEFAULT));
    for version in SpecVersion::ALL {
        router = router.route(version.path(), service(version));
    }
    router
}
