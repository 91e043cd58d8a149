//! The crate's error type.

use thiserror::Error;

/// Everything a GPU kernel call can fail with. Callers that plug into Stwo (see
/// [`crate::merkle`]) treat every variant as "fall back to the CPU".
#[derive(Debug, Error)]
pub enum KernelError {
    /// No usable device of the requested kind (no adapter, no driver library, no GPU).
    #[error("no {backend} device: {reason}")]
    NoDevice {
        backend: &'static str,
        reason: String,
    },
    /// The input breaks a documented precondition (e.g. a column whose length is not a power
    /// of two, or a column longer than the lifting size).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The input cannot be split into pieces that fit the device memory budget.
    #[error("does not fit in device memory: {0}")]
    OutOfMemory(String),
    /// The device reported an error (validation, lost device, launch failure, ...).
    #[error("{backend} device error: {message}")]
    Device {
        backend: &'static str,
        message: String,
    },
    /// The kernel source failed to compile on the device.
    #[error("{backend} kernel compilation failed: {message}")]
    Compile {
        backend: &'static str,
        message: String,
    },
}

pub type Result<T> = std::result::Result<T, KernelError>;
