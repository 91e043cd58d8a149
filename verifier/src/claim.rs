//! A Cairo proof's claim in the contracts' structured form (`CairoClaim.Claim`): the public
//! data (states, segment ranges, safe call ids, program and output sections), the enable flag
//! of every component and the log sizes of the enabled ones (cairo-air's `flatten_claim`),
//! and the interaction claim's claimed sums (`flatten_interaction_claim`), packed as the
//! channel mixes them. The contract derives the channel's mixes from it.

use alloy::primitives::{keccak256, Bytes, B256, U256};
use alloy::sol_types::SolValue;
use cairo_air::air::{PublicData, SegmentRange};
use cairo_air::claims::{CairoClaim as AirClaim, CairoInteractionClaim};
use starfarm_prover::artifact::PreProcessedTraceVariant;
use starfarm_prover::channel::Keccak256MerkleChannel;
use starfarm_prover::prover::precompute_for_config;
use stwo::core::pcs::PcsConfig;

use crate::calldata::packed_felts;
use crate::contracts::CairoClaim;
use crate::transcript::KeccakCairoProof;

/// `proof`'s claim as `CairoClaim.Claim`.
pub fn structured_claim(proof: &KeccakCairoProof) -> CairoClaim::Claim {
    let claim = &proof.claim;
    let flat = claim.flatten_claim();
    CairoClaim::Claim {
        publicData: public_data(&claim.public_data),
        enabled: flat
            .component_enable_bits
            .iter()
            .map(|b| u8::from(*b))
            .collect::<Vec<u8>>()
            .into(),
        logSizes: flat.component_log_sizes,
        variant: variant_index(proof.preprocessed_trace_variant),
    }
}

/// The variant's index in `PreProcessedTraceVariant::ALL_VARIANTS` (the IR's order, and
/// `CairoLayout`'s).
pub fn variant_index(variant: PreProcessedTraceVariant) -> u8 {
    PreProcessedTraceVariant::ALL_VARIANTS
        .iter()
        .position(|v| *v == variant)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

/// `proof`'s claim as the bytes `StwoVerifier.Proof.claim` carries: `abi.encode(Claim)`.
pub fn encoded_claim(proof: &KeccakCairoProof) -> Bytes {
    structured_claim(proof).abi_encode().into()
}

/// The interaction claim's claimed sums, flat order, four big-endian uint32s each.
pub fn claimed_sums(claim: &CairoInteractionClaim) -> Bytes {
    packed_felts(&claim.flatten_interaction_claim())
}

/// A memory value (eight 32-bit limbs, low first) as the felt's `uint256`.
pub fn felt_word(limbs: &[u32; 8]) -> U256 {
    limbs
        .iter()
        .rev()
        .fold(U256::ZERO, |acc, limb| (acc << 32) | U256::from(*limb))
}

fn segment(range: Option<SegmentRange>) -> CairoClaim::Segment {
    let range = range.unwrap_or_default();
    CairoClaim::Segment {
        startId: range.start_ptr.id,
        start: range.start_ptr.value,
        stopId: range.stop_ptr.id,
        stop: range.stop_ptr.value,
    }
}

fn public_data(data: &PublicData) -> CairoClaim::PublicData {
    let (init, fin) = (&data.initial_state, &data.final_state);
    let memory = &data.public_memory;
    let s = &memory.public_segments;
    let ranges = [
        Some(s.output),
        s.pedersen,
        s.range_check_128,
        s.ecdsa,
        s.bitwise,
        s.ec_op,
        s.keccak,
        s.poseidon,
        s.range_check_96,
        s.add_mod,
        s.mul_mod,
    ];
    let present = ranges
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_some())
        .fold(0u16, |acc, (i, _)| acc | 1 << i);
    CairoClaim::PublicData {
        state: [
            init.pc.0, init.ap.0, init.fp.0, fin.pc.0, fin.ap.0, fin.fp.0,
        ],
        segments: ranges.map(segment),
        presentSegments: present,
        safeCallIds: memory.safe_call_ids,
        programIds: memory.program.iter().map(|(id, _)| *id).collect(),
        program: memory.program.iter().map(|(_, v)| felt_word(v)).collect(),
        outputIds: memory.output.iter().map(|(id, _)| *id).collect(),
        output: memory.output.iter().map(|(_, v)| felt_word(v)).collect(),
    }
}

/// `CairoClaim.programKey`: keccak256(abi.encodePacked(uint256 initial pc, the program
/// section's values as uint256)), what the contract's deployment registers a program hash for.
pub fn program_key(claim: &AirClaim) -> B256 {
    let memory = &claim.public_data.public_memory;
    let mut bytes = U256::from(claim.public_data.initial_state.pc.0)
        .to_be_bytes::<32>()
        .to_vec();
    for (_, value) in &memory.program {
        bytes.extend(felt_word(value).to_be_bytes::<32>());
    }
    keccak256(bytes)
}

/// `CairoClaim.preprocessedRoots`' key for a variant (its [`variant_index`]) and log blowup.
pub fn root_key(variant: u8, log_blowup: u32) -> U256 {
    U256::from(variant) << 8 | U256::from(log_blowup)
}

/// The preprocessed trace's Keccak root for `variant` under `config` (what an honest proof
/// commits to first), computed as the prover does: what a deployment registers in
/// `CairoClaim.preprocessedRoots`. Commits the whole preprocessed trace: seconds and up to a
/// few GiB for the larger variants at the l1 profile's blowup.
pub fn preprocessed_root(variant: PreProcessedTraceVariant, config: &PcsConfig) -> B256 {
    let precompute = precompute_for_config::<Keccak256MerkleChannel>(variant, config);
    B256::from(precompute.tree.commitment.root().0)
}
