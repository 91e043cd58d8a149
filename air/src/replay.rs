//! The verifier's transcript of a Cairo proof up to the out-of-domain point, replayed as
//! cairo-air's `verify_cairo_ex` and stwo's `verify_ex` do it, to get what the composition
//! check needs: the drawn lookup elements, the random coefficient, the point, the components
//! of the claim. Not a verifier: Merkle paths, FRI, proof of work and the claim's own checks
//! are not looked at (cairo-air's `verify_cairo` does that).

use cairo_air::cairo_components::CairoComponents;
use cairo_air::claims::CairoClaim;
use cairo_air::relations::CommonLookupElements;
use cairo_air::CairoProofForRustVerifier;
use stwo::core::air::Components;
use stwo::core::channel::{Channel, MerkleChannel};
use stwo::core::circle::CirclePoint;
use stwo::core::fields::qm31::{QM31, SECURE_EXTENSION_DEGREE};
use stwo::core::pcs::utils::get_lifting_log_size;
use stwo::core::pcs::{CommitmentSchemeVerifier, TreeVec};
use stwo::core::verifier::{COMPOSITION_LOG_SPLIT, PREPROCESSED_TRACE_IDX};

use crate::extract::{instances, Instance};
use crate::interpret::{alpha_powers, composition_at_point, Lookup, OodsInputs};
use crate::ir::Air;
use crate::InterpretError;

/// The verifier's state at the composition check.
pub struct Oods {
    pub claim: CairoClaim,
    pub lookup_elements: CommonLookupElements,
    pub components: CairoComponents,
    pub random_coeff: QM31,
    pub point: CirclePoint<QM31>,
    pub max_log_degree_bound: u32,
    pub n_preprocessed_columns: usize,
    pub variant_name: String,
}

/// Replays the channel of `proof` up to the out-of-domain point. The claim is trusted to be
/// consistent (cairo-air's `CairoComponents::new` panics on a claim without its interaction
/// claim); a proof without its four commitments is an error.
pub fn replay<MC: MerkleChannel>(
    proof: &CairoProofForRustVerifier<MC::H>,
) -> Result<Oods, InterpretError> {
    if proof.stark_proof.commitments.len() != 4 {
        return Err(InterpretError::Layout(format!(
            "{} commitments, a Cairo proof has 4",
            proof.stark_proof.commitments.len()
        )));
    }
    let channel = &mut MC::C::default();
    channel.mix_felts(&[proof.channel_salt.into()]);
    let stark = &proof.stark_proof;
    let config = stark.config;
    config.mix_into(channel);
    let scheme = &mut CommitmentSchemeVerifier::<MC>::new(config);

    let claim = &proof.claim;
    let preprocessed = proof.preprocessed_trace_variant.to_preprocessed_trace();
    let mut log_sizes = claim.log_sizes();
    log_sizes.insert(PREPROCESSED_TRACE_IDX, preprocessed.log_sizes());
    scheme.commit(stark.commitments[0], &log_sizes[0], channel);
    claim.mix_into::<MC>(channel);
    scheme.commit(stark.commitments[1], &log_sizes[1], channel);
    channel.mix_u64(proof.interaction_pow);
    let lookup_elements = CommonLookupElements::draw(channel);
    proof.interaction_claim.mix_into(channel);
    scheme.commit(stark.commitments[2], &log_sizes[2], channel);

    let components = CairoComponents::new(
        claim,
        &lookup_elements,
        &proof.interaction_claim,
        &preprocessed.ids(),
    );
    let n_preprocessed_columns = preprocessed.log_sizes().len();
    let (random_coeff, point, max_log_degree_bound) = {
        let dyn_components = Components {
            components: components.components(),
            n_preprocessed_columns,
        };
        let split = dyn_components.composition_log_degree_bound() - COMPOSITION_LOG_SPLIT;
        let lifting = get_lifting_log_size(&config, split + config.fri_config.log_blowup_factor);
        let max_log_degree_bound = lifting - config.fri_config.log_blowup_factor;
        let random_coeff = channel.draw_secure_felt();
        scheme.commit(
            stark.commitments[3],
            &[max_log_degree_bound; 2 * SECURE_EXTENSION_DEGREE],
            channel,
        );
        let point = CirclePoint::<QM31>::get_random_point(channel);
        (random_coeff, point, max_log_degree_bound)
    };
    Ok(Oods {
        claim: claim.clone(),
        lookup_elements,
        components,
        random_coeff,
        point,
        max_log_degree_bound,
        n_preprocessed_columns,
        variant_name: format!("{:?}", proof.preprocessed_trace_variant),
    })
}

impl Oods {
    /// Stwo's own value: `Components::eval_composition_polynomial_at_point`, as `verify_ex`
    /// computes it.
    pub fn stwo_composition(&self, sampled_values: &TreeVec<Vec<Vec<QM31>>>) -> QM31 {
        let components = Components {
            components: self.components.components(),
            n_preprocessed_columns: self.n_preprocessed_columns,
        };
        components.eval_composition_polynomial_at_point(
            self.point,
            sampled_values,
            self.random_coeff,
            self.max_log_degree_bound,
        )
    }

    /// The value the prover committed to: the composition polynomial's own samples (its two
    /// split halves, recombined), as stwo's `extract_composition_oods_eval`.
    pub fn committed_composition(&self, sampled_values: &TreeVec<Vec<Vec<QM31>>>) -> Option<QM31> {
        let last = sampled_values.last()?;
        let evals: Vec<QM31> = last
            .iter()
            .map(|c| match c[..] {
                [v] => Some(v),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let [l0, l1, l2, l3, r0, r1, r2, r3] = evals[..] else {
            return None;
        };
        let left = QM31::from_partial_evals([l0, l1, l2, l3]);
        let right = QM31::from_partial_evals([r0, r1, r2, r3]);
        Some(left + self.point.repeated_double(self.max_log_degree_bound - 1).x * right)
    }

    /// The IR's instances for this proof's claim.
    pub fn instances(&self, air: &Air) -> Result<Vec<Instance>, InterpretError> {
        instances(air, &self.components).map_err(|e| InterpretError::Layout(e.to_string()))
    }

    /// The interpreter's value of the composition polynomial at the point.
    pub fn interpreted_composition(
        &self,
        air: &Air,
        sampled_values: &TreeVec<Vec<Vec<QM31>>>,
    ) -> Result<QM31, InterpretError> {
        self.with_inputs(air, sampled_values, |inputs| {
            composition_at_point(air, inputs)
        })?
    }

    /// Calls `f` with what the composition at the point depends on (as the IR has it).
    pub fn with_inputs<R>(
        &self,
        air: &Air,
        sampled_values: &TreeVec<Vec<Vec<QM31>>>,
        f: impl FnOnce(&OodsInputs) -> R,
    ) -> Result<R, InterpretError> {
        let variant = air
            .variants
            .iter()
            .find(|v| v.name == self.variant_name)
            .ok_or_else(|| InterpretError::Variant(self.variant_name.clone()))?;
        let instances = self.instances(air)?;
        let elements = &self.lookup_elements;
        let relations: Vec<Lookup> = air
            .relations
            .iter()
            .map(|r| {
                if r.name
                        != <CommonLookupElements as stwo_constraint_framework::Relation<
                            QM31,
                            QM31,
                        >>::get_name(elements)
                    {
                        return Err(InterpretError::Relation(0));
                    }
                Ok(lookup(elements, r.size as usize))
            })
            .collect::<Result<_, _>>()?;
        Ok(f(&OodsInputs {
            sampled_values,
            variant,
            instances: &instances,
            relations: &relations,
            point: self.point,
            random_coeff: self.random_coeff,
            max_log_degree_bound: self.max_log_degree_bound,
        }))
    }
}

/// The drawn `z` and `alpha` powers of cairo-air's relation, read through `combine` (the
/// elements are private): the empty tuple combines to `-z`, `(0, 1)` to `alpha - z`.
pub fn lookup(elements: &CommonLookupElements, n_powers: usize) -> Lookup {
    let combine = |values: &[QM31]| {
        <CommonLookupElements as stwo_constraint_framework::Relation<QM31, QM31>>::combine(
            elements, values,
        )
    };
    let z = -combine(&[]);
    let alpha = combine(&[QM31::from(0), QM31::from(1)]) + z;
    Lookup {
        z,
        alpha_powers: alpha_powers(alpha, n_powers),
    }
}
