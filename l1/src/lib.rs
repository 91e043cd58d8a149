//! starfarm's Ethereum settlement, Rust side. This crate owns:
//!
//! - the bindings of the Solidity contracts in `l1/contracts/` ([`contracts`]), generated at
//!   compile time from the committed artifacts `l1/contracts/out/<Name>.json`;
//! - felts as the contracts' words, and the fact of a block-program output and the hashes
//!   of L1↔L2 messages in alloy's types ([`fact`]; the formulas are `starfarm-common`'s);
//! - attestations of facts for the TRUSTED `AttestedFactRegistry` (EIP-712, [`attest`]);
//! - [`client::L1Client`]: deploys the contracts, registers facts, settles the ranges of a
//!   block (`updateState`), reads the settled state, deposits through the bridge and
//!   consumes withdrawals, waiting for receipts and mapping reverts to [`L1Error::Reverted`];
//! - [`settlement`]: the settlement line ([`settlement::Settler`]: proven ranges onto L1 in
//!   order, each once, with its Prometheus [`metrics`]) and the interface it settles through
//!   ([`settlement::SettlementClient`], implemented over [`L1Client`] by
//!   [`settlement::AttestedSettlement`], and in memory by [`settlement::mock`]);
//! - [`verify`]: a proof's split verification sent as transactions (the statements the
//!   chain lacks, then `StwoFactRegistry.verifyProof`), resumed from what the chain holds,
//!   gas per phase and per proof in [`metrics`]; the plan itself is `starfarm-verifier`'s;
//! - [`watch::Watcher`]: L1's settled blocks and bridge deposits, handed to L2;
//! - [`settled_log::SettledLog`]: the settled blocks with their roots and hashes (an l1
//!   node's gate).
//!
//! - [`anvil::Anvil`]: a local Ethereum node for tests and the devnet.
//!
//! It does not depend on the sequencer or the scheduler: outputs are plain felts
//! (`docs/sequencer.md`, "Block program output"), converted to `uint256` big-endian, and the
//! line's source and the watcher's L2 are the ports of `starfarm-common`
//! ([`settlement::ProvenRanges`], [`watch::L2Sink`]) that those crates implement.

pub mod anvil;
pub mod attest;
pub mod client;
pub mod contracts;
pub mod error;
pub mod fact;
pub mod metrics;
pub mod settled_log;
pub mod settlement;
pub mod verify;
pub mod watch;

pub use alloy::primitives::{Address, B256, U256};
pub use alloy::signers::local::PrivateKeySigner;
pub use client::{Deployment, L1Client, L1State, MessageToL2, TxOutcome};
pub use error::L1Error;
pub use starknet_types_core::felt::Felt;
