//! The public memory's logup sum in statements of its own (`PublicMemoryStatement`), on anvil
//! against a real proof (fibonacci(100), `test` profile, Keccak channel: ~30 public memory
//! entries, split here into ranges of 10 so the path a block chunk's thousands of entries take
//! is exercised on a small claim): each range's sum registered for the transcript's (z, alpha),
//! `verifyProof` refusing any range missing, stated with another sum, verified for other
//! entries or under another proof's lookup elements, and registering the fact once every
//! range is on chain; malformed entries refused with a reason.
//!
//! Skipped, loudly, without `STARFARM_ANVIL` (a failure with `STARFARM_REQUIRE_ANVIL=1`).

mod support;
use support::call_reason;

use std::path::PathBuf;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::{SolCall, SolValue};
use starfarm_l1::anvil::{Anvil, DEV_KEYS};
use starfarm_l1::L1Client;
use starfarm_prover::artifact::{ProofArtifact, ProofCodec};
use starfarm_prover::channel::{ChannelKind, Keccak256MerkleHasher};
use starfarm_prover::{CairoProgram, Felt, ProgramInput, Prover, SecurityProfile};
use starfarm_verifier::contracts::public_memory::PublicMemoryStatement;
use starfarm_verifier::contracts::registry::StwoFactRegistry;
use starfarm_verifier::contracts::CairoClaim;
use starfarm_verifier::plan::DEFAULT_QUERIES_PER_RANGE;
use starfarm_verifier::{
    encode_artifact, program_key, root_key, Accepted, PhaseKind, PlanSizes, VerificationPlan,
    VerifierContracts,
};

/// The test profile's 10 PoW bits + log blowup 1 x 8 queries.
const TEST_FLOOR: u32 = 18;
/// Entries per public memory statement here (fibonacci's claim has ~30).
const ENTRIES: usize = 10;

fn fibonacci_of(n: u64) -> ProofArtifact {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program =
        CairoProgram::from_file(&root.join("examples/fibonacci.json")).expect("example loads");
    let mut prover = Prover::new(SecurityProfile::Test).with_channel(ChannelKind::Keccak);
    prover
        .prove(
            &program,
            &ProgramInput::new(vec![Felt::from(n)]),
            &mut |_| {},
        )
        .expect("proves")
}

/// What the deployment accepts for `artifact`: its program and the root its proof states
/// (another test shows the stated root is the one computed from the variant).
fn accepted(artifact: &ProofArtifact) -> Accepted {
    let proof = encode_artifact(artifact).expect("encodes");
    let decoded = ProofCodec::decode::<Keccak256MerkleHasher>(&artifact.proof).expect("decodes");
    let claim = CairoClaim::Claim::abi_decode(&proof.claim).expect("a claim");
    Accepted {
        programs: vec![(
            program_key(&decoded.claim),
            B256::from(artifact.header.program_hash.to_bytes_be()),
        )],
        roots: vec![(
            root_key(claim.variant, proof.config.logBlowupFactor),
            proof.commitments[0],
        )],
        floor: TEST_FLOOR,
    }
}

/// Sends a transaction; it must pass.
async fn send<P: Provider>(p: &P, what: &str, to: Address, calldata: Bytes) -> u64 {
    if let Some(reason) = call_reason(p, to, calldata.clone()).await {
        panic!("{what}: reverts: {reason}");
    }
    let request = alloy::rpc::types::TransactionRequest::default()
        .to(to)
        .input(calldata.into());
    let receipt = p
        .send_transaction(request)
        .await
        .expect("sends")
        .get_receipt()
        .await
        .expect("mined");
    assert!(receipt.status(), "{what}: failed");
    receipt.gas_used
}

fn memory_phases(plan: &VerificationPlan) -> Vec<usize> {
    (0..plan.phases.len())
        .filter(|i| matches!(plan.phases[*i].kind, PhaseKind::PublicMemory { .. }))
        .collect()
}

fn finish(plan: &VerificationPlan) -> Bytes {
    plan.verify_proof_call().abi_encode().into()
}

async fn done<P: Provider>(
    p: &P,
    contracts: &VerifierContracts,
    plan: &VerificationPlan,
) -> Vec<bool> {
    StwoFactRegistry::new(contracts.registry, p)
        .statements(plan.header.clone(), plan.parts.clone())
        .call()
        .await
        .expect("statements")
        .done
}

#[tokio::test]
async fn the_public_memory_statements_hold_the_logup_sum_for_the_proofs_transcript() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(anvil) = Anvil::for_tests() else {
        return;
    };
    let artifact = fibonacci_of(100);
    let other_artifact = fibonacci_of(50);
    let client = L1Client::connect(&anvil.url, DEV_KEYS[0])
        .await
        .expect("connects");
    let p = client.provider();
    // fibonacci(50) runs the same program: one program accepted.
    let contracts = starfarm_verifier::deploy(p, &accepted(&artifact))
        .await
        .expect("deploys");
    let code = p.get_code_at(contracts.public_memory).await.expect("code");
    assert!(
        !code.is_empty() && code.len() <= 24_576,
        "{} bytes",
        code.len()
    );

    // The default plan sums fibonacci's few entries inside verifyProof: no statement.
    let inline =
        VerificationPlan::from_artifact(&artifact, DEFAULT_QUERIES_PER_RANGE).expect("plans");
    assert!(memory_phases(&inline).is_empty());
    assert!(inline.parts.memoryEnds.is_empty());

    let plan = VerificationPlan::from_artifact_sized(
        &artifact,
        PlanSizes {
            entries_per_range: ENTRIES,
            ..PlanSizes::default()
        },
    )
    .expect("plans");
    let other = VerificationPlan::from_artifact_sized(
        &other_artifact,
        PlanSizes {
            entries_per_range: ENTRIES,
            ..PlanSizes::default()
        },
    )
    .expect("plans");
    let memory = memory_phases(&plan);
    assert!(memory.len() >= 3, "{} ranges", memory.len());
    assert_eq!(memory.len(), plan.parts.memoryEnds.len());
    let root = memory[0] - 1;
    assert_eq!(plan.phases[root].kind, PhaseKind::ProgramRoot);
    // The statements come last, in the order the registry lists them.
    assert_eq!(*memory.last().expect("ranges"), plan.phases.len() - 1);
    let first = memory[0];
    let statement = |i: usize| {
        PublicMemoryStatement::verifyCall::abi_decode(&plan.phases[i].calldata).expect("decodes")
    };

    // Malformed entries: refused with a reason.
    let mut call = statement(first);
    call.words[1] = U256::from_str_radix(
        "800000000000011000000000000000000000000000000000000000000000001",
        16,
    )
    .expect("the prime");
    assert_eq!(
        call_reason(p, contracts.public_memory, call.abi_encode().into())
            .await
            .as_deref(),
        Some("public memory: a value is not a felt")
    );
    let mut call = statement(first);
    call.words[0] |= U256::from(0x7fff_ffffu32);
    assert_eq!(
        call_reason(p, contracts.public_memory, call.abi_encode().into())
            .await
            .as_deref(),
        Some("public memory: an address or id is not an M31")
    );

    // Every statement but the public memory's, and all but the last range of it.
    for (i, phase) in plan.phases.iter().enumerate() {
        if i != *memory.last().expect("ranges") {
            send(p, "phase", phase.target(&contracts), phase.calldata.clone()).await;
        }
    }
    let reason = format!(
        "registry: public memory statement of range {} not verified",
        memory.len() - 1
    );
    assert_eq!(
        call_reason(p, contracts.registry, finish(&plan)).await,
        Some(reason.clone())
    );
    let listed = done(p, &contracts, &plan).await;
    assert_eq!(listed.len(), plan.phases.len());
    assert!(listed[..plan.phases.len() - 1].iter().all(|d| *d));
    assert!(!listed[plan.phases.len() - 1]);

    // The last range verified for another program word, and under the other proof's lookup
    // elements: true statements, neither of them this proof's.
    let last = *memory.last().expect("ranges");
    let mut call = statement(last);
    call.words[1] ^= U256::from(1);
    send(
        p,
        "a tampered range",
        contracts.public_memory,
        call.abi_encode().into(),
    )
    .await;
    let mut call = statement(last);
    let theirs = PublicMemoryStatement::verifyCall::abi_decode(
        &other.phases[*memory_phases(&other).last().expect("ranges")].calldata,
    )
    .expect("decodes");
    (call.z, call.alpha) = (theirs.z, theirs.alpha);
    send(
        p,
        "another proof's draws",
        contracts.public_memory,
        call.abi_encode().into(),
    )
    .await;
    assert_eq!(
        call_reason(p, contracts.registry, finish(&plan)).await,
        Some(reason)
    );

    // Sums moved between two ranges (their total, so the balance, unchanged): refused.
    let mut moved = plan.clone();
    send(
        p,
        "the last range",
        contracts.public_memory,
        plan.phases[last].calldata.clone(),
    )
    .await;
    let delta = U256::from(1);
    moved.parts.memorySums[0] += delta;
    moved.parts.memorySums[1] -= delta;
    assert_eq!(
        call_reason(p, contracts.registry, finish(&moved))
            .await
            .as_deref(),
        Some("registry: public memory statement of range 0 not verified")
    );
    // One range's sum changed alone: the logup sums no longer balance.
    let mut unbalanced = plan.clone();
    unbalanced.parts.memorySums[0] += delta;
    assert_eq!(
        call_reason(p, contracts.registry, finish(&unbalanced))
            .await
            .as_deref(),
        Some("claim: the logup sums do not balance")
    );
    // Other ranges of the same entries were not verified.
    let mut ranges = plan.clone();
    ranges.parts.memoryEnds[0] += U256::from(1);
    assert_eq!(
        call_reason(p, contracts.registry, finish(&ranges))
            .await
            .as_deref(),
        Some("registry: public memory statement of range 0 not verified")
    );
    let mut short = plan.clone();
    short.parts.memoryEnds.pop();
    short.parts.memorySums.pop();
    assert!(call_reason(p, contracts.registry, finish(&short))
        .await
        .is_some());

    // The other proof of the same program finds its root kept already.
    assert!(done(p, &contracts, &other).await[root]);

    // The honest proof registers its fact, its statements all listed as done.
    assert!(done(p, &contracts, &plan).await.iter().all(|d| *d));
    send(p, "verifyProof", contracts.registry, finish(&plan)).await;
    let fact = artifact.header.fact.parse().expect("a fact");
    assert!(StwoFactRegistry::new(contracts.registry, p)
        .isValid(fact)
        .call()
        .await
        .expect("reads"));
}
