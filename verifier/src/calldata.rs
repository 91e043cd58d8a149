//! A Keccak-channel Cairo proof as the contracts' `StwoVerifier.Proof`: the claim's and the
//! interaction claim's mixes recorded as the bytes the channel hashes, the sampled values and
//! the last layer as packed QM31s, and each tree's queried values as rows (the leaves'
//! preimages) in query order.

use alloy::primitives::{Bytes, FixedBytes};
use starfarm_prover::artifact::{ProofArtifact, ProofCodec};
use starfarm_prover::channel::{ChannelKind, Keccak256Hash, Keccak256MerkleHasher};
use stwo::core::channel::{Channel, MerkleChannel};
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::utils::prepare_preprocessed_query_positions;

use crate::claim::{claimed_sums, encoded_claim};
use crate::contracts::{CircleFri, LiftedMerkle, StwoVerifier};
use crate::transcript::{stwo_transcript, KeccakCairoProof, StwoTranscript};

/// Why a proof cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("the proof uses the {0} channel: the contracts replay the keccak channel only")]
    Channel(ChannelKind),
    #[error("the proof section does not decode: {0}")]
    Decode(String),
    #[error("the proof's layout is not a Cairo proof the contracts take: {0}")]
    Layout(String),
}

/// Encodes the proof of a Keccak-channel artifact.
pub fn encode_artifact(artifact: &ProofArtifact) -> Result<StwoVerifier::Proof, EncodeError> {
    if artifact.header.channel != ChannelKind::Keccak {
        return Err(EncodeError::Channel(artifact.header.channel));
    }
    let proof = ProofCodec::decode::<Keccak256MerkleHasher>(&artifact.proof)
        .map_err(EncodeError::Decode)?;
    encode(&proof)
}

/// Encodes `proof` for `StwoVerifier`.
pub fn encode(proof: &KeccakCairoProof) -> Result<StwoVerifier::Proof, EncodeError> {
    Ok(encode_with_transcript(proof)?.0)
}

/// Encodes `proof` for `StwoVerifier`, with the transcript stwo's verifier draws for it (the
/// plan of a split verification needs its draws and quotients).
pub fn encode_with_transcript(
    proof: &KeccakCairoProof,
) -> Result<(StwoVerifier::Proof, StwoTranscript), EncodeError> {
    let transcript = stwo_transcript(proof)?;
    let stark = &proof.stark_proof;
    let config = stark.config;
    let fri = &stark.fri_proof;

    let trees = (0..4)
        .map(|tree| opening(proof, &transcript, tree))
        .collect::<Result<Vec<_>, _>>()?;
    let encoded = StwoVerifier::Proof {
        channelSalt: proof.channel_salt,
        config: StwoVerifier::Config {
            powBits: config.pow_bits,
            logBlowupFactor: config.fri_config.log_blowup_factor,
            nQueries: u32::try_from(config.fri_config.n_queries)
                .map_err(|_| EncodeError::Layout("n_queries above 2^32".into()))?,
            logLastLayerDegreeBound: config.fri_config.log_last_layer_degree_bound,
            foldStep: config.fri_config.fold_step,
        },
        commitments: std::array::from_fn(|i| root(&stark.commitments[i])),
        claim: encoded_claim(proof),
        interactionPow: proof.interaction_pow,
        claimedSums: claimed_sums(&proof.interaction_claim),
        sampledValues: packed_felts(&stark.sampled_values.clone().flatten_cols()),
        friCommitments: std::iter::once(&fri.first_layer)
            .chain(&fri.inner_layers)
            .map(|layer| root(&layer.commitment))
            .collect(),
        lastLayerPoly: packed_felts(&fri.last_layer_poly),
        powNonce: stark.proof_of_work,
        trees: trees
            .try_into()
            .map_err(|_| EncodeError::Layout("four trees".into()))?,
        columns: columns(&transcript)?,
        friLayers: std::iter::once(&fri.first_layer)
            .chain(&fri.inner_layers)
            .map(|layer| CircleFri::Layer {
                values: packed_felts(&layer.fri_witness),
                witness: layer.decommitment.hash_witness.iter().map(root).collect(),
            })
            .collect(),
    };
    Ok((encoded, transcript))
}

/// The reference for the contract's own mixing: what cairo-air's `mix_into` of the claim and
/// of the interaction claim hand the channel, each mix as the bytes the Keccak channel hashes
/// after the digest, recorded from the Rust code itself.
pub fn recorded_claim_mixes(
    proof: &KeccakCairoProof,
) -> Result<(Vec<Bytes>, Vec<Bytes>), EncodeError> {
    let mut claim = MixRecorder::default();
    proof.claim.mix_into::<RecordingChannel>(&mut claim);
    let mut interaction_claim = MixRecorder::default();
    proof.interaction_claim.mix_into(&mut interaction_claim);
    Ok((claim.finish()?, interaction_claim.finish()?))
}

/// Per tree, a byte per column: its log size (with the blowup) in the low 5 bits, how many
/// points it is sampled at in bits 5-6.
fn columns(transcript: &StwoTranscript) -> Result<[Bytes; 4], EncodeError> {
    let mut out: [Bytes; 4] = Default::default();
    for (tree, layout) in out.iter_mut().enumerate() {
        let (sizes, counts) = (
            &transcript.column_log_sizes[tree],
            &transcript.sample_counts[tree],
        );
        if sizes.len() != counts.len() {
            return Err(EncodeError::Layout(format!(
                "tree {tree}: {} columns committed, {} sampled",
                sizes.len(),
                counts.len()
            )));
        }
        let bytes = std::iter::zip(sizes, counts)
            .map(|(size, count)| match u8::try_from(*size) {
                Ok(size) if size < 32 && *count <= 2 => Ok(size | count << 5),
                _ => Err(EncodeError::Layout(format!(
                    "tree {tree}: a column of log size {size} sampled {count} times"
                ))),
            })
            .collect::<Result<Vec<u8>, _>>()?;
        *layout = bytes.into();
    }
    Ok(out)
}

fn root(hash: &Keccak256Hash) -> FixedBytes<32> {
    FixedBytes(hash.0)
}

/// QM31s as the channel mixes them: four big-endian uint32s each.
pub(crate) fn packed_felts(felts: &[SecureField]) -> Bytes {
    felts
        .iter()
        .flat_map(|f| f.to_m31_array())
        .flat_map(|m| m.0.to_be_bytes())
        .collect::<Vec<u8>>()
        .into()
}

/// Tree `tree`'s opening: one row per distinct consecutive position (its columns ordered by
/// log size, as the lifted Merkle tree hashes them) and the witness.
fn opening(
    proof: &KeccakCairoProof,
    transcript: &StwoTranscript,
    tree: usize,
) -> Result<LiftedMerkle::Opening, EncodeError> {
    let stark = &proof.stark_proof;
    let height = transcript.heights[tree];
    let positions = if tree == 0 {
        prepare_preprocessed_query_positions(&transcript.queries, transcript.heights[3], height)
    } else {
        transcript.queries.clone()
    };
    let (Some(values), Some(decommitment)) = (
        stark.queried_values.get(tree),
        stark.decommitments.get(tree),
    ) else {
        return Err(EncodeError::Layout(format!("no tree {tree}")));
    };
    let log_sizes = &transcript.column_log_sizes[tree];
    if values.len() != log_sizes.len() || values.iter().any(|c| c.len() != positions.len()) {
        return Err(EncodeError::Layout(format!(
            "tree {tree}: {} columns of queried values, {} committed; {} positions",
            values.len(),
            log_sizes.len(),
            positions.len()
        )));
    }
    // A stable sort, as stwo's verifier orders the columns of a leaf.
    let mut order: Vec<usize> = (0..log_sizes.len()).collect();
    order.sort_by_key(|c| log_sizes[*c]);
    let mut rows = Vec::with_capacity(positions.len() * order.len() * 4);
    for i in (0..positions.len()).filter(|i| *i == 0 || positions[*i] != positions[*i - 1]) {
        rows.extend(order.iter().flat_map(|c| values[*c][i].0.to_be_bytes()));
    }
    let row_bytes = u32::try_from(order.len() * 4)
        .map_err(|_| EncodeError::Layout(format!("tree {tree}: too many columns")))?;
    Ok(LiftedMerkle::Opening {
        logHeight: height,
        rowBytes: row_bytes,
        rows: rows.into(),
        witness: decommitment.hash_witness.iter().map(root).collect(),
    })
}

/// A channel that records what is mixed into it, as the bytes the Keccak channel hashes
/// (`keccak256(digest ‖ bytes)` for every mix), and that must not be drawn from.
#[derive(Clone, Debug, Default)]
struct MixRecorder {
    mixes: Vec<Bytes>,
    drew: bool,
}

impl MixRecorder {
    fn finish(self) -> Result<Vec<Bytes>, EncodeError> {
        if self.drew {
            return Err(EncodeError::Layout(
                "the claim draws from the channel: only mixes can be recorded".into(),
            ));
        }
        Ok(self.mixes)
    }
}

impl Channel for MixRecorder {
    const BYTES_PER_HASH: usize = 32;

    fn verify_pow_nonce(&self, _: u32, _: u64) -> bool {
        false
    }

    fn mix_u32s(&mut self, data: &[u32]) {
        let bytes: Vec<u8> = data.iter().flat_map(|w| w.to_be_bytes()).collect();
        self.mixes.push(bytes.into());
    }

    fn mix_felts(&mut self, felts: &[SecureField]) {
        self.mixes.push(packed_felts(felts));
    }

    fn mix_u64(&mut self, value: u64) {
        self.mixes.push(value.to_be_bytes().to_vec().into());
    }

    fn draw_secure_felt(&mut self) -> SecureField {
        self.drew = true;
        SecureField::default()
    }

    fn draw_secure_felts(&mut self, n_felts: usize) -> Vec<SecureField> {
        self.drew = true;
        vec![SecureField::default(); n_felts]
    }

    fn draw_u32s(&mut self) -> Vec<u32> {
        self.drew = true;
        vec![0; 8]
    }
}

/// [`MixRecorder`] as a Merkle channel with the Keccak hasher (the claim hashes its output and
/// program with it and mixes the roots).
#[derive(Default)]
struct RecordingChannel;

impl MerkleChannel for RecordingChannel {
    type C = MixRecorder;
    type H = Keccak256MerkleHasher;

    fn mix_root(channel: &mut MixRecorder, root: Keccak256Hash) {
        channel.mixes.push(root.0.to_vec().into());
    }
}
