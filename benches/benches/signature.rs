//! Signature-check benchmark: the sequencer's `ecdsa::VerifyingKey::verify` (key prepared once
//! per account) against `starknet_crypto::verify` (the anchor), on the same RFC 6979 signatures,
//! in the same run, on 1 and 2 rayon threads.
//!
//! Run: `cargo bench --workspace --profile dev --bench signature` (the dev profile optimises
//! starfarm-sequencer and every dependency).
//! Environment: STARFARM_BENCH_SIGS (signatures, default 4000), STARFARM_BENCH_ANCHOR_SIGS
//! (how many of them the ~1 ms anchor checks, default 200), STARFARM_BENCH_REPS (timed passes,
//! median and best reported, default 5), STARFARM_BENCH_THREADS (default 1,2). Prints a table;
//! writes JSON to target/bench-signature-<avx2|baseline>.json.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use rayon::prelude::*;
use serde_json::json;
use starfarm_benches::{env_list, median};
use starfarm_sequencer::ecdsa::{self, SignatureCheck, VerifyingKey};
use starfarm_sequencer::Felt;

/// Accounts signing in turn: keys are prepared once each, as the sequencer caches them.
const ACCOUNTS: u64 = 64;

struct Signed {
    account: usize,
    hash: Felt,
    r: Felt,
    s: Felt,
}

fn main() -> Result<()> {
    let count = env_list("STARFARM_BENCH_SIGS", &[4000])[0].max(1) as usize;
    let anchor_count = (env_list("STARFARM_BENCH_ANCHOR_SIGS", &[200])[0] as usize).min(count);
    let reps = env_list("STARFARM_BENCH_REPS", &[5])[0].max(1);
    let threads = env_list("STARFARM_BENCH_THREADS", &[1, 2]);
    println!(
        "avx2 build: {}, {count} signatures from {ACCOUNTS} accounts, anchor on {anchor_count}, {reps} reps",
        cfg!(target_feature = "avx2")
    );

    let private_keys: Vec<Felt> = (1..=ACCOUNTS)
        .map(|i| Felt::from(i) * Felt::from(0x9e37_79b9_7f4a_7c15_u64))
        .collect();
    let public_keys: Vec<Felt> = private_keys
        .iter()
        .map(starknet_crypto::get_public_key)
        .collect();
    let sigs = sign_all(&private_keys, count)?;

    let started = Instant::now();
    ecdsa::warm_up();
    let table_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let keys = public_keys
        .iter()
        .map(|&pk| VerifyingKey::from_public_key(pk))
        .collect::<Result<Vec<_>, _>>()?;
    let key_us = started.elapsed().as_secs_f64() * 1e6 / keys.len() as f64;
    println!("generator table {table_ms:.1} ms (once per process), key preparation {key_us:.1} µs per account");

    let checks: Vec<SignatureCheck<'_>> = sigs
        .iter()
        .map(|s| SignatureCheck {
            key: &keys[s.account],
            hash: s.hash,
            r: s.r,
            s: s.s,
        })
        .collect();
    let anchor_sigs = &sigs[..anchor_count];

    let mut rows = Vec::new();
    for &t in &threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t as usize)
            .build()?;
        let anchor = pool.install(|| {
            time_per_sig(anchor_sigs.len(), reps, || {
                anchor_sigs.par_iter().all(|s| {
                    starknet_crypto::verify(&public_keys[s.account], &s.hash, &s.r, &s.s)
                        .unwrap_or(false)
                })
            })
        })?;
        let ours = pool.install(|| {
            time_per_sig(checks.len(), reps, || {
                ecdsa::verify_many(&checks).into_iter().all(|ok| ok)
            })
        })?;
        let row = json!({
            "threads": t,
            "anchor_us_per_sig": anchor.0 * 1e6,
            "anchor_sigs_per_s": 1.0 / anchor.0,
            "ours_us_per_sig": ours.0 * 1e6,
            "ours_sigs_per_s": 1.0 / ours.0,
            "speedup_vs_anchor": anchor.0 / ours.0,
            "best_pass": {
                "anchor_us_per_sig": anchor.1 * 1e6,
                "ours_us_per_sig": ours.1 * 1e6,
                "speedup_vs_anchor": anchor.1 / ours.1,
            },
        });
        for (label, a, o) in [("median", anchor.0, ours.0), ("best", anchor.1, ours.1)] {
            println!(
                "{t} thread(s), {label} pass: starknet-crypto verify {:.1} µs/sig ({:.0} sig/s) | VerifyingKey::verify {:.1} µs/sig ({:.0} sig/s) | speedup {:.1}x",
                a * 1e6,
                1.0 / a,
                o * 1e6,
                1.0 / o,
                a / o
            );
        }
        rows.push(row);
    }

    let report = json!({
        "avx2": cfg!(target_feature = "avx2"),
        "signatures": count,
        "anchor_signatures": anchor_count,
        "accounts": ACCOUNTS,
        "generator_table_ms": table_ms,
        "key_preparation_us": key_us,
        "rows": rows,
    });
    let build = if cfg!(target_feature = "avx2") {
        "avx2"
    } else {
        "baseline"
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join(format!("target/bench-signature-{build}.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("results written to {}", out.display());
    Ok(())
}

/// `count` genuine signatures, accounts in turn, RFC 6979 k, hashes from a fixed sequence.
fn sign_all(private_keys: &[Felt], count: usize) -> Result<Vec<Signed>> {
    (0..count)
        .into_par_iter()
        .map(|i| {
            let account = i % private_keys.len();
            let hash = Felt::from(i as u64 + 1) * Felt::from(0xd1b5_4a32_d192_ed03_u64);
            let pk = &private_keys[account];
            let k = starknet_crypto::rfc6979_generate_k(&hash, pk, None);
            let sig = starknet_crypto::sign(pk, &hash, &k)
                .with_context(|| format!("signing hash {hash}"))?;
            Ok(Signed {
                account,
                hash,
                r: sig.r,
                s: sig.s,
            })
        })
        .collect()
}

/// Seconds per signature over `reps` passes of `pass` (which must accept them all): the median,
/// and the best pass, steadier than the median when other jobs share the cores.
fn time_per_sig(count: usize, reps: u32, pass: impl Fn() -> bool) -> Result<(f64, f64)> {
    let mut times = Vec::new();
    for _ in 0..reps {
        let started = Instant::now();
        ensure!(pass(), "a genuine signature was refused");
        times.push(started.elapsed().as_secs_f64() / count as f64);
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    Ok((median(&mut times), best))
}
