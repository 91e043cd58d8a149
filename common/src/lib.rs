//! What several starfarm crates must agree on, in one place:
//!
//! - [`backoff`]: the pause between retries of a dependency that is down (the sequencer's
//!   publisher, a node's sync);
//! - [`fact`]: the fact a proof establishes, as the Ethereum contracts check it (the prover
//!   writes it into artifacts, `starfarm-l1` registers and settles it);
//! - [`message`]: the hashes of L1→L2 and L2→L1 messages, as the core contract keys them (the
//!   sequencer reports them in receipts, `starfarm-l1` consumes and checks them);
//! - [`settlement`]: the ports of the settlement line and of the L1 watcher: where proven
//!   ranges come from ([`settlement::ProvenRanges`], the scheduler implements it) and what
//!   L2 is told ([`settlement::L2Sink`], the sequencer implements it);
//! - [`location`] (feature `object-store`): opening an object store from a folder or URL (the
//!   sequencer publishes there, the scheduler keeps its blobs there).
//!
//! It is a leaf: it depends on no other starfarm crate, and stays light to build (no alloy,
//! no Stwo, no sqlx). Felts are `uint256` big-endian words wherever they meet Ethereum.

pub mod backoff;
pub mod fact;
#[cfg(feature = "object-store")]
pub mod location;
pub mod message;
pub mod settlement;

pub use starknet_types_core::felt::Felt;
