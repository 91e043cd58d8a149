//! Stwo's FRI folds (`FriOps::fold_circle_into_line` and `fold_line`) as the passes a device
//! runs ([`GpuDevice::fri_fold`]), with the inverse twiddles of Stwo's own twiddle tree (as in
//! [`crate::fft`]). Values are secure-field evaluations by coordinates (Stwo's
//! `SecureColumnByCoords`: 4 columns of M31). The device results equal `SimdBackend`'s word
//! for word (`tests/common`, `check_fri`).
//!
//! Used by the resident backend ([`crate::resident`]), as [`crate::fft`] is.

use stwo::core::circle::Coset;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::poly::circle::CircleDomain;
use stwo::core::poly::line::LineDomain;
use stwo::core::poly::utils::domain_line_twiddles_from_tree;
use stwo::prover::backend::cpu::{fold_circle_into_line_cpu, CpuBackend};
use stwo::prover::poly::circle::SecureEvaluation;
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::secure_column::SecureColumnByCoords;

use crate::error::{KernelError, Result};
use crate::gpu_device::GpuDevice;

/// A secure-field column by coordinates: `coords[c][i]` is coordinate `c` of value `i`.
pub type Coords = [Vec<BaseField>; 4];

/// One dispatch of the `fri_fold` kernel: pair `p` is folded with `twiddles[p]` and `alpha`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoldPass {
    pub twiddles: Vec<u32>,
    pub alpha: [u32; 4],
}

impl FoldPass {
    fn new(twiddles: Vec<u32>, alpha: SecureField) -> Self {
        Self {
            twiddles,
            alpha: alpha.to_m31_array().map(|c| c.0),
        }
    }

    /// The kernel's parameter block for `n_half` pairs (padded to 8 words).
    pub fn params(&self, n_half: u32) -> [u32; 8] {
        let [a, b, c, d] = self.alpha;
        [n_half, a, b, c, d, 0, 0, 0]
    }
}

fn words(values: &[BaseField]) -> Vec<u32> {
    values.iter().map(|v| v.0).collect()
}

/// Stwo's twiddle lookup needs a tree whose root coset has at least `2^line_log_size` points.
fn check_tree(line_log_size: u32, tree: &TwiddleTree<CpuBackend>) -> Result<()> {
    if 1usize << line_log_size > tree.itwiddles.len() {
        return Err(KernelError::InvalidInput(format!(
            "a FRI fold on a line of 2^{line_log_size} points needs a twiddle tree of at least \
             that size, got 2^{}",
            tree.root_coset.log_size()
        )));
    }
    Ok(())
}

fn check_len(coords: &Coords, expected: usize) -> Result<()> {
    if coords.iter().any(|c| c.len() != expected) {
        return Err(KernelError::InvalidInput(format!(
            "a FRI evaluation of {expected} values has 4 coordinate columns of that length, got \
             {:?}",
            coords.each_ref().map(Vec::len)
        )));
    }
    Ok(())
}

/// Smallest circle domain folded on the device; Stwo derives the circle twiddles from pairs of
/// line twiddles, which smaller domains do not have.
pub const MIN_CIRCLE_LOG_SIZE: u32 = 3;

/// `FriOps::fold_circle_into_line`: folds the evaluation on `domain` into the line domain of
/// half its size with `alpha`, on `gpu` (domains of 2 or 4 points on the host).
pub fn fold_circle_into_line(
    gpu: &dyn GpuDevice,
    coords: &Coords,
    domain: CircleDomain,
    alpha: SecureField,
    tree: &TwiddleTree<CpuBackend>,
) -> Result<Coords> {
    check_len(coords, domain.size())?;
    if domain.log_size() < MIN_CIRCLE_LOG_SIZE {
        let values = SecureColumnByCoords::<CpuBackend> {
            columns: coords.clone(),
        };
        let eval = SecureEvaluation::new(domain, values);
        return Ok(fold_circle_into_line_cpu(&eval, alpha).values.columns);
    }
    check_tree(domain.log_size() - 1, tree)?;
    run(
        gpu,
        coords,
        &[circle_fold_pass(domain, alpha, &tree.itwiddles)?],
    )
}

/// The pass of `fold_circle_into_line` on `domain` (of at least 2^[`MIN_CIRCLE_LOG_SIZE`]
/// points), from the inverse twiddles of a tree in the CPU backend's layout.
pub fn circle_fold_pass(
    domain: CircleDomain,
    alpha: SecureField,
    itwiddles: &[BaseField],
) -> Result<FoldPass> {
    if domain.log_size() < MIN_CIRCLE_LOG_SIZE
        || 1usize << (domain.log_size() - 1) > itwiddles.len()
    {
        return Err(KernelError::InvalidInput(format!(
            "a circle fold on the device needs a domain of 2^{MIN_CIRCLE_LOG_SIZE}.. points \
             within the twiddle tree ({} twiddles), got 2^{}",
            itwiddles.len(),
            domain.log_size()
        )));
    }
    let line = domain_line_twiddles_from_tree(domain, itwiddles);
    Ok(FoldPass::new(crate::fft::circle_layer(line[0]), alpha))
}

/// The line domain `fold_circle_into_line` folds a circle domain of `2^log_size` points into.
pub fn line_domain_of_circle(log_size: u32) -> LineDomain {
    LineDomain::new(Coset::half_odds(log_size - 1))
}

/// `FriOps::fold_line`: `fold_step` folds of the evaluation on `domain`, with `alpha`, then
/// `alpha²`, and so on.
pub fn fold_line(
    gpu: &dyn GpuDevice,
    coords: &Coords,
    domain: LineDomain,
    alpha: SecureField,
    tree: &TwiddleTree<CpuBackend>,
    fold_step: u32,
) -> Result<Coords> {
    check_len(coords, domain.size())?;
    check_tree(domain.log_size(), tree)?;
    run(
        gpu,
        coords,
        &line_fold_passes(domain, alpha, &tree.itwiddles, fold_step)?,
    )
}

/// The passes of `fold_line` on `domain`, from the inverse twiddles of a tree in the CPU
/// backend's layout.
pub fn line_fold_passes(
    domain: LineDomain,
    alpha: SecureField,
    itwiddles: &[BaseField],
    fold_step: u32,
) -> Result<Vec<FoldPass>> {
    let layers = line_fold_layers(domain, itwiddles, fold_step)?;
    let mut folding_alpha = alpha;
    Ok(layers
        .iter()
        .map(|t| {
            let pass = FoldPass::new(words(t), folding_alpha);
            folding_alpha = folding_alpha * folding_alpha;
            pass
        })
        .collect())
}

/// The inverse-twiddle layers of `fold_step` line folds of `domain`, out of a twiddle tree:
/// refused when the step or the tree does not fit the domain.
pub(crate) fn line_fold_layers(
    domain: LineDomain,
    itwiddles: &[BaseField],
    fold_step: u32,
) -> Result<Vec<&[BaseField]>> {
    if fold_step == 0 || fold_step > domain.log_size() {
        return Err(KernelError::InvalidInput(format!(
            "a line evaluation of 2^{} points folds 1..={} times, not {fold_step}",
            domain.log_size(),
            domain.log_size()
        )));
    }
    if 1usize << domain.log_size() > itwiddles.len() {
        return Err(KernelError::InvalidInput(format!(
            "a FRI fold on a line of 2^{} points needs at least that many twiddles, got {}",
            domain.log_size(),
            itwiddles.len()
        )));
    }
    let layers = domain_line_twiddles_from_tree(domain, itwiddles);
    Ok(layers[..fold_step as usize].to_vec())
}

fn run(gpu: &dyn GpuDevice, coords: &Coords, passes: &[FoldPass]) -> Result<Coords> {
    let flat: Vec<u32> = coords.iter().flat_map(|c| words(c)).collect();
    let out = gpu.fri_fold(&flat, passes)?;
    let n = out.len() / 4;
    Ok(std::array::from_fn(|c| {
        out[c * n..(c + 1) * n]
            .iter()
            .map(|&w| BaseField::from_u32_unchecked(w))
            .collect()
    }))
}

/// Checks the input of `fri_fold` (4 coordinate columns of `2^k` values, enough twiddles for
/// every pass) and that the first pass fits `budget_total`; returns the first pass's `n_half`.
pub fn check_fold(coords: &[u32], passes: &[FoldPass], budget_total: u64) -> Result<u32> {
    let n = coords.len() / 4;
    let halvings_fit = n.is_power_of_two() && passes.len() <= n.ilog2() as usize;
    if !coords.len().is_multiple_of(4) || !halvings_fit || n > 1 << 29 {
        return Err(KernelError::InvalidInput(format!(
            "a FRI fold of {} passes takes 4 coordinate columns of 2^{}..=2^29 values, got {} words",
            passes.len(),
            passes.len(),
            coords.len()
        )));
    }
    if let Some((i, _)) = passes
        .iter()
        .enumerate()
        .find(|(i, p)| p.twiddles.len() < n >> (i + 1))
    {
        return Err(KernelError::InvalidInput(format!(
            "FRI fold pass {i} has {} twiddles, too few for {} pairs",
            passes[i].twiddles.len(),
            n >> (i + 1)
        )));
    }
    // Source, destination (half), the twiddles (a quarter), parameters.
    let bytes = 4 * (4 * n + 2 * n + n / 2) as u64 + 32;
    if bytes > budget_total {
        return Err(KernelError::OutOfMemory(format!(
            "a FRI fold of {n} values needs {bytes} bytes on the device, the budget is \
             {budget_total}"
        )));
    }
    Ok((n / 2) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(twiddles: usize) -> FoldPass {
        FoldPass::new(
            vec![1; twiddles],
            SecureField::from_m31_array([BaseField::from(3); 4]),
        )
    }

    #[test]
    fn fold_input_is_checked_before_the_device_sees_it() {
        let coords = vec![0u32; 4 * 8];
        assert_eq!(
            check_fold(&coords, &[pass(4), pass(2)], 1 << 20).ok(),
            Some(4)
        );
        let refused = |coords: &[u32], passes: &[FoldPass], budget| {
            check_fold(coords, passes, budget)
                .err()
                .map(|e| e.to_string())
        };
        let ragged = refused(&coords[..30], &[pass(4)], 1 << 20).unwrap_or_default();
        assert!(ragged.contains("4 coordinate columns"), "{ragged}");
        let too_many = refused(&coords, &[pass(4), pass(2), pass(1), pass(1)], 1 << 20);
        assert!(too_many.is_some_and(|e| e.contains("4 passes")));
        let short = refused(&coords, &[pass(4), pass(1)], 1 << 20).unwrap_or_default();
        assert!(short.contains("pass 1 has 1 twiddles"), "{short}");
        let small = refused(&coords, &[pass(4)], 64).unwrap_or_default();
        assert!(small.contains("budget is 64"), "{small}");
    }
}
