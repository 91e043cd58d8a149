//! Extraction of the IR from cairo-air: every component of `CairoComponents` is evaluated with
//! stwo-constraint-framework's symbolic `ExprEvaluator` (twice, at different log sizes and claim
//! values, see `lower`), its mask shape is read with `InfoEvaluator`, and the preprocessed
//! traces come from stwo-cairo-common's `PreProcessedTraceVariant`s.
//!
//! The registry below names each component and the shape of its claim; constructing the
//! component's `Eval` is all it does. The constraints themselves only ever come from
//! `evaluate`.

use std::collections::HashSet;

use cairo_air::cairo_components::CairoComponents;
use cairo_air::components::*;
use cairo_air::relations::CommonLookupElements;
use num_traits::Zero;
use stwo::core::fields::qm31::QM31;
use stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant;
use stwo_constraint_framework::expr::{ExprEvaluator, ExtExpr};
use stwo_constraint_framework::{FrameworkComponent, FrameworkEval, InfoEvaluator};

use crate::ir::{Air, Component, Constraint, LogSize, LogupEntry, NodeId, Relation, Ty, Variant};
use crate::lower::{prune, Lowering, Pair};
use crate::ExtractError;

/// The two evaluations' log sizes and claim-value sentinels (see `lower`).
pub const LOG_SIZES: (u32, u32) = (13, 17);
pub const SENTINELS: (u32, u32) = (0x1234_5679, 0x2345_678b);

/// How a component's claim is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// No claim: a lookup table of fixed size.
    Fixed,
    /// A log size.
    Sized,
    /// A log size and one value the constraints use (named).
    WithParam(&'static str),
}

/// A component of a concrete proof: which IR component, at which size, with which claim.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Index into [`Air::components`].
    pub component: usize,
    pub log_size: u32,
    pub claim_params: Vec<u32>,
    pub claimed_sum: QM31,
    /// First column of the component in the trace (tree 1) and interaction trace (tree 2).
    pub first_column: [usize; 2],
}

/// Sees every component's `Eval`: `make(log_size, claim_param)` builds it (arguments it does
/// not use are ignored, see [`Shape`]).
pub trait Visitor {
    fn visit<E: FrameworkEval + Sync>(
        &mut self,
        name: &'static str,
        shape: Shape,
        make: impl Fn(u32, u32) -> E,
    );
}

macro_rules! registry {
    ($($name:ident : $shape:tt),* $(,)?) => {
        /// The components, in `CairoComponents` order.
        pub const COMPONENT_NAMES: &[&str] = &[$(stringify!($name)),*];

        /// Calls `visitor` with every component, in `CairoComponents` order.
        pub fn visit_components(elements: &CommonLookupElements, visitor: &mut impl Visitor) {
            $(registry!(@visit $name $shape elements visitor);)*
        }

        /// The names cairo-air gives the relations its components use (each once, in
        /// component order): only names. A lookup table (`fixed`) uses none, so declares none
        /// (verify_bitwise_xor_12 has no `RELATION_USES_PER_ROW` at all). Which relation a
        /// logup entry is and how often a row uses it are the IR's (`crate::uses`): a name
        /// labels the id `crate::uses::relation_id` hashes it to.
        pub fn relation_names() -> Vec<&'static str> {
            let mut names = vec![];
            $(registry!(@names $name $shape names);)*
            names
        }

        /// The instances of a concrete `CairoComponents`, in composition order.
        pub fn instances(air: &Air, components: &CairoComponents) -> Result<Vec<Instance>, ExtractError> {
            let mut out = vec![];
            $(registry!(@instances air $name $shape components out);)*
            Ok(out)
        }
    };
    (@visit $name:ident fixed $el:ident $v:ident) => {
        $v.visit(stringify!($name), Shape::Fixed, |_, _| $name::Eval {
            claim: $name::Claim {},
            common_lookup_elements: $el.clone(),
        })
    };
    (@visit $name:ident sized $el:ident $v:ident) => {
        $v.visit(stringify!($name), Shape::Sized, |log_size, _| $name::Eval {
            claim: $name::Claim { log_size },
            common_lookup_elements: $el.clone(),
        })
    };
    (@visit $name:ident (param $field:ident) $el:ident $v:ident) => {
        $v.visit(stringify!($name), Shape::WithParam(stringify!($field)), |log_size, value| $name::Eval {
            claim: $name::Claim { log_size, $field: value },
            common_lookup_elements: $el.clone(),
        })
    };
    (@visit $name:ident big $el:ident $v:ident) => {
        $v.visit(stringify!($name), Shape::WithParam("offset"), |log_size, offset| {
            $name::BigEval::new(log_size, offset, $el.clone())
        })
    };
    (@names $name:ident fixed $names:ident) => {};
    (@names $name:ident $shape:tt $names:ident) => {
        for u in $name::RELATION_USES_PER_ROW.iter() {
            if !$names.contains(&u.relation_id) {
                $names.push(u.relation_id);
            }
        }
    };
    (@instances $air:ident $name:ident fixed $c:ident $out:ident) => {
        if let Some(c) = &$c.$name {
            $out.push(instance($air, stringify!($name), c, vec![])?);
        }
    };
    (@instances $air:ident $name:ident sized $c:ident $out:ident) => {
        if let Some(c) = &$c.$name {
            $out.push(instance($air, stringify!($name), c, vec![])?);
        }
    };
    (@instances $air:ident $name:ident (param $field:ident) $c:ident $out:ident) => {
        if let Some(c) = &$c.$name {
            $out.push(instance($air, stringify!($name), c, vec![c.claim.$field])?);
        }
    };
    (@instances $air:ident $name:ident big $c:ident $out:ident) => {
        for c in &$c.$name {
            $out.push(instance($air, stringify!($name), c, vec![c.offset])?);
        }
    };
}

registry! {
    add_opcode: sized,
    add_opcode_small: sized,
    add_ap_opcode: sized,
    assert_eq_opcode: sized,
    assert_eq_opcode_imm: sized,
    assert_eq_opcode_double_deref: sized,
    blake_compress_opcode: sized,
    call_opcode_abs: sized,
    call_opcode_rel_imm: sized,
    generic_opcode: sized,
    jnz_opcode_non_taken: sized,
    jnz_opcode_taken: sized,
    jump_opcode_abs: sized,
    jump_opcode_double_deref: sized,
    jump_opcode_rel: sized,
    jump_opcode_rel_imm: sized,
    mul_opcode: sized,
    mul_opcode_small: sized,
    qm_31_add_mul_opcode: sized,
    ret_opcode: sized,
    verify_instruction: sized,
    blake_round: sized,
    blake_g: sized,
    blake_round_sigma: fixed,
    triple_xor_32: sized,
    verify_bitwise_xor_12: fixed,
    add_mod_builtin: (param add_mod_builtin_segment_start),
    bitwise_builtin: (param bitwise_builtin_segment_start),
    mul_mod_builtin: (param mul_mod_builtin_segment_start),
    pedersen_builtin: (param pedersen_builtin_segment_start),
    pedersen_builtin_narrow_windows: (param pedersen_builtin_segment_start),
    poseidon_builtin: (param poseidon_builtin_segment_start),
    range_check96_builtin: (param range_check96_builtin_segment_start),
    range_check_builtin: (param range_check_builtin_segment_start),
    ec_op_builtin: (param ec_op_builtin_segment_start),
    partial_ec_mul_generic: sized,
    pedersen_aggregator_window_bits_18: sized,
    partial_ec_mul_window_bits_18: sized,
    pedersen_points_table_window_bits_18: fixed,
    pedersen_aggregator_window_bits_9: sized,
    partial_ec_mul_window_bits_9: sized,
    pedersen_points_table_window_bits_9: fixed,
    poseidon_aggregator: sized,
    poseidon_3_partial_rounds_chain: sized,
    poseidon_full_round_chain: sized,
    cube_252: sized,
    poseidon_round_keys: fixed,
    range_check_252_width_27: sized,
    memory_address_to_id: sized,
    memory_id_to_big: big,
    memory_id_to_small: sized,
    range_check_6: fixed,
    range_check_8: fixed,
    range_check_11: fixed,
    range_check_12: fixed,
    range_check_18: fixed,
    range_check_20: fixed,
    range_check_4_3: fixed,
    range_check_4_4: fixed,
    range_check_9_9: fixed,
    range_check_7_2_5: fixed,
    range_check_3_6_6_3: fixed,
    range_check_4_4_4_4: fixed,
    range_check_3_3_3_3_3: fixed,
    verify_bitwise_xor_4: fixed,
    verify_bitwise_xor_7: fixed,
    verify_bitwise_xor_8: fixed,
    verify_bitwise_xor_9: fixed,
}

/// Extracts the whole AIR. Deep expression trees: run on a thread with a large stack.
pub fn extract() -> Result<Air, ExtractError> {
    let worker = std::thread::Builder::new()
        .name("air-extract".into())
        .stack_size(512 << 20)
        .spawn(extract_on_this_thread)
        .map_err(|e| ExtractError::Thread(e.to_string()))?;
    worker
        .join()
        .map_err(|_| ExtractError::Thread("the extraction thread panicked".into()))?
}

/// Extracts each component it visits.
struct Extractor {
    relations: Vec<Relation>,
    components: Result<Vec<Component>, ExtractError>,
}

impl Visitor for Extractor {
    fn visit<E: FrameworkEval + Sync>(
        &mut self,
        name: &'static str,
        shape: Shape,
        make: impl Fn(u32, u32) -> E,
    ) {
        let Ok(components) = &mut self.components else {
            return;
        };
        match extract_one(name, shape, make, &mut self.relations) {
            Ok(c) => components.push(c),
            Err(e) => self.components = Err(e),
        }
    }
}

fn extract_on_this_thread() -> Result<Air, ExtractError> {
    let mut extractor = Extractor {
        relations: vec![],
        components: Ok(vec![]),
    };
    visit_components(&CommonLookupElements::dummy(), &mut extractor);
    let (relations, components) = (extractor.relations, extractor.components?);
    let variants = PreProcessedTraceVariant::ALL_VARIANTS
        .iter()
        .map(|v| variant(*v, &components))
        .collect();
    Ok(Air {
        source: "cairo-air 1.3.0, stwo-constraint-framework 2.3.0 (ExprEvaluator)".into(),
        relations,
        components,
        variants,
    })
}

fn extract_one<E: FrameworkEval>(
    name: &str,
    shape: Shape,
    make: impl Fn(u32, u32) -> E,
    relations: &mut Vec<Relation>,
) -> Result<Component, ExtractError> {
    let (ea, eb) = (
        make(LOG_SIZES.0, SENTINELS.0),
        make(LOG_SIZES.1, SENTINELS.1),
    );
    let (log_size, claim_params, sentinel) = match shape {
        Shape::Fixed => (LogSize::Fixed(ea.log_size()), vec![], None),
        Shape::Sized => (LogSize::Claimed, vec![], None),
        Shape::WithParam(p) => (LogSize::Claimed, vec![p.to_string()], Some(SENTINELS)),
    };
    let log_blowup = ea.max_constraint_log_degree_bound() - ea.log_size();
    let info = ea.evaluate(InfoEvaluator::new(ea.log_size(), vec![], QM31::zero()));
    let columns: Vec<Vec<Vec<i32>>> = (1..=2)
        .map(|tree| {
            info.mask_offsets.get(tree).map_or(vec![], |cols| {
                cols.iter()
                    .map(|offsets| offsets.iter().map(|o| *o as i32).collect())
                    .collect()
            })
        })
        .collect();
    let (xa, xb) = (
        ea.evaluate(ExprEvaluator::new()),
        eb.evaluate(ExprEvaluator::new()),
    );
    if xa.constraints.len() != xb.constraints.len() || xa.logup.fracs.len() != xb.logup.fracs.len()
    {
        return Err(ExtractError::Lowering {
            component: name.into(),
            what: "the two evaluations have different shapes".into(),
        });
    }
    let pair = Pair {
        log_size: match shape {
            Shape::Fixed => (ea.log_size(), eb.log_size()),
            _ => LOG_SIZES,
        },
        sentinel,
    };
    let degree_bounds = xa.constraint_degree_bounds();
    let mut lowering = Lowering::new(name, &xa, &xb, pair, columns[0].len(), relations);
    let mut constraints = vec![];
    for ((ca, cb), degree) in xa
        .constraints
        .iter()
        .zip(&xb.constraints)
        .zip(degree_bounds)
    {
        let node = lowering.ext(ca, cb)?;
        let node = lowering.lift(node);
        constraints.push(Constraint {
            node,
            degree_bound: degree as u32,
        });
    }
    let mut logup = vec![];
    for (fa, fb) in xa.logup.fracs.iter().zip(&xb.logup.fracs) {
        let multiplicity = lowering.ext(&fa.numerator, &fb.numerator)?;
        let multiplicity = lowering.lift(multiplicity);
        let (da, db) = (
            denominator(&xa, &fa.denominator),
            denominator(&xb, &fb.denominator),
        );
        let (Some(da), Some(db)) = (da, db) else {
            return Err(ExtractError::Lowering {
                component: name.into(),
                what: "a logup denominator is not an intermediate".into(),
            });
        };
        let (relation, values) = lowering.combination(da, db)?;
        debug_assert!(values.iter().all(|v| lowering.ty(*v) == Ty::Base));
        logup.push(LogupEntry {
            relation,
            multiplicity,
            values,
        });
    }
    let roots: Vec<NodeId> = constraints
        .iter()
        .map(|c| c.node)
        .chain(
            logup
                .iter()
                .flat_map(|e| e.values.iter().copied().chain([e.multiplicity])),
        )
        .collect();
    let (nodes, remap) = prune(&lowering.nodes, &roots);
    let renumber = |id: &mut NodeId| *id = remap[*id as usize].unwrap_or(*id);
    for c in &mut constraints {
        renumber(&mut c.node);
    }
    for e in &mut logup {
        renumber(&mut e.multiplicity);
        e.values.iter_mut().for_each(renumber);
    }
    let preprocessed = lowering.preprocessed;
    Ok(Component {
        name: name.into(),
        log_size,
        log_blowup,
        claim_params,
        preprocessed,
        columns,
        nodes,
        constraints,
        logup,
    })
}

fn denominator<'a>(eval: &'a ExprEvaluator, d: &ExtExpr) -> Option<&'a ExtExpr> {
    match d {
        ExtExpr::Param(name) => eval.ext_intermediates.get(name),
        _ => None,
    }
}

fn variant(v: PreProcessedTraceVariant, components: &[Component]) -> Variant {
    let trace = v.to_preprocessed_trace();
    let preprocessed: Vec<(String, u32)> = trace
        .columns
        .iter()
        .map(|c| (c.id().id, c.log_size()))
        .collect();
    let ids: HashSet<&str> = preprocessed.iter().map(|(id, _)| id.as_str()).collect();
    let max_log = preprocessed.iter().map(|(_, l)| *l).max().unwrap_or(0);
    let supported = |c: &Component| {
        let has_all = |log_size: u32| {
            (0..c.preprocessed.len()).all(|i| ids.contains(c.preprocessed_id(i, log_size).as_str()))
        };
        match c.log_size {
            LogSize::Fixed(l) => has_all(l),
            LogSize::Claimed => (0..=max_log).any(has_all),
        }
    };
    let components = components
        .iter()
        .filter(|c| supported(c))
        .map(|c| c.name.clone())
        .collect();
    Variant {
        name: format!("{v:?}"),
        preprocessed,
        components,
    }
}

fn instance<E: FrameworkEval>(
    air: &Air,
    name: &str,
    component: &FrameworkComponent<E>,
    claim_params: Vec<u32>,
) -> Result<Instance, ExtractError> {
    let index = air
        .components
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| ExtractError::UnknownComponent(name.into()))?;
    let mut first_column = [0; 2];
    for span in component.trace_locations() {
        if (1..=2).contains(&span.tree_index) {
            first_column[span.tree_index - 1] = span.col_start;
        }
    }
    Ok(Instance {
        component: index,
        log_size: component.log_size(),
        claim_params,
        claimed_sum: component.claimed_sum(),
        first_column,
    })
}
