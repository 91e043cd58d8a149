//! Block ingestion and aggregation against a real in-process sequencer publishing to a
//! folder: planning, idempotent ingestion, the ingest loop and its cursor, routing of
//! aggregate jobs, then two chunks proven in-process (Test profile, the only proofs of this
//! file), handed in over HTTP (a proof of the wrong range is refused), aggregated into a
//! proven block; and a chunk completed with another range's artifact behind the API's back
//! fails the aggregation, naming the chunk.

// Helpers outside `#[test]` functions unwrap too (clippy's allow-unwrap-in-tests does not reach them).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use starfarm_prover::{CairoProgram, ProgramInput, Prover, SecurityProfile};
use starfarm_scheduler::api::{self, ApiConfig, ApiKeys, AppState};
use starfarm_scheduler::blobs::BlobStore;
use starfarm_scheduler::blocks::{
    aggregate_once, plan_ranges, proven_blocks, spawn_ingest, Aggregated, ChunkPayload,
    IngestConfig, IngestedBlock, Ingestor, AGGREGATOR_BACKEND,
};
use starfarm_scheduler::{
    ContentHash, Job, JobKind, JobState, JobStore, Readiness, SqliteStore, StoreConfig,
    WorkerCapabilities,
};
use starfarm_sequencer::block::BlockHeader;
use starfarm_sequencer::chain::TxSubmitter;
use starfarm_sequencer::program_input::with_prover_inputs;
use starfarm_sequencer::program_input::BlockProverInput;
use starfarm_sequencer::publish::Publisher;
use starfarm_sequencer::service::{estimated_steps, Sequencer, SequencerConfig};
use starfarm_sequencer::testing::{open_account, runtime};
use starfarm_sequencer::tx::{KeyPair, Transaction};
use starfarm_sequencer::Felt;

/// Deposit 800 + deploy 6,000 + 300 overhead + one transfer (6,000) fit; then two transfers
/// (`estimated_steps`).
const CHUNK_STEPS: u64 = 13_100;
const KEY: &str = "test-key";
const LEASE: Duration = Duration::from_secs(60);

/// Starts a sequencer publishing (with prover inputs) under `dir/objects`, makes block 0 of
/// a deposit, a deploy and three transfers, and waits until it is published.
async fn publish_block(dir: &Path) -> (Arc<Sequencer>, BlockHeader) {
    let objects = dir.join("objects");
    let publisher =
        with_prover_inputs(Publisher::from_location(objects.to_str().unwrap()).unwrap());
    let mut config = SequencerConfig::new(dir.join("sequencer"));
    config.block_time = Duration::from_secs(3600);
    let seq = Sequencer::start(config, Some(publisher.clone())).unwrap();
    let (alice, bob) = (
        KeyPair::from_private(Felt::from(501u32)),
        KeyPair::from_private(Felt::from(502u32)),
    );
    open_account(seq.as_ref(), &alice, 1_000, Felt::from(0xabcu32), 0)
        .await
        .unwrap();
    for nonce in 1..=3 {
        let tx = Transaction::transfer(&alice, nonce, bob.address(), 10);
        seq.submit(tx).await.unwrap();
    }
    let header = seq.close_block().await.unwrap().expect("a block");
    assert_eq!(header.tx_count, 5);
    for _ in 0..500 {
        if publisher.manifest(0).await.unwrap().is_some() {
            return (seq, header);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("block 0 was not published within 10 s");
}

struct Farm {
    store: Arc<dyn JobStore>,
    blobs: BlobStore,
    ingestor: Ingestor,
}

/// A SQLite job store named `name` and the shared blob folder, ingesting from `dir/objects`.
async fn farm(dir: &Path, name: &str) -> Farm {
    let store: Arc<dyn JobStore> = Arc::new(
        SqliteStore::open(dir.join(format!("{name}.sqlite")), StoreConfig::default())
            .await
            .unwrap(),
    );
    let blobs = BlobStore::open(dir.join("blobs").to_str().unwrap()).unwrap();
    let publisher = Publisher::from_location(dir.join("objects").to_str().unwrap()).unwrap();
    let config = IngestConfig {
        profile: SecurityProfile::Test,
        chunk_steps: CHUNK_STEPS,
        max_attempts: 3,
    };
    let ingestor = Ingestor::new(publisher, blobs.clone(), Arc::clone(&store), config)
        .await
        .unwrap();
    Farm {
        store,
        blobs,
        ingestor,
    }
}

fn payload(job: &Job) -> ChunkPayload {
    serde_json::from_value(job.spec.payload.clone()).unwrap()
}

async fn prover_input(dir: &Path) -> BlockProverInput {
    let publisher = Publisher::from_location(dir.join("objects").to_str().unwrap()).unwrap();
    let manifest = publisher.manifest(0).await.unwrap().unwrap();
    let bytes = publisher
        .get_object(manifest.prover_input.as_ref().unwrap())
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Claims the next job a worker for `kind` gets.
async fn claim(
    store: &Arc<dyn JobStore>,
    kind: JobKind,
) -> Option<(Job, starfarm_scheduler::Lease)> {
    let worker = WorkerCapabilities {
        memory_bytes: u64::MAX,
        device_memory_bytes: 0,
        backends: vec!["cpu".into()],
        kinds: vec![kind],
    };
    store.claim("test-worker", &worker, LEASE).await.unwrap()
}

#[test]
fn blocks_are_ingested_into_chunks_and_an_aggregate_once() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        // Before the sequencer publishes anything (its folder does not exist), nothing to do.
        let empty = farm(dir.path(), "early").await;
        let cursor = dir.path().join("cursors/early");
        assert_eq!(empty.ingestor.ingest_new(&cursor).await.unwrap(), 0);

        let (_seq, header) = publish_block(dir.path()).await;
        let input = prover_input(dir.path()).await;
        let f = farm(dir.path(), "jobs").await;
        let block = f
            .ingestor
            .ingest(0)
            .await
            .unwrap()
            .expect("block 0 is published");
        check_plan(&f, &block, &header, &input).await;

        // Again: the same jobs, none created.
        let again = f.ingestor.ingest(0).await.unwrap().unwrap();
        assert_eq!(again.created, 0);
        assert_eq!(ids(&again.chunks), ids(&block.chunks));
        assert_eq!(again.aggregate.id, block.aggregate.id);
        assert!(
            f.ingestor.ingest(1).await.unwrap().is_none(),
            "block 1 is not published"
        );

        // The loop follows the cursor and, the block known, creates nothing new.
        let cursor = dir.path().join("cursors/jobs");
        let handle = spawn_ingest(
            f.ingestor.clone(),
            cursor.clone(),
            Duration::from_millis(20),
        );
        let mut advanced = false;
        for _ in 0..250 {
            if std::fs::read_to_string(&cursor).is_ok_and(|c| c.trim() == "1") {
                advanced = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        handle.abort();
        assert!(advanced, "the ingest loop moved the cursor past block 0");
        let counts = f.store.counts().await.unwrap();
        assert_eq!(counts[&JobState::Queued], block.chunks.len() as u64 + 1);

        // A proving worker that takes every kind gets the chunks, never the aggregate.
        let any = WorkerCapabilities {
            memory_bytes: u64::MAX,
            device_memory_bytes: 0,
            backends: vec!["cpu".into()],
            kinds: vec![],
        };
        for _ in &block.chunks {
            let (job, _) = f.store.claim("w", &any, LEASE).await.unwrap().unwrap();
            assert_eq!(job.spec.kind, JobKind::BlockChunk);
        }
        assert!(f.store.claim("w", &any, LEASE).await.unwrap().is_none());
    });
}

fn ids(jobs: &[Job]) -> Vec<i64> {
    jobs.iter().map(|j| j.id.0).collect()
}

/// The chunks cover the block's transactions once, in order, within the step target; their
/// blobs are the block program and each range's input; the aggregate waits on them all.
async fn check_plan(
    f: &Farm,
    block: &IngestedBlock,
    header: &BlockHeader,
    input: &BlockProverInput,
) {
    assert_eq!((block.number, block.block_hash), (0, header.block_hash));
    assert_eq!(block.created, block.chunks.len() + 1);
    let steps: Vec<u64> = input.transactions.iter().map(estimated_steps).collect();
    let planned = plan_ranges(&steps, CHUNK_STEPS);
    assert!(planned.len() >= 2, "{planned:?}");
    assert_eq!(block.chunks.len(), planned.len());
    let program_bytes = f
        .blobs
        .get(&block.chunks[0].spec.program_hash)
        .await
        .unwrap();
    let program = CairoProgram::from_json(&program_bytes, "blob").unwrap();
    let mut next_tx = 0;
    for (index, (job, range)) in block.chunks.iter().zip(&planned).enumerate() {
        let p = payload(job);
        assert_eq!(job.spec.kind, JobKind::BlockChunk);
        assert_eq!(job.spec.profile, "test");
        assert_eq!((p.tx_start, p.tx_end), (range.tx_start, range.tx_end));
        assert_eq!(p.tx_start, next_tx, "contiguous");
        next_tx = p.tx_end;
        assert!(p.estimated_steps <= CHUNK_STEPS || p.tx_end - p.tx_start == 1);
        assert_eq!(
            (p.chunk_index as usize, p.chunk_count as usize),
            (index, planned.len())
        );
        assert_eq!(p.cairo_program_hash, format!("{:#x}", program.hash()));
        assert!(job.spec.required_memory_bytes > 0);
        let range_input = input.range(p.tx_start, p.tx_end).unwrap();
        let stored = f.blobs.get(&job.spec.input_hash).await.unwrap();
        let felts = ProgramInput::from_json(&stored, "blob").unwrap();
        assert_eq!(felts.felts, range_input.to_felts());
        assert_eq!(p.expected_output, range_input.expected_output().to_felts());
    }
    assert_eq!(next_tx, header.tx_count, "every transaction, once");
    let aggregate = &block.aggregate;
    assert_eq!(aggregate.spec.kind, JobKind::BlockAggregate);
    assert_eq!(aggregate.spec.depends_on, ids_of(&block.chunks));
    assert_eq!(
        aggregate.spec.required_backend.as_deref(),
        Some(AGGREGATOR_BACKEND)
    );
    assert_eq!(
        aggregate.spec.payload["new_state_root"],
        Value::from(format!("{:#x}", header.state_root))
    );
    let plans: Value =
        serde_json::from_slice(&f.blobs.get(&aggregate.spec.input_hash).await.unwrap()).unwrap();
    assert_eq!(plans.as_array().unwrap().len(), planned.len());
    assert!(matches!(
        f.store.readiness(aggregate.id).await.unwrap(),
        Readiness::Waiting { .. }
    ));
}

fn ids_of(jobs: &[Job]) -> Vec<starfarm_scheduler::JobId> {
    jobs.iter().map(|j| j.id).collect()
}

/// Proves a chunk job with its stored program and input, as a worker would.
fn prove(
    prover: &mut Prover,
    blobs: &BlobStore,
    job: &Job,
    rt: &tokio::runtime::Runtime,
) -> Vec<u8> {
    let (program, input) = rt.block_on(async {
        let program = blobs.get(&job.spec.program_hash).await.unwrap();
        let input = blobs.get(&job.spec.input_hash).await.unwrap();
        (program, input)
    });
    let program = CairoProgram::from_json(&program, "program").unwrap();
    let input = ProgramInput::from_json(&input, "input").unwrap();
    prover
        .prove(&program, &input, &mut |_| {})
        .unwrap()
        .to_bytes()
        .unwrap()
}

/// Hands an artifact in over HTTP; the status and the JSON answer.
async fn hand_in(url: &str, lease: &starfarm_scheduler::Lease, artifact: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{url}/v1/workers/complete?job_id={}&fencing_token={}",
            lease.job_id, lease.fencing_token
        ))
        .bearer_auth(KEY)
        .body(artifact)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[test]
fn proven_chunks_aggregate_into_a_proven_block() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (seq, header) = rt.block_on(publish_block(dir.path()));
    let f = rt.block_on(farm(dir.path(), "jobs"));
    let block = rt.block_on(f.ingestor.ingest(0)).unwrap().unwrap();
    let started = std::time::Instant::now();
    let mut prover = Prover::new(SecurityProfile::Test);
    let artifacts: Vec<Vec<u8>> = block
        .chunks
        .iter()
        .map(|job| prove(&mut prover, &f.blobs, job, &rt))
        .collect();
    drop(prover);
    eprintln!(
        "{} chunks proven in {:.1} s",
        artifacts.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(artifacts.len(), 2, "two proofs in this file, no more");

    rt.block_on(async {
        let state = AppState::new(
            Arc::clone(&f.store),
            f.blobs.clone(),
            ApiConfig::new(ApiKeys::new([KEY])),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(api::serve(listener, state, std::future::pending()));

        assert!(
            aggregate_once(&f.store, &f.blobs).await.unwrap().is_none(),
            "chunks not done"
        );
        let mut leases = Vec::new();
        for _ in &block.chunks {
            leases.push(claim(&f.store, JobKind::BlockChunk).await.unwrap().1);
        }
        // Chunk 1 handed in with chunk 0's proof: the right program, the wrong output.
        let (status, body) = hand_in(&url, &leases[1], artifacts[0].clone()).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "invalid_artifact");
        let reason = body["error"]["reason"].as_str().unwrap();
        assert!(reason.contains("output felt 0"), "{reason}");
        for (lease, artifact) in leases.iter().zip(&artifacts) {
            let (status, body) = hand_in(&url, lease, artifact.clone()).await;
            assert_eq!(status, 200, "{body}");
        }

        let Some(Aggregated::Proven(record)) = aggregate_once(&f.store, &f.blobs).await.unwrap()
        else {
            panic!("the block aggregates");
        };
        assert_eq!(
            (record.block_number, record.block_hash),
            (0, header.block_hash)
        );
        assert_eq!(record.new_state_root, header.state_root);
        assert_eq!(record.tx_count, 5);
        assert_eq!(record.chunks.len(), 2);
        assert_eq!(record.chunks[0].tx_end, record.chunks[1].tx_start);
        assert_eq!(record.messages_to_l2.len(), 1, "the deposit's message");
        let aggregate = f.store.get(block.aggregate.id).await.unwrap();
        assert_eq!(aggregate.state, JobState::Done);
        let proven = proven_blocks(f.store.as_ref()).await.unwrap();
        assert_eq!(proven.len(), 1);
        assert_eq!(&proven[0].record, record.as_ref());
        assert_eq!(
            Some(&proven[0].record_hash),
            aggregate.artifact_hash.as_ref()
        );
        let stored = f.blobs.get(&proven[0].record_hash).await.unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&stored).unwrap(),
            aggregate.result.unwrap()
        );

        // Another farm whose chunk 1 was completed with chunk 0's artifact without the API's
        // check: the aggregation fails for good and names the chunk.
        let other = farm(dir.path(), "tampered").await;
        let tampered = other.ingestor.ingest(0).await.unwrap().unwrap();
        let artifact0 = ContentHash::of(&artifacts[0]);
        for _ in &tampered.chunks {
            let (_, lease) = claim(&other.store, JobKind::BlockChunk).await.unwrap();
            other
                .store
                .complete(&lease, &artifact0, Value::Null)
                .await
                .unwrap();
        }
        let outcome = aggregate_once(&other.store, &other.blobs).await.unwrap();
        let Some(Aggregated::Failed {
            reason, retryable, ..
        }) = outcome
        else {
            panic!("the aggregation fails: {outcome:?}");
        };
        assert!(!retryable);
        assert!(reason.starts_with("chunk 1 ("), "{reason}");
        assert!(reason.contains("wrong output"), "{reason}");
        let failed = other.store.get(tampered.aggregate.id).await.unwrap();
        assert_eq!(failed.state, JobState::Failed);
        assert!(proven_blocks(other.store.as_ref())
            .await
            .unwrap()
            .is_empty());
        seq.shutdown().await;
    });
}
