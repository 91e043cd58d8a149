//! The composition check on anvil (`CompositionStatement`): on real proofs the constraints the
//! generated evaluator computes from parts built on chain equal the composition tree's value;
//! a sampled value the composition depends on, changed after an honest transcript, is refused
//! with its reason; the programs are the deployment's.
//!
//! Needs `STARFARM_ANVIL` (skipped loudly without it).

use std::path::PathBuf;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use starfarm_l1::anvil::{Anvil, DEV_KEYS};
use starfarm_prover::artifact::{ProofArtifact, ProofCodec};
use starfarm_prover::channel::{ChannelKind, Keccak256MerkleHasher};
use starfarm_prover::{CairoProgram, Felt, ProgramInput, Prover, SecurityProfile};
use starfarm_verifier::contracts::composition::CompositionStatement;
use starfarm_verifier::contracts::{CairoClaim, StwoVerifier};
use starfarm_verifier::{
    composition_input, deploy, deploy_composition, encode_artifact, program_key, root_key,
    Accepted, CompositionContracts, CompositionDraws,
};

/// EIP-7825's cap on one transaction's gas.
const TX_GAS_CAP: u64 = 1 << 24;
const CODE_SIZE_CAP: usize = 24_576;

fn prove(name: &str, input: Vec<u64>) -> ProofArtifact {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program = CairoProgram::from_file(&root.join(format!("examples/{name}.json")))
        .expect("example loads");
    let input = ProgramInput::new(input.into_iter().map(Felt::from).collect());
    let mut prover = Prover::new(SecurityProfile::Test).with_channel(ChannelKind::Keccak);
    prover.prove(&program, &input, &mut |_| {}).expect("proves")
}

fn reason(e: &alloy::contract::Error) -> String {
    use alloy::sol_types::{Revert, SolError};
    e.as_revert_data()
        .and_then(|data| Revert::abi_decode(&data).ok())
        .map(|revert| revert.reason)
        .unwrap_or_else(|| e.to_string())
}

struct Setup {
    _anvil: Anvil,
    provider: DynProvider,
    verifier: alloy::primitives::Address,
    composition: CompositionContracts,
}

/// anvil with the verifier accepting `artifacts` (their programs and preprocessed roots, as
/// the proofs state them) and the composition contracts.
async fn setup(artifacts: &[&ProofArtifact]) -> Option<Setup> {
    let anvil = Anvil::for_tests()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let signer: PrivateKeySigner = DEV_KEYS[0].parse().expect("dev key");
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(anvil.url.parse().expect("url"))
        .erased();
    let mut accepted = Accepted {
        floor: 18,
        ..Accepted::default()
    };
    for artifact in artifacts {
        let proof = encode_artifact(artifact).expect("encodes");
        let decoded =
            ProofCodec::decode::<Keccak256MerkleHasher>(&artifact.proof).expect("decodes");
        accepted.programs.push((
            program_key(&decoded.claim),
            B256::from(artifact.header.program_hash.to_bytes_be()),
        ));
        let claim = CairoClaim::Claim::abi_decode(&proof.claim).expect("a claim");
        accepted.roots.push((
            root_key(claim.variant, proof.config.logBlowupFactor),
            proof.commitments[0],
        ));
    }
    let contracts = deploy(&provider, &accepted)
        .await
        .expect("deploys the verifier");
    let composition = deploy_composition(&provider)
        .await
        .expect("deploys the composition contracts");
    for address in [composition.statement, composition.evaluator]
        .into_iter()
        .chain(composition.programs.iter().flatten().copied())
    {
        let code = provider.get_code_at(address).await.expect("code");
        assert!(
            !code.is_empty() && code.len() <= CODE_SIZE_CAP,
            "{} bytes",
            code.len()
        );
    }
    Some(Setup {
        _anvil: anvil,
        provider,
        verifier: contracts.transcript,
        composition,
    })
}

impl Setup {
    fn statement(&self) -> CompositionStatement::CompositionStatementInstance<&DynProvider> {
        CompositionStatement::new(self.composition.statement, &self.provider)
    }

    /// The statement's input for `artifact`, with the draws `StwoVerifier.replay` returns.
    async fn input(&self, artifact: &ProofArtifact) -> CompositionStatement::Input {
        let proof = encode_artifact(artifact).expect("encodes");
        let t = StwoVerifier::new(self.verifier, &self.provider)
            .replay(proof.clone())
            .call()
            .await
            .expect("replays");
        composition_input(
            &proof.claim,
            &proof.claimedSums,
            &proof.sampledValues,
            &proof.columns,
            CompositionDraws {
                lookup_z: t.lookupZ,
                lookup_alpha: t.lookupAlpha,
                coeff: t.compositionCoeff,
                oods_x: t.oodsX,
                oods_y: t.oodsY,
                lifting_log_size: proof.trees[3].logHeight,
                log_blowup: proof.config.logBlowupFactor,
            },
        )
    }

    /// `verify`'s revert reason, or `None` when it passes.
    async fn refusal(&self, input: &CompositionStatement::Input) -> Option<String> {
        match self.statement().verify(input.clone()).call().await {
            Ok(_) => None,
            Err(e) => Some(reason(&e)),
        }
    }

    /// Sends `verify(input)`: the receipt's gas and the calldata's size; the fact is then on
    /// chain.
    async fn send(&self, name: &str, input: &CompositionStatement::Input) -> (u64, usize) {
        let (committed, constraints) = {
            let v = self
                .statement()
                .values(input.clone())
                .call()
                .await
                .expect("values");
            (v.committed, v.constraints)
        };
        assert_eq!(
            constraints, committed,
            "{name}: constraints equal the committed value"
        );
        assert_ne!(committed, U256::ZERO);
        let data = CompositionStatement::verifyCall { s: input.clone() }.abi_encode();
        let request = TransactionRequest::default()
            .with_to(self.composition.statement)
            .with_input(Bytes::from(data.clone()))
            .with_gas_limit(TX_GAS_CAP - 1);
        let receipt = self
            .provider
            .send_transaction(request)
            .await
            .expect("sends")
            .get_receipt()
            .await
            .expect("a receipt");
        assert!(receipt.status(), "{name}: the composition statement passes");
        assert!(receipt.gas_used < TX_GAS_CAP, "{name}: under 2^24");
        let fact = self
            .statement()
            .factOf(input.clone())
            .call()
            .await
            .expect("fact");
        assert!(self
            .statement()
            .isValid(fact)
            .call()
            .await
            .expect("isValid"));
        (receipt.gas_used, data.len())
    }
}

/// `bytes` with sampled value `i`'s first coordinate changed (still canonical).
fn with_value_changed(bytes: &Bytes, i: usize) -> Bytes {
    let mut v = bytes.to_vec();
    let at = 16 * i + 3;
    v[at] = if v[at] == 0 { 1 } else { v[at] - 1 };
    v.into()
}

/// Index of tree `tree`'s first sampled value.
fn tree_start(columns: &[Bytes; 4], tree: usize) -> usize {
    columns[..tree]
        .iter()
        .flat_map(|c| c.iter())
        .map(|b| ((b >> 5) & 3) as usize)
        .sum()
}

#[tokio::test]
async fn fibonacci_composition_holds_and_changed_values_are_refused() {
    let artifact = prove("fibonacci", vec![100]);
    let Some(setup) = setup(&[&artifact]).await else {
        eprintln!("SKIPPED: STARFARM_ANVIL not set");
        return;
    };
    let input = setup.input(&artifact).await;
    assert_eq!(setup.refusal(&input).await, None);
    let (gas, bytes) = setup.send("fibonacci", &input).await;
    eprintln!(
        "fibonacci(100), test profile: composition statement {gas} gas, {bytes} bytes of calldata"
    );

    // The programs are the deployment's: the statement's input names none, and it reads each
    // component's from its own table.
    for (k, addresses) in setup.composition.programs.iter().enumerate() {
        let held = setup
            .statement()
            .programOf(U256::from(k))
            .call()
            .await
            .expect("programOf");
        assert_eq!(&held, addresses, "component {k}'s program");
    }

    // After the honest transcript, a changed sampled value of each tree the constraints read:
    // the composition tree's, a trace value, an interaction value, a preprocessed one.
    let refused = "composition: the constraints do not hold at the out-of-domain point";
    let n = input.sampledValues.len() / 16;
    let mut changed = input.clone();
    changed.sampledValues = with_value_changed(&input.sampledValues, n - 8);
    assert_eq!(
        setup.refusal(&changed).await.as_deref(),
        Some(refused),
        "composition tree"
    );
    for (tree, what) in [(1, "trace"), (2, "interaction"), (0, "preprocessed")] {
        let start = tree_start(&input.columns, tree);
        let end = tree_start(&input.columns, tree + 1);
        let mut caught = false;
        // The first values of the tree the constraints depend on (most do).
        for i in start..end.min(start + 8) {
            let mut changed = input.clone();
            changed.sampledValues = with_value_changed(&input.sampledValues, i);
            if let Some(why) = setup.refusal(&changed).await {
                assert_eq!(why, refused, "{what} value {i}");
                caught = true;
                break;
            }
        }
        assert!(caught, "a changed {what} value is refused");
    }
    // A claimed sum the constraints read, and another random coefficient.
    let mut changed = input.clone();
    changed.claimedSums = with_value_changed(&input.claimedSums, 0);
    assert_eq!(
        setup.refusal(&changed).await.as_deref(),
        Some(refused),
        "claimed sum"
    );
    let mut changed = input.clone();
    changed.coeff += U256::from(1);
    assert_eq!(
        setup.refusal(&changed).await.as_deref(),
        Some(refused),
        "coefficient"
    );
}

#[tokio::test]
async fn pedersen_and_poseidon_chain_compositions_hold() {
    let pedersen = prove("pedersen_chain", vec![1, 2, 3]);
    let poseidon = prove("poseidon_chain", vec![10, 0x1234]);
    let Some(setup) = setup(&[&pedersen, &poseidon]).await else {
        eprintln!("SKIPPED: STARFARM_ANVIL not set");
        return;
    };
    for (name, artifact) in [("pedersen_chain", &pedersen), ("poseidon_chain", &poseidon)] {
        let input = setup.input(artifact).await;
        assert_eq!(setup.refusal(&input).await, None, "{name}");
        let (gas, bytes) = setup.send(name, &input).await;
        eprintln!(
            "{name}, test profile: composition statement {gas} gas, {bytes} bytes of calldata"
        );
    }
}
