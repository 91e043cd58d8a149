//! The contracts on anvil against real proofs: a Keccak-channel Cairo proof of fibonacci (the
//! `test` profile: 10 PoW bits, 8 queries, proven once for the binary) is encoded, and
//! `StwoVerifier` replays its transcript to the same draws as stwo's verifier, accepts its
//! proofs of work and Merkle decommitments, and rejects each tampered part with its reason.
//! `ChannelProbe` draws what the Rust channel draws after the same mixes. Gas per check is
//! printed (`--nocapture`) and bounded by EIP-7825's 2^24 per transaction.
//!
//! Skipped, loudly, without `STARFARM_ANVIL` (a failure with `STARFARM_REQUIRE_ANVIL=1`).

mod support;

use std::path::PathBuf;
use std::sync::LazyLock;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, FixedBytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use starfarm_l1::anvil::{Anvil, DEV_KEYS};
use starfarm_prover::artifact::{ProofArtifact, ProofCodec};
use starfarm_prover::channel::{
    keccak, ChannelKind, Keccak256Channel, Keccak256Hash, Keccak256MerkleChannel,
    Keccak256MerkleHasher,
};
use starfarm_prover::{CairoProgram, Felt, ProgramInput, Prover, SecurityProfile};
use starfarm_verifier::contracts::fri_probe::FriLayerProbe;
use starfarm_verifier::contracts::probe::StwoVerifierProbe;
use starfarm_verifier::contracts::registry::StwoFactRegistry;
use starfarm_verifier::contracts::{composition, fri, merkle, public_memory, quotients};
use starfarm_verifier::contracts::{CairoClaim, ChannelProbe, ClaimLayout, StwoVerifier};
use starfarm_verifier::plan::DEFAULT_QUERIES_PER_RANGE;
use starfarm_verifier::transcript::KeccakCairoProof;
use starfarm_verifier::{
    claimed_sums, encode_artifact, encoded_claim, preprocessed_root, program_key,
    recorded_claim_mixes, root_key, structured_claim, stwo_transcript, Accepted, EncodeError,
    PhaseKind, PlanSizes, VerificationPlan, VerifierContracts,
};
use stwo::core::channel::{Channel, MerkleChannel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::SecureField;

/// EIP-7825's cap on one transaction's gas.
const TX_GAS_CAP: u64 = 1 << 24;
/// The security floor the tests deploy `StwoVerifier` with: the test profile's 10 PoW bits +
/// log blowup 1 x 8 queries.
const TEST_FLOOR: u32 = 18;
/// EIP-170's cap on deployed code.
const CODE_SIZE_CAP: usize = 24_576;

/// fibonacci(100), test profile, Keccak channel.
static ARTIFACT: LazyLock<ProofArtifact> = LazyLock::new(|| fibonacci(SecurityProfile::Test));

/// fibonacci(100) with `profile` on the Keccak channel.
fn fibonacci(profile: SecurityProfile) -> ProofArtifact {
    fibonacci_of(profile, 100)
}

/// fibonacci(n) with `profile` on the Keccak channel.
fn fibonacci_of(profile: SecurityProfile, n: u64) -> ProofArtifact {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program =
        CairoProgram::from_file(&root.join("examples/fibonacci.json")).expect("example loads");
    let input = ProgramInput::new(vec![Felt::from(n)]);
    let mut prover = Prover::new(profile).with_channel(ChannelKind::Keccak);
    prover.prove(&program, &input, &mut |_| {}).expect("proves")
}

static PROOF: LazyLock<StwoVerifier::Proof> =
    LazyLock::new(|| encode_artifact(&ARTIFACT).expect("encodes"));

/// The proof `artifact` holds.
fn decoded(artifact: &ProofArtifact) -> KeccakCairoProof {
    ProofCodec::decode::<Keccak256MerkleHasher>(&artifact.proof).expect("decodes")
}

/// What `CairoClaim`'s deployment registers for `artifact`'s program: its key (from the
/// claim's program section) and its program hash (from the artifact's header, the Rust side).
fn program_entry(artifact: &ProofArtifact) -> (B256, B256) {
    let key = program_key(&decoded(artifact).claim);
    (key, B256::from(artifact.header.program_hash.to_bytes_be()))
}

/// The preprocessed root `proof` states, keyed as `CairoClaim.preprocessedRoots` keys it
/// (`variant << 8 | logBlowup`): what a deployment registers for that variant and blowup
/// (`starfarm_verifier::preprocessed_root` computes it without a proof; a test shows they
/// agree).
fn root_entry(proof: &StwoVerifier::Proof) -> (U256, B256) {
    let claim = CairoClaim::Claim::abi_decode(&proof.claim).expect("a claim");
    (
        root_key(claim.variant, proof.config.logBlowupFactor),
        proof.commitments[0],
    )
}

/// The programs the tests' `CairoClaim` knows: fibonacci's.
fn registered_programs() -> (Vec<B256>, Vec<B256>) {
    let (key, hash) = program_entry(&ARTIFACT);
    (vec![key], vec![hash])
}

/// anvil with both contracts deployed (their code under EIP-170's cap).
struct Chain {
    _anvil: Anvil,
    provider: DynProvider,
    verifier: Address,
    claim: Address,
    probe: Address,
    verifier_probe: Address,
    fri_probe: Address,
    /// Whether a call above EIP-7825's cap fails the test (the l1 measurement reports it).
    cap: bool,
}

async fn chain() -> Option<Chain> {
    Some(Chain::on(Anvil::for_tests()?, &[root_entry(&PROOF)]).await)
}

impl Chain {
    /// anvil with the contracts deployed, `CairoClaim` knowing fibonacci's program and the
    /// preprocessed `roots` (key, root).
    async fn on(anvil: Anvil, roots: &[(U256, B256)]) -> Chain {
        // reqwest has rustls without a provider (as in starfarm-l1): install ring's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let signer: PrivateKeySigner = DEV_KEYS[0].parse().expect("dev key");
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(anvil.url.parse().expect("url"))
            .erased();
        let layout = ClaimLayout::deploy_builder(&provider)
            .deploy()
            .await
            .expect("deploys ClaimLayout");
        let (keys, hashes) = registered_programs();
        let (root_keys, root_values): (Vec<U256>, Vec<B256>) = roots.iter().copied().unzip();
        let claim =
            CairoClaim::deploy_builder(&provider, layout, keys, hashes, root_keys, root_values)
                .deploy()
                .await
                .expect("deploys CairoClaim");
        let verifier = StwoVerifier::deploy_builder(&provider, claim, U256::from(TEST_FLOOR))
            .deploy()
            .await
            .expect("deploys StwoVerifier");
        let probe = ChannelProbe::deploy_builder(&provider)
            .deploy()
            .await
            .expect("deploys ChannelProbe");
        let verifier_probe =
            StwoVerifierProbe::deploy_builder(&provider, claim, U256::from(TEST_FLOOR))
                .deploy()
                .await
                .expect("deploys StwoVerifierProbe");
        let fri_probe = FriLayerProbe::deploy_builder(&provider, claim, U256::from(TEST_FLOOR))
            .deploy()
            .await
            .expect("deploys FriLayerProbe");
        for (name, address) in [
            ("ClaimLayout", layout),
            ("FriLayerProbe", fri_probe),
            ("CairoClaim", claim),
            ("StwoVerifier", verifier),
            ("ChannelProbe", probe),
            ("StwoVerifierProbe", verifier_probe),
        ] {
            let code = provider.get_code_at(address).await.expect("code");
            assert!(
                !code.is_empty() && code.len() <= CODE_SIZE_CAP,
                "{name}: {} bytes",
                code.len()
            );
            eprintln!("{name}: {} bytes of code", code.len());
        }
        Chain {
            _anvil: anvil,
            provider,
            verifier,
            claim,
            probe,
            verifier_probe,
            fri_probe,
            cap: true,
        }
    }

    fn verifier(&self) -> StwoVerifier::StwoVerifierInstance<&DynProvider> {
        StwoVerifier::new(self.verifier, &self.provider)
    }

    fn claim(&self) -> CairoClaim::CairoClaimInstance<&DynProvider> {
        CairoClaim::new(self.claim, &self.provider)
    }

    /// The revert reason of `verify(proof)`, or `None` when it passes.
    async fn verify_reason(&self, proof: &StwoVerifier::Proof) -> Option<String> {
        match self.verifier().verify(proof.clone()).call().await {
            Ok(_) => None,
            Err(e) => Some(reason(&e)),
        }
    }

    /// The revert reason of the checks after the transcript (trees, quotients, FRI) on `proof`
    /// with the transcript `t`, or `None` when they pass.
    async fn reason_after(
        &self,
        proof: &StwoVerifier::Proof,
        t: &StwoVerifier::Transcript,
    ) -> Option<String> {
        // The probe's types are its binding's own: converted through their ABI encoding.
        let p = starfarm_verifier::contracts::probe::StwoVerifier::Proof::abi_decode(
            &proof.abi_encode(),
        )
        .expect("same ABI");
        let t = starfarm_verifier::contracts::probe::StwoVerifier::Transcript::abi_decode(
            &t.abi_encode(),
        )
        .expect("same ABI");
        let probe = StwoVerifierProbe::new(self.verifier_probe, &self.provider);
        match probe.verifyWith(p, t).call().await {
            Ok(_) => None,
            Err(e) => Some(reason(&e)),
        }
    }

    /// Gas of a call to the verifier, checked against the transaction cap.
    async fn gas(&self, what: &str, call: impl SolCall) -> u64 {
        let request = alloy::rpc::types::TransactionRequest::default()
            .to(self.verifier)
            .input(call.abi_encode().into());
        let gas = self
            .provider
            .estimate_gas(request)
            .await
            .expect("estimates");
        if gas >= TX_GAS_CAP {
            assert!(!self.cap, "{what}: {gas} gas, above 2^24");
            eprintln!("*** {what}: {gas} gas, ABOVE EIP-7825's 2^24 for one transaction ***");
        }
        gas
    }
}

/// `require`'s message, else alloy's description of the error.
fn reason(e: &alloy::contract::Error) -> String {
    use alloy::sol_types::{Revert, SolError};
    e.as_revert_data()
        .and_then(|data| Revert::abi_decode(&data).ok())
        .map(|revert| revert.reason)
        .unwrap_or_else(|| e.to_string())
}

fn packed(felt: SecureField) -> U256 {
    let [a, b, c, d] = felt.to_m31_array().map(|m| U256::from(m.0));
    a | (b << 32) | (c << 64) | (d << 96)
}

/// A call's calldata gas: EIP-2028's (4 per zero byte, 16 per other) and EIP-7623's floor
/// for the whole transaction (21,000 + 10 per token, a zero byte one token, another four).
fn calldata_gas(data: &[u8]) -> (u64, u64) {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let others = data.len() as u64 - zeros;
    (4 * zeros + 16 * others, 21_000 + 10 * (zeros + 4 * others))
}

/// Gas of one call: its execution (measured on a Cancun chain: no calldata floor there) and
/// what a transaction pays on today's chain (the larger of 21,000 + calldata + execution and
/// the calldata floor), checked against EIP-7825's cap on the default chain's estimate.
struct CallGas {
    execution: u64,
    total: u64,
}

async fn call_gas(
    chain: &Chain,
    cancun: &Chain,
    what: &str,
    call: impl SolCall + Clone,
) -> CallGas {
    let input = call.abi_encode();
    let (standard, floor) = calldata_gas(&input);
    let execution = cancun.gas(what, call.clone()).await - 21_000 - standard;
    let estimate = chain.gas(what, call).await;
    let total = (21_000 + standard + execution).max(floor);
    assert!(
        total.abs_diff(estimate) * 100 <= estimate,
        "{what}: {total} vs {estimate}"
    );
    CallGas { execution, total }
}

#[tokio::test]
async fn channel_draws_equal_the_rust_channels() {
    let Some(chain) = chain().await else { return };
    let probe = ChannelProbe::new(chain.probe, &chain.provider);
    let mut rust = Keccak256Channel::default();
    let mut mixes: Vec<Bytes> = vec![];
    // One mix of each kind, with the bytes the contract is given for it.
    rust.mix_u64(0x0123_4567_89ab_cdef);
    mixes.push(0x0123_4567_89ab_cdef_u64.to_be_bytes().to_vec().into());
    rust.mix_u32s(&[1, 2, 0x7fff_fffe, u32::MAX]);
    mixes.push(
        [1u32, 2, 0x7fff_fffe, u32::MAX]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect::<Vec<_>>()
            .into(),
    );
    let felt = SecureField::from_m31_array([5, 6, 7, 8].map(M31::from));
    rust.mix_felts(&[felt, felt + felt]);
    mixes.push(
        [felt, felt + felt]
            .iter()
            .flat_map(|f| f.to_m31_array())
            .flat_map(|m| m.0.to_be_bytes())
            .collect::<Vec<_>>()
            .into(),
    );
    Keccak256MerkleChannel::mix_root(&mut rust, Keccak256Hash([0x5a; 32]));
    mixes.push(vec![0x5a; 32].into());

    // A proof of work of 8 bits found by the Rust side; the one before it is rejected.
    let prefix = rust.pow_prefix_digest(8);
    let nonce = (0..)
        .find(|n| keccak::pow_accepts(&prefix, 8, *n))
        .expect("a nonce");
    let (n_felts, log_size, n_queries) = (5, 20, 11);
    let run = |nonce| {
        probe.run(
            mixes.clone(),
            8,
            nonce,
            U256::from(n_felts),
            U256::from(log_size),
            U256::from(n_queries),
        )
    };
    let draws = run(nonce).call().await.expect("runs");
    assert!(draws.powAccepted, "nonce {nonce} accepted in Rust");
    if nonce > 0 {
        assert!(!run(nonce - 1).call().await.expect("runs").powAccepted);
    }

    assert_eq!(draws.digest.0, rust.digest().0, "digest after the mixes");
    assert_eq!(draws.felt, packed(rust.draw_secure_felt()));
    let felts: Vec<U256> = rust
        .draw_secure_felts(n_felts)
        .into_iter()
        .map(packed)
        .collect();
    assert_eq!(draws.felts, felts);
    let words = rust.draw_u32s();
    let expected = words
        .iter()
        .fold(U256::ZERO, |acc, w| (acc << 32) | U256::from(*w));
    assert_eq!(draws.words, expected);
    let queries = stwo::core::queries::draw_queries(&mut rust, log_size, n_queries);
    let queries: Vec<U256> = queries.into_iter().map(U256::from).collect();
    assert_eq!(draws.queries, queries);
    // 1 + 3 (five felts) + 1 + 2 (eleven words) draws since the last mix.
    assert_eq!(draws.nDraws, 7);
}

#[tokio::test]
async fn replayed_transcript_reaches_stwos_draws() {
    let Some(chain) = chain().await else { return };
    let proof = ProofCodec::decode::<Keccak256MerkleHasher>(&ARTIFACT.proof).expect("decodes");
    let expected = stwo_transcript(&proof).expect("replays");
    let t = chain
        .verifier()
        .replay(PROOF.clone())
        .call()
        .await
        .expect("replays on chain");
    assert_eq!(t.lookupZ, packed(expected.lookup_z));
    assert_eq!(t.lookupAlpha, packed(expected.lookup_alpha));
    assert_eq!(t.compositionCoeff, packed(expected.composition_coeff));
    assert_eq!(t.oodsX, packed(expected.oods_point.x));
    assert_eq!(t.oodsY, packed(expected.oods_point.y));
    assert_eq!(t.quotientCoeff, packed(expected.quotient_coeff));
    let queries: Vec<U256> = expected.queries.iter().map(|q| U256::from(*q)).collect();
    assert_eq!(t.queries, queries, "query positions");
    assert_eq!(t.friAlphas.len(), PROOF.friCommitments.len());

    // The PCS quotients at the queries: FRI's first layer values, as stwo's fri_answers.
    let answers = chain
        .verifier()
        .friAnswers(PROOF.clone())
        .call()
        .await
        .expect("quotients on chain");
    let expected_answers: Vec<U256> = expected.fri_answers.iter().map(|f| packed(*f)).collect();
    assert_eq!(
        answers, expected_answers,
        "first layer values at the queries"
    );
}

#[tokio::test]
async fn a_real_proof_passes_every_check_and_gas_is_reported() {
    let Some(chain) = chain().await else { return };
    report_gas(&chain, &ARTIFACT, &PROOF, &[]).await;
}

/// The same on the `l1` profile (26 PoW bits, log blowup 2, 35 queries): the proofs settlement
/// will send. Proving grinds 2^26 Keccak hashes (a minute or more on 2 busy cores), so it is a
/// measurement, run by hand: `cargo test -p starfarm-verifier --test onchain -- --ignored`.
#[tokio::test]
#[ignore = "a measurement: proves with the l1 profile (26 PoW bits)"]
async fn l1_profile_proof_passes_and_gas_is_reported() {
    let Some(bin) = Anvil::binary_for_tests() else {
        return;
    };
    // One verification exceeds a 30M block today: a larger block, and calls above EIP-7825's
    // cap reported rather than failed (splitting into transactions is the next step).
    let big = ["--gas-limit", "200000000"];
    let artifact = fibonacci(SecurityProfile::L1);
    let proof = encode_artifact(&artifact).expect("encodes");
    let anvil = Anvil::start_with(&bin, &big).expect("starts anvil");
    let mut chain = Chain::on(anvil, &[root_entry(&proof)]).await;
    chain.cap = false;
    report_gas(&chain, &artifact, &proof, &big).await;
}

/// Checks that `proof` passes and prints the gas of each check (each call under 2^24).
async fn report_gas(
    chain: &Chain,
    artifact: &ProofArtifact,
    proof: &StwoVerifier::Proof,
    anvil_options: &[&str],
) {
    assert_eq!(
        chain.verify_reason(proof).await,
        None,
        "the valid proof passes"
    );
    let bin = Anvil::binary_for_tests().expect("anvil");
    let options = [&["--hardfork", "cancun"], anvil_options].concat();
    let cancun = Anvil::start_with(&bin, &options).expect("starts anvil");
    let mut cancun = Chain::on(cancun, &[root_entry(proof)]).await;
    cancun.cap = chain.cap;

    let calldata = StwoVerifier::verifyCall { p: proof.clone() }.abi_encode();
    let (standard, floor) = calldata_gas(&calldata);
    eprintln!(
        "profile {}: proof section {} bytes; verify's calldata {} bytes: {standard} gas \
         (EIP-2028), floor {floor} (EIP-7623, with the 21,000)",
        artifact.header.profile,
        artifact.proof.len(),
        calldata.len(),
    );
    let replay = StwoVerifier::replayCall { p: proof.clone() };
    let replay = call_gas(chain, &cancun, "replay", replay).await;
    eprintln!(
        "replay (transcript, both PoW): execution {} gas; transaction {}",
        replay.execution, replay.total
    );
    let names = ["preprocessed", "trace", "interaction", "composition"];
    let mut trees_execution = 0;
    for (tree, name) in names.iter().enumerate() {
        let call = StwoVerifier::verifyTreeCall {
            p: proof.clone(),
            tree: U256::from(tree),
        };
        let gas = call_gas(chain, &cancun, name, call).await;
        let opening = &proof.trees[tree];
        eprintln!(
            "{name} tree: height {}, {} rows of {} bytes, {} witness hashes: execution {} gas \
             over the replay",
            opening.logHeight,
            opening.rows.len() / (opening.rowBytes as usize).max(1),
            opening.rowBytes,
            opening.witness.len(),
            gas.execution.saturating_sub(replay.execution)
        );
        trees_execution += gas.execution.saturating_sub(replay.execution);
    }
    let quotients = call_gas(
        chain,
        &cancun,
        "friAnswers",
        StwoVerifier::friAnswersCall { p: proof.clone() },
    )
    .await;
    eprintln!(
        "PCS quotients ({} sampled values, {} columns): execution {} gas over the replay",
        proof.sampledValues.len() / 16,
        proof.columns.iter().map(|c| c.len()).sum::<usize>(),
        quotients.execution.saturating_sub(replay.execution)
    );
    eprintln!("four trees: execution {trees_execution} gas over the replay");
    let all = call_gas(
        chain,
        &cancun,
        "verify",
        StwoVerifier::verifyCall { p: proof.clone() },
    )
    .await;
    // Each FRI layer's execution gas, measured inside one call (StwoVerifierProbe).
    let probe_proof = starfarm_verifier::contracts::fri_probe::StwoVerifier::Proof::abi_decode(
        &proof.abi_encode(),
    )
    .expect("same ABI");
    let layers = FriLayerProbe::new(chain.fri_probe, &chain.provider)
        .friLayerGas(probe_proof)
        .call()
        .await
        .expect("measures FRI's layers");
    let (last, layers) = layers.split_last().expect("the last layer's gas");
    let layers: Vec<String> = layers.iter().map(|g| g.to_string()).collect();
    eprintln!(
        "FRI layers (first, then inner), execution gas each: {}; last layer check: {last}",
        layers.join(", ")
    );
    let fri_witness: usize = proof
        .friLayers
        .iter()
        .map(|l| l.values.len() + 32 * l.witness.len())
        .sum();
    eprintln!(
        "FRI ({} layers, {fri_witness} bytes of decommitments): execution {} gas (verify minus \
         the trees and the quotients)",
        proof.friLayers.len(),
        all.execution
            .saturating_sub(replay.execution + trees_execution)
            .saturating_sub(quotients.execution.saturating_sub(replay.execution))
    );
    eprintln!(
        "verify (replay, four trees, quotients, FRI): execution {} gas; transaction {}",
        all.execution, all.total
    );
}

/// Byte `i` of `bytes` flipped.
fn flipped(bytes: &Bytes, i: usize) -> Bytes {
    let mut v = bytes.to_vec();
    v[i] ^= 1;
    v.into()
}

#[tokio::test]
async fn each_tampered_part_is_rejected_with_its_reason() {
    let Some(chain) = chain().await else { return };
    let names = [
        "preprocessed tree",
        "trace tree",
        "interaction tree",
        "composition tree",
    ];
    for (tree, name) in names.iter().enumerate() {
        // A Merkle node (the last witness hash: near the root) and a queried value.
        let mut p = PROOF.clone();
        let witness = &mut p.trees[tree].witness;
        assert!(!witness.is_empty(), "{name} has a witness");
        let last = witness.len() - 1;
        witness[last].0[31] ^= 1;
        let reason = chain.verify_reason(&p).await.expect("rejected");
        assert_eq!(reason, format!("{name}: Merkle root mismatch"));

        let mut p = PROOF.clone();
        let rows = &p.trees[tree].rows;
        p.trees[tree].rows = flipped(rows, rows.len() / 2);
        let reason = chain.verify_reason(&p).await.expect("rejected");
        assert_eq!(reason, format!("{name}: Merkle root mismatch"));

        // One hash missing, one too many.
        let mut p = PROOF.clone();
        p.trees[tree].witness.pop();
        let reason = chain.verify_reason(&p).await.expect("rejected");
        assert_eq!(reason, format!("{name}: Merkle witness too short"));
        let mut p = PROOF.clone();
        p.trees[tree].witness.push(FixedBytes([7; 32]));
        let reason = chain.verify_reason(&p).await.expect("rejected");
        assert_eq!(reason, format!("{name}: Merkle witness too long"));

        // The preprocessed root is the deployment's; another root changes every later draw:
        // the interaction proof of work (after the trace root) or the final one fails before
        // any Merkle check.
        let mut p = PROOF.clone();
        p.commitments[tree].0[0] ^= 1;
        let reason = chain.verify_reason(&p).await.expect("rejected");
        let expected = match tree {
            0 => "preprocessed root: not the variant's",
            1 => "interaction proof of work: nonce rejected",
            _ => "proof of work: nonce rejected",
        };
        assert_eq!(reason, expected, "root of the {name}");
    }

    type Tamper = fn(&mut StwoVerifier::Proof);
    let pow = "proof of work: nonce rejected";
    let interaction_pow = "interaction proof of work: nonce rejected";
    let cases: [(&str, Tamper, &str); 8] = [
        ("PoW nonce", |p| p.powNonce ^= 1, pow),
        (
            "interaction PoW nonce",
            |p| p.interactionPow ^= 1,
            interaction_pow,
        ),
        (
            "a claimed sum",
            |p| p.claimedSums = flipped(&p.claimedSums, 3),
            "claim: the logup sums do not balance",
        ),
        (
            "a sampled value",
            |p| p.sampledValues = flipped(&p.sampledValues, 5),
            pow,
        ),
        ("a FRI layer root", |p| p.friCommitments[1].0[9] ^= 1, pow),
        (
            "the last layer",
            |p| p.lastLayerPoly = flipped(&p.lastLayerPoly, 15),
            pow,
        ),
        (
            "a FRI layer missing",
            |p| {
                p.friCommitments.pop();
            },
            "FRI: wrong number of layers",
        ),
        (
            "a queried row cut short",
            |p| p.trees[1].rows = p.trees[1].rows.slice(..p.trees[1].rows.len() - 4),
            "trace tree: queried rows have the wrong length",
        ),
    ];
    for (what, tamper, expected) in cases {
        let mut p = PROOF.clone();
        tamper(&mut p);
        let reason = chain.verify_reason(&p).await.expect("rejected");
        assert_eq!(reason, expected, "{what}");
    }

    // FRI's decommitments (the roots stay: the transcript does not move).
    let n_layers = PROOF.friLayers.len();
    assert!(n_layers >= 3, "a first layer and inner layers");
    for layer in 0..n_layers {
        let name = if layer == 0 {
            "FRI first layer".to_string()
        } else {
            format!("FRI layer {layer}")
        };
        // A layer small enough for the queries to cover it has no witness: the first has.
        let opened = &PROOF.friLayers[layer];
        assert!(
            layer > 0 || (!opened.values.is_empty() && !opened.witness.is_empty()),
            "the first layer has witness values and hashes"
        );
        if !opened.values.is_empty() {
            let mut p = PROOF.clone();
            let values = &p.friLayers[layer].values;
            p.friLayers[layer].values = flipped(values, values.len() - 1);
            let reason = chain.verify_reason(&p).await.expect("rejected");
            assert_eq!(reason, format!("{name}: Merkle root mismatch"), "a value");

            let mut p = PROOF.clone();
            let values = &p.friLayers[layer].values;
            p.friLayers[layer].values = values.slice(..values.len() - 16);
            let reason = chain.verify_reason(&p).await.expect("rejected");
            assert_eq!(reason, format!("{name}: witness values too short"));
        }
        if !opened.witness.is_empty() {
            let mut p = PROOF.clone();
            let witness = &mut p.friLayers[layer].witness;
            let last = witness.len() - 1;
            witness[last].0[0] ^= 1;
            let reason = chain.verify_reason(&p).await.expect("rejected");
            assert_eq!(reason, format!("{name}: Merkle root mismatch"), "a node");
        }

        let mut p = PROOF.clone();
        let mut values = p.friLayers[layer].values.to_vec();
        values.extend([0; 16]);
        p.friLayers[layer].values = values.into();
        let reason = chain.verify_reason(&p).await.expect("rejected");
        assert_eq!(reason, format!("{name}: witness values too long"));
    }
    let mut p = PROOF.clone();
    p.friLayers.pop();
    let reason = chain.verify_reason(&p).await.expect("rejected");
    assert_eq!(reason, "FRI: a layer decommitment per layer");

    // The layout is the claim's: any other is refused before the transcript (`verify`); the
    // quotients' own checks of a layout still stand behind it (the probe, after an honest
    // transcript). A column left unsampled (what a prover would want: its committed values
    // then bind to nothing) is one of them.
    let t = chain
        .verifier()
        .replay(PROOF.clone())
        .call()
        .await
        .expect("replays");
    let not_the_claims = "layout: the columns are not the claim's";
    let mut p = PROOF.clone();
    let mut layout = p.columns[1].to_vec();
    layout[0] += 1 << 5;
    p.columns[1] = layout.into();
    assert_eq!(
        chain.verify_reason(&p).await.as_deref(),
        Some(not_the_claims)
    );
    let reason = chain.reason_after(&p, &t).await.expect("rejected");
    assert_eq!(reason, "layout: more samples than sampled values");
    // A column unsampled; sampled at three points; a log size above the tree's; a log size 0.
    type Change = fn(u8) -> u8;
    let layout_cases: [(Change, Option<&str>); 4] = [
        (|b| b & 0x1f, None),
        (
            |b| (b & 0x1f) | 3 << 5,
            Some("layout: a column sampled at more than two points"),
        ),
        (
            |b| (b & 0x60) | 31,
            Some("layout: column log size outside its tree"),
        ),
        (
            |b| b & 0x60,
            Some("layout: column log size outside its tree"),
        ),
    ];
    for (change, behind) in layout_cases {
        let mut p = PROOF.clone();
        let mut layout = p.columns[2].to_vec();
        layout[1] = change(layout[1]);
        p.columns[2] = layout.into();
        assert_eq!(
            chain.verify_reason(&p).await.as_deref(),
            Some(not_the_claims)
        );
        if let Some(behind) = behind {
            let reason = chain.reason_after(&p, &t).await.expect("rejected");
            assert_eq!(reason, behind);
        }
    }
    // A tree's stated height.
    let mut p = PROOF.clone();
    p.trees[1].logHeight += 1;
    assert_eq!(
        chain.verify_reason(&p).await.as_deref(),
        Some("layout: a tree's height is not the claim's")
    );
}

/// What the transcript would catch first, kept out of it (the probe checks after a given
/// transcript): a sampled value changes the quotients, so FRI's first layer no longer opens;
/// a last layer coefficient changes the last layer's values.
#[tokio::test]
async fn quotients_and_the_last_layer_are_checked_beyond_the_transcript() {
    let Some(chain) = chain().await else { return };
    let t = chain
        .verifier()
        .replay(PROOF.clone())
        .call()
        .await
        .expect("replays");
    assert_eq!(chain.reason_after(&PROOF, &t).await, None, "valid proof");

    let mut p = PROOF.clone();
    p.sampledValues = flipped(&p.sampledValues, p.sampledValues.len() / 2 + 3);
    let reason = chain.reason_after(&p, &t).await.expect("rejected");
    assert_eq!(
        reason, "FRI first layer: Merkle root mismatch",
        "a sampled value"
    );

    let mut p = PROOF.clone();
    p.lastLayerPoly = flipped(&p.lastLayerPoly, 3);
    let reason = chain.reason_after(&p, &t).await.expect("rejected");
    assert_eq!(
        reason, "FRI: last layer evaluation mismatch",
        "the last layer"
    );

    // A folding coefficient the transcript did not draw.
    let mut t2 = t.clone();
    let last = t2.friAlphas.len() - 1;
    t2.friAlphas[last] ^= U256::from(1);
    let reason = chain.reason_after(&PROOF, &t2).await.expect("rejected");
    assert_eq!(
        reason, "FRI: last layer evaluation mismatch",
        "a folding coefficient"
    );
}

#[test]
fn only_keccak_proofs_are_encoded() {
    let mut artifact = ARTIFACT.clone();
    artifact.header.channel = ChannelKind::Blake2s;
    assert!(matches!(
        encode_artifact(&artifact),
        Err(EncodeError::Channel(ChannelKind::Blake2s))
    ));
    let mut artifact = ARTIFACT.clone();
    artifact.proof.truncate(100);
    assert!(matches!(
        encode_artifact(&artifact),
        Err(EncodeError::Decode(_))
    ));
}

/// A small deterministic generator (xorshift64*): the mutations are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as usize % n
    }
}

/// Random single-byte changes anywhere in `verify`'s calldata (ABI heads, lengths, offsets,
/// every field): each one that changes the proof (as alloy decodes it) is rejected; one that
/// only touches padding, where the decoded proof is the same, is not a tampering.
#[tokio::test]
async fn random_calldata_mutations_are_rejected() {
    const MUTATIONS: usize = 1000;
    let Some(chain) = chain().await else { return };
    let calldata = StwoVerifier::verifyCall { p: PROOF.clone() }.abi_encode();
    let mut rng = Rng(0x05ee_d0f5_7a4f);
    let (mut changed, mut undecodable, mut same) = (0, 0, 0);
    for _ in 0..MUTATIONS {
        let mut data = calldata.clone();
        // Past the selector; a byte xor-ed with a non-zero value always changes.
        let at = 4 + rng.below(data.len() - 4);
        data[at] ^= 1 + rng.below(255) as u8;
        let request = alloy::rpc::types::TransactionRequest::default()
            .to(chain.verifier)
            .input(data.clone().into());
        let accepted = chain.provider.call(request).await.is_ok();
        match StwoVerifier::verifyCall::abi_decode(&data) {
            Ok(call) if call.p == *PROOF => same += 1,
            Ok(_) => {
                changed += 1;
                assert!(
                    !accepted,
                    "byte {at} changed the proof and it still verifies"
                );
            }
            Err(_) => {
                undecodable += 1;
                assert!(
                    !accepted,
                    "byte {at} makes undecodable calldata that verifies"
                );
            }
        }
    }
    eprintln!("{MUTATIONS} mutations: {changed} changed the proof, {undecodable} undecodable, {same} padding only");
    assert!(changed > MUTATIONS / 2, "most mutations change the proof");
}

/// Random single-byte changes anywhere in the split verification's statement transactions
/// (seeded; the phase at random): each that changes the call (its ABI decoding re-encodes to
/// other bytes, or does not decode) either reverts or proves another statement, one whose fact
/// is not the honest one's, so `verifyProof` never finds it.
#[tokio::test]
async fn random_mutations_of_the_statements_never_prove_the_honest_statements() {
    const MUTATIONS: usize = 1000;
    let Some(chain) = chain().await else { return };
    let contracts = split_contracts(&chain, &PROOF).await;
    let plan =
        VerificationPlan::from_artifact(&ARTIFACT, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    let call = |to: Address, data: Vec<u8>| {
        let request = alloy::rpc::types::TransactionRequest::default()
            .to(to)
            .input(data.into());
        let provider = &chain.provider;
        async move { provider.call(request).await.ok() }
    };
    // Each phase's honest fact: the first word its call returns (the quotient ranges read the
    // quotient setup's constants from the chain: it is sent first).
    let setup = plan
        .phases
        .iter()
        .find(|p| p.kind == PhaseKind::QuotientSetup)
        .expect("a quotient setup");
    send(
        &chain,
        "quotient setup",
        contracts.quotients,
        setup.calldata.clone(),
    )
    .await;
    let mut honest = Vec::new();
    for phase in &plan.phases {
        let out = call(phase.target(&contracts), phase.calldata.to_vec())
            .await
            .expect("the honest statement verifies");
        honest.push(B256::from_slice(&out[..32]));
    }
    let reencoded = |kind: &PhaseKind, data: &[u8]| -> Option<Vec<u8>> {
        match kind {
            PhaseKind::Merkle { .. } => merkle::MerkleStatement::verifyCall::abi_decode(data)
                .ok()
                .map(|c| c.abi_encode()),
            PhaseKind::QuotientSetup => quotients::QuotientStatement::setupCall::abi_decode(data)
                .ok()
                .map(|c| c.abi_encode()),
            PhaseKind::Quotients { .. } => {
                quotients::QuotientStatement::verifyCall::abi_decode(data)
                    .ok()
                    .map(|c| c.abi_encode())
            }
            PhaseKind::Fri => fri::FriStatement::verifyCall::abi_decode(data)
                .ok()
                .map(|c| c.abi_encode()),
            PhaseKind::Composition { from: 0, .. } => {
                composition::CompositionStatement::verifyCall::abi_decode(data)
                    .ok()
                    .map(|c| c.abi_encode())
            }
            PhaseKind::Composition { .. } => {
                composition::CompositionStatement::verifyRangeCall::abi_decode(data)
                    .ok()
                    .map(|c| c.abi_encode())
            }
            PhaseKind::ProgramRoot => CairoClaim::registerProgramRootCall::abi_decode(data)
                .ok()
                .map(|c| c.abi_encode()),
            PhaseKind::PublicMemory { .. } => {
                public_memory::PublicMemoryStatement::verifyCall::abi_decode(data)
                    .ok()
                    .map(|c| c.abi_encode())
            }
        }
    };
    let mut rng = Rng(0x5b11_7f00_d5ee);
    let (mut refused, mut other, mut same) = (0, 0, 0);
    for _ in 0..MUTATIONS {
        let k = rng.below(plan.phases.len());
        let phase = &plan.phases[k];
        let mut data = phase.calldata.to_vec();
        let at = 4 + rng.below(data.len() - 4);
        data[at] ^= 1 + rng.below(255) as u8;
        if reencoded(&phase.kind, &data).as_deref() == Some(&phase.calldata[..]) {
            same += 1;
            continue;
        }
        match call(phase.target(&contracts), data).await {
            None => refused += 1,
            Some(out) => {
                other += 1;
                assert!(
                    out.len() >= 32 && B256::from_slice(&out[..32]) != honest[k],
                    "{}: byte {at} changed the call and it still proves the honest statement",
                    phase.kind
                );
            }
        }
    }
    eprintln!(
        "{MUTATIONS} statement mutations: {refused} refused, {other} proved another statement, \
         {same} padding only"
    );
    assert!(refused > MUTATIONS / 2, "most mutations are refused");
}

/// Without a node: the recorded claim and interaction-claim mixes, hashed one by one after the
/// digest as the contract does, reach the digest cairo-air's own `mix_into` reaches.
#[test]
fn recorded_claim_mixes_replay_to_the_channels_digest() {
    let proof = ProofCodec::decode::<Keccak256MerkleHasher>(&ARTIFACT.proof).expect("decodes");
    let mut channel = Keccak256Channel::default();
    proof.claim.mix_into::<Keccak256MerkleChannel>(&mut channel);
    proof.interaction_claim.mix_into(&mut channel);

    let (claim, interaction) = recorded_claim_mixes(&proof).expect("records");
    let mut replayed = Keccak256Channel::default();
    for mix in claim.iter().chain(&interaction) {
        replayed.update_digest(keccak::keccak256(&[&replayed.digest().0, mix]));
    }
    assert!(!claim.is_empty() && !interaction.is_empty());
    assert_eq!(replayed.digest(), channel.digest());
}

// ---- The split verification: statements in their own transactions, then the registry ----

/// The split verifier's contracts on `chain` (fibonacci's program, the preprocessed root of
/// `proof`'s variant and blowup, the tests' floor), their code under EIP-170's cap.
async fn split_contracts(chain: &Chain, proof: &StwoVerifier::Proof) -> VerifierContracts {
    let (keys, hashes) = registered_programs();
    let accepted = Accepted {
        programs: keys.into_iter().zip(hashes).collect(),
        roots: vec![root_entry(proof)],
        floor: TEST_FLOOR,
    };
    let contracts = starfarm_verifier::deploy(&chain.provider, &accepted)
        .await
        .expect("deploys the split verifier");
    for (name, address) in [
        ("MerkleStatement", contracts.merkle),
        ("QuotientStatement", contracts.quotients),
        ("FriStatement", contracts.fri),
        ("CompositionStatement", contracts.composition),
        ("StwoFactRegistry", contracts.registry),
    ] {
        let code = chain.provider.get_code_at(address).await.expect("code");
        assert!(
            !code.is_empty() && code.len() <= CODE_SIZE_CAP,
            "{name}: {} bytes",
            code.len()
        );
        eprintln!("{name}: {} bytes of code", code.len());
    }
    contracts
}

/// The fact an artifact's header states (the Rust side's formula).
fn header_fact(artifact: &ProofArtifact) -> FixedBytes<32> {
    artifact.header.fact.parse().expect("a 32-byte fact")
}

/// The revert reason of a call with `calldata` to `to`, or `None` when it passes.
async fn call_reason(chain: &Chain, to: Address, calldata: Bytes) -> Option<String> {
    support::call_reason(&chain.provider, to, calldata).await
}

/// Sends a transaction and returns its receipt's gas; it must be mined successfully, under
/// EIP-7825's cap (the chain's estimate sets its gas limit).
async fn send(chain: &Chain, what: &str, to: Address, calldata: Bytes) -> u64 {
    if let Some(reason) = call_reason(chain, to, calldata.clone()).await {
        panic!("{what}: reverts: {reason}");
    }
    let request = alloy::rpc::types::TransactionRequest::default()
        .to(to)
        .input(calldata.into());
    let receipt = chain
        .provider
        .send_transaction(request)
        .await
        .expect("sends")
        .get_receipt()
        .await
        .expect("mined");
    assert!(receipt.status(), "{what}: failed");
    if receipt.gas_used >= TX_GAS_CAP {
        assert!(!chain.cap, "{what}: {} gas, above 2^24", receipt.gas_used);
        eprintln!("*** {what}: {} gas, ABOVE 2^24 ***", receipt.gas_used);
    }
    receipt.gas_used
}

/// Which statements of `plan` the registry sees on chain.
async fn done(chain: &Chain, contracts: &VerifierContracts, plan: &VerificationPlan) -> Vec<bool> {
    StwoFactRegistry::new(contracts.registry, &chain.provider)
        .statements(plan.header.clone(), plan.parts.clone())
        .call()
        .await
        .expect("statements")
        .done
}

/// Sends every phase of `plan` then `verifyProof` on `cancun` (a Cancun chain: a receipt's
/// gas is 21,000 + EIP-2028 calldata + execution, no floor), printing each transaction's
/// calldata and execution gas and what it costs on today's chain (the larger of that and
/// EIP-7623's floor), which must be under EIP-7825's cap; returns today's total.
async fn verify_split(
    cancun: &Chain,
    contracts: &VerifierContracts,
    plan: &VerificationPlan,
) -> u64 {
    let last: Bytes = plan.verify_proof_call().abi_encode().into();
    let txs = plan
        .phases
        .iter()
        .map(|p| (p.kind.to_string(), p.target(contracts), p.calldata.clone()))
        .chain(std::iter::once((
            "verifyProof".to_string(),
            contracts.registry,
            last,
        )));
    eprintln!(
        "  {:<16} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "transaction", "bytes", "calldata", "floor", "execution", "gas today"
    );
    let (mut sum_calldata, mut sum_execution, mut total, mut n) = (0, 0, 0, 0);
    for (name, to, data) in txs {
        let gas = send(cancun, &name, to, data.clone()).await;
        let (standard, floor) = calldata_gas(&data);
        let execution = gas - 21_000 - standard;
        let today = gas.max(floor);
        assert!(today < TX_GAS_CAP, "{name}: {today} gas today, above 2^24");
        eprintln!(
            "  {name:<16} {:>8} {standard:>10} {floor:>10} {execution:>10} {today:>10}",
            data.len()
        );
        (sum_calldata, sum_execution, total, n) = (
            sum_calldata + standard,
            sum_execution + execution,
            total + today,
            n + 1,
        );
    }
    eprintln!(
        "  all {n} transactions: calldata {sum_calldata} (EIP-2028), execution {sum_execution}, \
         {total} gas today"
    );
    total
}

/// anvil on Cancun (no calldata floor) with the split verifier accepting `proof`'s root.
async fn cancun_chain(proof: &StwoVerifier::Proof) -> Option<(Chain, VerifierContracts)> {
    let bin = Anvil::binary_for_tests()?;
    let anvil = Anvil::start_with(&bin, &["--hardfork", "cancun"]).expect("starts anvil");
    let chain = Chain::on(anvil, &[root_entry(proof)]).await;
    let contracts = split_contracts(&chain, proof).await;
    Some((chain, contracts))
}

#[tokio::test]
async fn a_split_verification_registers_the_fact_once_every_statement_is_verified() {
    let Some(chain) = chain().await else { return };
    let contracts = split_contracts(&chain, &PROOF).await;
    let plan =
        VerificationPlan::from_artifact(&ARTIFACT, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    // test profile: 4 trees, the quotient setup, 8 queries in one range, FRI, the composition.
    assert_eq!(plan.phases.len(), 8);
    let fact = header_fact(&ARTIFACT);
    let registry = StwoFactRegistry::new(contracts.registry, &chain.provider);
    let finish: Bytes = plan.verify_proof_call().abi_encode().into();

    // Nothing verified: the last transaction names the first missing statement.
    assert_eq!(done(&chain, &contracts, &plan).await, vec![false; 8]);
    assert_eq!(
        call_reason(&chain, contracts.registry, finish.clone())
            .await
            .as_deref(),
        Some("registry: Merkle statement of tree 0 not verified")
    );

    // Half sent (a restart): the chain says which statements are done; the rest resumes.
    for phase in &plan.phases[..3] {
        send(
            &chain,
            "phase",
            phase.target(&contracts),
            phase.calldata.clone(),
        )
        .await;
    }
    assert_eq!(
        done(&chain, &contracts, &plan).await,
        vec![true, true, true, false, false, false, false, false]
    );
    assert_eq!(
        call_reason(&chain, contracts.registry, finish.clone())
            .await
            .as_deref(),
        Some("registry: Merkle statement of tree 3 not verified")
    );
    send(
        &chain,
        "merkle[3]",
        contracts.merkle,
        plan.phases[3].calldata.clone(),
    )
    .await;
    // A range before its proof's setup is refused; the registry names the setup missing.
    assert_eq!(
        call_reason(&chain, contracts.quotients, plan.phases[5].calldata.clone())
            .await
            .as_deref(),
        Some("quotient statement: no setup of this proof's context")
    );
    assert_eq!(
        call_reason(&chain, contracts.registry, finish.clone())
            .await
            .as_deref(),
        Some("registry: quotient setup not verified")
    );
    for phase in &plan.phases[4..6] {
        send(
            &chain,
            "phase",
            phase.target(&contracts),
            phase.calldata.clone(),
        )
        .await;
    }
    assert_eq!(
        call_reason(&chain, contracts.registry, finish.clone())
            .await
            .as_deref(),
        Some("registry: FRI statement not verified")
    );
    assert!(!registry.isValid(fact).call().await.expect("reads"));
    send(
        &chain,
        "fri",
        contracts.fri,
        plan.phases[6].calldata.clone(),
    )
    .await;
    // The composition check is required like the others.
    assert_eq!(
        call_reason(&chain, contracts.registry, finish.clone())
            .await
            .as_deref(),
        Some("registry: composition statement not verified")
    );
    assert!(!registry.isValid(fact).call().await.expect("reads"));
    send(
        &chain,
        "composition",
        contracts.composition,
        plan.phases[7].calldata.clone(),
    )
    .await;
    assert_eq!(done(&chain, &contracts, &plan).await, vec![true; 8]);
    send(&chain, "verifyProof", contracts.registry, finish).await;
    // The claim's fact: the artifact's, as the Rust side computes it.
    assert!(registry.isValid(fact).call().await.expect("reads"));
    let mut other = fact;
    other.0[31] ^= 1;
    assert!(!registry.isValid(other).call().await.expect("reads"));
}

/// `starfarm_l1`'s sender (what `starfarm l1 verify` runs): after a restart with two
/// statements on chain it sends only the rest and `verifyProof`, counts each transaction's
/// gas per phase and the proof's total, and the fact is valid.
#[tokio::test]
async fn the_l1_client_resumes_a_verification_and_counts_its_gas() {
    use starfarm_l1::metrics::SettleMetrics;

    let Some(chain) = chain().await else { return };
    let contracts = split_contracts(&chain, &PROOF).await;
    let plan =
        VerificationPlan::from_artifact(&ARTIFACT, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    for phase in &plan.phases[..2] {
        let to = phase.target(&contracts);
        send(&chain, "before the restart", to, phase.calldata.clone()).await;
    }
    let verification = l1_verification(&plan, &contracts);
    let client = starfarm_l1::L1Client::connect(&chain._anvil.url, DEV_KEYS[1])
        .await
        .expect("connects");
    let metrics = SettleMetrics::unregistered();
    let sent = client
        .send_verification(&verification, Some(&metrics))
        .await
        .expect("verifies");
    assert_eq!(sent.len(), 9, "eight statements and verifyProof");
    assert!(sent[..2].iter().all(|p| p.outcome.is_none()), "{sent:?}");
    assert!(sent[2..].iter().all(|p| p.outcome.is_some()), "{sent:?}");
    let count = |l: &str| {
        metrics
            .verification_gas
            .with_label_values(&[l])
            .get_sample_count()
    };
    assert_eq!(
        [
            count("merkle"),
            count("quotients"),
            count("fri"),
            count("composition"),
            count("verifyProof")
        ],
        [2, 2, 1, 1, 1]
    );
    let total: u64 = sent
        .iter()
        .filter_map(|p| p.outcome.as_ref())
        .map(|o| o.gas_used)
        .sum();
    assert_eq!(metrics.proof_verification_gas.get_sample_count(), 1);
    assert_eq!(
        metrics.proof_verification_gas.get_sample_sum() as u64,
        total
    );
    let registry = StwoFactRegistry::new(contracts.registry, &chain.provider);
    let fact = header_fact(&ARTIFACT);
    assert!(registry.isValid(fact).call().await.expect("reads"));

    // Everything on chain: only verifyProof is sent again.
    let again = client
        .send_verification(&verification, None)
        .await
        .expect("verifies again");
    let sent_again: Vec<_> = again.iter().filter(|p| p.outcome.is_some()).collect();
    assert_eq!(sent_again.len(), 1);
    assert_eq!(sent_again[0].phase, "verifyProof");
}

/// `plan`'s transactions for `contracts`, as `starfarm_l1` sends them.
fn l1_verification(
    plan: &VerificationPlan,
    contracts: &VerifierContracts,
) -> starfarm_l1::verify::ProofVerification {
    starfarm_l1::verify::ProofVerification::from_plan_parts(
        plan.transactions(contracts).into_parts(),
    )
    .expect("every phase kind is the sender's")
}

/// Proofs by artifact name, already planned (the settler's port to the artifact store).
struct Planned(std::collections::HashMap<String, starfarm_l1::verify::ProofVerification>);

impl starfarm_l1::settlement::ProofPlans for Planned {
    async fn verification(
        &self,
        artifact: &str,
    ) -> Result<starfarm_l1::verify::ProofVerification, starfarm_l1::L1Error> {
        self.0
            .get(artifact)
            .cloned()
            .ok_or_else(|| starfarm_l1::L1Error::Proof {
                artifact: artifact.into(),
                message: "not in the store".into(),
            })
    }
}

/// The settlement line's client over the verifying registry (`VerifiedSettlement`): a
/// range's fact is valid only once its proof is verified on chain, no key attests anything
/// (the paying wallet is not a signer of any registry), a settler restarted halfway through
/// the verification sends only the statements the chain lacks, the gas is counted per phase
/// and per proof, and each failure is typed: no proof, a proof of another fact, a phase
/// that reverts (named).
#[tokio::test]
async fn the_verified_settlement_makes_a_fact_valid_only_by_its_proof() {
    use starfarm_l1::metrics::SettleMetrics;
    use starfarm_l1::settlement::{RangeProof, SettlementClient, VerifiedSettlement};
    use starfarm_l1::{Deployment, L1Error};

    let Some(chain) = chain().await else { return };
    let contracts = split_contracts(&chain, &PROOF).await;
    let plan =
        VerificationPlan::from_artifact(&ARTIFACT, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    let verification = l1_verification(&plan, &contracts);
    let mut tampered = verification.clone();
    let middle = tampered.finish.len() / 2;
    tampered.finish = flipped(&tampered.finish, middle);
    let plans = Planned(
        [
            ("fibonacci".to_string(), verification),
            ("tampered".to_string(), tampered),
        ]
        .into(),
    );
    // Only the registry matters to a fact's validity; the core and bridge are not called.
    let deployment = Deployment {
        registry: contracts.registry,
        core: Address::ZERO,
        bridge: Address::ZERO,
    };
    let client = starfarm_l1::L1Client::connect(&chain._anvil.url, DEV_KEYS[1])
        .await
        .expect("connects")
        .attach(deployment);
    let metrics = SettleMetrics::unregistered();
    let settlement = VerifiedSettlement::new(client, plans).with_metrics(metrics.clone());
    let fact = header_fact(&ARTIFACT);
    let proof = |artifact: Option<&str>| RangeProof {
        security_bits: TEST_FLOOR,
        artifact: artifact.map(str::to_string),
    };
    assert!(!settlement.is_fact_valid(fact).await.expect("reads"));

    let err = settlement
        .register_fact(fact, &proof(None))
        .await
        .unwrap_err();
    assert!(matches!(err, L1Error::NoProof), "{err}");
    let err = settlement
        .register_fact(fact, &proof(Some("lost")))
        .await
        .unwrap_err();
    assert!(matches!(err, L1Error::Proof { .. }), "{err}");

    // A settler sent two statements, then died: the next one resumes.
    for phase in &plan.phases[..2] {
        let to = phase.target(&contracts);
        send(&chain, "before the restart", to, phase.calldata.clone()).await;
    }
    assert!(
        !settlement.is_fact_valid(fact).await.expect("reads"),
        "statements alone register nothing"
    );
    let err = settlement
        .register_fact(fact, &proof(Some("tampered")))
        .await
        .unwrap_err();
    match &err {
        L1Error::Verification { phase, .. } => assert_eq!(phase, "verifyProof", "{err}"),
        other => panic!("not a verification error: {other}"),
    }
    assert!(err.revert_reason().is_some(), "{err}");
    assert!(!settlement.is_fact_valid(fact).await.expect("reads"));

    let sent = settlement
        .register_fact(fact, &proof(Some("fibonacci")))
        .await
        .expect("verifies");
    assert!(settlement.is_fact_valid(fact).await.expect("reads"));
    let count = |l: &str| {
        metrics
            .verification_gas
            .with_label_values(&[l])
            .get_sample_count()
    };
    // The tampered verifyProof sent the missing statements first: they were not sent again.
    let statements = plan.phases.len() as u64 - 2;
    let (merkle, quotients, fri, composition) = (
        count("merkle"),
        count("quotients"),
        count("fri"),
        count("composition"),
    );
    assert_eq!(
        merkle + quotients + fri + composition,
        statements,
        "each statement once"
    );
    assert_eq!(merkle, 2, "two of the four trees were on chain");
    assert_eq!(count("verifyProof"), 1, "the reverted one is not counted");
    assert_eq!(metrics.proof_verification_gas.get_sample_count(), 1);
    assert!(sent.gas_used > 0);

    // A proof that is not the range's: verified, yet the range's fact stays invalid.
    let other = B256::repeat_byte(7);
    let err = settlement
        .register_fact(other, &proof(Some("fibonacci")))
        .await
        .unwrap_err();
    assert!(matches!(err, L1Error::Proof { .. }), "{err}");
    assert!(!settlement.is_fact_valid(other).await.expect("reads"));
}

/// The model gas the composition's ranges are filled to in the split tests: several ranges of
/// the test proofs.
const COMPOSITION_RANGE_GAS: u64 = 3_000_000;

#[tokio::test]
async fn split_statements_reject_tampering_and_never_combine_two_proofs() {
    let Some(chain) = chain().await else { return };
    let contracts = split_contracts(&chain, &PROOF).await;
    // The composition's ranges filled to 3 M gas: several.
    let plan = VerificationPlan::from_artifact_sized(
        &ARTIFACT,
        PlanSizes {
            composition_gas: COMPOSITION_RANGE_GAS,
            ..PlanSizes::with_queries(3)
        },
    )
    .expect("plans");
    let n_composition = plan.parts.compositionEnds.len();
    assert!(n_composition >= 2, "{:?}", plan.parts.compositionEnds);
    // 8 queries by 3: the setup, ranges [0, 3), [3, 6), [6, 8); FRI; the composition's ranges.
    assert_eq!(plan.phases.len(), 4 + 1 + 3 + 1 + n_composition);

    // A statement's own checks, each with its reason.
    let mut merkle =
        merkle::MerkleStatement::verifyCall::abi_decode(&plan.phases[1].calldata).expect("decodes");
    merkle.opening.rows = flipped(&merkle.opening.rows, 5);
    assert_eq!(
        call_reason(&chain, contracts.merkle, merkle.abi_encode().into())
            .await
            .as_deref(),
        Some("Merkle statement: Merkle root mismatch")
    );
    // The ranges read their proof's quotient setup from the chain.
    assert_eq!(plan.phases[4].kind, PhaseKind::QuotientSetup);
    send(
        &chain,
        "quotient setup",
        contracts.quotients,
        plan.phases[4].calldata.clone(),
    )
    .await;
    let quotient_phase = &plan.phases[6];
    let mut q = quotients::QuotientStatement::verifyCall::abi_decode(&quotient_phase.calldata)
        .expect("decodes");
    q.trees[2].rows = flipped(&q.trees[2].rows, 3);
    assert_eq!(
        call_reason(&chain, contracts.quotients, q.abi_encode().into())
            .await
            .as_deref(),
        Some("quotient statement: a row is not the committed leaf")
    );
    let mut q = quotients::QuotientStatement::verifyCall::abi_decode(&quotient_phase.calldata)
        .expect("decodes");
    q.q.from += U256::from(1);
    assert_eq!(
        call_reason(&chain, contracts.quotients, q.abi_encode().into())
            .await
            .as_deref(),
        Some("quotient statement: a tree's rows have the wrong length")
    );
    // The setup checks the layout against the sampled values.
    let mut setup = quotients::QuotientStatement::setupCall::abi_decode(&plan.phases[4].calldata)
        .expect("decodes");
    setup.sampledValues = [&setup.sampledValues[..], &[1u8; 16][..]].concat().into();
    assert_eq!(
        call_reason(&chain, contracts.quotients, setup.abi_encode().into())
            .await
            .as_deref(),
        Some("layout: fewer samples than sampled values")
    );
    let mut f =
        fri::FriStatement::verifyCall::abi_decode(&plan.phases[8].calldata).expect("decodes");
    f.f.values[0] ^= U256::from(1);
    assert_eq!(
        call_reason(&chain, contracts.fri, f.abi_encode().into())
            .await
            .as_deref(),
        Some("FRI first layer: Merkle root mismatch")
    );

    // Every statement but the composition's last range: the registry names it.
    let (last, before) = plan.phases.split_last().expect("phases");
    for phase in before {
        send(
            &chain,
            "phase",
            phase.target(&contracts),
            phase.calldata.clone(),
        )
        .await;
    }
    let mut expected = vec![true; plan.phases.len()];
    expected[plan.phases.len() - 1] = false;
    assert_eq!(done(&chain, &contracts, &plan).await, expected);
    assert_eq!(
        call_reason(
            &chain,
            contracts.registry,
            plan.verify_proof_call().abi_encode().into()
        )
        .await,
        Some(format!(
            "registry: composition statement of range {} not verified",
            n_composition - 1
        ))
    );
    assert!(matches!(last.kind, PhaseKind::Composition { .. }));

    // Every statement of the honest proof verified.
    for phase in &plan.phases {
        send(
            &chain,
            "phase",
            phase.target(&contracts),
            phase.calldata.clone(),
        )
        .await;
    }
    let finish =
        |plan: &VerificationPlan| -> Bytes { plan.verify_proof_call().abi_encode().into() };

    // Another proof (fibonacci(50)) whose statements are all verified too.
    let other_artifact = fibonacci_of(SecurityProfile::Test, 50);
    let other = VerificationPlan::from_artifact_sized(
        &other_artifact,
        PlanSizes {
            composition_gas: COMPOSITION_RANGE_GAS,
            ..PlanSizes::with_queries(3)
        },
    )
    .expect("plans");
    for phase in &other.phases {
        send(
            &chain,
            "other phase",
            phase.target(&contracts),
            phase.calldata.clone(),
        )
        .await;
    }
    // A range takes only its own proof's setup: with a sampled value changed, or under the
    // other proof's sampled values or draws (both setups are on chain), it finds none and
    // registers nothing.
    let honest_range =
        quotients::QuotientStatement::verifyCall::abi_decode(&quotient_phase.calldata)
            .expect("decodes");
    let other_setup =
        quotients::QuotientStatement::setupCall::abi_decode(&other.phases[4].calldata)
            .expect("decodes");
    let mut changed = plan.header.sampledValues.to_vec();
    changed[17] ^= 1;
    let mut other_draws = honest_range.q.clone();
    other_draws.oodsX = other_setup.d.oodsX;
    other_draws.oodsY = other_setup.d.oodsY;
    other_draws.coeff = other_setup.d.coeff;
    for (what, range) in [
        (
            "a sampled value changed",
            quotients::QuotientStatement::verifyCall {
                sampledValuesHash: alloy::primitives::keccak256(&changed),
                ..honest_range.clone()
            },
        ),
        (
            "the other proof's sampled values",
            quotients::QuotientStatement::verifyCall {
                sampledValuesHash: alloy::primitives::keccak256(&other_setup.sampledValues),
                ..honest_range.clone()
            },
        ),
        (
            "the other proof's draws",
            quotients::QuotientStatement::verifyCall {
                q: other_draws,
                ..honest_range.clone()
            },
        ),
    ] {
        assert_eq!(
            call_reason(&chain, contracts.quotients, range.abi_encode().into())
                .await
                .as_deref(),
            Some("quotient statement: no setup of this proof's context"),
            "{what}"
        );
    }

    // Nor another sample table than its setup's (a power or a row location changed, or the
    // other proof's table).
    let mut changed = honest_range.clone();
    let last = changed.table.len() - 1;
    changed.table[last] ^= U256::from(1);
    let mut others = honest_range.clone();
    others.table = quotients::QuotientStatement::verifyCall::abi_decode(&other.phases[5].calldata)
        .expect("decodes")
        .table;
    for range in [changed, others] {
        assert_eq!(
            call_reason(&chain, contracts.quotients, range.abi_encode().into())
                .await
                .as_deref(),
            Some("quotient statement: not the setup's sample table")
        );
    }

    // Parts of the two combined: each mix is refused at the first statement it breaks.
    let mut mixed = plan.clone();
    mixed.parts.leafCommitments[1] = other.parts.leafCommitments[1];
    assert_eq!(
        call_reason(&chain, contracts.registry, finish(&mixed))
            .await
            .as_deref(),
        Some("registry: Merkle statement of tree 1 not verified")
    );
    let mut mixed = plan.clone();
    mixed.parts.values[..3].copy_from_slice(&other.parts.values[..3]);
    assert_eq!(
        call_reason(&chain, contracts.registry, finish(&mixed))
            .await
            .as_deref(),
        Some("registry: quotient statement of range 0 not verified")
    );
    let mut mixed = other.clone();
    mixed.header = plan.header.clone();
    let reason = call_reason(&chain, contracts.registry, finish(&mixed)).await;
    // "not verified", or "a value per query" should the two proofs' distinct queries differ
    // in number.
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.starts_with("registry: ")),
        "{reason:?}"
    );
    // A header tampered after its statements: the transcript moves (its PoW fails first).
    let mut tampered = plan.clone();
    tampered.header.powNonce ^= 1;
    assert_eq!(
        call_reason(&chain, contracts.registry, finish(&tampered))
            .await
            .as_deref(),
        Some("proof of work: nonce rejected")
    );
    // Another partition of the same queries was not verified.
    let mut ranges = plan.clone();
    ranges.parts.rangeEnds = vec![U256::from(4), U256::from(8)];
    assert_eq!(
        call_reason(&chain, contracts.registry, finish(&ranges))
            .await
            .as_deref(),
        Some("registry: quotient statement of range 0 not verified")
    );
    // Another partition of the composition's instances was not verified (an end no range of
    // the plan has), nor the other proof's last range under this header.
    let ends = &plan.parts.compositionEnds;
    let fresh = (1..)
        .map(U256::from)
        .find(|e| !ends.contains(e))
        .expect("an end");
    let mut ranges = plan.clone();
    ranges.parts.compositionEnds = vec![fresh, *ends.last().expect("an end")];
    let reason = call_reason(&chain, contracts.registry, finish(&ranges)).await;
    assert!(
        reason.as_deref() == Some("registry: composition statement of range 0 not verified")
            || reason.as_deref()
                == Some("registry: composition ranges must cover the instances in order"),
        "{reason:?}"
    );
    // Both honest ones register.
    assert_eq!(
        call_reason(&chain, contracts.registry, finish(&plan)).await,
        None
    );
    assert_eq!(
        call_reason(&chain, contracts.registry, finish(&other)).await,
        None
    );
}

/// The quotient sample table the plan builds in Rust is the one the setup hashes (the
/// contract's `sampleTable` view), word for word.
#[tokio::test]
async fn the_plans_quotient_table_is_the_setups() {
    let Some(chain) = chain().await else { return };
    let contracts = split_contracts(&chain, &PROOF).await;
    let plan =
        VerificationPlan::from_artifact(&ARTIFACT, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    let setup = quotients::QuotientStatement::setupCall::abi_decode(&plan.phases[4].calldata)
        .expect("decodes");
    let range = quotients::QuotientStatement::verifyCall::abi_decode(&plan.phases[5].calldata)
        .expect("decodes");
    let statement = quotients::QuotientStatement::new(contracts.quotients, &chain.provider);
    let table = statement
        .sampleTable(
            setup.d,
            setup.logHeights,
            setup.rowBytes,
            setup.columns,
            setup.sampledValues,
        )
        .call()
        .await
        .expect("the table");
    assert_eq!(table.len(), range.table.len(), "the table's length");
    if let Some(i) = (0..table.len()).find(|i| table[*i] != range.table[*i]) {
        panic!(
            "word {i} of {}: the contract's {:#x}, the plan's {:#x}",
            table.len(),
            table[i],
            range.table[i]
        );
    }
}

#[tokio::test]
async fn split_verification_gas_test_profile() {
    let Some((chain, contracts)) = cancun_chain(&PROOF).await else {
        return;
    };
    let plan =
        VerificationPlan::from_artifact(&ARTIFACT, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    eprintln!("split verification, profile test (fibonacci(100)):");
    verify_split(&chain, &contracts, &plan).await;
}

/// The split verification of an `l1`-profile proof (26 PoW bits, 35 queries): every
/// transaction under 2^24. A measurement (it grinds 2^26 hashes):
/// `cargo test -p starfarm-verifier --test onchain -- --ignored --nocapture split_verification_gas`.
#[tokio::test]
#[ignore = "a measurement: proves with the l1 profile (26 PoW bits)"]
async fn split_verification_gas_l1_profile() {
    if Anvil::binary_for_tests().is_none() {
        return;
    }
    let artifact = fibonacci(SecurityProfile::L1);
    let proof = encode_artifact(&artifact).expect("encodes");
    let Some((chain, contracts)) = cancun_chain(&proof).await else {
        return;
    };
    let plan =
        VerificationPlan::from_artifact(&artifact, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    eprintln!("split verification, profile l1 (fibonacci(100)):");
    verify_split(&chain, &contracts, &plan).await;
}

/// A `CairoClaim` registering `programs` and a `StwoVerifier` using it with `floor`, on
/// `chain`'s node.
async fn deploy_verifier(
    chain: &Chain,
    programs: &[(B256, B256)],
    roots: &[(U256, B256)],
    floor: u32,
) -> (Address, Address) {
    let (keys, hashes): (Vec<B256>, Vec<B256>) = programs.iter().copied().unzip();
    let (root_keys, root_values): (Vec<U256>, Vec<B256>) = roots.iter().copied().unzip();
    let layout = ClaimLayout::deploy_builder(&chain.provider)
        .deploy()
        .await
        .expect("deploys ClaimLayout");
    let claim = CairoClaim::deploy_builder(
        &chain.provider,
        layout,
        keys,
        hashes,
        root_keys,
        root_values,
    )
    .deploy()
    .await
    .expect("deploys CairoClaim");
    let verifier = StwoVerifier::deploy_builder(&chain.provider, claim, U256::from(floor))
        .deploy()
        .await
        .expect("deploys StwoVerifier");
    (claim, verifier)
}

/// The contract's mixes of the structured claim are the bytes cairo-air's `mix_into` hands
/// the channel; its fact, program hash and output hash are the Rust side's; its claim checks
/// and logup balance pass with the lookup elements stwo's verifier draws.
#[tokio::test]
async fn the_structured_claim_mixes_checks_and_facts_as_the_rust_side() {
    let Some(chain) = chain().await else { return };
    let proof = decoded(&ARTIFACT);
    let (recorded, recorded_interaction) = recorded_claim_mixes(&proof).expect("records");
    let mixes = chain
        .claim()
        .claimMixes(encoded_claim(&proof))
        .call()
        .await
        .expect("mixes on chain");
    assert_eq!(mixes, recorded, "each mix as cairo-air's");
    assert_eq!(
        recorded_interaction,
        vec![claimed_sums(&proof.interaction_claim)],
        "the interaction claim is one mix of the claimed sums"
    );

    let encoded = encoded_claim(&proof);
    let fact = chain
        .claim()
        .fact(encoded.clone())
        .call()
        .await
        .expect("a fact");
    assert_eq!(
        format!("{fact:#x}"),
        ARTIFACT.header.fact,
        "the on-chain fact is the artifact's"
    );
    let expected = starfarm_l1::fact::fact(ARTIFACT.header.program_hash, &ARTIFACT.header.output);
    assert_eq!(fact, expected, "and starfarm-l1's");

    let t = stwo_transcript(&proof).expect("replays");
    let sums = claimed_sums(&proof.interaction_claim);
    let contract = chain.claim();
    let check = contract.check(
        encoded.clone(),
        sums.clone(),
        packed(t.lookup_z),
        packed(t.lookup_alpha),
    );
    let gas = check.estimate_gas().await.expect("the claim checks pass");
    let mix = contract.mixClaim(B256::ZERO, encoded.clone());
    let mix_gas = mix.estimate_gas().await.expect("mixes");
    let (calldata, _) = calldata_gas(&encoded);
    eprintln!(
        "fibonacci's claim: {} bytes encoded ({calldata} calldata gas); CairoClaim.mixClaim \
         {mix_gas} gas, CairoClaim.check (claim checks, logup balance) {gas} gas (each with \
         21,000 and its calldata)",
        encoded.len()
    );
}

/// Each tampered claim is refused with its reason: by the claim checks (with the honest
/// lookup elements) and by `verify`.
#[tokio::test]
async fn a_tampered_claim_is_rejected_with_its_reason() {
    let Some(chain) = chain().await else { return };
    let proof = decoded(&ARTIFACT);
    let t = stwo_transcript(&proof).expect("replays");
    let honest = structured_claim(&proof);
    let sums = claimed_sums(&proof.interaction_claim);
    let check_reason = |claim: Bytes, sums: Bytes| {
        let chain = &chain;
        let t = &t;
        async move {
            match chain
                .claim()
                .check(claim, sums, packed(t.lookup_z), packed(t.lookup_alpha))
                .call()
                .await
            {
                Ok(_) => None,
                Err(e) => Some(reason(&e)),
            }
        }
    };
    let encode = |c: &CairoClaim::Claim| -> Bytes { c.abi_encode().into() };
    let balance = "claim: the logup sums do not balance";
    type Change = fn(&mut CairoClaim::Claim);
    let cases: [(&str, Change, &str); 8] = [
        (
            "an output felt",
            |c| c.publicData.output[0] += U256::from(1),
            balance,
        ),
        (
            "a program word (the program hash)",
            |c| c.publicData.program[7] += U256::from(1),
            balance,
        ),
        ("the final ap", |c| c.publicData.state[4] += 1, balance),
        (
            "a component size beyond the preprocessed sequences",
            |c| c.logSizes[0] = 26,
            "claim: a component size out of bounds",
        ),
        (
            "an enable flag",
            |c| {
                let mut flags = c.enabled.to_vec();
                flags[0] = 2;
                c.enabled = flags.into();
            },
            "claim: an enable flag is not 0 or 1",
        ),
        (
            "a component disabled",
            |c| {
                let mut flags = c.enabled.to_vec();
                let at = flags.iter().position(|f| *f == 1).expect("an enabled one");
                flags[at] = 0;
                c.enabled = flags.into();
            },
            "claim: one log size per enabled component",
        ),
        (
            "the initial pc",
            |c| c.publicData.state[0] = 2,
            "claim: initial pc is not 1",
        ),
        (
            "the program's prologue",
            |c| c.publicData.program[1] += U256::from(1),
            "claim: program prologue (builtin count)",
        ),
    ];
    for (what, change, expected) in cases {
        let mut c = honest.clone();
        change(&mut c);
        assert_eq!(
            check_reason(encode(&c), sums.clone()).await.as_deref(),
            Some(expected),
            "{what}"
        );
    }
    // A claimed sum: the balance; in `verify` too (the check runs before the sums are mixed).
    let tampered_sums = flipped(&sums, 3);
    assert_eq!(
        check_reason(encode(&honest), tampered_sums.clone())
            .await
            .as_deref(),
        Some(balance)
    );
    let mut p = PROOF.clone();
    p.claimedSums = tampered_sums;
    assert_eq!(chain.verify_reason(&p).await.as_deref(), Some(balance));
    // The claim's bytes must be its canonical encoding (one claim, one encoding).
    let mut bytes = encode(&honest).to_vec();
    bytes.extend([0u8; 32]);
    assert_eq!(
        check_reason(bytes.into(), sums.clone()).await.as_deref(),
        Some("claim: not canonically encoded")
    );
    // In `verify`: an output felt moves the transcript before the interaction PoW; a
    // component's log size changes the layout the claim gives, refused before the transcript.
    for (what, change, expected) in [
        (
            "an output felt",
            (|c| c.publicData.output[0] += U256::from(1)) as Change,
            "interaction proof of work: nonce rejected",
        ),
        (
            "a log size",
            |c| c.logSizes[0] -= 1,
            "layout: the columns are not the claim's",
        ),
    ] {
        let mut c = honest.clone();
        change(&mut c);
        let mut p = PROOF.clone();
        p.claim = encode(&c);
        assert_eq!(
            chain.verify_reason(&p).await.as_deref(),
            Some(expected),
            "{what}"
        );
    }
    // A program nobody registered has no fact.
    let mut c = honest.clone();
    c.publicData.program[7] += U256::from(1);
    let err = chain
        .claim()
        .fact(encode(&c))
        .call()
        .await
        .expect_err("no fact");
    assert_eq!(reason(&err), "claim: program not registered");
}

/// The floor is the contract's: a verifier deployed with a floor above the test profile's
/// 18 bits (10 PoW + 1 x 8 queries) refuses the proof another accepts.
#[tokio::test]
async fn a_proof_below_the_security_floor_is_refused() {
    let Some(chain) = chain().await else { return };
    let (_, strict) = deploy_verifier(
        &chain,
        &[program_entry(&ARTIFACT)],
        &[root_entry(&PROOF)],
        TEST_FLOOR + 1,
    )
    .await;
    let err = StwoVerifier::new(strict, &chain.provider)
        .verify(PROOF.clone())
        .call()
        .await
        .expect_err("below the floor");
    assert_eq!(reason(&err), "config: below the security floor");
    assert_eq!(
        chain.verify_reason(&PROOF).await,
        None,
        "at the floor it passes"
    );
}

/// The Pedersen example and a program none of this was tuned on (the Poseidon chain) are
/// verified on chain and their on-chain facts are the artifacts'.
#[tokio::test]
async fn pedersen_and_a_held_in_program_verify_with_their_facts() {
    let Some(chain) = chain().await else { return };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut prover = Prover::new(SecurityProfile::Test).with_channel(ChannelKind::Keccak);
    let mut artifacts = vec![];
    for (name, input) in [
        ("pedersen_chain", vec![1u64, 2, 3]),
        ("poseidon_chain", vec![10u64, 0x1234]),
    ] {
        let program = CairoProgram::from_file(&root.join(format!("examples/{name}.json")))
            .expect("example loads");
        let input = ProgramInput::new(input.into_iter().map(Felt::from).collect());
        let artifact = prover.prove(&program, &input, &mut |_| {}).expect("proves");
        artifacts.push((name, artifact));
    }
    let programs: Vec<(B256, B256)> = artifacts.iter().map(|(_, a)| program_entry(a)).collect();
    let proofs: Vec<StwoVerifier::Proof> = artifacts
        .iter()
        .map(|(_, a)| encode_artifact(a).expect("encodes"))
        .collect();
    let roots: Vec<(U256, B256)> = proofs.iter().map(root_entry).collect();
    let (claim, verifier) = deploy_verifier(&chain, &programs, &roots, TEST_FLOOR).await;
    for ((name, artifact), proof) in artifacts.iter().zip(&proofs) {
        let verified = StwoVerifier::new(verifier, &chain.provider)
            .verify(proof.clone())
            .call()
            .await;
        assert!(
            verified.is_ok(),
            "{name}: {:?}",
            verified.err().map(|e| reason(&e))
        );
        let fact = CairoClaim::new(claim, &chain.provider)
            .fact(proof.claim.clone())
            .call()
            .await
            .expect("a fact");
        assert_eq!(
            format!("{fact:#x}"),
            artifact.header.fact,
            "{name}: the fact"
        );
    }
}

/// The layout `ClaimLayout` derives from the claim, the IR's tables and the preprocessed
/// variant is the one stwo's verifier samples (the encoder's, from stwo's `mask_points`), for
/// fibonacci and for the generated tables' current state.
#[tokio::test]
async fn the_layout_derived_from_the_claim_is_stwos() {
    let Some(chain) = chain().await else { return };
    let layout = ClaimLayout::new(
        chain
            .claim()
            .layoutContract()
            .call()
            .await
            .expect("its layout contract"),
        &chain.provider,
    );
    let derived = layout
        .layout(
            PROOF.claim.clone(),
            U256::from(PROOF.config.logBlowupFactor),
        )
        .call()
        .await
        .expect("derives");
    for tree in 0..4 {
        assert_eq!(
            derived.cols[tree], PROOF.columns[tree],
            "tree {tree}'s columns"
        );
        assert_eq!(
            derived.heights[tree],
            U256::from(PROOF.trees[tree].logHeight),
            "tree {tree}'s height"
        );
    }
    let gas = layout
        .layout(
            PROOF.claim.clone(),
            U256::from(PROOF.config.logBlowupFactor),
        )
        .estimate_gas()
        .await
        .expect("estimates");
    eprintln!("ClaimLayout.layout (fibonacci): {gas} gas");
}

/// The preprocessed root is the deployment's, per variant and blowup: another is refused; and
/// the root a deployment registers, computed from the variant alone, is the one an honest
/// proof commits to.
#[tokio::test]
async fn the_preprocessed_root_is_the_deployments() {
    let Some(chain) = chain().await else { return };
    let mut p = PROOF.clone();
    p.commitments[0].0[0] ^= 1;
    assert_eq!(
        chain.verify_reason(&p).await.as_deref(),
        Some("preprocessed root: not the variant's")
    );
    let proof = decoded(&ARTIFACT);
    let root = preprocessed_root(proof.preprocessed_trace_variant, &proof.stark_proof.config);
    assert_eq!(root, PROOF.commitments[0], "computed without a proof");
}

/// What `starfarm l1 deploy --accept-program` registers, derived from the program and the
/// profile alone (no proof), is what a deployment made from a real proof of it registers:
/// the same program key (the claim's program section, from the program's data and
/// `__start__`) and hash, the same preprocessed root; another program's key differs.
#[test]
fn the_accepted_program_and_root_derived_without_a_proof_are_a_real_proofs() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let load = |name: &str| {
        CairoProgram::from_file(&root.join("examples").join(name)).expect("example loads")
    };
    let fibonacci = load("fibonacci.json");
    let proof = decoded(&ARTIFACT);
    let config = SecurityProfile::Test.pcs_config();
    assert_eq!(proof.stark_proof.config, config, "the proof's profile");
    let derived = Accepted::for_programs(
        std::slice::from_ref(&fibonacci),
        &[proof.preprocessed_trace_variant],
        &config,
        TEST_FLOOR,
    );
    let from_proof = Accepted::for_artifacts(std::slice::from_ref(&*ARTIFACT), TEST_FLOOR)
        .expect("accepts the proof");
    assert_eq!(derived.programs, from_proof.programs);
    assert_eq!(derived.roots, from_proof.roots);
    assert_eq!(
        starfarm_verifier::program_key_of(&fibonacci),
        program_key(&proof.claim)
    );
    let other = load("pedersen_chain.json");
    assert_ne!(
        starfarm_verifier::program_key_of(&other),
        program_key(&proof.claim)
    );
}

/// cairo-air's `check_relation_uses` on chain: a claim whose components' sizes put a
/// relation's uses (a row's times 2^log size, summed over the enabled components) at or past
/// the M31 prime is refused by Rust's `verify_cairo` (the project's `verify`) and by the
/// contracts, naming the relation: by `CairoClaim.check`, and by the registry's `verifyProof`
/// before anything else in its replay, with no fact registered; the honest claim passes the
/// check there. fibonacci's own components stay below P even at the largest log size (its
/// most used relation, MemoryAddressToId, reaches ~0.44 P), so the tampered claim also enables
/// components the program never ran at log size 25: add_mod and mul_mod (29 memory reads a
/// row each; their segments are absent, so the builtin checks pass) and blake_compress (20).
#[tokio::test]
async fn relation_uses_at_the_prime_are_refused_on_chain_as_by_verify_cairo() {
    use cairo_air::components::{add_mod_builtin, blake_compress_opcode, mul_mod_builtin};
    let Some(chain) = chain().await else { return };
    let honest = decoded(&ARTIFACT);
    let mut tampered = honest.clone();
    tampered.claim.add_mod_builtin = Some(add_mod_builtin::Claim {
        log_size: 25,
        add_mod_builtin_segment_start: 0,
    });
    tampered.claim.mul_mod_builtin = Some(mul_mod_builtin::Claim {
        log_size: 25,
        mul_mod_builtin_segment_start: 0,
    });
    tampered.claim.blake_compress_opcode = Some(blake_compress_opcode::Claim { log_size: 25 });

    // What cairo-air sums, and which relations reach P; the contract names the first of them
    // in its table's order (the generated `RelationUses`).
    let prime = u64::from(starfarm_air::uses::P);
    let mut uses = std::collections::HashMap::new();
    tampered.claim.accumulate_relation_uses(&mut uses);
    let mut honest_uses = std::collections::HashMap::new();
    honest.claim.accumulate_relation_uses(&mut honest_uses);
    assert!(
        honest_uses.values().all(|n| *n < prime),
        "the honest claim is below P"
    );
    let air = starfarm_air::extract().expect("extracts");
    let table = starfarm_air::uses::relation_uses(&air).expect("counts");
    let outstanding: Vec<&str> = table
        .relations
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| uses.get(*name).is_some_and(|n| *n >= prime))
        .collect();
    assert_eq!(
        outstanding,
        ["MemoryAddressToId", "MemoryIdToBig"],
        "{uses:?}"
    );
    let expected = "relation uses: MemoryAddressToId too many";

    // Rust: the project's verification (stwo-cairo's `verify_cairo`) refuses it.
    let mut artifact = ARTIFACT.clone();
    artifact.proof = ProofCodec::encode(&tampered).expect("encodes");
    let refused = starfarm_prover::verify(&artifact, 0).expect_err("verify_cairo refuses");
    let message = refused.to_string();
    assert!(message.contains("outstanding relations"), "{message}");
    for name in &outstanding {
        assert!(message.contains(name), "{name} in {message}");
    }
    assert!(
        starfarm_prover::verify(&ARTIFACT, 0).is_ok(),
        "the honest artifact verifies"
    );

    // On chain, `check` with the lookup elements the honest transcript draws.
    let t = stwo_transcript(&honest).expect("replays");
    let sums = claimed_sums(&honest.interaction_claim);
    let encoded = encoded_claim(&tampered);
    let err = chain
        .claim()
        .check(
            encoded.clone(),
            sums.clone(),
            packed(t.lookup_z),
            packed(t.lookup_alpha),
        )
        .call()
        .await
        .expect_err("refused");
    assert_eq!(reason(&err), expected);

    // The registry: `verifyProof` with the claim swapped refuses it first thing (its replay's
    // first look at the claim), the fact stays invalid; the honest header passes that and
    // stops at the statements nobody sent.
    let contracts = split_contracts(&chain, &PROOF).await;
    let plan =
        VerificationPlan::from_artifact(&ARTIFACT, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    let mut call = plan.verify_proof_call();
    call.header.claim = encoded;
    let swapped: Bytes = call.abi_encode().into();
    assert_eq!(
        call_reason(&chain, contracts.registry, swapped)
            .await
            .as_deref(),
        Some(expected)
    );
    let honest_call: Bytes = plan.verify_proof_call().abi_encode().into();
    assert_eq!(
        call_reason(&chain, contracts.registry, honest_call)
            .await
            .as_deref(),
        Some("registry: Merkle statement of tree 0 not verified")
    );
    let registry = StwoFactRegistry::new(contracts.registry, &chain.provider);
    assert!(!registry
        .isValid(header_fact(&ARTIFACT))
        .call()
        .await
        .expect("isValid"));
    // The same claim through the one-call verifier: the replay refuses it before its layout.
    let mut p = PROOF.clone();
    p.claim = encoded_claim(&tampered);
    assert_eq!(chain.verify_reason(&p).await.as_deref(), Some(expected));
}

/// Where `abi.encode(Claim)` puts the words the canonical check holds (byte positions in the
/// claim's bytes): the outer offset, the claim tuple's offsets (public data, enable flags,
/// log sizes) and variant; the public data's tuple at 0xa0, its segment flags and its four
/// arrays' offsets (program ids, program, output ids, output) from its tuple.
const AT_PUBLIC_DATA: usize = 0xa0;
const AT_FLAGS_OFFSET: usize = 0x40;
const AT_SIZES_OFFSET: usize = 0x60;
const AT_VARIANT: usize = 0x80;
const AT_SEGMENT_FLAGS: usize = AT_PUBLIC_DATA + 0x640;
const AT_ARRAY_OFFSETS: usize = AT_PUBLIC_DATA + 0x6a0;

/// The word at byte `at` of `bytes`, as a usize (the encoding's offsets and lengths are small).
fn word_at(bytes: &[u8], at: usize) -> usize {
    let w = U256::from_be_slice(&bytes[at..at + 32]);
    usize::try_from(w).expect("a small word")
}

fn set_word(bytes: &mut [u8], at: usize, value: usize) {
    bytes[at..at + 32].copy_from_slice(&U256::from(value).to_be_bytes::<32>());
}

/// The claim's bytes are held to `abi.encode(Claim)`'s layout by `CairoClaim.canonical`, a
/// structural check over the calldata (no full decode, ~3.8 M gas for a block claim): every
/// other way to encode a claim is refused with its reason by `mixClaim`, by `check`, by the
/// registry's `verifyProof` (no fact) and by the one-call `verify`; over random changes of the
/// encoding's words, the check agrees with a full decode and re-encoding (`CairoClaim.decode`,
/// the reference the check replaced).
#[tokio::test]
async fn a_non_canonical_claim_encoding_is_refused_with_its_reason() {
    let Some(chain) = chain().await else { return };
    let proof = decoded(&ARTIFACT);
    let honest = encoded_claim(&proof).to_vec();
    let t = stwo_transcript(&proof).expect("replays");
    let sums = claimed_sums(&proof.interaction_claim);
    let contract = chain.claim();
    let mix_reason = |bytes: Vec<u8>| {
        let contract = &contract;
        async move {
            match contract.mixClaim(B256::ZERO, bytes.into()).call().await {
                Ok(_) => None,
                Err(e) => Some(reason(&e)),
            }
        }
    };
    let check_reason = |bytes: Vec<u8>| {
        let contract = &contract;
        let (t, sums) = (&t, &sums);
        async move {
            match contract
                .check(
                    bytes.into(),
                    sums.clone(),
                    packed(t.lookup_z),
                    packed(t.lookup_alpha),
                )
                .call()
                .await
            {
                Ok(_) => None,
                Err(e) => Some(reason(&e)),
            }
        }
    };
    assert_eq!(
        mix_reason(honest.clone()).await,
        None,
        "the honest claim mixes"
    );
    assert_eq!(
        check_reason(honest.clone()).await,
        None,
        "and passes its checks"
    );

    let arrays: [usize; 4] =
        std::array::from_fn(|k| AT_PUBLIC_DATA + word_at(&honest, AT_ARRAY_OFFSETS + 32 * k));
    let array_at = move |k: usize| arrays[k];
    let flags_at = 0x20 + word_at(&honest, AT_FLAGS_OFFSET);
    let sizes_at = 0x20 + word_at(&honest, AT_SIZES_OFFSET);
    assert_eq!(
        word_at(&honest, flags_at),
        83,
        "the layout the test assumes"
    );
    let not_canonical = "claim: not canonically encoded";
    type Change = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "trailing bytes",
            Box::new(|b: &mut Vec<u8>| b.extend([0u8; 32])),
            not_canonical,
        ),
        (
            "one more log size, a zero word appended (canonical: another claim, its shape)",
            Box::new(move |b: &mut Vec<u8>| {
                let n = word_at(b, sizes_at);
                set_word(b, sizes_at, n + 1);
                b.extend([0u8; 32]);
            }),
            "claim: one log size per enabled component",
        ),
        (
            "a longer length (the output's: its last word read from the flags' offset)",
            Box::new(move |b: &mut Vec<u8>| {
                let at = array_at(3);
                let n = word_at(b, at);
                set_word(b, at, n + 1);
            }),
            not_canonical,
        ),
        (
            "a shorter length (the program's), the bytes unchanged",
            Box::new(move |b: &mut Vec<u8>| {
                let at = array_at(1);
                let n = word_at(b, at);
                set_word(b, at, n - 1);
            }),
            not_canonical,
        ),
        (
            "an offset pointing elsewhere (the output's, one word on)",
            Box::new(|b: &mut Vec<u8>| {
                let at = AT_ARRAY_OFFSETS + 3 * 32;
                let off = word_at(b, at);
                set_word(b, at, off + 32);
            }),
            not_canonical,
        ),
        (
            "overlapping arrays (the output read from the output ids' words)",
            Box::new(|b: &mut Vec<u8>| {
                let ids = word_at(b, AT_ARRAY_OFFSETS + 2 * 32);
                set_word(b, AT_ARRAY_OFFSETS + 3 * 32, ids);
            }),
            not_canonical,
        ),
        (
            "overlapping arrays (the log sizes read from the enable flags)",
            Box::new(|b: &mut Vec<u8>| {
                let flags = word_at(b, AT_FLAGS_OFFSET);
                set_word(b, AT_SIZES_OFFSET, flags);
            }),
            not_canonical,
        ),
        (
            "the public data's offset elsewhere",
            Box::new(|b: &mut Vec<u8>| set_word(b, 0x20, 0xa0)),
            not_canonical,
        ),
        (
            "the outer offset elsewhere",
            Box::new(|b: &mut Vec<u8>| set_word(b, 0, 0x40)),
            not_canonical,
        ),
        (
            "a byte after the enable flags (their padding)",
            Box::new(move |b: &mut Vec<u8>| b[flags_at + 32 + 83] = 1),
            not_canonical,
        ),
        (
            "the variant a dirty uint8",
            Box::new(|b: &mut Vec<u8>| b[AT_VARIANT + 30] = 1),
            not_canonical,
        ),
        (
            "the segment flags a dirty uint16",
            Box::new(|b: &mut Vec<u8>| b[AT_SEGMENT_FLAGS + 29] = 1),
            not_canonical,
        ),
        (
            "a dirty uint32 (the initial ap)",
            Box::new(|b: &mut Vec<u8>| b[AT_PUBLIC_DATA + 32 + 27] = 1),
            "claim: a word is not an M31",
        ),
        (
            "a dirty uint32 (a log size)",
            Box::new(move |b: &mut Vec<u8>| b[sizes_at + 32 + 27] = 1),
            "claim: a word is not an M31",
        ),
        (
            "an output value not a felt",
            Box::new(move |b: &mut Vec<u8>| b[array_at(3) + 32] = 0xff),
            "claim: a memory value is not a felt",
        ),
    ];
    let contracts = split_contracts(&chain, &PROOF).await;
    let plan =
        VerificationPlan::from_artifact(&ARTIFACT, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    let registry = StwoFactRegistry::new(contracts.registry, &chain.provider);
    for (what, change, expected) in &cases {
        let mut bytes = honest.clone();
        change(&mut bytes);
        assert_ne!(bytes, honest, "{what}: changes the bytes");
        assert_eq!(
            mix_reason(bytes.clone()).await.as_deref(),
            Some(*expected),
            "{what}: mixClaim"
        );
        assert_eq!(
            check_reason(bytes.clone()).await.as_deref(),
            Some(*expected),
            "{what}: check"
        );
        let mut call = plan.verify_proof_call();
        call.header.claim = bytes.clone().into();
        assert_eq!(
            call_reason(&chain, contracts.registry, call.abi_encode().into())
                .await
                .as_deref(),
            Some(*expected),
            "{what}: verifyProof"
        );
        let mut p = PROOF.clone();
        p.claim = bytes.into();
        assert_eq!(
            chain.verify_reason(&p).await.as_deref(),
            Some(*expected),
            "{what}: verify"
        );
    }
    assert!(!registry
        .isValid(header_fact(&ARTIFACT))
        .call()
        .await
        .expect("isValid"));

    // Random changes of the encoding (seeded): a word among the ones that place the arrays
    // (offsets, lengths) moved by a little, a byte of the enable flags' word or anywhere,
    // words appended or cut. The check passes only bytes the full decode and re-encoding
    // passes, and whatever the reference refuses is refused with a reason.
    const MUTATIONS: usize = 300;
    let mut structural: Vec<usize> = vec![
        0,
        0x20,
        AT_FLAGS_OFFSET,
        AT_SIZES_OFFSET,
        flags_at,
        sizes_at,
    ];
    structural.extend((0..4).map(|k| AT_ARRAY_OFFSETS + 32 * k));
    structural.extend((0..4).map(array_at));
    let mut rng = Rng(0x00c1_a1a5);
    let (mut refused_both, mut passed_both) = (0, 0);
    for i in 0..MUTATIONS {
        let mut b = honest.clone();
        match i % 5 {
            0 | 1 => {
                let at = structural[rng.below(structural.len())];
                let w = word_at(&b, at);
                let delta = [1, 31, 32, 64, 4096][rng.below(5)];
                let v = if rng.below(2) == 0 {
                    w + delta
                } else {
                    w.saturating_sub(delta)
                };
                set_word(&mut b, at, v);
            }
            2 => {
                let at = flags_at + 32 + rng.below(96);
                b[at] ^= 1 + rng.below(255) as u8;
            }
            3 => {
                let at = rng.below(b.len());
                b[at] ^= 1 + rng.below(255) as u8;
            }
            _ => {
                if rng.below(2) == 0 {
                    b.extend(std::iter::repeat_n(0u8, 1 + rng.below(64)));
                } else {
                    b.truncate(b.len() - 1 - rng.below(64));
                }
            }
        }
        let reference = contract.decode(b.clone().into()).call().await.is_ok();
        let ours = mix_reason(b.clone()).await;
        match (reference, &ours) {
            (_, None) => {
                assert!(
                    reference,
                    "mutation {i}: the check passes bytes the full decode refuses"
                );
                passed_both += 1;
            }
            (false, Some(r)) => {
                assert!(
                    r.starts_with("claim: "),
                    "mutation {i}: refused without a reason: {r}"
                );
                refused_both += 1;
            }
            // A canonical encoding of another claim: refused by the shape (a value not a
            // felt, a flag not 0/1, a word not an M31), which the decode does not check.
            (true, Some(r)) => assert!(r.starts_with("claim: "), "mutation {i}: {r}"),
        }
    }
    eprintln!(
        "{MUTATIONS} claim encoding mutations: {refused_both} refused by both, {passed_both} \
         passed by both (values only), the rest canonical but refused by the claim's shape"
    );
    assert!(
        refused_both > MUTATIONS / 2,
        "most mutations break the encoding"
    );
}
