//! Chunk planning, pure: which contiguous transaction ranges of a block are proven as one
//! block-program run each, from the sequencer's per-transaction step estimates.

use serde::{Deserialize, Serialize};
use starfarm_sequencer::program_input::{BlockProverInput, RANGE_OVERHEAD_STEPS};
use starfarm_sequencer::service::estimated_steps;

/// Default target of estimated Cairo steps per chunk: 2^19, the largest chunk that stays on
/// the small preprocessed trace (`CanonicalSmall`, up to 2^19 steps), ~93 transfers at the
/// sequencer's estimates (5,600 each, ~5,150 real since issue 19's signed 5-bit windows; it
/// was ~87 at 6,000 and ~41 at 12,500). Memory: docs/sequencer.md, "Chunks sized by what a transfer costs now".
/// Machines with more memory can prove larger chunks (fewer proofs per block): raise it with
/// `--chunk-steps`.
pub const DEFAULT_CHUNK_STEPS: u64 = 1 << 19;

/// A contiguous range `tx_start..tx_end` of a block's transactions and its estimated steps
/// (including the per-range overhead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRange {
    pub tx_start: u64,
    pub tx_end: u64,
    pub estimated_steps: u64,
}

impl TxRange {
    fn empty_at(tx_start: u64) -> Self {
        Self {
            tx_start,
            tx_end: tx_start,
            estimated_steps: RANGE_OVERHEAD_STEPS,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tx_start == self.tx_end
    }
}

/// Splits transactions with the given step estimates into contiguous ranges of at most
/// `target_steps` each (overhead included). A transaction that alone exceeds the target gets
/// a range of its own. No transactions give one empty range `0..0`: the block program proves
/// an empty block (its header and roots), which settlement needs like any other.
pub fn plan_ranges(tx_steps: &[u64], target_steps: u64) -> Vec<TxRange> {
    let mut ranges = Vec::new();
    let mut current = TxRange::empty_at(0);
    for (index, &steps) in (0u64..).zip(tx_steps) {
        if !current.is_empty() && current.estimated_steps.saturating_add(steps) > target_steps {
            ranges.push(current);
            current = TxRange::empty_at(index);
        }
        current.tx_end = index + 1;
        current.estimated_steps = current.estimated_steps.saturating_add(steps);
    }
    ranges.push(current);
    ranges
}

/// The ranges of a published block, from [`estimated_steps`] of each transaction.
pub fn plan_block(input: &BlockProverInput, target_steps: u64) -> Vec<TxRange> {
    let steps: Vec<u64> = input.transactions.iter().map(estimated_steps).collect();
    plan_ranges(&steps, target_steps)
}

/// Memory a worker needs to prove a chunk of `steps` estimated steps, fitted on proofs of the
/// block program itself (input layout 3: neither ec_op nor Pedersen; docs/sequencer.md, "Chunks
/// sized for layout 2 and 3"): peak RSS on 2 cores, 2.62 GiB at 201,355 steps and 3.70 GiB at
/// 384,422 (production profile), 5.86 GiB at ~475,000 (test profile, 40 transfers whose 2,460
/// Poseidon permutations pad to 4,096: memory follows the padded components, not the steps),
/// all on `CanonicalSmall`, and 15.6 GiB at 1.4M steps for layout 2 on
/// `CanonicalWithoutPedersen` (test profile; its preprocessed trace holds ~6.4 GiB). Bounded
/// above with ~25 % to spare at the worst point: 2 GiB or 7 GiB, plus 12 KiB per step. `memory_for` (every program's estimate, 96 KiB per step) was fitted on the ec_op
/// program, whose steps were ~20× wider in trace cells, and overestimates these chunks ~8×.
/// Re-measured after issue 19 halved a transfer's steps (same Poseidon per transfer, so more
/// per step): 87 transfers at 487,816 steps peaked at 6.3 GiB at most, 7.6 GiB by this fit.
pub fn chunk_memory_bytes(steps: u64) -> u64 {
    const GIB: u64 = 1 << 30;
    const PER_STEP: u64 = 12 << 10;
    // The prover's threshold for `CanonicalSmall` (`choose_variant`).
    const SMALL_TRACE_MAX_STEPS: u64 = 1 << 19;
    let base = if steps <= SMALL_TRACE_MAX_STEPS {
        2 * GIB
    } else {
        7 * GIB
    };
    base.saturating_add(steps.saturating_mul(PER_STEP))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(ranges: &[TxRange]) -> Vec<(u64, u64)> {
        ranges.iter().map(|r| (r.tx_start, r.tx_end)).collect()
    }

    /// Every range is contiguous with the next and together they cover `0..n` once.
    fn assert_covers(ranges: &[TxRange], n: u64) {
        assert_eq!(ranges.first().map(|r| r.tx_start), Some(0));
        assert_eq!(ranges.last().map(|r| r.tx_end), Some(n));
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].tx_end, pair[1].tx_start);
            assert!(!pair[0].is_empty() && !pair[1].is_empty());
        }
    }

    #[test]
    fn an_empty_block_is_one_empty_range() {
        let ranges = plan_ranges(&[], DEFAULT_CHUNK_STEPS);
        assert_eq!(
            ranges,
            vec![TxRange {
                tx_start: 0,
                tx_end: 0,
                estimated_steps: RANGE_OVERHEAD_STEPS
            }]
        );
    }

    #[test]
    fn ranges_fill_up_to_the_target_with_the_overhead() {
        let steps = [1_000; 10];
        // 300 + 3 * 1000 fits 3300; a fourth would not.
        let ranges = plan_ranges(&steps, 3_300);
        assert_eq!(bounds(&ranges), vec![(0, 3), (3, 6), (6, 9), (9, 10)]);
        assert_eq!(ranges[0].estimated_steps, 3_300);
        assert_eq!(ranges[3].estimated_steps, 1_300);
        assert_covers(&ranges, 10);
        assert!(ranges.iter().all(|r| r.estimated_steps <= 3_300));
        assert_eq!(
            bounds(&plan_ranges(&steps, 3_299)),
            vec![(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
        );
    }

    #[test]
    fn a_transaction_over_the_target_gets_its_own_range() {
        let ranges = plan_ranges(&[100, 5_000, 100, 100], 1_000);
        assert_eq!(bounds(&ranges), vec![(0, 1), (1, 2), (2, 4)]);
        assert_eq!(ranges[1].estimated_steps, 5_300);
        // Even a target below the overhead makes progress: one transaction per range.
        assert_eq!(bounds(&plan_ranges(&[1, 1], 0)), vec![(0, 1), (1, 2)]);
    }

    #[test]
    fn the_default_target_keeps_a_large_block_whole_or_splits_it_evenly() {
        let small = vec![2_000; 60];
        assert_eq!(
            bounds(&plan_ranges(&small, DEFAULT_CHUNK_STEPS)),
            vec![(0, 60)]
        );
        let large = vec![2_000; 600];
        let ranges = plan_ranges(&large, DEFAULT_CHUNK_STEPS);
        assert_covers(&ranges, 600);
        assert_eq!(ranges.len(), 3);
        assert_eq!(
            ranges[0].tx_end,
            (DEFAULT_CHUNK_STEPS - RANGE_OVERHEAD_STEPS) / 2_000
        );
    }

    #[test]
    fn memory_grows_with_steps() {
        assert!(chunk_memory_bytes(0) >= 2 << 30);
        assert!(chunk_memory_bytes(DEFAULT_CHUNK_STEPS) > chunk_memory_bytes(1_000));
        // Above the measured peaks: 2.62 GiB at 201,355 steps, 3.70 GiB at 384,422, 5.86 GiB
        // at ~475,000 (docs/sequencer.md, "Chunks sized for layout 2 and 3").
        assert!(chunk_memory_bytes(201_355) > 2_685 << 20);
        assert!(chunk_memory_bytes(384_422) > 3_790 << 20);
        assert!(chunk_memory_bytes(475_000) > 6_004 << 20);
        // Since issue 19 a transfer is ~5.5k steps (was ~12k) with the same Poseidon, so a
        // step carries twice the hashing; the default chunk (87 transfers, 487,816 steps)
        // peaked at 5.3–6.5 GiB in four production-profile proofs (docs/sequencer.md, "Chunks
        // sized by what a transfer costs now"): still below the fit.
        assert!(chunk_memory_bytes(487_816) > 6_454 << 20);
        // The default chunk fits the 24 GiB workers the farm was sized for, with room.
        assert!(chunk_memory_bytes(DEFAULT_CHUNK_STEPS) <= 8 << 30);
        // Past 2^19 steps the large preprocessed trace is held too.
        assert!(chunk_memory_bytes((1 << 19) + 1) > chunk_memory_bytes(1 << 19) + (4 << 30));
        assert_eq!(chunk_memory_bytes(u64::MAX), u64::MAX);
    }
}
