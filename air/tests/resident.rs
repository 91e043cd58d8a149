//! The generated CUDA on the resident backend (`starfarm_air::resident`, through the emulated
//! device): on a real trace (fibonacci, executed and written by stwo-cairo's witness
//! generation as `prove_cairo` does), every component instance of the claim up to 2^12 rows,
//! evaluated by `DeviceComponent` over device-resident columns into one device accumulator,
//! leaves the accumulator word for word where stwo's `FrameworkComponent` leaves
//! `SimdBackend`'s, at every size, with the powers of the random coefficient handed out across
//! components as in a proof and a committed domain twice the evaluation domain (the sub-domain
//! path with `log_expansion` 1). Skipped, with a message, without a C++ compiler.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use cairo_air::cairo_components::CairoComponents;
use cairo_air::relations::CommonLookupElements;
use starfarm_air::resident::{device_components, AirKernels};
use starfarm_air::Air;
use starfarm_kernels::emulated_device::EmulatedDevice;
use starfarm_kernels::resident::{op_counts, DeviceBackend, DeviceColumn, Op, ResidentDevice};
use starfarm_kernels::KernelError;
use starfarm_prover::{CairoProgram, Felt, ProgramInput};
use stwo::core::channel::Blake2sChannel;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::pcs::TreeVec;
use stwo::core::poly::circle::{CanonicCoset, CircleDomain};
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::Column;
use stwo::prover::poly::circle::{CircleEvaluation, PolyOps};
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::{ComponentProver, DomainEvaluationAccumulator, EvaluationMode, Poly, Trace};
use stwo_cairo_prover::utils::cairo_provers;
use stwo_cairo_prover::witness::cairo::create_cairo_claim_generator;
use stwo_cairo_prover::witness::preprocessed_trace::gen_trace;

/// Largest trace of a component checked (emulated rows run one at a time, unoptimised).
const MAX_CHECKED_LOG: u32 = 12;
/// Committed domain = evaluation domain × 2^LOG_EXPANSION (a blowup of 4 for the Cairo AIR,
/// whose constraints have degree bound 2× the trace).
const LOG_EXPANSION: u32 = 1;

type SimdEval = CircleEvaluation<SimdBackend, M31, BitReversedOrder>;

fn device() -> Option<&'static EmulatedDevice> {
    match EmulatedDevice::instance() {
        Ok(d) => Some(d),
        Err(KernelError::NoDevice { reason, .. }) => {
            eprintln!("SKIPPED: the resident AIR check needs the emulated device: {reason}");
            None
        }
        Err(e) => panic!("emulated device: {e}"),
    }
}

/// One column on its committed domain: `SimdBackend`'s polynomial, and the values the device
/// copy is uploaded from.
struct Committed {
    simd: Poly<SimdBackend>,
    domain: CircleDomain,
    values: Vec<M31>,
}

impl Committed {
    fn upload<D: ResidentDevice>(&self) -> Poly<DeviceBackend<D>> {
        let column = DeviceColumn::from_host(&self.values).expect("uploads");
        Poly::new(None, CircleEvaluation::new(self.domain, column))
    }
}

fn commit(
    column: &SimdEval,
    twiddles: &stwo::prover::poly::twiddles::TwiddleTree<SimdBackend>,
) -> Committed {
    let log = column.domain.log_size() + 1 + LOG_EXPANSION;
    let domain = CanonicCoset::new(log).circle_domain();
    let evals = column
        .clone()
        .interpolate_with_twiddles(twiddles)
        .evaluate_with_twiddles(domain, twiddles);
    let values = evals.values.to_cpu();
    Committed {
        simd: Poly::new(None, evals),
        domain,
        values,
    }
}

/// A 2-value stand-in for a column no checked component reads (trees are indexed by
/// position, so every column needs an entry).
fn placeholder() -> Committed {
    let domain = CanonicCoset::new(1).circle_domain();
    let values = vec![M31::from(0u32); 2];
    Committed {
        simd: Poly::new(
            None,
            CircleEvaluation::new(domain, BaseColumn::from_cpu(&values)),
        ),
        domain,
        values,
    }
}

fn accumulated<B: stwo::prover::backend::Backend>(
    acc: &mut DomainEvaluationAccumulator<B>,
) -> Vec<Vec<Vec<M31>>> {
    (0..=acc.log_size())
        .map(|log| {
            let [col] = acc.columns([(log, 0)]);
            col.col.columns.iter().map(|c| c.to_cpu()).collect()
        })
        .collect()
}

#[test]
fn device_components_accumulate_as_simd_backend_on_a_real_trace() {
    if let Some(device) = device() {
        check(device);
    }
}

/// The same on CUDA device 0 (`--features cuda`); skipped without a GPU unless
/// `STARFARM_REQUIRE_CUDA=1`. Never run yet: the first run is NVRTC's first compile of the
/// generated source.
#[cfg(feature = "cuda")]
#[test]
fn device_components_accumulate_as_simd_backend_on_cuda() {
    use starfarm_kernels::cuda_device::CudaDevice;
    match CudaDevice::instance() {
        Ok(device) => check(device),
        Err(e) if std::env::var("STARFARM_REQUIRE_CUDA").is_ok_and(|v| v == "1") => {
            panic!("CUDA is required: {e}")
        }
        Err(e) => eprintln!("SKIPPED: no CUDA device: {e}"),
    }
}

fn check<D: ResidentDevice>(device: &'static D) {
    let started = Instant::now();
    let air: Air = starfarm_air::extract().expect("extracts");
    let kernels = AirKernels::load(device, &air).expect("the generated CUDA compiles");
    eprintln!("IR and kernels ready in {:?}", started.elapsed());

    let elements = CommonLookupElements::draw(&mut Blake2sChannel::default());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program = CairoProgram::from_file(&root.join("examples/fibonacci.json")).expect("loads");
    let input = ProgramInput::new(vec![Felt::from(100u64)]);
    let execution =
        starfarm_prover::execute(&program, &input, Default::default()).expect("executes");
    let variant = starfarm_prover::choose_variant(&execution).expect("a variant proves it");
    let preprocessed = Arc::new(variant.to_preprocessed_trace());
    let generator =
        create_cairo_claim_generator(execution.adapt().expect("adapts"), preprocessed.clone());
    let (base, claim, interaction) = generator.write_trace();
    let (interaction, interaction_claim) = interaction.write_interaction_trace(&elements);
    let ids: Vec<String> = preprocessed.ids().into_iter().map(|id| id.id).collect();
    let components =
        CairoComponents::new(&claim, &elements, &interaction_claim, &preprocessed.ids());
    let instances = starfarm_air::extract::instances(&air, &components).expect("instances");
    let provers = cairo_provers(&components);
    let relations = [starfarm_air::replay::lookup(
        &elements,
        air.relations[0].size as usize,
    )];
    let device_provers = device_components(&air, &kernels, &instances, &provers, &relations, &ids)
        .expect("every instance has its kernel and columns");

    // The columns of the checked instances, on their committed domains; the others as
    // placeholders.
    let checked: Vec<usize> = (0..instances.len())
        .filter(|&i| instances[i].log_size <= MAX_CHECKED_LOG)
        .collect();
    let twiddles = SimdBackend::precompute_twiddles(
        CanonicCoset::new(MAX_CHECKED_LOG + 1 + LOG_EXPANSION).half_coset(),
    );
    let mut pre_used: HashMap<usize, ()> = HashMap::new();
    let mut tree_used: [HashMap<usize, ()>; 2] = [HashMap::new(), HashMap::new()];
    for &i in &checked {
        let instance = &instances[i];
        let c = &air.components[instance.component];
        for p in 0..c.preprocessed.len() {
            let id = c.preprocessed_id(p, instance.log_size);
            let at = ids
                .iter()
                .position(|x| *x == id)
                .expect("the column is there");
            pre_used.insert(at, ());
        }
        for (tree, used) in tree_used.iter_mut().enumerate() {
            for j in 0..c.columns[tree].len() {
                used.insert(instance.first_column[tree] + j, ());
            }
        }
    }
    let pre_evals = gen_trace(preprocessed.clone());
    // What a whole proof would hold on the device for the preprocessed trace alone (its
    // evaluations at blowup 2, the Test profile's, as M31 words), for docs/gpu.md.
    let words =
        |evals: &[SimdEval]| -> u64 { evals.iter().map(|e| 2 * e.values.len() as u64).sum() };
    eprintln!(
        "committed words at blowup 2: preprocessed {} ({} columns, largest 2^{}), trace {}, \
         interaction {}",
        words(&pre_evals),
        pre_evals.len(),
        pre_evals
            .iter()
            .map(|e| e.domain.log_size())
            .max()
            .unwrap_or(0),
        words(&base),
        words(&interaction)
    );
    let build = |evals: &[SimdEval], used: &HashMap<usize, ()>| -> Vec<Committed> {
        evals
            .iter()
            .enumerate()
            .map(|(i, e)| {
                if used.contains_key(&i) {
                    commit(e, &twiddles)
                } else {
                    placeholder()
                }
            })
            .collect()
    };
    let trees = [
        build(&pre_evals, &pre_used),
        build(&base, &tree_used[0]),
        build(&interaction, &tree_used[1]),
    ];
    let simd_trace = Trace {
        polys: TreeVec::new(
            trees
                .iter()
                .map(|t| t.iter().map(|c| &c.simd).collect())
                .collect(),
        ),
    };
    let mut device_trees: Vec<Vec<Poly<DeviceBackend<D>>>> = trees
        .iter()
        .map(|t| t.iter().map(Committed::upload::<D>).collect())
        .collect();

    let n_constraints: usize = checked.iter().map(|&i| provers[i].n_constraints()).sum();
    let max_log = checked
        .iter()
        .map(|&i| provers[i].max_constraint_log_degree_bound())
        .max()
        .expect("instances to check");
    let random_coeff = QM31::from_u32_unchecked(7, 11, 13, 17);
    let mode = EvaluationMode::SubDomain {
        log_expansion: LOG_EXPANSION,
    };
    let simd = {
        let mut acc = DomainEvaluationAccumulator::<SimdBackend>::new(
            random_coeff,
            max_log,
            n_constraints,
            mode,
        );
        for &i in &checked {
            provers[i].evaluate_constraint_quotients_on_domain(&simd_trace, &mut acc);
        }
        accumulated(&mut acc)
    };
    let run_device = |trees: &Vec<Vec<Poly<DeviceBackend<D>>>>| {
        let trace = Trace {
            polys: TreeVec::new(trees.iter().map(|t| t.iter().collect()).collect()),
        };
        let mut acc = DomainEvaluationAccumulator::<DeviceBackend<D>>::new(
            random_coeff,
            max_log,
            n_constraints,
            mode,
        );
        for &i in &checked {
            device_provers[i].evaluate_constraint_quotients_on_domain(&trace, &mut acc);
        }
        accumulated(&mut acc)
    };
    let before = op_counts();
    let started = Instant::now();
    let on_device = run_device(&device_trees);
    eprintln!(
        "{} of {} instances ({n_constraints} constraints) evaluated on {} in {:?}",
        checked.len(),
        instances.len(),
        D::NAME,
        started.elapsed()
    );
    assert!(checked.len() >= 10, "the trace has instances to check");
    assert_eq!(
        on_device, simd,
        "the device accumulator equals SimdBackend's, every size, word for word"
    );
    let count = |counts: &[(Op, starfarm_kernels::resident::OpCount)]| {
        counts
            .iter()
            .find(|(op, _)| *op == Op::ComponentQuotients)
            .map(|(_, c)| *c)
            .expect("counted")
    };
    let (after, was) = (count(&op_counts()), count(&before));
    assert_eq!(
        after.device - was.device,
        checked.len() as u64,
        "every checked instance ran on the device"
    );
    assert_eq!(after.host, was.host, "no host fallback");

    // The check can fail: one changed trace value of a checked component (on the device only)
    // changes the device's accumulator.
    let first = &instances[checked[0]];
    let column = &mut device_trees[1][first.first_column[0]].evals.values;
    let mut values = column.to_cpu();
    values[0] += M31::from(1u32);
    *column = DeviceColumn::from_host(&values).expect("uploads");
    assert_ne!(
        run_device(&device_trees),
        simd,
        "a changed trace value changes the accumulator"
    );
}
