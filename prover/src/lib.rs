//! starfarm-prover: everything between a compiled Cairo 0 program and a verified proof.
//!
//! - [`program`]: load and check a `cairo-compile --proof_mode` program (builtins, proof mode)
//!   and compute its program hash (the value cairo-lang's `cairo-hash-program` prints).
//! - [`input`]: the program input convention (a JSON array of felts read by a project hint).
//! - [`execute`]: run the program with cairo-vm in proof mode (step limit, output, resources;
//!   steps per Cairo function, for profiling).
//! - [`profile`]: security profiles and the Stwo parameters (and channel) they stand for.
//! - [`channel`]: the Fiat–Shamir channels proofs are made with: Stwo's Blake2s, and a
//!   Keccak-256 channel an Ethereum contract can replay (`SimdBackend` only).
//! - [`prover`]: a long-lived [`Prover`] that keeps twiddles and the preprocessed-trace
//!   commitment warm and proves with stwo-cairo.
//! - [`device`]: `--backend auto|cpu|cuda|wgpu`, resolved to the device the proofs' Merkle
//!   hashing and grinding run on (`starfarm-kernels`).
//! - [`resident`]: the CUDA path that keeps the whole proof on the device, a trait the
//!   binary implements with the AIR crate's flow and injects (the prover imports no AIR).
//! - [`batch`]: several programs in one run (and one proof) of the batch program.
//! - [`artifact`] and [`verify`]: the versioned proof artifact, its fact, and verification.
//!
//! It knows nothing of blocks, jobs or chains: the sequencer, scheduler and L1 crates build on
//! it, never the reverse.

pub mod artifact;
pub mod batch;
pub mod channel;
pub mod cpu;
pub mod device;
pub mod error;
pub mod execute;
/// The fact an artifact records: the project's one formula, in `starfarm-common`.
pub use starfarm_common::fact;
pub mod input;
pub mod profile;
pub mod program;
pub mod prover;
pub mod resident;
pub mod verify;

pub use artifact::{ProofArtifact, ARTIFACT_FORMAT_VERSION};
pub use channel::ChannelKind;
pub use device::{Device, DeviceRequest};
pub use error::{ArtifactError, ExecuteError, InputError, ProgramError, ProveError, VerifyError};
pub use execute::{execute, Execution, ExecutionLimits, FunctionSteps};
pub use input::ProgramInput;
pub use profile::SecurityProfile;
pub use program::CairoProgram;
pub use prover::{choose_variant, memory_estimate, memory_for, Phase, Prover};
pub use starknet_types_core::felt::Felt;
pub use verify::{verify, Verified};
