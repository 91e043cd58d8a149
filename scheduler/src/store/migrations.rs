//! The schema migrations of both stores, compiled into the binary and applied with sqlx's
//! migrator (same `_sqlx_migrations` bookkeeping and checksums as `sqlx::migrate!`, without
//! building sqlx's macro crate and a second SQLite for it).
//!
//! Files are `migrations/<backend>/<NNNN>_<name>.sql`; a test checks that every file is
//! listed here. Applied migrations never change: add a new file and a new line.

use super::StoreError;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// (version, description, SQL)
type Embedded = &'static [(i64, &'static str, &'static str)];

pub(crate) const SQLITE: Embedded = &[
    (
        1,
        "jobs",
        include_str!("../../migrations/sqlite/0001_jobs.sql"),
    ),
    (
        2,
        "tenants",
        include_str!("../../migrations/sqlite/0002_tenants.sql"),
    ),
    (
        3,
        "phase_seconds",
        include_str!("../../migrations/sqlite/0003_phase_seconds.sql"),
    ),
    (
        4,
        "webhooks",
        include_str!("../../migrations/sqlite/0004_webhooks.sql"),
    ),
];

pub(crate) const POSTGRES: Embedded = &[
    (
        1,
        "jobs",
        include_str!("../../migrations/postgres/0001_jobs.sql"),
    ),
    (
        2,
        "tenants",
        include_str!("../../migrations/postgres/0002_tenants.sql"),
    ),
    (
        3,
        "phase_seconds",
        include_str!("../../migrations/postgres/0003_phase_seconds.sql"),
    ),
    (
        4,
        "webhooks",
        include_str!("../../migrations/postgres/0004_webhooks.sql"),
    ),
];

#[derive(Debug)]
struct Source(Embedded);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

pub(crate) async fn migrator(embedded: Embedded) -> Result<Migrator, StoreError> {
    Migrator::new(Source(embedded))
        .await
        .map_err(|e| StoreError::Migration(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed_files(dir: &str) -> Vec<String> {
        let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn expected(embedded: Embedded) -> Vec<String> {
        embedded
            .iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect()
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        assert_eq!(listed_files("sqlite"), expected(SQLITE));
        assert_eq!(listed_files("postgres"), expected(POSTGRES));
    }
}
