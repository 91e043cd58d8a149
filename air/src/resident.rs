//! The Cairo AIR's constraint evaluation on the resident backend (`starfarm_kernels::resident`):
//! [`DeviceComponent`] is a `ComponentProver<DeviceBackend<D>>` that runs the generated
//! `air_eval_<name>` kernels (`generated/cuda/cairo_air.cu`) over the device-resident trace,
//! accumulating into the device-resident composition accumulator, with the same words
//! `SimdBackend`'s `FrameworkComponent` accumulates; [`prove_cairo`] is the whole Cairo prove
//! flow on that backend, and [`ResidentProver`] that flow as the prover's CUDA path (the
//! kernels' `ProveFlow` trait, which the prover holds, with a warm [`DevicePrecompute`]).
//!
//! Why here: the glue needs the IR (each kernel's column and parameter layout,
//! [`crate::codegen::cuda`]) and the device. `starfarm-kernels` depends on no starfarm crate,
//! and the prover does not depend on this crate (this crate dev-depends on the prover), so the
//! glue lives with the IR and the generated source, and takes the kernels crate as a
//! dependency (the arrow `air --> kernels`, pointing down, as the prover's does). The
//! prover reaches [`ResidentProver`] through the kernels' `ProveFlow` trait, which both
//! import; the binary injects it.

use std::collections::HashMap;
use std::sync::Arc;

use cairo_air::cairo_components::CairoComponents;
use cairo_air::relations::CommonLookupElements;
use cairo_air::verifier::INTERACTION_POW_BITS;
use cairo_air::CairoProof;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::pcs::PcsConfig;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::utils::MaybeOwned;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::prover::mempool::BaseColumnPool;
use stwo::prover::poly::circle::{CircleEvaluation, PolyOps};
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::{prove_ex, CommitmentSchemeProver, CommitmentTreeProver};
use stwo_cairo_common::preprocessed_columns::preprocessed_trace::{
    PreProcessedTrace, PreProcessedTraceVariant,
};
use stwo_cairo_prover::prover::{ChannelHash, ProverParameters};
use stwo_cairo_prover::utils::cairo_provers;
use stwo_cairo_prover::witness::cairo::create_cairo_claim_generator;
use stwo_cairo_prover::witness::preprocessed_trace::gen_trace;

use starfarm_kernels::resident::{
    self, DeviceBackend, HostComponent, Op, ResidentDevice, RowKernels, RowLaunch,
};
use starfarm_kernels::resident::{FlowFailure, FlowProof, FlowStats, ProveFlow};
use starfarm_kernels::KernelError;
use stwo::core::air::accumulation::PointEvaluationAccumulator;
use stwo::core::air::Component as StwoComponent;
use stwo::core::circle::CirclePoint;
use stwo::core::constraints::coset_vanishing;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::{SecureField, QM31};
use stwo::core::pcs::TreeVec;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::utils::bit_reverse;
use stwo::core::ColumnVec;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::Column;
use stwo::prover::{ComponentProver, DomainEvaluationAccumulator, EvaluationMode, Trace};

use crate::interpret::Lookup;
use crate::ir::{Air, Component};
use crate::Instance;

/// The generated CUDA of every component (committed; `air-codegen --check` keeps it current).
pub const CAIRO_AIR_CUDA: &str = include_str!("../generated/cuda/cairo_air.cu");

/// Errors building the device components of a proof.
#[derive(Debug, thiserror::Error)]
pub enum ResidentError {
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("{instances} component instances in the claim, {provers} component provers")]
    Count { instances: usize, provers: usize },
    #[error("component {component}: {what}")]
    Mismatch { component: String, what: String },
    #[error("preprocessed column {0} is not in the preprocessed trace")]
    Preprocessed(String),
    #[error("the resident backend proves with the Blake2s channel only")]
    Channel,
    #[error("proving: {0}")]
    Proving(String),
}

/// The constraint kernels of every IR component, compiled for device `D` (once per process
/// and source: the emulated device caches the library, CUDA compiles with NVRTC).
pub struct AirKernels<D: ResidentDevice> {
    kernels: RowKernels<D>,
}

impl<D: ResidentDevice> AirKernels<D> {
    /// Compiles [`CAIRO_AIR_CUDA`] for `device`, one kernel per component of `air`.
    pub fn load(device: &D, air: &Air) -> Result<Self, KernelError> {
        let names = air
            .components
            .iter()
            .map(|c| format!("air_eval_{}", c.name))
            .collect();
        Ok(Self {
            kernels: RowKernels::load(device, CAIRO_AIR_CUDA, names)?,
        })
    }
}

/// One component instance of a Cairo proof whose constraints are evaluated on the device.
///
/// Everything but the constraint evaluation (mask points, degree bounds, the out-of-domain
/// evaluation) is the `SimdBackend` component's own: the same `Component`, so the proof's
/// transcript cannot differ.
pub struct DeviceComponent<'a, D: ResidentDevice> {
    prover: &'a dyn ComponentProver<SimdBackend>,
    ir: &'a Component,
    instance: &'a Instance,
    kernel: usize,
    kernels: &'a AirKernels<D>,
    /// The kernel's parameter words up to the constraint coefficients (sizes, claim values,
    /// claimed sum, relations), which do not depend on the accumulator.
    head: Vec<u32>,
    /// Index in the preprocessed tree (tree 0) of each IR preprocessed column.
    preprocessed: Vec<usize>,
}

fn qm31_words(v: QM31) -> [u32; 4] {
    v.to_m31_array().map(|m| m.0)
}

/// The device components of a proof: `instances` (from [`crate::extract::instances`], in
/// `CairoComponents` order) paired with `provers` (stwo-cairo's `cairo_provers`, the same
/// order), `relations` the lookup elements as the IR takes them
/// ([`crate::replay::lookup`]), `preprocessed_ids` the preprocessed tree's column ids in
/// commitment order.
pub fn device_components<'a, D: ResidentDevice>(
    air: &'a Air,
    kernels: &'a AirKernels<D>,
    instances: &'a [Instance],
    provers: &[&'a dyn ComponentProver<SimdBackend>],
    relations: &[Lookup],
    preprocessed_ids: &[String],
) -> Result<Vec<DeviceComponent<'a, D>>, ResidentError> {
    if instances.len() != provers.len() {
        return Err(ResidentError::Count {
            instances: instances.len(),
            provers: provers.len(),
        });
    }
    let positions: HashMap<&str, usize> = preprocessed_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    instances
        .iter()
        .zip(provers)
        .map(|(instance, &prover)| {
            let ir = &air.components[instance.component];
            let mismatch = |what: String| ResidentError::Mismatch {
                component: ir.name.clone(),
                what,
            };
            if prover.n_constraints() != ir.constraints.len() {
                return Err(mismatch(format!(
                    "{} constraints in the prover, {} in the IR",
                    prover.n_constraints(),
                    ir.constraints.len()
                )));
            }
            let kernel = kernels
                .kernels
                .index(&format!("air_eval_{}", ir.name))
                .ok_or_else(|| mismatch("no kernel".into()))?;
            let preprocessed = (0..ir.preprocessed.len())
                .map(|i| {
                    let id = ir.preprocessed_id(i, instance.log_size);
                    positions
                        .get(id.as_str())
                        .copied()
                        .ok_or(ResidentError::Preprocessed(id))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if instance.claim_params.len() != ir.claim_params.len() {
                return Err(mismatch(format!(
                    "{} claim values, the IR takes {}",
                    instance.claim_params.len(),
                    ir.claim_params.len()
                )));
            }
            let eval_log = prover.max_constraint_log_degree_bound();
            let mut head = vec![eval_log, instance.log_size];
            head.extend(&instance.claim_params);
            head.extend(qm31_words(instance.claimed_sum));
            if relations.len() != air.relations.len() {
                return Err(mismatch(format!(
                    "{} relations given, the IR has {}",
                    relations.len(),
                    air.relations.len()
                )));
            }
            for (lookup, relation) in relations.iter().zip(&air.relations) {
                if lookup.alpha_powers.len() != relation.size as usize {
                    return Err(mismatch(format!(
                        "{} alpha powers given, the relation has {}",
                        lookup.alpha_powers.len(),
                        relation.size
                    )));
                }
                head.extend(qm31_words(lookup.z));
                for a in &lookup.alpha_powers {
                    head.extend(qm31_words(*a));
                }
            }
            Ok(DeviceComponent {
                prover,
                ir,
                instance,
                kernel,
                kernels,
                head,
                preprocessed,
            })
        })
        .collect()
}

impl<D: ResidentDevice> StwoComponent for DeviceComponent<'_, D> {
    fn n_constraints(&self) -> usize {
        self.prover.n_constraints()
    }

    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.prover.max_constraint_log_degree_bound()
    }

    fn trace_log_degree_bounds(&self) -> TreeVec<ColumnVec<u32>> {
        self.prover.trace_log_degree_bounds()
    }

    fn mask_points(
        &self,
        point: CirclePoint<SecureField>,
        max_log_degree_bound: u32,
    ) -> TreeVec<ColumnVec<Vec<CirclePoint<SecureField>>>> {
        self.prover.mask_points(point, max_log_degree_bound)
    }

    fn preprocessed_column_indices(&self) -> ColumnVec<usize> {
        self.prover.preprocessed_column_indices()
    }

    fn evaluate_constraint_quotients_at_point(
        &self,
        point: CirclePoint<SecureField>,
        mask: &TreeVec<ColumnVec<Vec<SecureField>>>,
        evaluation_accumulator: &mut PointEvaluationAccumulator,
        max_log_degree_bound: u32,
    ) {
        self.prover.evaluate_constraint_quotients_at_point(
            point,
            mask,
            evaluation_accumulator,
            max_log_degree_bound,
        )
    }
}

impl<D: ResidentDevice> ComponentProver<DeviceBackend<D>> for DeviceComponent<'_, D> {
    fn evaluate_constraint_quotients_on_domain(
        &self,
        trace: &Trace<'_, DeviceBackend<D>>,
        evaluation_accumulator: &mut DomainEvaluationAccumulator<DeviceBackend<D>>,
    ) {
        let n = self.ir.constraints.len();
        if n == 0 {
            return;
        }
        let log_expansion = match evaluation_accumulator.evaluation_mode() {
            EvaluationMode::SubDomain { log_expansion } => log_expansion,
            // The columns would first have to be extended to the evaluation domain: not done
            // on the device (the Cairo AIR's components all take the sub-domain path).
            EvaluationMode::ExtendToEvalDomain => {
                return HostComponent::new(self.prover)
                    .evaluate_constraint_quotients_on_domain(trace, evaluation_accumulator)
            }
        };
        let device = resident::device::<D>();
        resident::record(Op::ComponentQuotients, true);
        let _span = tracing::trace_span!("device constraint evaluation", component = %self.ir.name)
            .entered();
        let eval_log = self.prover.max_constraint_log_degree_bound();
        let trace_log = self.instance.log_size;
        let rows = 1usize << eval_log;

        // The component's columns, each the first `rows` values of its committed evaluation
        // (in bit-reversed order those are the sub-domain stwo evaluates on), gathered into
        // one buffer as the kernel reads them: preprocessed (IR order), trace, interaction.
        let mut columns = Vec::with_capacity(self.preprocessed.len());
        for &i in &self.preprocessed {
            columns.push(column(trace, 0, i, &self.ir.name));
        }
        for tree in 1..=2 {
            let first = self.instance.first_column[tree - 1];
            for j in 0..self.ir.columns[tree - 1].len() {
                columns.push(column(trace, tree, first + j, &self.ir.name));
            }
        }
        let mut cols = resident::ok(device.zeros((columns.len() * rows).max(1)));
        for (k, values) in columns.iter().enumerate() {
            if values.len() < rows {
                resident::ok::<()>(Err(KernelError::InvalidInput(format!(
                    "{}: a column of {} values, the evaluation domain has {rows}",
                    self.ir.name,
                    values.len()
                ))));
            }
            resident::ok(device.copy_range(values.buffer(), 0, &mut cols, k * rows, rows));
        }

        // The sub-domain stwo evaluates on, and the vanishing inverses on it (as
        // stwo-constraint-framework's `get_constraint_quotient_inputs`).
        let committed = CanonicCoset::new(eval_log + log_expansion).circle_domain();
        let eval_domain = committed.split(log_expansion).0;
        let trace_coset = CanonicCoset::new(trace_log).coset();
        let mut denom_inv: Vec<BaseField> = (0..1 << (eval_log - trace_log))
            .map(|i| coset_vanishing(trace_coset, eval_domain.at(i)).inverse())
            .collect();
        bit_reverse(&mut denom_inv);

        let [accum] = evaluation_accumulator.columns([(eval_log, n)]);
        let mut params = self.head.clone();
        // Constraint i gets the accumulator's powers reversed, as the framework hands them.
        for power in accum.random_coeff_powers.iter().rev() {
            params.extend(qm31_words(*power));
        }
        params.extend(denom_inv.iter().map(|d| d.0));
        let params_buffer = resident::ok(resident::with_crossing(
            resident::Crossing::LaunchParameters,
            || device.upload(&params),
        ));

        let mut sum = resident::ok(device.zeros(4 * rows));
        for (k, coordinate) in accum.col.columns.iter().enumerate() {
            resident::ok(device.copy_range(coordinate.buffer(), 0, &mut sum, k * rows, rows));
        }
        let launch = RowLaunch {
            rows: rows as u32,
            cols_words: columns.len() * rows,
            params_words: params.len(),
        };
        resident::ok(self.kernels.kernels.launch(
            device,
            self.kernel,
            launch,
            &cols,
            &params_buffer,
            &mut sum,
        ));
        for (k, coordinate) in accum.col.columns.iter_mut().enumerate() {
            resident::ok(device.copy_range(&sum, k * rows, coordinate.buffer_mut(), 0, rows));
        }
    }
}

/// Column `index` of tree `tree`'s committed evaluation.
fn column<'t, D: ResidentDevice>(
    trace: &'t Trace<'_, DeviceBackend<D>>,
    tree: usize,
    index: usize,
    name: &str,
) -> &'t resident::DeviceColumn<D, BaseField> {
    match trace.polys.get(tree).and_then(|t| t.get(index)) {
        Some(poly) => &poly.evals.values,
        None => resident::ok(Err(KernelError::InvalidInput(format!(
            "{name}: no column {index} in tree {tree}"
        )))),
    }
}

/// What stays warm on the device between proofs: twiddles, the column pool, and the
/// preprocessed trace's device copy, interpolated and committed on the device — valid for one
/// preprocessed-trace variant and one commitment shape (blowup, lifting size), as the prover's
/// `SimdBackend` precompute (`starfarm_prover::prover::Precompute`).
pub struct DevicePrecompute<D: ResidentDevice> {
    pub variant: PreProcessedTraceVariant,
    log_blowup: u32,
    lifting_log_size: Option<u32>,
    twiddles: TwiddleTree<DeviceBackend<D>>,
    pool: BaseColumnPool<DeviceBackend<D>>,
    trace: Arc<PreProcessedTrace>,
    tree: CommitmentTreeProver<DeviceBackend<D>, Blake2sMerkleChannel>,
}

impl<D: ResidentDevice> DevicePrecompute<D> {
    /// Twiddles sized to the variant's largest column plus the blowup (as the prover's
    /// precompute, not stwo-cairo's 2^30 maximum); the preprocessed trace's evaluations
    /// generated on the host and uploaded once, interpolated and committed on the device.
    /// A device error unwinds with `DeviceFault` (see [`prove_cairo`]).
    pub fn new(
        variant: PreProcessedTraceVariant,
        config: &PcsConfig,
    ) -> Result<Self, ResidentError> {
        let log_blowup = config.fri_config.log_blowup_factor;
        let twiddles = DeviceBackend::<D>::precompute_twiddles(
            CanonicCoset::new(variant.max_log_trace_size() + log_blowup)
                .circle_domain()
                .half_coset,
        );
        let trace = Arc::new(variant.to_preprocessed_trace());
        let polys = DeviceBackend::<D>::interpolate_columns(
            upload::<D>(gen_trace(trace.clone()))?,
            &twiddles,
        );
        let pool = BaseColumnPool::<DeviceBackend<D>>::new();
        let tree = CommitmentTreeProver::<DeviceBackend<D>, Blake2sMerkleChannel>::new(
            polys,
            log_blowup,
            &twiddles,
            true, // coefficients stored, as the prover's precompute does
            config.lifting_log_size,
            &pool,
        );
        Ok(Self {
            variant,
            log_blowup,
            lifting_log_size: config.lifting_log_size,
            twiddles,
            pool,
            trace,
            tree,
        })
    }

    /// Whether this precompute proves `variant` with `config`.
    pub fn serves(&self, variant: PreProcessedTraceVariant, config: &PcsConfig) -> bool {
        self.variant == variant
            && self.log_blowup == config.fri_config.log_blowup_factor
            && self.lifting_log_size == config.lifting_log_size
    }
}

/// [`prove_cairo_with_precompute`] with a precompute built for this proof alone.
pub fn prove_cairo<D: ResidentDevice>(
    air: &Air,
    kernels: &AirKernels<D>,
    input: stwo_cairo_adapter::ProverInput,
    params: ProverParameters,
) -> Result<CairoProof<Blake2sMerkleHasher>, ResidentError> {
    if !matches!(params.channel_hash, ChannelHash::Blake2s) {
        return Err(ResidentError::Channel);
    }
    let warm = DevicePrecompute::<D>::new(params.preprocessed_trace, &params.pcs_config)?;
    prove_cairo_with_precompute(air, kernels, &warm, input, params)
}

/// stwo-cairo 1.3's `prove_cairo_with_precompute` on the resident backend: the preprocessed
/// tree of `warm` (see [`DevicePrecompute`]), the base and interaction traces written by
/// stwo-cairo's witness generation on `SimdBackend` and uploaded once each, the interaction
/// proof of work ground on the device, [`DeviceComponent`]s for every component instance, and
/// Stwo's own `prove_ex` over `DeviceBackend<D>`. The proof is the one `SimdBackend` makes
/// with `params`, byte for byte (`air/tests/resident_proof.rs`).
///
/// Blake2s channel only (the device's Merkle and grinding kernels hash with Blake2s). A
/// device error unwinds with `starfarm_kernels::resident::DeviceFault`: run this inside
/// `catch_device_faults` or `prove_with_fallback` (or through [`ResidentProver`]).
pub fn prove_cairo_with_precompute<D: ResidentDevice>(
    air: &Air,
    kernels: &AirKernels<D>,
    warm: &DevicePrecompute<D>,
    input: stwo_cairo_adapter::ProverInput,
    params: ProverParameters,
) -> Result<CairoProof<Blake2sMerkleHasher>, ResidentError> {
    if !matches!(params.channel_hash, ChannelHash::Blake2s) {
        return Err(ResidentError::Channel);
    }
    let config = params.pcs_config;
    let variant = params.preprocessed_trace;
    if !warm.serves(variant, &config) {
        return Err(ResidentError::Proving(format!(
            "the device precompute is for {:?}, blowup 2^{}, the proof needs {variant:?}, blowup 2^{}",
            warm.variant, warm.log_blowup, config.fri_config.log_blowup_factor
        )));
    }
    let preprocessed = warm.trace.clone();

    let channel = &mut Blake2sChannel::default();
    channel.mix_felts(&[params.channel_salt.into()]);
    config.mix_into(channel);
    let mut scheme =
        CommitmentSchemeProver::<DeviceBackend<D>, Blake2sMerkleChannel>::with_memory_pool(
            config,
            &warm.twiddles,
            &warm.pool,
        );
    if params.store_polynomials_coefficients {
        scheme.set_store_polynomials_coefficients();
    }
    scheme.commit_tree(MaybeOwned::Borrowed(&warm.tree), channel);

    let generator = create_cairo_claim_generator(input, preprocessed.clone());
    let (trace, claim, interaction_generator) = generator.write_trace();
    claim.mix_into::<Blake2sMerkleChannel>(channel);
    let mut builder = scheme.tree_builder();
    builder.extend_evals(upload::<D>(trace)?);
    builder.commit(channel);

    let interaction_pow = DeviceBackend::<D>::grind(channel, INTERACTION_POW_BITS);
    channel.mix_u64(interaction_pow);
    let elements = CommonLookupElements::draw(channel);
    let (interaction, interaction_claim) = interaction_generator.write_interaction_trace(&elements);
    interaction_claim.mix_into(channel);
    let mut builder = scheme.tree_builder();
    builder.extend_evals(upload::<D>(interaction)?);
    builder.commit(channel);

    let components =
        CairoComponents::new(&claim, &elements, &interaction_claim, &preprocessed.ids());
    let instances = crate::extract::instances(air, &components)
        .map_err(|e| ResidentError::Proving(e.to_string()))?;
    let provers = cairo_provers(&components);
    let relations = air
        .relations
        .iter()
        .map(|r| crate::replay::lookup(&elements, r.size as usize))
        .collect::<Vec<_>>();
    let ids: Vec<String> = preprocessed.ids().into_iter().map(|id| id.id).collect();
    let on_device = device_components(air, kernels, &instances, &provers, &relations, &ids)?;
    let refs: Vec<&dyn ComponentProver<DeviceBackend<D>>> = on_device
        .iter()
        .map(|c| c as &dyn ComponentProver<DeviceBackend<D>>)
        .collect();
    // The backend gathers each column's queried rows in one launch once the queries are
    // known (`resident::prefetch_decommitment`), instead of Stwo's one read per value.
    let _prefetch =
        resident::prefetch_decommitment(config.fri_config.n_queries, config.fri_config.fold_step);
    let proof = prove_ex::<DeviceBackend<D>, Blake2sMerkleChannel>(
        &refs,
        channel,
        scheme,
        params.include_all_preprocessed_columns,
    )
    .map_err(|e| ResidentError::Proving(e.to_string()))?;
    Ok(CairoProof {
        claim,
        interaction_pow,
        interaction_claim,
        extended_stark_proof: proof,
        channel_salt: params.channel_salt,
        preprocessed_trace_variant: variant,
    })
}

/// Host evaluations (witness generation's output) as device columns: one upload each.
fn upload<D: ResidentDevice>(
    columns: Vec<CircleEvaluation<SimdBackend, BaseField, BitReversedOrder>>,
) -> Result<Vec<CircleEvaluation<DeviceBackend<D>, BaseField, BitReversedOrder>>, ResidentError> {
    columns
        .into_iter()
        .map(|c| {
            let values = resident::DeviceColumn::from_host(&c.values.to_cpu())?;
            Ok(CircleEvaluation::new(c.domain, values))
        })
        .collect()
}

/// The resident flow as the prover's CUDA path: implements the kernels' `ProveFlow` with
/// stwo-cairo's types (the prover's `ResidentFlow`; the prover does not import this crate,
/// nor this crate the prover: the binary injects it), with the AIR and its kernels loaded once and a [`DevicePrecompute`]
/// kept warm between proofs of the same variant and commitment shape. A device fault drops the
/// warm precompute (its buffers may be half-written) and is reported, never a proof.
pub struct ResidentProver<D: ResidentDevice> {
    air: Air,
    kernels: AirKernels<D>,
    warm: Option<DevicePrecompute<D>>,
    stats: FlowStats,
}

impl<D: ResidentDevice> ResidentProver<D> {
    /// Opens device `D`, extracts the AIR and compiles its constraint kernels (the emulated
    /// device: ~7 s the first time on a machine, then cached; CUDA: NVRTC).
    pub fn new() -> Result<Self, ResidentError> {
        let device = D::instance()?;
        let air = crate::extract().map_err(|e| ResidentError::Proving(e.to_string()))?;
        let kernels = AirKernels::load(device, &air)?;
        Ok(Self {
            air,
            kernels,
            warm: None,
            stats: FlowStats::default(),
        })
    }

    fn prove_on_device(
        &mut self,
        input: stwo_cairo_adapter::ProverInput,
        params: ProverParameters,
    ) -> Result<CairoProof<Blake2sMerkleHasher>, ResidentError> {
        let config = params.pcs_config;
        let variant = params.preprocessed_trace;
        if !self
            .warm
            .as_ref()
            .is_some_and(|w| w.serves(variant, &config))
        {
            self.warm = None; // free the old device copy before building the next one
            self.warm = Some(DevicePrecompute::new(variant, &config)?);
            self.stats.warm_builds += 1;
        }
        let Some(warm) = self.warm.as_ref() else {
            return Err(ResidentError::Proving("no device precompute".into()));
        };
        prove_cairo_with_precompute(&self.air, &self.kernels, warm, input, params)
    }
}

/// Backend operations run on the device so far in this process.
fn device_ops() -> u64 {
    resident::op_counts().iter().map(|(_, c)| c.device).sum()
}

impl<D: ResidentDevice>
    ProveFlow<stwo_cairo_adapter::ProverInput, ProverParameters, CairoProof<Blake2sMerkleHasher>>
    for ResidentProver<D>
{
    fn device(&self) -> &'static str {
        D::NAME
    }

    fn device_memory(&self) -> u64 {
        D::instance().map_or(0, |device| device.budget().total)
    }

    fn prove(
        &mut self,
        input: stwo_cairo_adapter::ProverInput,
        params: ProverParameters,
    ) -> Result<FlowProof<CairoProof<Blake2sMerkleHasher>>, FlowFailure> {
        if !matches!(params.channel_hash, ChannelHash::Blake2s) {
            return Err(FlowFailure::Unsupported(ResidentError::Channel.to_string()));
        }
        let before = device_ops();
        let proved = resident::catch_device_faults(|| self.prove_on_device(input, params));
        let failure = match proved {
            Ok(Ok(proof)) => {
                self.stats.proofs += 1;
                return Ok(FlowProof {
                    proof,
                    device_calls: device_ops().saturating_sub(before),
                });
            }
            Ok(Err(ResidentError::Kernel(e))) | Err(e) => FlowFailure::Fault(e.to_string()),
            Ok(Err(other)) => FlowFailure::Unsupported(other.to_string()),
        };
        if matches!(failure, FlowFailure::Fault(_)) {
            self.stats.faults += 1;
            self.warm = None;
        }
        Err(failure)
    }

    fn stats(&self) -> FlowStats {
        self.stats
    }
}
