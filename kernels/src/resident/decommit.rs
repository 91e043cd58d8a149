//! Batched decommitment. Stwo's generic lifted-Merkle `decommit` reads each queried value and
//! each authentication-path hash with `Column::at`, one at a time: on a device, one small
//! download each (14,400 for a fibonacci(100) proof). Its trait offers no hook, so the hook
//! is `DeviceColumn::at` itself, fed by a prediction:
//!
//! - the flow announces how many queries the proof draws and its FRI fold step
//!   ([`prefetch_decommitment`], a guard around one proof);
//! - `compute_quotients_and_combine` notes the lifting domain's size (the FRI first layer's,
//!   on which the queries are drawn);
//! - the backend's `grind` of the query proof of work knows the channel and the nonce, so it
//!   draws the query positions exactly as Stwo is about to (`draw_queries` on the channel
//!   with the nonce mixed in): a [`QueryPlan`];
//! - the first `at` on a column whose index the plan names gathers every row the plan names
//!   for that column with one launch (`gather_rows`: the indices up, the values down, one
//!   transfer each) and keeps them; the column's next reads come from that copy.
//!
//! A prediction can only save transfers, never change a value: a read the plan does not name
//! is a single download as before, the copy is dropped whenever the column is written
//! (`set`, `buffer_mut`), and the values are the column's own at the time of the gather. A
//! wrong plan (another proof's, concurrently on the same device) costs a few gathers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::queries::{draw_queries, Queries};

/// The query positions of one proof's decommitment, on the lifting domain (`2^log_size`).
#[derive(Debug)]
pub(crate) struct QueryPlan {
    pub id: u64,
    pub log_size: u32,
    pub fold_step: u32,
    pub positions: Vec<usize>,
}

impl QueryPlan {
    /// The rows a decommitment may read from a column of `len` values, sorted: those Stwo's
    /// lifted `decommit` reads from a committed column (`(p >> (shift + 1) << 1) + (p & 1)`,
    /// `shift` the column's lift), and those FRI reads from a layer of that size (the
    /// `2^fold_step` values of the folding coset of each query folded to it); `None` for a
    /// column longer than the lifting domain or not a power of two.
    pub fn value_rows(&self, len: usize) -> Option<Vec<usize>> {
        let log_len = self.log_len(len)?;
        let shift = self.log_size - log_len;
        let coset = 1usize << self.fold_step.min(log_len);
        let mut rows: Vec<usize> = self
            .positions
            .iter()
            .flat_map(|p| {
                let lifted = ((p >> (shift + 1)) << 1) + (p & 1);
                let start = (p >> shift) & !(coset - 1);
                std::iter::once(lifted).chain(start..start + coset)
            })
            .collect();
        rows.sort_unstable();
        rows.dedup();
        Some(rows)
    }

    /// The hashes `decommit` reads from a Merkle layer of `len` nodes: both children of each
    /// queried node of the layer above (the queried node and its sibling), sorted.
    pub fn node_rows(&self, len: usize) -> Option<Vec<usize>> {
        let log_len = self.log_len(len)?;
        let shift = self.log_size - log_len;
        let mut rows: Vec<usize> = self
            .positions
            .iter()
            .flat_map(|p| {
                let node = p >> shift;
                [node & !1, node | 1]
            })
            .filter(|&r| r < len)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        Some(rows)
    }

    fn log_len(&self, len: usize) -> Option<u32> {
        (len.is_power_of_two() && len.ilog2() <= self.log_size).then(|| len.ilog2())
    }
}

#[derive(Default)]
struct State {
    /// Queries the current proof draws and its FRI fold step (set by
    /// [`prefetch_decommitment`]).
    n_queries: Option<usize>,
    fold_step: u32,
    /// The lifting domain's log size, noted by the FRI quotients, taken by the next grind.
    lifting_log_size: Option<u32>,
    plan: Option<Arc<QueryPlan>>,
}

static STATE: Mutex<State> = Mutex::new(State {
    n_queries: None,
    fold_step: 0,
    lifting_log_size: None,
    plan: None,
});
static NEXT_PLAN: AtomicU64 = AtomicU64::new(1);

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// While alive, the resident backend predicts the decommitment of the proof being made (which
/// draws `n_queries` queries) and gathers each column's queried rows in one launch (see the
/// module header). One per proof; dropping it forgets the prediction.
#[must_use = "the prediction lasts as long as the guard"]
pub struct DecommitPrefetch(());

/// Starts the prediction for one proof drawing `n_queries` queries, folding FRI layers
/// `fold_step` times per layer (the proof's `FriConfig`).
pub fn prefetch_decommitment(n_queries: usize, fold_step: u32) -> DecommitPrefetch {
    *state() = State {
        n_queries: Some(n_queries),
        fold_step,
        ..State::default()
    };
    DecommitPrefetch(())
}

impl Drop for DecommitPrefetch {
    fn drop(&mut self) {
        *state() = State::default();
    }
}

/// `compute_quotients_and_combine` ran on a lifting domain of `2^log_size` points: the FRI
/// first layer's, on which the next grind's queries are drawn.
pub(crate) fn note_lifting_log_size(log_size: u32) {
    let mut s = state();
    if s.n_queries.is_some() {
        s.lifting_log_size = Some(log_size);
    }
}

/// The query proof of work was found: draws the queries Stwo draws next (the nonce mixed into
/// a copy of the channel) and makes them the plan. Only after the FRI quotients (the
/// interaction proof of work, earlier, draws no queries).
pub(crate) fn plan_after_grind(channel: &Blake2sChannel, nonce: u64) {
    let mut s = state();
    let (Some(n_queries), Some(log_size)) = (s.n_queries, s.lifting_log_size.take()) else {
        return;
    };
    let mut channel = channel.clone();
    channel.mix_u64(nonce);
    let raw = draw_queries(&mut channel, log_size, n_queries);
    let queries = Queries::new(&raw, log_size);
    s.plan = Some(Arc::new(QueryPlan {
        id: NEXT_PLAN.fetch_add(1, Ordering::Relaxed),
        log_size,
        fold_step: s.fold_step,
        positions: queries.positions,
    }));
}

/// The plan of the proof being decommitted, if there is one.
pub(crate) fn current_plan() -> Option<Arc<QueryPlan>> {
    state().plan.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_stwos_lifted_decommit() {
        let plan = QueryPlan {
            id: 1,
            log_size: 4,
            fold_step: 0,
            positions: vec![1, 6, 7, 12],
        };
        // The full-size column: the positions themselves.
        assert_eq!(plan.value_rows(16), Some(vec![1, 6, 7, 12]));
        // Lifted by 2 (4 values): (p >> 3 << 1) + (p & 1); FRI's layer of 4: p >> 2.
        assert_eq!(plan.value_rows(4), Some(vec![0, 1, 2, 3]));
        assert_eq!(plan.value_rows(32), None);
        assert_eq!(plan.value_rows(12), None);
        // Leaves (16 nodes): the pairs of each position.
        assert_eq!(plan.node_rows(16), Some(vec![0, 1, 6, 7, 12, 13]));
        // The root layer: one node.
        assert_eq!(plan.node_rows(1), Some(vec![0]));
        // FRI folding one step per layer: each query's pair, at every size.
        let plan = QueryPlan {
            fold_step: 1,
            ..plan
        };
        assert_eq!(plan.value_rows(16), Some(vec![0, 1, 6, 7, 12, 13]));
        assert_eq!(plan.value_rows(8), Some(vec![0, 1, 2, 3, 6, 7]));
    }
}
