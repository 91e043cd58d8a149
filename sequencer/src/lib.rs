//! The sequencer: admits signed transactions, orders and executes them natively against a
//! Starknet-style state (Poseidon Merkle-Patricia tries), closes blocks, and publishes each
//! block with the prover input that the Cairo block program (`sequencer/cairo/block.cairo`)
//! re-executes. Formulas (hashes, addresses, roots, block hash, program input and output) are
//! documented in `docs/sequencer.md`. `node` follows a sequencer's published chain (replay or
//! state diffs, `docs/node.md`) and serves the same JSON-RPC reads through `ChainReader`.

pub mod block;
pub mod chain;
pub mod client;
pub mod ecdsa;
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
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod testing;
pub mod trie;
pub mod tx;

pub use starknet_types_core::felt::Felt;
