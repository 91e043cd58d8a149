//! The CUDA backend: `shaders/blake2s.cu` compiled with NVRTC at run time, the driver and
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

use crate::backend::{self, GpuBackend};
use crate::blake2s;
use crate::error::{KernelError, Result};
use crate::plan::{self, LeafParams, MemoryBudget};

const BACKEND: &str = "cuda";
const BLOCK_SIZE: u32 = 256;
/// Share of the free device memory (at start-up) one call may use.
const FREE_MEMORY_SHARE: f64 = 0.8;

const SOURCE: &str = include_str!("shaders/blake2s.cu");

/// Full CUDA C source of the kernels (the generated Blake2s rounds substituted).
pub fn cuda_source() -> String {
    blake2s::render(SOURCE)
}

pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    name: String,
    budget: MemoryBudget,
    leaves: CudaFunction,
    next_layer: CudaFunction,
    grind: CudaFunction,
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

impl CudaBackend {
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
        let (free, _total) = ctx.mem_get_info().map_err(device_error)?;
        let total = (free as f64 * FREE_MEMORY_SHARE) as u64;
        let budget = MemoryBudget {
            total,
            max_buffer: total,
        };
        let ptx = cudarc::nvrtc::compile_ptx(cuda_source()).map_err(|e| KernelError::Compile {
            backend: BACKEND,
            message: format!("{e:?}"),
        })?;
        let module = ctx.load_module(ptx).map_err(device_error)?;
        let function = |name: &str| module.load_function(name).map_err(device_error);
        Ok(Self {
            stream: ctx.default_stream(),
            leaves: function("merkle_leaves")?,
            next_layer: function("merkle_next_layer")?,
            grind: function("grind")?,
            ctx,
            name,
            budget,
        })
    }

    /// Replaces the memory budget (e.g. to force chunking in tests).
    pub fn with_memory_budget(mut self, total: u64, max_buffer: u64) -> Self {
        self.budget = MemoryBudget { total, max_buffer };
        self
    }

    fn upload(&self, words: &[u32]) -> Result<CudaSlice<u32>> {
        self.stream.clone_htod(words).map_err(device_error)
    }

    fn download(&self, slice: &CudaSlice<u32>) -> Result<Vec<u32>> {
        self.stream.clone_dtoh(slice).map_err(device_error)
    }
}

impl GpuBackend for CudaBackend {
    fn kind(&self) -> &'static str {
        BACKEND
    }

    fn describe(&self) -> String {
        format!(
            "cuda device \"{}\" (context {:?})",
            self.name,
            self.ctx.ordinal()
        )
    }

    fn memory_budget(&self) -> MemoryBudget {
        self.budget
    }

    fn merkle_leaves(&self, columns: &[&[u32]], lifting_log_size: u32) -> Result<Vec<Blake2sHash>> {
        if columns.is_empty() {
            return Ok(backend::empty_leaves());
        }
        let lens: Vec<usize> = columns.iter().map(|c| c.len()).collect();
        let log_sizes = plan::column_log_sizes(&lens, lifting_log_size)?;
        let tiles = plan::plan_leaves(&log_sizes, lifting_log_size, self.budget)?;
        let mut out = Vec::with_capacity(1 << lifting_log_size);
        for tile in &tiles {
            let mut states: CudaSlice<u32> = self
                .stream
                .alloc_zeros(8 * tile.rows)
                .map_err(device_error)?;
            for pass in &tile.passes {
                let params = LeafParams::new(tile, pass, lifting_log_size, columns.len());
                let params = self.upload(bytemuck::cast_slice(bytemuck::bytes_of(&params)))?;
                let descs = self.upload(bytemuck::cast_slice(&pass.descs(&log_sizes)))?;
                let data = self.upload(&pass.gather(columns))?;
                let mut launch = self.stream.launch_builder(&self.leaves);
                launch.arg(&params).arg(&descs).arg(&data).arg(&mut states);
                // SAFETY: merkle_leaves(const LeafParams*, const ColumnDesc*, const uint32_t*,
                // uint32_t*): params holds one LeafParams, descs one ColumnDesc per column of
                // the pass, data the pass's slices, states 8 words per tile row.
                unsafe { launch.launch(launch_config(tile.rows as u32)) }.map_err(device_error)?;
            }
            out.extend(backend::hashes_from_words(&self.download(&states)?));
        }
        Ok(out)
    }

    fn merkle_next_layer(&self, children: &[Blake2sHash]) -> Result<Vec<Blake2sHash>> {
        let n_parents = backend::parent_count(children)?;
        let chunk = backend::parents_per_chunk(n_parents, self.budget)?;
        let words = backend::words_from_hashes(children);
        let mut out = Vec::with_capacity(n_parents);
        for first in (0..n_parents).step_by(chunk) {
            let rows = chunk.min(n_parents - first);
            let input = self.upload(&words[16 * first..16 * (first + rows)])?;
            let mut output: CudaSlice<u32> =
                self.stream.alloc_zeros(8 * rows).map_err(device_error)?;
            let rows_arg = rows as u32;
            let mut launch = self.stream.launch_builder(&self.next_layer);
            launch.arg(&rows_arg).arg(&input).arg(&mut output);
            // SAFETY: merkle_next_layer(uint32_t rows, const uint32_t* children (16 words per
            // row), uint32_t* parents (8 words per row)).
            unsafe { launch.launch(launch_config(rows_arg)) }.map_err(device_error)?;
            out.extend(backend::hashes_from_words(&self.download(&output)?));
        }
        Ok(out)
    }

    fn grind_batch(
        &self,
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
        let params = self.upload(&params)?;
        let mut best = self.upload(&[u32::MAX])?;
        let mut launch = self.stream.launch_builder(&self.grind);
        launch.arg(&params).arg(&mut best);
        // SAFETY: grind(const GrindParams* (12 words), uint32_t* best (1 word)).
        unsafe { launch.launch(launch_config(n_tries)) }.map_err(device_error)?;
        let best = self.download(&best)?;
        Ok(best.first().copied().filter(|&b| b != u32::MAX))
    }
}
