//! The CLI commands over the prover crate.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use starfarm_prover::artifact::ArtifactHeader;
use starfarm_prover::channel::ChannelKind;
use starfarm_prover::{
    execute, verify as verify_artifact, CairoProgram, Device, DeviceRequest, ExecutionLimits,
    ProgramInput, ProofArtifact, Prover, SecurityProfile,
};

use crate::progress::PhaseProgress;
use crate::ProgramArgs;

fn load(args: &ProgramArgs) -> Result<(CairoProgram, ProgramInput)> {
    let program = CairoProgram::from_file(&args.program)?;
    let input = match &args.input {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read input file {}", path.display()))?;
            ProgramInput::from_json(&bytes, &path.display().to_string())?
        }
        None => ProgramInput::default(),
    };
    Ok((program, input))
}

fn limits(args: &ProgramArgs) -> ExecutionLimits {
    ExecutionLimits {
        max_steps: args.max_steps,
    }
}

pub fn run(args: &ProgramArgs, as_json: bool) -> Result<()> {
    let (program, input) = load(args)?;
    let execution = execute(&program, &input, limits(args))
        .with_context(|| format!("running {}", args.program.display()))?;
    if as_json {
        let report = json!({
            "program_hash": program.hash(),
            "output": execution.output,
            "steps": execution.steps,
            "builtins": execution.builtins,
        });
        println!("{report:#}");
        return Ok(());
    }
    println!("Program output:");
    for felt in &execution.output {
        println!("  {felt}");
    }
    println!("Steps: {}", execution.steps);
    let builtins: Vec<String> = execution
        .builtins
        .iter()
        .map(|(name, n)| format!("{name}={n}"))
        .collect();
    println!(
        "Builtins used: {}",
        if builtins.is_empty() {
            "none".into()
        } else {
            builtins.join(" ")
        }
    );
    println!("Program hash: {:#x}", program.hash());
    Ok(())
}

pub fn prove(
    args: &ProgramArgs,
    profile: SecurityProfile,
    channel: Option<ChannelKind>,
    backend: DeviceRequest,
    gpu_flow: GpuFlow,
    output: &Path,
) -> Result<()> {
    let channel = channel.unwrap_or(profile.channel());
    profile.check_channel(channel).map_err(anyhow::Error::msg)?;
    let (program, input) = load(args)?;
    let backend = select_backend_for(backend, channel)?;
    let mut prover = Prover::new(profile)
        .with_channel(channel)
        .with_limits(limits(args))
        .with_backend(backend);
    if let Some(factory) = resident_factory(backend, gpu_flow) {
        match factory.build() {
            Ok(flow) => prover = prover.with_resident(flow),
            Err(e) => eprintln!("backend: {e}; proving on the streamed GPU path"),
        }
    }
    let mut progress = PhaseProgress::new();
    let artifact = prover
        .prove(&program, &input, &mut |phase| progress.phase(phase))
        .with_context(|| format!("proving {}", args.program.display()));
    progress.finish();
    let artifact = artifact?;
    artifact
        .write(output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    print_summary(&artifact.header, artifact.proof.len());
    println!("Verified and written to {}", output.display());
    Ok(())
}

/// How a CUDA proof uses the device (`--gpu-flow`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum GpuFlow {
    /// The whole proof on the device (`starfarm_air::resident`) for jobs that fit its memory;
    /// the streamed path for the others and on wgpu. Not the default until it has run on a
    /// real GPU (`scripts/gpu-checks.sh`; docs/gpu.md).
    Resident,
    /// Merkle hashing and grinding on the device, columns streamed from host memory.
    #[default]
    Streamed,
}

/// The resident flow on CUDA for `backend` (the AIR crate's `ResidentProver<CudaDevice>`, which
/// the prover holds through the kernels' `ProveFlow` trait: the prover does not import the
/// AIR crate), or `None` for another backend, `--gpu-flow streamed`, or a build without
/// `cuda`.
pub fn resident_factory(
    backend: Device,
    flow: GpuFlow,
) -> Option<starfarm_prover::resident::ResidentFactory> {
    if backend != Device::Cuda || flow != GpuFlow::Resident {
        return None;
    }
    #[cfg(feature = "cuda")]
    {
        use starfarm_air::resident::ResidentProver;
        use starfarm_kernels::cuda_device::CudaDevice;
        use starfarm_prover::resident::{ResidentFactory, ResidentFlow};
        Some(ResidentFactory::new(|| {
            ResidentProver::<CudaDevice>::new()
                .map(|flow| Box::new(flow) as Box<ResidentFlow>)
                .map_err(|e| format!("the resident flow on CUDA: {e}"))
        }))
    }
    #[cfg(not(feature = "cuda"))]
    None
}

/// Resolves `--backend` and says on stderr what was picked and why.
pub fn select_backend(choice: DeviceRequest) -> Result<Device> {
    select_backend_for(choice, ChannelKind::Blake2s)
}

/// [`select_backend`] for proofs with `channel` (keccak proofs run on the CPU).
fn select_backend_for(choice: DeviceRequest, channel: ChannelKind) -> Result<Device> {
    let selection = starfarm_prover::device::select_for(choice, channel)?;
    eprintln!("backend: {} ({})", selection.backend, selection.reason);
    Ok(selection.backend)
}

/// Exit status: 0 valid, 1 invalid, 2 unreadable.
pub fn verify(path: &Path, min_security_bits: u32, as_json: bool) -> ExitCode {
    let artifact = match read_artifact(path) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = verify_artifact(&artifact, min_security_bits);
    if as_json {
        let report = match &result {
            Ok(v) => json!({"valid": true, "program_hash": v.program_hash, "output": v.output,
                            "fact": v.fact, "security_bits": v.security_bits}),
            Err(e) => json!({"valid": false, "reason": e.to_string()}),
        };
        println!("{report:#}");
    }
    match result {
        Ok(v) => {
            if !as_json {
                println!(
                    "valid proof: program {:#x}, {} output felts, fact {}, {} bits",
                    v.program_hash,
                    v.output.len(),
                    v.fact,
                    v.security_bits
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if !as_json {
                println!("INVALID proof {}: {e}", path.display());
            }
            ExitCode::from(1)
        }
    }
}

pub fn inspect(path: &Path, as_json: bool) -> Result<()> {
    let artifact = read_artifact(path)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&artifact.header)?);
    } else {
        print_summary(&artifact.header, artifact.proof.len());
        println!("(not verified: run `starfarm verify {}`)", path.display());
    }
    Ok(())
}

fn read_artifact(path: &Path) -> Result<ProofArtifact> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    ProofArtifact::from_bytes(&bytes).with_context(|| format!("{} is not readable", path.display()))
}

fn print_summary(h: &ArtifactHeader, proof_bytes: usize) {
    let t = &h.timings_ms;
    println!("Program hash:   {:#x}", h.program_hash);
    println!(
        "Output:         [{}]",
        h.output
            .iter()
            .map(|f| format!("{f:#x}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("Fact:           {}", h.fact);
    println!(
        "Security:       {} bits (profile {}, pow {} bits, log blowup {}, {} queries)",
        h.security_bits,
        h.profile,
        h.pcs_config.pow_bits,
        h.pcs_config.fri_config.log_blowup_factor,
        h.pcs_config.fri_config.n_queries
    );
    println!("Channel:        {}", h.channel);
    println!("Preprocessed:   {:?}", h.preprocessed_trace);
    println!("Steps:          {}", h.steps);
    println!("Proof size:     {} bytes", proof_bytes);
    println!(
        "Timings (ms):   execute {} | adapt {} | precompute {} | prove {} | verify {}",
        t.execute_ms, t.adapt_ms, t.precompute_ms, t.prove_ms, t.verify_ms
    );
    println!("Prover:         {}", h.prover);
    println!("Backend:        {}{}", h.backend, gpu_use(h));
}

fn gpu_use(h: &ArtifactHeader) -> String {
    if !h.backend.is_gpu() {
        return String::new();
    }
    format!(
        " ({} GPU kernel calls, {} redone on the CPU)",
        h.gpu.calls, h.gpu.fallbacks
    )
}
