//! GPU kernels for Stwo's hot paths, and the glue that plugs them into an unmodified Stwo.
//!
//! Owns: the Blake2s lifted-Merkle and proof-of-work kernels, in two backends behind one
//! [`GpuDevice`] trait, CUDA ([`cuda_device`], CUDA C compiled at run time with NVRTC, driver
//! loaded dynamically) and wgpu ([`wgpu_device`], WGSL); the process-wide device
//! ([`device`], which [`device::GpuSelection`] picks); and [`GpuBlake2sMerkleChannel`], a `MerkleChannel` whose `SimdBackend`
//! Merkle/grind operations run on that device and whose proofs are byte-identical to
//! `Blake2sMerkleChannel`'s; and Stwo's circle FFT as device butterfly layers ([`fft`]) and its FRI folds ([`fri`]),
//! neither yet used by the prover. Every kernel reproduces Stwo's CPU results bit for bit.
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
