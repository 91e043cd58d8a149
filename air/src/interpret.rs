//! Evaluation of the IR in QM31: a component's constraints at one point (columns given as
//! QM31; M31 trace values embed exactly), and the composition polynomial at the out-of-domain
//! point as stwo's verifier accumulates it (`PointEvaluationAccumulator`, component by
//! component, each constraint divided by the vanishing polynomial of the evaluation domain).

use std::collections::HashMap;

use num_traits::{One, Zero};
use stwo::core::circle::CirclePoint;
use stwo::core::constraints::coset_vanishing;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::fields::FieldExpOps;
use stwo::core::pcs::TreeVec;
use stwo::core::poly::circle::CanonicCoset;

use crate::extract::Instance;
use crate::ir::{Air, Component, Op, Variant};
use crate::InterpretError;

/// The column values a component reads.
pub trait Mask {
    /// Column `column` of `interaction` (1 or 2) at mask position `position` (the index of the
    /// offset in [`Component::columns`]).
    fn trace(&self, interaction: u32, column: u32, position: usize) -> QM31;
    /// Index into [`Component::preprocessed`].
    fn preprocessed(&self, index: u32) -> QM31;
}

/// A relation's drawn elements.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    pub z: QM31,
    /// `alpha^0, alpha^1, ...`
    pub alpha_powers: Vec<QM31>,
}

/// Everything but the columns.
#[derive(Clone, Debug)]
pub struct Params<'a> {
    pub log_size: u32,
    pub claim_params: &'a [u32],
    pub claimed_sum: QM31,
    /// Per relation of [`Air::relations`].
    pub relations: &'a [Lookup],
}

/// The values of all nodes of `component`.
pub fn evaluate_nodes(
    component: &Component,
    mask: &impl Mask,
    params: &Params,
) -> Result<Vec<QM31>, InterpretError> {
    let mut values: Vec<QM31> = Vec::with_capacity(component.nodes.len());
    let m31 = |v: u32| QM31::from(M31::from_u32_unchecked(v));
    for node in &component.nodes {
        let v = |id: &u32| values[*id as usize];
        let value = match &node.op {
            Op::Trace {
                interaction,
                column,
                offset,
            } => {
                let position = component
                    .mask_position(*interaction, *column, *offset)
                    .ok_or_else(|| InterpretError::Mask(component.name.clone()))?;
                mask.trace(*interaction, *column, position)
            }
            Op::Preprocessed(i) => mask.preprocessed(*i),
            Op::ClaimParam(i) => m31(*params
                .claim_params
                .get(*i as usize)
                .ok_or_else(|| InterpretError::ClaimParam(component.name.clone()))?),
            Op::ColumnSize => m31(1 << params.log_size),
            Op::Const(c) => m31(*c),
            Op::ExtConst([a, b, c, d]) => QM31::from_u32_unchecked(*a, *b, *c, *d),
            Op::RelationZ(r) => lookup(params, *r)?.z,
            Op::RelationAlpha { relation, power } => *lookup(params, *relation)?
                .alpha_powers
                .get(*power as usize)
                .ok_or(InterpretError::Relation(*relation))?,
            Op::ClaimedSum => params.claimed_sum,
            Op::Lift(x) => v(x),
            Op::Combine(parts) => QM31::from_partial_evals(parts.map(|p| values[p as usize])),
            Op::Add(x, y) => v(x) + v(y),
            Op::Sub(x, y) => v(x) - v(y),
            Op::Mul(x, y) => v(x) * v(y),
            Op::Neg(x) => -v(x),
            Op::Inv(x) => v(x).inverse(),
        };
        values.push(value);
    }
    Ok(values)
}

fn lookup<'a>(params: &'a Params, relation: u32) -> Result<&'a Lookup, InterpretError> {
    params
        .relations
        .get(relation as usize)
        .ok_or(InterpretError::Relation(relation))
}

/// The value of each constraint of `component`.
pub fn evaluate_constraints(
    component: &Component,
    mask: &impl Mask,
    params: &Params,
) -> Result<Vec<QM31>, InterpretError> {
    let values = evaluate_nodes(component, mask, params)?;
    Ok(component
        .constraints
        .iter()
        .map(|c| values[c.node as usize])
        .collect())
}

/// What the composition polynomial's value at the out-of-domain point depends on, as the
/// verifier has it after drawing the point.
pub struct OodsInputs<'a> {
    /// The proof's sampled values: trees (preprocessed, trace, interaction), columns, mask
    /// positions.
    pub sampled_values: &'a TreeVec<Vec<Vec<QM31>>>,
    pub variant: &'a Variant,
    pub instances: &'a [Instance],
    pub relations: &'a [Lookup],
    pub point: CirclePoint<QM31>,
    pub random_coeff: QM31,
    /// The log size of the domain the constraints are divided by the vanishing polynomial of.
    pub max_log_degree_bound: u32,
}

/// A component instance's columns, read from the proof's sampled values.
pub struct SampledMask<'a> {
    sampled: &'a TreeVec<Vec<Vec<QM31>>>,
    first_column: [usize; 2],
    preprocessed: Vec<usize>,
}

impl Mask for SampledMask<'_> {
    fn trace(&self, interaction: u32, column: u32, position: usize) -> QM31 {
        let i = interaction as usize;
        self.sampled[i][self.first_column[i - 1] + column as usize][position]
    }
    fn preprocessed(&self, index: u32) -> QM31 {
        self.sampled[0][self.preprocessed[index as usize]][0]
    }
}

/// What one component instance of a proof is evaluated on.
pub struct InstanceInputs<'a> {
    pub component: &'a Component,
    pub mask: SampledMask<'a>,
    pub params: Params<'a>,
}

/// Every component instance's inputs, in the order of the composition, checked against the
/// shape of the sampled values.
pub fn instance_inputs<'a>(
    air: &'a Air,
    inputs: &OodsInputs<'a>,
) -> Result<Vec<InstanceInputs<'a>>, InterpretError> {
    let positions: HashMap<&str, usize> = inputs
        .variant
        .preprocessed
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let sampled: &'a TreeVec<Vec<Vec<QM31>>> = inputs.sampled_values;
    let relations: &'a [Lookup] = inputs.relations;
    let instances: &'a [Instance] = inputs.instances;
    instances
        .iter()
        .map(|instance| {
            let component = &air.components[instance.component];
            let preprocessed = (0..component.preprocessed.len())
                .map(|i| {
                    let id = component.preprocessed_id(i, instance.log_size);
                    positions
                        .get(id.as_str())
                        .copied()
                        .ok_or(InterpretError::Preprocessed(id))
                })
                .collect::<Result<Vec<_>, _>>()?;
            check_shape(component, instance, &preprocessed, sampled)?;
            Ok(InstanceInputs {
                component,
                mask: SampledMask {
                    sampled,
                    first_column: instance.first_column,
                    preprocessed,
                },
                params: Params {
                    log_size: instance.log_size,
                    claim_params: &instance.claim_params,
                    claimed_sum: instance.claimed_sum,
                    relations,
                },
            })
        })
        .collect()
}

/// The vanishing polynomial of the composition domain at the point.
pub fn vanishing(inputs: &OodsInputs) -> QM31 {
    coset_vanishing(
        CanonicCoset::new(inputs.max_log_degree_bound).coset,
        inputs.point,
    )
}

/// The composition polynomial at the out-of-domain point, from the proof's sampled values.
pub fn composition_at_point(air: &Air, inputs: &OodsInputs) -> Result<QM31, InterpretError> {
    let denom_inverse = vanishing(inputs).inverse();
    let mut acc = QM31::zero();
    for i in instance_inputs(air, inputs)? {
        for value in evaluate_constraints(i.component, &i.mask, &i.params)? {
            acc = acc * inputs.random_coeff + denom_inverse * value;
        }
    }
    Ok(acc)
}

/// The sampled values hold the component's columns with as many samples as its mask, and a
/// sample of each preprocessed column it reads (`preprocessed`: their indices in tree 0).
fn check_shape(
    component: &Component,
    instance: &Instance,
    preprocessed: &[usize],
    sampled: &TreeVec<Vec<Vec<QM31>>>,
) -> Result<(), InterpretError> {
    for column in preprocessed {
        if sampled
            .first()
            .and_then(|t| t.get(*column))
            .map(|c| c.len())
            != Some(1)
        {
            return Err(InterpretError::SampledShape {
                component: component.name.clone(),
                tree: 0,
                column: *column,
            });
        }
    }
    for (tree, columns) in component.columns.iter().enumerate() {
        for (j, offsets) in columns.iter().enumerate() {
            let column = instance.first_column[tree] + j;
            let n = sampled
                .get(tree + 1)
                .and_then(|t| t.get(column))
                .map(|c| c.len());
            if n != Some(offsets.len()) {
                return Err(InterpretError::SampledShape {
                    component: component.name.clone(),
                    tree: tree + 1,
                    column,
                });
            }
        }
    }
    Ok(())
}

/// `alpha^0 .. alpha^(n-1)`.
pub fn alpha_powers(alpha: QM31, n: usize) -> Vec<QM31> {
    std::iter::successors(Some(QM31::one()), |p| Some(*p * alpha))
        .take(n)
        .collect()
}
