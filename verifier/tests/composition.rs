//! The composition check on anvil (`CompositionStatement`): on real proofs the constraints the
//! generated evaluator computes from parts built on chain equal the composition tree's value;
//! a sampled value the composition depends on, changed after an honest transcript, is refused
//! with its reason; the programs are the deployment's. Split by ranges of component
//! instances: the ranges chain through the accumulator stored at each end, a later range
//! carries the claim's hash and fields instead of the claim (bound by the first range), and
//! ranges of two proofs, reordered, skipped, repeated or with changed fields never reach the
//! statement's fact; the planner's gas model is checked against every range's receipt.
//!
//! Needs `STARFARM_ANVIL` (skipped loudly without it).

mod support;

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
    component_costs, composition_input, composition_ranges, deploy, deploy_composition,
    encode_artifact, instance_components, later_range_call, program_key, range_calldata, range_gas,
    root_key, Accepted, CompositionContracts, CompositionDraws, COMPOSITION_GAS_MODEL,
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

struct Setup {
    _anvil: Anvil,
    provider: DynProvider,
    verifier: alloy::primitives::Address,
    composition: CompositionContracts,
}

/// anvil with the verifier accepting `artifacts` (their programs and preprocessed roots, as
/// the proofs state them) and the composition contracts.
async fn setup(artifacts: &[&ProofArtifact]) -> Option<Setup> {
    setup_on(Anvil::for_tests()?, artifacts).await
}

/// [`setup`] on a Cancun chain: a receipt is 21,000 + EIP-2028 calldata + execution (no
/// EIP-7623 floor hiding the execution), to measure the execution.
async fn setup_cancun(artifacts: &[&ProofArtifact]) -> Option<Setup> {
    let bin = Anvil::binary_for_tests()?;
    let anvil = Anvil::start_with(&bin, &["--hardfork", "cancun"]).expect("starts anvil");
    setup_on(anvil, artifacts).await
}

async fn setup_on(anvil: Anvil, artifacts: &[&ProofArtifact]) -> Option<Setup> {
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

    /// `verify`'s revert reason over every instance in one range, or `None` when it passes.
    async fn refusal(&self, input: &CompositionStatement::Input) -> Option<String> {
        self.range_refusal(input, 0, instances(input)).await
    }

    /// The revert reason of range [from, to) of `input` as the plan sends it (the first
    /// with the whole input, a later one without the claim: `range_calldata`), or `None`
    /// when it passes.
    async fn range_refusal(
        &self,
        input: &CompositionStatement::Input,
        from: usize,
        to: usize,
    ) -> Option<String> {
        let data = range_calldata(input, from, to).expect("a claim");
        self.calldata_refusal(&data).await
    }

    /// The revert reason of a call to the statement with `data`, or `None` when it passes.
    async fn calldata_refusal(&self, data: &[u8]) -> Option<String> {
        support::call_reason(
            &self.provider,
            self.composition.statement,
            Bytes::from(data.to_vec()),
        )
        .await
    }

    /// Sends range [from, to) of `input` as the plan does (`range_calldata`): the receipt's
    /// gas and the calldata.
    async fn send_range(
        &self,
        name: &str,
        input: &CompositionStatement::Input,
        from: usize,
        to: usize,
    ) -> (u64, Vec<u8>) {
        let data = range_calldata(input, from, to).expect("a claim");
        self.send_calldata(&format!("{name} [{from}, {to})"), data)
            .await
    }

    /// Sends a call to the statement with `data`: the receipt's gas and the calldata.
    async fn send_calldata(&self, name: &str, data: Vec<u8>) -> (u64, Vec<u8>) {
        if let Some(why) = self.calldata_refusal(&data).await {
            panic!("{name}: refused: {why}");
        }
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
        assert!(receipt.status(), "{name}: mined");
        assert!(receipt.gas_used < TX_GAS_CAP, "{name}: under 2^24");
        (receipt.gas_used, data)
    }

    /// The statement's fact for `input` (the whole check's).
    async fn fact(&self, input: &CompositionStatement::Input) -> B256 {
        self.statement()
            .factOf(input.clone())
            .call()
            .await
            .expect("fact")
    }

    async fn is_valid(&self, fact: B256) -> bool {
        self.statement()
            .isValid(fact)
            .call()
            .await
            .expect("isValid")
    }

    /// The accumulator stored at instance `to` for `input`, if any.
    async fn accumulator(&self, input: &CompositionStatement::Input, to: usize) -> Option<U256> {
        let at = self
            .statement()
            .accumulatorAt(self.fact(input).await, U256::from(to))
            .call()
            .await
            .expect("accumulatorAt");
        at.stored.then_some(at.acc)
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
        let (gas, data) = self.send_range(name, input, 0, instances(input)).await;
        assert!(self.is_valid(self.fact(input).await).await);
        (gas, data.len())
    }
}

/// How many component instances `input`'s claim enables.
fn instances(input: &CompositionStatement::Input) -> usize {
    instance_components(&input.claim).expect("a claim").len()
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

/// The composition of fibonacci(100) in three ranges of instances, against a second proof
/// (fibonacci(90)), as the plan sends them: the first range with the whole input, the later
/// ones with the claim's hash and fields instead of the claim (`verifyRange`). A later range
/// whose first range is not verified (sent first, of the other proof, of the same proof with
/// a changed sampled value or claimed sum), one whose predecessor is not verified (skipped),
/// one with a changed log size, variant or segment start among the claim's fields, or one
/// carrying a claim, is refused with its reason; a range sent again changes nothing; the
/// statement's fact is recorded only by the range ending at the last instance, and it is the
/// one-transaction statement's.
#[tokio::test]
async fn composition_ranges_chain_only_within_one_proof() {
    let a_artifact = prove("fibonacci", vec![100]);
    let b_artifact = prove("fibonacci", vec![90]);
    let Some(setup) = setup(&[&a_artifact, &b_artifact]).await else {
        eprintln!("SKIPPED: STARFARM_ANVIL not set");
        return;
    };
    let a = setup.input(&a_artifact).await;
    let b = setup.input(&b_artifact).await;
    let n = instances(&a);
    assert_eq!(
        instances(&b),
        n,
        "the two proofs enable the same components"
    );
    let (r1, r2) = (n / 3, 2 * n / 3);
    let unverified = Some("composition: the range before this one is not verified");
    let unbound = Some("composition: the first range of this input is not verified");
    let other_fields = Some("composition: the claim's fields are not the first range's");

    // Reordered: the second range before the first (whose input is not bound yet); the
    // whole-input form finds no accumulator either.
    assert_eq!(setup.range_refusal(&a, r1, r2).await.as_deref(), unbound);
    let whole = |input: &CompositionStatement::Input, from: usize, to: usize| {
        CompositionStatement::verifyCall {
            s: input.clone(),
            from: U256::from(from),
            to: U256::from(to),
        }
        .abi_encode()
    };
    assert_eq!(
        setup.calldata_refusal(&whole(&a, r1, r2)).await.as_deref(),
        unverified
    );
    let (gas, data) = setup.send_range("a", &a, 0, r1).await;
    eprintln!(
        "fibonacci(100) [0, {r1}): {gas} gas, {} bytes of calldata",
        data.len()
    );
    let at_r1 = setup.accumulator(&a, r1).await.expect("stored at r1");
    assert_eq!(setup.accumulator(&b, r1).await, None);
    // Mixed: the other proof's second range after this one's first.
    assert_eq!(setup.range_refusal(&b, r1, r2).await.as_deref(), unbound);
    // Skipped: the last range after the first.
    assert_eq!(setup.range_refusal(&a, r2, n).await.as_deref(), unverified);
    // The same proof with a sampled value or a claimed sum changed: another context, whose
    // first range is not verified.
    let mut changed = a.clone();
    changed.sampledValues = with_value_changed(&a.sampledValues, 0);
    assert_eq!(
        setup.range_refusal(&changed, r1, r2).await.as_deref(),
        unbound
    );
    let mut changed = a.clone();
    changed.claimedSums = with_value_changed(&a.claimedSums, r1);
    assert_eq!(
        setup.range_refusal(&changed, r1, r2).await.as_deref(),
        unbound
    );
    // The claim's fields changed (a log size of the range's, the variant, a segment start):
    // not the fields the first range derived from the claim.
    let later = |f: &dyn Fn(&mut CompositionStatement::verifyRangeCall)| {
        let mut call = later_range_call(&a, r1, r2).expect("a claim");
        f(&mut call);
        call.abi_encode()
    };
    for (what, data) in [
        (
            "a log size",
            later(&|c| c.fields.logSizes[r1] += U256::from(1)),
        ),
        ("the variant", later(&|c| c.fields.variant ^= U256::from(1))),
        (
            "a segment start",
            later(&|c| c.fields.segmentStarts[2] += U256::from(1)),
        ),
        (
            "an enable flag",
            later(&|c| {
                let mut e = c.fields.enabled.to_vec();
                e[0] ^= 1;
                c.fields.enabled = e.into();
            }),
        ),
    ] {
        assert_eq!(
            setup.calldata_refusal(&data).await.as_deref(),
            other_fields,
            "{what}"
        );
    }
    // Another claim's hash: another context.
    let data = later(&|c| c.claimHash = alloy::primitives::keccak256(&b.claim));
    assert_eq!(setup.calldata_refusal(&data).await.as_deref(), unbound);
    let data = later(&|c| c.s.claim = a.claim.clone());
    assert_eq!(
        setup.calldata_refusal(&data).await.as_deref(),
        Some("composition: a later range carries the claim's fields, not the claim")
    );
    // Not ranges of the instances.
    let not_a_range = Some("composition: not a range of the instances");
    assert_eq!(
        setup.range_refusal(&a, r1, r1).await.as_deref(),
        not_a_range
    );
    assert_eq!(
        setup.range_refusal(&a, 0, n + 1).await.as_deref(),
        not_a_range
    );
    assert_eq!(
        setup.range_refusal(&a, r1, n + 1).await.as_deref(),
        not_a_range
    );

    let (gas, data) = setup.send_range("a", &a, r1, r2).await;
    eprintln!(
        "fibonacci(100) [{r1}, {r2}): {gas} gas, {} bytes of calldata",
        data.len()
    );
    let at_r2 = setup.accumulator(&a, r2).await.expect("stored at r2");
    let fact = setup.fact(&a).await;
    assert!(!setup.is_valid(fact).await, "no fact before the last range");
    // Repeated: a range sent again (its start's accumulator is fixed) stores the same value,
    // which one range [0, r2) gives too (Horner's rule over the same constraints), and so
    // does the second range with the whole input.
    setup.send_range("a again", &a, r1, r2).await;
    setup.send_range("a again", &a, 0, r1).await;
    let (gas, data) = setup.send_calldata("a whole", whole(&a, r1, r2)).await;
    eprintln!(
        "fibonacci(100) [{r1}, {r2}) with the whole input: {gas} gas, {} bytes of calldata",
        data.len()
    );
    assert_eq!(setup.accumulator(&a, r1).await, Some(at_r1));
    assert_eq!(setup.accumulator(&a, r2).await, Some(at_r2));
    setup.send_range("a in one", &a, 0, r2).await;
    assert_eq!(setup.accumulator(&a, r2).await, Some(at_r2));

    // The last range with a changed composition-tree value (same claim, same prefix... but
    // another context) is refused; the honest one records the statement's fact.
    let last = a.sampledValues.len() / 16 - 8;
    let mut changed = a.clone();
    changed.sampledValues = with_value_changed(&a.sampledValues, last);
    assert_eq!(
        setup.range_refusal(&changed, r2, n).await.as_deref(),
        unbound
    );
    let (gas, data) = setup.send_range("a", &a, r2, n).await;
    eprintln!(
        "fibonacci(100) [{r2}, {n}): {gas} gas, {} bytes of calldata",
        data.len()
    );
    assert!(setup.is_valid(fact).await, "the statement's fact");
    let (gas, data) = setup.send_calldata("a whole", whole(&a, r2, n)).await;
    eprintln!(
        "fibonacci(100) [{r2}, {n}) with the whole input: {gas} gas, {} bytes of calldata",
        data.len()
    );
    // One transaction over the composition-tree-changed input fails the final comparison,
    // and so does its last range once its first two are verified.
    let refused = Some("composition: the constraints do not hold at the out-of-domain point");
    assert_eq!(setup.refusal(&changed).await.as_deref(), refused);
    setup.send_range("changed", &changed, 0, r1).await;
    setup.send_range("changed", &changed, r1, r2).await;
    assert_eq!(
        setup.range_refusal(&changed, r2, n).await.as_deref(),
        refused
    );

    // The other proof's fact is its own chain's.
    let b_fact = setup.fact(&b).await;
    assert_ne!(b_fact, fact);
    assert!(!setup.is_valid(b_fact).await);
    setup.send_range("b", &b, 0, r1).await;
    setup.send_range("b", &b, r1, n).await;
    assert!(setup.is_valid(b_fact).await);
}

/// Every instance of the three example proofs as a range of its own, on a Cancun chain (the
/// receipt less 21,000 and the calldata's EIP-2028 gas is the execution): the execution each
/// costs by IR component, its instructions and mask words (what `COMPOSITION_GAS_MODEL` is
/// fitted to, `--nocapture`), and the model above each range's execution, by at most a third
/// plus the fixed part.
#[tokio::test]
async fn the_gas_model_bounds_every_instance() {
    let fibonacci = prove("fibonacci", vec![100]);
    let pedersen = prove("pedersen_chain", vec![1, 2, 3]);
    let poseidon = prove("poseidon_chain", vec![10, 0x1234]);
    let Some(setup) = setup_cancun(&[&fibonacci, &pedersen, &poseidon]).await else {
        eprintln!("SKIPPED: STARFARM_ANVIL not set");
        return;
    };
    let costs = component_costs().expect("the AIR's costs");
    let model = COMPOSITION_GAS_MODEL;
    eprintln!("proof ir instructions mask execution model");
    for (name, artifact) in [
        ("fibonacci", &fibonacci),
        ("pedersen_chain", &pedersen),
        ("poseidon_chain", &poseidon),
    ] {
        let input = setup.input(artifact).await;
        let components = instance_components(&input.claim).expect("a claim");
        for (k, ir) in components.iter().enumerate() {
            let (gas, data) = setup.send_range(name, &input, k, k + 1).await;
            let standard = {
                let zeros = data.iter().filter(|b| **b == 0).count() as u64;
                4 * (zeros + 4 * (data.len() as u64 - zeros))
            };
            let execution = gas - 21_000 - standard;
            let modeled = model.per_transaction
                + model.per_skipped_instance * k as u64
                + model.instance(&costs[*ir]);
            eprintln!(
                "{name} {ir} {} {} {execution} {modeled}",
                costs[*ir].instructions, costs[*ir].mask_words
            );
            assert!(
                modeled >= execution,
                "{name} instance {k} (component {ir}): {execution} gas, the model {modeled}"
            );
            assert!(
                modeled <= execution + execution / 3 + model.per_transaction,
                "{name} instance {k} (component {ir}): {execution} gas, the model {modeled}"
            );
        }
        assert!(setup.is_valid(setup.fact(&input).await).await);
    }
}

/// The planner's ranges (each filled to the default budget, and to a quarter of it: more
/// ranges) of the Pedersen and poseidon_chain proofs, sent in order on today's chain: each
/// receipt under the model's estimate and under 2^24, the statement's fact recorded.
#[tokio::test]
async fn planned_ranges_stay_under_the_model_and_the_cap() {
    let pedersen = prove("pedersen_chain", vec![1, 2, 3]);
    let poseidon = prove("poseidon_chain", vec![10, 0x1234]);
    let Some(setup) = setup(&[&pedersen, &poseidon]).await else {
        eprintln!("SKIPPED: STARFARM_ANVIL not set");
        return;
    };
    let costs = component_costs().expect("the AIR's costs");
    for (name, artifact) in [("pedersen_chain", &pedersen), ("poseidon_chain", &poseidon)] {
        let input = setup.input(artifact).await;
        let components = instance_components(&input.claim).expect("a claim");
        let n = components.len();
        let first = range_calldata(&input, 0, n).expect("a claim");
        let later = range_calldata(&input, 1, n).expect("a claim");
        for budget in [
            starfarm_verifier::DEFAULT_COMPOSITION_RANGE_GAS,
            starfarm_verifier::DEFAULT_COMPOSITION_RANGE_GAS / 4,
        ] {
            let ranges = composition_ranges(
                &components,
                costs,
                &COMPOSITION_GAS_MODEL,
                (&first, &later),
                budget,
            )
            .expect("plans");
            assert_eq!(ranges.first().map(|r| r.0), Some(0));
            assert_eq!(ranges.last().map(|r| r.1), Some(n));
            assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0));
            for &(from, to) in &ranges {
                let (gas, data) = setup.send_range(name, &input, from, to).await;
                let modeled = range_gas(
                    &components,
                    costs,
                    &COMPOSITION_GAS_MODEL,
                    &data,
                    (from, to),
                );
                eprintln!("{name}, budget {budget}: [{from}, {to}) {gas} gas (model {modeled})");
                assert!(
                    gas <= modeled,
                    "{name} [{from}, {to}): {gas} gas, model {modeled}"
                );
                assert!(to - from == 1 || modeled <= budget);
            }
            assert!(setup.is_valid(setup.fact(&input).await).await);
        }
    }
}
