//! Helpers shared by the benchmarks: peak-memory measurement and result tables.
//! Benchmarks compare starfarm against an anchor measured in the same run (for proving:
//! stwo-cairo's own `prove_cairo`), because these machines are shared and noisy.

/// Peak resident memory of this process since the last [`reset_peak_rss`], in MiB.
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Resets the kernel's peak-RSS counter (Linux: `5` to `/proc/self/clear_refs`).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Median of a non-empty list of seconds.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Reads a comma-separated list from an environment variable, or the default.
pub fn env_list(name: &str, default: &[u32]) -> Vec<u32> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<u32>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

/// The repository root (benchmarks read `examples/` and write `target/` there).
pub fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The security profile named by STARFARM_BENCH_PROFILE (default `production`).
pub fn profile_from_env() -> anyhow::Result<starfarm_prover::SecurityProfile> {
    std::env::var("STARFARM_BENCH_PROFILE")
        .unwrap_or_else(|_| "production".into())
        .parse()
        .map_err(anyhow::Error::msg)
}

/// The parameters of the `prove_cairo` anchor: stwo-cairo's defaults (its own preprocessed
/// trace, `Canonical`, and no stored coefficients) with the profile's PCS configuration.
pub fn anchor_parameters(
    profile: starfarm_prover::SecurityProfile,
) -> stwo_cairo_prover::prover::ProverParameters {
    use stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant;
    use stwo_cairo_prover::prover::{ChannelHash, ProverParameters};
    ProverParameters {
        channel_hash: ChannelHash::Blake2s,
        channel_salt: 0,
        pcs_config: profile.pcs_config(),
        preprocessed_trace: PreProcessedTraceVariant::Canonical,
        store_polynomials_coefficients: false, // stwo-cairo's default
        include_all_preprocessed_columns: false,
    }
}
