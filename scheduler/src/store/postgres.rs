//! The shared job store: Postgres, for several scheduler processes and machines.
//!
//! Concurrent claimers never wait for each other: the claim locks the job it picks with
//! `FOR UPDATE SKIP LOCKED`, so each claimer takes a different job. Worker writes lock their
//! job row (`FOR UPDATE`) before checking the lease.

use super::engine::Engine;
use super::keys::ApiKey;
use super::migrations;
use super::sql::{decode_job, decode_key, Arg, Dialect, JobRow, SqlBackend, SqlTx};
use super::{delegate_job_store, StoreConfig, StoreError};
use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use std::str::FromStr;

/// The job store in a Postgres database.
pub struct PostgresStore {
    engine: Engine<PostgresBackend>,
}

delegate_job_store!(PostgresStore);

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and applies pending
    /// migrations.
    pub async fn connect(url: &str, config: StoreConfig) -> Result<Self, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?, config).await
    }

    /// Like [`PostgresStore::connect`], with the store's tables in `schema` (created if
    /// missing): several farms, or parallel tests, can share one database.
    pub async fn connect_in_schema(
        url: &str,
        schema: &str,
        config: StoreConfig,
    ) -> Result<Self, StoreError> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StoreError::Database(format!(
                "schema name {schema:?} must match [a-z_][a-z0-9_]{{0,62}}"
            )));
        }
        let options = PgConnectOptions::from_str(url)?;
        let mut conn = PgConnection::connect_with(&options).await?;
        // The name was checked above: it cannot break out of the identifier.
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Self::connect_with(options.options([("search_path", schema)]), config).await
    }

    /// Connects with explicit options and applies pending migrations.
    pub async fn connect_with(
        options: PgConnectOptions,
        config: StoreConfig,
    ) -> Result<Self, StoreError> {
        // While the database is away, a request waits this long for a connection and is
        // then refused (503): workers and clients retry, none hangs.
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        migrations::migrator(migrations::POSTGRES)
            .await?
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let backend = PostgresBackend {
            pool,
            dialect: dialect(),
        };
        Ok(Self {
            engine: Engine::new(backend, config),
        })
    }
}

/// How long a query waits for a pooled connection (reconnecting if the server went away).
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Lists are bound as arrays; the claim and the expiry sweep skip rows other transactions
/// hold, so concurrent claimers and sweepers each take different jobs.
fn dialect() -> Dialect {
    fn in_list(column: &str, n: u32) -> String {
        format!("{column} = ANY(${n})")
    }
    let deps = "COALESCE((SELECT json_agg(depends_on ORDER BY depends_on) FROM job_deps \
        WHERE job_id = jobs.id)::text, '[]')";
    Dialect::new(
        deps,
        in_list,
        " FOR UPDATE",
        " FOR SHARE",
        " FOR UPDATE SKIP LOCKED",
    )
}

pub(crate) struct PostgresBackend {
    pool: PgPool,
    dialect: Dialect,
}

#[async_trait]
impl SqlBackend for PostgresBackend {
    async fn write(&self) -> Result<Box<dyn SqlTx>, StoreError> {
        Ok(Box::new(PgTx(self.pool.begin().await?)))
    }

    async fn read(&self) -> Result<Box<dyn SqlTx>, StoreError> {
        Ok(Box::new(PgTx(self.pool.begin().await?)))
    }

    /// Outside BEGIN … COMMIT: a single statement is its own transaction, one round trip.
    async fn write_one(&self, sql: &str, args: &[Arg]) -> Result<Vec<JobRow>, StoreError> {
        let rows = bind(sql, args).fetch_all(&self.pool).await?;
        rows.iter().map(decode_job).collect()
    }

    fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

struct PgTx(Transaction<'static, Postgres>);

fn bind<'q>(sql: &'q str, args: &'q [Arg]) -> Query<'q, Postgres, PgArguments> {
    let mut query = sqlx::query(sql);
    for arg in args {
        query = match arg {
            Arg::I32(v) => query.bind(*v),
            Arg::I64(v) => query.bind(*v),
            Arg::OptI64(v) => query.bind(*v),
            Arg::Text(v) => query.bind(v.as_str()),
            Arg::OptText(v) => query.bind(v.as_deref()),
            Arg::TextList(v) => query.bind(v.as_slice()),
        };
    }
    query
}

fn pair<A, B>(row: &PgRow) -> Result<(A, B), sqlx::Error>
where
    for<'r> A: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    for<'r> B: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    Ok((row.try_get(0)?, row.try_get(1)?))
}

#[async_trait]
impl SqlTx for PgTx {
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        let done = bind(sql, args).execute(&mut *self.0).await?;
        Ok(done.rows_affected())
    }

    async fn jobs(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<JobRow>, StoreError> {
        let rows = bind(sql, args).fetch_all(&mut *self.0).await?;
        rows.iter().map(decode_job).collect()
    }

    async fn ints(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<i64>, StoreError> {
        let rows = bind(sql, args).fetch_all(&mut *self.0).await?;
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
        let rows = bind(sql, args).fetch_all(&mut *self.0).await?;
        Ok(rows.iter().map(pair).collect::<Result<_, _>>()?)
    }

    async fn keys(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<ApiKey>, StoreError> {
        let rows = bind(sql, args).fetch_all(&mut *self.0).await?;
        rows.iter().map(decode_key).collect()
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }
}
