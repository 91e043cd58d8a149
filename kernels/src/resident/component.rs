//! [`HostComponent`]: a `SimdBackend` component prover (e.g. a constraint-framework
//! `FrameworkComponent`, or the Cairo AIR's components) used as a component of the resident
//! backend, its constraints evaluated on the host. The device-side constraint evaluation (the
//! AIR compiler's CUDA output) replaces it in a later step.

use num_traits::{One, Zero};
use stwo::core::air::accumulation::PointEvaluationAccumulator;
use stwo::core::air::Component;
use stwo::core::circle::CirclePoint;
use stwo::core::fields::qm31::SecureField;
use stwo::core::fields::FieldExpOps;
use stwo::core::pcs::TreeVec;
use stwo::core::ColumnVec;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::secure_column::SecureColumnByCoords;
use stwo::prover::{ComponentProver, DomainEvaluationAccumulator, Poly, Trace};

use super::convert::{coeffs_to_simd, coords_from_simd, coords_to_simd, eval_to_simd};
use super::{record, DeviceBackend, Op, ResidentDevice};

/// Wraps a `ComponentProver<SimdBackend>` as a `ComponentProver<DeviceBackend<D>>`.
///
/// How: the component's quotients are accumulated on the host into a `SimdBackend`
/// accumulator whose random coefficient is the device accumulator's `α` and whose powers start
/// at `α⁰`; the device accumulator's powers for the component are `α^k … α^(k+n−1)`, so the
/// component's share is `α^k` times the host result, exactly (field arithmetic), and is added
/// to the device accumulator at the sizes the component wrote. Byte-identical to
/// `SimdBackend`'s composition polynomial; costs a download of the trace per component, or
/// one per proof with a shared [`HostTrace`] ([`HostComponent::with_trace`]).
pub struct HostComponent<'a>(
    pub &'a dyn ComponentProver<SimdBackend>,
    pub Option<&'a HostTrace>,
);

impl<'a> HostComponent<'a> {
    /// Downloads the trace on its own, each time it evaluates.
    pub fn new(component: &'a dyn ComponentProver<SimdBackend>) -> Self {
        Self(component, None)
    }

    /// Shares `trace`'s download with the other components of the proof that use it.
    pub fn with_trace(
        component: &'a dyn ComponentProver<SimdBackend>,
        trace: &'a HostTrace,
    ) -> Self {
        Self(component, Some(trace))
    }
}

type HostPolys = Vec<Vec<Poly<SimdBackend>>>;

/// The trace of one proof, downloaded once for all its [`HostComponent`]s (stwo-cairo has
/// dozens of components, each of which would otherwise download the whole trace). One per
/// proof: it is keyed by the addresses of the trace's polynomials, which a later proof may
/// reuse.
#[derive(Default)]
pub struct HostTrace {
    cached: std::sync::Mutex<Option<(Vec<usize>, std::sync::Arc<HostPolys>)>>,
}

impl HostTrace {
    fn get<D: ResidentDevice>(
        &self,
        trace: &Trace<'_, DeviceBackend<D>>,
    ) -> std::sync::Arc<HostPolys> {
        let key: Vec<usize> = trace
            .polys
            .iter()
            .flat_map(|tree| tree.iter().map(|p| *p as *const _ as usize))
            .collect();
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        match &*cached {
            Some((k, polys)) if *k == key => polys.clone(),
            _ => {
                let polys = std::sync::Arc::new(download(trace));
                *cached = Some((key, polys.clone()));
                polys
            }
        }
    }
}

fn download<D: ResidentDevice>(trace: &Trace<'_, DeviceBackend<D>>) -> HostPolys {
    super::with_crossing(super::Crossing::HostFallback, || download_all(trace))
}

fn download_all<D: ResidentDevice>(trace: &Trace<'_, DeviceBackend<D>>) -> HostPolys {
    trace
        .polys
        .iter()
        .map(|tree| {
            tree.iter()
                .map(|p| {
                    Poly::new(
                        p.coeffs.as_ref().map(coeffs_to_simd),
                        eval_to_simd(&p.evals),
                    )
                })
                .collect()
        })
        .collect()
}

impl Component for HostComponent<'_> {
    fn n_constraints(&self) -> usize {
        self.0.n_constraints()
    }

    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.0.max_constraint_log_degree_bound()
    }

    fn trace_log_degree_bounds(&self) -> TreeVec<ColumnVec<u32>> {
        self.0.trace_log_degree_bounds()
    }

    fn mask_points(
        &self,
        point: CirclePoint<SecureField>,
        max_log_degree_bound: u32,
    ) -> TreeVec<ColumnVec<Vec<CirclePoint<SecureField>>>> {
        self.0.mask_points(point, max_log_degree_bound)
    }

    fn preprocessed_column_indices(&self) -> ColumnVec<usize> {
        self.0.preprocessed_column_indices()
    }

    fn evaluate_constraint_quotients_at_point(
        &self,
        point: CirclePoint<SecureField>,
        mask: &TreeVec<ColumnVec<Vec<SecureField>>>,
        evaluation_accumulator: &mut PointEvaluationAccumulator,
        max_log_degree_bound: u32,
    ) {
        self.0.evaluate_constraint_quotients_at_point(
            point,
            mask,
            evaluation_accumulator,
            max_log_degree_bound,
        )
    }
}

impl<D: ResidentDevice> ComponentProver<DeviceBackend<D>> for HostComponent<'_> {
    fn evaluate_constraint_quotients_on_domain(
        &self,
        trace: &Trace<'_, DeviceBackend<D>>,
        evaluation_accumulator: &mut DomainEvaluationAccumulator<DeviceBackend<D>>,
    ) {
        let n = self.0.n_constraints();
        if n == 0 {
            return;
        }
        record(Op::ComponentQuotients, false);
        let _span =
            tracing::trace_span!("resident host fallback", op = ?Op::ComponentQuotients).entered();
        let max_log_size = evaluation_accumulator.log_size();
        let mode = evaluation_accumulator.evaluation_mode();
        // Takes this component's powers (α^k … α^(k+n−1)) off the device accumulator, at the
        // size a constraint-framework component evaluates on.
        let powers = {
            let [taken] =
                evaluation_accumulator.columns([(self.0.max_constraint_log_degree_bound(), n)]);
            taken.random_coeff_powers
        };
        let scale = powers[0];
        if scale.is_zero() {
            // α = 0: every power is 0, the component adds nothing.
            return;
        }
        let alpha = if n >= 2 {
            powers[1] * scale.inverse()
        } else {
            SecureField::one()
        };

        let owned = match self.1 {
            Some(shared) => shared.get(trace),
            None => std::sync::Arc::new(download(trace)),
        };
        let simd_trace = Trace {
            polys: TreeVec::new(owned.iter().map(|t| t.iter().collect()).collect()),
        };
        let mut host_acc =
            DomainEvaluationAccumulator::<SimdBackend>::new(alpha, max_log_size, n, mode);
        self.0
            .evaluate_constraint_quotients_on_domain(&simd_trace, &mut host_acc);

        for log_size in 0..=max_log_size {
            // Asking for no coefficients only reads (or creates, as zeros) the host column.
            let [host_col] = host_acc.columns([(log_size, 0)]);
            let values = host_col.col.to_vec();
            if values.iter().all(|v| v.is_zero()) {
                continue;
            }
            let [device_col] = evaluation_accumulator.columns([(log_size, 0)]);
            let current = coords_to_simd(device_col.col).to_vec();
            let sum: SecureColumnByCoords<SimdBackend> = current
                .iter()
                .zip(&values)
                .map(|(&acc, &v)| acc + scale * v)
                .collect();
            *device_col.col = coords_from_simd(&sum);
        }
    }
}
