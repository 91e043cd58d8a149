//! Tenants: API keys with roles and quotas (table `api_keys`, migration 0002), what each
//! tenant uses, and which blobs a key may read. [`KeyStore`] is the part of the store the
//! API authenticates and authorizes with; both stores implement it over the same SQL.
//!
//! A key is stored as the SHA-256 of its secret ([`key_digest`]); the secret is shown once,
//! when the key is made, and never stored. Every request looks its key up, so a revocation
//! takes effect at once, in every scheduler process sharing the store.

use super::engine::Engine;
use super::sql::{self, Arg, SqlBackend, KEY_COLUMNS};
use super::StoreError;
use crate::job::ContentHash;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Submits jobs and reads, waits on, cancels and downloads its own jobs only.
    Submit,
    /// Claims jobs, keeps their leases and hands them in; reads the program and input of
    /// the jobs it holds only.
    Worker,
    /// Everything: every tenant's jobs and blobs, and the worker routes (the devnet's single
    /// key runs its workers).
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Submit, Role::Worker, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submit => "submit",
            Role::Worker => "worker",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not `submit`, `worker` or `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected submit, worker or admin")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Limits on what one key may have the farm hold; `None` takes the scheduler's default
/// (and a default of `None` means unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Queued and active (leased, proving, verifying) jobs at once.
    pub max_active_jobs: Option<u64>,
    /// New jobs in any 60 seconds.
    pub max_submissions_per_minute: Option<u64>,
    /// Program and input bytes stored for all its submissions, ever.
    pub max_stored_bytes: Option<u64>,
}

impl Quota {
    /// Each limit of `self`, or else of `defaults`.
    pub fn or(self, defaults: Quota) -> Quota {
        Quota {
            max_active_jobs: self.max_active_jobs.or(defaults.max_active_jobs),
            max_submissions_per_minute: self
                .max_submissions_per_minute
                .or(defaults.max_submissions_per_minute),
            max_stored_bytes: self.max_stored_bytes.or(defaults.max_stored_bytes),
        }
    }
}

/// A stored API key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: i64,
    /// Unique; the tenant label of the metrics.
    pub name: String,
    pub role: Role,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    /// Its own limits (unset ones take the scheduler's defaults).
    pub quota: Quota,
    /// Program and input bytes its submissions stored.
    pub stored_bytes: u64,
}

/// A key to store: its name, role, quota and the digest of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub name: String,
    pub role: Role,
    pub quota: Quota,
    /// [`key_digest`] of the secret.
    pub digest: String,
}

/// What a tenant holds now, for its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Queued and active jobs.
    pub live_jobs: u64,
    /// Jobs created within the window asked for.
    pub recent_submissions: u64,
    /// When the oldest of those leaves the window, in milliseconds from now.
    pub window_frees_in_ms: Option<i64>,
    pub stored_bytes: u64,
}

/// The SHA-256 hex of a key's secret: what the store keeps and looks keys up by.
pub fn key_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// Longest key name.
pub const MAX_KEY_NAME: usize = 64;

/// The tenant side of the store (see module docs).
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key; names must be unique, made of letters, digits, `-`, `_` and `.`.
    async fn add_key(&self, key: &NewKey) -> Result<ApiKey, StoreError>;

    /// Every key, revoked ones included, oldest first.
    async fn keys(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes the key with this id or name; revoking a revoked key returns it unchanged.
    async fn revoke_key(&self, id_or_name: &str) -> Result<ApiKey, StoreError>;

    /// The key with this digest, unless it is revoked or unknown.
    async fn live_key(&self, digest: &str) -> Result<Option<ApiKey>, StoreError>;

    /// What `owner` holds now; `recent_submissions` counts jobs created within the last
    /// `window` (by the store's clock).
    async fn usage(&self, owner: i64, window: Duration) -> Result<Usage, StoreError>;

    /// Whether `blob` is the program, input or artifact of one of `owner`'s jobs.
    async fn owner_has_blob(&self, owner: i64, blob: &ContentHash) -> Result<bool, StoreError>;

    /// Whether `blob` is the program or input of an active job claimed with key `key`.
    async fn holder_has_blob(&self, key: i64, blob: &ContentHash) -> Result<bool, StoreError>;

    /// Queued and active jobs of each key that has some, by key name.
    async fn live_jobs_by_tenant(&self) -> Result<Vec<(String, u64)>, StoreError>;
}

fn check_name(name: &str) -> Result<(), StoreError> {
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > MAX_KEY_NAME || !name.chars().all(fine) {
        return Err(StoreError::InvalidKey(format!(
            "key name {name:?}: 1 to {MAX_KEY_NAME} letters, digits, '-', '_' or '.'"
        )));
    }
    if name.parse::<i64>().is_ok() {
        return Err(StoreError::InvalidKey(format!(
            "key name {name:?}: a number would be taken for a key id"
        )));
    }
    Ok(())
}

fn limit_arg(limit: Option<u64>) -> Result<Arg, StoreError> {
    limit
        .map(|n| {
            i64::try_from(n).map_err(|_| StoreError::InvalidKey(format!("quota {n} is too large")))
        })
        .transpose()
        .map(Arg::OptI64)
}

impl<B: SqlBackend> Engine<B> {
    fn select_keys(&self, condition: &str) -> String {
        format!("SELECT {KEY_COLUMNS} FROM api_keys {condition}")
    }

    pub async fn add_key(&self, key: &NewKey) -> Result<ApiKey, StoreError> {
        check_name(&key.name)?;
        let mut tx = self.backend.write().await?;
        let same_name = self.select_keys("WHERE name = $1");
        if !tx
            .keys(&same_name, &[Arg::Text(key.name.clone())])
            .await?
            .is_empty()
        {
            return Err(StoreError::InvalidKey(format!(
                "a key named {:?} exists already (names stay taken after revocation)",
                key.name
            )));
        }
        let insert = format!(
            "INSERT INTO api_keys (name, role, key_sha256, created_at, max_active_jobs, \
             max_submissions_per_minute, max_stored_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING {KEY_COLUMNS}"
        );
        let args = [
            Arg::Text(key.name.clone()),
            Arg::Text(key.role.as_str().to_owned()),
            Arg::Text(key.digest.clone()),
            Arg::I64(self.now()),
            limit_arg(key.quota.max_active_jobs)?,
            limit_arg(key.quota.max_submissions_per_minute)?,
            limit_arg(key.quota.max_stored_bytes)?,
        ];
        let stored = tx.keys(&insert, &args).await?.into_iter().next();
        tx.commit().await?;
        stored.ok_or_else(|| StoreError::Database("the new key was not returned".into()))
    }

    pub async fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let mut tx = self.backend.read().await?;
        let keys = tx.keys(&self.select_keys("ORDER BY id"), &[]).await?;
        tx.commit().await?;
        Ok(keys)
    }

    pub async fn revoke_key(&self, id_or_name: &str) -> Result<ApiKey, StoreError> {
        let mut tx = self.backend.write().await?;
        let (condition, arg) = match id_or_name.parse::<i64>() {
            Ok(id) => ("WHERE id = $1", Arg::I64(id)),
            Err(_) => ("WHERE name = $1", Arg::Text(id_or_name.to_owned())),
        };
        let found = tx.keys(&self.select_keys(condition), &[arg]).await?;
        let Some(key) = found.into_iter().next() else {
            return Err(StoreError::UnknownKey(id_or_name.to_owned()));
        };
        if key.revoked_at_ms.is_some() {
            tx.commit().await?;
            return Ok(key);
        }
        let revoke =
            format!("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 RETURNING {KEY_COLUMNS}");
        let args = [Arg::I64(key.id), Arg::I64(self.now())];
        let revoked = tx.keys(&revoke, &args).await?.into_iter().next();
        tx.commit().await?;
        revoked.ok_or_else(|| StoreError::Database("a revoked key disappeared".into()))
    }

    pub async fn live_key(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
        let mut tx = self.backend.read().await?;
        let query = self.select_keys("WHERE key_sha256 = $1 AND revoked_at IS NULL");
        let key = tx.keys(&query, &[Arg::Text(digest.to_owned())]).await?;
        tx.commit().await?;
        Ok(key.into_iter().next())
    }

    pub async fn usage(&self, owner: i64, window: Duration) -> Result<Usage, StoreError> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let now = self.now();
        let since_ms = now.saturating_sub(window_ms);
        let mut tx = self.backend.read().await?;
        let live = tx.ints(sql::LIVE_JOBS_OF_OWNER, &[Arg::I64(owner)]).await?;
        let recent = tx
            .ints(
                sql::RECENT_SUBMISSIONS,
                &[Arg::I64(owner), Arg::I64(since_ms)],
            )
            .await?;
        let key = tx
            .keys(&self.select_keys("WHERE id = $1"), &[Arg::I64(owner)])
            .await?;
        tx.commit().await?;
        Ok(Usage {
            live_jobs: live.first().map_or(0, |&n| u64::try_from(n).unwrap_or(0)),
            recent_submissions: recent.len() as u64,
            window_frees_in_ms: recent
                .first()
                .map(|&oldest| oldest.saturating_add(window_ms).saturating_sub(now)),
            stored_bytes: key.first().map_or(0, |k| k.stored_bytes),
        })
    }

    async fn any_row(&self, query: &str, args: &[Arg]) -> Result<bool, StoreError> {
        let mut tx = self.backend.read().await?;
        let rows = tx.ints(query, args).await?;
        tx.commit().await?;
        Ok(!rows.is_empty())
    }

    pub async fn owner_has_blob(&self, owner: i64, blob: &ContentHash) -> Result<bool, StoreError> {
        let args = [Arg::I64(owner), Arg::Text(blob.as_str().to_owned())];
        self.any_row(sql::OWNER_BLOB, &args).await
    }

    pub async fn holder_has_blob(&self, key: i64, blob: &ContentHash) -> Result<bool, StoreError> {
        let args = [Arg::I64(key), Arg::Text(blob.as_str().to_owned())];
        self.any_row(sql::HELD_BLOB, &args).await
    }

    pub async fn live_jobs_by_tenant(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut tx = self.backend.read().await?;
        let rows = tx.text_ints(sql::LIVE_JOBS_BY_TENANT, &[]).await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(name, n)| (name, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_as_written() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn names_are_short_words_not_numbers() {
        assert!(check_name("tenant-a.prod_1").is_ok());
        for bad in ["", "12", "a b", "ü", &"x".repeat(MAX_KEY_NAME + 1)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_key_quota_falls_back_to_the_defaults_limit_by_limit() {
        let own = Quota {
            max_active_jobs: Some(1),
            ..Quota::default()
        };
        let defaults = Quota {
            max_active_jobs: Some(10),
            max_submissions_per_minute: Some(5),
            max_stored_bytes: None,
        };
        assert_eq!(
            own.or(defaults),
            Quota {
                max_active_jobs: Some(1),
                max_submissions_per_minute: Some(5),
                max_stored_bytes: None,
            }
        );
    }

    #[test]
    fn digest_is_sha256_hex_of_the_trimmed_secret() {
        assert_eq!(key_digest(" abc\n"), ContentHash::of(b"abc").as_str());
    }
}
