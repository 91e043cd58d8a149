//! The device-resident prove flow as the [`crate::Prover`]'s CUDA path.
//!
//! The resident flow (`starfarm_air::resident::ResidentProver`: the whole Stwo proof on the
//! device, the Cairo AIR's constraints through the AIR compiler's generated CUDA) lives in the
//! AIR crate, which the prover may not import (and which imports no prover: `docs/crates.md`).
//! Both import the kernels, whose `ProveFlow` trait the AIR crate implements with
//! stwo-cairo's types: [`ResidentFlow`] here. Whoever wires the crates (the binary, a test)
//! builds one and injects it: [`crate::Prover::with_resident`], or a [`ResidentFactory`] for a
//! worker, which builds its prover again after a panic.
//!
//! The prover proves on it a Blake2s job on the CUDA backend whose memory estimate fits the
//! device memory budget; the streamed GPU path (Merkle and grinding through the device) stays
//! for wgpu and for jobs that do not fit; a device fault ends in the CPU proof of the job,
//! counted ([`crate::device::fault_fallbacks`], the artifact's `gpu.fallbacks`).

use std::fmt;
use std::sync::Arc;

use cairo_air::CairoProof;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;
use stwo_cairo_adapter::ProverInput;
use stwo_cairo_prover::prover::ProverParameters;

pub use starfarm_kernels::resident::{FlowFailure, FlowProof, FlowStats};

/// A whole-proof flow on a device for Cairo jobs (`starfarm_kernels::resident::ProveFlow`
/// with stwo-cairo's input, parameters and Blake2s proof).
pub type ResidentFlow = dyn starfarm_kernels::resident::ProveFlow<
    ProverInput,
    ProverParameters,
    CairoProof<Blake2sMerkleHasher>,
>;

/// Builds a [`ResidentFlow`] (compiling its kernels), for a worker's prover, which is built
/// again after a panic. An error means no resident flow: the prover uses the streamed path.
#[derive(Clone)]
pub struct ResidentFactory(Arc<dyn Fn() -> Result<Box<ResidentFlow>, String> + Send + Sync>);

impl ResidentFactory {
    pub fn new(
        build: impl Fn() -> Result<Box<ResidentFlow>, String> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(build))
    }

    pub fn build(&self) -> Result<Box<ResidentFlow>, String> {
        (self.0)()
    }
}

impl fmt::Debug for ResidentFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResidentFactory")
    }
}
