//! A whole-proof flow on a resident device, as a trait a prover can hold without knowing who
//! implements it.
//!
//! The prover (`starfarm-prover`) proves on the resident backend through the Cairo AIR's
//! flow (`starfarm_air::resident::ResidentProver`), but may not import the AIR crate, and the
//! AIR crate imports no prover: both import this crate. So the trait lives here, generic over
//! the job's types (this crate knows nothing of Cairo): the prover names it with stwo-cairo's
//! input, parameters and proof, the AIR crate implements it with the same, and the binary
//! hands the one to the other.

/// A prove flow that keeps the whole proof on a device and its own warm state (the
/// preprocessed trace's device copy and tree) between proofs.
pub trait ProveFlow<Input, Params, Proof>: Send {
    /// The device, in words ("cuda", "cuda-emulated").
    fn device(&self) -> &'static str;
    /// Device memory one job may use now, in bytes.
    fn device_memory(&self) -> u64;
    /// Proves `input` with `params` on the device. A device error is a
    /// [`FlowFailure::Fault`], never a proof: the caller proves the job elsewhere.
    fn prove(&mut self, input: Input, params: Params) -> Result<FlowProof<Proof>, FlowFailure>;
    /// What the flow did so far.
    fn stats(&self) -> FlowStats;
}

/// A proof made by a [`ProveFlow`].
pub struct FlowProof<Proof> {
    pub proof: Proof,
    /// Backend operations that ran on the device for it.
    pub device_calls: u64,
}

/// Why a [`ProveFlow`] made no proof.
#[derive(Debug, thiserror::Error)]
pub enum FlowFailure {
    /// The device failed mid-proof (an error, out of memory, an injected fault).
    #[error("device fault: {0}")]
    Fault(String),
    /// The flow cannot prove this job (a channel or component it does not support).
    #[error("not provable on the device: {0}")]
    Unsupported(String),
}

/// Counters of one [`ProveFlow`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Proofs made on the device.
    pub proofs: u64,
    /// Times the preprocessed trace was uploaded and its tree built on the device (once per
    /// preprocessed-trace variant and commitment shape while warm).
    pub warm_builds: u64,
    /// Proofs a device error interrupted.
    pub faults: u64,
}
