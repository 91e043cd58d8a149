//! Per-key quotas on submissions: live jobs, submissions per minute and stored bytes
//! ([`crate::store::Quota`]; a key's own limits, else [`super::ApiConfig::default_quota`]).
//! Checked after the request is validated and found not to be a resubmission of a live job
//! (which is answered 200 whatever the quota), and before anything is stored; over a limit,
//! the answer is 429 with `Retry-After` and code `quota_exceeded` or `rate_limited`.
//!
//! The check reads the store and the submission writes later, so concurrent submissions of
//! one key can each pass a nearly full quota: a key may end up over by the number of its
//! submissions in flight at once. `--api-key` admin keys have no quota.

use std::time::Duration;

use super::{ApiError, AppState, Caller};
use crate::store::{Quota, Usage};

/// The window of `max_submissions_per_minute`.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// `Retry-After` when the live-jobs quota is full: a slot frees when a job finishes.
pub const LIVE_JOBS_RETRY_SECS: u64 = 10;
/// `Retry-After` when the stored-bytes quota is full: stored blobs stay, so only an
/// operator raising the quota helps.
pub const STORAGE_RETRY_SECS: u64 = 3600;

/// Refuses a submission of `new_bytes` (program and input) that would put `caller` over
/// its quota.
pub async fn check(state: &AppState, caller: &Caller, new_bytes: u64) -> Result<(), ApiError> {
    let Some(key) = &caller.key else {
        return Ok(());
    };
    let quota = key.quota.or(state.config.default_quota);
    if quota == Quota::default() {
        return Ok(()); // nothing limited: no reads
    }
    let usage = state.store.usage(key.id, RATE_WINDOW).await?;
    match refusal(&quota, &usage, new_bytes) {
        Some(refused) => Err(refused),
        None => Ok(()),
    }
}

/// Why `usage` plus one submission of `new_bytes` breaks `quota`, if it does.
fn refusal(quota: &Quota, usage: &Usage, new_bytes: u64) -> Option<ApiError> {
    if let Some(max) = quota.max_active_jobs {
        if usage.live_jobs >= max {
            return Some(ApiError::too_many(
                "quota_exceeded",
                format!(
                    "this key has {} queued or active jobs, its limit (max_active_jobs); \
                     submit again when one finishes",
                    usage.live_jobs
                ),
                LIVE_JOBS_RETRY_SECS,
            ));
        }
    }
    if let Some(max) = quota.max_submissions_per_minute {
        if usage.recent_submissions >= max {
            let wait_ms = usage.window_frees_in_ms.unwrap_or(0).max(0);
            let secs = u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000);
            return Some(ApiError::too_many(
                "rate_limited",
                format!(
                    "this key submitted {} jobs in the last minute, its limit \
                     (max_submissions_per_minute)",
                    usage.recent_submissions
                ),
                secs,
            ));
        }
    }
    if let Some(max) = quota.max_stored_bytes {
        let total = usage.stored_bytes.saturating_add(new_bytes);
        if total > max {
            return Some(ApiError::too_many(
                "quota_exceeded",
                format!(
                    "this submission stores {new_bytes} bytes; with the {} bytes this key has \
                     stored, that is over its limit of {max} (max_stored_bytes)",
                    usage.stored_bytes
                ),
                STORAGE_RETRY_SECS,
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota() -> Quota {
        Quota {
            max_active_jobs: Some(2),
            max_submissions_per_minute: Some(3),
            max_stored_bytes: Some(1000),
        }
    }

    #[test]
    fn within_every_limit_passes() {
        let usage = Usage {
            live_jobs: 1,
            recent_submissions: 2,
            window_frees_in_ms: Some(5),
            stored_bytes: 900,
        };
        assert_eq!(refusal(&quota(), &usage, 100), None);
        assert_eq!(
            refusal(&Quota::default(), &Usage::default(), u64::MAX),
            None
        );
    }

    #[test]
    fn each_limit_refuses_with_its_code_and_retry_after() {
        let live = Usage {
            live_jobs: 2,
            ..Usage::default()
        };
        let refused = refusal(&quota(), &live, 1).unwrap();
        assert_eq!(
            (
                refused.status.as_u16(),
                refused.code,
                refused.retry_after_secs
            ),
            (429, "quota_exceeded", Some(LIVE_JOBS_RETRY_SECS))
        );
        let rate = Usage {
            recent_submissions: 3,
            window_frees_in_ms: Some(12_001),
            ..Usage::default()
        };
        let refused = refusal(&quota(), &rate, 1).unwrap();
        assert_eq!(
            (refused.code, refused.retry_after_secs),
            ("rate_limited", Some(13))
        );
        let bytes = Usage {
            stored_bytes: 900,
            ..Usage::default()
        };
        let refused = refusal(&quota(), &bytes, 101).unwrap();
        assert_eq!(refused.code, "quota_exceeded");
        assert!(
            refused.reason.contains("max_stored_bytes"),
            "{}",
            refused.reason
        );
    }
}
