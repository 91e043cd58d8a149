//! Helpers shared by the benchmarks: peak-memory measurement and result tables.
//! Benchmarks compare starfarm against an anchor measured in the same run (for proving:
//! stwo-cairo's own `prove_cairo`), because these machines are shared and noisy.

pub mod components;

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

pub mod spans {
    //! Where a proof's time goes: the exclusive (self) wall time of every tracing span that
    //! stwo and stwo-cairo open on the proving thread, by span name (or `class` field when the
    //! span has no name). Spans opened on other threads (rayon's) are left out: their time is
    //! already inside a span of the proving thread, and counting it again would add up
    //! thread time, not wall time.

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::thread::{self, ThreadId};
    use std::time::{Duration, Instant};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id};
    use tracing::Subscriber;
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::Layer;

    #[derive(Clone)]
    pub struct SelfTime {
        thread: ThreadId,
        totals: Arc<Mutex<HashMap<String, Duration>>>,
    }

    struct Timing {
        key: String,
        opened: Instant,
        children: Duration,
    }

    #[derive(Default)]
    struct Class(Option<String>);

    impl Visit for Class {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "class" {
                self.0 = Some(value.to_owned());
            }
        }
        fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
    }

    impl SelfTime {
        /// Times the spans opened on the calling thread.
        pub fn for_this_thread() -> Self {
            Self {
                thread: thread::current().id(),
                totals: Arc::default(),
            }
        }

        /// The totals so far, largest first, and clears them.
        pub fn take(&self) -> Vec<(String, Duration)> {
            let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
            let mut out: Vec<_> = totals.drain().collect();
            out.sort_by_key(|entry| std::cmp::Reverse(entry.1));
            out
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SelfTime {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            if thread::current().id() != self.thread {
                return;
            }
            let Some(span) = ctx.span(id) else { return };
            let key = match span.name() {
                "" => {
                    let mut class = Class::default();
                    attrs.record(&mut class);
                    class.0.unwrap_or_else(|| "(unnamed)".into())
                }
                name => name.to_owned(),
            };
            span.extensions_mut().insert(Timing {
                key,
                opened: Instant::now(),
                children: Duration::ZERO,
            });
        }

        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(&id) else { return };
            let Some(timing) = span.extensions_mut().remove::<Timing>() else {
                return;
            };
            let total = timing.opened.elapsed();
            if let Some(parent) = span.parent() {
                if let Some(p) = parent.extensions_mut().get_mut::<Timing>() {
                    p.children += total;
                }
            }
            let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
            *totals.entry(timing.key).or_default() += total.saturating_sub(timing.children);
        }
    }

    /// The stage of a proof a span belongs to, for the summary (`None`: shown by name only).
    pub fn stage(span: &str) -> &'static str {
        match span {
            "Write base trace" | "Write interaction trace" => "witness generation",
            "Interpolation for commitment" | "iFFT" | "rFFT" | "Extension" => {
                "FFT (interpolate, extend)"
            }
            "Merkle" | "MerkleCommitment" => "Merkle hashing",
            "Composition" | "ConstraintEvaluation" | "Constraint point-wise eval" => {
                "constraints (composition)"
            }
            "cairo run" => "execution (cairo-vm)",
            "Compute FRI quotients" | "commit" | "decommit" => "FRI (quotients, folding)",
            "Grind" | "Simd Blake2s Grind" => "proof of work",
            "Evaluate columns out of domain" => "out-of-domain sampling",
            // starfarm-kernels' device steps (inside the Merkle and grind spans above).
            "GPU gather"
            | "GPU upload"
            | "GPU alloc"
            | "GPU launch"
            | "GPU wait and download"
            | "GPU convert"
            | "GPU plan"
            | "GPU check" => "GPU transfers and kernels",
            // stwo-cairo's own glue (claims, lookup data, channel mixing) and stwo's driver.
            _ => "other",
        }
    }
}
