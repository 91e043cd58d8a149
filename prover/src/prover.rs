//! A long-lived prover: twiddles and the preprocessed-trace commitment are computed once and
//! reused for every proof (`prove_cairo_with_precompute`), and every proof is verified from its
//! encoded bytes before it is returned. On a GPU [`Device`] the same flow runs with
//! `GpuBlake2sMerkleChannel` (see [`crate::device`]): the proof bytes do not change. With the
//! Keccak channel ([`crate::channel`]) it runs with `Keccak256MerkleChannel`, on the CPU only.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cairo_air::{CairoProof, CairoProofForRustVerifier};
use starfarm_kernels::device as gpu;
use starfarm_kernels::GpuBlake2sMerkleChannel;
use stwo::core::channel::MerkleChannel;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::utils::MaybeOwned;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::BackendForChannel;
use stwo::prover::mempool::BaseColumnPool;
use stwo::prover::poly::circle::PolyOps;
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::{CommitmentTreeProver, ProvingError};
use stwo_cairo_adapter::ProverInput;
use stwo_cairo_common::preprocessed_columns::preprocessed_trace::{
    PreProcessedTrace, PreProcessedTraceVariant,
};
use stwo_cairo_prover::prover::{prove_cairo_with_precompute, ChannelHash, ProverParameters};
use stwo_cairo_prover::witness::preprocessed_trace::gen_trace;

use crate::artifact::{ArtifactHeader, PhaseTimings, ProofArtifact, ProofCodec};
use crate::channel::{ChannelKind, Keccak256MerkleChannel};
use crate::device::{
    count_fault_fallback, count_memory_fallback, place, Device, GpuUse, Placement,
};
use crate::error::ProveError;
use crate::execute::{execute, Execution, ExecutionLimits};
use crate::fact::{fact, hex32};
use crate::input::ProgramInput;
use crate::profile::SecurityProfile;
use crate::program::CairoProgram;
use crate::resident::{FlowFailure, FlowProof, FlowStats, ResidentFlow};
use crate::verify::verify;

/// A step of [`Prover::prove`], reported to the progress callback as it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Execute,
    Adapt,
    /// Computing twiddles and the preprocessed-trace commitment (first proof, or a proof that
    /// needs another preprocessed trace than the previous one).
    Precompute,
    Prove,
    Verify,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Execute => "executing",
            Phase::Adapt => "adapting the trace",
            Phase::Precompute => "precomputing twiddles and the preprocessed trace (once)",
            Phase::Prove => "proving",
            Phase::Verify => "verifying",
        })
    }
}

/// What stays warm between proofs: valid for one preprocessed-trace variant and one Merkle
/// channel. Public for benchmarks that time `prove_cairo_with_precompute` alone.
pub struct Precompute<MC: MerkleChannel = Blake2sMerkleChannel>
where
    SimdBackend: BackendForChannel<MC>,
{
    pub variant: PreProcessedTraceVariant,
    pub twiddles: TwiddleTree<SimdBackend>,
    pub pool: BaseColumnPool<SimdBackend>,
    pub trace: Arc<PreProcessedTrace>,
    pub tree: CommitmentTreeProver<SimdBackend, MC>,
}

impl<MC: MerkleChannel> Precompute<MC>
where
    SimdBackend: BackendForChannel<MC>,
{
    /// stwo-cairo's `prove_cairo_with_precompute` with this precompute.
    pub fn prove(
        &self,
        input: ProverInput,
        params: ProverParameters,
    ) -> Result<CairoProof<MC::H>, ProvingError> {
        prove_cairo_with_precompute::<MC>(
            &self.pool,
            &self.twiddles,
            self.trace.clone(),
            MaybeOwned::Borrowed(&self.tree),
            input,
            params,
        )
    }
}

/// The warm precompute of the prover's channel and backend.
enum Warm {
    Cpu(Precompute<Blake2sMerkleChannel>),
    Gpu(Precompute<GpuBlake2sMerkleChannel>),
    Keccak(Precompute<Keccak256MerkleChannel>),
}

impl Warm {
    fn new(
        channel: ChannelKind,
        backend: Device,
        variant: PreProcessedTraceVariant,
        profile: SecurityProfile,
    ) -> Self {
        match (channel, backend.is_gpu()) {
            (ChannelKind::Keccak, _) => Self::Keccak(precompute(variant, profile)),
            (ChannelKind::Blake2s, true) => Self::Gpu(precompute(variant, profile)),
            (ChannelKind::Blake2s, false) => Self::Cpu(precompute(variant, profile)),
        }
    }

    /// Whether this precompute proves with `channel` on `backend`.
    fn serves(&self, channel: ChannelKind, backend: Device) -> bool {
        matches!(
            (self, channel, backend.is_gpu()),
            (Self::Keccak(_), ChannelKind::Keccak, _)
                | (Self::Gpu(_), ChannelKind::Blake2s, true)
                | (Self::Cpu(_), ChannelKind::Blake2s, false)
        )
    }

    fn variant(&self) -> PreProcessedTraceVariant {
        match self {
            Self::Cpu(p) => p.variant,
            Self::Gpu(p) => p.variant,
            Self::Keccak(p) => p.variant,
        }
    }

    /// Proves and encodes the proof.
    fn prove(&self, input: ProverInput, params: ProverParameters) -> Result<Vec<u8>, ProveError> {
        match self {
            Self::Cpu(p) => prove_encoded(p, input, params),
            Self::Gpu(p) => prove_encoded(p, input, params),
            Self::Keccak(p) => prove_encoded(p, input, params),
        }
    }
}

fn prove_encoded<MC: MerkleChannel>(
    warm: &Precompute<MC>,
    input: ProverInput,
    params: ProverParameters,
) -> Result<Vec<u8>, ProveError>
where
    SimdBackend: BackendForChannel<MC>,
    CairoProofForRustVerifier<MC::H>: serde::Serialize,
{
    let proof = warm
        .prove(input, params)
        .map_err(|e| ProveError::Stwo(e.to_string()))?;
    ProofCodec::encode(&CairoProofForRustVerifier::from(proof)).map_err(ProveError::Stwo)
}

/// Proves Cairo programs with one security profile, keeping precomputed data between proofs.
///
/// Holds one preprocessed trace at a time (~6 GiB for `CanonicalSmall`, ~16 GiB for
/// `Canonical`): use one `Prover` per process.
pub struct Prover {
    profile: SecurityProfile,
    channel: ChannelKind,
    limits: ExecutionLimits,
    backend: Device,
    /// Device memory a job may use; `None`: what the opened device has free, asked per proof.
    device_memory: Option<u64>,
    warm: Option<Warm>,
    /// The CUDA path that keeps the whole proof on the device, when one was injected. In a
    /// mutex because a flow is `Send` but not `Sync`, and a worker's future that holds a
    /// `&Prover` across an await must be `Send` (`tokio::spawn`).
    resident: Option<Mutex<Box<ResidentFlow>>>,
}

impl Prover {
    /// A prover for `profile`, with its channel; nothing is computed until the first proof.
    pub fn new(profile: SecurityProfile) -> Self {
        Self {
            profile,
            channel: profile.channel(),
            limits: ExecutionLimits::default(),
            backend: Device::Cpu,
            device_memory: None,
            warm: None,
            resident: None,
        }
    }

    /// Proves on the CUDA backend with `flow`, the whole proof on the device
    /// ([`crate::resident`]), each job whose memory estimate fits the device memory budget:
    /// the one given by [`Self::with_device_memory`], else the flow's. A job that does not fit
    /// the flow's budget takes the streamed GPU path; one that does not fit a budget given
    /// here, the CPU. A device fault ends in the job's CPU proof, counted.
    pub fn with_resident(mut self, flow: Box<ResidentFlow>) -> Self {
        self.resident = Some(Mutex::new(flow));
        self
    }

    /// The resident flow's counters, if one was injected ([`Self::with_resident`]).
    pub fn resident_stats(&self) -> Option<FlowStats> {
        self.resident.as_ref().map(|flow| lock(flow).stats())
    }

    /// One proof with the resident flow: the proof, or why the device made none. A panic that
    /// is not a device fault (a bug) is an error, as on the other paths.
    fn prove_resident(
        &mut self,
        input: ProverInput,
        params: ProverParameters,
    ) -> Result<Result<FlowProof<CairoProof<Blake2sMerkleHasher>>, FlowFailure>, ProveError> {
        let Some(flow) = self.resident.as_mut() else {
            return Ok(Err(FlowFailure::Unsupported("no resident flow".into())));
        };
        let flow = flow.get_mut().unwrap_or_else(PoisonError::into_inner);
        catch_unwind(AssertUnwindSafe(|| flow.prove(input, params)))
            .map_err(|panic| ProveError::Stwo(panic_message(&panic)))
    }

    /// Gives each job at most `bytes` of device memory: a job whose estimate exceeds it is
    /// proven on the CPU ([`Self::placement`]). Without it no job is refused the device: the
    /// GPU path of today streams each commitment's columns through the device in pieces its
    /// budget sizes (`starfarm_kernels::gpu_device`), so a job never has to fit whole; a
    /// budget is for the resident flow (`starfarm_air::resident`), whose columns all stay on
    /// the device, and for an operator sharing the GPU.
    pub fn with_device_memory(mut self, bytes: u64) -> Self {
        self.device_memory = Some(bytes);
        self
    }

    /// Where a proof of `execution` runs: on the prover's GPU backend if its memory estimate
    /// fits the budget given by [`Self::with_device_memory`] or, without one, the resident
    /// flow's on CUDA; else not on the device (see [`crate::device::place`]); without a
    /// budget, on its backend.
    pub fn placement(&self, execution: &Execution) -> Result<Placement, ProveError> {
        let backend = self.backend();
        if !backend.is_gpu() {
            return Ok(Placement::Device);
        }
        let available = match (self.device_memory, &self.resident) {
            (Some(bytes), _) => bytes,
            (None, Some(flow)) if backend == Device::Cuda => lock(flow).device_memory(),
            (None, _) => return Ok(Placement::Device),
        };
        let needed = memory_estimate(execution)?;
        Ok(place(needed, available))
    }

    /// Proves on `backend`, as [`crate::device::select`] resolved it (a GPU backend whose
    /// device was not opened proves on the CPU, through the GPU channel's fallback). A channel
    /// without GPU kernels proves on the CPU whatever the backend: see [`Self::backend`].
    pub fn with_backend(mut self, backend: Device) -> Self {
        if backend != self.backend {
            self.warm = None;
        }
        self.backend = backend;
        self
    }

    /// Proves with `channel` instead of the profile's (until the next [`Self::set_profile`]).
    pub fn with_channel(mut self, channel: ChannelKind) -> Self {
        self.switch_channel(channel);
        self
    }

    fn switch_channel(&mut self, channel: ChannelKind) {
        if channel != self.channel {
            self.warm = None;
        }
        self.channel = channel;
    }

    pub fn channel(&self) -> ChannelKind {
        self.channel
    }

    /// The backend proofs are made on: the one given, or the CPU for a channel without GPU
    /// kernels (the GPU Merkle path is `GpuBlake2sMerkleChannel`, Blake2s only).
    pub fn backend(&self) -> Device {
        if self.channel.has_gpu_kernels() {
            self.backend
        } else {
            Device::Cpu
        }
    }

    pub fn with_limits(mut self, limits: ExecutionLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn profile(&self) -> SecurityProfile {
        self.profile
    }

    /// Proves with `profile` and its channel from now on. The precompute depends only on the
    /// channel, blowup factor and lifting size, so it stays warm across profiles that share
    /// them (`production`, `production-fast` and `test` do).
    pub fn set_profile(&mut self, profile: SecurityProfile) {
        let shape = |p: SecurityProfile| {
            let config = p.pcs_config();
            (config.fri_config.log_blowup_factor, config.lifting_log_size)
        };
        if shape(profile) != shape(self.profile) {
            self.warm = None;
        }
        self.profile = profile;
        self.switch_channel(profile.channel());
    }

    /// Whether the next proof of a program that uses the same preprocessed trace skips the
    /// precompute.
    pub fn is_warm(&self) -> bool {
        self.warm.is_some()
    }

    /// Executes, proves and verifies `program` on `input`; `on_phase` hears each phase start.
    pub fn prove(
        &mut self,
        program: &CairoProgram,
        input: &ProgramInput,
        on_phase: &mut dyn FnMut(Phase),
    ) -> Result<ProofArtifact, ProveError> {
        on_phase(Phase::Execute);
        let execution = execute(program, input, self.limits)?;
        self.prove_execution(program, &execution, on_phase)
    }

    /// Proves a finished run of `program`.
    pub fn prove_execution(
        &mut self,
        program: &CairoProgram,
        execution: &Execution,
        on_phase: &mut dyn FnMut(Phase),
    ) -> Result<ProofArtifact, ProveError> {
        let mut timings = PhaseTimings {
            execute_ms: ms(execution.duration),
            ..PhaseTimings::default()
        };
        let variant = choose_variant(execution)?;
        self.profile
            .check_channel(self.channel)
            .map_err(ProveError::Channel)?;

        on_phase(Phase::Adapt);
        let started = Instant::now();
        // Taken by the first path that proves; the CPU fallback of a device fault adapts again.
        let mut prover_input = Some(execution.adapt()?);
        timings.adapt_ms = ms(started.elapsed());

        if self.warm.as_ref().is_some_and(|w| w.variant() != variant) {
            self.warm = None; // free the old precompute before building the next one
        }
        let (profile, mut backend, channel) = (self.profile, self.backend(), self.channel);
        if backend != self.backend {
            tracing::warn!(
                requested = %self.backend,
                "the {channel} channel has no GPU kernels: proving on the CPU"
            );
        }
        let params = parameters(profile, variant);
        // Blake2s on CUDA (`backend()` is the CPU for other channels) with a resident flow.
        let mut resident = backend == Device::Cuda && self.resident.is_some();
        let mut gpu_use = GpuUse::default();
        if let Placement::Cpu { needed, available } = self.placement(execution)? {
            count_memory_fallback();
            gpu_use.memory_fallbacks = 1;
            if resident && self.device_memory.is_none() {
                // The budget is the resident flow's (the device's free memory): the streamed
                // path, which sends each commitment through the device in pieces, needs no fit.
                tracing::warn!(
                    needed,
                    available,
                    "the job does not fit the device memory of the resident flow: proving on the streamed GPU path"
                );
            } else {
                // The job would not fit the device: the same proof on the CPU (the bytes do
                // not depend on the backend), counted in the artifact and the process.
                tracing::warn!(
                    needed,
                    available,
                    "the job needs more device memory than the {backend} device has: proving on the CPU"
                );
                backend = Device::Cpu;
            }
            resident = false;
        }

        let prove_started = Instant::now();
        let mut proof_bytes = None;
        if let (true, Some(input)) = (resident, prover_input.take()) {
            on_phase(Phase::Prove);
            match self.prove_resident(input, params)? {
                Ok(proven) => {
                    gpu_use.calls = proven.device_calls;
                    proof_bytes = Some(
                        ProofCodec::encode(&CairoProofForRustVerifier::from(proven.proof))
                            .map_err(ProveError::Stwo)?,
                    );
                }
                Err(failure) => {
                    // No proof came out of the device: the job's proof on the CPU (the same
                    // bytes), counted in the artifact and the process.
                    count_fault_fallback();
                    tracing::warn!("resident flow: {failure}: proving the job on the CPU");
                    gpu_use.fallbacks = 1;
                    backend = Device::Cpu;
                }
            }
        }
        let proof_bytes = match proof_bytes {
            Some(bytes) => bytes,
            None => {
                let prover_input = match prover_input.take() {
                    Some(input) => input,
                    None => {
                        // The resident attempt consumed the adapted input: adapt again.
                        let started = Instant::now();
                        let input = execution.adapt()?;
                        timings.adapt_ms += ms(started.elapsed());
                        input
                    }
                };
                if self
                    .warm
                    .as_ref()
                    .is_some_and(|w| !w.serves(channel, backend))
                {
                    self.warm = None;
                }
                if self.warm.is_none() {
                    on_phase(Phase::Precompute);
                }
                let started = Instant::now();
                let warm = self
                    .warm
                    .get_or_insert_with(|| Warm::new(channel, backend, variant, profile));
                timings.precompute_ms = ms(started.elapsed());

                on_phase(Phase::Prove);
                let gpu_before = gpu::stats();
                let proved = catch_unwind(AssertUnwindSafe(|| warm.prove(prover_input, params)));
                let bytes = match proved {
                    Ok(result) => result?,
                    Err(panic) => {
                        // A panic mid-proof may leave the shared pool in any state: rebuild
                        // next time.
                        self.warm = None;
                        return Err(ProveError::Stwo(panic_message(&panic)));
                    }
                };
                if backend.is_gpu() {
                    let streamed = GpuUse::since(gpu_before);
                    gpu_use.calls = streamed.calls;
                    gpu_use.fallbacks = streamed.fallbacks;
                }
                if resident {
                    // A fault's CPU precompute serves no resident proof: free its host memory
                    // (the next fault builds it again).
                    self.warm = None;
                }
                bytes
            }
        };
        let gpu = gpu_use;
        timings.prove_ms = ms(prove_started.elapsed()).saturating_sub(timings.precompute_ms);

        let output = execution.output.clone();
        let header = ArtifactHeader {
            format_version: crate::ARTIFACT_FORMAT_VERSION,
            program_hash: program.hash(),
            program_main: program.main(),
            fact: hex32(&fact(program.hash(), &output)),
            output,
            profile: self.profile,
            security_bits: params.pcs_config.security_bits(),
            pcs_config: params.pcs_config,
            preprocessed_trace: variant,
            steps: execution.steps,
            builtins: execution.builtins.clone(),
            timings_ms: timings,
            prover: format!("starfarm {} (stwo-cairo 1.3.0)", env!("CARGO_PKG_VERSION")),
            backend,
            gpu,
            channel,
        };
        let mut artifact = ProofArtifact {
            header,
            proof: proof_bytes,
        };

        on_phase(Phase::Verify);
        let started = Instant::now();
        verify(&artifact, 0).map_err(|e| ProveError::SelfCheck(e.to_string()))?;
        artifact.header.timings_ms.verify_ms = ms(started.elapsed());
        Ok(artifact)
    }
}

/// Memory a proof of `execution` needs: see [`memory_for`].
pub fn memory_estimate(execution: &Execution) -> Result<u64, ProveError> {
    memory_for(
        execution.steps,
        execution.uses("pedersen"),
        execution.uses("ec_op"),
    )
}

/// Memory a proof of a run of `steps` steps needs, for routing jobs to workers that have it:
/// the preprocessed trace it uses (held warm) plus the trace of the run, rounded up from
/// measurements on 2 cores: small programs (`CanonicalSmall`) stay under 6 GiB; the warm
/// block program (`CanonicalWithoutPedersen`) holds ~6.4 GiB, and a 100-transfer range of it
/// (1.0–1.6·10^5 steps) peaked at 17.4–19.1 GiB.
pub fn memory_for(steps: u64, uses_pedersen: bool, uses_ec_op: bool) -> Result<u64, ProveError> {
    const GIB: u64 = 1 << 30;
    const PER_STEP: u64 = 96 << 10;
    let base = match variant_for(steps, uses_pedersen, uses_ec_op)? {
        PreProcessedTraceVariant::CanonicalSmall => 6 * GIB,
        PreProcessedTraceVariant::CanonicalWithoutPedersen => 7 * GIB,
        _ => 16 * GIB,
    };
    Ok(base.saturating_add(steps.saturating_mul(PER_STEP)))
}

/// stwo-cairo's parameters for a proof with `profile` on `variant`, as [`Prover`] uses them.
pub fn parameters(profile: SecurityProfile, variant: PreProcessedTraceVariant) -> ProverParameters {
    ProverParameters {
        channel_hash: ChannelHash::Blake2s,
        channel_salt: 0,
        pcs_config: profile.pcs_config(),
        preprocessed_trace: variant,
        // Keeping coefficients makes out-of-domain sampling ~2 s faster per proof (measured
        // on 2 cores) for more memory.
        store_polynomials_coefficients: true,
        include_all_preprocessed_columns: false,
    }
}

/// Programs up to this many steps use the small preprocessed trace (max 2^20 rows per
/// component; memory components outgrow the step count, hence the margin).
const SMALL_TRACE_MAX_STEPS: u64 = 1 << 19;

/// The cheapest preprocessed trace that supports what the run used. `CanonicalSmall` cannot
/// prove ec_op; `CanonicalWithoutPedersen` cannot prove Pedersen; `Canonical` proves all but
/// costs ~65 s to commit and ~16 GiB to hold. Public so that benchmarks can size a run's
/// proof the way [`Prover`] will make it without proving.
pub fn choose_variant(execution: &Execution) -> Result<PreProcessedTraceVariant, ProveError> {
    variant_for(
        execution.steps,
        execution.uses("pedersen"),
        execution.uses("ec_op"),
    )
}

fn variant_for(
    steps: u64,
    pedersen: bool,
    ec_op: bool,
) -> Result<PreProcessedTraceVariant, ProveError> {
    use PreProcessedTraceVariant::*;
    let needed = steps.max(1).next_power_of_two().trailing_zeros();
    let variant = match (pedersen, ec_op) {
        (true, true) => Canonical,
        (_, false) if steps <= SMALL_TRACE_MAX_STEPS => CanonicalSmall,
        (true, false) => Canonical,
        (false, _) => CanonicalWithoutPedersen,
    };
    let max = variant.max_log_trace_size();
    if needed > max {
        return Err(ProveError::TooLarge { needed, max });
    }
    Ok(variant)
}

/// Twiddles and the preprocessed-trace commitment, as stwo-cairo's `prove_cairo` builds them,
/// but sized to the variant's largest trace instead of a 2^30 domain.
pub fn precompute<MC: MerkleChannel>(
    variant: PreProcessedTraceVariant,
    profile: SecurityProfile,
) -> Precompute<MC>
where
    SimdBackend: BackendForChannel<MC>,
{
    precompute_for_config(variant, &profile.pcs_config())
}

/// [`precompute`] for any commitment-scheme parameters (benchmarks that compare settings).
pub fn precompute_for_config<MC: MerkleChannel>(
    variant: PreProcessedTraceVariant,
    config: &PcsConfig,
) -> Precompute<MC>
where
    SimdBackend: BackendForChannel<MC>,
{
    let log_blowup = config.fri_config.log_blowup_factor;
    let max_domain = variant.max_log_trace_size() + log_blowup;
    let twiddles =
        SimdBackend::precompute_twiddles(CanonicCoset::new(max_domain).circle_domain().half_coset);
    let trace = Arc::new(variant.to_preprocessed_trace());
    let polys = SimdBackend::interpolate_columns(gen_trace(trace.clone()), &twiddles);
    let pool = BaseColumnPool::new();
    let tree = CommitmentTreeProver::<SimdBackend, MC>::new(
        polys,
        log_blowup,
        &twiddles,
        true, // store coefficients, as `parameters` does for the other trees
        config.lifting_log_size,
        &pool,
    );
    Precompute {
        variant,
        twiddles,
        pool,
        trace,
        tree,
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked without a message".to_string()
    }
}

/// The resident flow, whether or not an earlier proof panicked holding it: a panic is caught
/// and the flow's own state is what `FlowStats` reports.
fn lock(flow: &Mutex<Box<ResidentFlow>>) -> std::sync::MutexGuard<'_, Box<ResidentFlow>> {
    flow.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_picks_the_channel_and_keccak_proves_on_the_cpu() {
        let prover = Prover::new(SecurityProfile::L1).with_backend(Device::Cuda);
        assert_eq!(prover.channel(), ChannelKind::Keccak);
        assert_eq!(prover.backend(), Device::Cpu, "no GPU kernels for keccak");

        // A worker's prover follows each job's profile, overrides included.
        let mut prover = Prover::new(SecurityProfile::Test)
            .with_channel(ChannelKind::Keccak)
            .with_backend(Device::Cuda);
        assert_eq!(prover.backend(), Device::Cpu);
        prover.set_profile(SecurityProfile::Production);
        assert_eq!(prover.channel(), ChannelKind::Blake2s);
        assert_eq!(prover.backend(), Device::Cuda);
        prover.set_profile(SecurityProfile::L1);
        assert_eq!(prover.channel(), ChannelKind::Keccak);
    }
}
