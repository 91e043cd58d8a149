//! A Stwo backend whose columns live in device memory: [`DeviceBackend<D>`] implements every
//! capability trait of Stwo's `Backend` (and `BackendForChannel<Blake2sMerkleChannel>`) over
//! [`DeviceColumn`]s, buffers of a [`ResidentDevice`], so that Stwo's own generic `prove` runs
//! on it with no fork and produces the bytes `SimdBackend` produces.
//!
//! Two devices implement [`ResidentDevice`]: CUDA ([`crate::cuda_device::CudaDevice`], through
//! cudarc; needs a GPU) and the emulated device ([`crate::emulated_device::EmulatedDevice`],
//! the same CUDA source compiled for the CPU and loaded in-process), which the tests use.
//!
//! What runs where ([`Op`] counts it per operation, [`op_counts`]):
//! - on the device, on resident buffers: the circle FFT (`interpolate`, `evaluate`), `extend`
//!   and `split_at_mid` of coefficients, the FRI folds (`fold_line`,
//!   `fold_circle_into_line`), out-of-domain sampling (`eval_at_point` from coefficients,
//!   barycentric evaluation), the FRI quotients (`accumulate_numerators`,
//!   `compute_quotients_and_combine`), accumulation, lifting and leaf packing
//!   (`shaders/resident.cu`), the lifted Blake2s Merkle leaves and layers, and grinding;
//! - on the host, as an explicit fallback (download the inputs, run `SimdBackend`'s operation,
//!   upload the outputs): everything else — bit reversal, barycentric weights,
//!   `eval_at_point_by_folding`, `decompose`, twiddle precomputation, GKR, and the constraint
//!   evaluation of components ([`HostComponent`]) — and inputs the kernels do not take (tiny
//!   domains, quotient accumulations under 16 values, over the memory budget).
//!
//! Twiddles are uploaded once per twiddle tree and read in place by every FFT layer and FRI
//! fold ([`DeviceTwiddles`]); a proof's decommitment is predicted once its queries are known
//! and each column's queried rows are gathered by one launch ([`prefetch_decommitment`]);
//! every host↔device transfer is made under a cause ([`Crossing`]) that devices may count.
//!
//! Coefficients are kept in natural order on the device (`SimdBackend` keeps those of large
//! polynomials transposed, see [`crate::fft::simd_coefficient_order`]); the host fallbacks
//! convert.
//!
//! [`ProveFlow`]: a whole-proof flow on a device as a trait, so that the prover can hold the
//! Cairo AIR's flow without importing the AIR crate.
//!
//! Errors: Stwo's traits are infallible, so a device error inside an operation unwinds with a
//! [`DeviceFault`] payload; [`catch_device_faults`] around a proof turns it back into a typed
//! [`KernelError`] (and the caller proves that job on the CPU). A fault never yields a proof.

mod column;
mod component;
mod convert;
mod crossings;
mod decommit;
mod flow;
mod kernels;
mod ops;
mod twiddles;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

pub use column::{DeviceColumn, DeviceElement};
pub use component::{HostComponent, HostTrace};
pub use crossings::{current_crossing, with_crossing, Crossing};
pub use decommit::{prefetch_decommitment, DecommitPrefetch};
pub use flow::{FlowFailure, FlowProof, FlowStats, ProveFlow};
pub use twiddles::DeviceTwiddles;

use crate::error::{KernelError, Result};
use crate::gpu_device::Launcher;
use crate::plan::MemoryBudget;

/// A device whose buffers hold a proof's columns between operations: the kernel launches of
/// [`Launcher`], plus copies within and between device buffers and partial transfers.
pub trait ResidentDevice:
    Launcher<Buffer: Send + Sync + std::fmt::Debug> + Send + Sync + 'static
{
    /// The device kind, in words ("cuda", "cuda-emulated").
    const NAME: &'static str;
    /// The process-wide instance: Stwo creates columns (`Column::zeros`) with no device
    /// argument, so the backend type names the device and this finds it.
    fn instance() -> Result<&'static Self>;
    /// Device memory one operation may use.
    fn budget(&self) -> MemoryBudget;
    /// `dst[dst_start..][..len] = src[src_start..][..len]`, on the device.
    fn copy_range(
        &self,
        src: &Self::Buffer,
        src_start: usize,
        dst: &mut Self::Buffer,
        dst_start: usize,
        len: usize,
    ) -> Result<()>;
    /// `src[start..][..len]`, to the host.
    fn download_range(&self, src: &Self::Buffer, start: usize, len: usize) -> Result<Vec<u32>>;
    /// `dst[start..][..words.len()] = words`, from the host.
    fn upload_range(&self, dst: &mut Self::Buffer, start: usize, words: &[u32]) -> Result<()>;

    /// `circle_fft_layer` over `n_half` threads with its parameter block (4 words) at word
    /// `params_at` of `params` and its twiddles from word `twiddles_at` of `twiddles`
    /// (`twiddles_len` of them are read): one buffer of parameters per FFT, and the twiddle
    /// tree's resident copy, instead of an upload of each per layer.
    #[allow(clippy::too_many_arguments)]
    fn launch_fft_layer_at(
        &self,
        params: &Self::Buffer,
        params_at: usize,
        twiddles: &Self::Buffer,
        twiddles_at: usize,
        twiddles_len: usize,
        values: &mut Self::Buffer,
        n_half: u32,
    ) -> Result<()>;
    /// `fri_fold` over `n_half` threads, its parameter block (8 words) at word `params_at` of
    /// `params`, its `n_half` twiddles from word `twiddles_at` of `twiddles`.
    #[allow(clippy::too_many_arguments)]
    fn launch_fri_fold_at(
        &self,
        params: &Self::Buffer,
        params_at: usize,
        twiddles: &Self::Buffer,
        twiddles_at: usize,
        src: &Self::Buffer,
        dst: &mut Self::Buffer,
        n_half: u32,
    ) -> Result<()>;

    /// Kernels compiled at run time from a CUDA source outside this crate (the AIR compiler's
    /// constraint kernels, `air/generated/cuda/`): see [`RowKernels`].
    type Module: Send + Sync;
    /// Compiles `source` (after `shaders/m31.cu`, which it may use) and finds the kernels
    /// `names`, each of signature `(const uint32_t* cols, const uint32_t* params, uint32_t*
    /// accum)`, one thread per row.
    fn load_row_kernels(&self, source: &str, names: &[String]) -> Result<Self::Module>;
    /// Runs kernel `index` of `module` over `launch.rows` rows. The kernel reads
    /// `launch.cols_words` words of `cols`, `launch.params_words` of `params` and writes
    /// `4 * rows` of `accum`: the caller states these from the source it compiled, and each
    /// device checks the buffers hold them.
    fn launch_row_kernel(
        &self,
        module: &Self::Module,
        index: usize,
        launch: RowLaunch,
        cols: &Self::Buffer,
        params: &Self::Buffer,
        accum: &mut Self::Buffer,
    ) -> Result<()>;
}

/// The extent of one [`ResidentDevice::launch_row_kernel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowLaunch {
    pub rows: u32,
    pub cols_words: usize,
    pub params_words: usize,
}

impl RowLaunch {
    /// An error unless the buffers hold what the launch reads and writes.
    pub fn check(&self, cols: usize, params: usize, accum: usize) -> Result<()> {
        let need = [
            ("row-kernel columns", cols, self.cols_words),
            ("row-kernel parameters", params, self.params_words),
            ("row-kernel accumulator", accum, 4 * self.rows as usize),
        ];
        for (what, have, need) in need {
            if have < need {
                return Err(KernelError::InvalidInput(format!(
                    "{what}: buffer of {have} words, the launch reads {need}"
                )));
            }
        }
        Ok(())
    }
}

/// Kernels of one signature loaded from an outside CUDA source, by name (see
/// [`ResidentDevice::load_row_kernels`]).
pub struct RowKernels<D: ResidentDevice> {
    module: D::Module,
    names: Vec<String>,
}

impl<D: ResidentDevice> RowKernels<D> {
    /// Compiles `source` for `device` and finds `names` in it.
    pub fn load(device: &D, source: &str, names: Vec<String>) -> Result<Self> {
        let module = device.load_row_kernels(source, &names)?;
        Ok(Self { module, names })
    }

    /// The index of kernel `name`, if it was loaded.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Runs kernel `index` (see [`ResidentDevice::launch_row_kernel`]).
    pub fn launch(
        &self,
        device: &D,
        index: usize,
        launch: RowLaunch,
        cols: &D::Buffer,
        params: &D::Buffer,
        accum: &mut D::Buffer,
    ) -> Result<()> {
        device.launch_row_kernel(&self.module, index, launch, cols, params, accum)
    }
}

/// Stwo's backend over the buffers of device `D`. A unit type, as Stwo wants (`Copy`); the
/// device is `D::instance()`.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct DeviceBackend<D>(#[serde(skip)] PhantomData<fn() -> D>);

impl<D> Clone for DeviceBackend<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D> Copy for DeviceBackend<D> {}
impl<D> Default for DeviceBackend<D> {
    fn default() -> Self {
        Self(PhantomData)
    }
}
impl<D: ResidentDevice> std::fmt::Debug for DeviceBackend<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceBackend<{}>", D::NAME)
    }
}

/// The resident backend on the emulated device (tests, machines without a GPU).
pub type EmulatedBackend = DeviceBackend<crate::emulated_device::EmulatedDevice>;
/// The resident backend on CUDA device 0.
#[cfg(feature = "cuda")]
pub type CudaBackend = DeviceBackend<crate::cuda_device::CudaDevice>;

/// The payload a device error unwinds with out of a Stwo operation (see the module header).
#[derive(Debug)]
pub struct DeviceFault(pub KernelError);

/// Unwinds with `e` as a [`DeviceFault`]. `resume_unwind`, not `panic!`: no panic hook runs
/// (a device error is not a bug, and is reported once, here); rayon carries the payload from
/// its worker threads to the caller.
pub(crate) fn fault(e: KernelError) -> ! {
    tracing::error!("resident backend: device error, abandoning the proof: {e}");
    std::panic::resume_unwind(Box::new(DeviceFault(e)))
}

/// The value, or a [`DeviceFault`] unwind: for Stwo trait implementations outside this crate
/// (component provers over [`DeviceBackend`]), which are infallible too.
pub fn ok<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| fault(e))
}

/// The device of the backend `DeviceBackend<D>`, or a [`DeviceFault`] unwind.
pub fn device<D: ResidentDevice>() -> &'static D {
    ok(D::instance())
}

/// Runs `f` (a proof on a [`DeviceBackend`], commitments included) and returns its value, or
/// the device error that interrupted it. Other panics go on unwinding.
pub fn catch_device_faults<T>(f: impl FnOnce() -> T) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => Ok(value),
        Err(payload) => match payload.downcast::<DeviceFault>() {
            Ok(fault) => Err(fault.0),
            Err(other) => std::panic::resume_unwind(other),
        },
    }
}

static PROOF_FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// Runs `on_device` (a job proven on a [`DeviceBackend`]); if a device error interrupts it,
/// runs `on_host` instead (the same job on `SimdBackend`) and counts the fallback
/// ([`proof_fallbacks`]). Returns the value and the device error, if there was one.
pub fn prove_with_fallback<T>(
    on_device: impl FnOnce() -> T,
    on_host: impl FnOnce() -> T,
) -> (T, Option<KernelError>) {
    match catch_device_faults(on_device) {
        Ok(value) => (value, None),
        Err(e) => {
            PROOF_FALLBACKS.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("resident backend: device error, proving the job on the CPU: {e}");
            (on_host(), Some(e))
        }
    }
}

/// Jobs [`prove_with_fallback`] moved to the host so far.
pub fn proof_fallbacks() -> u64 {
    PROOF_FALLBACKS.load(Ordering::Relaxed)
}

/// The backend operations, for the counters of what ran where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    BitReverse,
    Interpolate,
    Evaluate,
    EvalAtPoint,
    BarycentricWeights,
    BarycentricEval,
    EvalByFolding,
    Extend,
    SplitAtMid,
    PrecomputeTwiddles,
    AccumulateNumerators,
    CombineQuotients,
    FoldLine,
    FoldCircleIntoLine,
    Decompose,
    Accumulate,
    LiftAndAccumulate,
    Gkr,
    MerkleLeaves,
    MerkleNextLayer,
    PackLeaves,
    Grind,
    ComponentQuotients,
}

impl Op {
    pub const ALL: [Op; 23] = [
        Op::BitReverse,
        Op::Interpolate,
        Op::Evaluate,
        Op::EvalAtPoint,
        Op::BarycentricWeights,
        Op::BarycentricEval,
        Op::EvalByFolding,
        Op::Extend,
        Op::SplitAtMid,
        Op::PrecomputeTwiddles,
        Op::AccumulateNumerators,
        Op::CombineQuotients,
        Op::FoldLine,
        Op::FoldCircleIntoLine,
        Op::Decompose,
        Op::Accumulate,
        Op::LiftAndAccumulate,
        Op::Gkr,
        Op::MerkleLeaves,
        Op::MerkleNextLayer,
        Op::PackLeaves,
        Op::Grind,
        Op::ComponentQuotients,
    ];
}

/// How many calls of an operation ran on the device, and how many on the host (fallback).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCount {
    pub device: u64,
    pub host: u64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
static ON_DEVICE: [AtomicU64; Op::ALL.len()] = [ZERO; Op::ALL.len()];
static ON_HOST: [AtomicU64; Op::ALL.len()] = [ZERO; Op::ALL.len()];

/// Counts one call of `op` (on the device or as a host fallback); public for component
/// provers outside this crate ([`Op::ComponentQuotients`]).
pub fn record(op: Op, on_device: bool) {
    let cells = if on_device { &ON_DEVICE } else { &ON_HOST };
    cells[op as usize].fetch_add(1, Ordering::Relaxed);
}

/// Calls of each operation so far in this process, every device together.
pub fn op_counts() -> Vec<(Op, OpCount)> {
    Op::ALL
        .iter()
        .map(|&op| {
            (
                op,
                OpCount {
                    device: ON_DEVICE[op as usize].load(Ordering::Relaxed),
                    host: ON_HOST[op as usize].load(Ordering::Relaxed),
                },
            )
        })
        .collect()
}
