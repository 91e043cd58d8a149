//! The running sequencer: admission (format, signature, nonce, balance, duplicate checks,
//! then an fsync'd log write before the acknowledgement), the pre-confirmed block executed as
//! transactions become ready, block closing (timer, transaction count, Cairo-step budget, on
//! demand), commits, and publishing. Implements `ChainReader` and `TxSubmitter`.
//!
//! One file per responsibility, all methods of one [`Sequencer`]:
//! - `sequencer`: the type, its configuration, the chain state its tasks share under one
//!   lock, and the account lookups they all use;
//! - `lifecycle`: start (open the database, restore the log, spawn the tasks) and shutdown;
//! - `admission`: checks, the group-commit writer and its fsync'd log, `TxSubmitter`;
//! - `production`: the producer task, executing ready transactions, closing blocks;
//! - `l1_hooks`: what the L1 watcher calls (deposits seen on L1, blocks settled on L1);
//! - `publishing`: the task that publishes closed blocks to the object store;
//! - `reads`: `ChainReader`, the reads JSON-RPC serves.

mod admission;
mod l1_hooks;
mod lifecycle;
mod production;
mod publishing;
mod reads;
mod sequencer;

pub use production::estimated_steps;
pub use sequencer::{Sequencer, SequencerConfig, StartError};
