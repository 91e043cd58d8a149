//! Sequencer benchmark: signed-transfer admission rate (in-process and over JSON-RPC), and the
//! time to close a block of 1,000 transfers. Anchor in the same run: the rate of the signature
//! checks alone on 2 threads (admission's ceiling if nothing else cost anything).
//!
//! Run: `cargo bench --workspace --profile dev --bench sequencer`.
//! Environment: STARFARM_BENCH_TXS (transfers per admission run, default 20000),
//! STARFARM_BENCH_SENDERS (concurrent senders = accounts, default 64), STARFARM_BENCH_BLOCK
//! (transfers in the closed block, default 1000). Writes target/bench-sequencer.json.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde_json::json;
use starfarm_benches::env_list;
use starfarm_sequencer::chain::TxSubmitter;
use starfarm_sequencer::client::Client;
use starfarm_sequencer::ecdsa::VerifyingKey;
use starfarm_sequencer::endpoint;
use starfarm_sequencer::rpc::RpcConfig;
use starfarm_sequencer::service::{Sequencer, SequencerConfig};
use starfarm_sequencer::testing::open_account;
use starfarm_sequencer::tx::{KeyPair, Transaction};
use starfarm_sequencer::Felt;

fn keys(i: u64) -> KeyPair {
    KeyPair::from_private(Felt::from(50_000 + i))
}

fn config(dir: &std::path::Path, max_block_txs: usize) -> SequencerConfig {
    let mut config = SequencerConfig::new(dir.to_path_buf());
    config.block_time = Duration::from_millis(500);
    config.max_block_txs = max_block_txs;
    config.mempool.capacity = 1_000_000;
    config
}

/// Deposits to and deploys `accounts`, then closes a block so they are in the state.
async fn setup_accounts(seq: &Sequencer, accounts: &[KeyPair]) -> Result<()> {
    for (i, k) in accounts.iter().enumerate() {
        open_account(seq, k, u64::MAX as u128, Felt::ONE, i as u64).await?;
    }
    seq.close_block().await?;
    Ok(())
}

/// `per_sender` signed transfers per account, nonces from 1, signed in parallel.
fn signed_transfers(accounts: &[KeyPair], per_sender: u64) -> Vec<Vec<Transaction>> {
    accounts
        .par_iter()
        .map(|k| {
            (1..=per_sender)
                .map(|n| Transaction::transfer(k, n, keys(999_999).address(), 1))
                .collect()
        })
        .collect()
}

async fn admit_in_process(seq: Arc<Sequencer>, batches: Vec<Vec<Transaction>>) -> Result<f64> {
    let total: usize = batches.iter().map(Vec::len).sum();
    let start = Instant::now();
    let tasks: Vec<_> = batches
        .into_iter()
        .map(|txs| {
            let seq = Arc::clone(&seq);
            tokio::spawn(async move {
                for tx in txs {
                    seq.submit(tx).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

async fn admit_over_rpc(client: Client, batches: Vec<Vec<Transaction>>) -> Result<f64> {
    let total: usize = batches.iter().map(Vec::len).sum();
    let start = Instant::now();
    let tasks: Vec<_> = batches
        .into_iter()
        .map(|txs| {
            let client = client.clone();
            tokio::spawn(async move {
                for tx in txs {
                    client.add_transaction(&tx).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

fn signature_ceiling(batches: &[Vec<Transaction>]) -> Result<f64> {
    let checks: Vec<(VerifyingKey, Transaction)> = batches
        .iter()
        .flat_map(|b| b.iter().take(50))
        .map(|tx| {
            let Transaction::Transfer(t) = tx else {
                unreachable!("transfers only")
            };
            let key = VerifyingKey::from_public_key(keys_of(t.sender)).expect("valid key");
            (key, tx.clone())
        })
        .collect();
    let start = Instant::now();
    let ok = checks.par_iter().filter(|(k, tx)| {
        let sig = tx.signature().expect("signed");
        k.verify(tx.hash(), sig.r, sig.s)
    });
    anyhow::ensure!(ok.count() == checks.len(), "a signature failed");
    Ok(checks.len() as f64 / start.elapsed().as_secs_f64())
}

/// The public key of one of the bench accounts, by address.
fn keys_of(address: Felt) -> Felt {
    (0..10_000)
        .map(keys)
        .find(|k| k.address() == address)
        .map_or(Felt::ZERO, |k| k.public_key)
}

async fn admission(txs: u32, senders: u32) -> Result<serde_json::Value> {
    let accounts: Vec<KeyPair> = (0..senders as u64).map(keys).collect();
    let per_sender = (txs / senders).max(1) as u64;
    let ceiling = signature_ceiling(&signed_transfers(&accounts[..accounts.len().min(8)], 50))?;

    let dir = tempfile::tempdir()?;
    let seq = Sequencer::start(config(dir.path(), 5_000), None)?;
    setup_accounts(&seq, &accounts).await?;
    let in_process =
        admit_in_process(Arc::clone(&seq), signed_transfers(&accounts, per_sender)).await?;
    seq.shutdown().await;
    drop(seq);

    let dir = tempfile::tempdir()?;
    let seq = Sequencer::start(config(dir.path(), 5_000), None)?;
    setup_accounts(&seq, &accounts).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = endpoint::app(Arc::clone(&seq), RpcConfig::default());
    tokio::spawn(async move { axum_serve(listener, app).await });
    let rpc = admit_over_rpc(Client::new(url), signed_transfers(&accounts, per_sender)).await?;
    seq.shutdown().await;

    println!("admission: {in_process:.0} tx/s in process, {rpc:.0} tx/s over JSON-RPC ({senders} senders, {} transfers); signature checks alone: {ceiling:.0}/s on 2 threads", per_sender * senders as u64);
    Ok(
        json!({"in_process_tx_per_s": in_process, "json_rpc_tx_per_s": rpc, "signature_ceiling_per_s": ceiling, "senders": senders, "transfers": per_sender * senders as u64}),
    )
}

async fn axum_serve(listener: tokio::net::TcpListener, app: axum::Router) {
    let _ = axum::serve(listener, app).await;
}

async fn block_close(transfers: u32) -> Result<serde_json::Value> {
    let accounts: Vec<KeyPair> = (0..100).map(keys).collect();
    let dir = tempfile::tempdir()?;
    let mut cfg = config(dir.path(), transfers as usize + 1);
    cfg.block_time = Duration::from_secs(3600);
    let seq = Sequencer::start(cfg, None)?;
    setup_accounts(&seq, &accounts).await?;
    // Recipients are fresh addresses: each transfer touches two accounts and inserts a leaf.
    let txs: Vec<Transaction> = (0..transfers as u64)
        .into_par_iter()
        .map(|i| {
            let k = &accounts[(i % 100) as usize];
            Transaction::transfer(k, 1 + i / 100, Felt::from(1_000_000 + i), 1)
        })
        .collect();
    for tx in txs {
        seq.submit(tx).await?;
    }
    let start = Instant::now();
    let header = seq.close_block().await?.context("a block")?;
    let took = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        header.tx_count == transfers as u64,
        "block has {} transactions",
        header.tx_count
    );
    seq.shutdown().await;
    println!("block of {transfers} transfers (200 accounts touched, 100 new leaves per 100 txs): closed in {:.1} ms", took * 1e3);
    Ok(json!({"transfers": transfers, "close_ms": took * 1e3}))
}

fn main() -> Result<()> {
    let txs = env_list("STARFARM_BENCH_TXS", &[20_000])[0];
    let senders = env_list("STARFARM_BENCH_SENDERS", &[64])[0].max(1);
    let block = env_list("STARFARM_BENCH_BLOCK", &[1_000])[0].max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let admission = rt.block_on(admission(txs, senders))?;
    let close = rt.block_on(block_close(block))?;
    let out = json!({"avx2": cfg!(target_feature = "avx2"), "admission": admission, "block_close": close});
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-sequencer.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&out)?)?;
    println!("wrote {}", path.display());
    Ok(())
}
