//! The Solidity verifier of starfarm's Stwo proofs made with the Keccak channel (the L1
//! profile's): the contracts (`verifier/contracts/`, artifacts in `contracts/out/`, rebuilt and
//! checked by `contracts/build.sh`), their bindings, and the calldata encoding of a Cairo proof
//! for them.
//!
//! The contracts replay the Fiat–Shamir transcript, check both proofs of work, each tree's
//! lifted Merkle decommitment at the queries, the PCS quotients there and circle FRI down to
//! the last layer (`docs/verifier.md`); not yet the composition check or the claim. One call
//! (`StwoVerifier.verify`) checks everything at once; [`plan`] splits a verification into
//! transactions under 2^24 gas whose last one registers the fact in `StwoFactRegistry`
//! (provisional until the claim checks compute it).
//!
//! Depends on stwo, cairo-air and the prover's proof types only: never on the scheduler, the
//! sequencer or `starfarm-l1` (settlement will use this crate, not the other way round).

pub mod calldata;
pub mod contracts;
pub mod plan;
pub mod transcript;

/// The alloy the bindings are generated with (callers encode calls with its `SolCall`).
pub use alloy;
pub use calldata::{encode, encode_artifact, encode_with_transcript, EncodeError};
pub use plan::{deploy, Phase, PhaseKind, VerificationPlan, VerifierContracts};
pub use transcript::{stwo_transcript, StwoTranscript};
