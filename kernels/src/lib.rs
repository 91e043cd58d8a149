//! GPU kernels for Stwo's hot paths, and the glue that plugs them into an unmodified Stwo.
//!
//! Owns: the Blake2s lifted-Merkle and proof-of-work kernels, in two backends behind one
//! [`GpuDevice`] trait, CUDA ([`cuda_device`], CUDA C compiled at run time with NVRTC, driver
//! loaded dynamically) and wgpu ([`wgpu_device`], WGSL); the process-wide device
//! ([`device`], which [`device::GpuSelection`] picks); and [`GpuBlake2sMerkleChannel`], a `MerkleChannel` whose `SimdBackend`
//! Merkle/grind operations run on that device and whose proofs are byte-identical to
//! `Blake2sMerkleChannel`'s; Stwo's circle FFT as device butterfly layers ([`fft`]) and its FRI
//! folds ([`fri`]); and [`resident::DeviceBackend`], a Stwo backend whose columns live in device
//! buffers, on which Stwo's own `prove` runs unchanged and byte-identical to `SimdBackend`
//! (FFT, FRI folds, Merkle and grinding on the device, every other operation a counted host
//! fallback; docs/gpu.md), over CUDA or over [`emulated_device`] (the CUDA source compiled for
//! the CPU and loaded in-process, for tests without a GPU); and [`resident::ProveFlow`], the
//! trait by which the prover holds a whole-proof flow on the device that another crate
//! implements (the AIR crate's), generic over the job's types. Every kernel reproduces Stwo's
//! CPU results bit for bit.
//!
//! Why a backend type and not more hooks: `SimdBackend`'s `PolyOps`/`FriOps` have no type
//! parameter to hook (unlike the Merkle hasher), and data must stay on the device between
//! operations for the kernels to pay off (docs/architecture.md, the H200 measurements), which
//! only a backend whose `Column` is a device buffer gives.
//!
//! Must not import: the prover crate or stwo-cairo (this crate depends on `stwo` only).

pub mod blake2s;
pub mod channel;
#[cfg(feature = "cuda")]
pub mod cuda_device;
pub mod cuda_emulation;
pub mod cuda_src;
pub mod device;
pub mod emulated_device;
pub mod error;
pub mod fft;
pub mod fri;
pub mod gpu_device;
pub mod merkle;
pub mod plan;
pub mod resident;
#[cfg(feature = "wgpu")]
pub mod wgpu_device;

pub use channel::{GpuBlake2sChannel, GpuBlake2sMerkleChannel};
pub use error::{KernelError, Result};
pub use gpu_device::GpuDevice;
pub use merkle::GpuBlake2sHasher;
