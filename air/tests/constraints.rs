//! The extracted IR against stwo's own evaluation, for every component of `CairoComponents`:
//! per constraint against stwo-constraint-framework's `ExprEvaluator` assignment, and per
//! component and preprocessed-trace variant against the verifier's
//! `Component::evaluate_constraint_quotients_at_point` (stwo's `PointEvaluator`).

use std::collections::HashMap;
use std::sync::LazyLock;

use cairo_air::relations::CommonLookupElements;
use num_traits::Zero;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use starfarm_air::extract::{visit_components, Instance, Shape, Visitor, LOG_SIZES, SENTINELS};
use starfarm_air::interpret::{
    composition_at_point, evaluate_constraints, Lookup, Mask, OodsInputs, Params,
};
use starfarm_air::ir::{Air, Component, LogSize, Ty};
use starfarm_air::replay::lookup;
use starfarm_air::COMPONENT_NAMES;
use stwo::core::air::accumulation::PointEvaluationAccumulator;
use stwo::core::air::Component as _;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::circle::CirclePoint;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::pcs::TreeVec;
use stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant;
use stwo_constraint_framework::expr::ExprEvaluator;
use stwo_constraint_framework::{FrameworkComponent, FrameworkEval, TraceLocationAllocator};

static AIR: LazyLock<Air> = LazyLock::new(|| starfarm_air::extract().expect("extracts"));

#[test]
fn every_component_of_cairo_components_is_extracted_in_order() {
    let air = &*AIR;
    let names: Vec<&str> = air.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, COMPONENT_NAMES);
    assert_eq!(air.relations.len(), 1, "cairo-air uses one relation");
    assert_eq!(air.relations[0].name, "CommonLookupElements");
    for c in &air.components {
        assert!(!c.constraints.is_empty(), "{} has constraints", c.name);
        assert!(!c.logup.is_empty(), "{} uses logup", c.name);
        for (i, node) in c.nodes.iter().enumerate() {
            let operands = node.op.operands();
            assert!(
                operands.iter().all(|o| (*o as usize) < i),
                "{} n{i} is topological",
                c.name
            );
        }
        for k in &c.constraints {
            assert_eq!(
                c.node(k.node).ty,
                Ty::Ext,
                "{}: constraints are ext",
                c.name
            );
        }
    }
    // Every variant the prover uses is there, and what it supports includes the opcodes.
    let variants: Vec<&str> = air.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        variants,
        ["Canonical", "CanonicalWithoutPedersen", "CanonicalSmall"]
    );
    for v in &air.variants {
        assert!(v.components.iter().any(|c| c == "add_opcode"), "{}", v.name);
    }
}

/// Re-evaluates each component with `ExprEvaluator` as extraction did (log size and claim value
/// of the first evaluation) and checks every constraint of the IR against stwo-constraint-
/// framework's own `ExtExpr::assign` under a random assignment.
struct AgainstExprEvaluator<'a> {
    air: &'a Air,
    checked: usize,
}

struct AssignedMask<'a> {
    component: &'a Component,
    cols: &'a HashMap<(usize, usize, isize), M31>,
    params: &'a HashMap<String, M31>,
}

impl Mask for AssignedMask<'_> {
    fn trace(&self, interaction: u32, column: u32, position: usize) -> QM31 {
        let offsets = &self.component.columns[interaction as usize - 1][column as usize];
        let idx = column as usize
            + if interaction == 2 {
                self.component.columns[0].len()
            } else {
                0
            };
        self.cols[&(interaction as usize, idx, offsets[position] as isize)].into()
    }
    fn preprocessed(&self, index: u32) -> QM31 {
        self.params[&self.component.preprocessed_id(index as usize, LOG_SIZES.0)].into()
    }
}

impl Visitor for AgainstExprEvaluator<'_> {
    fn visit<E: FrameworkEval + Sync>(
        &mut self,
        name: &'static str,
        shape: Shape,
        make: impl Fn(u32, u32) -> E,
    ) {
        let component = self.air.component(name).expect("in the IR");
        let eval = make(LOG_SIZES.0, SENTINELS.0);
        let expr = eval.evaluate(ExprEvaluator::new());
        let mut assignment = expr.random_assignment();
        // The IR's column size is the real one, 2^log_size: recompute the intermediates with it.
        assignment
            .1
            .insert("column_size".into(), M31::from(1u32 << eval.log_size()));
        let n = expr.intermediates.len() + expr.ext_intermediates.len();
        for k in 0..n {
            let name = format!("intermediate{k}");
            if let Some(e) = expr.intermediates.get(&name) {
                let v = e.assign(&assignment);
                assignment.1.insert(name, v);
            } else {
                let v = expr.ext_intermediates[&name].assign(&assignment);
                assignment.2.insert(name, v);
            }
        }
        let expected: Vec<QM31> = expr
            .constraints
            .iter()
            .map(|c| c.assign(&assignment))
            .collect();

        let relation = &self.air.relations[0];
        let alpha_powers = (0..relation.size)
            .map(|i| {
                let key = format!("{}_alpha{i}", relation.name);
                assignment.2.get(&key).copied().unwrap_or_default()
            })
            .collect();
        let relations = [Lookup {
            z: assignment.2[&format!("{}_z", relation.name)],
            alpha_powers,
        }];
        let claim_params = match shape {
            Shape::WithParam(_) => vec![SENTINELS.0],
            _ => vec![],
        };
        let params = Params {
            log_size: eval.log_size(),
            claim_params: &claim_params,
            claimed_sum: assignment.2["claimed_sum"],
            relations: &relations,
        };
        let mask = AssignedMask {
            component,
            cols: &assignment.0,
            params: &assignment.1,
        };
        let got = evaluate_constraints(component, &mask, &params).expect("evaluates");
        assert_eq!(got.len(), expected.len(), "{name}: constraint count");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{name}: constraint {i}");
        }
        self.checked += got.len();
    }
}

#[test]
fn each_constraint_equals_expr_evaluator_on_a_random_assignment() {
    let air = &*AIR;
    let mut check = AgainstExprEvaluator { air, checked: 0 };
    visit_components(&CommonLookupElements::dummy(), &mut check);
    assert_eq!(check.checked, air.n_constraints());
    eprintln!(
        "{} constraints of {} components checked",
        check.checked,
        air.components.len()
    );
}

/// For one preprocessed-trace variant: each supported component, placed as the verifier places
/// it (static preprocessed allocation of the variant), at a log size other than extraction's,
/// with random sampled values, lookup elements, claimed sum, claim value and point; the
/// interpreter's accumulation must equal stwo's `evaluate_constraint_quotients_at_point`
/// (`PointEvaluator`) at a random coefficient and at as many distinct coefficients as the
/// component has constraints, which makes each constraint's value equal.
struct AgainstPointEvaluator<'a> {
    air: &'a Air,
    variant: PreProcessedTraceVariant,
    rng: SmallRng,
    elements: CommonLookupElements,
    relations: Vec<Lookup>,
    checked: Vec<&'static str>,
}

impl Visitor for AgainstPointEvaluator<'_> {
    fn visit<E: FrameworkEval + Sync>(
        &mut self,
        name: &'static str,
        shape: Shape,
        make: impl Fn(u32, u32) -> E,
    ) {
        let air = self.air;
        let variant = air
            .variants
            .iter()
            .find(|v| v.name == format!("{:?}", self.variant))
            .expect("variant in the IR");
        if !variant.components.iter().any(|c| c == name) {
            return;
        }
        let component = air.component(name).expect("in the IR");
        let log_size = match component.log_size {
            LogSize::Fixed(l) => l,
            LogSize::Claimed => 10,
        };
        let param = self.rng.gen_range(0..1u32 << 30);
        let _ = shape;
        let eval = make(log_size, param);
        let claimed_sum: QM31 = self.rng.gen();
        let ids = self.variant.to_preprocessed_trace().ids();
        let mut allocator = TraceLocationAllocator::new_with_preprocessed_columns(&ids);
        let stwo_component = FrameworkComponent::new(&mut allocator, eval, claimed_sum);

        let rng = &mut self.rng;
        let mut sampled: TreeVec<Vec<Vec<QM31>>> =
            TreeVec::new(vec![ids.iter().map(|_| vec![rng.gen()]).collect()]);
        for columns in &component.columns {
            sampled.push(
                columns
                    .iter()
                    .map(|offsets| offsets.iter().map(|_| rng.gen()).collect())
                    .collect(),
            );
        }
        let point = CirclePoint::<QM31>::get_random_point(&mut seeded_channel(rng.gen()));
        let random_coeff: QM31 = rng.gen();
        let max_log_degree_bound = log_size + component.log_blowup + 1;
        let claim_params = match shape {
            Shape::WithParam(_) => vec![param],
            _ => vec![],
        };
        let instance = Instance {
            component: air
                .components
                .iter()
                .position(|c| c.name == name)
                .expect("index"),
            log_size,
            claim_params,
            claimed_sum,
            first_column: [0, 0],
        };
        // Both sides accumulate sum_i c_i * coeff^(n-1-i): equal at n distinct coefficients,
        // the two polynomials of degree < n are equal, so is every constraint c_i.
        let n = component.constraints.len();
        let coefficients = std::iter::once(random_coeff).chain((0..n as u32).map(QM31::from));
        for coeff in coefficients {
            let mut accumulator = PointEvaluationAccumulator::new(coeff);
            stwo_component.evaluate_constraint_quotients_at_point(
                point,
                &sampled,
                &mut accumulator,
                max_log_degree_bound,
            );
            let expected = accumulator.finalize();
            let got = composition_at_point(
                air,
                &OodsInputs {
                    sampled_values: &sampled,
                    variant,
                    instances: std::slice::from_ref(&instance),
                    relations: &self.relations,
                    point,
                    random_coeff: coeff,
                    max_log_degree_bound,
                },
            )
            .expect("interprets");
            assert_eq!(
                got, expected,
                "{name} in {:?}, coefficient {coeff}",
                self.variant
            );
            if coeff == random_coeff {
                assert_ne!(
                    expected,
                    QM31::zero(),
                    "{name}: random values violate the constraints"
                );
            }
        }
        self.checked.push(name);
    }
}

fn seeded_channel(seed: u32) -> Blake2sChannel {
    let mut channel = Blake2sChannel::default();
    channel.mix_u32s(&[seed]);
    channel
}

fn check_variant(variant: PreProcessedTraceVariant, seed: u64) {
    let air = &*AIR;
    let mut rng = SmallRng::seed_from_u64(seed);
    let elements = CommonLookupElements::draw(&mut seeded_channel(rng.gen()));
    let relations = vec![lookup(&elements, air.relations[0].size as usize)];
    let mut check = AgainstPointEvaluator {
        air,
        variant,
        rng,
        elements: elements.clone(),
        relations,
        checked: vec![],
    };
    visit_components(&elements, &mut check);
    let supported = &air
        .variants
        .iter()
        .find(|v| v.name == format!("{variant:?}"))
        .expect("variant")
        .components;
    assert_eq!(check.checked, *supported);
    let _ = &check.elements;
    eprintln!("{variant:?}: {} components checked", check.checked.len());
}

#[test]
fn composition_equals_stwo_point_evaluator_for_every_component_in_canonical() {
    check_variant(PreProcessedTraceVariant::Canonical, 1);
}

#[test]
fn composition_equals_stwo_point_evaluator_for_every_component_in_canonical_without_pedersen() {
    check_variant(PreProcessedTraceVariant::CanonicalWithoutPedersen, 2);
}

#[test]
fn composition_equals_stwo_point_evaluator_for_every_component_in_canonical_small() {
    check_variant(PreProcessedTraceVariant::CanonicalSmall, 3);
}
