//! The ports of settlement, free of any L1 client: what the settlement line reads
//! ([`ProvenRanges`]: the farm's proven blocks, implemented by the scheduler) and what the L1
//! watcher tells L2 ([`L2Sink`]: implemented by the sequencer). `starfarm-l1` drives both;
//! each implementation names its own error type.

use std::future::Future;

use starknet_types_core::felt::Felt;

/// The proven ranges of one block.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockRanges {
    /// Their block-program outputs, in transaction order.
    pub outputs: Vec<Vec<Felt>>,
    /// Where each range's proof is, in the order of `outputs`: the content hash of its
    /// artifact in the farm's artifact store. A settlement that verifies proofs on L1 sends
    /// this proof; an attested one needs only the output. Empty where the source keeps no
    /// proofs (such ranges cannot settle through the verifier).
    pub artifacts: Vec<String>,
    /// The conjectured security of the weakest of their proofs: what the facts are
    /// attested at (the registry refuses bits below its floor).
    pub security_bits: u32,
    /// The estimated cost in USD of proving the block: every proof it took (its chunks'
    /// and its aggregation's), each at its prover's price; 0 for proofs without a price.
    pub proof_cost_usd: f64,
}

/// Where the proven ranges come from (the farm's proven blocks, in production).
pub trait ProvenRanges: Send + Sync {
    /// Why the source could not be read (the settlement line retries).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Block `number`'s proven ranges, once every range is proven and verified; `None`
    /// until then.
    fn ranges(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<BlockRanges>, Self::Error>> + Send;

    /// How many blocks numbered `from` or above are proven (for the pending-blocks metric).
    fn proven_from(&self, from: u64) -> impl Future<Output = Result<u64, Self::Error>> + Send;
}

/// A deposit made on L1, as the sequencer admits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L1Deposit {
    /// The bridge (the message's sender), as a felt.
    pub l1_sender: Felt,
    pub recipient: Felt,
    pub amount: u128,
    pub nonce: u64,
}

/// What L2 is told. Both calls may repeat for the same event: an implementation must be
/// idempotent.
pub trait L2Sink: Send + Sync {
    /// Why L2 refused an event (the watcher delivers it again).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Block `number` (and so every block before it) is settled on L1.
    fn settled(&self, number: u64) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// A deposit to include on L2.
    fn deposit(&self, deposit: L1Deposit) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
