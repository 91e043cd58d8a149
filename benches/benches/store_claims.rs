//! Job store claim throughput: claims per second with 1, 4 and 16 concurrent claimers, on
//! SQLite (a temporary file) and Postgres (a fresh schema at STARFARM_TEST_POSTGRES_URL;
//! skipped without it, `scripts/postgres.sh` starts one). Anchor, same database, same run: a
//! bare queue (one table, one `UPDATE … RETURNING` per claim, `SKIP LOCKED` on Postgres),
//! the least a claim can cost; the store adds priorities, dependencies, routing, fencing
//! and reading the whole job back. Postgres tables are ANALYZEd after filling, as
//! autovacuum keeps a live table.
//!
//! Run: `cargo bench --workspace --profile dev --bench store_claims`
//! Environment: STARFARM_BENCH_JOBS (jobs per measurement, default 1000),
//! STARFARM_BENCH_CLAIMERS (default 1,4,16), STARFARM_BENCH_REPS (median reported,
//! default 3). Prints a table; writes JSON to target/bench-store-claims.json.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use starfarm_benches::{env_list, median};
use starfarm_scheduler::{
    ContentHash, JobKind, JobSpec, JobStore, PostgresStore, SqliteStore, StoreConfig,
    WorkerCapabilities,
};

const LEASE: Duration = Duration::from_secs(3600);

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Setup {
    jobs: u32,
    reps: u32,
    pg_url: Option<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let setup = Setup {
        jobs: env_list("STARFARM_BENCH_JOBS", &[1000])[0].max(1),
        reps: env_list("STARFARM_BENCH_REPS", &[3])[0].max(1),
        pg_url: std::env::var("STARFARM_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty()),
    };
    let claimers = env_list("STARFARM_BENCH_CLAIMERS", &[1, 4, 16]);
    println!(
        "{} jobs per measurement, median of {} reps",
        setup.jobs, setup.reps
    );
    println!("backend   claimers  store claims/s  bare queue claims/s  store/bare");
    let mut rows = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if matches!(backend, Backend::Postgres) && setup.pg_url.is_none() {
            println!(
                "postgres: skipped (set STARFARM_TEST_POSTGRES_URL, e.g. from scripts/postgres.sh)"
            );
            continue;
        }
        for &c in &claimers {
            let row = measure(&setup, backend, c.max(1)).await?;
            rows.push(row);
        }
    }
    let report = json!({ "jobs": setup.jobs, "reps": setup.reps, "rows": rows });
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-store-claims.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

async fn measure(setup: &Setup, backend: Backend, claimers: u32) -> Result<serde_json::Value> {
    let mut store_rates = Vec::new();
    let mut bare_rates = Vec::new();
    for rep in 0..setup.reps {
        let db = Db::new(setup, backend, claimers, rep).await?;
        store_rates.push(store_claims(&db, setup.jobs, claimers).await?);
        bare_rates.push(bare_claims(&db, setup.jobs, claimers).await?);
        db.cleanup().await?;
    }
    let store = median(&mut store_rates);
    let bare = median(&mut bare_rates);
    println!(
        "{:<9} {claimers:>8}  {store:>14.0}  {bare:>19.0}  {:>10.2}",
        format!("{backend:?}").to_lowercase(),
        store / bare
    );
    Ok(json!({
        "backend": format!("{backend:?}").to_lowercase(),
        "claimers": claimers,
        "store_claims_per_s": store,
        "bare_queue_claims_per_s": bare,
    }))
}

/// A fresh database for one measurement: the store and the bare queue side by side.
struct Db {
    store: Arc<dyn JobStore>,
    anchor: Anchor,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

enum Anchor {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn new(setup: &Setup, backend: Backend, claimers: u32, rep: u32) -> Result<Self> {
        let config = StoreConfig {
            max_connections: claimers + 2,
            ..StoreConfig::default()
        };
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let path = dir.path().join("jobs.sqlite");
                let store = SqliteStore::open(&path, config).await?;
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30));
                // One connection, as the store's writer: in-process claimers queue on it.
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?;
                Ok(Self {
                    store: Arc::new(store),
                    anchor: Anchor::Sqlite(pool),
                    _dir: Some(dir),
                    schema: None,
                })
            }
            Backend::Postgres => {
                let url = setup.pg_url.clone().context("no postgres URL")?;
                let schema = format!("bench_{}_{claimers}_{rep}", std::process::id());
                let store = PostgresStore::connect_in_schema(&url, &schema, config).await?;
                let options: sqlx::postgres::PgConnectOptions = url.parse()?;
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(claimers + 2)
                    .connect_with(options.options([("search_path", schema.as_str())]))
                    .await?;
                Ok(Self {
                    store: Arc::new(store),
                    anchor: Anchor::Postgres(pool),
                    _dir: None,
                    schema: Some((url, schema)),
                })
            }
        }
    }

    /// Gives Postgres's planner the statistics autovacuum keeps on a live table (a table
    /// filled a moment ago has none, and gets sorted instead of walked by index).
    async fn analyze(&self, table: &str) -> Result<()> {
        if let Anchor::Postgres(pool) = &self.anchor {
            sqlx::query(&format!("ANALYZE {table}"))
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    async fn cleanup(self) -> Result<()> {
        self.store.close().await;
        match self.anchor {
            Anchor::Sqlite(pool) => pool.close().await,
            Anchor::Postgres(pool) => pool.close().await,
        }
        if let Some((url, schema)) = self.schema {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut conn)
                .await?;
        }
        Ok(())
    }
}

/// Submits `jobs` jobs (untimed), then times `claimers` tasks claiming until none is left.
async fn store_claims(db: &Db, jobs: u32, claimers: u32) -> Result<f64> {
    for i in 0..jobs {
        let mut spec = JobSpec::new(
            JobKind::BlockChunk,
            ContentHash::of(b"program"),
            ContentHash::of(format!("input {i}").as_bytes()),
            "production",
        );
        spec.priority = (i % 4) as i32;
        db.store.submit(spec).await?;
    }
    db.analyze("jobs").await?;
    let worker = WorkerCapabilities {
        memory_bytes: 64 << 30,
        device_memory_bytes: 0,
        backends: vec!["cpu".into()],
        kinds: vec![],
    };
    timed(jobs, claimers, |w| {
        let store = Arc::clone(&db.store);
        let worker = worker.clone();
        async move {
            let id = format!("worker-{w}");
            let mut n = 0_u32;
            while store.claim(&id, &worker, LEASE).await?.is_some() {
                n += 1;
            }
            Ok(n)
        }
    })
    .await
}

/// The anchor: the same number of rows in a one-table queue, each claimed by one statement.
async fn bare_claims(db: &Db, jobs: u32, claimers: u32) -> Result<f64> {
    match &db.anchor {
        Anchor::Sqlite(pool) => {
            sqlx::query(
                "CREATE TABLE bare (id INTEGER PRIMARY KEY, taken INTEGER NOT NULL DEFAULT 0)",
            )
            .execute(pool)
            .await?;
            let mut tx = pool.begin().await?;
            for id in 1..=i64::from(jobs) {
                sqlx::query("INSERT INTO bare (id) VALUES ($1)")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            let claim = "UPDATE bare SET taken = 1 WHERE id = \
                (SELECT id FROM bare WHERE taken = 0 ORDER BY id LIMIT 1) RETURNING id";
            timed(jobs, claimers, |_| {
                let pool = pool.clone();
                async move {
                    let mut n = 0;
                    while sqlx::query(claim).fetch_optional(&pool).await?.is_some() {
                        n += 1;
                    }
                    Ok(n)
                }
            })
            .await
        }
        Anchor::Postgres(pool) => {
            sqlx::query(
                "CREATE TABLE bare (id BIGINT PRIMARY KEY, taken BOOLEAN NOT NULL DEFAULT false)",
            )
            .execute(pool)
            .await?;
            sqlx::query("INSERT INTO bare (id) SELECT generate_series(1, $1)")
                .bind(i64::from(jobs))
                .execute(pool)
                .await?;
            db.analyze("bare").await?;
            let claim = "UPDATE bare SET taken = true WHERE id = \
                (SELECT id FROM bare WHERE NOT taken ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                RETURNING id";
            timed(jobs, claimers, |_| {
                let pool = pool.clone();
                async move {
                    let mut n = 0;
                    while sqlx::query(claim).fetch_optional(&pool).await?.is_some() {
                        n += 1;
                    }
                    Ok(n)
                }
            })
            .await
        }
    }
}

/// Runs `claimers` tasks made by `claimer(index)` until each finds the queue empty; checks
/// that together they claimed every job, and returns claims per second.
async fn timed<F, Fut>(jobs: u32, claimers: u32, claimer: F) -> Result<f64>
where
    F: Fn(u32) -> Fut,
    Fut: Future<Output = Result<u32>> + Send + 'static,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..claimers).map(|w| tokio::spawn(claimer(w))).collect();
    let mut claimed = 0;
    for task in tasks {
        claimed += task.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(claimed == jobs, "claimed {claimed} of {jobs} jobs");
    Ok(f64::from(jobs) / seconds)
}
