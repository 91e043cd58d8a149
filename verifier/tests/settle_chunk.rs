//! The settlement line through the on-chain verifier, end to end but in process: a block of
//! two transfers is proven as one chunk with the `l1-test` profile (Keccak channel, 20 bits,
//! NOT SECURE; ~15 s, ~2 GiB), `StarfarmCore` is deployed over `StwoFactRegistry` (floor 20),
//! and a `Settler` over `VerifiedSettlement` settles the range: no key attests anything, the
//! fact is valid only after `verifyProof`, a settler restarted halfway through the
//! verification sends only the statements the chain lacks, and the block is settled on L1.
//! Gas per phase is printed (`--nocapture`). anvil keeps its default 30 M block gas limit and
//! every transaction on the chain, the verification's included, is held under EIP-7825's 2^24
//! (which anvil itself does not enforce; the sender refuses an estimate above it).
//!
//! Skipped, loudly, without `STARFARM_ANVIL` (a failure with `STARFARM_REQUIRE_ANVIL=1`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use alloy::sol_types::SolCall;
use starfarm_l1::anvil::{Anvil, DEV_KEYS};
use starfarm_l1::metrics::SettleMetrics;
use starfarm_l1::settlement::{
    BlockRanges, ProofPlans, ProvenRanges, SettlementClient, Settler, Step, VerifiedSettlement,
};
use starfarm_l1::verify::ProofVerification;
use starfarm_l1::{L1Client, L1Error};
use starfarm_prover::artifact::ProofArtifact;
use starfarm_prover::{CairoProgram, ProgramInput, Prover, SecurityProfile};
use starfarm_sequencer::execute::{apply, touched, ExecutionStatus};
use starfarm_sequencer::program_input::{BlockOutput, BlockProverInput, BLOCK_PROGRAM_JSON};
use starfarm_sequencer::state::AccountState;
use starfarm_sequencer::testing::Rng;
use starfarm_sequencer::trie::{MemoryNodes, Trie};
use starfarm_sequencer::tx::{Deposit, Transaction};
use starfarm_sequencer::Felt;
use starfarm_verifier::plan::{PlanSizes, DEFAULT_QUERIES_PER_RANGE};
use starfarm_verifier::{Accepted, PhaseKind, VerificationPlan, VerifierContracts};

/// The `l1-test` profile's conjectured security: the registry's floor here.
const FLOOR: u32 = 20;

/// Block 0 of two transfers between four funded accounts (applied natively as the state
/// before it), proven as one range with the `l1-test` profile; its program hash.
fn proven_block() -> (ProofArtifact, Felt) {
    proven_block_with(SecurityProfile::L1Test)
}

/// [`proven_block`] with `profile`.
fn proven_block_with(profile: SecurityProfile) -> (ProofArtifact, Felt) {
    let mut rng = Rng(18);
    let keys: Vec<_> = (0..4).map(|_| rng.keys()).collect();
    let mut states: BTreeMap<Felt, AccountState> = BTreeMap::new();
    let mut updated = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let deposit = Transaction::Deposit(Deposit {
            l1_sender: Felt::from(0x1234u16),
            recipient: k.address(),
            amount: 1_000_000,
            l1_nonce: i as u64,
        });
        for tx in [deposit, Transaction::deploy_account(k)] {
            let receipt = apply(&mut states, &tx).expect("genesis applies");
            assert_eq!(receipt.execution_status, ExecutionStatus::Succeeded);
            updated.extend(touched(&tx));
        }
    }
    let leaves: Vec<(Felt, Felt)> = updated
        .iter()
        .map(|a| (*a, states.get(a).copied().unwrap_or_default().leaf()))
        .collect();
    let mut trie = Trie::empty(MemoryNodes::new());
    trie.update(&leaves).expect("genesis trie");
    let txs = vec![
        Transaction::transfer(&keys[0], 1, keys[1].address(), 5),
        Transaction::transfer(&keys[2], 1, keys[3].address(), 7),
    ];
    let input = BlockProverInput::build(&trie, &states, 0, Felt::ZERO, 1_700_000_000, txs)
        .expect("block input");
    let range = input.range(0, input.tx_count()).expect("the whole block");
    let program = CairoProgram::from_json(BLOCK_PROGRAM_JSON, "block program").expect("loads");
    let mut prover = Prover::new(profile);
    let artifact = prover
        .prove(&program, &ProgramInput::new(range.to_felts()), &mut |_| {})
        .expect("proves");
    let output = BlockOutput::from_felts(&artifact.header.output).expect("an output");
    assert_eq!(output, range.expected_output());
    (artifact, program.hash())
}

/// The one proven block, its artifact stored under "chunk-0".
struct OneBlock(BlockRanges);

impl ProvenRanges for OneBlock {
    type Error = std::io::Error;

    async fn ranges(&self, number: u64) -> Result<Option<BlockRanges>, std::io::Error> {
        Ok((number == 0).then(|| self.0.clone()))
    }

    async fn proven_from(&self, from: u64) -> Result<u64, std::io::Error> {
        Ok(u64::from(from == 0))
    }
}

/// The artifact store: plans made on request, and how many were asked for.
struct Store {
    plans: HashMap<String, ProofVerification>,
    asked: Mutex<u32>,
}

impl ProofPlans for Store {
    async fn verification(&self, artifact: &str) -> Result<ProofVerification, L1Error> {
        *self.asked.lock().expect("not poisoned") += 1;
        self.plans.get(artifact).cloned().ok_or(L1Error::Proof {
            artifact: artifact.into(),
            message: "not stored".into(),
        })
    }
}

fn l1_verification(plan: &VerificationPlan, contracts: &VerifierContracts) -> ProofVerification {
    ProofVerification::from_plan_parts(plan.transactions(contracts).into_parts())
        .expect("every phase kind is the sender's")
}

/// The anvil a measurement runs on: Cancun, no block gas limit (a call measured alone may
/// pass 2^24); `None` (the test skips) without `STARFARM_ANVIL`.
fn measurement_anvil() -> Option<Anvil> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bin = Anvil::binary_for_tests()?;
    Some(
        Anvil::start_with(&bin, &["--disable-block-gas-limit", "--hardfork", "cancun"])
            .expect("starts anvil"),
    )
}

#[tokio::test]
async fn a_block_chunk_settles_only_through_its_verified_proof() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(bin) = Anvil::binary_for_tests() else {
        return;
    };
    // anvil's defaults: a 30 M block gas limit (docs/verifier.md, "Every transaction under
    // 2^24"). Each transaction's receipt is held under EIP-7825's 2^24 below.
    let anvil = Anvil::start(&bin).expect("starts anvil");
    let (artifact, program_hash) = proven_block();
    let output = artifact.header.output.clone();
    let accepted =
        Accepted::for_artifacts(std::slice::from_ref(&artifact), FLOOR).expect("accepts");
    // The operator deploys; the settler's wallet only pays.
    let mut operator = L1Client::connect(&anvil.url, DEV_KEYS[0])
        .await
        .expect("connects");
    let contracts = starfarm_verifier::deploy(operator.provider(), &accepted)
        .await
        .expect("deploys the verifier");
    let deployment = operator
        .deploy_with_registry(program_hash, output[0], contracts.registry)
        .await
        .expect("deploys the core");
    let plan =
        VerificationPlan::from_artifact(&artifact, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    let verification = l1_verification(&plan, &contracts);

    // A first settler sent two statements and the composition's ranges (several: the chunk's
    // composition is more than one transaction may hold, each under EIP-7825's cap), then died.
    let first = L1Client::connect(&anvil.url, DEV_KEYS[1])
        .await
        .expect("connects")
        .attach(deployment);
    let mut halfway = verification.clone();
    let mut i = 0;
    halfway.phases.retain(|tx| {
        i += 1;
        i <= 2 || tx.kind.as_str() == "composition"
    });
    assert!(
        halfway.phases.len() >= 4,
        "the composition in several ranges"
    );
    for tx in &halfway.phases {
        let call = alloy::contract::RawCallBuilder::new_raw(first.provider(), tx.calldata.clone())
            .to(tx.to);
        let receipt = call
            .send()
            .await
            .expect("sends")
            .get_receipt()
            .await
            .expect("mined");
        assert!(receipt.status(), "{}", tx.phase);
        eprintln!("{}: {} gas", tx.phase, receipt.gas_used);
        assert!(receipt.gas_used < 1 << 24, "{}: above 2^24", tx.phase);
    }
    let fact = starfarm_l1::fact::fact(program_hash, &output);
    assert!(
        !first.is_fact_valid(fact).await.expect("reads"),
        "statements register nothing"
    );

    // The restarted settler: no key but the paying wallet's.
    let store = Store {
        plans: [("chunk-0".to_string(), verification)].into(),
        asked: Mutex::new(0),
    };
    let metrics = SettleMetrics::unregistered();
    let client = VerifiedSettlement::new(first, store).with_metrics(metrics.clone());
    let settler = Settler {
        metrics: metrics.clone(),
        ..Settler::new(client, program_hash)
    };
    let source = OneBlock(BlockRanges {
        outputs: vec![output.clone()],
        artifacts: vec!["chunk-0".into()],
        security_bits: FLOOR,
        proof_cost_usd: 0.0,
    });
    let step = settler.step(&source).await.expect("settles");
    let Step::Settled {
        block: 0,
        tx_start: 0,
        tx_end: 2,
        gas: (verify_gas, update_gas),
    } = step
    else {
        panic!("{step:?}");
    };
    eprintln!(
        "block 0 settled: verification {verify_gas} gas (resumed), updateState {update_gas} gas"
    );
    assert!(settler.client.is_fact_valid(fact).await.expect("reads"));
    let state = settler.client.state().await.expect("reads");
    assert_eq!((state.next_block_number, state.tx_index), (1, 0));
    assert_eq!(state.state_root, output[1]);
    let count = |l: &str| {
        metrics
            .verification_gas
            .with_label_values(&[l])
            .get_sample_count()
    };
    let sent = count("merkle")
        + count("quotients")
        + count("fri")
        + count("composition")
        + count("program_root")
        + count("public_memory");
    assert_eq!(
        sent,
        (plan.phases.len() - halfway.phases.len()) as u64,
        "those on chain are not sent again"
    );
    assert_eq!(count("verifyProof"), 1);
    assert_eq!(count("program_root"), 1);
    assert!(
        count("public_memory") >= 2,
        "the block program's entries take ranges"
    );
    for label in [
        "merkle",
        "quotients",
        "fri",
        "composition",
        "program_root",
        "public_memory",
        "verifyProof",
    ] {
        let h = metrics.verification_gas.with_label_values(&[label]);
        eprintln!(
            "{label}: {} transaction(s), {} gas",
            h.get_sample_count(),
            h.get_sample_sum()
        );
    }
    assert_eq!(*settler.client.plans.asked.lock().expect("not poisoned"), 1);
    every_receipt_under_eip_7825(operator.provider()).await;

    // A plan with a public memory range over EIP-7825's cap (2,000 entries: ~21 M gas, under
    // anvil's 30 M block limit, so only the sender stands in its way) is refused by the
    // sender, naming the range, before anything is sent. (Its other statements are on chain:
    // only its public memory partition is new.)
    let oversized = VerificationPlan::from_artifact_sized(
        &artifact,
        PlanSizes {
            entries_per_range: 2000,
            ..PlanSizes::default()
        },
    )
    .expect("plans");
    let payer = L1Client::connect(&anvil.url, DEV_KEYS[1])
        .await
        .expect("connects");
    use alloy::providers::Provider as _;
    let nonce = || async {
        payer
            .provider()
            .get_transaction_count(payer.address())
            .await
            .expect("reads")
    };
    let before = nonce().await;
    let err = payer
        .send_verification(&l1_verification(&oversized, &contracts), None)
        .await
        .expect_err("a range above 2^24");
    assert!(err.over_gas_cap(), "{err}");
    assert!(err.to_string().contains("public_memory[0..2000]"), "{err}");
    assert_eq!(nonce().await, before, "nothing sent");
    assert_eq!(
        settler.step(&source).await.expect("reads"),
        Step::Waiting { block: 1 }
    );
}

/// Every transaction mined on `provider`'s chain (the deployments, the statements, `verifyProof`,
/// `updateState`) used less than EIP-7825's 2^24 gas: the verification fits Ethereum's
/// per-transaction cap, not only anvil's block limit. Prints the largest.
async fn every_receipt_under_eip_7825<P: alloy::providers::Provider>(provider: &P) {
    let head = provider.get_block_number().await.expect("reads");
    let mut largest = (0, None);
    for number in 0..=head {
        let receipts = provider
            .get_block_receipts(number.into())
            .await
            .expect("reads")
            .unwrap_or_default();
        for r in receipts {
            assert!(
                r.gas_used < 1 << 24,
                "transaction {} (to {:?}) used {} gas: above 2^24",
                r.transaction_hash,
                r.to,
                r.gas_used
            );
            if r.gas_used > largest.0 {
                largest = (r.gas_used, r.to);
            }
        }
    }
    eprintln!(
        "{} blocks, every transaction under 2^24; the largest {} gas (to {:?})",
        head + 1,
        largest.0,
        largest.1
    );
}

/// A call's calldata gas: EIP-2028's (4 per zero byte, 16 per other) and EIP-7623's floor
/// for the whole transaction (21,000 + 10 per token, a zero byte one token, another four).
fn calldata_gas(data: &[u8]) -> (u64, u64) {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let others = data.len() as u64 - zeros;
    (4 * zeros + 16 * others, 21_000 + 10 * (zeros + 4 * others))
}

/// Execution gas of a call to `to`, sent as a transaction with a gas limit far above its use
/// (one execution: `eth_estimateGas` searches and, for the old ~60 M calls, timed out), on a
/// Cancun chain: the receipt's gas minus 21,000 and the calldata's EIP-2028 gas; and its
/// calldata's bytes, EIP-2028 gas and EIP-7623 floor.
async fn part_gas<P: alloy::providers::Provider>(
    provider: &P,
    to: alloy::primitives::Address,
    calldata: Vec<u8>,
) -> (u64, usize, u64, u64) {
    let (standard, floor) = calldata_gas(&calldata);
    let len = calldata.len();
    let request = alloy::rpc::types::TransactionRequest::default()
        .to(to)
        .input(calldata.into())
        .gas_limit(500_000_000);
    let receipt = provider
        .send_transaction(request)
        .await
        .expect("sends")
        .get_receipt()
        .await
        .expect("mined");
    assert!(receipt.status(), "a measured call reverted");
    (receipt.gas_used - 21_000 - standard, len, standard, floor)
}

/// Where a block chunk's `verifyProof` spends its gas: each part of it called alone on a
/// Cancun anvil without a block gas limit (a measurement, ~40 s, ~2 GiB:
/// `cargo test -p starfarm-verifier --test settle_chunk -- --ignored --nocapture gas_by_part`).
#[tokio::test]
#[ignore = "a measurement: proves a block chunk and prints verifyProof's gas by part"]
async fn verify_proof_gas_by_part() {
    use alloy::primitives::B256;
    use alloy::sol_types::SolValue;
    use starfarm_prover::artifact::ProofCodec;
    use starfarm_prover::channel::Keccak256MerkleHasher;
    use starfarm_verifier::contracts::{CairoClaim, StwoVerifier};

    let Some(anvil) = measurement_anvil() else {
        return;
    };
    let (artifact, _) = proven_block();
    let accepted =
        Accepted::for_artifacts(std::slice::from_ref(&artifact), FLOOR).expect("accepts");
    let operator = L1Client::connect(&anvil.url, DEV_KEYS[0])
        .await
        .expect("connects");
    let contracts = starfarm_verifier::deploy(operator.provider(), &accepted)
        .await
        .expect("deploys the verifier");
    let plan =
        VerificationPlan::from_artifact(&artifact, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    let proof = ProofCodec::decode::<Keccak256MerkleHasher>(&artifact.proof).expect("decodes");
    let (encoded, transcript) = starfarm_verifier::encode_with_transcript(&proof).expect("encodes");
    let packed = |f: &stwo::core::fields::qm31::SecureField| {
        use alloy::primitives::U256;
        let [a, b, c, d] = f.to_m31_array().map(|m| U256::from(m.0));
        a | (b << 32) | (c << 64) | (d << 96)
    };
    let pd = &proof.claim.public_data.public_memory;
    eprintln!(
        "claim: {} bytes; program {} felts, output {} felts",
        encoded.claim.len(),
        pd.program.len(),
        pd.output.len()
    );
    let p = operator.provider();
    let claim = encoded.claim.clone();
    let mut rows: Vec<(&str, Vec<u8>, alloy::primitives::Address)> = vec![
        (
            "CairoClaim.decode (abi.decode, canonical re-encoding: the reference, no longer in the replay)",
            CairoClaim::decodeCall {
                encodedClaim: claim.clone(),
            }
            .abi_encode(),
            contracts.claim,
        ),
        (
            "CairoClaim.mixClaim (canonical check in place, shape, the seven mixes)",
            CairoClaim::mixClaimCall {
                digest: B256::ZERO,
                encodedClaim: claim.clone(),
            }
            .abi_encode(),
            contracts.claim,
        ),
        (
            "CairoClaim.check (decode, shape, checks, public logup sum, balance)",
            CairoClaim::checkCall {
                encodedClaim: claim.clone(),
                claimedSums: encoded.claimedSums.clone(),
                z: packed(&transcript.lookup_z),
                alpha: packed(&transcript.lookup_alpha),
            }
            .abi_encode(),
            contracts.claim,
        ),
        (
            "CairoClaim.fact (decode x2, program key, output hash)",
            CairoClaim::factCall {
                encodedClaim: claim.clone(),
            }
            .abi_encode(),
            contracts.claim,
        ),
        (
            "StwoVerifier.replay (layout, mixes, checks, PoW, draws)",
            StwoVerifier::replayCall {
                p: StwoVerifier::Proof::abi_decode(&plan.header.abi_encode()).expect("same ABI"),
            }
            .abi_encode(),
            contracts.transcript,
        ),
        (
            "StwoFactRegistry.statements",
            plan.statements_call().abi_encode(),
            contracts.registry,
        ),
    ];
    rows.extend(extra_parts(&plan, &contracts, &claim, &transcript, packed));
    for (what, calldata, to) in rows {
        let (execution, len, standard, floor) = part_gas(p, to, calldata).await;
        let today = (21_000 + standard + execution).max(floor);
        eprintln!("| {what} | {len} | {standard} | {floor} | {execution} | {today} |");
    }
    // The statements in the plan's order; each composition range measured as the plan
    // sends it (a later one without the claim: `verifyRange`) and, once it is on chain, with
    // the whole input as every range carried it before (`verify`, which still accepts it).
    let input =
        starfarm_verifier::contracts::composition::CompositionStatement::verifyCall::abi_decode(
            &plan
                .phases
                .iter()
                .find(|p| matches!(p.kind, PhaseKind::Composition { from: 0, .. }))
                .expect("a first composition range")
                .calldata,
        )
        .expect("the whole input")
        .s;
    eprintln!(
        "composition input: claim {} bytes, claimed sums {}, sampled values {}, layout {}",
        input.claim.len(),
        input.claimedSums.len(),
        input.sampledValues.len(),
        input.columns.iter().map(|c| c.len()).sum::<usize>()
    );
    for phase in &plan.phases {
        let PhaseKind::Composition { from, to } = phase.kind else {
            let call = alloy::contract::RawCallBuilder::new_raw(p, phase.calldata.clone())
                .to(phase.target(&contracts));
            call.send()
                .await
                .expect("sends")
                .get_receipt()
                .await
                .expect("mined");
            continue;
        };
        let whole = starfarm_verifier::contracts::composition::CompositionStatement::verifyCall {
            s: input.clone(),
            from: alloy::primitives::U256::from(from),
            to: alloy::primitives::U256::from(to),
        }
        .abi_encode();
        let sent = [
            ("as planned", phase.calldata.to_vec()),
            ("whole input", whole),
        ];
        for (what, calldata) in sent.into_iter().take(if from == 0 { 1 } else { 2 }) {
            let (execution, len, standard, floor) =
                part_gas(p, contracts.composition, calldata).await;
            let today = (21_000 + standard + execution).max(floor);
            eprintln!(
                "| {} ({what}) | {len} | {standard} | {floor} | {execution} | {today} |",
                phase.kind
            );
        }
    }
    eprintln!("every statement on chain, the program's root kept:");
    let again = [
        (
            "CairoClaim.mixClaim (the program's root kept)",
            CairoClaim::mixClaimCall {
                digest: B256::ZERO,
                encodedClaim: claim.clone(),
            }
            .abi_encode(),
            contracts.claim,
        ),
        (
            "StwoFactRegistry.statements",
            plan.statements_call().abi_encode(),
            contracts.registry,
        ),
        (
            "StwoFactRegistry.verifyProof",
            plan.verify_proof_call().abi_encode(),
            contracts.registry,
        ),
    ];
    for (what, calldata, to) in again {
        let (execution, len, standard, floor) = part_gas(p, to, calldata).await;
        let today = (21_000 + standard + execution).max(floor);
        eprintln!("| {what} | {len} | {standard} | {floor} | {execution} | {today} |");
    }
}

/// The public memory's own transactions: keeping the program's root, each range's sum.
fn extra_parts(
    plan: &VerificationPlan,
    contracts: &VerifierContracts,
    claim: &alloy::primitives::Bytes,
    transcript: &starfarm_verifier::StwoTranscript,
    packed: impl Fn(&stwo::core::fields::qm31::SecureField) -> alloy::primitives::U256,
) -> Vec<(&'static str, Vec<u8>, alloy::primitives::Address)> {
    use alloy::sol_types::SolValue;
    use starfarm_verifier::contracts::{CairoClaim, StwoVerifier};
    let structured = CairoClaim::Claim::abi_decode(claim).expect("a claim");
    let words = starfarm_verifier::public_memory_words(&structured).expect("entries");
    let sum =
        starfarm_verifier::public_memory_sum(&words, transcript.lookup_z, transcript.lookup_alpha)
            .expect("sums");
    eprintln!("public memory: {} entries", words.len() / 2);
    let mut rows = vec![
        (
            "CairoClaim.publicMemoryHashes (decode, entries, a hash per range)",
            CairoClaim::publicMemoryHashesCall {
                encodedClaim: claim.clone(),
                ends: plan.parts.memoryEnds.clone(),
            }
            .abi_encode(),
            contracts.claim,
        ),
        (
            "StwoVerifier.replayWith (the public memory's sum given)",
            StwoVerifier::replayWithCall {
                p: StwoVerifier::Proof::abi_decode(&plan.header.abi_encode()).expect("same ABI"),
                memorySum: packed(&sum),
            }
            .abi_encode(),
            contracts.transcript,
        ),
    ];
    rows.extend(plan.phases.iter().filter_map(|p| {
        match p.kind {
            PhaseKind::ProgramRoot => Some("CairoClaim.registerProgramRoot (once per program)"),
            PhaseKind::PublicMemory { from: 0, .. } => {
                Some("PublicMemoryStatement.verify (the first range)")
            }
            _ => None,
        }
        .map(|what| (what, p.calldata.to_vec(), p.target(contracts)))
    }));
    rows
}

/// The gas of `plan`'s quotient setup and each of its ranges (each sent alone to a bare
/// `QuotientStatement` on `provider`, a Cancun chain without a block gas limit), and where a
/// range's execution went before the setup (`QuotientProbe.profile`: the range recomputing
/// everything from the sampled values, as main did): the fixed part every range repeated (the
/// layout, the α powers and batch sums, the batches' points) against the per-query part.
async fn print_quotient_profile<P: alloy::providers::Provider>(
    provider: &P,
    plan: &VerificationPlan,
) {
    use alloy::sol_types::SolValue;
    use starfarm_verifier::contracts::quotient_probe::QuotientProbe;
    use starfarm_verifier::contracts::quotients::QuotientStatement;
    let statement = QuotientStatement::deploy(provider)
        .await
        .expect("deploys QuotientStatement");
    let probe = QuotientProbe::deploy(provider)
        .await
        .expect("deploys QuotientProbe");
    const STEPS: [&str; 9] = [
        "preprocessed positions (every query)",
        "rows against leaves, leaf commitments",
        "layout read (readLayout)",
        "batch starts and arrays",
        "samples placed, α powers, batch sums (fill)",
        "batch points and constants (pointConstants)",
        "queries: points, rows' dot products, denominators",
        "batched inversion and sums (combine)",
        "the fact's hashes",
    ];
    let mut setup = None;
    let (mut total, mut execution_total) = (0, 0);
    for phase in &plan.phases {
        let (execution, len, standard, floor) = match phase.kind {
            PhaseKind::QuotientSetup | PhaseKind::Quotients { .. } => {
                part_gas(provider, *statement.address(), phase.calldata.to_vec()).await
            }
            _ => continue,
        };
        total += 21_000 + standard + execution;
        execution_total += execution;
        eprintln!(
            "{}: {len} calldata bytes, calldata {standard} (floor {floor}), execution \
             {execution}, total {}",
            phase.kind,
            21_000 + standard + execution,
        );
        let PhaseKind::Quotients { from, to } = phase.kind else {
            setup =
                Some(QuotientStatement::setupCall::abi_decode(&phase.calldata).expect("decodes"));
            continue;
        };
        let s = setup.as_ref().expect("the setup comes first");
        let range = QuotientStatement::verifyCall::abi_decode(&phase.calldata).expect("decodes");
        // main's range: the same rows with the layout and every sampled value.
        let mut data = QuotientProbe::profileCall::SELECTOR.to_vec();
        data.extend_from_slice(
            &(
                range.q,
                range.trees,
                range.leaves,
                s.columns.clone(),
                s.sampledValues.clone(),
            )
                .abi_encode_params(),
        );
        let (old_execution, old_len, old_standard, _) =
            part_gas(provider, *probe.address(), data.clone()).await;
        let request = alloy::rpc::types::TransactionRequest::default()
            .to(*probe.address())
            .input(data.into())
            .gas_limit(500_000_000);
        let out = provider.call(request).await.expect("profiles");
        let gas = QuotientProbe::profileCall::abi_decode_returns(&out).expect("decodes");
        eprintln!(
            "  main's range [{from}..{to}) ({} queries, {} samples, {} batches): {old_len} \
             calldata bytes, calldata {old_standard}, profile execution {old_execution}",
            to - from,
            gas[9],
            gas[10]
        );
        for (step, g) in STEPS.iter().zip(gas.iter()) {
            eprintln!("  | {step} | {g} |");
        }
    }
    eprintln!("quotients in all: {total} gas ({execution_total} execution)");
}

/// Where a block chunk's quotient ranges spend their gas at `l1-test` (a measurement, ~40 s,
/// ~2 GiB: `cargo test -p starfarm-verifier --test settle_chunk -- --ignored --nocapture
/// quotient_range_profile`).
#[tokio::test]
#[ignore = "a measurement: proves a block chunk and prints its quotient ranges' gas by step"]
async fn quotient_range_profile() {
    let Some(anvil) = measurement_anvil() else {
        return;
    };
    let (artifact, _) = proven_block();
    let operator = L1Client::connect(&anvil.url, DEV_KEYS[0])
        .await
        .expect("connects");
    let plan =
        VerificationPlan::from_artifact(&artifact, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    print_quotient_profile(operator.provider(), &plan).await;
}

/// Every transaction of a block chunk's verification at the `l1` profile (35 queries, 26 PoW
/// bits), each sent on a Cancun anvil without a block gas limit: calldata, EIP-7623 floor,
/// execution, the gas it costs today; each under 2^24. A measurement (~4 min, ~4 GiB:
/// `cargo test -p starfarm-verifier --test settle_chunk -- --ignored --nocapture
/// l1_profile_chunk`).
#[tokio::test]
#[ignore = "a measurement: proves a block chunk with the l1 profile (26 PoW bits)"]
async fn l1_profile_chunk_gas_per_transaction() {
    let Some(anvil) = measurement_anvil() else {
        return;
    };
    let started = std::time::Instant::now();
    let (artifact, program_hash) = proven_block_with(SecurityProfile::L1);
    eprintln!("proven at l1 in {:.0?}", started.elapsed());
    let accepted =
        Accepted::for_artifacts(std::slice::from_ref(&artifact), FLOOR).expect("accepts");
    let operator = L1Client::connect(&anvil.url, DEV_KEYS[0])
        .await
        .expect("connects");
    let contracts = starfarm_verifier::deploy(operator.provider(), &accepted)
        .await
        .expect("deploys the verifier");
    let plan =
        VerificationPlan::from_artifact(&artifact, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    let finish: alloy::primitives::Bytes = plan.verify_proof_call().abi_encode().into();
    let txs = plan
        .phases
        .iter()
        .map(|p| {
            (
                p.kind.to_string(),
                p.label(),
                p.target(&contracts),
                p.calldata.clone(),
            )
        })
        .chain(std::iter::once((
            "verifyProof".to_string(),
            "verifyProof",
            contracts.registry,
            finish,
        )));
    eprintln!("| transaction | calldata bytes | calldata gas | floor | execution | gas today |");
    let mut by_label: BTreeMap<&str, (u32, u64)> = BTreeMap::new();
    let mut total = 0;
    for (name, label, to, data) in txs {
        let (execution, len, standard, floor) =
            part_gas(operator.provider(), to, data.to_vec()).await;
        let today = (21_000 + standard + execution).max(floor);
        assert!(today < 1 << 24, "{name}: {today} gas today, above 2^24");
        eprintln!("| {name} | {len} | {standard} | {floor} | {execution} | {today} |");
        let entry = by_label.entry(label).or_default();
        *entry = (entry.0 + 1, entry.1 + today);
        total += today;
    }
    for (label, (n, gas)) in &by_label {
        eprintln!("{label}: {n} transaction(s), {gas} gas");
    }
    eprintln!("the chunk's proof at l1: {total} gas in all");
    let fact = starfarm_l1::fact::fact(program_hash, &artifact.header.output);
    assert!(
        starfarm_verifier::contracts::registry::StwoFactRegistry::new(
            contracts.registry,
            operator.provider()
        )
        .isValid(fact)
        .call()
        .await
        .expect("reads"),
        "the fact registered"
    );
}
