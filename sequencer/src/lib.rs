//! The sequencer: admits signed transactions, orders and executes them natively against a
//! Starknet-style state (Poseidon Merkle-Patricia tries), closes blocks, and publishes each
//! block with the prover input that the Cairo block program (`sequencer/cairo/block.cairo`)
//! re-executes. Formulas (hashes, addresses, roots, block hash, program input and output) are
//! documented in `docs/sequencer.md`. `node` follows a sequencer's published chain (replay or
//! state diffs, `docs/node.md`) and serves the same JSON-RPC reads through `ChainReader`.
//!
//! Must not import the prover, the scheduler, `l1` or the binary: they depend on this crate,
//! never the reverse (the prover only as a dev-dependency, for the block-proof tests).
//!
//! Where each behaviour lives:
//! - data and formulas: `tx` (transactions, hashes, format checks), `hash` (primitives and
//!   constants), `state` (account state, roots), `block` (header, block hash, commitment),
//!   `trie` (the Patricia trie, proofs; `trie::bits` is the crate's 256-bit helper), `ecdsa`
//!   (signature verification), `batch_ecdsa` (records and hints of the Cairo batched
//!   signature check, `cairo/starfarm/batch_ecdsa.cairo`);
//! - executing and closing: `execute` (one transaction's state transition), `events` (the
//!   events a transaction emits, derived from it and its receipt), `seal` (closing a
//!   block: diff, trie update, header), `mempool` (admitted transactions waiting for a block);
//! - the running sequencer, `service`: `service::admission`, `service::production` (the
//!   pre-confirmed block, closing blocks), `service::l1_hooks` (what the L1 watcher calls),
//!   `service::publishing` (the publisher task), `service::reads` (`ChainReader`),
//!   `service::lifecycle` (start, shutdown);
//! - persistence and publishing: `store` (the redb database and its log), `publish` (the
//!   object store: blocks, prover inputs, manifests);
//! - the block program's input and output, `program_input`: `from_trie`, `from_store`
//!   (rebuilt from the database, published with each block), `replay` (a range's input),
//!   `proof_steps`, `encode` (felts the program reads), `output` (expected output, parsing);
//! - APIs: `chain` (the read and write traits the APIs are written against), `rpc` (JSON-RPC
//!   methods; `rpc::transport` is its HTTP envelope), `endpoint` (the HTTP endpoint: JSON-RPC,
//!   `/metrics`, `/health`), `client` (a JSON-RPC client), `metrics` (Prometheus);
//! - `node` (following a published chain), `testing` (seeded test data).

pub mod batch_ecdsa;
pub mod block;
pub mod chain;
pub mod client;
pub mod disk_guard;
pub mod ecdsa;
pub mod endpoint;
pub mod events;
pub mod execute;
pub mod hash;
pub mod l1_sink;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod program_input;
pub mod publish;
pub mod rpc;
pub mod seal;
pub mod service;
pub mod state;
pub mod store;
pub mod testing;
pub mod trie;
pub mod tx;

pub use starknet_types_core::felt::Felt;
