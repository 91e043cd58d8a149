//! The device operations of the resident backend: the kernels of `shaders/*.cu` launched on
//! buffers that are already on the device; only parameters and twiddles are uploaded, and
//! results stay on the device.

use stwo::core::circle::CirclePoint;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::quotients::ColumnSampleBatch;
use stwo::core::poly::circle::CircleDomain;
use stwo::core::vcs::blake2_hash::Blake2sHash;

use super::column::{DeviceColumn, DeviceElement};
use super::twiddles::LayerAt;
use super::{with_crossing, Crossing, ResidentDevice};
use crate::error::{KernelError, Result};
use crate::plan;

/// Runs FFT `layers` in place on the first `n` words of `values`, reading their twiddles from
/// `twiddles` (a tree's resident copy, `twiddles::resident_words`): the layers' parameter
/// blocks go up in one upload, the twiddles not at all.
pub(crate) fn fft_in_place<D: ResidentDevice>(
    dev: &D,
    values: &mut D::Buffer,
    n: usize,
    layers: &[LayerAt],
    twiddles: &D::Buffer,
) -> Result<()> {
    if n < 2 || !n.is_power_of_two() || n > 1 << 31 {
        return Err(KernelError::InvalidInput(format!(
            "an FFT column has a power-of-two length in 2..=2^31, got {n}"
        )));
    }
    let n_half = (n / 2) as u32;
    if let Some(bad) = layers.iter().find(|l| {
        l.mode != crate::fft::FftMode::Scale && (l.twiddles_len << l.layer) < n_half as usize
    }) {
        return Err(KernelError::InvalidInput(format!(
            "FFT layer {} has {} twiddles, too few for {n_half} butterflies",
            bad.layer, bad.twiddles_len
        )));
    }
    if layers.is_empty() {
        return Ok(());
    }
    let params: Vec<u32> = layers.iter().flat_map(|l| l.params(n_half)).collect();
    let params = with_crossing(Crossing::LaunchParameters, || dev.upload(&params))?;
    for (i, layer) in layers.iter().enumerate() {
        dev.launch_fft_layer_at(
            &params,
            4 * i,
            twiddles,
            layer.twiddles_at,
            layer.twiddles_len,
            values,
            n_half,
        )?;
    }
    Ok(())
}

/// FRI fold passes on a secure column by coordinates of `n` values: pass `i` folds with
/// `alphas[i]` and the `twiddles_at[i]` (offset, length) of `twiddles` (a tree's resident
/// inverse twiddles). The coordinates are gathered into one buffer on the device, as the kernel
/// reads them, and the result split back into 4 columns; the passes' parameter blocks go up
/// in one upload.
pub(crate) fn fri_fold<D: ResidentDevice>(
    dev: &D,
    coords: [&DeviceColumn<D, BaseField>; 4],
    n: usize,
    alphas: &[SecureField],
    twiddles_at: &[(usize, usize)],
    twiddles: &D::Buffer,
) -> Result<[DeviceColumn<D, BaseField>; 4]> {
    let passes = twiddles_at.len();
    if !n.is_power_of_two() || passes > n.ilog2() as usize || n > 1 << 29 || alphas.len() != passes
    {
        return Err(KernelError::InvalidInput(format!(
            "a FRI fold of {passes} passes ({} alphas) takes 2^{passes}..=2^29 values, got {n}",
            alphas.len()
        )));
    }
    if let Some((i, (_, len))) = twiddles_at
        .iter()
        .enumerate()
        .find(|(i, (_, len))| *len < n >> (i + 1))
    {
        return Err(KernelError::InvalidInput(format!(
            "FRI fold pass {i} has {len} twiddles, too few for {} pairs",
            n >> (i + 1)
        )));
    }
    if coords
        .iter()
        .any(|c| stwo::prover::backend::Column::len(*c) != n)
    {
        return Err(KernelError::InvalidInput(
            "FRI fold: coordinate columns of different lengths".into(),
        ));
    }
    let mut src = dev.zeros(4 * n)?;
    for (c, col) in coords.iter().enumerate() {
        dev.copy_range(col.buffer(), 0, &mut src, c * n, n)?;
    }
    if passes > 0 {
        let params: Vec<u32> = alphas
            .iter()
            .enumerate()
            .flat_map(|(i, alpha)| {
                let [a, b, c, d] = alpha.to_m31_array().map(|v| v.0);
                [(n >> (i + 1)) as u32, a, b, c, d, 0, 0, 0]
            })
            .collect();
        let params = with_crossing(Crossing::LaunchParameters, || dev.upload(&params))?;
        let mut n_half = n / 2;
        for (i, &(at, _)) in twiddles_at.iter().enumerate() {
            let mut dst = dev.zeros(4 * n_half)?;
            dev.launch_fri_fold_at(&params, 8 * i, twiddles, at, &src, &mut dst, n_half as u32)?;
            src = dst;
            n_half /= 2;
        }
    }
    let out = n >> passes;
    let mut cols: Vec<DeviceColumn<D, BaseField>> = Vec::with_capacity(4);
    for c in 0..4 {
        let mut col = DeviceColumn::<D, BaseField>::try_zeros(out)?;
        dev.copy_range(&src, c * out, col.buffer_mut(), 0, out)?;
        cols.push(col);
    }
    cols.try_into()
        .map_err(|_| KernelError::InvalidInput("FRI fold: 4 columns".into()))
}

/// Values `rows` of a resident column, gathered on the device by one launch: the row indices
/// go up and the values come down, one transfer each (a decommitment's queried rows).
pub(crate) fn gather_rows<D: ResidentDevice, T: DeviceElement>(
    column: &DeviceColumn<D, T>,
    rows: &[usize],
) -> Result<Vec<T>> {
    use stwo::prover::backend::Column;
    let len = column.len();
    if rows.iter().any(|&r| r >= len)
        || rows.len() > 1 << 24
        || (len as u64) * T::WORDS as u64 > u32::MAX as u64
    {
        return Err(KernelError::InvalidInput(format!(
            "gathering {} rows of a column of {len} values",
            rows.len()
        )));
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let dev = D::instance()?;
    let n = rows.len();
    let indices: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
    with_crossing(Crossing::Decommitment, || {
        let indices = dev.upload(&indices)?;
        let mut out = dev.zeros(n * T::WORDS)?;
        dev.launch_gather_rows(
            n as u32,
            T::WORDS as u32,
            &indices,
            column.buffer(),
            &mut out,
        )?;
        let words = dev.download_range(&out, 0, n * T::WORDS)?;
        Ok(T::from_words(&words))
    })
}

/// The leaves of the lifted Blake2s Merkle commitment of resident `columns`: each pass's
/// column slices are gathered on the device (as `plan::Pass::gather` lays them out on the
/// host for the non-resident path), and the leaf states stay on the device.
pub(crate) fn merkle_leaves<D: ResidentDevice>(
    dev: &D,
    columns: &[&DeviceColumn<D, BaseField>],
    lifting_log_size: u32,
) -> Result<DeviceColumn<D, Blake2sHash>> {
    if columns.is_empty() {
        return DeviceColumn::from_host(&crate::gpu_device::empty_leaves());
    }
    let lens: Vec<usize> = columns
        .iter()
        .map(|c| stwo::prover::backend::Column::len(*c))
        .collect();
    let log_sizes = plan::column_log_sizes(&lens, lifting_log_size)?;
    let tiles = plan::plan_leaves(&log_sizes, lifting_log_size, dev.budget())?;
    let n_leaves = 1usize << lifting_log_size;
    let mut out = DeviceColumn::<D, Blake2sHash>::try_zeros(n_leaves)?;
    for tile in &tiles {
        let mut states = dev.zeros(8 * tile.rows)?;
        for pass in &tile.passes {
            let params = plan::LeafParams::new(tile, pass, lifting_log_size, columns.len());
            let (params, descs) = with_crossing(Crossing::LaunchParameters, || {
                Ok::<_, KernelError>((
                    dev.upload(bytemuck::cast_slice(bytemuck::bytes_of(&params)))?,
                    dev.upload(bytemuck::cast_slice(&pass.descs(&log_sizes)))?,
                ))
            })?;
            let mut data = dev.zeros(pass.data_words.max(1))?;
            for s in &pass.slices {
                dev.copy_range(columns[s.col].buffer(), s.start, &mut data, s.offset, s.len)?;
            }
            dev.launch_leaves(&params, &descs, &data, &mut states, tile.rows as u32)?;
        }
        dev.copy_range(
            &states,
            0,
            out.buffer_mut(),
            8 * tile.row_offset,
            8 * tile.rows,
        )?;
    }
    with_crossing(Crossing::MerkleCheck, || {
        check_leaves(dev, columns, &log_sizes, lifting_log_size, &out)
    })?;
    Ok(out)
}

/// A device that computes wrong hashes must not produce a wrong proof: the first and last
/// leaves are hashed again on the host. Each leaf's row (one word per column) and its hash are
/// gathered into one buffer with device copies and come down in one transfer.
fn check_leaves<D: ResidentDevice>(
    dev: &D,
    columns: &[&DeviceColumn<D, BaseField>],
    log_sizes: &[u32],
    lifting_log_size: u32,
    leaves: &DeviceColumn<D, Blake2sHash>,
) -> Result<()> {
    let last = (1usize << lifting_log_size) - 1;
    let n = columns.len();
    for leaf in [0, last] {
        let mut gathered = dev.zeros(n + 8)?;
        for (i, (col, &log_size)) in columns.iter().zip(log_sizes).enumerate() {
            let row = plan::lifted_index(leaf, lifting_log_size, log_size);
            dev.copy_range(col.buffer(), row, &mut gathered, i, 1)?;
        }
        dev.copy_range(leaves.buffer(), 8 * leaf, &mut gathered, n, 8)?;
        let words = dev.download_range(&gathered, 0, n + 8)?;
        let (row, got) = words.split_at(n);
        let expected = crate::blake2s::hash_words(row);
        if got[..] != expected[..] {
            return Err(KernelError::Device {
                backend: D::NAME,
                message: format!("Merkle leaf {leaf} differs from the host hash"),
            });
        }
    }
    Ok(())
}

/// The parent layer of a resident layer of `2^k` hashes (`k >= 1`).
pub(crate) fn merkle_next_layer<D: ResidentDevice>(
    dev: &D,
    children: &DeviceColumn<D, Blake2sHash>,
) -> Result<DeviceColumn<D, Blake2sHash>> {
    let n = stwo::prover::backend::Column::len(children);
    if n < 2 || !n.is_power_of_two() {
        return Err(KernelError::InvalidInput(format!(
            "a Merkle layer has a power-of-two length >= 2, got {n}"
        )));
    }
    let rows = n / 2;
    let mut parents = DeviceColumn::<D, Blake2sHash>::try_zeros(rows)?;
    dev.launch_next_layer(rows as u32, children.buffer(), parents.buffer_mut())?;
    Ok(parents)
}

/// Stwo's proof of work for the prefixed digest, searched on the device.
pub(crate) fn grind<D: ResidentDevice>(
    dev: &D,
    prefixed_digest: [u32; 8],
    pow_bits: u32,
) -> Result<u64> {
    with_crossing(Crossing::Grind, || {
        crate::gpu_device::grind_with(pow_bits, |hi, n_tries| {
            crate::gpu_device::grind_batch_with(dev, prefixed_digest, hi, n_tries, pow_bits)
        })
    })
}

/// `Σ weights[i] · values[i]` (QM31 weights, M31 values) on the device: products, then
/// halvings of the sum; 4 words come back. `SimdBackend::barycentric_eval_at_point`.
pub(crate) fn weighted_sum<D: ResidentDevice>(
    values: &DeviceColumn<D, BaseField>,
    weights: &DeviceColumn<D, stwo::core::fields::qm31::SecureField>,
) -> Result<stwo::core::fields::qm31::SecureField> {
    use stwo::prover::backend::Column;
    let n = values.len();
    if n == 0 || !n.is_power_of_two() || weights.len() != n || n > 1 << 30 {
        return Err(KernelError::InvalidInput(format!(
            "a weighted sum of {n} values with {} weights",
            weights.len()
        )));
    }
    let dev = D::instance()?;
    let mut terms = dev.zeros(4 * n)?;
    dev.launch_qm31_mul_m31(n as u32, weights.buffer(), values.buffer(), &mut terms)?;
    let mut len = n;
    while len > 1 {
        len /= 2;
        dev.launch_qm31_fold_sum(len as u32, &mut terms)?;
    }
    let words = with_crossing(Crossing::SampledValues, || dev.download_range(&terms, 0, 4))?;
    Ok(<stwo::core::fields::qm31::SecureField as super::DeviceElement>::from_words(&words)[0])
}

/// `dst[i] += src[lift(i)]`: `src` lifted (Stwo's lifting, pairs kept together) to `dst`'s
/// length; the same length adds element by element.
pub(crate) fn add_lifted<D: ResidentDevice>(
    dev: &D,
    src: &DeviceColumn<D, BaseField>,
    dst: &mut DeviceColumn<D, BaseField>,
) -> Result<()> {
    use stwo::prover::backend::Column;
    let (n, m) = (dst.len(), src.len());
    if m < 2 || !m.is_power_of_two() || !n.is_power_of_two() || m > n || n > 1 << 31 {
        return Err(KernelError::InvalidInput(format!(
            "cannot add a lifted column of {m} values to one of {n}"
        )));
    }
    let log_ratio = n.ilog2() - m.ilog2();
    dev.launch_m31_add_lifted(n as u32, log_ratio, src.buffer(), dst.buffer_mut())
}

/// Stwo's `PackLeavesOps::pack_leaves_input`: output column `coord + 4 · offset` holds
/// coordinate `coord` of values `4r + offset`, gathered on the device.
pub(crate) fn pack_leaves<D: ResidentDevice>(
    values: &[&DeviceColumn<D, BaseField>; 4],
) -> Result<[DeviceColumn<D, BaseField>; 16]> {
    use stwo::prover::backend::Column;
    let n = values[0].len();
    if values.iter().any(|c| c.len() != n) || !n.is_multiple_of(4) || n > 1 << 31 {
        return Err(KernelError::InvalidInput(format!(
            "leaf packing takes 4 columns of one length, a multiple of 4, got {:?}",
            values.map(|c| c.len())
        )));
    }
    let dev = D::instance()?;
    let rows = n / 4;
    let mut out = Vec::with_capacity(16);
    for offset in 0..4u32 {
        for column in values {
            let mut packed = DeviceColumn::<D, BaseField>::try_zeros(rows)?;
            dev.launch_m31_gather(rows as u32, 4, offset, column.buffer(), packed.buffer_mut())?;
            out.push(packed);
        }
    }
    out.try_into()
        .map_err(|_| KernelError::InvalidInput("leaf packing: 16 columns".into()))
}

/// Chunk of coefficients one thread of `m31_eval_point_chunks` folds (2^6: 2^20 coefficients
/// make 16,384 threads), and of QM31 values one thread of `qm31_sum_chunks` adds.
const EVAL_POINT_LOG_CHUNK: u32 = 6;
const SUM_CHUNK: usize = 256;

/// A polynomial's value at `point` from its coefficients on the device (natural order), Stwo's
/// `eval_at_point`: the point's `log n` evaluation factors go up, one launch folds chunks of
/// coefficients, a few add the chunk sums, and 4 words come back.
pub(crate) fn eval_at_point<D: ResidentDevice>(
    coeffs: &DeviceColumn<D, BaseField>,
    point: CirclePoint<SecureField>,
) -> Result<SecureField> {
    use stwo::prover::backend::Column;
    let n = coeffs.len();
    if n == 0 || !n.is_power_of_two() || n > 1 << 30 {
        return Err(KernelError::InvalidInput(format!(
            "out-of-domain evaluation of {n} coefficients"
        )));
    }
    let log_n = n.ilog2();
    // CpuBackend's mappings, lowest index bit first: y, x, then x doubled again and again.
    let mut factors = Vec::with_capacity(log_n as usize);
    if log_n > 0 {
        factors.push(point.y);
        let mut x = point.x;
        for _ in 1..log_n {
            factors.push(x);
            x = CirclePoint::double_x(x);
        }
    }
    let log_chunk = log_n.min(EVAL_POINT_LOG_CHUNK);
    let dev = D::instance()?;
    let mut len = 1usize << (log_n - log_chunk);
    let mut sums = dev.zeros(4 * len)?;
    with_crossing(Crossing::LaunchParameters, || {
        dev.launch_eval_point_chunks(
            log_n,
            log_chunk,
            &SecureField::to_words(&factors),
            coeffs.buffer(),
            &mut sums,
        )
    })?;
    while len > 1 {
        let out = len.div_ceil(SUM_CHUNK);
        let mut next = dev.zeros(4 * out)?;
        dev.launch_qm31_sum_chunks(out as u32, SUM_CHUNK as u32, len as u32, &sums, &mut next)?;
        sums = next;
        len = out;
    }
    let words = with_crossing(Crossing::SampledValues, || dev.download_range(&sums, 0, 4))?;
    Ok(SecureField::from_words(&words)[0])
}

/// A secure column by coordinates from one device buffer holding its 4 coordinates one after
/// the other (`n` values each): split with device copies.
fn split_coords<D: ResidentDevice>(
    dev: &D,
    src: &D::Buffer,
    n: usize,
) -> Result<[DeviceColumn<D, BaseField>; 4]> {
    let mut cols: Vec<DeviceColumn<D, BaseField>> = Vec::with_capacity(4);
    for c in 0..4 {
        let mut col = DeviceColumn::<D, BaseField>::try_zeros(n)?;
        dev.copy_range(src, c * n, col.buffer_mut(), 0, n)?;
        cols.push(col);
    }
    cols.try_into()
        .map_err(|_| KernelError::InvalidInput("4 coordinate columns".into()))
}

/// Stwo's `accumulate_numerators` for one sample batch of resident columns, on the device:
/// `Σ_j (c_j · col_j[r] − b_j)` for the first `n` rows `r` of each column (the subdomain), by
/// coordinates. `line_coeffs` are the batch's `(a, b, c)` ([`quotient_constants`]); the `c`s
/// and `−Σ b` are uploaded (4 words each), one launch per column, nothing comes back.
///
/// [`quotient_constants`]: stwo::core::pcs::quotients::quotient_constants
pub(crate) fn accumulate_numerators<D: ResidentDevice>(
    columns: &[&DeviceColumn<D, BaseField>],
    batch: &ColumnSampleBatch,
    line_coeffs: &[(SecureField, SecureField, SecureField)],
    n: usize,
) -> Result<[DeviceColumn<D, BaseField>; 4]> {
    use stwo::prover::backend::Column;
    let data = &batch.cols_vals_randpows;
    if n == 0 || n > 1 << 29 || data.len() != line_coeffs.len() || data.len() >= 1 << 30 {
        return Err(KernelError::InvalidInput(format!(
            "a numerator accumulation of {n} rows over {} columns",
            data.len()
        )));
    }
    if let Some(d) = data
        .iter()
        .find(|d| columns.get(d.column_index).is_none_or(|c| c.len() < n))
    {
        return Err(KernelError::InvalidInput(format!(
            "numerator column {} missing or shorter than {n} rows",
            d.column_index
        )));
    }
    let dev = D::instance()?;
    if data.is_empty() {
        // No column: every value is 0 − 0.
        let zeros = dev.zeros(4 * n)?;
        return split_coords(dev, &zeros, n);
    }
    // Field additions are exact: −Σ b once, then each c_j · col_j, is Σ (c_j · col_j − b_j).
    let minus_b: SecureField = -line_coeffs.iter().map(|(_, b, _)| *b).sum::<SecureField>();
    let mut consts: Vec<SecureField> = line_coeffs.iter().map(|(_, _, c)| *c).collect();
    consts.push(minus_b);
    let consts = with_crossing(Crossing::LaunchParameters, || {
        dev.upload(&SecureField::to_words(&consts))
    })?;
    let init_index = data.len() as u32;
    let mut acc = dev.zeros(4 * n)?;
    for (j, d) in data.iter().enumerate() {
        let init = (j == 0).then_some(init_index);
        dev.launch_accumulate_column(
            n as u32,
            j as u32,
            init,
            &consts,
            columns[d.column_index].buffer(),
            &mut acc,
        )?;
    }
    split_coords(dev, &acc, n)
}

/// One accumulated numerator of `compute_quotients_and_combine`: its sample point, its
/// accumulated first linear term `a`, and its 4 coordinate columns (resident).
pub(crate) struct Numerator<'a, D: ResidentDevice> {
    pub point: CirclePoint<SecureField>,
    pub first_linear_term: SecureField,
    pub coords: [&'a DeviceColumn<D, BaseField>; 4],
}

/// Stwo's `compute_quotients_and_combine` up to its interpolation, on the device: the combined
/// quotient on `subdomain` (bit-reversed order) by coordinates. The accumulations are gathered
/// into one buffer with device copies; the sample points, `a`s and the domain's generator
/// table (a few hundred words) are uploaded; the domain points and denominator inverses are
/// computed by the kernel. Accumulations shorter than 16 values take the host fallback
/// (`InvalidInput`): SimdBackend lifts 16-value vectors, below that its lifting is its own.
pub(crate) fn combine_quotients<D: ResidentDevice>(
    numerators: &[Numerator<'_, D>],
    subdomain: CircleDomain,
) -> Result<[DeviceColumn<D, BaseField>; 4]> {
    use crate::gpu_device::{COMBINE_HEADER_WORDS, COMBINE_SAMPLE_WORDS};
    use stwo::prover::backend::Column;
    let log_n = subdomain.log_size();
    let n = subdomain.size();
    let lanes = 1usize << stwo::prover::backend::simd::m31::LOG_N_LANES;
    if !(4..=29).contains(&log_n) {
        return Err(KernelError::InvalidInput(format!(
            "quotients on a subdomain of 2^{log_n} points"
        )));
    }
    let mut params = vec![n as u32, log_n, numerators.len() as u32, log_n - 1];
    let mut offset = 0usize;
    for num in numerators {
        let len = num.coords[0].len();
        if num.coords.iter().any(|c| c.len() != len)
            || !len.is_power_of_two()
            || len < lanes
            || len > n
        {
            return Err(KernelError::InvalidInput(format!(
                "a quotient accumulation of {len} values on 2^{log_n} points"
            )));
        }
        let (x, y) = (num.point.x, num.point.y);
        let mut record = [0u32; COMBINE_SAMPLE_WORDS];
        record[..8].copy_from_slice(&[
            x.0 .0 .0, x.0 .1 .0, y.0 .0 .0, y.0 .1 .0, x.1 .0 .0, x.1 .1 .0, y.1 .0 .0, y.1 .1 .0,
        ]);
        record[8..12].copy_from_slice(&SecureField::to_words(&[num.first_linear_term]));
        record[12] = log_n - len.ilog2();
        record[13] = u32::try_from(offset)
            .map_err(|_| KernelError::InvalidInput("quotient accumulations over 2^32".into()))?;
        record[14] = len as u32;
        params.extend_from_slice(&record);
        offset += 4 * len;
    }
    debug_assert_eq!(
        params.len(),
        COMBINE_HEADER_WORDS + COMBINE_SAMPLE_WORDS * numerators.len()
    );
    // The half coset's initial point, then its step times 2^b.
    let coset = subdomain.half_coset;
    let mut points = vec![coset.initial.x.0, coset.initial.y.0];
    let mut step = coset.step;
    for _ in 0..log_n - 1 {
        points.extend([step.x.0, step.y.0]);
        step = step.double();
    }
    let dev = D::instance()?;
    let mut accs = dev.zeros(offset.max(1))?;
    let mut at = 0;
    for num in numerators {
        let len = num.coords[0].len();
        for col in num.coords {
            dev.copy_range(col.buffer(), 0, &mut accs, at, len)?;
            at += len;
        }
    }
    let mut out = dev.zeros(4 * n)?;
    with_crossing(Crossing::LaunchParameters, || {
        dev.launch_quotient_combine(&params, &points, &accs, &mut out)
    })?;
    split_coords(dev, &out, n)
}
