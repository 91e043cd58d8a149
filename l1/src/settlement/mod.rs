//! Settlement onto L1: the settlement line ([`line::Settler`]: the farm's proven ranges onto
//! L1, in order, each once) and the interface it settles through ([`SettlementClient`], with
//! [`VerifiedSettlement`] (proofs verified on chain), [`AttestedSettlement`] (the TRUSTED
//! mode) and [`mock::MockSettlement`] for tests).
//! The line's data source is a port of `starfarm-common` ([`ProvenRanges`]), implemented by
//! the scheduler.

pub mod interface;
pub mod line;
pub mod mock;

pub use interface::{
    AttestedSettlement, ProofPlans, RangeProof, SettlementClient, VerifiedSettlement,
};
pub use line::{BlockRanges, ProvenRanges, SettleError, Settler, Step};
