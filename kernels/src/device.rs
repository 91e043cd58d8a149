//! The process-wide GPU the Stwo glue ([`crate::merkle`], [`crate::channel`]) dispatches to,
//! when to use it, and counters that show what actually ran.
//!
//! `STARFARM_GPU` picks the device once, on first use: `auto` (default: CUDA, then a hardware
//! wgpu adapter), `cuda`, `wgpu` (any adapter, CPU implementations such as lavapipe included),
//! `any` (CUDA, then any wgpu adapter), or `off`. [`init_global`] picks it in code instead.
//! Work below the thresholds stays on the CPU, where a dispatch
//! would cost more than it saves: `STARFARM_GPU_MIN_LOG_ROWS` for Merkle layers (default 12 on
//! hosts of at most [`MERKLE_GPU_MAX_HOST_THREADS`] threads, else off: see there),
//! `STARFARM_GPU_MIN_POW_BITS` (default 16) for grinding; [`set_thresholds`] overrides both;
//! [`work_split`] says what goes where.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::error::{KernelError, Result};
use crate::gpu_device::GpuDevice;

/// Which device to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuSelection {
    /// CUDA, then a hardware wgpu adapter: never a CPU implementation of Vulkan.
    Auto,
    /// CUDA, then any wgpu adapter (tests on machines with only lavapipe).
    Any,
    Cuda,
    /// Any wgpu adapter, CPU implementations included.
    Wgpu,
    Off,
}

impl GpuSelection {
    /// Parses `STARFARM_GPU`; unknown values mean `Off` (with a message).
    pub fn from_env() -> Self {
        match std::env::var("STARFARM_GPU").as_deref() {
            Err(_) | Ok("") | Ok("auto") => Self::Auto,
            Ok("cuda") => Self::Cuda,
            Ok("wgpu") => Self::Wgpu,
            Ok("any") => Self::Any,
            Ok("off") | Ok("cpu") => Self::Off,
            Ok(other) => {
                eprintln!("starfarm-kernels: STARFARM_GPU={other:?} is not auto|any|cuda|wgpu|off; using the CPU");
                Self::Off
            }
        }
    }
}

/// Opens a device of the given kind.
pub fn open(choice: GpuSelection) -> Result<Box<dyn GpuDevice>> {
    let off = || KernelError::NoDevice {
        backend: "GPU",
        reason: "disabled (STARFARM_GPU=off) or no backend feature compiled in".into(),
    };
    match choice {
        GpuSelection::Off => Err(off()),
        GpuSelection::Cuda => open_cuda(),
        GpuSelection::Wgpu => open_wgpu(true),
        GpuSelection::Auto => cuda_then_wgpu(false),
        GpuSelection::Any => cuda_then_wgpu(true),
    }
}

fn cuda_then_wgpu(allow_cpu: bool) -> Result<Box<dyn GpuDevice>> {
    open_cuda().or_else(|cuda| {
        open_wgpu(allow_cpu).map_err(|wgpu| KernelError::NoDevice {
            backend: "GPU",
            reason: format!("{cuda}; {wgpu}"),
        })
    })
}

#[cfg(feature = "cuda")]
fn open_cuda() -> Result<Box<dyn GpuDevice>> {
    Ok(Box::new(crate::cuda_device::CudaDevice::new(0)?))
}

#[cfg(not(feature = "cuda"))]
fn open_cuda() -> Result<Box<dyn GpuDevice>> {
    Err(KernelError::NoDevice {
        backend: "cuda",
        reason: "built without the `cuda` feature".into(),
    })
}

#[cfg(feature = "wgpu")]
fn open_wgpu(allow_cpu: bool) -> Result<Box<dyn GpuDevice>> {
    use crate::wgpu_device::WgpuDevice;
    Ok(Box::new(if allow_cpu {
        WgpuDevice::new()?
    } else {
        WgpuDevice::new_hardware()?
    }))
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu(_allow_cpu: bool) -> Result<Box<dyn GpuDevice>> {
    Err(KernelError::NoDevice {
        backend: "wgpu",
        reason: "built without the `wgpu` feature".into(),
    })
}

static DEVICE: OnceLock<std::result::Result<Box<dyn GpuDevice>, String>> = OnceLock::new();

/// The process-wide device, opened on first call (`STARFARM_GPU`); `None` if there is none
/// (said once on stderr).
pub fn global() -> Option<&'static dyn GpuDevice> {
    init_global(GpuSelection::from_env())
}

/// Opens the process-wide device with `choice` unless it is already open (then `choice` is
/// ignored), and returns it; `None` if there is none (said once on stderr).
pub fn init_global(choice: GpuSelection) -> Option<&'static dyn GpuDevice> {
    let first = DEVICE.get().is_none();
    let selected = select(choice);
    if let (true, Err(reason)) = (first, &selected) {
        eprintln!(
            "starfarm-kernels: no GPU, Merkle hashing and grinding stay on the CPU: {reason}"
        );
    }
    selected.ok()
}

/// Opens the process-wide device with `choice` unless one was already chosen (then `choice`
/// is ignored), and returns it or why there is none. The device is chosen once per process:
/// the Stwo glue has no other way to reach it.
pub fn select(choice: GpuSelection) -> std::result::Result<&'static dyn GpuDevice, &'static str> {
    match DEVICE.get_or_init(|| open(choice).map_err(|e| e.to_string())) {
        Ok(device) => Ok(device.as_ref()),
        Err(reason) => Err(reason.as_str()),
    }
}

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

static MIN_LOG_ROWS: AtomicU32 = AtomicU32::new(u32::MAX);
static MIN_POW_BITS: AtomicU32 = AtomicU32::new(u32::MAX);

/// Sets the smallest Merkle layer (log2 of its hashes) and the smallest proof of work that go
/// to the GPU.
pub fn set_thresholds(min_log_rows: u32, min_pow_bits: u32) {
    MIN_LOG_ROWS.store(min_log_rows, Ordering::Relaxed);
    MIN_POW_BITS.store(min_pow_bits, Ordering::Relaxed);
}

fn threshold(cell: &AtomicU32, env: &str, default: u32) -> u32 {
    match cell.load(Ordering::Relaxed) {
        u32::MAX => {
            let value = env_u32(env, default);
            let _ = cell.compare_exchange(u32::MAX, value, Ordering::Relaxed, Ordering::Relaxed);
            cell.load(Ordering::Relaxed)
        }
        value => value,
    }
}

/// Host threads above which Merkle hashing stays on the CPU unless `STARFARM_GPU_MIN_LOG_ROWS`
/// says otherwise. Measured on an H200 with 16 host threads (docs/architecture.md, "As built:
/// GPU backends"): the leaf kernel hashes 1 TB/s, but the columns live in host memory, and
/// sending them over PCIe and the hashes back took longer than Stwo's SIMD hashing on 16
/// threads. Until the trace lives on the GPU, only small hosts gain.
pub const MERKLE_GPU_MAX_HOST_THREADS: usize = 4;

/// A Merkle threshold no layer reaches.
const NEVER: u32 = 64;

fn default_min_log_rows() -> u32 {
    if rayon::current_num_threads() > MERKLE_GPU_MAX_HOST_THREADS {
        NEVER
    } else {
        12
    }
}

pub(crate) fn min_log_rows() -> u32 {
    threshold(
        &MIN_LOG_ROWS,
        "STARFARM_GPU_MIN_LOG_ROWS",
        default_min_log_rows(),
    )
}

/// What the glue sends to the GPU, in words (for the start-up log).
pub fn work_split() -> String {
    let pow = format!("proof of work of {}+ bits on the GPU", min_pow_bits());
    match min_log_rows() {
        rows if rows >= NEVER => format!(
            "{pow}; Merkle hashing on the CPU ({} host threads > {MERKLE_GPU_MAX_HOST_THREADS}, \
             where Stwo's SIMD hashing beats the PCIe round trip; STARFARM_GPU_MIN_LOG_ROWS=12 \
             sends it to the GPU)",
            rayon::current_num_threads()
        ),
        rows => format!("{pow}, Merkle layers of 2^{rows}+ rows too"),
    }
}

pub(crate) fn min_pow_bits() -> u32 {
    threshold(&MIN_POW_BITS, "STARFARM_GPU_MIN_POW_BITS", 16)
}

/// How many calls of the Stwo glue ran on the GPU, and how many fell back to the CPU after a
/// device error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchStats {
    pub gpu_calls: u64,
    pub fallbacks: u64,
}

static GPU_CALLS: AtomicU64 = AtomicU64::new(0);
static FALLBACKS: AtomicU64 = AtomicU64::new(0);

pub fn stats() -> DispatchStats {
    DispatchStats {
        gpu_calls: GPU_CALLS.load(Ordering::Relaxed),
        fallbacks: FALLBACKS.load(Ordering::Relaxed),
    }
}

/// Runs `f` on the device; `None` (after saying why) if it fails or panics, so the caller
/// falls back to the CPU.
pub(crate) fn run<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(value)) => {
            GPU_CALLS.fetch_add(1, Ordering::Relaxed);
            Some(value)
        }
        Ok(Err(e)) => {
            FALLBACKS.fetch_add(1, Ordering::Relaxed);
            eprintln!("starfarm-kernels: {what} on the GPU failed, using the CPU: {e}");
            None
        }
        Err(_) => {
            FALLBACKS.fetch_add(1, Ordering::Relaxed);
            eprintln!("starfarm-kernels: {what} on the GPU panicked, using the CPU");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_errors_and_panics_fall_back() {
        let before = stats();
        assert_eq!(run("ok", || Ok(1)), Some(1));
        let failed: Option<u32> = run("error", || {
            Err(KernelError::Device {
                backend: "test",
                message: "lost".into(),
            })
        });
        assert_eq!(failed, None);
        let panicked: Option<u32> = run("panic", || panic!("driver bug"));
        assert_eq!(panicked, None);
        let after = stats();
        assert!(after.gpu_calls > before.gpu_calls);
        assert!(after.fallbacks >= before.fallbacks + 2);
    }

    #[test]
    fn merkle_stays_on_the_cpu_of_large_hosts_by_default() {
        let on = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map(|pool| pool.install(default_min_log_rows))
        };
        assert_eq!(on(MERKLE_GPU_MAX_HOST_THREADS).ok(), Some(12));
        assert_eq!(on(MERKLE_GPU_MAX_HOST_THREADS + 1).ok(), Some(NEVER));
    }

    #[test]
    fn off_opens_nothing() {
        assert!(matches!(
            open(GpuSelection::Off),
            Err(KernelError::NoDevice { .. })
        ));
    }
}
