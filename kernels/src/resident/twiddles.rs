//! Twiddles resident on the device: a twiddle tree's values are uploaded once, on the first
//! device FFT or FRI fold that needs them, and every later layer and fold pass reads them in
//! place (a word offset into that buffer, [`ResidentDevice::launch_fft_layer_at`]) instead of
//! uploading its own slice. The launches' parameter blocks go up together, one upload per FFT
//! or fold.
//!
//! Layout of a tree's device buffer (`n` = the CPU backend's twiddle count, a power of two):
//! words `0..n` are the CPU backend's twiddles as they are (line layers, largest first: the
//! layer of `s` twiddles at `n − 2s`, as Stwo's `domain_line_twiddles_from_tree` slices
//! them); words `n..3n` hold the circle layer derived from each line layer (`fft::circle_layer`:
//! `2s` words for the layer at offset `o`, at `n + 2o`). So a layer's offset on the device is
//! its offset in the host vector, and the derived circle layers never overlap.

use std::sync::{Arc, Mutex};

use stwo::core::fields::m31::BaseField;
use stwo::core::poly::circle::CircleDomain;
use stwo::core::poly::line::LineDomain;
use stwo::core::poly::utils::domain_line_twiddles_from_tree;
use stwo::prover::poly::twiddles::TwiddleBuffer;
use stwo::prover::poly::BitReversedOrder;

use super::{with_crossing, Crossing, ResidentDevice};
use crate::error::{KernelError, Result};
use crate::fft::FftMode;

/// Twiddles of the resident backend: the CPU backend's layout (plain points, which the device
/// FFT and FRI plans read), `SimdBackend`'s (doubled, for the host fallbacks), both on the
/// host, and the device copy of the CPU layout, uploaded once on first use and shared by the
/// clones of this value. An extracted subdomain's twiddles get their own device copy.
pub struct DeviceTwiddles<D: ResidentDevice> {
    pub cpu: Vec<BaseField>,
    pub simd: Vec<u32>,
    device: Arc<Mutex<Option<Arc<D::Buffer>>>>,
}

impl<D: ResidentDevice> DeviceTwiddles<D> {
    /// Both layouts; the device copy is made when a device operation first needs it.
    pub fn new(cpu: Vec<BaseField>, simd: Vec<u32>) -> Self {
        Self {
            cpu,
            simd,
            device: Arc::default(),
        }
    }

    /// The device copy ([`resident_words`] of `cpu`), uploaded now if it is not yet.
    pub(crate) fn on_device(&self, dev: &D) -> Result<Arc<D::Buffer>> {
        let mut slot = self.device.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(buffer) = &*slot {
            return Ok(buffer.clone());
        }
        let words = resident_words(&self.cpu);
        let buffer = Arc::new(with_crossing(Crossing::Twiddles, || dev.upload(&words))?);
        *slot = Some(buffer.clone());
        Ok(buffer)
    }

    /// Whether the device copy has been made (tests: one upload per tree).
    pub fn is_resident(&self) -> bool {
        self.device
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

impl<D: ResidentDevice> Clone for DeviceTwiddles<D> {
    fn clone(&self) -> Self {
        Self {
            cpu: self.cpu.clone(),
            simd: self.simd.clone(),
            device: self.device.clone(),
        }
    }
}

impl<D: ResidentDevice> Default for DeviceTwiddles<D> {
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new())
    }
}

impl<D: ResidentDevice> std::fmt::Debug for DeviceTwiddles<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DeviceTwiddles<{}>({} twiddles, resident: {})",
            D::NAME,
            self.cpu.len(),
            self.is_resident()
        )
    }
}

impl<D: ResidentDevice> TwiddleBuffer<BitReversedOrder> for DeviceTwiddles<D> {
    fn empty() -> Self {
        Self::default()
    }

    fn extract_subdomain_twiddles(&self, domain_log_size: u32, subdomain_log_size: u32) -> Self {
        Self::new(
            self.cpu
                .extract_subdomain_twiddles(domain_log_size, subdomain_log_size),
            self.simd
                .extract_subdomain_twiddles(domain_log_size, subdomain_log_size),
        )
    }
}

/// The device words of a tree's CPU-layout twiddles (see the module header): the twiddles,
/// then the circle layer of each line layer of at least 2 twiddles.
pub(crate) fn resident_words(cpu: &[BaseField]) -> Vec<u32> {
    let n = cpu.len();
    let mut words = vec![0u32; 3 * n];
    for (w, t) in words.iter_mut().zip(cpu) {
        *w = t.0;
    }
    let mut s = n / 2;
    while s >= 2 {
        let offset = n - 2 * s;
        let circle = crate::fft::circle_layer(&cpu[offset..offset + s]);
        words[n + 2 * offset..n + 2 * offset + 2 * s].copy_from_slice(&circle);
        s /= 2;
    }
    words
}

/// A twiddle slice's offset in the vector it was cut from.
fn offset_in(base: &[BaseField], slice: &[BaseField]) -> usize {
    (slice.as_ptr() as usize - base.as_ptr() as usize) / std::mem::size_of::<BaseField>()
}

/// One launch of `circle_fft_layer` on resident twiddles: its parameter block
/// (`FftLayer::params`) and the word of the tree's device buffer its twiddles start at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LayerAt {
    pub mode: FftMode,
    pub layer: u32,
    pub scale: u32,
    pub twiddles_at: usize,
    /// Twiddles the layer reads from `twiddles_at` (0: a scaling).
    pub twiddles_len: usize,
}

impl LayerAt {
    pub fn params(&self, n_half: u32) -> [u32; 4] {
        [n_half, self.layer, self.mode as u32, self.scale]
    }
}

fn check_domain(domain: CircleDomain, twiddles: &[BaseField]) -> Result<()> {
    if domain.log_size() < crate::fft::MIN_LOG_SIZE || domain.half_coset.size() > twiddles.len() {
        return Err(KernelError::InvalidInput(format!(
            "a layered circle FFT needs a domain of 2^{}.. points within the twiddle tree ({} \
             twiddles), got 2^{}",
            crate::fft::MIN_LOG_SIZE,
            twiddles.len(),
            domain.log_size()
        )));
    }
    Ok(())
}

/// The circle layer (offset, length) derived from line layer `line0` of `twiddles`.
fn circle_at(twiddles: &[BaseField], line0: &[BaseField]) -> (usize, usize) {
    (
        twiddles.len() + 2 * offset_in(twiddles, line0),
        2 * line0.len(),
    )
}

/// `fft::evaluate_layers_from` on resident twiddles: line layers from the last to the first,
/// then the circle layer.
pub(crate) fn evaluate_layers(
    domain: CircleDomain,
    twiddles: &[BaseField],
) -> Result<Vec<LayerAt>> {
    check_domain(domain, twiddles)?;
    let line = domain_line_twiddles_from_tree(domain, twiddles);
    let butterfly = |layer: usize, (at, len): (usize, usize)| LayerAt {
        mode: FftMode::Butterfly,
        layer: layer as u32,
        scale: 0,
        twiddles_at: at,
        twiddles_len: len,
    };
    let mut layers: Vec<LayerAt> = line
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| butterfly(i + 1, (offset_in(twiddles, t), t.len())))
        .collect();
    layers.push(butterfly(0, circle_at(twiddles, line[0])));
    Ok(layers)
}

/// `fft::interpolate_layers_from` on resident twiddles: the circle layer, the line layers from
/// the first to the last, then the division by the domain size.
pub(crate) fn interpolate_layers(
    domain: CircleDomain,
    itwiddles: &[BaseField],
) -> Result<Vec<LayerAt>> {
    check_domain(domain, itwiddles)?;
    let line = domain_line_twiddles_from_tree(domain, itwiddles);
    let inverse = |layer: usize, (at, len): (usize, usize)| LayerAt {
        mode: FftMode::InverseButterfly,
        layer: layer as u32,
        scale: 0,
        twiddles_at: at,
        twiddles_len: len,
    };
    let mut layers = vec![inverse(0, circle_at(itwiddles, line[0]))];
    layers.extend(
        line.iter()
            .enumerate()
            .map(|(i, t)| inverse(i + 1, (offset_in(itwiddles, t), t.len()))),
    );
    layers.push(LayerAt {
        mode: FftMode::Scale,
        layer: 0,
        scale: BaseField::from(domain.size() as u32).inverse().0,
        twiddles_at: 0,
        twiddles_len: 0,
    });
    Ok(layers)
}

/// `fri::line_fold_passes`' twiddles on resident inverse twiddles: (offset, length) per pass.
pub(crate) fn line_fold_twiddles(
    domain: LineDomain,
    itwiddles: &[BaseField],
    fold_step: u32,
) -> Result<Vec<(usize, usize)>> {
    let layers = crate::fri::line_fold_layers(domain, itwiddles, fold_step)?;
    Ok(layers
        .iter()
        .map(|t| (offset_in(itwiddles, t), t.len()))
        .collect())
}

/// `fri::circle_fold_pass`' twiddles on resident inverse twiddles: (offset, length).
pub(crate) fn circle_fold_twiddles(
    domain: CircleDomain,
    itwiddles: &[BaseField],
) -> Result<(usize, usize)> {
    if domain.log_size() < crate::fri::MIN_CIRCLE_LOG_SIZE
        || 1usize << (domain.log_size() - 1) > itwiddles.len()
    {
        return Err(KernelError::InvalidInput(format!(
            "a circle fold on the device needs a domain of 2^{}.. points within the twiddle \
             tree ({} twiddles), got 2^{}",
            crate::fri::MIN_CIRCLE_LOG_SIZE,
            itwiddles.len(),
            domain.log_size()
        )));
    }
    let line = domain_line_twiddles_from_tree(domain, itwiddles);
    Ok(circle_at(itwiddles, line[0]))
}

#[cfg(test)]
mod tests {
    use stwo::core::poly::circle::CanonicCoset;
    use stwo::prover::backend::cpu::CpuBackend;
    use stwo::prover::poly::circle::PolyOps;

    use super::*;

    /// Every layer read from the device words is the layer `fft`/`fri` would upload.
    #[test]
    fn resident_offsets_name_the_uploaded_layers() {
        let tree = CpuBackend::precompute_twiddles(CanonicCoset::new(9).half_coset());
        let words = resident_words(&tree.twiddles);
        let iwords = resident_words(&tree.itwiddles);
        for log_size in 3..=9 {
            let domain = CanonicCoset::new(log_size).circle_domain();
            let expected = crate::fft::evaluate_layers_from(domain, &tree.twiddles).unwrap();
            let got = evaluate_layers(domain, &tree.twiddles).unwrap();
            assert_eq!(expected.len(), got.len());
            for (e, g) in expected.iter().zip(&got) {
                assert_eq!((e.mode, e.layer), (g.mode, g.layer));
                assert_eq!(e.twiddles, words[g.twiddles_at..][..g.twiddles_len]);
            }
            let expected = crate::fft::interpolate_layers_from(domain, &tree.itwiddles).unwrap();
            let got = interpolate_layers(domain, &tree.itwiddles).unwrap();
            for (e, g) in expected.iter().zip(&got) {
                assert_eq!((e.mode, e.layer, e.scale), (g.mode, g.layer, g.scale));
                assert_eq!(e.twiddles, iwords[g.twiddles_at..][..g.twiddles_len]);
            }
            let alpha = stwo::core::fields::qm31::SecureField::from(3u32);
            let pass = crate::fri::circle_fold_pass(domain, alpha, &tree.itwiddles).unwrap();
            let (at, len) = circle_fold_twiddles(domain, &tree.itwiddles).unwrap();
            assert_eq!(pass.twiddles, iwords[at..][..len]);
            let line = crate::fri::line_domain_of_circle(log_size);
            for step in 1..=line.log_size() {
                let passes =
                    crate::fri::line_fold_passes(line, alpha, &tree.itwiddles, step).unwrap();
                let got = line_fold_twiddles(line, &tree.itwiddles, step).unwrap();
                for (p, (at, len)) in passes.iter().zip(got) {
                    assert_eq!(p.twiddles, iwords[at..][..len]);
                }
            }
        }
    }
}
