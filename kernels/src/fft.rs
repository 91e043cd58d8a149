//! Stwo's circle FFT (`PolyOps::evaluate` and `interpolate`) as the butterfly layers a device
//! runs ([`GpuDevice::fft_layers`]), with the twiddles of Stwo's own twiddle tree (the CPU
//! backend's layout: per line layer, the bit-reversed x coordinates; the circle layer derived
//! from the first line layer as Stwo derives it). The device results equal `SimdBackend`'s
//! word for word (`tests/common`, `check_fft`), coefficients in `SimdBackend`'s own order
//! ([`simd_coefficient_order`]).
//!
//! Used by the resident backend ([`crate::resident`]) on columns that stay on the device; the
//! functions below that take host slices ([`evaluate`], [`interpolate`]) serve the tests.

use stwo::core::fields::m31::BaseField;
use stwo::core::poly::circle::CircleDomain;
use stwo::core::poly::utils::domain_line_twiddles_from_tree;
use stwo::prover::backend::cpu::CpuBackend;
use stwo::prover::backend::simd::fft::CACHED_FFT_LOG_SIZE;
use stwo::prover::backend::simd::m31::LOG_N_LANES;
use stwo::prover::poly::circle::{CircleCoefficients, CircleEvaluation};
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::poly::BitReversedOrder;

use crate::error::{KernelError, Result};
use crate::gpu_device::GpuDevice;

/// What one dispatch of the `circle_fft_layer` kernel does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FftMode {
    /// `(v0, v1) ← (v0 + v1·t, v0 − v1·t)`.
    Butterfly = 0,
    /// `(v0, v1) ← (v0 + v1, (v0 − v1)·t)`.
    InverseButterfly = 1,
    /// Every value times `scale`.
    Scale = 2,
}

/// One dispatch: layer `layer`'s butterflies (pair `p` uses `twiddles[p >> layer]`), or a
/// scaling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FftLayer {
    pub mode: FftMode,
    pub layer: u32,
    pub twiddles: Vec<u32>,
    pub scale: u32,
}

impl FftLayer {
    fn butterflies(mode: FftMode, layer: usize, twiddles: Vec<u32>) -> Self {
        Self {
            mode,
            layer: layer as u32,
            twiddles,
            scale: 0,
        }
    }

    /// The kernel's parameter block for a column of `2 · n_half` values.
    pub fn params(&self, n_half: u32) -> [u32; 4] {
        [n_half, self.layer, self.mode as u32, self.scale]
    }

    /// Twiddle words to bind (never empty: a binding needs a non-zero size).
    pub fn twiddle_words(&self) -> &[u32] {
        if self.twiddles.is_empty() {
            &[0]
        } else {
            &self.twiddles
        }
    }
}

fn words(values: &[BaseField]) -> Vec<u32> {
    values.iter().map(|v| v.0).collect()
}

/// Layer 0's twiddles from layer 1's: every 4 consecutive points of a coset in bit-reversed
/// order are `[(x, y), (−x, −y), (y, −x), (−y, x)]`, whose y coordinates are `[y, −y, −x, x]`.
pub(crate) fn circle_layer(first_line: &[BaseField]) -> Vec<u32> {
    first_line
        .chunks_exact(2)
        .flat_map(|c| [c[1], -c[1], -c[0], c[0]])
        .map(|v| v.0)
        .collect()
}

/// Moves coefficients between natural order and `SimdBackend`'s order, in place (the
/// permutation is its own inverse). `SimdBackend` keeps the coefficients of a polynomial of more
/// than 2^`CACHED_FFT_LOG_SIZE` coefficients transposed: its FFT swaps the index bits `abc` of
/// the 16-value vectors to `cba` (|a| = |c|, |b| ≤ 1) half-way and does not swap them back
/// (Stwo's `transpose_vecs`). Smaller polynomials are in natural order: nothing moves.
pub fn simd_coefficient_order(values: &mut [u32]) {
    let log_size = values.len().ilog2();
    if !values.len().is_power_of_two() || log_size <= CACHED_FFT_LOG_SIZE {
        return;
    }
    let log_n_vecs = log_size - LOG_N_LANES;
    let half = log_n_vecs / 2;
    let lanes = 1 << LOG_N_LANES;
    for a in 0..1usize << half {
        for b in 0..1usize << (log_n_vecs & 1) {
            for c in 0..1usize << half {
                let i = (a << (log_n_vecs - half)) | (b << half) | c;
                let j = (c << (log_n_vecs - half)) | (b << half) | a;
                if i < j {
                    let (low, high) = values.split_at_mut(j * lanes);
                    low[i * lanes..(i + 1) * lanes].swap_with_slice(&mut high[..lanes]);
                }
            }
        }
    }
}

/// Smallest domain the layered FFT handles; Stwo special-cases 2 and 4 points.
pub const MIN_LOG_SIZE: u32 = 3;

fn check_domain(domain: CircleDomain, tree: &TwiddleTree<CpuBackend>) -> Result<()> {
    if domain.log_size() < MIN_LOG_SIZE || domain.half_coset.size() > tree.twiddles.len() {
        return Err(KernelError::InvalidInput(format!(
            "a layered circle FFT needs a domain of 2^{MIN_LOG_SIZE}.. points within the twiddle \
             tree (2^{} points), got 2^{}",
            tree.root_coset.log_size() + 1,
            domain.log_size()
        )));
    }
    Ok(())
}

/// The dispatches of `evaluate` on `domain`: line layers from the last to the first, then the
/// circle layer.
pub fn evaluate_layers(
    domain: CircleDomain,
    tree: &TwiddleTree<CpuBackend>,
) -> Result<Vec<FftLayer>> {
    check_domain(domain, tree)?;
    evaluate_layers_from(domain, &tree.twiddles)
}

fn check_twiddles(domain: CircleDomain, twiddles: &[BaseField]) -> Result<()> {
    if domain.log_size() < MIN_LOG_SIZE || domain.half_coset.size() > twiddles.len() {
        return Err(KernelError::InvalidInput(format!(
            "a layered circle FFT needs a domain of 2^{MIN_LOG_SIZE}.. points within the twiddle \
             tree ({} twiddles), got 2^{}",
            twiddles.len(),
            domain.log_size()
        )));
    }
    Ok(())
}

/// [`evaluate_layers`] from the forward twiddles of a tree in the CPU backend's layout
/// (`TwiddleTree::<CpuBackend>::twiddles`), which the resident backend keeps on its own.
pub fn evaluate_layers_from(domain: CircleDomain, twiddles: &[BaseField]) -> Result<Vec<FftLayer>> {
    check_twiddles(domain, twiddles)?;
    let line = domain_line_twiddles_from_tree(domain, twiddles);
    let mut layers: Vec<FftLayer> = line
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| FftLayer::butterflies(FftMode::Butterfly, i + 1, words(t)))
        .collect();
    layers.push(FftLayer::butterflies(
        FftMode::Butterfly,
        0,
        circle_layer(line[0]),
    ));
    Ok(layers)
}

/// The dispatches of `interpolate` from `domain`: the circle layer, the line layers from the
/// first to the last, then the division by the domain size.
pub fn interpolate_layers(
    domain: CircleDomain,
    tree: &TwiddleTree<CpuBackend>,
) -> Result<Vec<FftLayer>> {
    check_domain(domain, tree)?;
    interpolate_layers_from(domain, &tree.itwiddles)
}

/// [`interpolate_layers`] from the inverse twiddles of a tree in the CPU backend's layout.
pub fn interpolate_layers_from(
    domain: CircleDomain,
    itwiddles: &[BaseField],
) -> Result<Vec<FftLayer>> {
    check_twiddles(domain, itwiddles)?;
    let line = domain_line_twiddles_from_tree(domain, itwiddles);
    let mut layers = vec![FftLayer::butterflies(
        FftMode::InverseButterfly,
        0,
        circle_layer(line[0]),
    )];
    layers.extend(
        line.iter()
            .enumerate()
            .map(|(i, t)| FftLayer::butterflies(FftMode::InverseButterfly, i + 1, words(t))),
    );
    layers.push(FftLayer {
        mode: FftMode::Scale,
        layer: 0,
        twiddles: Vec::new(),
        scale: BaseField::from(domain.size() as u32).inverse().0,
    });
    Ok(layers)
}

/// `PolyOps::evaluate`: the values of the polynomial with `coeffs` (in `SimdBackend`'s order)
/// on `domain`, in bit-reversed order, computed on `gpu` (domains of 2 or 4 points on the
/// host).
pub fn evaluate(
    gpu: &dyn GpuDevice,
    coeffs: &[BaseField],
    domain: CircleDomain,
    tree: &TwiddleTree<CpuBackend>,
) -> Result<Vec<BaseField>> {
    if !coeffs.len().is_power_of_two() || coeffs.len() > domain.size() {
        return Err(KernelError::InvalidInput(format!(
            "{} coefficients cannot be evaluated on 2^{} points",
            coeffs.len(),
            domain.log_size()
        )));
    }
    if domain.log_size() < MIN_LOG_SIZE {
        // As `SimdBackend` does: Stwo's CPU code with twiddles of the domain itself.
        let poly = CircleCoefficients::<CpuBackend>::new(coeffs.to_vec());
        return Ok(poly.evaluate(domain).values);
    }
    let mut values = vec![0; domain.size()];
    values[..coeffs.len()].copy_from_slice(&words(coeffs));
    simd_coefficient_order(&mut values[..coeffs.len()]);
    let out = gpu.fft_layers(&values, &evaluate_layers(domain, tree)?)?;
    Ok(out.into_iter().map(BaseField::from_u32_unchecked).collect())
}

/// `PolyOps::interpolate`: the coefficients (in `SimdBackend`'s order) of the polynomial whose
/// values on `domain` (in bit-reversed order) are `values`, computed on `gpu` (domains of 2 or
/// 4 points on the host).
pub fn interpolate(
    gpu: &dyn GpuDevice,
    values: &[BaseField],
    domain: CircleDomain,
    tree: &TwiddleTree<CpuBackend>,
) -> Result<Vec<BaseField>> {
    if values.len() != domain.size() {
        return Err(KernelError::InvalidInput(format!(
            "{} values do not fill a domain of 2^{} points",
            values.len(),
            domain.log_size()
        )));
    }
    if domain.log_size() < MIN_LOG_SIZE {
        let eval = CircleEvaluation::<CpuBackend, BaseField, BitReversedOrder>::new(
            domain,
            values.to_vec(),
        );
        return Ok(eval.interpolate().coeffs);
    }
    let mut out = gpu.fft_layers(&words(values), &interpolate_layers(domain, tree)?)?;
    simd_coefficient_order(&mut out);
    Ok(out.into_iter().map(BaseField::from_u32_unchecked).collect())
}

/// Checks a column handed to `fft_layers` and that it fits the device budget (values,
/// the largest twiddle layer, parameters); returns `n_half`.
pub fn check_column(values: &[u32], layers: &[FftLayer], budget_total: u64) -> Result<u32> {
    if values.len() < 2 || !values.len().is_power_of_two() || values.len() > 1 << 31 {
        return Err(KernelError::InvalidInput(format!(
            "an FFT column has a power-of-two length in 2..=2^31, got {}",
            values.len()
        )));
    }
    let n_half = values.len() / 2;
    if let Some(bad) = layers
        .iter()
        .find(|l| l.mode != FftMode::Scale && (l.twiddles.len() << l.layer) < n_half)
    {
        return Err(KernelError::InvalidInput(format!(
            "FFT layer {} has {} twiddles, too few for {} butterflies",
            bad.layer,
            bad.twiddles.len(),
            n_half
        )));
    }
    let twiddles = layers.iter().map(|l| l.twiddles.len()).max().unwrap_or(0);
    let bytes = 4 * (values.len() + twiddles) as u64 + 16;
    if bytes > budget_total {
        return Err(KernelError::OutOfMemory(format!(
            "an FFT of {} values needs {bytes} bytes on the device, the budget is {budget_total}",
            values.len()
        )));
    }
    Ok(n_half as u32)
}
