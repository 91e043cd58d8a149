//! The `starfarm` binary: parses arguments and wires the crates together.

mod commands;
mod devnet;
mod keys_cli;
mod l1_cli;
mod load_cli;
mod node_cli;
mod progress;
mod scheduler_cli;
mod sequencer_cli;
mod submit_cli;
mod tx_cli;
mod worker_cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use starfarm_prover::{ChannelKind, DeviceRequest, SecurityProfile};
use tracing_subscriber::fmt::format::FmtSpan;

/// starfarm: a self-hostable proving farm for Cairo programs on the Stwo prover.
#[derive(Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    /// More log output (-v: info with the duration of each prover step, -vv: debug).
    /// RUST_LOG overrides the level.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything on this machine in one command: a local L1 (anvil), the contracts, the
    /// sequencer, the scheduler and CPU workers; blocks are proven and settled.
    Devnet(devnet::DevnetArgs),
    /// Load a chain that settles on L1: accounts funded by bridge deposits, transfers at a
    /// target rate, withdrawals; waits until all is ACCEPTED_ON_L1 and reports latencies.
    Load(load_cli::LoadArgs),
    /// Run a compiled Cairo 0 program (proof mode) and print its output, steps and builtins.
    Run {
        #[command(flatten)]
        program: ProgramArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Execute, prove and verify a program, and write the proof artifact.
    Prove {
        #[command(flatten)]
        program: ProgramArgs,
        /// Security profile: production (96 bits), production-fast (96 bits, less grinding),
        /// l1 (96 bits, Keccak channel, for Ethereum verifiers) or test (18 bits, NOT SECURE).
        #[arg(long, default_value = "production")]
        profile: SecurityProfile,
        /// Fiat–Shamir channel and Merkle hash: blake2s or keccak (EVM-replayable; CPU only).
        /// Default: the profile's (keccak for l1, blake2s otherwise).
        #[arg(long)]
        channel: Option<ChannelKind>,
        /// Where to write the proof artifact.
        #[arg(short, long)]
        output: PathBuf,
        /// Where Merkle hashing and grinding run: auto (CUDA, then a hardware wgpu adapter,
        /// then the CPU), cpu, cuda or wgpu (any adapter, lavapipe included). Same proof bytes
        /// on every backend.
        #[arg(long, env = "STARFARM_BACKEND", default_value = "auto")]
        backend: DeviceRequest,
        /// How a CUDA proof uses the device: resident (the whole proof on the device, for a
        /// job that fits its memory) or streamed (Merkle hashing and grinding only).
        #[arg(long, env = "STARFARM_GPU_FLOW", value_enum, default_value_t = commands::GpuFlow::Streamed)]
        gpu_flow: commands::GpuFlow,
    },
    /// Verify a proof artifact. Exit status: 0 valid, 1 invalid, 2 unreadable or bad usage.
    Verify {
        /// The proof artifact (written by `starfarm prove`).
        proof: PathBuf,
        /// Refuse proofs with fewer bits of conjectured security.
        #[arg(long, default_value_t = 0)]
        min_security_bits: u32,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The sequencer: transactions, blocks, state, JSON-RPC.
    #[command(subcommand)]
    Sequencer(sequencer_cli::SequencerCommand),
    /// A node: follows the sequencer's published chain (replay, l2 or l1 mode), checks every
    /// block's root and hash, serves the same JSON-RPC reads.
    Node(node_cli::NodeArgs),
    /// Keys, signed transactions and statuses against a running sequencer.
    Tx(tx_cli::TxArgs),
    /// The scheduler: job store and REST API (OpenAPI at /openapi.json).
    Scheduler(scheduler_cli::SchedulerArgs),
    /// Submit a program to a scheduler; optionally wait and download the proof.
    Submit(submit_cli::SubmitArgs),
    /// The scheduler's API keys (roles submit, worker, admin; quotas): add, list, revoke.
    #[command(subcommand)]
    Keys(keys_cli::KeysCommand),
    /// A proving worker: claim jobs from a scheduler, prove, verify and hand them in.
    Worker(worker_cli::WorkerArgs),
    /// Ethereum settlement: deploy the contracts, show the settled state, settle proven blocks.
    #[command(subcommand)]
    L1(l1_cli::L1Command),
    /// Show what a proof artifact claims, without verifying it.
    Inspect {
        /// The proof artifact.
        proof: PathBuf,
        /// Print the header as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A program and its input.
#[derive(clap::Args)]
struct ProgramArgs {
    /// Compiled program: the JSON written by `cairo-compile --proof_mode`.
    program: PathBuf,
    /// Program input: a JSON array of felts (numbers, or decimal / 0x-hex strings).
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Stop the run after this many Cairo steps.
    #[arg(long, default_value_t = 1 << 24)]
    max_steps: u64,
}

fn main() -> ExitCode {
    quiet_vulkan_device_select();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    if let Err(message) = starfarm_prover::cpu::check_cpu() {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Run { program, json } => commands::run(&program, json),
        Command::Prove {
            program,
            profile,
            channel,
            output,
            backend,
            gpu_flow,
        } => commands::prove(&program, profile, channel, backend, gpu_flow, &output),
        Command::Verify {
            proof,
            min_security_bits,
            json,
        } => return commands::verify(&proof, min_security_bits, json),
        Command::Inspect { proof, json } => commands::inspect(&proof, json),
        Command::Sequencer(command) => sequencer_cli::run(command),
        Command::Node(args) => node_cli::run(args),
        Command::Tx(args) => tx_cli::run(args),
        Command::Scheduler(args) => scheduler_cli::run(args),
        Command::Submit(args) => submit_cli::run(args),
        Command::Keys(command) => keys_cli::run(command),
        Command::Worker(args) => worker_cli::run(args),
        Command::L1(command) => l1_cli::run(command),
        Command::Devnet(args) => devnet::run(args),
        Command::Load(args) => load_cli::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Turns off Mesa's device-select Vulkan layer for this process and its children, unless the
/// user set `NODEVICE_SELECT`. The layer is implicit on most Linux machines; to pick a "default"
/// GPU it connects to a Wayland display, and on a headless machine every GPU probe printed
/// `error: XDG_RUNTIME_DIR is invalid or not set` twice. wgpu ranks the adapters itself, so the
/// layer adds nothing. Called first in `main`, before any thread exists, where `set_var` is sound.
fn quiet_vulkan_device_select() {
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        // Settlement progress is worth seeing by default.
        0 => "warn,starfarm_l1=info,starfarm::l1_cli=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let spans = if verbose > 0 {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: piped logs (files, journald, the devnet's children)
        // stay plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    /// Parses a command line (words separated by spaces).
    fn parses(line: &str) {
        if let Err(e) = Cli::try_parse_from(line.split_whitespace()) {
            panic!("{line}: {e}");
        }
    }

    /// Every subcommand's arguments are consistent, and the flattened L1 options do not
    /// collide with the commands' own (clap reports a shared id only when both are given).
    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
        parses(
            "starfarm sequencer run --rpc 127.0.0.1:0 --l1-rpc http://127.0.0.1:1 \
             --l1-deployment d.json --l1-confirmations 2",
        );
        parses(
            "starfarm scheduler --api-key k --settle d.json --l1-rpc http://127.0.0.1:1 \
             --l1-key 0x01 --attest-key 0x02 --l1-confirmations 2",
        );
        parses(
            "starfarm scheduler --api-key k --webhook-secret 0123456789abcdef \
             --webhook-allow-private --webhook-max-attempts 3 --webhook-timeout-secs 5",
        );
        parses(
            "starfarm l1 settle --rpc http://127.0.0.1:1 --key 0x01 --attest-key 0x02 \
             --l1-confirmations 2 --once",
        );
        parses(
            "starfarm l1 deploy --rpc http://127.0.0.1:1 --key 0x01 --min-security-bits 18 \
             --force --verifier attested",
        );
        parses(
            "starfarm l1 deploy --rpc http://127.0.0.1:1 --key 0x01 --verifier stwo \
             --accept a.bin --accept b.bin --min-security-bits 18",
        );
        parses(
            "starfarm l1 verify proof.bin --rpc http://127.0.0.1:1 --key 0x01 --fresh \
             --queries-per-range 9",
        );
        parses(
            "starfarm node --mode l1 --source objects --data node --rpc 127.0.0.1:0 \
             --l1-deployment d.json --l1-rpc http://127.0.0.1:1 --l1-confirmations 2",
        );
        assert!(Cli::try_parse_from(["starfarm", "node", "--mode", "l3"]).is_err());
    }
}
