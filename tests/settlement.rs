//! Settlement end to end with real processes: anvil, `starfarm l1 deploy` (the verifying
//! registry, `StwoFactRegistry`, accepting the block program at the `l1-test` profile), a
//! sequencer that follows L1 (`--l1-deployment`), a scheduler that ingests and aggregates, a
//! CPU worker proving block chunks with the Keccak channel (`l1-test`: 20 bits, NOT secure),
//! and `starfarm l1 settle`, which sends each range's chunk proof's verification then
//! `updateState`. No process holds an attesting key. A bridge deposit made on L1 reaches an
//! L2 balance; transfers and a withdrawal made on L2 are proven, verified on chain, settled
//! and become ACCEPTED_ON_L1; the settler, killed halfway through a verification, resumes it
//! (no statement sent twice); each fact is invalid before its `verifyProof` and valid after;
//! L1's state equals the sequencer's; the withdrawal is consumable on L1. Needs anvil
//! (`STARFARM_ANVIL`, as l1/tests/settle.rs); skipped loudly without it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use starfarm_l1::anvil::{Anvil, DEV_KEYS};
use starfarm_l1::fact::address_to_felt;
use starfarm_l1::{L1Client, U256};
use starfarm_sequencer::testing::runtime;
use starfarm_sequencer::tx::{KeyPair, Transaction};
use starfarm_sequencer::Felt;
use starfarm_verifier::alloy::consensus::Transaction as _;
use starfarm_verifier::alloy::eips::BlockNumberOrTag;
use starfarm_verifier::alloy::primitives::{Address, Bytes};
use starfarm_verifier::alloy::providers::Provider;
use starfarm_verifier::contracts::registry::StwoFactRegistry;
use starfarm_verifier::VerifierContracts;
use support::line::Line;
use support::{deploy_l1_verifying, Proc, PATIENCE};

mod support;

/// `starfarm l1 deploy` of the verifying registry into `dir`; the deployment file. A second
/// deploy does not forget the first.
fn deploy(rpc: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("l1-deployment.json");
    let deployment = file.to_str().expect("UTF-8 path");
    deploy_l1_verifying(rpc, deployment);
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_starfarm"))
        .args(["l1", "deploy", "--rpc", rpc, "--key", DEV_KEYS[0]])
        .args(["--deployment", deployment])
        .output()
        .expect("starfarm runs");
    let refusal = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && refusal.contains("exists already"),
        "{refusal}"
    );
    file
}

/// Polls `check` until it holds, for at most [`PATIENCE`].
async fn until<F, Fut>(line: &Line, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "never {what}:\n{}",
            line.output()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every transaction on the chain sent to one of `to`, as (block, to, calldata), in order.
async fn calls_to(l1: &L1Client, to: &[Address]) -> Vec<(u64, Address, Bytes)> {
    let p = l1.provider();
    let head = p.get_block_number().await.expect("head");
    let mut calls = Vec::new();
    for n in 0..=head {
        let block = p
            .get_block_by_number(BlockNumberOrTag::Number(n))
            .full()
            .await
            .expect("block")
            .expect("mined");
        for tx in block.transactions.txns() {
            if let Some(addr) = tx.to().filter(|a| to.contains(a)) {
                calls.push((n, addr, tx.input().clone()));
            }
        }
    }
    calls
}

/// `starfarm l1 settle` on the line's job store, logging each verification transaction.
fn settler(rpc: &str, deployment: &str, scheduler_data: &str) -> Proc {
    Proc::spawn_with_env(
        &[
            "l1",
            "settle",
            "--rpc",
            rpc,
            "--key",
            DEV_KEYS[0],
            "--deployment",
            deployment,
            "--scheduler-data",
            scheduler_data,
            "--every-ms",
            "250",
        ],
        &[("RUST_LOG".into(), "info".into())],
    )
}

#[test]
fn deposit_transfers_and_withdrawal_reach_accepted_on_l1_only_through_the_verifier() {
    let Some(anvil) = Anvil::for_tests() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    runtime().block_on(async {
        let started = Instant::now();
        let rpc = anvil.url.clone();
        let deployment = deploy(&rpc, dir.path());
        let deployment_arg = deployment.to_str().expect("UTF-8 path");
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&deployment).expect("file")).expect("JSON");
        // The core asks StwoFactRegistry, whose floor is l1-test's 20 bits.
        assert_eq!(file["verifier"]["registry"], file["registry"], "{file}");
        assert_eq!(file["security_floor"], 20, "{file}");
        let verifier: VerifierContracts =
            serde_json::from_value(file["verifier"].clone()).expect("verifier contracts");
        let line = Line::start_verifying(&rpc, &deployment, dir.path()).await;
        let scheduler_data = dir.path().join("scheduler").display().to_string();
        let mut first = settler(&rpc, deployment_arg, &scheduler_data);
        let user = L1Client::connect(&rpc, DEV_KEYS[1])
            .await
            .expect("L1 user")
            .attach(line.deployment);
        let operator = L1Client::connect(&rpc, DEV_KEYS[0])
            .await
            .expect("L1 operator")
            .attach(line.deployment);
        let alice = KeyPair::from_private(Felt::from(9_001u32));
        let bob = KeyPair::from_private(Felt::from(9_002u32));

        // L1 → L2: the watcher admits the bridge deposit; it lands in a block.
        user.deposit(alice.address(), U256::from(1_000u32))
            .await
            .expect("bridge deposit");
        until(&line, "the deposit reached L2", || async {
            line.balance(alice.address()).await == 1_000
        })
        .await;
        let to_l2 = started.elapsed();

        // L2: deploy, two transfers, a withdrawal to the user's L1 address.
        let l1_recipient = address_to_felt(user.address());
        let txs = [
            Transaction::deploy_account(&alice),
            Transaction::transfer(&alice, 1, bob.address(), 10),
            Transaction::transfer(&alice, 2, bob.address(), 20),
            Transaction::withdraw(&alice, 3, l1_recipient, 100),
        ];
        let mut hashes = Vec::new();
        for tx in &txs {
            hashes.push(line.l2.add_transaction(tx).await.expect("admitted"));
        }

        // The settler is killed as soon as its first verification has a statement mined:
        // halfway through it (a chunk's verification is seven statements and verifyProof).
        let statements = [
            verifier.merkle,
            verifier.quotients,
            verifier.fri,
            verifier.composition,
        ];
        let deadline = Instant::now() + PATIENCE;
        while !first.output().contains("verification transaction mined") {
            assert!(
                Instant::now() < deadline,
                "no statement sent:\n{}\n--- settler:\n{}",
                line.output(),
                first.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        first.sigkill();
        let before = calls_to(&operator, &statements).await.len();
        assert!(
            (1..7).contains(&before),
            "{before} statements on chain when the settler was killed:\n{}",
            first.output()
        );
        assert!(
            calls_to(&operator, &[verifier.registry]).await.is_empty(),
            "no verifyProof before the restart"
        );
        let second = settler(&rpc, deployment_arg, &scheduler_data);

        // Every transaction (the deposit's block included) becomes ACCEPTED_ON_L1.
        for hash in &hashes {
            until(&line, "ACCEPTED_ON_L1", || async {
                let status = line.l2.status(*hash).await;
                status.is_ok_and(|s| s.finality_status == "ACCEPTED_ON_L1")
            })
            .await;
        }
        let to_l1 = started.elapsed();
        let resumed = second.output();
        assert!(
            resumed.contains("each range's proof verified on chain")
                && resumed.contains("statement on chain already: not sent"),
            "the restarted settler resumes:\n{resumed}"
        );

        // L1 holds the sequencer's latest root, number and hash.
        support::assert_l1_matches_l2(&line.l2, &operator).await;

        // No statement, and no verifyProof, was sent twice.
        let all = [&statements[..], &[verifier.registry][..]].concat();
        let calls = calls_to(&operator, &all).await;
        let distinct: HashSet<&Bytes> = calls.iter().map(|(_, _, data)| data).collect();
        assert_eq!(
            distinct.len(),
            calls.len(),
            "a verification transaction sent twice"
        );
        let proofs = calls
            .iter()
            .filter(|(_, to, _)| *to == verifier.registry)
            .count();
        assert!(
            proofs >= 2,
            "a range per deposit block and per L2 batch: {proofs}"
        );

        // Each registered fact was invalid before its verifyProof's block and valid after.
        let registry = StwoFactRegistry::new(verifier.registry, operator.provider().clone());
        let verified = registry
            .LogProofVerified_filter()
            .from_block(0)
            .query()
            .await
            .expect("logs");
        assert_eq!(verified.len(), proofs, "one fact per verifyProof");
        for (event, log) in &verified {
            let at = log.block_number.expect("mined");
            let valid = |block: u64| {
                let registry = &registry;
                async move {
                    registry
                        .isValid(event.fact)
                        .block(block.into())
                        .call()
                        .await
                        .expect("isValid")
                }
            };
            assert!(
                !valid(at - 1).await,
                "fact {} valid before its proof",
                event.fact
            );
            assert!(
                valid(at).await,
                "fact {} not valid after its proof",
                event.fact
            );
        }

        // Balances on L2; the withdrawal is consumable on L1, once.
        assert_eq!(line.balance(alice.address()).await, 1_000 - 10 - 20 - 100);
        assert_eq!(line.balance(bob.address()).await, 30);
        user.consume_withdrawal(alice.address(), 100)
            .await
            .expect("the withdrawal is consumable after settlement");
        let again = user.consume_withdrawal(alice.address(), 100).await;
        assert_eq!(
            again.expect_err("consumed once").revert_reason(),
            Some("INVALID_MESSAGE_TO_CONSUME")
        );
        eprintln!(
            "deposit on L2 after {:.1} s; all {} transactions ACCEPTED_ON_L1 through the \
             verifier after {:.1} s ({proofs} proofs verified, {before} statements before the \
             restart)",
            to_l2.as_secs_f64(),
            hashes.len(),
            to_l1.as_secs_f64()
        );
    });
}

/// `starfarm l1 deploy` (the default, `--verifier stwo`: a registry that verifies, accepting
/// fibonacci's program) and `starfarm l1 verify`: a Keccak-channel proof's statements and
/// `verifyProof` are sent, the artifact's fact (the claim's) becomes valid; a second run
/// finds every statement on chain and sends only `verifyProof`; the settlement line refuses
/// an attesting key for that deployment, and without one settles through the verifier.
#[test]
fn a_proof_verified_on_chain_by_the_cli_registers_its_fact_and_a_rerun_resumes() {
    let Some(anvil) = Anvil::for_tests() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let starfarm = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_starfarm"))
            .args(args)
            // The line must read this test's job store and take no key from the caller.
            .env_remove("STARFARM_POSTGRES_URL")
            .env_remove("STARFARM_ATTEST_KEY")
            .output()
            .expect("starfarm runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8").to_owned();
    let rpc = ["--rpc", anvil.url.as_str(), "--key", DEV_KEYS[0]];
    let program = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fibonacci.json");
    std::fs::write(path("input.json"), "[100]").expect("input");
    let proof = path("fib.bin");
    let (ok, out) = starfarm(&[
        "prove",
        program,
        "-i",
        &path("input.json"),
        // The Keccak channel at 20 bits: the profile of chunks a verifying deployment settles.
        "--profile",
        "l1-test",
        "-o",
        &proof,
    ]);
    assert!(ok, "{out}");

    let deployment = path("l1-deployment.json");
    // The registry accepts fibonacci's program and the l1-test profile's variant, at its 20
    // bits (NOT secure).
    let accept = ["--accept", &proof, "--min-security-bits", "20"];
    let (ok, out) = starfarm(
        &[
            &["l1", "deploy"][..],
            &rpc,
            &["--deployment", &deployment],
            &accept,
        ]
        .concat(),
    );
    assert!(ok, "{out}");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&deployment).expect("file")).expect("JSON");
    assert_eq!(file["verifier"]["registry"], file["registry"], "{file}");

    let verify = [
        &["l1", "verify", proof.as_str(), "--deployment", &deployment][..],
        &rpc,
    ]
    .concat();
    let (ok, out) = starfarm(&verify);
    assert!(ok, "{out}");
    // Four trees, the quotient setup, one quotient range (8 queries), FRI, the composition,
    // verifyProof.
    assert!(out.contains("9 transactions sent"), "{out}");
    assert!(
        out.contains("verifyProof") && out.contains("valid in"),
        "{out}"
    );
    let (ok, out) = starfarm(&verify);
    assert!(ok, "{out}");
    // The table's rows (the log says so too, in other words).
    let on_chain = out.lines().filter(|l| l.ends_with(" on chain")).count();
    assert_eq!(on_chain, 8, "{out}");
    assert!(out.contains("1 transactions sent"), "{out}");

    let settle = [
        &[
            "l1",
            "settle",
            "--once",
            "--deployment",
            &deployment,
            "--attest-key",
            DEV_KEYS[1],
        ][..],
        &rpc,
    ]
    .concat();
    let (ok, out) = starfarm(&settle);
    assert!(!ok && out.contains("trusts no attesting key"), "{out}");

    // Without a key, the line settles through the verifier: nothing is proven yet here.
    let scheduler = path("scheduler");
    std::fs::create_dir_all(&scheduler).expect("scheduler folder");
    let settle = [
        &[
            "l1",
            "settle",
            "--once",
            "--deployment",
            &deployment,
            "--scheduler-data",
            &scheduler,
        ][..],
        &rpc,
    ]
    .concat();
    let (ok, out) = starfarm(&settle);
    assert!(ok, "{out}");
    assert!(
        out.contains("verified on chain") && out.contains("block 0 is not proven yet"),
        "{out}"
    );
}
