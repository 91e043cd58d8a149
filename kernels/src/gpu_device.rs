//! The interface both device backends implement, and the host logic they share (planning,
//! the grind search order, the empty commitment).

use stwo::core::vcs::blake2_hash::Blake2sHash;
use tracing::trace_span;

use crate::blake2s;
use crate::error::{KernelError, Result};
use crate::fft::FftLayer;
use crate::fri::FoldPass;
use crate::plan::MemoryBudget;

/// Nonce bits searched per `hi` value, as in Stwo's `SimdBackend` grind.
pub const GRIND_LOW_BITS: u32 = 20;
/// Largest number of `hi` values tried in one dispatch (`n_tries` must fit a `u32`).
pub const GRIND_MAX_HI_PER_DISPATCH: u32 = 16;

/// A device that runs the Blake2s Merkle and proof-of-work kernels. Results are bit-identical
/// to Stwo's `SimdBackend` for `Blake2sMerkleHasher` / `Blake2sChannel`.
pub trait GpuDevice: Send + Sync {
    /// "wgpu" or "cuda".
    fn kind(&self) -> &'static str;
    /// The device, in words (adapter name, driver).
    fn describe(&self) -> String;
    /// Device memory one call may use; inputs larger than this are processed in pieces.
    fn memory_budget(&self) -> MemoryBudget;

    /// Leaf hashes of the lifted Merkle commitment of `columns` (Stwo's
    /// `MerkleOpsLifted::build_leaves`): columns sorted by increasing length, lengths powers of
    /// two `>= 2` and `<= 2^lifting_log_size`. Returns `2^lifting_log_size` hashes, or the hash
    /// of the empty message if there are no columns.
    fn merkle_leaves(&self, columns: &[&[u32]], lifting_log_size: u32) -> Result<Vec<Blake2sHash>>;

    /// The parent layer of `children` (`2^k` hashes, `k >= 1`): `Blake2s(left || right)`.
    fn merkle_next_layer(&self, children: &[Blake2sHash]) -> Result<Vec<Blake2sHash>>;

    /// Tries nonces `((hi_base + i / 2^20) << 32) | (i % 2^20)` for `i < n_tries` and returns
    /// the smallest `i` whose hash has `pow_bits` trailing zeros.
    fn grind_batch(
        &self,
        prefixed_digest: [u32; 8],
        hi_base: u32,
        n_tries: u32,
        pow_bits: u32,
    ) -> Result<Option<u32>>;

    /// Stwo's proof of work for a `Blake2sChannel` whose
    /// `H(POW_PREFIX, [0; 12], digest, pow_bits)` is `prefixed_digest`: the same nonce as
    /// `SimdBackend::grind` (smallest `hi`, then smallest `lo < 2^20`).
    fn grind(&self, prefixed_digest: [u32; 8], pow_bits: u32) -> Result<u64> {
        grind_with(pow_bits, |hi, n_tries| {
            self.grind_batch(prefixed_digest, hi, n_tries, pow_bits)
        })
    }

    /// Runs `layers` of Stwo's circle-FFT butterflies (and scalings) on one column of
    /// canonical M31 words, in order, and returns the column ([`crate::fft`] plans them).
    /// The column and its largest twiddle layer must fit the device at once.
    fn fft_layers(&self, values: &[u32], layers: &[FftLayer]) -> Result<Vec<u32>>;

    /// Runs FRI fold `passes` ([`crate::fri`] plans them) on a secure-field column by
    /// coordinates (4 columns of `2^k` canonical M31 words, one after the other); each pass
    /// halves it. Returns the folded column, laid out the same way.
    fn fri_fold(&self, coords: &[u32], passes: &[FoldPass]) -> Result<Vec<u32>>;

    /// All layers of a lifted Merkle tree, root layer first (Stwo's `MerkleProverLifted::layers`).
    fn merkle_commit(
        &self,
        columns: &[&[u32]],
        lifting_log_size: u32,
    ) -> Result<Vec<Vec<Blake2sHash>>> {
        let mut layers = vec![self.merkle_leaves(columns, lifting_log_size)?];
        if columns.is_empty() {
            return Ok(layers);
        }
        for _ in 0..lifting_log_size {
            let next = match layers.last() {
                Some(prev) => self.merkle_next_layer(prev)?,
                None => break,
            };
            layers.push(next);
        }
        layers.reverse();
        Ok(layers)
    }
}

/// Stwo's nonce search order on top of `batch(hi_base, n_tries)` (a [`GpuDevice::grind_batch`]
/// for one digest): batches of growing size, the smallest `hi`, then the smallest `lo < 2^20`.
pub fn grind_with(
    pow_bits: u32,
    mut batch: impl FnMut(u32, u32) -> Result<Option<u32>>,
) -> Result<u64> {
    if pow_bits > 32 {
        return Err(KernelError::InvalidInput(format!(
            "pow_bits {pow_bits} > 32"
        )));
    }
    let mut hi = 0u32;
    let mut n_hi = 1u32;
    // Stwo requires hi < 2^31 - 1 (an M31 value).
    while hi < (1 << 31) - 1 {
        let n = n_hi.min((1 << 31) - 1 - hi);
        if let Some(i) = batch(hi, n << GRIND_LOW_BITS)? {
            let nonce_hi = hi + (i >> GRIND_LOW_BITS);
            let nonce_lo = i & ((1 << GRIND_LOW_BITS) - 1);
            return Ok((u64::from(nonce_hi) << 32) | u64::from(nonce_lo));
        }
        hi += n;
        n_hi = (n_hi * 2).min(GRIND_MAX_HI_PER_DISPATCH);
    }
    Err(KernelError::InvalidInput(format!(
        "no nonce with {pow_bits} bits of work"
    )))
}

/// The leaf "layer" of a commitment to no columns: one hash of the empty message.
pub fn empty_leaves() -> Vec<Blake2sHash> {
    vec![Blake2sHash(blake2s::state_to_bytes(&blake2s::hash_words(
        &[],
    )))]
}

/// Checks a layer handed to `merkle_next_layer`; returns the parent count.
pub fn parent_count(children: &[Blake2sHash]) -> Result<usize> {
    if children.len() < 2 || !children.len().is_power_of_two() {
        return Err(KernelError::InvalidInput(format!(
            "a Merkle layer has a power-of-two length >= 2, got {}",
            children.len()
        )));
    }
    Ok(children.len() / 2)
}

/// Parents per dispatch of the next-layer kernel under `budget` (96 bytes per parent).
pub fn parents_per_chunk(n_parents: usize, budget: MemoryBudget) -> Result<usize> {
    let mut rows = n_parents;
    while rows > 1
        && (64 * rows as u64 > budget.max_buffer
            || 96 * rows as u64 + crate::plan::PARAMS_BYTES > budget.total)
    {
        rows = rows.div_ceil(2);
    }
    if 96 * rows as u64 + crate::plan::PARAMS_BYTES > budget.total {
        return Err(KernelError::OutOfMemory(format!(
            "one Merkle node needs more than {budget:?}"
        )));
    }
    Ok(rows)
}

/// Reads the state words of `hashes` out of device words. On all host threads: a proof's
/// layers are gigabytes, and one thread took longer than the whole round trip to the GPU.
pub fn hashes_from_words(words: &[u32]) -> Vec<Blake2sHash> {
    use rayon::prelude::*;
    words
        .par_chunks_exact(8)
        .map(|w| {
            let mut h = [0u32; 8];
            h.copy_from_slice(w);
            Blake2sHash(blake2s::state_to_bytes(&h))
        })
        .collect()
}

/// Device words of `hashes` (each hash is 8 little-endian `u32`s), on all host threads.
pub fn words_from_hashes(hashes: &[Blake2sHash]) -> Vec<u32> {
    use rayon::prelude::*;
    bytemuck::cast_slice::<Blake2sHash, u32>(hashes)
        .par_iter()
        .map(|w| u32::from_le(*w))
        .collect()
}

/// A resident-backend launch's default: a backend without the kernel refuses, and the caller
/// runs the step on the host.
fn unavailable(kernel: &str) -> Result<()> {
    Err(KernelError::InvalidInput(format!(
        "{kernel} is not available on this device"
    )))
}

/// The device operations a kernel-launch backend provides; [`merkle_leaves_with`],
/// [`merkle_next_layer_with`] and [`grind_batch_with`] drive the kernels through it, so every
/// backend built on it (CUDA, and the CPU emulation of the CUDA source in the tests) runs the
/// same host logic.
pub trait Launcher {
    /// A device buffer of `u32` words.
    type Buffer;
    fn upload(&self, words: &[u32]) -> Result<Self::Buffer>;
    /// `pass`'s column slices in one buffer, laid out as [`crate::plan::Pass::gather`] lays
    /// them out. By default gathered on the host, then uploaded.
    fn upload_pass(&self, pass: &crate::plan::Pass, columns: &[&[u32]]) -> Result<Self::Buffer> {
        let data = trace_span!("GPU gather").in_scope(|| pass.gather(columns));
        self.upload(&data)
    }
    fn zeros(&self, words: usize) -> Result<Self::Buffer>;
    fn download(&self, buffer: &Self::Buffer) -> Result<Vec<u32>>;
    /// `merkle_leaves(params, descs, data, states)` over `rows` threads.
    fn launch_leaves(
        &self,
        params: &Self::Buffer,
        descs: &Self::Buffer,
        data: &Self::Buffer,
        states: &mut Self::Buffer,
        rows: u32,
    ) -> Result<()>;
    /// `merkle_next_layer(rows, children, parents)` over `rows` threads.
    fn launch_next_layer(
        &self,
        rows: u32,
        children: &Self::Buffer,
        parents: &mut Self::Buffer,
    ) -> Result<()>;
    /// `grind(params, best)` over `n_tries` threads.
    fn launch_grind(
        &self,
        params: &Self::Buffer,
        best: &mut Self::Buffer,
        n_tries: u32,
    ) -> Result<()>;
    /// `circle_fft_layer(params, twiddles, values)` over `n_half` threads.
    fn launch_fft_layer(
        &self,
        params: &Self::Buffer,
        twiddles: &Self::Buffer,
        values: &mut Self::Buffer,
        n_half: u32,
    ) -> Result<()>;
    /// `qm31_mul_m31(n, weights, evals, out)` over `n` threads (resident backend). Devices
    /// without it refuse (`InvalidInput`), and the caller runs the host fallback.
    fn launch_qm31_mul_m31(
        &self,
        _n: u32,
        _weights: &Self::Buffer,
        _evals: &Self::Buffer,
        _out: &mut Self::Buffer,
    ) -> Result<()> {
        unavailable("qm31_mul_m31")
    }
    /// `qm31_fold_sum(n_half, values)` over `n_half` threads (resident backend); as above.
    fn launch_qm31_fold_sum(&self, _n_half: u32, _values: &mut Self::Buffer) -> Result<()> {
        unavailable("qm31_fold_sum")
    }
    /// `m31_add_lifted(n, log_ratio, src, dst)` over `n` threads (resident backend); as above.
    fn launch_m31_add_lifted(
        &self,
        _n: u32,
        _log_ratio: u32,
        _src: &Self::Buffer,
        _dst: &mut Self::Buffer,
    ) -> Result<()> {
        unavailable("m31_add_lifted")
    }
    /// `m31_gather(n, stride, offset, src, dst)` over `n` threads (resident backend); as above.
    fn launch_m31_gather(
        &self,
        _n: u32,
        _stride: u32,
        _offset: u32,
        _src: &Self::Buffer,
        _dst: &mut Self::Buffer,
    ) -> Result<()> {
        unavailable("m31_gather")
    }
    /// `gather_rows(n, words, rows, src, dst)` over `n` threads: `dst` gets the values (of
    /// `words` words each) of `src` at the `n` indices `rows` (resident backend); as above.
    fn launch_gather_rows(
        &self,
        _n: u32,
        _words: u32,
        _rows: &Self::Buffer,
        _src: &Self::Buffer,
        _dst: &mut Self::Buffer,
    ) -> Result<()> {
        unavailable("gather_rows")
    }
    /// `m31_eval_point_chunks` on `coeffs` (`2^log_n` words) in chunks of `2^log_chunk`, with
    /// the point's evaluation `factors` (host words, QM31, 4 per index bit; the device
    /// uploads them): `out` gets one QM31 per chunk (resident backend); as above.
    fn launch_eval_point_chunks(
        &self,
        _log_n: u32,
        _log_chunk: u32,
        _factors: &[u32],
        _coeffs: &Self::Buffer,
        _out: &mut Self::Buffer,
    ) -> Result<()> {
        unavailable("m31_eval_point_chunks")
    }
    /// `qm31_sum_chunks(n_out, chunk, n_in, src, dst)` over `n_out` threads; as above.
    fn launch_qm31_sum_chunks(
        &self,
        _n_out: u32,
        _chunk: u32,
        _n_in: u32,
        _src: &Self::Buffer,
        _dst: &mut Self::Buffer,
    ) -> Result<()> {
        unavailable("qm31_sum_chunks")
    }
    /// `qm31_accumulate_column(n, j, init, init_index, consts, col, acc)` over `n` threads
    /// (`init`: `Some(init_index)` for the batch's first column); as above.
    fn launch_accumulate_column(
        &self,
        _n: u32,
        _j: u32,
        _init: Option<u32>,
        _consts: &Self::Buffer,
        _col: &Self::Buffer,
        _acc: &mut Self::Buffer,
    ) -> Result<()> {
        unavailable("qm31_accumulate_column")
    }
    /// `quotient_combine(params, points, accs, out)` over the subdomain's points; `params` and
    /// `points` are host words ([`check_quotient_combine`] reads them; the device uploads
    /// them); as above.
    fn launch_quotient_combine(
        &self,
        _params: &[u32],
        _points: &[u32],
        _accs: &Self::Buffer,
        _out: &mut Self::Buffer,
    ) -> Result<()> {
        unavailable("quotient_combine")
    }
    /// `fri_fold(params, twiddles, src, dst)` over `n_half` threads.
    fn launch_fri_fold(
        &self,
        params: &Self::Buffer,
        twiddles: &Self::Buffer,
        src: &Self::Buffer,
        dst: &mut Self::Buffer,
        n_half: u32,
    ) -> Result<()>;
}

/// [`GpuDevice::fri_fold`] on a [`Launcher`]: each pass's output stays on the device as the
/// next pass's input.
pub fn fri_fold_with<L: Launcher>(
    launcher: &L,
    budget: MemoryBudget,
    coords: &[u32],
    passes: &[FoldPass],
) -> Result<Vec<u32>> {
    let mut n_half = crate::fri::check_fold(coords, passes, budget.total)?;
    let mut src = upload(launcher, coords)?;
    for pass in passes {
        let params = upload(launcher, &pass.params(n_half))?;
        let twiddles = upload(launcher, &pass.twiddles)?;
        let mut dst = zeros(launcher, 4 * n_half as usize)?;
        let _launch = trace_span!("GPU launch").entered();
        launcher.launch_fri_fold(&params, &twiddles, &src, &mut dst, n_half)?;
        src = dst;
        n_half /= 2;
    }
    download(launcher, &src)
}

// The launcher steps under tracing spans, so that a profile (benches/proof_phases) shows where
// device time goes. Launches are asynchronous: a download also waits for the kernels before it.
fn upload<L: Launcher>(launcher: &L, words: &[u32]) -> Result<L::Buffer> {
    trace_span!("GPU upload").in_scope(|| launcher.upload(words))
}

fn zeros<L: Launcher>(launcher: &L, words: usize) -> Result<L::Buffer> {
    trace_span!("GPU alloc").in_scope(|| launcher.zeros(words))
}

fn download<L: Launcher>(launcher: &L, buffer: &L::Buffer) -> Result<Vec<u32>> {
    trace_span!("GPU wait and download").in_scope(|| launcher.download(buffer))
}

/// [`GpuDevice::fft_layers`] on a [`Launcher`]: the column stays on the device across layers.
pub fn fft_layers_with<L: Launcher>(
    launcher: &L,
    budget: MemoryBudget,
    values: &[u32],
    layers: &[FftLayer],
) -> Result<Vec<u32>> {
    let n_half = crate::fft::check_column(values, layers, budget.total)?;
    let mut column = upload(launcher, values)?;
    for layer in layers {
        let params = upload(launcher, &layer.params(n_half))?;
        let twiddles = upload(launcher, layer.twiddle_words())?;
        let _launch = trace_span!("GPU launch").entered();
        launcher.launch_fft_layer(&params, &twiddles, &mut column, n_half)?;
    }
    download(launcher, &column)
}

/// [`GpuDevice::merkle_leaves`] on a [`Launcher`].
pub fn merkle_leaves_with<L: Launcher>(
    launcher: &L,
    budget: MemoryBudget,
    columns: &[&[u32]],
    lifting_log_size: u32,
) -> Result<Vec<Blake2sHash>> {
    if columns.is_empty() {
        return Ok(empty_leaves());
    }
    let (log_sizes, tiles) = trace_span!("GPU plan").in_scope(|| -> Result<_> {
        let lens: Vec<usize> = columns.iter().map(|c| c.len()).collect();
        let log_sizes = crate::plan::column_log_sizes(&lens, lifting_log_size)?;
        let tiles = crate::plan::plan_leaves(&log_sizes, lifting_log_size, budget)?;
        Ok((log_sizes, tiles))
    })?;
    let mut out = Vec::with_capacity(1 << lifting_log_size);
    for tile in &tiles {
        let mut states = zeros(launcher, 8 * tile.rows)?;
        for pass in &tile.passes {
            let params = crate::plan::LeafParams::new(tile, pass, lifting_log_size, columns.len());
            let params = upload(launcher, bytemuck::cast_slice(bytemuck::bytes_of(&params)))?;
            let descs = upload(launcher, bytemuck::cast_slice(&pass.descs(&log_sizes)))?;
            let data =
                trace_span!("GPU upload").in_scope(|| launcher.upload_pass(pass, columns))?;
            let _launch = trace_span!("GPU launch").entered();
            launcher.launch_leaves(&params, &descs, &data, &mut states, tile.rows as u32)?;
        }
        let states = download(launcher, &states)?;
        trace_span!("GPU convert").in_scope(|| out.extend(hashes_from_words(&states)));
    }
    Ok(out)
}

/// [`GpuDevice::merkle_next_layer`] on a [`Launcher`].
pub fn merkle_next_layer_with<L: Launcher>(
    launcher: &L,
    budget: MemoryBudget,
    children: &[Blake2sHash],
) -> Result<Vec<Blake2sHash>> {
    let n_parents = parent_count(children)?;
    let chunk = parents_per_chunk(n_parents, budget)?;
    let words = trace_span!("GPU convert").in_scope(|| words_from_hashes(children));
    let mut out = Vec::with_capacity(n_parents);
    for first in (0..n_parents).step_by(chunk) {
        let rows = chunk.min(n_parents - first);
        let input = upload(launcher, &words[16 * first..16 * (first + rows)])?;
        let mut output = zeros(launcher, 8 * rows)?;
        trace_span!("GPU launch")
            .in_scope(|| launcher.launch_next_layer(rows as u32, &input, &mut output))?;
        let output = download(launcher, &output)?;
        trace_span!("GPU convert").in_scope(|| out.extend(hashes_from_words(&output)));
    }
    Ok(out)
}

/// [`GpuDevice::grind_batch`] on a [`Launcher`].
pub fn grind_batch_with<L: Launcher>(
    launcher: &L,
    prefixed_digest: [u32; 8],
    hi_base: u32,
    n_tries: u32,
    pow_bits: u32,
) -> Result<Option<u32>> {
    let mut params = [0u32; 12];
    params[..8].copy_from_slice(&prefixed_digest);
    params[8] = hi_base;
    params[9] = n_tries;
    params[10] = pow_bits;
    let params = upload(launcher, &params)?;
    let mut best = upload(launcher, &[u32::MAX])?;
    trace_span!("GPU launch").in_scope(|| launcher.launch_grind(&params, &mut best, n_tries))?;
    let best = download(launcher, &best)?;
    Ok(best.first().copied().filter(|&b| b != u32::MAX))
}

// The launches of the out-of-domain and quotient kernels (`shaders/resident.cu`): the kernels
// index their buffers without bounds checks, so every device checks a launch with these first.

/// The largest chunk one thread of `m31_eval_point_chunks` folds (`EVAL_POINT_MAX_LOG_CHUNK`).
pub const EVAL_POINT_MAX_LOG_CHUNK: u32 = 8;
/// Words of `quotient_combine`'s header and of each of its sample records.
pub const COMBINE_HEADER_WORDS: usize = 4;
pub const COMBINE_SAMPLE_WORDS: usize = 16;

fn need(what: &str, have: usize, need: u64) -> Result<()> {
    if (have as u64) < need {
        return Err(KernelError::InvalidInput(format!(
            "{what}: buffer of {have} words, the launch reads {need}"
        )));
    }
    Ok(())
}

/// Checks a launch of `m31_eval_point_chunks`; returns its thread count (the chunks).
pub fn check_eval_point_chunks(
    log_n: u32,
    log_chunk: u32,
    factors: usize,
    coeffs: usize,
    out: usize,
) -> Result<u32> {
    if log_chunk > EVAL_POINT_MAX_LOG_CHUNK || log_chunk > log_n || log_n > 30 {
        return Err(KernelError::InvalidInput(format!(
            "eval-point chunks of 2^{log_chunk} over 2^{log_n} coefficients"
        )));
    }
    let n_chunks = 1u64 << (log_n - log_chunk);
    need("eval-point factors", factors, 4 * u64::from(log_n))?;
    need("eval-point coefficients", coeffs, 1 << log_n)?;
    need("eval-point chunk sums", out, 4 * n_chunks)?;
    Ok(n_chunks as u32)
}

/// Checks a launch of `qm31_sum_chunks`.
pub fn check_sum_chunks(n_out: u32, chunk: u32, n_in: u32, src: usize, dst: usize) -> Result<()> {
    let covered = u64::from(n_out) * u64::from(chunk);
    // The kernel computes t · chunk + chunk in 32 bits.
    if chunk == 0 || covered < u64::from(n_in) || covered + u64::from(chunk) > u64::from(u32::MAX) {
        return Err(KernelError::InvalidInput(format!(
            "{n_out} sums of {chunk} QM31 values over {n_in}"
        )));
    }
    need("chunk sums source", src, 4 * u64::from(n_in))?;
    need("chunk sums destination", dst, 4 * u64::from(n_out))
}

/// Checks a launch of `qm31_accumulate_column`.
pub fn check_accumulate_column(
    n: u32,
    j: u32,
    init: Option<u32>,
    consts: usize,
    col: usize,
    acc: usize,
) -> Result<()> {
    if u64::from(n) * 4 > u64::from(u32::MAX) {
        return Err(KernelError::InvalidInput(format!(
            "a numerator accumulation of {n} values"
        )));
    }
    let last = j.max(init.unwrap_or(0));
    need("numerator constants", consts, 4 * (u64::from(last) + 1))?;
    need("numerator column", col, u64::from(n))?;
    need("numerator accumulator", acc, 4 * u64::from(n))
}

/// Checks a launch of `quotient_combine` (its host-side parameters and point table, the sizes
/// of its device buffers); returns its thread count (the subdomain's points).
pub fn check_quotient_combine(
    params: &[u32],
    points: &[u32],
    accs: usize,
    out: usize,
) -> Result<u32> {
    let bad = |what: String| {
        Err(KernelError::InvalidInput(format!(
            "quotient_combine: {what}"
        )))
    };
    let [n, log_n, n_samples, log_half] = match params.get(..COMBINE_HEADER_WORDS) {
        Some(&[a, b, c, d]) => [a, b, c, d],
        _ => return bad("no header".into()),
    };
    if !(1..=29).contains(&log_n) || n != 1 << log_n || log_half + 1 != log_n {
        return bad(format!("{n} points, log {log_n}, half log {log_half}"));
    }
    need(
        "quotient_combine parameters",
        params.len(),
        (COMBINE_HEADER_WORDS + COMBINE_SAMPLE_WORDS * n_samples as usize) as u64,
    )?;
    need(
        "quotient_combine points",
        points.len(),
        2 + 2 * u64::from(log_half),
    )?;
    need("quotient_combine output", out, 4 * u64::from(n))?;
    for s in 0..n_samples as usize {
        let record = &params[COMBINE_HEADER_WORDS + COMBINE_SAMPLE_WORDS * s..];
        let (log_ratio, offset, len) = (record[12], record[13], record[14]);
        if log_ratio >= log_n || len != n >> log_ratio {
            return bad(format!(
                "sample {s}: {len} values lifted by 2^{log_ratio} to {n}"
            ));
        }
        need(
            "quotient_combine accumulations",
            accs.min(u32::MAX as usize),
            u64::from(offset) + 4 * u64::from(len),
        )?;
    }
    Ok(n)
}
