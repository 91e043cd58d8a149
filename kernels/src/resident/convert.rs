//! Conversions between the resident backend's structures and `SimdBackend`'s, for the host
//! fallbacks: each downloads or uploads whole columns.

use stwo::core::fields::m31::BaseField;
use stwo::core::fields::Field;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::{Col, Column, ColumnOps};
use stwo::prover::line::LineEvaluation;
use stwo::prover::lookups::gkr_prover::Layer;
use stwo::prover::lookups::mle::{Mle, MleOps};
use stwo::prover::poly::circle::{CircleCoefficients, CircleEvaluation, SecureEvaluation};
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::secure_column::SecureColumnByCoords;

use super::column::{DeviceColumn, DeviceElement};
use super::{ok, DeviceBackend, ResidentDevice};
use crate::fft::simd_coefficient_order;

type B<D> = DeviceBackend<D>;

pub(crate) fn col_to_simd<D: ResidentDevice, F: DeviceElement>(
    col: &DeviceColumn<D, F>,
) -> Col<SimdBackend, F>
where
    SimdBackend: ColumnOps<F>,
{
    ok(col.to_host()).into_iter().collect()
}

pub(crate) fn col_from_simd<D: ResidentDevice, F: DeviceElement>(
    col: &Col<SimdBackend, F>,
) -> DeviceColumn<D, F>
where
    SimdBackend: ColumnOps<F>,
{
    ok(DeviceColumn::from_host(&col.to_cpu()))
}

pub(crate) fn coords_to_simd<D: ResidentDevice>(
    c: &SecureColumnByCoords<B<D>>,
) -> SecureColumnByCoords<SimdBackend> {
    SecureColumnByCoords {
        columns: c.columns.each_ref().map(col_to_simd),
    }
}

pub(crate) fn coords_from_simd<D: ResidentDevice>(
    c: &SecureColumnByCoords<SimdBackend>,
) -> SecureColumnByCoords<B<D>> {
    SecureColumnByCoords {
        columns: c.columns.each_ref().map(col_from_simd),
    }
}

pub(crate) fn eval_to_simd<D: ResidentDevice>(
    e: &CircleEvaluation<B<D>, BaseField, BitReversedOrder>,
) -> CircleEvaluation<SimdBackend, BaseField, BitReversedOrder> {
    CircleEvaluation::new(e.domain, col_to_simd(&e.values))
}

pub(crate) fn eval_from_simd<D: ResidentDevice>(
    e: &CircleEvaluation<SimdBackend, BaseField, BitReversedOrder>,
) -> CircleEvaluation<B<D>, BaseField, BitReversedOrder> {
    CircleEvaluation::new(e.domain, col_from_simd(&e.values))
}

/// Natural order on the device, `SimdBackend`'s order on the host.
pub(crate) fn coeffs_to_simd<D: ResidentDevice>(
    p: &CircleCoefficients<B<D>>,
) -> CircleCoefficients<SimdBackend> {
    let mut words = BaseField::to_words(&ok(p.coeffs.to_host()));
    simd_coefficient_order(&mut words);
    CircleCoefficients::new(BaseField::from_words(&words).into_iter().collect())
}

pub(crate) fn coeffs_from_simd<D: ResidentDevice>(
    p: &CircleCoefficients<SimdBackend>,
) -> CircleCoefficients<B<D>> {
    let mut words = BaseField::to_words(p.coeffs.as_slice());
    simd_coefficient_order(&mut words);
    CircleCoefficients::new(ok(DeviceColumn::from_host(&BaseField::from_words(&words))))
}

pub(crate) fn secure_eval_to_simd<D: ResidentDevice>(
    e: &SecureEvaluation<B<D>, BitReversedOrder>,
) -> SecureEvaluation<SimdBackend, BitReversedOrder> {
    SecureEvaluation::new(e.domain, coords_to_simd(&e.values))
}

pub(crate) fn secure_eval_from_simd<D: ResidentDevice>(
    e: &SecureEvaluation<SimdBackend, BitReversedOrder>,
) -> SecureEvaluation<B<D>, BitReversedOrder> {
    SecureEvaluation::new(e.domain, coords_from_simd(&e.values))
}

pub(crate) fn line_to_simd<D: ResidentDevice>(
    e: &LineEvaluation<B<D>>,
) -> LineEvaluation<SimdBackend> {
    LineEvaluation::new(e.domain(), coords_to_simd(&e.values))
}

pub(crate) fn line_from_simd<D: ResidentDevice>(
    e: &LineEvaluation<SimdBackend>,
) -> LineEvaluation<B<D>> {
    LineEvaluation::new(e.domain(), coords_from_simd(&e.values))
}

/// `SimdBackend`'s half of the twiddle tree (cloned: the fallback owns it).
pub(crate) fn tree_to_simd<D: ResidentDevice>(t: &TwiddleTree<B<D>>) -> TwiddleTree<SimdBackend> {
    TwiddleTree {
        root_coset: t.root_coset,
        twiddles: t.twiddles.simd.clone(),
        itwiddles: t.itwiddles.simd.clone(),
    }
}

pub(crate) fn mle_to_simd<D: ResidentDevice, F: Field + DeviceElement>(
    m: &Mle<B<D>, F>,
) -> Mle<SimdBackend, F>
where
    SimdBackend: MleOps<F>,
    B<D>: MleOps<F> + ColumnOps<F, Column = DeviceColumn<D, F>>,
{
    Mle::new(col_to_simd::<D, F>(m))
}

pub(crate) fn mle_from_simd<D: ResidentDevice, F: Field + DeviceElement>(
    m: &Mle<SimdBackend, F>,
) -> Mle<B<D>, F>
where
    SimdBackend: MleOps<F>,
    B<D>: MleOps<F> + ColumnOps<F, Column = DeviceColumn<D, F>>,
{
    Mle::new(col_from_simd::<D, F>(m))
}

pub(crate) fn layer_to_simd<D: ResidentDevice>(l: &Layer<B<D>>) -> Layer<SimdBackend> {
    match l {
        Layer::GrandProduct(m) => Layer::GrandProduct(mle_to_simd(m)),
        Layer::LogUpGeneric {
            numerators,
            denominators,
        } => Layer::LogUpGeneric {
            numerators: mle_to_simd(numerators),
            denominators: mle_to_simd(denominators),
        },
        Layer::LogUpMultiplicities {
            numerators,
            denominators,
        } => Layer::LogUpMultiplicities {
            numerators: mle_to_simd(numerators),
            denominators: mle_to_simd(denominators),
        },
        Layer::LogUpSingles { denominators } => Layer::LogUpSingles {
            denominators: mle_to_simd(denominators),
        },
    }
}

pub(crate) fn layer_from_simd<D: ResidentDevice>(l: &Layer<SimdBackend>) -> Layer<B<D>> {
    match l {
        Layer::GrandProduct(m) => Layer::GrandProduct(mle_from_simd(m)),
        Layer::LogUpGeneric {
            numerators,
            denominators,
        } => Layer::LogUpGeneric {
            numerators: mle_from_simd(numerators),
            denominators: mle_from_simd(denominators),
        },
        Layer::LogUpMultiplicities {
            numerators,
            denominators,
        } => Layer::LogUpMultiplicities {
            numerators: mle_from_simd(numerators),
            denominators: mle_from_simd(denominators),
        },
        Layer::LogUpSingles { denominators } => Layer::LogUpSingles {
            denominators: mle_from_simd(denominators),
        },
    }
}
