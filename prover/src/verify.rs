//! Verification of a proof artifact: the STARK proof with stwo-cairo's verifier for the
//! header's channel, and every claim of the header against the proof's public data.

use std::panic::{catch_unwind, AssertUnwindSafe};

use cairo_air::verifier::verify_cairo;
use cairo_air::CairoProofForRustVerifier;
use starknet_types_core::felt::Felt;
use stwo::core::channel::MerkleChannel;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;

use crate::artifact::{ProofArtifact, ProofCodec};
use crate::channel::{ChannelKind, Keccak256MerkleChannel};
use crate::error::VerifyError;
use crate::fact::{fact, hex32};
use crate::program::program_hash;
use crate::prover::panic_message;

/// What a valid artifact establishes.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    pub program_hash: Felt,
    pub output: Vec<Felt>,
    pub fact: String,
    pub security_bits: u32,
}

/// Verifies `artifact`; refuses proofs below `min_security_bits`.
pub fn verify(artifact: &ProofArtifact, min_security_bits: u32) -> Result<Verified, VerifyError> {
    let header = &artifact.header;
    header
        .profile
        .check_channel(header.channel)
        .map_err(VerifyError::Mismatch)?;
    match header.channel {
        ChannelKind::Blake2s => verify_with::<Blake2sMerkleChannel>(artifact, min_security_bits),
        ChannelKind::Keccak => verify_with::<Keccak256MerkleChannel>(artifact, min_security_bits),
    }
}

fn verify_with<MC: MerkleChannel>(
    artifact: &ProofArtifact,
    min_security_bits: u32,
) -> Result<Verified, VerifyError>
where
    CairoProofForRustVerifier<MC::H>: serde::de::DeserializeOwned,
{
    let header = &artifact.header;
    let proof = ProofCodec::decode::<MC::H>(&artifact.proof).map_err(VerifyError::Decode)?;
    let mismatch = |what: String| Err(VerifyError::Mismatch(what));

    let config = proof.stark_proof.0.config;
    if config != header.pcs_config {
        return mismatch(format!(
            "the proof was made with {config:?}, the header says {:?}",
            header.pcs_config
        ));
    }
    let bits = config.security_bits();
    if bits != header.security_bits || header.profile.pcs_config() != config {
        return mismatch(format!(
            "the proof has {bits} bits ({config:?}), the header says {} bits, profile {}",
            header.security_bits, header.profile
        ));
    }
    if bits < min_security_bits {
        return Err(VerifyError::TooWeak {
            bits,
            required: min_security_bits,
        });
    }
    if proof.preprocessed_trace_variant != header.preprocessed_trace {
        return mismatch("the preprocessed trace differs from the header's".into());
    }

    let public_memory = &proof.claim.public_data.public_memory;
    let output: Vec<Felt> = public_memory.output.iter().map(|(_, v)| felt(v)).collect();
    if output.len() != header.output.len() {
        return mismatch(format!(
            "the proof outputs {} felts, the header lists {}",
            output.len(),
            header.output.len()
        ));
    }
    if let Some(i) = (0..output.len()).find(|i| output[*i] != header.output[*i]) {
        return mismatch(format!(
            "output[{i}] is {:#x} in the proof, {:#x} in the header",
            output[i], header.output[i]
        ));
    }
    let data: Vec<Felt> = public_memory.program.iter().map(|(_, v)| felt(v)).collect();
    let hash = program_hash(header.program_main, &data);
    if hash != header.program_hash {
        return mismatch(format!(
            "the proven program hashes to {hash:#x}, the header says {:#x}",
            header.program_hash
        ));
    }
    let fact = hex32(&fact(hash, &output));
    if fact != header.fact {
        return mismatch(format!(
            "the fact is {fact}, the header says {}",
            header.fact
        ));
    }

    match catch_unwind(AssertUnwindSafe(|| verify_cairo::<MC>(proof))) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(VerifyError::Stark(e.to_string())),
        Err(panic) => {
            return Err(VerifyError::Stark(format!(
                "verifier rejected malformed proof: {}",
                panic_message(&panic)
            )))
        }
    }
    Ok(Verified {
        program_hash: hash,
        output,
        fact,
        security_bits: bits,
    })
}

/// A felt from the proof's eight little-endian 32-bit limbs.
fn felt(limbs: &[u32; 8]) -> Felt {
    let mut bytes = [0u8; 32];
    for (i, limb) in limbs.iter().enumerate() {
        bytes[4 * i..4 * i + 4].copy_from_slice(&limb.to_le_bytes());
    }
    Felt::from_bytes_le(&bytes)
}
