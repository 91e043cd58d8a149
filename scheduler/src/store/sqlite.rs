//! The embedded job store: one SQLite file under the data folder.
//!
//! Writes go through a single connection and each starts with `BEGIN IMMEDIATE`, so a
//! transaction owns the database from its first statement: a claim's read and update cannot
//! interleave with another writer's, and no transaction has to be retried for a lock it
//! could not upgrade. Reads use a separate pool and see the last commit (WAL mode).

use super::engine::Engine;
use super::keys::ApiKey;
use super::migrations;
use super::sql::{decode_job, decode_key, Arg, Dialect, JobRow, SqlBackend, SqlTx};
use super::{delegate_job_store, StoreConfig, StoreError};
use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::time::Duration;

/// The job store in a SQLite file.
pub struct SqliteStore {
    engine: Engine<SqliteBackend>,
}

delegate_job_store!(SqliteStore);

impl SqliteStore {
    /// Opens the store in the file at `path`, creating the file (and its folder) if needed,
    /// and applies pending migrations.
    pub async fn open(path: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("creating {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL loses no committed transaction on a process crash, only on
            // power loss, and is much faster than FULL.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        // One writer: in-process writers queue on the pool instead of spinning on SQLite's
        // busy handler.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        migrations::migrator(migrations::SQLITE)
            .await?
            .run(&writer)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .connect_with(options.read_only(true))
            .await?;
        let backend = SqliteBackend {
            writer,
            reader,
            dialect: dialect(),
        };
        Ok(Self {
            engine: Engine::new(backend, config),
        })
    }
}

/// Lists are bound as JSON arrays; no row locks (BEGIN IMMEDIATE already excludes writers).
fn dialect() -> Dialect {
    fn in_list(column: &str, n: u32) -> String {
        format!("{column} IN (SELECT value FROM json_each(${n}))")
    }
    let deps = "(SELECT json_group_array(depends_on) FROM \
        (SELECT depends_on FROM job_deps WHERE job_id = jobs.id ORDER BY depends_on))";
    Dialect::new(deps, in_list, "", "", "")
}

pub(crate) struct SqliteBackend {
    writer: SqlitePool,
    reader: SqlitePool,
    dialect: Dialect,
}

#[async_trait]
impl SqlBackend for SqliteBackend {
    async fn write(&self) -> Result<Box<dyn SqlTx>, StoreError> {
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Box::new(SqliteTx(tx)))
    }

    async fn read(&self) -> Result<Box<dyn SqlTx>, StoreError> {
        Ok(Box::new(SqliteTx(self.reader.begin().await?)))
    }

    async fn write_one(&self, sql: &str, args: &[Arg]) -> Result<Vec<JobRow>, StoreError> {
        // Still in BEGIN IMMEDIATE: a bare statement would take its write lock only after
        // reading, and could fail against a writer in another process.
        let mut tx = self.write().await?;
        let rows = tx.jobs(sql, args).await?;
        tx.commit().await?;
        Ok(rows)
    }

    fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

struct SqliteTx(Transaction<'static, Sqlite>);

fn bind<'q>(
    sql: &'q str,
    args: &'q [Arg],
) -> Result<Query<'q, Sqlite, SqliteArguments<'q>>, StoreError> {
    let mut query = sqlx::query(sql);
    for arg in args {
        query = match arg {
            Arg::I32(v) => query.bind(*v),
            Arg::I64(v) => query.bind(*v),
            Arg::OptI64(v) => query.bind(*v),
            Arg::Text(v) => query.bind(v.as_str()),
            Arg::OptText(v) => query.bind(v.as_deref()),
            Arg::TextList(v) => query.bind(to_json(v)?),
        };
    }
    Ok(query)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(format!("binding a list: {e}")))
}

#[async_trait]
impl SqlTx for SqliteTx {
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        let done = bind(sql, args)?.execute(&mut *self.0).await?;
        Ok(done.rows_affected())
    }

    async fn jobs(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<JobRow>, StoreError> {
        let rows = bind(sql, args)?.fetch_all(&mut *self.0).await?;
        rows.iter().map(decode_job).collect()
    }

    async fn ints(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<i64>, StoreError> {
        let rows = bind(sql, args)?.fetch_all(&mut *self.0).await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn text_ints(
        &mut self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = bind(sql, args)?.fetch_all(&mut *self.0).await?;
        let pair =
            |r: &sqlx::sqlite::SqliteRow| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?));
        Ok(rows.iter().map(pair).collect::<Result<_, _>>()?)
    }

    async fn keys(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<ApiKey>, StoreError> {
        let rows = bind(sql, args)?.fetch_all(&mut *self.0).await?;
        rows.iter().map(decode_key).collect()
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{ContentHash, JobKind, JobSpec, JobState, WorkerCapabilities};
    use crate::store::sql::claim_args;
    use crate::store::{JobFilter, JobStore};

    /// A store made before tenants (migration 0001 only, one queued job) opens with 0002
    /// applied: the job is kept, unowned, claimable, and idempotent under its old key.
    #[tokio::test]
    async fn tenants_migration_keeps_existing_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        let old = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new().connect_with(old).await.unwrap();
        migrations::migrator(&migrations::SQLITE[..1])
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        let spec = JobSpec::new(
            JobKind::CairoProof,
            ContentHash::of(b"program"),
            ContentHash::of(b"input"),
            "production",
        );
        sqlx::query(
            "INSERT INTO jobs (kind, idempotency_key, program_hash, input_hash, profile, \
             priority, max_attempts, required_memory_bytes, payload, state, next_attempt_at, \
             created_at, updated_at) VALUES ('cairo_proof', $1, $2, $3, 'production', 0, 3, 0, \
             'null', 'queued', 0, 0, 0)",
        )
        .bind(spec.idempotency_key())
        .bind(spec.program_hash.as_str())
        .bind(spec.input_hash.as_str())
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let store = SqliteStore::open(&path, StoreConfig::default())
            .await
            .unwrap();
        let page = store.list(&JobFilter::default()).await.unwrap();
        assert_eq!(page.jobs.len(), 1);
        let job = &page.jobs[0];
        assert_eq!((job.spec.owner, job.state), (None, JobState::Queued));
        let again = store.submit(spec.clone()).await.unwrap();
        assert!(!again.created, "the old idempotency key still finds it");
        let (claimed, _) = store
            .claim("w", &WorkerCapabilities::default(), Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, job.id);
    }

    /// SQLite has no statistics to go by: check that the claim walks the claim index in
    /// order instead of sorting every queued job (which made claims O(queue)).
    #[tokio::test]
    async fn claim_walks_its_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        let store = SqliteStore::open(&path, StoreConfig::default())
            .await
            .unwrap();
        let backend = store.engine.backend();
        let sql = format!("EXPLAIN QUERY PLAN {}", backend.dialect.claim);
        let args = claim_args(None, "w", &WorkerCapabilities::default(), 0, 1);
        let rows = bind(&sql, &args)
            .unwrap()
            .fetch_all(&backend.writer)
            .await
            .unwrap();
        let plan: Vec<String> = rows.iter().map(|r| r.get(3)).collect();
        assert!(
            plan.iter().any(|p| p.contains("jobs_claim_order")),
            "{plan:#?}"
        );
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:#?}");
    }
}
