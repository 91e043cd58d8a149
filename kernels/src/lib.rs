//! GPU kernels for Stwo's hot paths, and the glue that plugs them into an unmodified Stwo.
//!
//! Owns: the Blake2s lifted-Merkle and proof-of-work kernels, in two backends behind one
//! [`GpuBackend`] trait, CUDA ([`cuda_backend`], CUDA C compiled at run time with NVRTC, driver
//! loaded dynamically) and wgpu ([`wgpu_backend`], WGSL); the process-wide device
//! ([`device`]); and [`GpuBlake2sMerkleChannel`], a `MerkleChannel` whose `SimdBackend`
//! Merkle/grind operations run on that device and whose proofs are byte-identical to
//! `Blake2sMerkleChannel`'s; and Stwo's circle FFT as device butterfly layers ([`fft`]) and its FRI folds ([`fri`]),
//! neither yet used by the prover. Every kernel reproduces Stwo's CPU results bit for bit.
//!
//! Must not import: the prover crate or stwo-cairo (this crate depends on `stwo` only).

pub mod backend;
pub mod blake2s;
pub mod channel;
#[cfg(feature = "cuda")]
pub mod cuda_backend;
pub mod cuda_src;
pub mod device;
pub mod error;
pub mod fft;
pub mod fri;
pub mod merkle;
pub mod plan;
#[cfg(feature = "wgpu")]
pub mod wgpu_backend;

pub use backend::GpuBackend;
pub use channel::{GpuBlake2sChannel, GpuBlake2sMerkleChannel};
pub use error::{KernelError, Result};
pub use merkle::GpuBlake2sHasher;
