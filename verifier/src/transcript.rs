//! The transcript of a Keccak-channel Cairo proof as stwo's own verifier draws it (cairo-air's
//! `verify_cairo_ex`, then stwo's `verify_ex` and `CommitmentSchemeVerifier::verify_values`
//! up to the query positions), with stwo's types: what the contracts' replay must reach, and
//! the trees' shapes the calldata needs. No check is made here (`starfarm_prover::verify` does
//! them); a failed proof of work is not an error.

use cairo_air::cairo_components::CairoComponents;
use cairo_air::relations::CommonLookupElements;
use cairo_air::CairoProofForRustVerifier;
use starfarm_prover::channel::{Keccak256Channel, Keccak256MerkleChannel, Keccak256MerkleHasher};
use stwo::core::air::Components;
use stwo::core::channel::{Channel, MerkleChannel};
use stwo::core::circle::CirclePoint;
use stwo::core::fields::qm31::{SecureField, SECURE_EXTENSION_DEGREE};
use stwo::core::fri::{CirclePolyDegreeBound, FriVerifier};
use stwo::core::pcs::quotients::{fri_answers, PointSample};
use stwo::core::pcs::utils::get_lifting_log_size;
use stwo::core::pcs::{CommitmentSchemeVerifier, TreeVec};
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::verifier::{COMPOSITION_LOG_SPLIT, PREPROCESSED_TRACE_IDX};

use crate::calldata::EncodeError;

/// The proof a Keccak-channel artifact holds.
pub type KeccakCairoProof = CairoProofForRustVerifier<Keccak256MerkleHasher>;

/// What stwo's verifier draws, and the shape of the committed trees.
#[derive(Clone, Debug)]
pub struct StwoTranscript {
    pub lookup_z: SecureField,
    pub lookup_alpha: SecureField,
    pub composition_coeff: SecureField,
    pub oods_point: CirclePoint<SecureField>,
    pub quotient_coeff: SecureField,
    /// Sorted, distinct, on the lifted domain.
    pub queries: Vec<usize>,
    /// Per tree: each column's log size with the blowup, in commitment order.
    pub column_log_sizes: [Vec<u32>; 4],
    /// Per tree: its Merkle height.
    pub heights: [u32; 4],
    /// Per tree, per column: how many points it is sampled at: 0, 1 (the out-of-domain
    /// point) or 2 (the previous row's point, then the out-of-domain point).
    pub sample_counts: [Vec<u8>; 4],
    /// FRI's first layer values at the queries: stwo's `fri_answers` (the PCS quotients).
    pub fri_answers: Vec<SecureField>,
    /// FRI's folding coefficients, the first layer's then each inner layer's.
    pub fri_alphas: Vec<SecureField>,
}

/// Replays `proof`'s channel as stwo's verifier does, up to the query positions. A claim
/// stwo or cairo-air cannot take (they assert on some) is an error, not a panic.
pub fn stwo_transcript(proof: &KeccakCairoProof) -> Result<StwoTranscript, EncodeError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| replay(proof))).unwrap_or_else(
        |panic| {
            let message = (panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(EncodeError::Layout(format!(
                "stwo's verifier panicked on it: {message}"
            )))
        },
    )
}

fn replay(proof: &KeccakCairoProof) -> Result<StwoTranscript, EncodeError> {
    let stark = &proof.stark_proof;
    if stark.commitments.len() != 4 {
        return Err(EncodeError::Layout(format!(
            "{} commitments, a Cairo proof has 4",
            stark.commitments.len()
        )));
    }
    let config = stark.config;
    if config.lifting_log_size.is_some() {
        return Err(EncodeError::Layout(
            "a lifting log size in the config: the contracts take none".into(),
        ));
    }
    let channel = &mut Keccak256Channel::default();
    channel.mix_felts(&[proof.channel_salt.into()]);
    config.mix_into(channel);
    let scheme = &mut CommitmentSchemeVerifier::<Keccak256MerkleChannel>::new(config);

    let preprocessed = proof.preprocessed_trace_variant.to_preprocessed_trace();
    let mut log_sizes = proof.claim.log_sizes();
    log_sizes.insert(PREPROCESSED_TRACE_IDX, preprocessed.log_sizes());
    scheme.commit(stark.commitments[0], &log_sizes[0], channel);
    proof.claim.mix_into::<Keccak256MerkleChannel>(channel);
    scheme.commit(stark.commitments[1], &log_sizes[1], channel);
    channel.mix_u64(proof.interaction_pow);
    // CommonLookupElements::draw takes (z, alpha) as two secure felts; its fields are private.
    let [lookup_z, lookup_alpha] = channel.clone().draw_secure_felts(2)[..] else {
        return Err(EncodeError::Layout("two lookup elements drawn".into()));
    };
    let lookup = CommonLookupElements::draw(channel);
    proof.interaction_claim.mix_into(channel);
    scheme.commit(stark.commitments[2], &log_sizes[2], channel);

    let components = CairoComponents::new(
        &proof.claim,
        &lookup,
        &proof.interaction_claim,
        &preprocessed.ids(),
    );
    let components = Components {
        components: components.components(),
        n_preprocessed_columns: preprocessed.log_sizes().len(),
    };
    let blowup = config.fri_config.log_blowup_factor;
    let split = components.composition_log_degree_bound() - COMPOSITION_LOG_SPLIT;
    let lifting = get_lifting_log_size(&config, split + blowup);
    let max_log_degree_bound = lifting - blowup;
    let composition_coeff = channel.draw_secure_felt();
    scheme.commit(
        stark.commitments[3],
        &[max_log_degree_bound; 2 * SECURE_EXTENSION_DEGREE],
        channel,
    );
    let oods_point = CirclePoint::<SecureField>::get_random_point(channel);

    // CommitmentSchemeVerifier::verify_values, up to the queries.
    channel.mix_felts(&stark.sampled_values.clone().flatten_cols());
    let quotient_coeff = channel.draw_secure_felt();
    let bound = CirclePolyDegreeBound::new(lifting - blowup);
    // FriVerifier keeps its folding coefficients private: draw them on a copy of the channel
    // as `FriVerifier::commit` does (each layer's root mixed, then its alpha drawn).
    let mut fri_channel = channel.clone();
    let fri_alphas = std::iter::once(&stark.fri_proof.first_layer.commitment)
        .chain(stark.fri_proof.inner_layers.iter().map(|l| &l.commitment))
        .map(|root| {
            Keccak256MerkleChannel::mix_root(&mut fri_channel, *root);
            fri_channel.draw_secure_felt()
        })
        .collect();
    let mut fri = FriVerifier::<Keccak256MerkleChannel>::commit(
        channel,
        config.fri_config,
        stark.fri_proof.clone(),
        bound,
    )
    .map_err(|e| EncodeError::Layout(format!("FRI: {e}")))?;
    channel.mix_u64(stark.proof_of_work);
    let queries = fri.sample_query_positions(channel);

    // The sample points as stwo's `verify_ex` builds them, and the quotients at the queries.
    let mut sample_points = components.mask_points(oods_point, max_log_degree_bound, false);
    sample_points.push(vec![vec![oods_point]; 2 * SECURE_EXTENSION_DEGREE]);
    let prev = oods_point
        + CanonicCoset::new(max_log_degree_bound)
            .step()
            .mul_signed(-1)
            .into_ef();
    let mut sample_counts: [Vec<u8>; 4] = Default::default();
    for (tree, points) in sample_points.iter().enumerate() {
        let Some(counts) = sample_counts.get_mut(tree) else {
            return Err(EncodeError::Layout(format!(
                "{} sampled trees",
                sample_points.len()
            )));
        };
        for (column, points) in points.iter().enumerate() {
            counts.push(match points[..] {
                [] => 0,
                [p] if p == oods_point => 1,
                [p, q] if p == prev && q == oods_point => 2,
                _ => {
                    return Err(EncodeError::Layout(format!(
                        "tree {tree} column {column}: sampled at {} points, not at the \
                         out-of-domain point and optionally the previous row",
                        points.len()
                    )))
                }
            });
        }
    }
    let samples = sample_points
        .zip_cols(stark.sampled_values.clone())
        .map_cols(|(points, values)| {
            std::iter::zip(points, values)
                .map(|(point, value)| PointSample { point, value })
                .collect::<Vec<_>>()
        });
    let column_log_sizes = TreeVec(
        scheme
            .trees
            .iter()
            .map(|t| t.column_log_sizes.clone())
            .collect(),
    );
    let fri_answers = fri_answers(
        column_log_sizes,
        samples,
        quotient_coeff,
        &queries,
        stark.queried_values.clone(),
        lifting,
    )
    .map_err(|e| EncodeError::Layout(format!("the quotients: {e}")))?;

    let tree = |i: usize| &scheme.trees[i];
    Ok(StwoTranscript {
        sample_counts,
        fri_answers,
        fri_alphas,
        lookup_z,
        lookup_alpha,
        composition_coeff,
        oods_point,
        quotient_coeff,
        queries,
        column_log_sizes: std::array::from_fn(|i| tree(i).column_log_sizes.clone()),
        heights: std::array::from_fn(|i| tree(i).height),
    })
}
