//! `starfarm l1 …`: deploy the settlement contracts, show the settled state, and run the
//! settlement line (proven blocks of the farm onto L1). The L1 watcher runs inside
//! `starfarm sequencer run --l1-deployment …` ([`spawn_watcher`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use starfarm_l1::metrics::SettleMetrics;
use starfarm_l1::settled_log::SettledLog;
use starfarm_l1::settlement::{
    AttestedSettlement, ProofPlans, SettlementClient, Settler, Step, VerifiedSettlement,
};
use starfarm_l1::verify::{ProofVerification, UnknownPhase};
use starfarm_l1::watch::Watcher;
use starfarm_l1::{Address, Deployment, Felt, L1Client, L1Error, PrivateKeySigner};
use starfarm_prover::artifact::PreProcessedTraceVariant;
use starfarm_prover::{CairoProgram, SecurityProfile};
use starfarm_scheduler::blobs::BlobStore;
use starfarm_scheduler::blocks::farm_blocks::FarmBlocks;
use starfarm_scheduler::{ContentHash, JobStore};
use starfarm_verifier::{VerificationPlan, VerifierContracts};

use crate::scheduler_cli::open_job_store;
use starfarm_sequencer::l1_sink::SequencerSink;
use starfarm_sequencer::program_input::BLOCK_PROGRAM_JSON;
use starfarm_sequencer::service::Sequencer;
use starfarm_sequencer::state::global_root;

#[derive(clap::Subcommand)]
pub enum L1Command {
    /// Deploy the fact registry, core contract and bridge for this build's block program.
    Deploy(DeployArgs),
    /// Show the settled state.
    Status {
        #[command(flatten)]
        l1: L1Args,
    },
    /// Deposit ETH (wei) through the bridge to an L2 account; the sequencer admits it once
    /// L1 has the deposit.
    Deposit {
        #[command(flatten)]
        l1: L1Args,
        /// The L2 account that receives it.
        #[arg(long)]
        to: Felt,
        /// Amount in wei.
        #[arg(long)]
        amount: u128,
    },
    /// Withdraw on L1 what an L2 account sent to this wallet (`WITHDRAW` on L2), once its
    /// block is settled.
    Withdraw {
        #[command(flatten)]
        l1: L1Args,
        /// The L2 account that withdrew.
        #[arg(long)]
        from: Felt,
        /// Amount in wei.
        #[arg(long)]
        amount: u128,
    },
    /// Settle the farm's proven blocks on L1, in order, as they become proven.
    Settle(SettleArgs),
    /// Verify a proof artifact (Keccak channel) on chain through the split verifier: its
    /// statements, one transaction each, then `verifyProof`; prints the gas of each
    /// transaction. Resumes a verification whose statements are partly on chain.
    Verify(VerifyArgs),
}

/// Which fact registry `l1 deploy` puts behind the core contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifierKind {
    /// `StwoFactRegistry`: a fact is registered only by verifying its proof on chain
    /// (`starfarm l1 verify`; the settlement line sends each range's chunk proof, which must
    /// be made with the Keccak channel).
    Stwo,
    /// `AttestedFactRegistry`: TRUSTED, it believes facts signed by registered prover keys.
    Attested,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub l1: L1Args,
    /// The proof artifact (`starfarm prove --channel keccak`, or the `l1` profile).
    pub proof: PathBuf,
    /// Deploy a fresh set of verifier contracts first (a measurement) instead of using the
    /// deployment file's.
    #[arg(long)]
    pub fresh: bool,
    /// Queries per quotient transaction, at most: a wide proof (a block chunk) gets fewer, so
    /// each range stays under the gas model's budget (`starfarm_verifier::plan::QUOTIENT_RANGE_GAS`).
    #[arg(long, default_value_t = starfarm_verifier::plan::DEFAULT_QUERIES_PER_RANGE)]
    pub queries_per_range: usize,
}

#[derive(Clone, clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub l1: L1Args,
    /// Prover keys whose attestations the registry accepts (addresses; repeatable).
    /// Default: the address of --attest-key, else of the wallet.
    #[arg(long = "signer")]
    pub signers: Vec<Address>,
    /// The key that will attest facts (its address becomes a signer).
    #[arg(long, env = "STARFARM_ATTEST_KEY", hide_env_values = true)]
    pub attest_key: Option<String>,
    /// The registry's security floor: facts attested below it are refused. The production
    /// profile has 96 bits; the test profile's 18 needs `--min-security-bits 18` (NOT secure).
    #[arg(long, default_value_t = 96, value_parser = clap::value_parser!(u32).range(1..))]
    pub min_security_bits: u32,
    /// Replace an existing deployment file (the old deployment is forgotten).
    #[arg(long)]
    pub force: bool,
    /// The fact registry: `stwo` verifies proofs on chain; `attested` is the TRUSTED mode
    /// (prover keys sign facts).
    #[arg(long, value_enum, default_value_t = VerifierKind::Stwo)]
    pub verifier: VerifierKind,
    /// With `--verifier stwo`: proof artifacts (Keccak channel) whose programs the registry
    /// accepts facts of, and whose preprocessed variants and blowups it accepts (the roots
    /// are computed, not read from the proofs); repeatable. Its floor is
    /// `--min-security-bits`.
    #[arg(long = "accept")]
    pub accept: Vec<PathBuf>,
    /// With `--verifier stwo`: programs the registry accepts facts of, derived from the
    /// program alone (no proof): a compiled program (`cairo-compile --proof_mode` JSON) or
    /// `block`, this build's block program; repeatable. With neither this nor `--accept`,
    /// the block program is accepted.
    #[arg(long = "accept-program")]
    pub accept_programs: Vec<String>,
    /// With `--accept-program`: the profile its proofs are made with (`l1`; `l1-test` for
    /// tests and the devnet, 20 bits, NOT secure): its blowup selects the preprocessed roots
    /// accepted, and its bits must reach `--min-security-bits`.
    #[arg(long, default_value = "l1")]
    pub profile: SecurityProfile,
    /// With `--accept-program`: the preprocessed variants accepted (`small`: what block
    /// chunks up to 2^19 steps without ec_op use; `without-pedersen`, `canonical`: seconds
    /// and several GiB to compute at deployment); repeatable.
    #[arg(long = "variant", default_value = "small", value_parser = parse_variant)]
    pub variants: Vec<PreProcessedTraceVariant>,
}

/// `--variant`'s names.
fn parse_variant(name: &str) -> Result<PreProcessedTraceVariant, String> {
    match name {
        "small" => Ok(PreProcessedTraceVariant::CanonicalSmall),
        "without-pedersen" => Ok(PreProcessedTraceVariant::CanonicalWithoutPedersen),
        "canonical" => Ok(PreProcessedTraceVariant::Canonical),
        _ => Err(format!(
            "{name:?} is not a variant (small, without-pedersen, canonical)"
        )),
    }
}

/// `--accept-program`'s argument: `block` or a compiled program's path.
fn accepted_program(name: &str) -> Result<CairoProgram> {
    match name {
        "block" => Ok(CairoProgram::from_json(
            BLOCK_PROGRAM_JSON,
            "block program",
        )?),
        path => Ok(CairoProgram::from_file(Path::new(path))?),
    }
}

/// What a stwo deployment accepts: the programs of `--accept` proofs and of
/// `--accept-program` (the block program when neither is given) at `--profile`.
fn accepted(args: &DeployArgs) -> Result<starfarm_verifier::Accepted> {
    let floor = args.min_security_bits;
    let mut accepted = starfarm_verifier::Accepted {
        floor,
        ..Default::default()
    };
    if !args.accept.is_empty() {
        let artifacts = args
            .accept
            .iter()
            .map(|p| read_artifact(p))
            .collect::<Result<Vec<_>>>()?;
        accepted = starfarm_verifier::Accepted::for_artifacts(&artifacts, floor)
            .context("what the registry accepts")?;
    }
    let names: Vec<&str> = match (args.accept_programs.is_empty(), args.accept.is_empty()) {
        (true, true) => vec!["block"],
        _ => args.accept_programs.iter().map(String::as_str).collect(),
    };
    if names.is_empty() {
        return Ok(accepted);
    }
    if args.profile.security_bits() < floor {
        bail!(
            "--profile {} has {} bits, below --min-security-bits {floor}: the registry would \
             refuse every proof made with it",
            args.profile.name(),
            args.profile.security_bits()
        );
    }
    let programs = names
        .iter()
        .map(|name| accepted_program(name).with_context(|| format!("--accept-program {name}")))
        .collect::<Result<Vec<_>>>()?;
    let derived = starfarm_verifier::Accepted::for_programs(
        &programs,
        &args.variants,
        &args.profile.pcs_config(),
        floor,
    );
    for program in derived.programs {
        if !accepted.programs.contains(&program) {
            accepted.programs.push(program);
        }
    }
    for root in derived.roots {
        if !accepted.roots.iter().any(|(k, _)| *k == root.0) {
            accepted.roots.push(root);
        }
    }
    Ok(accepted)
}

#[derive(Clone, clap::Args)]
pub struct L1Args {
    /// Ethereum JSON-RPC endpoint.
    #[arg(long, env = "STARFARM_L1_RPC", default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// The wallet's private key (hex) that pays for transactions (not needed to read).
    #[arg(long, env = "STARFARM_L1_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// The deployment file (`l1 deploy` writes it).
    #[arg(long, default_value = "data/l1-deployment.json")]
    pub deployment: PathBuf,
}

#[derive(clap::Args)]
pub struct SettleArgs {
    #[command(flatten)]
    l1: L1Args,
    #[command(flatten)]
    attest: AttestArgs,
    /// The scheduler's data folder (its SQLite job store holds the proven blocks).
    #[arg(long, default_value = "data/scheduler")]
    scheduler_data: PathBuf,
    /// The scheduler's blob store, where the chunk proofs are (a verifying deployment sends
    /// them): a folder or an `s3://` URL, as `starfarm scheduler --blobs` (default:
    /// <scheduler-data>/blobs).
    #[arg(long, env = "STARFARM_BLOBS")]
    blobs: Option<String>,
    /// The scheduler's Postgres job store instead.
    #[arg(long, env = "STARFARM_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Wait between checks for newly proven blocks, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    every_ms: u64,
    /// Settle what is proven now, then exit.
    #[arg(long)]
    once: bool,
}

/// How facts are attested and transactions confirmed.
#[derive(clap::Args)]
pub struct AttestArgs {
    /// The prover key that attests facts (a signer of the registry): for an attested
    /// deployment only; a verifying one (`--verifier stwo`) refuses it.
    #[arg(long, env = "STARFARM_ATTEST_KEY", hide_env_values = true)]
    attest_key: Option<String>,
    /// Blocks on top of a settlement transaction before it counts (1: mined).
    #[arg(long = "l1-confirmations", default_value_t = 1)]
    l1_confirmations: u64,
}

/// The L1 node of a deployment the sequencer or scheduler follows.
#[derive(clap::Args)]
pub struct L1Rpc {
    /// Ethereum JSON-RPC endpoint of that deployment.
    #[arg(
        long = "l1-rpc",
        env = "STARFARM_L1_RPC",
        default_value = "http://127.0.0.1:8545"
    )]
    l1_rpc: String,
}

/// The settlement line inside `starfarm scheduler`: its metrics join the scheduler's.
#[derive(clap::Args)]
pub struct SchedulerSettleArgs {
    /// Settle the proven blocks on this L1 deployment (a `starfarm l1 deploy` file).
    /// Off when not given.
    #[arg(long = "settle")]
    settle: Option<PathBuf>,
    #[command(flatten)]
    l1_rpc: L1Rpc,
    /// The wallet's private key (hex) that pays for settlement.
    #[arg(long = "l1-key", env = "STARFARM_L1_KEY", hide_env_values = true)]
    l1_key: Option<String>,
    #[command(flatten)]
    attest: AttestArgs,
}

/// What `l1 deploy` records.
#[derive(Serialize, Deserialize)]
pub struct DeploymentFile {
    pub chain_id: u64,
    #[serde(flatten)]
    pub contracts: Deployment,
    pub program_hash: Felt,
    /// The L1 block the contracts were deployed at: where the watcher starts.
    pub from_block: u64,
    /// The split verifier's contracts when the registry is `StwoFactRegistry` (absent: the
    /// attested registry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<starfarm_verifier::VerifierContracts>,
    /// The verifier's security floor (bits): proofs below it are refused on chain, so the
    /// farm must prove block chunks at a profile that reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_floor: Option<u32>,
}

pub fn run(command: L1Command) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        match command {
            L1Command::Deploy(args) => deploy(args).await,
            L1Command::Verify(args) => verify(args).await,
            L1Command::Status { l1 } => status(l1).await,
            L1Command::Deposit { l1, to, amount } => deposit(l1, to, amount).await,
            L1Command::Withdraw { l1, from, amount } => withdraw(l1, from, amount).await,
            L1Command::Settle(args) => settle(args).await,
        }
    })
}

fn block_program_hash() -> Result<Felt> {
    let program = CairoProgram::from_json(BLOCK_PROGRAM_JSON, "block program")?;
    Ok(program.hash())
}

fn signer(key: &str) -> Result<PrivateKeySigner> {
    key.trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("not a secp256k1 private key (hex): {e}"))
}

/// Deploys the contracts and writes the deployment file.
pub async fn deploy(args: DeployArgs) -> Result<()> {
    if args.l1.deployment.exists() && !args.force {
        bail!(
            "{} exists already (a deployment); pass --force to deploy anew and forget it",
            args.l1.deployment.display()
        );
    }
    let l1 = &args.l1;
    let mut client = L1Client::connect(&l1.rpc, l1.paying_key()?).await?;
    let program_hash = block_program_hash()?;
    let from_block = client.block_number().await?;
    let min_security_bits = args.min_security_bits;
    let (contracts, verifier) = match args.verifier {
        VerifierKind::Attested => {
            let mut signers = args.signers.clone();
            if signers.is_empty() {
                signers.push(match &args.attest_key {
                    Some(key) => signer(key)?.address(),
                    None => client.address(),
                });
            }
            let contracts = client
                .deploy(program_hash, global_root(Felt::ZERO), &signers)
                .await?;
            if min_security_bits != DEFAULT_MIN_SECURITY_BITS {
                client.set_min_security_bits(min_security_bits).await?;
            }
            (contracts, None)
        }
        VerifierKind::Stwo => {
            if !args.signers.is_empty() || args.attest_key.is_some() {
                bail!("--signer and --attest-key are for --verifier attested: the stwo registry trusts no key");
            }
            // Computing a preprocessed root takes seconds (blocking: off the runtime).
            let accepted = {
                let args = args.clone();
                tokio::task::spawn_blocking(move || accepted(&args))
                    .await
                    .context("computing what the registry accepts")??
            };
            let verifier = starfarm_verifier::deploy(client.provider(), &accepted)
                .await
                .context("deploying the verifier contracts")?;
            let contracts = client
                .deploy_with_registry(program_hash, global_root(Felt::ZERO), verifier.registry)
                .await?;
            eprintln!(
                "registry: StwoFactRegistry (verifies proofs on chain, floor {min_security_bits} \
                 bits, {} program(s), {} preprocessed root(s); the settlement line sends it \
                 the chunk proofs, which must be Keccak-channel proofs of an accepted program)",
                accepted.programs.len(),
                accepted.roots.len()
            );
            (contracts, Some(verifier))
        }
    };
    let security_floor = verifier.map(|_| min_security_bits);
    let file = DeploymentFile {
        chain_id: client.chain_id(),
        contracts,
        program_hash,
        from_block,
        verifier,
        security_floor,
    };
    if let Some(parent) = l1.deployment.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&l1.deployment, serde_json::to_string_pretty(&file)? + "\n")
        .with_context(|| format!("writing {}", l1.deployment.display()))?;
    println!(
        "deployed on chain {}: core {}, registry {}, bridge {} (block program {program_hash:#x}); written to {}",
        file.chain_id,
        contracts.core,
        contracts.registry,
        contracts.bridge,
        l1.deployment.display()
    );
    Ok(())
}

pub fn read_deployment(path: &Path) -> Result<DeploymentFile> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "reading {} (run `starfarm l1 deploy` first)",
            path.display()
        )
    })?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a deployment file", path.display()))
}

/// A client of `key` on the deployment in `path`, checked to be on the same chain.
async fn attached(rpc: &str, key: &str, path: &Path) -> Result<(L1Client, DeploymentFile)> {
    let file = read_deployment(path)?;
    let client = L1Client::connect(rpc, key).await?.attach(file.contracts);
    if client.chain_id() != file.chain_id {
        bail!(
            "{} was deployed on chain {}, but {rpc} is chain {}",
            path.display(),
            file.chain_id,
            client.chain_id()
        );
    }
    Ok((client, file))
}

/// Checks that the deployment in `path` exists on the chain at `rpc` (its core has code); a
/// read-only client on it.
pub async fn check_deployed(rpc: &str, path: &Path) -> Result<(L1Client, DeploymentFile)> {
    let (client, file) = attached(rpc, &read_only_key(), path).await?;
    let code = client.code_at(file.contracts.core).await?;
    if code.is_empty() {
        bail!("no contract at {} on {rpc}", file.contracts.core);
    }
    Ok((client, file))
}

/// Reads only: a throwaway key signs nothing.
fn read_only_key() -> String {
    format!("{:#x}", starfarm_l1::B256::repeat_byte(0x11))
}

impl L1Args {
    /// The paying wallet's key, for commands that send transactions.
    fn paying_key(&self) -> Result<&str> {
        self.key
            .as_deref()
            .context("this command sends L1 transactions: pass --key or set STARFARM_L1_KEY")
    }

    /// A client on the deployment: with the paying key, or a read-only one.
    async fn attached(&self, pays: bool) -> Result<(L1Client, DeploymentFile)> {
        let key = match pays {
            true => self.paying_key()?.to_owned(),
            false => read_only_key(),
        };
        attached(&self.rpc, &key, &self.deployment).await
    }
}

async fn deposit(l1: L1Args, to: Felt, amount: u128) -> Result<()> {
    let (client, _) = l1.attached(true).await?;
    let (tx, message) = client.deposit(to, starfarm_l1::U256::from(amount)).await?;
    println!(
        "deposited {amount} wei for {to:#x} (L1 tx {}, message nonce {}); the sequencer admits it as a DEPOSIT",
        tx.tx_hash, message.nonce
    );
    Ok(())
}

async fn withdraw(l1: L1Args, from: Felt, amount: u128) -> Result<()> {
    let (client, _) = l1.attached(true).await?;
    let tx = client.consume_withdrawal(from, amount).await.map_err(|e| {
        match e.revert_reason() {
            Some("INVALID_MESSAGE_TO_CONSUME") => anyhow::anyhow!(
                "no withdrawal of {amount} wei from {from:#x} to {} waits on L1: is its block settled yet (`starfarm l1 status`)?",
                client.address()
            ),
            _ => e.into(),
        }
    })?;
    println!(
        "withdrew {amount} wei from {from:#x} (L1 tx {})",
        tx.tx_hash
    );
    Ok(())
}

async fn status(l1: L1Args) -> Result<()> {
    let (client, _) = l1.attached(false).await?;
    let state = client.state().await?;
    match state.last_block() {
        Some(block) => println!("last settled block: {block} (hash {:#x})", state.block_hash),
        None => println!("no block settled yet"),
    }
    println!("state root: {:#x}", state.state_root);
    if state.tx_index > 0 {
        println!(
            "block {} in progress: settled up to transaction {}",
            state.next_block_number, state.tx_index
        );
    }
    Ok(())
}

impl AttestArgs {
    fn signer(&self) -> Result<PrivateKeySigner> {
        let key = self
            .attest_key
            .as_deref()
            .context("no attesting key: pass --attest-key or set STARFARM_ATTEST_KEY")?;
        signer(key)
    }
}

/// The settlement line's proofs: the chunk artifacts in the scheduler's blob store, planned
/// for the deployment's verifier contracts.
struct StoredProofs {
    blobs: BlobStore,
    contracts: VerifierContracts,
}

impl ProofPlans for StoredProofs {
    async fn verification(&self, artifact: &str) -> Result<ProofVerification, L1Error> {
        let failed = |message: String| L1Error::Proof {
            artifact: artifact.into(),
            message,
        };
        let hash = ContentHash::parse(artifact).map_err(|e| failed(e.to_string()))?;
        let bytes = self
            .blobs
            .get(&hash)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let contracts = self.contracts;
        // Decoding and replaying stwo's transcript take CPU seconds at the l1 profile.
        let planned = tokio::task::spawn_blocking(move || {
            let artifact = starfarm_prover::artifact::ProofArtifact::from_bytes(&bytes)
                .map_err(|e| format!("not a proof artifact: {e}"))?;
            let plan = VerificationPlan::from_artifact(
                &artifact,
                starfarm_verifier::plan::DEFAULT_QUERIES_PER_RANGE,
            )
            .map_err(|e| format!("planning its verification: {e}"))?;
            proof_verification(&plan, &contracts).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| failed(e.to_string()))?;
        planned.map_err(failed)
    }
}

/// `plan`'s transactions for `contracts`, as `starfarm_l1` sends them.
fn proof_verification(
    plan: &VerificationPlan,
    contracts: &VerifierContracts,
) -> Result<ProofVerification, UnknownPhase> {
    ProofVerification::from_plan_parts(plan.transactions(contracts).into_parts())
}

/// How the deployment makes facts valid: by verifying the chunk proofs (no key: one given is
/// refused, so a trusted key never sits on that path by mistake) or by attesting them.
enum Settlement {
    Verified(VerifiedSettlement<StoredProofs>),
    Attested(AttestedSettlement),
}

impl Settlement {
    fn of(
        client: L1Client,
        file: &DeploymentFile,
        attest: &AttestArgs,
        blobs: BlobStore,
    ) -> Result<Self> {
        Ok(match file.verifier {
            Some(contracts) => {
                if attest.attest_key.is_some() {
                    bail!(
                        "the deployment verifies proofs on chain (StwoFactRegistry): it trusts \
                         no attesting key; do not pass --attest-key / STARFARM_ATTEST_KEY"
                    );
                }
                Self::Verified(VerifiedSettlement::new(
                    client,
                    StoredProofs { blobs, contracts },
                ))
            }
            None => Self::Attested(AttestedSettlement::new(client, attest.signer()?)),
        })
    }

    fn describe(&self) -> &'static str {
        match self {
            Self::Verified(_) => "each range's proof verified on chain (StwoFactRegistry)",
            Self::Attested(_) => "facts attested by a prover key (TRUSTED: AttestedFactRegistry)",
        }
    }
}

fn read_artifact(path: &Path) -> Result<starfarm_prover::artifact::ProofArtifact> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    starfarm_prover::artifact::ProofArtifact::from_bytes(&bytes)
        .with_context(|| format!("{} is not a proof artifact", path.display()))
}

/// Verifies a proof artifact on chain, one statement a transaction, and prints their gas.
async fn verify(args: VerifyArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.proof).with_context(|| format!("reading {}", args.proof.display()))?;
    let artifact = starfarm_prover::artifact::ProofArtifact::from_bytes(&bytes)
        .with_context(|| format!("{} is not a proof artifact", args.proof.display()))?;
    let plan =
        starfarm_verifier::VerificationPlan::from_artifact(&artifact, args.queries_per_range)
            .context("planning the verification")?;
    let client = L1Client::connect(&args.l1.rpc, args.l1.paying_key()?).await?;
    let contracts = if args.fresh {
        // A measurement: the fresh registry accepts this proof's program and variant, at
        // the proof's own security.
        let accepted = starfarm_verifier::Accepted::for_artifacts(
            std::slice::from_ref(&artifact),
            artifact.header.security_bits,
        )
        .context("what the registry accepts")?;
        starfarm_verifier::deploy(client.provider(), &accepted)
            .await
            .context("deploying the verifier contracts")?
    } else {
        let file = read_deployment(&args.l1.deployment)?;
        file.verifier.with_context(|| {
            format!(
                "{} has no verifier contracts (deployed with --verifier attested); pass --fresh",
                args.l1.deployment.display()
            )
        })?
    };
    let verification = proof_verification(&plan, &contracts)?;
    let sent = client.send_verification(&verification, None).await?;
    let mut total = 0;
    println!("{:<20} {:>9} {:>11}", "transaction", "calldata", "gas");
    for phase in &sent {
        match &phase.outcome {
            Some(o) => {
                total += o.gas_used;
                println!(
                    "{:<20} {:>9} {:>11}",
                    phase.phase, phase.calldata_bytes, o.gas_used
                );
            }
            None => println!(
                "{:<20} {:>9} {:>11}",
                phase.phase, phase.calldata_bytes, "on chain"
            ),
        }
    }
    let fact: starfarm_l1::B256 = artifact.header.fact.parse().with_context(|| {
        format!(
            "the artifact's fact {:?} is not 32 bytes of hex",
            artifact.header.fact
        )
    })?;
    let valid = starfarm_l1::contracts::IFactRegistry::new(contracts.registry, client.provider())
        .isValid(fact)
        .call()
        .await
        .context("asking the registry for the fact")?;
    if !valid {
        bail!("verifyProof was mined but the registry does not hold the artifact's fact {fact}");
    }
    println!(
        "{} transactions sent, {total} gas; fact {fact} (the claim's) valid in {} (NOT YET \
         checked: the composition at the out-of-domain point)",
        sent.iter().filter(|p| p.outcome.is_some()).count(),
        contracts.registry
    );
    Ok(())
}

/// The registry's floor at deployment (`AttestedFactRegistry.DEFAULT_MIN_SECURITY_BITS`).
const DEFAULT_MIN_SECURITY_BITS: u32 = 96;

async fn settle(args: SettleArgs) -> Result<()> {
    let (client, file) = args.l1.attached(true).await?;
    let client = client.with_confirmations(args.attest.l1_confirmations);
    let store = open_job_store(args.postgres_url.as_deref(), &args.scheduler_data).await?;
    let blobs_location = args
        .blobs
        .clone()
        .unwrap_or_else(|| args.scheduler_data.join("blobs").display().to_string());
    let blobs = BlobStore::open(&blobs_location)?;
    let settlement = Settlement::of(client, &file, &args.attest, blobs)?;
    eprintln!("settling: {}", settlement.describe());
    let source = FarmBlocks(store);
    match settlement {
        Settlement::Verified(c) => {
            settle_with(Settler::new(c, file.program_hash), &source, &args).await
        }
        Settlement::Attested(c) => {
            settle_with(Settler::new(c, file.program_hash), &source, &args).await
        }
    }
}

async fn settle_with<C: SettlementClient>(
    settler: Settler<C>,
    source: &FarmBlocks,
    args: &SettleArgs,
) -> Result<()> {
    if !args.once {
        settler
            .run(source, Duration::from_millis(args.every_ms))
            .await;
    }
    loop {
        match settler.step(source).await? {
            Step::Settled {
                block,
                tx_start,
                tx_end,
                gas: (register, update),
            } => eprintln!(
                "settled block {block}, transactions {tx_start}..{tx_end} (gas: fact {register}, update {update})"
            ),
            Step::Waiting { block } => {
                eprintln!("block {block} is not proven yet; stopping (--once)");
                return Ok(());
            }
            Step::InFlight { transactions } => {
                eprintln!("{transactions} L1 transaction(s) of this wallet still in flight; waiting");
                tokio::time::sleep(Duration::from_millis(args.every_ms)).await;
            }
        }
    }
}

/// A verifying deployment settles only chunk proofs its contracts can replay (the Keccak
/// channel) at or above its floor: a farm proving otherwise would prove blocks that never
/// settle, so the scheduler refuses to start.
fn check_block_profile(file: &DeploymentFile, profile: SecurityProfile) -> Result<()> {
    if profile.channel() != starfarm_prover::channel::ChannelKind::Keccak {
        bail!(
            "the deployment verifies chunk proofs on chain (StwoFactRegistry), which replays the \
             Keccak channel: prove blocks with --block-profile l1 (or l1-test, NOT secure), not {}",
            profile.name()
        );
    }
    if let Some(floor) = file.security_floor {
        if profile.security_bits() < floor {
            bail!(
                "--block-profile {} has {} bits, below the deployment's floor of {floor}: \
                 its chunk proofs would be refused on chain",
                profile.name(),
                profile.security_bits()
            );
        }
    }
    Ok(())
}

/// Starts the settlement line inside the scheduler when `--settle` is given; its metrics
/// join the scheduler's. A verifying deployment needs `block_profile` to make proofs it
/// can verify ([`check_block_profile`]).
pub async fn spawn_settler(
    args: &SchedulerSettleArgs,
    store: Arc<dyn JobStore>,
    blobs: BlobStore,
    scheduler_metrics: &starfarm_scheduler::api::Metrics,
    block_profile: SecurityProfile,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(path) = &args.settle else {
        return Ok(None);
    };
    let key = args
        .l1_key
        .as_deref()
        .context("--settle needs the paying wallet: pass --l1-key or set STARFARM_L1_KEY")?;
    let (client, file) = attached(&args.l1_rpc.l1_rpc, key, path).await?;
    if file.verifier.is_some() {
        check_block_profile(&file, block_profile)
            .with_context(|| format!("settling on {}", path.display()))?;
    }
    let client = client.with_confirmations(args.attest.l1_confirmations);
    let metrics =
        SettleMetrics::register(&scheduler_metrics.registry).context("registering L1 metrics")?;
    let settlement = Settlement::of(client, &file, &args.attest, blobs)?;
    eprintln!(
        "settling proven blocks on L1 ({} via {}): {}",
        path.display(),
        args.l1_rpc.l1_rpc,
        settlement.describe()
    );
    let source = FarmBlocks(store);
    let every = Duration::from_secs(1);
    Ok(Some(match settlement {
        Settlement::Verified(c) => {
            // The verification's gas per phase and per proof joins the line's metrics.
            let c = c.with_metrics(metrics.clone());
            let settler = Settler {
                metrics,
                ..Settler::new(c, file.program_hash)
            };
            tokio::spawn(async move { settler.run(&source, every).await })
        }
        Settlement::Attested(c) => {
            let settler = Settler {
                metrics,
                ..Settler::new(c, file.program_hash)
            };
            tokio::spawn(async move { settler.run(&source, every).await })
        }
    }))
}

/// The L1 deployment that `starfarm sequencer run` (its watcher) or `starfarm node --mode l1`
/// follows.
#[derive(clap::Args)]
pub struct WatchArgs {
    /// Follow this L1 deployment (a `starfarm l1 deploy` file): the sequencer marks settled
    /// blocks ACCEPTED_ON_L1 and admits bridge deposits; an l1 node applies only the blocks
    /// settled there. Off when not given.
    #[arg(long = "l1-deployment")]
    l1_deployment: Option<PathBuf>,
    #[command(flatten)]
    l1_rpc: L1Rpc,
    /// Blocks behind L1's head before an event counts.
    #[arg(long = "l1-confirmations", default_value_t = 0)]
    l1_confirmations: u64,
}

impl WatchArgs {
    /// Whether the sequencer follows an L1 deployment.
    pub fn follows_l1(&self) -> bool {
        self.l1_deployment.is_some()
    }

    /// The deployment's settled blocks (an l1 node's gate), read from its deployment block.
    pub async fn settled_log(&self) -> Result<SettledLog> {
        let path = self
            .l1_deployment
            .as_deref()
            .context("no --l1-deployment given")?;
        let (client, file) = check_deployed(&self.l1_rpc.l1_rpc, path).await?;
        Ok(SettledLog::new(
            client,
            file.from_block,
            self.l1_confirmations,
        ))
    }
}

/// Starts the L1 watcher for `sequencer` when `--l1-deployment` is given.
pub async fn spawn_watcher(
    args: &WatchArgs,
    sequencer: Arc<Sequencer>,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(path) = &args.l1_deployment else {
        return Ok(None);
    };
    let file = read_deployment(path)?;
    let client = L1Client::connect(&args.l1_rpc.l1_rpc, &read_only_key())
        .await?
        .attach(file.contracts);
    // The watcher's position survives restarts (per core contract: a new deployment starts
    // over); events before it were handed to the sequencer already.
    let cursor = format!("l1_watch_next_block:{:#x}", file.contracts.core);
    let stored = sequencer.store().meta(&cursor)?;
    let from = stored.unwrap_or(0).max(file.from_block);
    let mut watcher = Watcher::new(client, from, args.l1_confirmations);
    let sink = SequencerSink(sequencer.clone());
    eprintln!(
        "following L1 deployment {} from L1 block {from}",
        path.display()
    );
    Ok(Some(tokio::spawn(async move {
        loop {
            match watcher.poll(&sink).await {
                Ok(seen) => {
                    if seen.deposits > 0 || seen.settled.is_some() {
                        tracing::info!(?seen, "L1 events handed to the sequencer");
                    }
                    if let Err(e) = sequencer.store().set_meta(&cursor, watcher.next_block()) {
                        tracing::warn!(error = %e, "saving the L1 watcher's position");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "L1 watcher; will retry"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })))
}
