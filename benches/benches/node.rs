//! Node catch-up benchmark: a sequencer (in process) produces a chain of blocks of signed
//! transfers and publishes it to a folder; then a fresh node of each mode catches up from
//! that folder (l1: with every block settled, L1's roots and hashes taken from the
//! manifests, so no Ethereum node's latency). Anchor in the same run: the sequencer's own production rate (admission,
//! execution, sealing and commit of the same blocks).
//!
//! Run: `cargo bench --workspace --profile dev --bench node`.
//! Environment: STARFARM_BENCH_BLOCKS (default 200), STARFARM_BENCH_BLOCK_TXS (transfers per
//! block, default 50). Writes target/bench-node.json.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use starfarm_benches::env_list;
use starfarm_sequencer::chain::BoxFuture;
use starfarm_sequencer::chain::TxSubmitter;
use starfarm_sequencer::node::{
    BlockSource, L1Gate, Mode, Node, Settled, SettledBlocks, SourceError, Syncer,
};
use starfarm_sequencer::publish::Publisher;
use starfarm_sequencer::service::{Sequencer, SequencerConfig};
use starfarm_sequencer::testing::open_account;
use starfarm_sequencer::tx::{KeyPair, Transaction};
use starfarm_sequencer::Felt;

fn keys(i: u64) -> KeyPair {
    KeyPair::from_private(Felt::from(70_000 + i))
}

/// L1 that settled every published block, with the manifests' roots and hashes: the l1
/// mode's own cost (the gate, L1's checks), without an Ethereum node's latency.
struct AllSettled(Publisher);

impl SettledBlocks for AllSettled {
    fn last_settled(&self) -> BoxFuture<'_, Result<Option<u64>, SourceError>> {
        BlockSource::highest(&self.0)
    }

    fn settled(&self, number: u64) -> BoxFuture<'_, Result<Option<Settled>, SourceError>> {
        Box::pin(async move {
            let manifest = self.0.manifest(number).await?;
            Ok(manifest.map(|m| Settled {
                number: m.number,
                state_root: m.state_root,
                block_hash: m.block_hash,
            }))
        })
    }
}

fn source(mode: Mode, publisher: &Publisher) -> Arc<dyn BlockSource> {
    let published = Arc::new(publisher.clone());
    match mode {
        Mode::L1 => Arc::new(L1Gate {
            source: published,
            l1: Arc::new(AllSettled(publisher.clone())),
        }),
        _ => published,
    }
}

fn main() -> Result<()> {
    let blocks = u64::from(env_list("STARFARM_BENCH_BLOCKS", &[200])[0]);
    let per_block = u64::from(env_list("STARFARM_BENCH_BLOCK_TXS", &[50])[0]);
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let publisher =
            Publisher::from_location(dir.path().join("objects").to_str().context("UTF-8 path")?)?;
        let mut config = SequencerConfig::new(dir.path().join("sequencer"));
        config.block_time = Duration::from_secs(3600);
        let seq = Sequencer::start(config, Some(publisher.clone()))?;
        // One sender per transfer of a block: each block holds one transfer per account.
        let accounts: Vec<KeyPair> = (0..per_block).map(keys).collect();
        for (i, k) in accounts.iter().enumerate() {
            open_account(seq.as_ref(), k, u64::MAX as u128, Felt::ONE, i as u64).await?;
        }
        seq.close_block().await?;
        let signed: Vec<Vec<Transaction>> = (1..blocks)
            .map(|round| {
                accounts
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        let to = keys((i as u64 + round) % per_block).address();
                        Transaction::transfer(k, round, to, 1)
                    })
                    .collect()
            })
            .collect();
        let started = Instant::now();
        let mut txs = 2 * per_block;
        for block in signed {
            txs += block.len() as u64;
            for tx in block {
                seq.submit(tx).await?;
            }
            seq.close_block().await?;
        }
        let produce = started.elapsed().as_secs_f64();
        while publisher.highest_published().await? < Some(blocks - 1) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        seq.shutdown().await;
        let mut rows = vec![json!({
            "who": "sequencer (admission + production)",
            "blocks": blocks - 1,
            "seconds": produce,
            "blocks_per_s": (blocks - 1) as f64 / produce,
            "tx_per_s": (txs - 2 * per_block) as f64 / produce,
        })];
        println!(
            "sequencer: {} blocks in {produce:.2}s ({:.1} blocks/s, {:.0} tx/s)",
            blocks - 1,
            (blocks - 1) as f64 / produce,
            (txs - 2 * per_block) as f64 / produce
        );
        for mode in [Mode::Replay, Mode::L2, Mode::L1] {
            let node = Node::open(dir.path().join(mode.as_str()), mode)?;
            let syncer = Syncer::new(Arc::clone(&node), source(mode, &publisher));
            let started = Instant::now();
            let progress = syncer.catch_up(&mut |_| {}).await?;
            let seconds = started.elapsed().as_secs_f64();
            anyhow::ensure!(progress.synced == Some(blocks - 1), "{mode}: {progress:?}");
            println!(
                "node {mode}: {} blocks, {} tx in {seconds:.2}s ({:.1} blocks/s, {:.0} tx/s)",
                progress.blocks,
                progress.transactions,
                progress.blocks as f64 / seconds,
                progress.transactions as f64 / seconds
            );
            rows.push(json!({
                "who": format!("node {mode}"),
                "blocks": progress.blocks,
                "transactions": progress.transactions,
                "seconds": seconds,
                "blocks_per_s": progress.blocks as f64 / seconds,
                "tx_per_s": progress.transactions as f64 / seconds,
            }));
        }
        let out = starfarm_benches::repo_root().join("target/bench-node.json");
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(
            &out,
            serde_json::to_vec_pretty(&json!({ "results": rows }))?,
        )?;
        println!("wrote {}", out.display());
        Ok(())
    })
}
