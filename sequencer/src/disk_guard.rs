//! Admission's guard against a full disk (as geth's `--datadir.minfreedisk`): below a minimum
//! of free space on the database's file system, new transactions are refused with a clear
//! error instead of being acknowledged and then failing to log. The remaining space is kept
//! for closing blocks (their commits remove the logged transactions), and admission resumes
//! by itself once space returns.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::chain::AdmissionError;
use crate::metrics::SequencerMetrics;

const MIB: u64 = 1 << 20;

/// Checks the free space of one folder's file system.
pub struct DiskGuard {
    path: PathBuf,
    minimum: u64,
    /// Whether the last check was below the minimum (a log line on each change, not on
    /// each refusal).
    low: AtomicBool,
}

impl DiskGuard {
    /// Refuses admission while the file system of `path` has fewer than `minimum` bytes free
    /// for unprivileged writers (0: never refuses).
    pub fn new(path: &Path, minimum: u64) -> Self {
        Self {
            path: path.to_path_buf(),
            minimum,
            low: AtomicBool::new(false),
        }
    }

    /// Ok when admission may write; the refusal otherwise. A file system that cannot be
    /// measured is not a reason to refuse (the log write would say what is wrong).
    pub fn check(&self, metrics: &SequencerMetrics) -> Result<(), AdmissionError> {
        if self.minimum == 0 {
            return Ok(());
        }
        let free = match free_bytes(&self.path) {
            Ok(free) => free,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot measure free disk space");
                return Ok(());
            }
        };
        metrics
            .disk_free_bytes
            .set(i64::try_from(free).unwrap_or(i64::MAX));
        let low = free < self.minimum;
        if self.low.swap(low, Ordering::Relaxed) != low {
            if low {
                tracing::error!(
                    path = %self.path.display(),
                    free_mib = free / MIB,
                    minimum_mib = self.minimum / MIB,
                    "disk nearly full: refusing new transactions until space is freed"
                );
            } else {
                tracing::warn!(free_mib = free / MIB, "disk space is back: admitting again");
            }
        }
        if !low {
            return Ok(());
        }
        Err(AdmissionError::DiskFull {
            free_mib: free / MIB,
            minimum_mib: self.minimum / MIB,
        })
    }
}

/// Bytes an unprivileged writer may still use on the file system of `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_the_minimum_and_says_how_much_is_free() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = SequencerMetrics::new();
        let free = free_bytes(dir.path()).expect("statvfs");
        assert!(free > 0);
        DiskGuard::new(dir.path(), 0)
            .check(&metrics)
            .expect("no minimum");
        DiskGuard::new(dir.path(), MIB)
            .check(&metrics)
            .expect("a MiB is free");
        let refusal = DiskGuard::new(dir.path(), u64::MAX)
            .check(&metrics)
            .expect_err("more than any disk");
        let text = refusal.to_string();
        assert!(text.contains("disk is nearly full"), "{text}");
        assert!(
            text.contains("MiB free") && text.contains("retry"),
            "{text}"
        );
        assert!(metrics.disk_free_bytes.get() > 0);
    }
}
