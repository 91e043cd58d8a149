//! The sequencer service in-process: admission checks, block closing, state and statuses,
//! and restart from the database.

use std::sync::Arc;
use std::time::Duration;

use starfarm_sequencer::chain::{AdmissionError, BlockId, ChainReader, TxStatus, TxSubmitter};
use starfarm_sequencer::ecdsa::EC_ORDER;
use starfarm_sequencer::execute::ExecutionStatus;
use starfarm_sequencer::service::{Sequencer, SequencerConfig};
use starfarm_sequencer::state::global_root;
use starfarm_sequencer::tx::{Deposit, KeyPair, Transaction};
use starfarm_sequencer::Felt;

fn config(dir: &std::path::Path) -> SequencerConfig {
    let mut config = SequencerConfig::new(dir.to_path_buf());
    // Blocks close only on demand in these tests.
    config.block_time = Duration::from_secs(3600);
    config
}

fn keys(i: u64) -> KeyPair {
    KeyPair::from_private(Felt::from(1_000 + i))
}

fn deposit(to: Felt, amount: u128, l1_nonce: u64) -> Transaction {
    Transaction::Deposit(Deposit {
        l1_sender: Felt::from(0xabcu32),
        recipient: to,
        amount,
        l1_nonce,
    })
}

async fn funded(seq: &Arc<Sequencer>, who: &KeyPair, amount: u128, l1_nonce: u64) {
    seq.submit_deposit(deposit(who.address(), amount, l1_nonce))
        .await
        .expect("deposit admitted");
    seq.submit(Transaction::deploy_account(who))
        .await
        .expect("deploy admitted");
}

async fn wait_executed(seq: &Arc<Sequencer>, hash: Felt) -> ExecutionStatus {
    for _ in 0..500 {
        if let Some(receipt) = seq
            .transaction(hash)
            .expect("readable")
            .and_then(|r| r.receipt)
        {
            return receipt.execution_status;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{hash:#x} was not executed within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_close_into_a_block_with_the_right_state() {
    let dir = tempfile::tempdir().unwrap();
    let seq = Sequencer::start(config(dir.path()), None).unwrap();
    let (alice, bob, carol) = (keys(1), keys(2), keys(3));
    funded(&seq, &alice, 1_000, 0).await;
    seq.submit(Transaction::deploy_account(&bob)).await.unwrap();
    // Alice's nonce 2 is held until nonce 1 arrives; admission counts its 600 as coming to
    // Bob, so Bob may spend them — but his transfer runs first and is REVERTED.
    let a2 = seq
        .submit(Transaction::transfer(&alice, 2, bob.address(), 600))
        .await
        .unwrap();
    assert_eq!(
        seq.transaction(a2).unwrap().unwrap().status,
        TxStatus::Received
    );
    let b1 = seq
        .submit(Transaction::transfer(&bob, 1, carol.address(), 600))
        .await
        .unwrap();
    assert_eq!(wait_executed(&seq, b1).await, ExecutionStatus::Reverted);
    assert_eq!(
        seq.transaction(b1).unwrap().unwrap().status,
        TxStatus::PreConfirmed
    );
    let a1 = seq
        .submit(Transaction::transfer(&alice, 1, bob.address(), 100))
        .await
        .unwrap();
    assert_eq!(wait_executed(&seq, a2).await, ExecutionStatus::Succeeded);

    let header = seq.close_block().await.unwrap().expect("a block closes");
    assert_eq!(header.number, 0);
    assert_eq!(header.tx_count, 6);
    assert_eq!(header.block_hash, header.compute_hash());
    let block = seq.block(BlockId::Number(0)).unwrap().unwrap();
    let status = |h: Felt| {
        let i = block
            .receipts
            .iter()
            .position(|r| r.transaction_hash == h)
            .unwrap();
        block.receipts[i].execution_status
    };
    assert_eq!(status(a1), ExecutionStatus::Succeeded);
    assert_eq!(status(b1), ExecutionStatus::Reverted);
    let a = seq
        .account(alice.address(), BlockId::Latest)
        .unwrap()
        .unwrap();
    let b = seq
        .account(bob.address(), BlockId::Latest)
        .unwrap()
        .unwrap();
    let c = seq
        .account(carol.address(), BlockId::Latest)
        .unwrap()
        .unwrap();
    assert_eq!((a.balance, a.nonce), (300, 3));
    assert_eq!((b.balance, b.nonce, b.is_deployed()), (700, 2, true));
    assert!(c.is_empty(), "the reverted transfer left nothing");
    assert_ne!(header.state_root, global_root(Felt::ZERO));
    assert_eq!(
        seq.transaction(b1).unwrap().unwrap().status,
        TxStatus::AcceptedOnL2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_refuses_with_reasons_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let seq = Sequencer::start(config(dir.path()), None).unwrap();
    let (alice, bob) = (keys(1), keys(2));
    funded(&seq, &alice, 100, 0).await;
    let transfer = Transaction::transfer(&alice, 1, bob.address(), 50);
    seq.submit(transfer.clone()).await.unwrap();

    assert!(matches!(
        seq.submit(transfer).await,
        Err(AdmissionError::Duplicate(_))
    ));
    assert!(matches!(
        seq.submit(Transaction::transfer(&alice, 1, bob.address(), 7))
            .await,
        Err(AdmissionError::NonceTooOld {
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        seq.submit(Transaction::transfer(&alice, 500, bob.address(), 7))
            .await,
        Err(AdmissionError::NonceTooFar { .. })
    ));
    assert!(matches!(
        seq.submit(Transaction::transfer(&bob, 0, alice.address(), 1))
            .await,
        Err(AdmissionError::NotDeployed(_))
    ));
    assert!(matches!(
        seq.submit(Transaction::transfer(&alice, 2, bob.address(), 101))
            .await,
        Err(AdmissionError::Balance { .. })
    ));
    let mut forged = Transaction::transfer(&alice, 2, bob.address(), 5);
    if let Transaction::Transfer(t) = &mut forged {
        t.amount = 6;
    }
    assert!(matches!(
        seq.submit(forged).await,
        Err(AdmissionError::Signature)
    ));
    assert!(matches!(
        seq.submit(deposit(bob.address(), 5, 9)).await,
        Err(AdmissionError::DepositNotAllowed)
    ));
    assert!(matches!(
        seq.submit(Transaction::deploy_account(&alice)).await,
        Err(AdmissionError::Duplicate(_))
    ));

    let header = seq.close_block().await.unwrap().unwrap();
    assert_eq!(
        header.tx_count, 3,
        "only the deposit, the deploy and one transfer"
    );
    let a = seq
        .account(alice.address(), BlockId::Latest)
        .unwrap()
        .unwrap();
    assert_eq!((a.balance, a.nonce), (50, 2));
}

/// Malleability (docs/sequencer.md): (r, s) and (r, n − s) both verify, and wallets such as
/// starknet.js sign with either; the block program accepts only s ≤ (n − 1)/2. Admission
/// takes either and records the low one (the hash, which does not cover the signature, is
/// the same), so every block holds canonical signatures; the same transaction sent again in
/// the other form is a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_records_the_low_s_form_of_a_signature() {
    let dir = tempfile::tempdir().unwrap();
    let seq = Sequencer::start(config(dir.path()), None).unwrap();
    let (alice, bob) = (keys(1), keys(2));
    funded(&seq, &alice, 100, 0).await;
    let canonical = Transaction::transfer(&alice, 1, bob.address(), 5);
    let signature = *canonical.signature().unwrap();
    assert!(signature.is_canonical(), "KeyPair::sign gives low s");
    let mut high = canonical.clone();
    if let Transaction::Transfer(t) = &mut high {
        t.signature.s = EC_ORDER - t.signature.s;
        assert!(!t.signature.is_canonical());
    }
    let hash = seq.submit(high.clone()).await.expect("(r, n - s) verifies");
    assert_eq!(hash, canonical.hash());
    let recorded = seq.transaction(hash).unwrap().unwrap().transaction;
    assert_eq!(recorded.signature(), Some(&signature), "stored as (r, s)");
    assert!(matches!(
        seq.submit(canonical).await,
        Err(AdmissionError::Duplicate(_))
    ));
    seq.close_block().await.unwrap().unwrap();
    let block = seq.block(BlockId::Number(0)).unwrap().unwrap();
    assert!(block
        .transactions
        .iter()
        .filter_map(Transaction::signature)
        .all(|s| s.is_canonical()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_blocks_and_logged_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (keys(1), keys(2));
    let (root, pending) = {
        let seq = Sequencer::start(config(dir.path()), None).unwrap();
        funded(&seq, &alice, 100, 0).await;
        let header = seq.close_block().await.unwrap().unwrap();
        let pending = seq
            .submit(Transaction::transfer(&alice, 1, bob.address(), 40))
            .await
            .unwrap();
        seq.shutdown().await;
        (header.state_root, pending)
    };
    // A new instance on the same folder sees block 0 and the logged transfer.
    let seq = Sequencer::start(config(dir.path()), None).unwrap();
    assert_eq!(seq.latest_header().unwrap().unwrap().state_root, root);
    assert_eq!(
        seq.transaction(pending).unwrap().unwrap().status,
        TxStatus::Received
    );
    let header = seq.close_block().await.unwrap().unwrap();
    assert_eq!((header.number, header.tx_count), (1, 1));
    let b = seq
        .account(bob.address(), BlockId::Latest)
        .unwrap()
        .unwrap();
    assert_eq!(b.balance, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_close_on_count_step_budget_and_timer() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.max_block_txs = 3;
    let seq = Sequencer::start(cfg, None).unwrap();
    for n in 0..7 {
        seq.submit_deposit(deposit(keys(1).address(), 1, n))
            .await
            .unwrap();
    }
    // 7 deposits with room for 3 per block: two full blocks close by themselves.
    let mut waited = 0;
    while seq.latest_header().unwrap().map(|h| h.number) != Some(1) && waited < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(
        seq.block(BlockId::Number(0))
            .unwrap()
            .unwrap()
            .header
            .tx_count,
        3
    );
    assert_eq!(
        seq.block(BlockId::Number(1))
            .unwrap()
            .unwrap()
            .header
            .tx_count,
        3
    );
    seq.shutdown().await;
    drop(seq);

    // Step budget: a deposit is estimated at 800 steps, so a 2,000-step budget closes
    // blocks of 3 (the transaction that crosses the budget is the last one).
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.max_block_steps = 2_000;
    let seq = Sequencer::start(cfg, None).unwrap();
    for n in 0..3 {
        seq.submit_deposit(deposit(keys(1).address(), 1, n))
            .await
            .unwrap();
    }
    let mut waited = 0;
    while seq.latest_header().unwrap().is_none() && waited < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(seq.latest_header().unwrap().map(|h| h.tx_count), Some(3));
    seq.shutdown().await;
    drop(seq);

    // Timer: a block closes by itself `block_time` after its first transaction.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.block_time = Duration::from_millis(200);
    let seq = Sequencer::start(cfg, None).unwrap();
    seq.submit_deposit(deposit(keys(1).address(), 1, 0))
        .await
        .unwrap();
    assert!(seq.latest_header().unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(seq.latest_header().unwrap().map(|h| h.tx_count), Some(1));
    seq.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_while_admission_is_busy() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let seq = Sequencer::start(config(dir.path()), None).unwrap();
        let senders: Vec<_> = (0..64u64)
            .map(|i| {
                let seq = Arc::clone(&seq);
                tokio::spawn(async move {
                    for n in 0..20 {
                        let _ = seq
                            .submit_deposit(deposit(keys(i).address(), 1, i * 100 + n))
                            .await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(5 * round)).await;
        let stopped = tokio::time::timeout(Duration::from_secs(10), seq.shutdown()).await;
        assert!(stopped.is_ok(), "round {round}: shutdown hung");
        for s in senders {
            s.abort();
        }
    }
}
