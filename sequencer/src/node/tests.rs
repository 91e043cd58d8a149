//! A node in process against an in-process sequencer publishing to a folder: every mode
//! reproduces every block, resumes on reopen, and refuses a block whose diff was altered; an
//! l1 node applies only the blocks a (fake) L1 settled, and refuses one L1 disagrees with.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::hash::address_upper_bound;
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
/// `node` syncing from `publisher` with block 2 changed by `edit` (`what` names the case):
/// the syncer and the refusal of block 2 it must end in.
async fn refused_block_2(
    node: &Arc<Node>,
    publisher: &Publisher,
    edit: fn(&mut Block),
    what: &str,
) -> (Syncer, Refusal) {
    let source = Altered {
        inner: publisher.clone(),
        number: 2,
        edit,
    };
    let syncer = Syncer::new(Arc::clone(node), Arc::new(source));
    let err = syncer.catch_up(&mut |_| {}).await.unwrap_err();
    let SyncError::Refused(refusal) = err else {
        panic!("{what}: {err}");
    };
    assert_eq!(refusal.block_number, 2, "{what}");
    (syncer, refusal)
}

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
        let edits: [Edit; 6] = [
            ("diff", |b| b.state_diff.accounts[0].after.balance += 1),
            ("root", |b| b.header.state_root += Felt::ONE),
            ("tx", |b| b.transactions.swap(0, 1)),
            // Leaves the root as it is: refused for the diff's sake alone.
            ("no-op", |b| {
                b.state_diff.accounts.push(crate::block::AccountDiff {
                    address: address_upper_bound() - Felt::ONE,
                    before: Default::default(),
                    after: Default::default(),
                });
            }),
            ("address", |b| {
                let mut beyond = b.state_diff.accounts[0].clone();
                beyond.address = Felt::MAX;
                b.state_diff.accounts.push(beyond);
            }),
            ("duplicate", |b| {
                let first = b.state_diff.accounts[0].clone();
                b.state_diff.accounts.insert(0, first);
            }),
        ];
        for (name, edit) in edits {
            for mode in [Mode::Replay, Mode::L2] {
                let data = dir.path().join(format!("{mode}-{name}"));
                let node = Node::open(data.clone(), mode).unwrap();
                let (syncer, refusal) =
                    refused_block_2(&node, &publisher, edit, &format!("{mode} {name}")).await;
                let expected = match (mode, name) {
                    (Mode::L2, "no-op") => "listed but unchanged",
                    (Mode::L2, "duplicate") => "not strictly increasing",
                    (Mode::L2, "address") => "not an L2 address",
                    _ => "",
                };
                assert!(refusal.reason.contains(expected), "{}", refusal.reason);
                assert_eq!(node.latest().map(|h| h.number), Some(1), "{mode} {name}");
                assert_eq!(node.metrics.refused_block.get(), 2);
                assert!(node.sync_status().unwrap().refused.is_some());
                // Refused for good: a later catch-up does not apply it either.
                assert!(syncer.catch_up(&mut |_| {}).await.is_err());
                assert!(node.store().block(2).unwrap().is_none());
                // Still refused after a restart, until the refusal file is deleted.
                drop((syncer, node));
                let node = Node::open(data.clone(), mode).unwrap();
                assert_eq!(node.refused(), Some(refusal), "{mode} {name}");
                assert_eq!(node.metrics.refused_block.get(), 2);
                drop(node);
                std::fs::remove_file(data.join(REFUSAL_FILE)).unwrap();
                assert_eq!(Node::open(data, mode).unwrap().refused(), None);
            }
        }
        // A malleated signature (r, n − s): the hashes, commitment and roots are unchanged, so
        // only a replaying node, which checks signatures as the block program does (low s
        // only), refuses it.
        let node = Node::open(dir.path().join("replay-high-s"), Mode::Replay).unwrap();
        let edit: fn(&mut Block) = |b| {
            if let Some(Transaction::Transfer(t)) = b.transactions.first_mut() {
                t.signature.s = crate::ecdsa::EC_ORDER - t.signature.s;
            }
        };
        let (_, refusal) = refused_block_2(&node, &publisher, edit, "high s").await;
        assert!(refusal.reason.contains("low-s"), "{}", refusal.reason);
        seq.shutdown().await;
    });
}

/// L1 as a list of settled blocks the test extends.
#[derive(Default)]
struct FakeL1(Mutex<Vec<Settled>>);

impl FakeL1 {
    fn settle(&self, header: &crate::block::BlockHeader) {
        self.0.lock().unwrap().push(Settled {
            number: header.number,
            state_root: header.state_root,
            block_hash: header.block_hash,
        });
    }
}

impl SettledBlocks for FakeL1 {
    fn last_settled(&self) -> BoxFuture<'_, Result<Option<u64>, SourceError>> {
        let last = self.0.lock().unwrap().last().map(|s| s.number);
        Box::pin(async move { Ok(last) })
    }

    fn settled(&self, number: u64) -> BoxFuture<'_, Result<Option<Settled>, SourceError>> {
        let found = self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.number == number)
            .copied();
        Box::pin(async move { Ok(found) })
    }
}

fn header(seq: &Sequencer, number: u64) -> crate::block::BlockHeader {
    seq.block(BlockId::Number(number)).unwrap().unwrap().header
}

#[test]
fn an_l1_node_applies_only_settled_blocks_and_refuses_what_l1_disagrees_with() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (seq, publisher) = chain(dir.path(), 4).await;
        let l1 = Arc::new(FakeL1::default());
        let node = Node::open(dir.path().join("l1"), Mode::L1).unwrap();
        let gate = L1Gate {
            source: Arc::new(publisher.clone()),
            l1: Arc::clone(&l1) as Arc<dyn SettledBlocks>,
        };
        let syncer = Syncer::new(Arc::clone(&node), Arc::new(gate));
        let progress = syncer.catch_up(&mut |_| {}).await.unwrap();
        assert_eq!((progress.synced, progress.highest), (None, None));
        for n in 0..2 {
            l1.settle(&header(&seq, n));
        }
        let progress = syncer.catch_up(&mut |_| {}).await.unwrap();
        assert_eq!((progress.synced, progress.highest), (Some(1), Some(1)));
        assert_eq!(node.sync_status().unwrap().blocks_behind, 0);
        l1.settle(&header(&seq, 2));
        assert_eq!(syncer.catch_up(&mut |_| {}).await.unwrap().synced, Some(2));
        assert_eq!(
            node.block(BlockId::Number(2)).unwrap(),
            seq.block(BlockId::Number(2)).unwrap()
        );
        // L1 recorded another root for block 3: the published block is refused.
        let mut other = header(&seq, 3);
        other.state_root += Felt::ONE;
        l1.settle(&other);
        let Err(SyncError::Refused(refusal)) = syncer.catch_up(&mut |_| {}).await else {
            panic!("block 3 applied against L1's root");
        };
        assert_eq!(refusal.block_number, 3);
        assert!(
            refusal.reason.contains("settled on L1"),
            "{}",
            refusal.reason
        );
        assert_eq!(node.latest().map(|h| h.number), Some(2));
        seq.shutdown().await;
    });
}

/// The sequencer's JSON-RPC server on a free port; its URL.
async fn serve_rpc(seq: &Arc<Sequencer>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = crate::endpoint::app(Arc::clone(seq), RpcConfig::default());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[test]
fn a_node_syncs_over_the_sequencers_json_rpc() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        // No block yet: nothing to apply, and no error.
        let mut config = SequencerConfig::new(dir.path().join("empty"));
        config.block_time = Duration::from_secs(3600);
        let empty = Sequencer::start(config, None).unwrap();
        let node = Node::open(dir.path().join("rpc-empty"), Mode::L2).unwrap();
        let source = RpcSource::new(serve_rpc(&empty).await);
        let syncer = Syncer::new(Arc::clone(&node), Arc::new(source));
        let progress = syncer.catch_up(&mut |_| {}).await.unwrap();
        assert_eq!((progress.synced, progress.highest), (None, None));

        let (seq, _) = chain(dir.path(), 3).await;
        for mode in [Mode::Replay, Mode::L2] {
            let node = Node::open(dir.path().join(format!("rpc-{mode}")), mode).unwrap();
            let source = RpcSource::new(serve_rpc(&seq).await);
            let syncer = Syncer::new(Arc::clone(&node), Arc::new(source));
            let progress = syncer.catch_up(&mut |_| {}).await.unwrap();
            assert_eq!((progress.synced, progress.highest), (Some(2), Some(2)));
            for n in 0..3 {
                assert_eq!(
                    node.block(BlockId::Number(n)).unwrap(),
                    seq.block(BlockId::Number(n)).unwrap(),
                    "{mode} block {n}"
                );
            }
        }
        seq.shutdown().await;
        empty.shutdown().await;
    });
}
