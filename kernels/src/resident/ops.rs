//! Stwo's backend traits for [`DeviceBackend`]: device kernels where the kernels exist, the
//! counted host fallbacks (through `SimdBackend`) elsewhere. Every operation records where it
//! ran ([`record`]).

use std::borrow::Cow;

use stwo::core::channel::Blake2sChannel;
use stwo::core::circle::{CirclePoint, Coset};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::{SecureField, SECURE_EXTENSION_DEGREE};
use stwo::core::pcs::quotients::{quotient_constants, ColumnSampleBatch};
use stwo::core::poly::circle::{CanonicCoset, CircleDomain};
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::core::vcs_lifted::verifier::PACKED_LEAF_SIZE;
use stwo::prover::backend::cpu::CpuBackend;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::{Backend, BackendForChannel, Col, Column, ColumnOps};
use stwo::prover::fri::FriOps;
use stwo::prover::line::LineEvaluation;
use stwo::prover::lookups::gkr_prover::{EqEvals, GkrMultivariatePolyOracle, GkrOps, Layer};
use stwo::prover::lookups::mle::{Mle, MleOps};
use stwo::prover::lookups::utils::UnivariatePoly;
use stwo::prover::pcs::quotient_ops::AccumulatedNumerators;
use stwo::prover::poly::circle::{CircleCoefficients, CircleEvaluation, PolyOps, SecureEvaluation};
use stwo::prover::poly::twiddles::{TwiddleBuffer, TwiddleTree};
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::secure_column::SecureColumnByCoords;
use stwo::prover::vcs_lifted::ops::{MerkleOpsLifted, PackLeavesOps};
use stwo::prover::{AccumulationOps, QuotientOps};

use super::column::{DeviceColumn, DeviceElement};
use super::convert::*;
use super::twiddles::DeviceTwiddles;
use super::{
    device, fault, kernels, ok, record, with_crossing, Crossing, DeviceBackend, Op, ResidentDevice,
};
use crate::error::{KernelError, Result};

type B<D> = DeviceBackend<D>;

/// A device operation's outcome: `Some` when it ran; `None` when its input is outside what the
/// kernels handle (tiny domains, too few twiddles, over the memory budget), so the caller runs
/// the host fallback; a device error unwinds ([`fault`]).
fn on_device<T>(op: Op, r: Result<T>) -> Option<T> {
    match r {
        Ok(value) => {
            record(op, true);
            Some(value)
        }
        Err(KernelError::InvalidInput(_) | KernelError::OutOfMemory(_)) => None,
        Err(e) => fault(e),
    }
}

fn host<T>(op: Op, f: impl FnOnce() -> T) -> T {
    record(op, false);
    let _span = tracing::trace_span!("resident host fallback", op = ?op).entered();
    with_crossing(Crossing::HostFallback, f)
}

fn bit_reverse<D: ResidentDevice, T: DeviceElement>(column: &mut DeviceColumn<D, T>) {
    host(Op::BitReverse, || {
        let mut values = ok(column.to_host());
        stwo::core::utils::bit_reverse(&mut values);
        *column = ok(DeviceColumn::from_host(&values));
    })
}

impl<D: ResidentDevice> ColumnOps<BaseField> for B<D> {
    type Column = DeviceColumn<D, BaseField>;
    fn bit_reverse_column(column: &mut Self::Column) {
        bit_reverse(column)
    }
}

impl<D: ResidentDevice> ColumnOps<SecureField> for B<D> {
    type Column = DeviceColumn<D, SecureField>;
    fn bit_reverse_column(column: &mut Self::Column) {
        bit_reverse(column)
    }
}

impl<D: ResidentDevice> ColumnOps<Blake2sHash> for B<D> {
    type Column = DeviceColumn<D, Blake2sHash>;
    fn bit_reverse_column(column: &mut Self::Column) {
        bit_reverse(column)
    }
}

fn evaluate_on_device<D: ResidentDevice>(
    poly: &CircleCoefficients<B<D>>,
    domain: CircleDomain,
    twiddles: &TwiddleTree<B<D>>,
) -> Result<CircleEvaluation<B<D>, BaseField, BitReversedOrder>> {
    let layers = super::twiddles::evaluate_layers(domain, &twiddles.twiddles.cpu)?;
    let n = poly.coeffs.len();
    if !n.is_power_of_two() || n > domain.size() {
        return Err(KernelError::InvalidInput(format!(
            "{n} coefficients on 2^{} points",
            domain.log_size()
        )));
    }
    let dev = D::instance()?;
    // Coefficients in natural order, zero-padded to the domain.
    let mut values = DeviceColumn::<D, BaseField>::try_zeros(domain.size())?;
    dev.copy_range(poly.coeffs.buffer(), 0, values.buffer_mut(), 0, n)?;
    let resident = twiddles.twiddles.on_device(dev)?;
    kernels::fft_in_place(dev, values.buffer_mut(), domain.size(), &layers, &resident)?;
    Ok(CircleEvaluation::new(domain, values))
}

impl<D: ResidentDevice> PolyOps for B<D> {
    type Twiddles = DeviceTwiddles<D>;

    fn interpolate(
        eval: CircleEvaluation<Self, BaseField, BitReversedOrder>,
        itwiddles: &TwiddleTree<Self>,
    ) -> CircleCoefficients<Self> {
        let domain = eval.domain;
        if let Ok(layers) = super::twiddles::interpolate_layers(domain, &itwiddles.itwiddles.cpu) {
            // In place: the evaluation is ours.
            let mut values = eval.values;
            let dev = device::<D>();
            let ran = itwiddles.itwiddles.on_device(dev).and_then(|resident| {
                kernels::fft_in_place(dev, values.buffer_mut(), domain.size(), &layers, &resident)
            });
            if on_device(Op::Interpolate, ran).is_some() {
                return CircleCoefficients::new(values);
            }
            let eval = CircleEvaluation::<Self, BaseField, BitReversedOrder>::new(domain, values);
            return host(Op::Interpolate, || {
                coeffs_from_simd(&SimdBackend::interpolate(
                    eval_to_simd(&eval),
                    &tree_to_simd(itwiddles),
                ))
            });
        }
        host(Op::Interpolate, || {
            coeffs_from_simd(&SimdBackend::interpolate(
                eval_to_simd(&eval),
                &tree_to_simd(itwiddles),
            ))
        })
    }

    fn eval_at_point(
        poly: &CircleCoefficients<Self>,
        point: CirclePoint<SecureField>,
    ) -> SecureField {
        // Out-of-domain sampling: the value is computed from the resident coefficients and
        // only it comes back (see `kernels::eval_at_point`).
        if let Some(value) = on_device(Op::EvalAtPoint, kernels::eval_at_point(&poly.coeffs, point))
        {
            return value;
        }
        host(Op::EvalAtPoint, || {
            SimdBackend::eval_at_point(&coeffs_to_simd(poly), point)
        })
    }

    fn barycentric_weights(
        coset: CanonicCoset,
        p: CirclePoint<SecureField>,
    ) -> Col<Self, SecureField> {
        host(Op::BarycentricWeights, || {
            col_from_simd(&SimdBackend::barycentric_weights(coset, p))
        })
    }

    fn barycentric_eval_at_point(
        evals: &CircleEvaluation<Self, BaseField, BitReversedOrder>,
        weights: &Col<Self, SecureField>,
    ) -> SecureField {
        let sum = kernels::weighted_sum(&evals.values, weights);
        if let Some(value) = on_device(Op::BarycentricEval, sum) {
            return value;
        }
        host(Op::BarycentricEval, || {
            SimdBackend::barycentric_eval_at_point(&eval_to_simd(evals), &col_to_simd(weights))
        })
    }

    fn eval_at_point_by_folding(
        evals: &CircleEvaluation<Self, BaseField, BitReversedOrder>,
        point: CirclePoint<SecureField>,
        twiddles: &TwiddleTree<Self>,
    ) -> SecureField {
        host(Op::EvalByFolding, || {
            SimdBackend::eval_at_point_by_folding(
                &eval_to_simd(evals),
                point,
                &tree_to_simd(twiddles),
            )
        })
    }

    fn extend(poly: &CircleCoefficients<Self>, log_size: u32) -> CircleCoefficients<Self> {
        let n = poly.coeffs.len();
        let extended = (|| -> Result<_> {
            if log_size >= usize::BITS || n > 1 << log_size {
                return Err(KernelError::InvalidInput(format!(
                    "cannot extend {n} coefficients to 2^{log_size}"
                )));
            }
            // Natural order: extending pads with zero coefficients.
            let mut coeffs = DeviceColumn::<D, BaseField>::try_zeros(1 << log_size)?;
            D::instance()?.copy_range(poly.coeffs.buffer(), 0, coeffs.buffer_mut(), 0, n)?;
            Ok(CircleCoefficients::new(coeffs))
        })();
        on_device(Op::Extend, extended).unwrap_or_else(|| {
            host(Op::Extend, || {
                coeffs_from_simd(&SimdBackend::extend(&coeffs_to_simd(poly), log_size))
            })
        })
    }

    fn evaluate(
        poly: &CircleCoefficients<Self>,
        domain: CircleDomain,
        twiddles: &TwiddleTree<Self>,
    ) -> CircleEvaluation<Self, BaseField, BitReversedOrder> {
        on_device(Op::Evaluate, evaluate_on_device(poly, domain, twiddles)).unwrap_or_else(|| {
            host(Op::Evaluate, || {
                eval_from_simd(&SimdBackend::evaluate(
                    &coeffs_to_simd(poly),
                    domain,
                    &tree_to_simd(twiddles),
                ))
            })
        })
    }

    /// Evaluates into a fresh buffer (`buffer` is dropped): the device FFT writes the padded
    /// coefficients first, so the pool's buffer saves nothing yet.
    fn evaluate_into(
        poly: &CircleCoefficients<Self>,
        domain: CircleDomain,
        twiddles: &TwiddleTree<Self>,
        _buffer: Col<Self, BaseField>,
    ) -> CircleEvaluation<Self, BaseField, BitReversedOrder> {
        Self::evaluate(poly, domain, twiddles)
    }

    fn precompute_twiddles(coset: Coset) -> TwiddleTree<Self> {
        host(Op::PrecomputeTwiddles, || {
            let cpu = CpuBackend::precompute_twiddles(coset);
            let simd = SimdBackend::precompute_twiddles(coset);
            TwiddleTree {
                root_coset: coset,
                twiddles: DeviceTwiddles::new(cpu.twiddles, simd.twiddles),
                itwiddles: DeviceTwiddles::new(cpu.itwiddles, simd.itwiddles),
            }
        })
    }

    fn split_at_mid(
        poly: CircleCoefficients<Self>,
    ) -> (CircleCoefficients<Self>, CircleCoefficients<Self>) {
        // Natural order: the halves of the coefficient vector (see Stwo's doc of the trait).
        record(Op::SplitAtMid, true);
        let (left, right) = poly.coeffs.split_at_mid();
        (
            CircleCoefficients::new(left),
            CircleCoefficients::new(right),
        )
    }
}

impl<D: ResidentDevice> QuotientOps for B<D> {
    fn accumulate_numerators(
        columns: &[&CircleEvaluation<Self, BaseField, BitReversedOrder>],
        sample_batches: &[ColumnSampleBatch],
        accumulated_numerators_vec: &mut Vec<AccumulatedNumerators<Self>>,
        log_blowup_factor: u32,
    ) {
        let on_dev = (|| -> Result<Vec<AccumulatedNumerators<Self>>> {
            let domain = columns
                .first()
                .ok_or_else(|| KernelError::InvalidInput("no numerator columns".into()))?
                .domain;
            if log_blowup_factor > domain.log_size() {
                return Err(KernelError::InvalidInput(format!(
                    "blowup 2^{log_blowup_factor} over 2^{} points",
                    domain.log_size()
                )));
            }
            let n = domain.size() >> log_blowup_factor;
            let cols: Vec<&DeviceColumn<D, BaseField>> =
                columns.iter().map(|c| &c.values).collect();
            let constants = quotient_constants(sample_batches);
            sample_batches
                .iter()
                .zip(constants.line_coeffs)
                .map(|(batch, coeffs)| {
                    let columns = kernels::accumulate_numerators(&cols, batch, &coeffs, n)?;
                    Ok(AccumulatedNumerators {
                        sample_point: batch.point,
                        partial_numerators_acc: SecureColumnByCoords { columns },
                        first_linear_term_acc: coeffs.iter().map(|(a, ..)| *a).sum(),
                    })
                })
                .collect()
        })();
        if let Some(accs) = on_device(Op::AccumulateNumerators, on_dev) {
            accumulated_numerators_vec.extend(accs);
            return;
        }
        host(Op::AccumulateNumerators, || {
            let simd: Vec<_> = columns.iter().map(|c| eval_to_simd(c)).collect();
            let refs: Vec<_> = simd.iter().collect();
            let mut out = Vec::new();
            SimdBackend::accumulate_numerators(&refs, sample_batches, &mut out, log_blowup_factor);
            accumulated_numerators_vec.extend(out.into_iter().map(|a| AccumulatedNumerators {
                sample_point: a.sample_point,
                partial_numerators_acc: coords_from_simd(&a.partial_numerators_acc),
                first_linear_term_acc: a.first_linear_term_acc,
            }));
        })
    }

    fn compute_quotients_and_combine(
        accs: Vec<AccumulatedNumerators<Self>>,
        lifting_log_size: u32,
        log_blowup_factor: u32,
        twiddles: &TwiddleTree<Self>,
    ) -> SecureEvaluation<Self, BitReversedOrder> {
        // The FRI first layer's domain: the next grind's queries are drawn on it.
        super::decommit::note_lifting_log_size(lifting_log_size);
        let combined = (|| -> Result<SecureEvaluation<Self, BitReversedOrder>> {
            if log_blowup_factor >= lifting_log_size {
                return Err(KernelError::InvalidInput(format!(
                    "blowup 2^{log_blowup_factor} over 2^{lifting_log_size} points"
                )));
            }
            let eval_domain = CanonicCoset::new(lifting_log_size).circle_domain();
            let (subdomain, _) = eval_domain.split(log_blowup_factor);
            let numerators: Vec<kernels::Numerator<'_, D>> = accs
                .iter()
                .map(|a| kernels::Numerator {
                    point: a.sample_point,
                    first_linear_term: a.first_linear_term_acc,
                    coords: a.partial_numerators_acc.columns.each_ref(),
                })
                .collect();
            let quotients = kernels::combine_quotients(&numerators, subdomain)?;
            // Then SimdBackend's extension of the quotients to the evaluation domain, on the
            // device FFT (each call counted under its own operation).
            let subdomain_twiddles = TwiddleTree {
                root_coset: subdomain.half_coset,
                twiddles: DeviceTwiddles::empty(),
                itwiddles: twiddles
                    .itwiddles
                    .extract_subdomain_twiddles(eval_domain.log_size(), subdomain.log_size()),
            };
            let columns = quotients.map(|values| {
                let poly = Self::interpolate(
                    CircleEvaluation::new(subdomain, values),
                    &subdomain_twiddles,
                );
                Self::evaluate(&poly, eval_domain, twiddles).values
            });
            Ok(SecureEvaluation::new(
                eval_domain,
                SecureColumnByCoords { columns },
            ))
        })();
        if let Some(evaluation) = on_device(Op::CombineQuotients, combined) {
            return evaluation;
        }
        host(Op::CombineQuotients, || {
            let accs = accs
                .into_iter()
                .map(|a| AccumulatedNumerators {
                    sample_point: a.sample_point,
                    partial_numerators_acc: coords_to_simd(&a.partial_numerators_acc),
                    first_linear_term_acc: a.first_linear_term_acc,
                })
                .collect();
            secure_eval_from_simd(&SimdBackend::compute_quotients_and_combine(
                accs,
                lifting_log_size,
                log_blowup_factor,
                &tree_to_simd(twiddles),
            ))
        })
    }
}

/// Folds on the device with the tree's resident inverse twiddles: pass `i` with `alpha^(2^i)`
/// and the twiddles at `passes[i]` (offset, length).
fn fold_on_device<D: ResidentDevice>(
    values: &SecureColumnByCoords<B<D>>,
    n: usize,
    alpha: SecureField,
    twiddles: &TwiddleTree<B<D>>,
    passes: Result<Vec<(usize, usize)>>,
) -> Result<SecureColumnByCoords<B<D>>> {
    let passes = passes?;
    let dev = D::instance()?;
    let mut alphas = Vec::with_capacity(passes.len());
    let mut folding_alpha = alpha;
    for _ in &passes {
        alphas.push(folding_alpha);
        folding_alpha = folding_alpha * folding_alpha;
    }
    let resident = twiddles.itwiddles.on_device(dev)?;
    let [a, b, c, d] = &values.columns;
    let columns = kernels::fri_fold(dev, [a, b, c, d], n, &alphas, &passes, &resident)?;
    Ok(SecureColumnByCoords { columns })
}

impl<D: ResidentDevice> FriOps for B<D> {
    fn fold_line(
        eval: &LineEvaluation<Self>,
        alpha: SecureField,
        twiddles: &TwiddleTree<Self>,
        fold_step: u32,
    ) -> LineEvaluation<Self> {
        let domain = eval.domain();
        let passes =
            super::twiddles::line_fold_twiddles(domain, &twiddles.itwiddles.cpu, fold_step);
        let folded = fold_on_device(&eval.values, domain.size(), alpha, twiddles, passes)
            .map(|values| LineEvaluation::new(domain.repeated_double(fold_step), values));
        on_device(Op::FoldLine, folded).unwrap_or_else(|| {
            host(Op::FoldLine, || {
                line_from_simd(&SimdBackend::fold_line(
                    &line_to_simd(eval),
                    alpha,
                    &tree_to_simd(twiddles),
                    fold_step,
                ))
            })
        })
    }

    fn fold_circle_into_line(
        src: &SecureEvaluation<Self, BitReversedOrder>,
        alpha: SecureField,
        twiddles: &TwiddleTree<Self>,
    ) -> LineEvaluation<Self> {
        let domain = src.domain;
        let pass = super::twiddles::circle_fold_twiddles(domain, &twiddles.itwiddles.cpu);
        let folded = fold_on_device(
            &src.values,
            domain.size(),
            alpha,
            twiddles,
            pass.map(|p| vec![p]),
        )
        .map(|values| {
            LineEvaluation::new(crate::fri::line_domain_of_circle(domain.log_size()), values)
        });
        on_device(Op::FoldCircleIntoLine, folded).unwrap_or_else(|| {
            host(Op::FoldCircleIntoLine, || {
                line_from_simd(&SimdBackend::fold_circle_into_line(
                    &secure_eval_to_simd(src),
                    alpha,
                    &tree_to_simd(twiddles),
                ))
            })
        })
    }

    fn decompose(
        eval: &SecureEvaluation<Self, BitReversedOrder>,
    ) -> (SecureEvaluation<Self, BitReversedOrder>, SecureField) {
        host(Op::Decompose, || {
            let (g, lambda) = SimdBackend::decompose(&secure_eval_to_simd(eval));
            (secure_eval_from_simd(&g), lambda)
        })
    }
}

/// `dst += lift(src)` coordinate by coordinate (`kernels::add_lifted`).
fn add_lifted_coords<D: ResidentDevice>(
    dst: &mut SecureColumnByCoords<B<D>>,
    src: &SecureColumnByCoords<B<D>>,
) -> Result<()> {
    for (d, s) in dst.columns.iter_mut().zip(&src.columns) {
        kernels::add_lifted(D::instance()?, s, d)?;
    }
    Ok(())
}

impl<D: ResidentDevice> AccumulationOps for B<D> {
    fn accumulate(column: &mut SecureColumnByCoords<Self>, other: &SecureColumnByCoords<Self>) {
        if column.len() == other.len() && column.len() >= 2 && column.len().is_power_of_two() {
            // Shapes checked: any error now is the device's (the column is half-written).
            ok(add_lifted_coords(column, other));
            record(Op::Accumulate, true);
            return;
        }
        host(Op::Accumulate, || {
            let mut sum = coords_to_simd(column);
            SimdBackend::accumulate(&mut sum, &coords_to_simd(other));
            *column = coords_from_simd(&sum);
        })
    }

    /// Scalar work on the host (no column involved).
    fn generate_secure_powers(felt: SecureField, n_powers: usize) -> Vec<SecureField> {
        SimdBackend::generate_secure_powers(felt, n_powers)
    }

    fn lift_and_accumulate(
        cols: Vec<SecureColumnByCoords<Self>>,
    ) -> Option<SecureColumnByCoords<Self>> {
        let lens: Vec<usize> = cols.iter().map(|c| c.len()).collect();
        // SimdBackend lifts 16-value vectors: below 16 values its result is not the lifting
        // of the trait's doc (a column of 8 adds nothing), so those go to its own code.
        let lanes = 1 << stwo::prover::backend::simd::m31::LOG_N_LANES;
        let shapes_fit = lens.iter().all(|&n| n >= lanes && n.is_power_of_two())
            && lens.windows(2).all(|w| w[0] <= w[1]);
        if cols.is_empty() || !shapes_fit {
            return host(Op::LiftAndAccumulate, || {
                let cols = cols.iter().map(coords_to_simd).collect();
                SimdBackend::lift_and_accumulate(cols).map(|c| coords_from_simd(&c))
            });
        }
        // Stwo's: starting from zeros, each column (ascending) plus the lift of the running
        // sum. Adding the lift of zeros to the first column changes nothing: skipped.
        let mut cols = cols.into_iter();
        let mut sum = cols.next()?;
        for mut col in cols {
            ok(add_lifted_coords(&mut col, &sum));
            sum = col;
        }
        record(Op::LiftAndAccumulate, true);
        Some(sum)
    }
}

impl<D: ResidentDevice> MleOps<BaseField> for B<D> {
    fn fix_first_variable(
        mle: Mle<Self, BaseField>,
        assignment: SecureField,
    ) -> Mle<Self, SecureField> {
        host(Op::Gkr, || {
            mle_from_simd(&<SimdBackend as MleOps<BaseField>>::fix_first_variable(
                mle_to_simd(&mle),
                assignment,
            ))
        })
    }
}

impl<D: ResidentDevice> MleOps<SecureField> for B<D> {
    fn fix_first_variable(
        mle: Mle<Self, SecureField>,
        assignment: SecureField,
    ) -> Mle<Self, SecureField> {
        host(Op::Gkr, || {
            mle_from_simd(&<SimdBackend as MleOps<SecureField>>::fix_first_variable(
                mle_to_simd(&mle),
                assignment,
            ))
        })
    }
}

impl<D: ResidentDevice> GkrOps for B<D> {
    fn gen_eq_evals(y: &[SecureField], v: SecureField) -> Mle<Self, SecureField> {
        host(Op::Gkr, || mle_from_simd(&SimdBackend::gen_eq_evals(y, v)))
    }

    fn next_layer(layer: &Layer<Self>) -> Layer<Self> {
        host(Op::Gkr, || {
            layer_from_simd(&SimdBackend::next_layer(&layer_to_simd(layer)))
        })
    }

    fn sum_as_poly_in_first_variable(
        h: &GkrMultivariatePolyOracle<'_, Self>,
        claim: SecureField,
    ) -> UnivariatePoly<SecureField> {
        host(Op::Gkr, || {
            // `EqEvals` are only ever made by `EqEvals::generate(y)`: regenerated from `y`.
            let simd = GkrMultivariatePolyOracle::<SimdBackend> {
                eq_evals: Cow::Owned(EqEvals::generate(h.eq_evals.y())),
                input_layer: layer_to_simd(&h.input_layer),
                eq_fixed_var_correction: h.eq_fixed_var_correction,
                lambda: h.lambda,
            };
            SimdBackend::sum_as_poly_in_first_variable(&simd, claim)
        })
    }
}

impl<D: ResidentDevice> PackLeavesOps for B<D> {
    fn pack_leaves_input(
        values: &[&Col<Self, BaseField>; SECURE_EXTENSION_DEGREE],
    ) -> [Col<Self, BaseField>; SECURE_EXTENSION_DEGREE * PACKED_LEAF_SIZE] {
        let packed = kernels::pack_leaves(values);
        on_device(Op::PackLeaves, packed).unwrap_or_else(|| {
            host(Op::PackLeaves, || {
                let simd = values.map(col_to_simd);
                let refs = std::array::from_fn(|i| &simd[i]);
                SimdBackend::pack_leaves_input(&refs)
                    .each_ref()
                    .map(col_from_simd)
            })
        })
    }
}

impl<D: ResidentDevice> MerkleOpsLifted<Blake2sMerkleHasher> for B<D> {
    fn build_leaves(
        columns: &[&Col<Self, BaseField>],
        lifting_log_size: u32,
    ) -> Col<Self, Blake2sHash> {
        let leaves = kernels::merkle_leaves(device::<D>(), columns, lifting_log_size);
        on_device(Op::MerkleLeaves, leaves).unwrap_or_else(|| {
            host(Op::MerkleLeaves, || {
                let simd: Vec<_> = columns.iter().map(|c| col_to_simd(*c)).collect();
                let refs: Vec<_> = simd.iter().collect();
                col_from_simd(
                    &<SimdBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_leaves(
                        &refs,
                        lifting_log_size,
                    ),
                )
            })
        })
    }

    fn build_next_layer(prev_layer: &Col<Self, Blake2sHash>) -> Col<Self, Blake2sHash> {
        let layer = kernels::merkle_next_layer(device::<D>(), prev_layer);
        on_device(Op::MerkleNextLayer, layer).unwrap_or_else(|| {
            host(Op::MerkleNextLayer, || {
                col_from_simd(
                    &<SimdBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_next_layer(
                        &col_to_simd(prev_layer),
                    ),
                )
            })
        })
    }
}

impl<D: ResidentDevice> GrindOps<Blake2sChannel> for B<D> {
    fn grind(channel: &Blake2sChannel, pow_bits: u32) -> u64 {
        let digest = crate::channel::pow_prefixed_digest(channel, pow_bits);
        let nonce = kernels::grind(device::<D>(), digest, pow_bits);
        let nonce = on_device(Op::Grind, nonce).unwrap_or_else(|| {
            host(Op::Grind, || {
                <SimdBackend as GrindOps<Blake2sChannel>>::grind(channel, pow_bits)
            })
        });
        // The query proof of work: the queries are known now (see `decommit`).
        super::decommit::plan_after_grind(channel, nonce);
        nonce
    }
}

impl<D: ResidentDevice> Backend for B<D> {}
impl<D: ResidentDevice> BackendForChannel<Blake2sMerkleChannel> for B<D> {}
