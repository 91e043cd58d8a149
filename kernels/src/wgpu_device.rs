//! The wgpu backend: WGSL compute shaders on Vulkan, Metal or DX12 (in CI: Mesa's lavapipe).

use std::sync::Arc;

use stwo::core::vcs::blake2_hash::Blake2sHash;
use wgpu::util::DeviceExt;

use crate::blake2s;
use crate::error::{KernelError, Result};
use crate::gpu_device::{self, GpuDevice};
use crate::plan::{self, LeafParams, MemoryBudget};

const BACKEND: &str = "wgpu";
const WORKGROUP_SIZE: u32 = 64;
/// wgpu cannot ask how much memory the device has: without `STARFARM_WGPU_MEMORY_BYTES`, one
/// call keeps at most this many bytes on the device.
pub const DEFAULT_MEMORY_BYTES: u64 = 1 << 30;

const COMMON: &str = include_str!("shaders/blake2s_common.wgsl");
const LEAVES: &str = include_str!("shaders/merkle_leaves.wgsl");
const NEXT_LAYER: &str = include_str!("shaders/merkle_next_layer.wgsl");
const GRIND: &str = include_str!("shaders/grind.wgsl");
/// Self-contained (no Blake2s prelude).
const M31: &str = include_str!("shaders/m31.wgsl");
const FFT: &str = include_str!("shaders/circle_fft.wgsl");
const FRI: &str = include_str!("shaders/fri_fold.wgsl");

/// Full WGSL source of one kernel (shared Blake2s prelude + the kernel).
pub fn wgsl_source(kernel: &str) -> String {
    blake2s::render(&format!("{COMMON}\n{kernel}"))
}

pub struct WgpuDevice {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    budget: MemoryBudget,
    max_workgroups: u32,
    leaves: wgpu::ComputePipeline,
    next_layer: wgpu::ComputePipeline,
    grind: wgpu::ComputePipeline,
    fft_layer: wgpu::ComputePipeline,
    fri_fold: wgpu::ComputePipeline,
}

fn device_error(e: impl std::fmt::Display) -> KernelError {
    KernelError::Device {
        backend: BACKEND,
        message: e.to_string(),
    }
}

impl WgpuDevice {
    /// Opens the best adapter wgpu offers (discrete, integrated, virtual, other, then CPU
    /// implementations such as Mesa's lavapipe) and compiles the kernels. `Err(NoDevice)` when
    /// there is none.
    pub fn new() -> Result<Self> {
        pollster::block_on(Self::open(true))
    }

    /// Like [`Self::new`], but never a CPU implementation of the API (lavapipe, SwiftShader):
    /// for production, where Stwo's SIMD code beats them.
    pub fn new_hardware() -> Result<Self> {
        pollster::block_on(Self::open(false))
    }

    async fn open(allow_cpu: bool) -> Result<Self> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if std::env::var_os("WGPU_BACKEND").is_none() {
            desc.backends = wgpu::Backends::PRIMARY;
        }
        let backends = desc.backends;
        let instance = wgpu::Instance::new(desc);
        let rank = |t: wgpu::DeviceType| match t {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        };
        let mut adapters: Vec<wgpu::Adapter> = instance
            .enumerate_adapters(backends)
            .await
            .into_iter()
            .filter(|a| allow_cpu || a.get_info().device_type != wgpu::DeviceType::Cpu)
            .collect();
        adapters.sort_by_key(|a| rank(a.get_info().device_type));
        let adapter = adapters
            .into_iter()
            .next()
            .ok_or_else(|| KernelError::NoDevice {
                backend: BACKEND,
                reason: if allow_cpu {
                    "no adapter (Vulkan, Metal or DX12)".into()
                } else {
                    "no hardware adapter (Vulkan, Metal or DX12); CPU adapters are not used".into()
                },
            })?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("starfarm-kernels"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| KernelError::NoDevice {
                backend: BACKEND,
                reason: e.to_string(),
            })?;
        // Errors are collected through error scopes around every call; never panic.
        device.on_uncaptured_error(Arc::new(|e| eprintln!("starfarm-kernels: wgpu error: {e}")));
        let total = std::env::var("STARFARM_WGPU_MEMORY_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MEMORY_BYTES);
        let budget = MemoryBudget::new(
            total,
            limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
        );
        let scope = ErrorScopes::push(&device);
        let pipeline = |src: String, entry: &str| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(entry),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let leaves = pipeline(wgsl_source(LEAVES), "merkle_leaves");
        let next_layer = pipeline(wgsl_source(NEXT_LAYER), "merkle_next_layer");
        let grind = pipeline(wgsl_source(GRIND), "grind");
        let fft_layer = pipeline(format!("{M31}\n{FFT}"), "circle_fft_layer");
        let fri_fold = pipeline(format!("{M31}\n{FRI}"), "fri_fold");
        scope.pop().await.map_err(|message| KernelError::Compile {
            backend: BACKEND,
            message,
        })?;
        Ok(Self {
            device,
            queue,
            info,
            budget,
            max_workgroups: limits.max_compute_workgroups_per_dimension,
            leaves,
            next_layer,
            grind,
            fft_layer,
            fri_fold,
        })
    }

    /// Replaces the memory budget (e.g. to force chunking in tests).
    pub fn with_memory_budget(mut self, total: u64, max_buffer: u64) -> Self {
        self.budget = MemoryBudget::new(total, max_buffer.min(self.budget.max_buffer));
        self
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    fn storage(&self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            })
    }

    fn storage_zeroed(&self, label: &str, size: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Runs `pipeline` over `n` invocations with `buffers` bound in order to group 0.
    fn dispatch(&self, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer], n: u32) {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let groups = n.div_ceil(WORKGROUP_SIZE).max(1);
        let x = groups.min(self.max_workgroups);
        let y = groups.div_ceil(x);
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
        self.queue.submit([encoder.finish()]);
    }

    /// Copies the first `words` words of `buffer` back to the host.
    fn read(&self, buffer: &wgpu::Buffer, words: usize) -> Result<Vec<u32>> {
        let size = 4 * words as u64;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(device_error)?;
        rx.recv().map_err(device_error)?.map_err(device_error)?;
        let out = {
            let view = staging.get_mapped_range(..).map_err(device_error)?;
            bytemuck::cast_slice::<u8, u32>(&view).to_vec()
        };
        staging.unmap();
        Ok(out)
    }

    /// Runs `f` inside validation and out-of-memory error scopes.
    fn scoped<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let scope = ErrorScopes::push(&self.device);
        let out = f();
        pollster::block_on(scope.pop()).map_err(device_error)?;
        out
    }
}

/// A validation scope inside an out-of-memory scope.
struct ErrorScopes {
    oom: wgpu::ErrorScopeGuard,
    validation: wgpu::ErrorScopeGuard,
}

impl ErrorScopes {
    fn push(device: &wgpu::Device) -> Self {
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        Self { oom, validation }
    }

    async fn pop(self) -> std::result::Result<(), String> {
        let validation = self.validation.pop().await;
        let oom = self.oom.pop().await;
        match (validation, oom) {
            (None, None) => Ok(()),
            (Some(e), _) | (None, Some(e)) => Err(e.to_string()),
        }
    }
}

impl GpuDevice for WgpuDevice {
    fn kind(&self) -> &'static str {
        BACKEND
    }

    fn describe(&self) -> String {
        format!(
            "wgpu {:?} adapter \"{}\" ({:?}, driver {} {})",
            self.info.backend,
            self.info.name,
            self.info.device_type,
            self.info.driver,
            self.info.driver_info
        )
    }

    fn memory_budget(&self) -> MemoryBudget {
        self.budget
    }

    fn merkle_leaves(&self, columns: &[&[u32]], lifting_log_size: u32) -> Result<Vec<Blake2sHash>> {
        if columns.is_empty() {
            return Ok(gpu_device::empty_leaves());
        }
        let lens: Vec<usize> = columns.iter().map(|c| c.len()).collect();
        let log_sizes = plan::column_log_sizes(&lens, lifting_log_size)?;
        let tiles = plan::plan_leaves(&log_sizes, lifting_log_size, self.budget)?;
        let mut out = Vec::with_capacity(1 << lifting_log_size);
        for tile in &tiles {
            let words = self.scoped(|| {
                let states = self.storage_zeroed("states", plan::STATE_BYTES * tile.rows as u64);
                for pass in &tile.passes {
                    let params = LeafParams::new(tile, pass, lifting_log_size, columns.len());
                    let params = self.storage("params", bytemuck::bytes_of(&params));
                    let descs =
                        self.storage("descs", bytemuck::cast_slice(&pass.descs(&log_sizes)));
                    let data = self.storage("data", bytemuck::cast_slice(&pass.gather(columns)));
                    self.dispatch(
                        &self.leaves,
                        &[&params, &descs, &data, &states],
                        tile.rows as u32,
                    );
                }
                self.read(&states, 8 * tile.rows)
            })?;
            out.extend(gpu_device::hashes_from_words(&words));
        }
        Ok(out)
    }

    fn merkle_next_layer(&self, children: &[Blake2sHash]) -> Result<Vec<Blake2sHash>> {
        let n_parents = gpu_device::parent_count(children)?;
        let chunk = gpu_device::parents_per_chunk(n_parents, self.budget)?;
        let words = gpu_device::words_from_hashes(children);
        let mut out = Vec::with_capacity(n_parents);
        for first in (0..n_parents).step_by(chunk) {
            let rows = chunk.min(n_parents - first);
            let parents = self.scoped(|| {
                let params = self.storage("params", bytemuck::cast_slice(&[rows as u32, 0, 0, 0]));
                let input = self.storage(
                    "children",
                    bytemuck::cast_slice(&words[16 * first..16 * (first + rows)]),
                );
                let output = self.storage_zeroed("parents", 32 * rows as u64);
                self.dispatch(&self.next_layer, &[&params, &input, &output], rows as u32);
                self.read(&output, 8 * rows)
            })?;
            out.extend(gpu_device::hashes_from_words(&parents));
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
        self.scoped(|| {
            let mut params = [0u32; 12];
            params[..8].copy_from_slice(&prefixed_digest);
            params[8] = hi_base;
            params[9] = n_tries;
            params[10] = pow_bits;
            let params = self.storage("params", bytemuck::cast_slice(&params));
            let best = self.storage("best", bytemuck::bytes_of(&u32::MAX));
            self.dispatch(&self.grind, &[&params, &best], n_tries);
            let best = self.read(&best, 1)?;
            Ok(best.first().copied().filter(|&b| b != u32::MAX))
        })
    }

    fn fft_layers(&self, values: &[u32], layers: &[crate::fft::FftLayer]) -> Result<Vec<u32>> {
        let n_half = crate::fft::check_column(values, layers, self.budget.total)?;
        if 4 * values.len() as u64 > self.budget.max_buffer {
            return Err(KernelError::OutOfMemory(format!(
                "an FFT column of {} values exceeds the largest buffer ({} bytes)",
                values.len(),
                self.budget.max_buffer
            )));
        }
        self.scoped(|| {
            let column = self.storage("fft column", bytemuck::cast_slice(values));
            for layer in layers {
                let params =
                    self.storage("fft params", bytemuck::cast_slice(&layer.params(n_half)));
                let twiddles =
                    self.storage("fft twiddles", bytemuck::cast_slice(layer.twiddle_words()));
                self.dispatch(&self.fft_layer, &[&params, &twiddles, &column], n_half);
            }
            self.read(&column, values.len())
        })
    }

    fn fri_fold(&self, coords: &[u32], passes: &[crate::fri::FoldPass]) -> Result<Vec<u32>> {
        let mut n_half = crate::fri::check_fold(coords, passes, self.budget.total)?;
        if 4 * coords.len() as u64 > self.budget.max_buffer {
            return Err(KernelError::OutOfMemory(format!(
                "a FRI column of {} words exceeds the largest buffer ({} bytes)",
                coords.len(),
                self.budget.max_buffer
            )));
        }
        self.scoped(|| {
            let mut src = self.storage("fri source", bytemuck::cast_slice(coords));
            for pass in passes {
                let params = self.storage("fri params", bytemuck::cast_slice(&pass.params(n_half)));
                let twiddles = self.storage("fri twiddles", bytemuck::cast_slice(&pass.twiddles));
                let dst = self.storage_zeroed("fri fold", 16 * u64::from(n_half));
                self.dispatch(&self.fri_fold, &[&params, &twiddles, &src, &dst], n_half);
                src = dst;
                n_half /= 2;
            }
            self.read(&src, coords.len() >> passes.len())
        })
    }
}
