//! The CUDA backend: the kernels of `shaders/*.cu` ([`cuda_source`]) compiled with NVRTC at run time, the driver and
//! NVRTC loaded dynamically (cudarc `dynamic-loading`), so this builds on machines without the
//! CUDA toolkit and fails at run time with `NoDevice` where there is no driver or GPU.
// Kernel launches are `unsafe` in cudarc: the argument list must match the kernel signature.
// Each launch below is checked against `shaders/blake2s.cu` by its SAFETY comment.
#![allow(unsafe_code)]

use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use stwo::core::vcs::blake2_hash::Blake2sHash;

use crate::error::{KernelError, Result};
use crate::gpu_device::{self, GpuDevice, Launcher};
use crate::plan::{MemoryBudget, Pass};

const BACKEND: &str = "cuda";
const BLOCK_SIZE: u32 = 256;
/// Share of the free device memory (at start-up) one call may use.
const FREE_MEMORY_SHARE: f64 = 0.8;

pub use crate::cuda_src::cuda_source;

pub struct CudaDevice {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    name: String,
    /// Fixed budget (tests); `None`: a share of the memory free at each call.
    budget_override: Option<MemoryBudget>,
    leaves: CudaFunction,
    next_layer: CudaFunction,
    grind: CudaFunction,
    fft_layer: CudaFunction,
    fri_fold: CudaFunction,
    qm31_mul_m31: CudaFunction,
    qm31_fold_sum: CudaFunction,
    m31_add_lifted: CudaFunction,
    m31_gather: CudaFunction,
    gather_rows: CudaFunction,
    eval_point_chunks: CudaFunction,
    sum_chunks: CudaFunction,
    accumulate_column: CudaFunction,
    quotient_combine: CudaFunction,
}

fn device_error(e: impl std::fmt::Debug) -> KernelError {
    KernelError::Device {
        backend: BACKEND,
        message: format!("{e:?}"),
    }
}

fn no_device(reason: impl Into<String>) -> KernelError {
    KernelError::NoDevice {
        backend: BACKEND,
        reason: reason.into(),
    }
}

fn launch_config(n: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n.div_ceil(BLOCK_SIZE).max(1), 1, 1),
        block_dim: (BLOCK_SIZE, 1, 1),
        shared_mem_bytes: 0,
    }
}

impl CudaDevice {
    /// Opens GPU `ordinal` and compiles the kernels with NVRTC.
    pub fn new(ordinal: usize) -> Result<Self> {
        // SAFETY: only probes whether the shared libraries can be opened; cudarc would panic on
        // first use otherwise.
        let libs = unsafe {
            (
                cudarc::driver::sys::is_culib_present(),
                cudarc::nvrtc::sys::is_culib_present(),
            )
        };
        match libs {
            (false, _) => {
                return Err(no_device(
                    "the CUDA driver library (libcuda) is not installed",
                ))
            }
            (_, false) => return Err(no_device("the NVRTC library is not installed")),
            _ => {}
        }
        let count = CudaContext::device_count().map_err(|e| no_device(format!("{e:?}")))?;
        if count <= ordinal as i32 {
            return Err(no_device(format!(
                "{count} CUDA devices, wanted #{ordinal}"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| no_device(format!("{e:?}")))?;
        let name = ctx.name().map_err(device_error)?;
        if let Err(e) = keep_freed_memory(&ctx) {
            // Only slower without it: every commitment maps its memory afresh.
            tracing::warn!("CUDA: freed device memory goes back to the driver: {e}");
        }
        let ptx = tracing::info_span!("CUDA compile (NVRTC)")
            .in_scope(|| cudarc::nvrtc::compile_ptx(cuda_source()))
            .map_err(|e| KernelError::Compile {
                backend: BACKEND,
                message: format!("{e:?}"),
            })?;
        let module = tracing::info_span!("CUDA module load")
            .in_scope(|| ctx.load_module(ptx))
            .map_err(device_error)?;
        let function = |name: &str| module.load_function(name).map_err(device_error);
        Ok(Self {
            stream: ctx.default_stream(),
            leaves: function("merkle_leaves")?,
            next_layer: function("merkle_next_layer")?,
            grind: function("grind")?,
            fft_layer: function("circle_fft_layer")?,
            fri_fold: function("fri_fold")?,
            qm31_mul_m31: function("qm31_mul_m31")?,
            qm31_fold_sum: function("qm31_fold_sum")?,
            m31_add_lifted: function("m31_add_lifted")?,
            m31_gather: function("m31_gather")?,
            gather_rows: function("gather_rows")?,
            eval_point_chunks: function("m31_eval_point_chunks")?,
            sum_chunks: function("qm31_sum_chunks")?,
            accumulate_column: function("qm31_accumulate_column")?,
            quotient_combine: function("quotient_combine")?,
            ctx,
            name,
            budget_override: None,
        })
    }

    /// Replaces the memory budget (e.g. to force chunking in tests).
    pub fn with_memory_budget(mut self, total: u64, max_buffer: u64) -> Self {
        self.budget_override = Some(MemoryBudget::new(total, max_buffer));
        self
    }

    /// The budget for the next call: [`FREE_MEMORY_SHARE`] of the device memory free now,
    /// counting what our pool keeps idle (other users of the GPU, e.g. a prover holding its
    /// trace there, are left alone).
    fn current_budget(&self) -> Result<MemoryBudget> {
        if let Some(budget) = self.budget_override {
            return Ok(budget);
        }
        let (free, _total) = self.ctx.mem_get_info().map_err(device_error)?;
        let free = free as u64 + pool_idle_bytes(&self.ctx);
        let total = (free as f64 * FREE_MEMORY_SHARE) as u64;
        Ok(MemoryBudget::new(total, total))
    }
}

/// The device's default memory pool, which cudarc allocates from; `None` where the device has
/// no memory pools (cudarc then allocates synchronously).
fn default_pool(ctx: &CudaContext) -> Option<cudarc::driver::sys::CUmemoryPool> {
    use cudarc::driver::sys;
    if !ctx.has_async_alloc() {
        return None;
    }
    let mut pool = std::ptr::null_mut();
    // SAFETY: `pool` receives the handle of the device's default pool.
    let status = unsafe { sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device()) };
    (status == sys::CUresult::CUDA_SUCCESS).then_some(pool)
}

/// The pool by default gives freed memory back to the driver at each synchronisation, so every
/// Merkle commitment would map its gigabytes afresh: keep it in the pool instead (the process
/// owns the GPU while it proves; [`pool_idle_bytes`] counts it as free in the budget).
fn keep_freed_memory(ctx: &CudaContext) -> Result<()> {
    use cudarc::driver::sys;
    let Some(pool) = default_pool(ctx) else {
        return Ok(());
    };
    let mut threshold = u64::MAX;
    // SAFETY: the attribute takes a `cuuint64_t` by pointer, which `threshold` is.
    let status = unsafe {
        sys::cuMemPoolSetAttribute(
            pool,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut threshold as *mut u64).cast(),
        )
    };
    match status {
        sys::CUresult::CUDA_SUCCESS => Ok(()),
        error => Err(device_error(error)),
    }
}

/// Memory the pool holds that no allocation uses: free for our next call, though the driver
/// counts it as taken.
fn pool_idle_bytes(ctx: &CudaContext) -> u64 {
    use cudarc::driver::sys::{self, CUmemPool_attribute as Attr};
    let Some(pool) = default_pool(ctx) else {
        return 0;
    };
    let read = |attribute: Attr| {
        let mut value = 0u64;
        // SAFETY: both attributes are `cuuint64_t`, read into `value`.
        let status =
            unsafe { sys::cuMemPoolGetAttribute(pool, attribute, (&mut value as *mut u64).cast()) };
        (status == sys::CUresult::CUDA_SUCCESS).then_some(value)
    };
    match (
        read(Attr::CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT),
        read(Attr::CU_MEMPOOL_ATTR_USED_MEM_CURRENT),
    ) {
        (Some(reserved), Some(used)) => reserved.saturating_sub(used),
        _ => 0,
    }
}

impl Launcher for CudaDevice {
    type Buffer = CudaSlice<u32>;

    fn upload(&self, words: &[u32]) -> Result<CudaSlice<u32>> {
        self.stream.clone_htod(words).map_err(device_error)
    }

    /// Copies each column slice straight to its place on the device: no host-side gather.
    fn upload_pass(&self, pass: &Pass, columns: &[&[u32]]) -> Result<CudaSlice<u32>> {
        // SAFETY: the slices tile [0, data_words) (offsets are running sums of the lengths),
        // so every word is written below before a kernel reads it.
        let mut data =
            unsafe { self.stream.alloc::<u32>(pass.data_words.max(1)) }.map_err(device_error)?;
        for s in &pass.slices {
            let src = &columns[s.col][s.start..s.start + s.len];
            let mut dst = data.slice_mut(s.offset..s.offset + s.len);
            self.stream
                .memcpy_htod(src, &mut dst)
                .map_err(device_error)?;
        }
        Ok(data)
    }

    fn zeros(&self, words: usize) -> Result<CudaSlice<u32>> {
        self.stream.alloc_zeros(words).map_err(device_error)
    }

    fn download(&self, buffer: &CudaSlice<u32>) -> Result<Vec<u32>> {
        self.stream.clone_dtoh(buffer).map_err(device_error)
    }

    fn launch_leaves(
        &self,
        params: &CudaSlice<u32>,
        descs: &CudaSlice<u32>,
        data: &CudaSlice<u32>,
        states: &mut CudaSlice<u32>,
        rows: u32,
    ) -> Result<()> {
        let mut launch = self.stream.launch_builder(&self.leaves);
        launch.arg(params).arg(descs).arg(data).arg(states);
        // SAFETY: merkle_leaves(const LeafParams*, const ColumnDesc*, const uint32_t*,
        // uint32_t*): `merkle_leaves_with` passes one LeafParams (8 words), one ColumnDesc
        // (4 words) per column of the pass, the pass's slices, and 8 state words per row.
        unsafe { launch.launch(launch_config(rows)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_next_layer(
        &self,
        rows: u32,
        children: &CudaSlice<u32>,
        parents: &mut CudaSlice<u32>,
    ) -> Result<()> {
        let mut launch = self.stream.launch_builder(&self.next_layer);
        launch.arg(&rows).arg(children).arg(parents);
        // SAFETY: merkle_next_layer(uint32_t rows, const uint32_t* children (16 words per row),
        // uint32_t* parents (8 words per row)).
        unsafe { launch.launch(launch_config(rows)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_grind(
        &self,
        params: &CudaSlice<u32>,
        best: &mut CudaSlice<u32>,
        n_tries: u32,
    ) -> Result<()> {
        let mut launch = self.stream.launch_builder(&self.grind);
        launch.arg(params).arg(best);
        // SAFETY: grind(const GrindParams* (12 words), uint32_t* best (1 word)).
        unsafe { launch.launch(launch_config(n_tries)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_fft_layer(
        &self,
        params: &CudaSlice<u32>,
        twiddles: &CudaSlice<u32>,
        values: &mut CudaSlice<u32>,
        n_half: u32,
    ) -> Result<()> {
        let mut launch = self.stream.launch_builder(&self.fft_layer);
        launch.arg(params).arg(twiddles).arg(values);
        // SAFETY: circle_fft_layer(const FftParams* (4 words), const uint32_t* twiddles,
        // uint32_t* values (2 * n_half words)); `fft_layers_with` checked that the twiddles
        // cover every butterfly of the layer.
        unsafe { launch.launch(launch_config(n_half)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_fri_fold(
        &self,
        params: &CudaSlice<u32>,
        twiddles: &CudaSlice<u32>,
        src: &CudaSlice<u32>,
        dst: &mut CudaSlice<u32>,
        n_half: u32,
    ) -> Result<()> {
        let mut launch = self.stream.launch_builder(&self.fri_fold);
        launch.arg(params).arg(twiddles).arg(src).arg(dst);
        // SAFETY: fri_fold(const FoldParams* (8 words), const uint32_t* twiddles (n_half),
        // const uint32_t* src (8 * n_half), uint32_t* dst (4 * n_half)), as `fri_fold_with`
        // (after `fri::check_fold`) allocates them.
        unsafe { launch.launch(launch_config(n_half)) }.map_err(device_error)?;
        Ok(())
    }
    fn launch_qm31_mul_m31(
        &self,
        n: u32,
        weights: &CudaSlice<u32>,
        evals: &CudaSlice<u32>,
        out: &mut CudaSlice<u32>,
    ) -> Result<()> {
        if weights.len() < 4 * n as usize || evals.len() < n as usize || out.len() < 4 * n as usize
        {
            return Err(KernelError::InvalidInput(
                "qm31_mul_m31: buffers too short".into(),
            ));
        }
        let mut launch = self.stream.launch_builder(&self.qm31_mul_m31);
        launch.arg(&n).arg(weights).arg(evals).arg(out);
        // SAFETY: qm31_mul_m31(uint32_t n, const uint32_t* weights (4 n), const uint32_t*
        // evals (n), uint32_t* out (4 n)), sizes checked above.
        unsafe { launch.launch(launch_config(n)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_qm31_fold_sum(&self, n_half: u32, values: &mut CudaSlice<u32>) -> Result<()> {
        if values.len() < 8 * n_half as usize {
            return Err(KernelError::InvalidInput(
                "qm31_fold_sum: buffer too short".into(),
            ));
        }
        let mut launch = self.stream.launch_builder(&self.qm31_fold_sum);
        launch.arg(&n_half).arg(values);
        // SAFETY: qm31_fold_sum(uint32_t n_half, uint32_t* values (8 n_half)), size checked.
        unsafe { launch.launch(launch_config(n_half)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_m31_add_lifted(
        &self,
        n: u32,
        log_ratio: u32,
        src: &CudaSlice<u32>,
        dst: &mut CudaSlice<u32>,
    ) -> Result<()> {
        if log_ratio > 30 || dst.len() < n as usize || src.len() < (n as usize >> log_ratio).max(2)
        {
            return Err(KernelError::InvalidInput(
                "m31_add_lifted: buffers too short".into(),
            ));
        }
        let mut launch = self.stream.launch_builder(&self.m31_add_lifted);
        launch.arg(&n).arg(&log_ratio).arg(src).arg(dst);
        // SAFETY: m31_add_lifted(uint32_t n, uint32_t log_ratio, const uint32_t* src
        // (n >> log_ratio, at least 2), uint32_t* dst (n)), sizes checked above.
        unsafe { launch.launch(launch_config(n)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_eval_point_chunks(
        &self,
        log_n: u32,
        log_chunk: u32,
        factors: &[u32],
        coeffs: &CudaSlice<u32>,
        out: &mut CudaSlice<u32>,
    ) -> Result<()> {
        let n_chunks = gpu_device::check_eval_point_chunks(
            log_n,
            log_chunk,
            factors.len(),
            coeffs.len(),
            out.len(),
        )?;
        // An empty slice cannot be uploaded: a polynomial of one coefficient has no factors.
        let factors = self.upload(if factors.is_empty() {
            &[0u32][..]
        } else {
            factors
        })?;
        let mut launch = self.stream.launch_builder(&self.eval_point_chunks);
        launch
            .arg(&n_chunks)
            .arg(&log_chunk)
            .arg(&log_n)
            .arg(&factors)
            .arg(coeffs)
            .arg(out);
        // SAFETY: m31_eval_point_chunks(uint32_t n_chunks, uint32_t log_chunk, uint32_t log_n,
        // const uint32_t* factors (4 log_n), const uint32_t* coeffs (2^log_n), uint32_t* out
        // (4 n_chunks)), sizes checked above.
        unsafe { launch.launch(launch_config(n_chunks)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_qm31_sum_chunks(
        &self,
        n_out: u32,
        chunk: u32,
        n_in: u32,
        src: &CudaSlice<u32>,
        dst: &mut CudaSlice<u32>,
    ) -> Result<()> {
        gpu_device::check_sum_chunks(n_out, chunk, n_in, src.len(), dst.len())?;
        let mut launch = self.stream.launch_builder(&self.sum_chunks);
        launch.arg(&n_out).arg(&chunk).arg(&n_in).arg(src).arg(dst);
        // SAFETY: qm31_sum_chunks(uint32_t n_out, uint32_t chunk, uint32_t n_in, const uint32_t*
        // src (4 n_in), uint32_t* dst (4 n_out)), sizes checked above.
        unsafe { launch.launch(launch_config(n_out)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_accumulate_column(
        &self,
        n: u32,
        j: u32,
        init: Option<u32>,
        consts: &CudaSlice<u32>,
        col: &CudaSlice<u32>,
        acc: &mut CudaSlice<u32>,
    ) -> Result<()> {
        gpu_device::check_accumulate_column(n, j, init, consts.len(), col.len(), acc.len())?;
        let (init, init_index) = (u32::from(init.is_some()), init.unwrap_or(0));
        let mut launch = self.stream.launch_builder(&self.accumulate_column);
        launch
            .arg(&n)
            .arg(&j)
            .arg(&init)
            .arg(&init_index)
            .arg(consts)
            .arg(col)
            .arg(acc);
        // SAFETY: qm31_accumulate_column(uint32_t n, uint32_t j, uint32_t init, uint32_t
        // init_index, const uint32_t* consts, const uint32_t* col (n), uint32_t* acc (4 n)),
        // sizes checked above.
        unsafe { launch.launch(launch_config(n)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_quotient_combine(
        &self,
        params: &[u32],
        points: &[u32],
        accs: &CudaSlice<u32>,
        out: &mut CudaSlice<u32>,
    ) -> Result<()> {
        let n = gpu_device::check_quotient_combine(params, points, accs.len(), out.len())?;
        let params = self.upload(params)?;
        let points = self.upload(points)?;
        let mut launch = self.stream.launch_builder(&self.quotient_combine);
        launch.arg(&params).arg(&points).arg(accs).arg(out);
        // SAFETY: quotient_combine(const uint32_t* params, const uint32_t* points, const
        // uint32_t* accs, uint32_t* out (4 n)): header, records, point table and every
        // record's accumulation range checked above.
        unsafe { launch.launch(launch_config(n)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_m31_gather(
        &self,
        n: u32,
        stride: u32,
        offset: u32,
        src: &CudaSlice<u32>,
        dst: &mut CudaSlice<u32>,
    ) -> Result<()> {
        let last = (n as usize).saturating_sub(1) * stride as usize + offset as usize;
        if dst.len() < n as usize || (n > 0 && src.len() <= last) {
            return Err(KernelError::InvalidInput(
                "m31_gather: buffers too short".into(),
            ));
        }
        let mut launch = self.stream.launch_builder(&self.m31_gather);
        launch.arg(&n).arg(&stride).arg(&offset).arg(src).arg(dst);
        // SAFETY: m31_gather(uint32_t n, uint32_t stride, uint32_t offset, const uint32_t* src
        // (> (n - 1) stride + offset), uint32_t* dst (n)), sizes checked above.
        unsafe { launch.launch(launch_config(n)) }.map_err(device_error)?;
        Ok(())
    }

    /// The rows' bound is the caller's (`kernels::gather_rows` checks every row against the
    /// column's length before uploading them): the device cannot check indices it holds.
    fn launch_gather_rows(
        &self,
        n: u32,
        words: u32,
        rows: &CudaSlice<u32>,
        src: &CudaSlice<u32>,
        dst: &mut CudaSlice<u32>,
    ) -> Result<()> {
        if rows.len() < n as usize || dst.len() < n as usize * words as usize {
            return Err(KernelError::InvalidInput(
                "gather_rows: buffers too short".into(),
            ));
        }
        let mut launch = self.stream.launch_builder(&self.gather_rows);
        launch.arg(&n).arg(&words).arg(rows).arg(src).arg(dst);
        // SAFETY: gather_rows(uint32_t n, uint32_t words, const uint32_t* rows (n), const
        // uint32_t* src, uint32_t* dst (n * words)); every row below src's length in values,
        // checked by the caller.
        unsafe { launch.launch(launch_config(n)) }.map_err(device_error)?;
        Ok(())
    }
}

impl GpuDevice for CudaDevice {
    fn kind(&self) -> &'static str {
        BACKEND
    }

    fn describe(&self) -> String {
        format!(
            "cuda device \"{}\" (ordinal {})",
            self.name,
            self.ctx.ordinal()
        )
    }

    fn memory_budget(&self) -> MemoryBudget {
        self.current_budget().unwrap_or(MemoryBudget::new(0, 0))
    }

    fn merkle_leaves(&self, columns: &[&[u32]], lifting_log_size: u32) -> Result<Vec<Blake2sHash>> {
        gpu_device::merkle_leaves_with(self, self.current_budget()?, columns, lifting_log_size)
    }

    fn merkle_next_layer(&self, children: &[Blake2sHash]) -> Result<Vec<Blake2sHash>> {
        gpu_device::merkle_next_layer_with(self, self.current_budget()?, children)
    }

    fn grind_batch(
        &self,
        prefixed_digest: [u32; 8],
        hi_base: u32,
        n_tries: u32,
        pow_bits: u32,
    ) -> Result<Option<u32>> {
        gpu_device::grind_batch_with(self, prefixed_digest, hi_base, n_tries, pow_bits)
    }

    fn fft_layers(&self, values: &[u32], layers: &[crate::fft::FftLayer]) -> Result<Vec<u32>> {
        gpu_device::fft_layers_with(self, self.current_budget()?, values, layers)
    }

    fn fri_fold(&self, coords: &[u32], passes: &[crate::fri::FoldPass]) -> Result<Vec<u32>> {
        gpu_device::fri_fold_with(self, self.current_budget()?, coords, passes)
    }
}

impl crate::resident::ResidentDevice for CudaDevice {
    const NAME: &'static str = BACKEND;
    type Module = Vec<CudaFunction>;

    fn load_row_kernels(&self, source: &str, names: &[String]) -> Result<Vec<CudaFunction>> {
        // m31.cu uses `uint32_t`, which NVRTC has no header for (the kernels' own source gets
        // it from the Blake2s prelude).
        let text = format!(
            "typedef unsigned int uint32_t;\n{}\n{source}",
            include_str!("shaders/m31.cu")
        );
        let ptx = tracing::info_span!("CUDA compile (NVRTC), row kernels")
            .in_scope(|| cudarc::nvrtc::compile_ptx(text))
            .map_err(|e| KernelError::Compile {
                backend: BACKEND,
                message: format!("{e:?}"),
            })?;
        let module = self.ctx.load_module(ptx).map_err(device_error)?;
        names
            .iter()
            .map(|name| module.load_function(name).map_err(device_error))
            .collect()
    }

    fn launch_row_kernel(
        &self,
        module: &Vec<CudaFunction>,
        index: usize,
        launch: crate::resident::RowLaunch,
        cols: &CudaSlice<u32>,
        params: &CudaSlice<u32>,
        accum: &mut CudaSlice<u32>,
    ) -> Result<()> {
        let kernel = module
            .get(index)
            .ok_or_else(|| KernelError::InvalidInput(format!("no row kernel #{index}")))?;
        launch.check(cols.len(), params.len(), accum.len())?;
        let mut builder = self.stream.launch_builder(kernel);
        builder.arg(cols).arg(params).arg(accum);
        // SAFETY: kernel(const uint32_t* cols, const uint32_t* params, uint32_t* accum), one
        // thread per row; the caller states what it reads (`launch`), checked above.
        unsafe { builder.launch(launch_config(launch.rows)) }.map_err(device_error)?;
        Ok(())
    }

    /// CUDA device 0, opened (and its kernels compiled) on first use.
    fn instance() -> Result<&'static Self> {
        static DEVICE: std::sync::OnceLock<std::result::Result<CudaDevice, String>> =
            std::sync::OnceLock::new();
        DEVICE
            .get_or_init(|| {
                CudaDevice::new(0).map_err(|e| match e {
                    KernelError::NoDevice { reason, .. } => reason,
                    other => other.to_string(),
                })
            })
            .as_ref()
            .map_err(|reason| no_device(reason.clone()))
    }

    fn budget(&self) -> MemoryBudget {
        self.memory_budget()
    }

    fn copy_range(
        &self,
        src: &CudaSlice<u32>,
        src_start: usize,
        dst: &mut CudaSlice<u32>,
        dst_start: usize,
        len: usize,
    ) -> Result<()> {
        if src_start + len > src.len() || dst_start + len > dst.len() {
            return Err(device_error("copy: range out of bounds"));
        }
        if len == 0 {
            return Ok(());
        }
        let from = src.slice(src_start..src_start + len);
        let mut to = dst.slice_mut(dst_start..dst_start + len);
        self.stream
            .memcpy_dtod(&from, &mut to)
            .map_err(device_error)
    }

    fn launch_fft_layer_at(
        &self,
        params: &CudaSlice<u32>,
        params_at: usize,
        twiddles: &CudaSlice<u32>,
        twiddles_at: usize,
        twiddles_len: usize,
        values: &mut CudaSlice<u32>,
        n_half: u32,
    ) -> Result<()> {
        if params_at + 4 > params.len()
            || twiddles_at + twiddles_len > twiddles.len()
            || twiddles_at >= twiddles.len()
            || values.len() < 2 * n_half as usize
        {
            return Err(device_error(
                "FFT layer: parameters, twiddles or values out of bounds",
            ));
        }
        let p = params.slice(params_at..params_at + 4);
        let t = twiddles.slice(twiddles_at..);
        let mut launch = self.stream.launch_builder(&self.fft_layer);
        launch.arg(&p).arg(&t).arg(values);
        // SAFETY: circle_fft_layer(const FftParams* (4 words), const uint32_t* twiddles,
        // uint32_t* values (2 * n_half words)), ranges checked above; the caller
        // (`kernels::fft_in_place`) checked that `twiddles_len` covers the layer's butterflies.
        unsafe { launch.launch(launch_config(n_half)) }.map_err(device_error)?;
        Ok(())
    }

    fn launch_fri_fold_at(
        &self,
        params: &CudaSlice<u32>,
        params_at: usize,
        twiddles: &CudaSlice<u32>,
        twiddles_at: usize,
        src: &CudaSlice<u32>,
        dst: &mut CudaSlice<u32>,
        n_half: u32,
    ) -> Result<()> {
        let n = n_half as usize;
        if params_at + 8 > params.len()
            || twiddles_at + n.max(1) > twiddles.len()
            || src.len() < 8 * n
            || dst.len() < 4 * n
        {
            return Err(device_error(
                "FRI fold: parameters, twiddles or columns out of bounds",
            ));
        }
        let p = params.slice(params_at..params_at + 8);
        let t = twiddles.slice(twiddles_at..);
        let mut launch = self.stream.launch_builder(&self.fri_fold);
        launch.arg(&p).arg(&t).arg(src).arg(dst);
        // SAFETY: fri_fold(const FoldParams* (8 words), const uint32_t* twiddles (n_half),
        // const uint32_t* src (8 * n_half), uint32_t* dst (4 * n_half)), ranges checked above.
        unsafe { launch.launch(launch_config(n_half)) }.map_err(device_error)?;
        Ok(())
    }

    fn download_range(&self, src: &CudaSlice<u32>, start: usize, len: usize) -> Result<Vec<u32>> {
        if start + len > src.len() {
            return Err(device_error("download: range out of bounds"));
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        self.stream
            .clone_dtoh(&src.slice(start..start + len))
            .map_err(device_error)
    }

    fn upload_range(&self, dst: &mut CudaSlice<u32>, start: usize, words: &[u32]) -> Result<()> {
        if start + words.len() > dst.len() {
            return Err(device_error("upload: range out of bounds"));
        }
        if words.is_empty() {
            return Ok(());
        }
        let mut to = dst.slice_mut(start..start + words.len());
        self.stream
            .memcpy_htod(words, &mut to)
            .map_err(device_error)
    }
}
