//! A node in process against an in-process sequencer publishing to a folder: both modes
//! reproduce every block, resume on reopen, and refuse a block whose diff was altered.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::publish::Publisher;
use crate::service::{Sequencer, SequencerConfig};
use crate::testing::{open_account, runtime};
use crate::tx::KeyPair;

async fn chain(dir: &std::path::Path, blocks: u64) -> (Arc<Sequencer>, Publisher) {
    let publisher = Publisher::from_location(dir.join("objects").to_str().unwrap()).unwrap();
    let mut config = SequencerConfig::new(dir.join("sequencer"));
    config.block_time = Duration::from_secs(3600);
    let seq = Sequencer::start(config, Some(publisher.clone())).unwrap();
    let keys: Vec<KeyPair> = (1..=3)
        .map(|i| KeyPair::from_private(Felt::from(i)))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        open_account(seq.as_ref(), k, 1_000, Felt::ONE, i as u64)
            .await
            .unwrap();
    }
    seq.close_block().await.unwrap().unwrap();
    for round in 1..blocks {
        for (i, k) in keys.iter().enumerate() {
            let to = keys[(i + 1) % keys.len()].address();
            let tx = Transaction::transfer(k, round, to, round as u128);
            seq.submit(tx).await.unwrap();
        }
        seq.close_block().await.unwrap().unwrap();
    }
    while publisher.highest_published().await.unwrap() < Some(blocks - 1) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (seq, publisher)
}

#[test]
fn both_modes_reproduce_every_block_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (seq, publisher) = chain(dir.path(), 4).await;
        for mode in [Mode::Replay, Mode::L2] {
            let data = dir.path().join(mode.as_str());
            let node = Node::open(data.clone(), mode).unwrap();
            let syncer = Syncer::new(Arc::clone(&node), Arc::new(publisher.clone()));
            syncer.refresh_highest().await.unwrap();
            let behind = node.sync_status().unwrap();
            assert_eq!((behind.synced_block, behind.blocks_behind), (None, 4));
            let progress = syncer.catch_up(&mut |_| {}).await.unwrap();
            assert_eq!((progress.synced, progress.blocks), (Some(3), 4), "{mode}");
            for n in 0..4 {
                assert_eq!(
                    node.block(BlockId::Number(n)).unwrap(),
                    seq.block(BlockId::Number(n)).unwrap(),
                    "{mode} block {n}"
                );
            }
            let status = node.sync_status().unwrap();
            assert_eq!(status.blocks_behind, 0);
            drop(syncer);
            drop(node);
            let node = Node::open(data.clone(), mode).unwrap();
            assert_eq!(node.latest().map(|h| h.number), Some(3));
            assert_eq!(node.sync_status().unwrap().starting_block, 4);
            drop(node);
            let other = if mode == Mode::Replay {
                Mode::L2
            } else {
                Mode::Replay
            };
            assert!(matches!(
                Node::open(data, other),
                Err(NodeError::ModeMismatch { .. })
            ));
        }
        seq.shutdown().await;
    });
}

/// Serves a publisher's blocks with block `number` altered by `edit`.
struct Altered<F> {
    inner: Publisher,
    number: u64,
    edit: F,
}

impl<F: Fn(&mut Block) + Send + Sync + 'static> BlockSource for Altered<F> {
    fn highest(&self) -> BoxFuture<'_, Result<Option<u64>, SourceError>> {
        self.inner.highest()
    }

    fn fetch(&self, number: u64) -> BoxFuture<'_, Result<Option<Published>, SourceError>> {
        Box::pin(async move {
            let mut published = BlockSource::fetch(&self.inner, number).await?;
            if let Some(p) = published.as_mut().filter(|_| number == self.number) {
                (self.edit)(&mut p.block);
            }
            Ok(published)
        })
    }
}

type Edit = (&'static str, fn(&mut Block));

#[test]
fn altered_diffs_and_roots_are_refused_and_the_state_stays() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (seq, publisher) = chain(dir.path(), 3).await;
        let edits: [Edit; 3] = [
            ("diff", |b| b.state_diff.accounts[0].after.balance += 1),
            ("root", |b| b.header.state_root += Felt::ONE),
            ("tx", |b| b.transactions.swap(0, 1)),
        ];
        for (name, edit) in edits {
            for mode in [Mode::Replay, Mode::L2] {
                let data = dir.path().join(format!("{mode}-{name}"));
                let node = Node::open(data, mode).unwrap();
                let source = Altered {
                    inner: publisher.clone(),
                    number: 2,
                    edit,
                };
                let syncer = Syncer::new(Arc::clone(&node), Arc::new(source));
                let err = syncer.catch_up(&mut |_| {}).await.unwrap_err();
                let SyncError::Refused(refusal) = err else {
                    panic!("{mode} {name}: {err}");
                };
                assert_eq!(refusal.block_number, 2, "{mode} {name}");
                assert_eq!(node.latest().map(|h| h.number), Some(1), "{mode} {name}");
                assert_eq!(node.metrics.refused_block.get(), 2);
                assert!(node.sync_status().unwrap().refused.is_some());
                // Refused for good: a later catch-up does not apply it either.
                assert!(syncer.catch_up(&mut |_| {}).await.is_err());
                assert!(node.store().block(2).unwrap().is_none());
            }
        }
        seq.shutdown().await;
    });
}
