//! Stores for the shared test suite: a fresh SQLite file, or a fresh Postgres schema, per
//! test, each driven by a manual clock.

use starfarm_scheduler::{
    ContentHash, JobKind, JobSpec, JobStore, ManualClock, PostgresStore, SqliteStore, StoreConfig,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The instant every test starts at.
pub const T0: i64 = 1_800_000_000_000;

pub const URL_VAR: &str = "STARFARM_TEST_POSTGRES_URL";
pub const REQUIRE_VAR: &str = "STARFARM_REQUIRE_POSTGRES";

enum Backend {
    Sqlite {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres {
        url: String,
        schema: String,
    },
}

/// One store under test, with the clock it reads.
pub struct Harness {
    pub store: Arc<dyn JobStore>,
    pub clock: ManualClock,
    backend: Backend,
}

fn config(clock: &ManualClock) -> StoreConfig {
    StoreConfig {
        clock: Arc::new(clock.clone()),
        retry_base: Duration::from_secs(1),
        retry_max: Duration::from_secs(60),
        max_connections: 16,
        ..StoreConfig::default()
    }
}

impl Harness {
    pub fn store(&self) -> &dyn JobStore {
        self.store.as_ref()
    }

    /// Closes the store and opens the same database again, as a restarted process would.
    pub async fn reopen(&mut self) {
        self.store.close().await;
        self.store = open(&self.backend, &self.clock).await;
    }

    /// Drops the Postgres schema (SQLite's folder goes with the harness).
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Backend::Postgres { url, schema } = &self.backend {
            drop_schema(url, schema).await;
        }
    }
}

async fn open(backend: &Backend, clock: &ManualClock) -> Arc<dyn JobStore> {
    match backend {
        Backend::Sqlite { path, .. } => Arc::new(
            SqliteStore::open(path, config(clock))
                .await
                .expect("open sqlite store"),
        ),
        Backend::Postgres { url, schema } => Arc::new(
            PostgresStore::connect_in_schema(url, schema, config(clock))
                .await
                .expect("connect postgres store"),
        ),
    }
}

pub async fn sqlite() -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data").join("jobs.sqlite");
    let clock = ManualClock::new(T0);
    let backend = Backend::Sqlite { path, _dir: dir };
    let store = open(&backend, &clock).await;
    Harness {
        store,
        clock,
        backend,
    }
}

/// A store in a new schema of the database at `STARFARM_TEST_POSTGRES_URL`; `None` (after
/// saying so) when it is unset, unless `STARFARM_REQUIRE_POSTGRES=1` makes that a failure.
pub async fn postgres(test: &str) -> Option<Harness> {
    let url = match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
                "{REQUIRE_VAR}=1 but {URL_VAR} is not set: start one with scripts/postgres.sh"
            );
            println!("SKIPPED: postgres tests need {URL_VAR}");
            return None;
        }
    };
    let schema = unique_schema(test);
    let clock = ManualClock::new(T0);
    let backend = Backend::Postgres { url, schema };
    let store = open(&backend, &clock).await;
    Some(Harness {
        store,
        clock,
        backend,
    })
}

/// Unique per test, per process and per run: parallel runs share the cluster.
fn unique_schema(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let short: String = test.chars().take(30).collect();
    format!("t_{short}_{}_{n}_{nanos}", std::process::id())
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to drop schema");
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .expect("drop test schema");
}

/// A spec whose program and input hashes derive from `name`: distinct names, distinct jobs.
pub fn spec(name: &str) -> JobSpec {
    JobSpec::new(
        JobKind::CairoProof,
        ContentHash::of(format!("program {name}").as_bytes()),
        ContentHash::of(format!("input {name}").as_bytes()),
        "production",
    )
}

/// Generates one test per case and backend: `sqlite::case` and `postgres::case`.
#[macro_export]
macro_rules! store_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let mut h = $crate::support::sqlite().await;
                    super::$case(&mut h).await;
                    h.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(mut h) = $crate::support::postgres(stringify!($case)).await
                    else {
                        return;
                    };
                    super::$case(&mut h).await;
                    h.cleanup().await;
                }
            )*
        }
    };
}
