//! The Solidity verifier of starfarm's Stwo proofs made with the Keccak channel (the L1
//! profile's): the contracts (`verifier/contracts/`, artifacts in `contracts/out/`, rebuilt and
//! checked by `contracts/build.sh`), their bindings, the calldata encoding of a Cairo proof
//! for them (`calldata`, the structured claim in `claim`), what a deployment accepts derived
//! from programs and a profile alone (`accept`), and the generator of the layout
//! tables the contracts derive a proof's sampling layout from (`layout`, the `verifier-codegen`
//! binary).
//!
//! The contracts replay the Fiat–Shamir transcript (mixing the structured claim themselves),
//! check the claim as `verify_cairo` does (logup balance included), derive the sampling layout
//! from the claim, check both proofs of work, each tree's lifted Merkle decommitment at the
//! queries, the PCS quotients there and circle FRI down to the last layer, hold a security
//! floor, and compute the fact (`docs/verifier.md`). One call (`StwoVerifier.verify`) checks
//! all of that at once; [`plan`] splits a verification into transactions under 2^24 gas,
//! adding the composition check at the out-of-domain point ([`composition`]: the generated
//! AIR evaluator on parts built on chain) and, for a claim with a large public memory (a block
//! program's), its logup sum by ranges of entries ([`public_memory`]), whose last one
//! registers the claim's fact in `StwoFactRegistry`.
//!
//! Depends on stwo, cairo-air, the air's IR and the prover's proof types only: never on the
//! scheduler, the sequencer or `starfarm-l1` (settlement will use this crate, not the other way
//! round).

pub mod accept;
pub mod calldata;
pub mod claim;
pub mod composition;
pub mod contracts;
pub mod layout;
pub mod plan;
pub mod public_memory;
pub mod transcript;

pub use accept::program_key_of;
/// The alloy the bindings are generated with (callers encode calls with its `SolCall`).
pub use alloy;
pub use calldata::{
    encode, encode_artifact, encode_with_transcript, recorded_claim_mixes, EncodeError,
};
pub use claim::{
    claimed_sums, encoded_claim, preprocessed_root, program_key, root_key, structured_claim,
    variant_index,
};
pub use composition::{
    claim_fields, component_costs, composition_input, composition_ranges, deploy_composition,
    instance_components, later_range_call, range_calldata, range_gas, ComponentCost,
    CompositionContracts, CompositionDeployError, CompositionDraws, CompositionGasModel,
    CompositionPlanError, COMPOSITION_GAS_MODEL, DEFAULT_COMPOSITION_RANGE_GAS,
};
pub use plan::{
    deploy, Accepted, Phase, PhaseKind, PlanSizes, PlannedTransaction, PlannedTransactions,
    VerificationPlan, VerifierContracts,
};
pub use public_memory::{public_memory_sum, public_memory_words};
pub use transcript::{stwo_transcript, StwoTranscript};
