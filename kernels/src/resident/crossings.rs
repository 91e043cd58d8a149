//! Why a host↔device transfer happened: each transfer of a resident proof is made under a
//! [`Crossing`] (the innermost code that knows why sets it, the outermost scope wins: a host
//! fallback's column downloads count as the fallback's), so that a device's transfer counters
//! can be broken down by cause (`EmulatedDevice::transfers_by_crossing`). Only the counters
//! read it; it changes nothing a device does.

use std::cell::Cell;

/// The cause of a host↔device transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Crossing {
    /// FFT and FRI twiddles.
    Twiddles,
    /// A launch's parameters (sizes, constants, sample points, evaluation factors, Merkle
    /// descriptors) and small results of the launches' own bookkeeping.
    LaunchParameters,
    /// Whole columns uploaded (`DeviceColumn::from_host`: the traces, the preprocessed
    /// trace's evaluations) or single values written (`Column::set`).
    Columns,
    /// Whole columns downloaded outside a fallback (`Column::to_cpu`: the FRI last layer).
    ColumnDownloads,
    /// Single values read (`Column::at`: Stwo's Merkle `decommit` reads each queried value).
    ColumnReads,
    /// Queried rows gathered on the device for a decommitment (indices up, values down).
    Decommitment,
    /// Out-of-domain sampling and barycentric sums: the 4 words of each value.
    SampledValues,
    /// The host's re-hash of the first and last Merkle leaves.
    MerkleCheck,
    /// Proof-of-work search: its parameters and the best nonce.
    Grind,
    /// Downloads and uploads of a host fallback (an operation run by `SimdBackend`).
    HostFallback,
    /// Anything not marked.
    Other,
}

impl Crossing {
    pub const ALL: [Crossing; 11] = [
        Crossing::Twiddles,
        Crossing::LaunchParameters,
        Crossing::Columns,
        Crossing::ColumnDownloads,
        Crossing::ColumnReads,
        Crossing::Decommitment,
        Crossing::SampledValues,
        Crossing::MerkleCheck,
        Crossing::Grind,
        Crossing::HostFallback,
        Crossing::Other,
    ];
}

thread_local! {
    static CURRENT: Cell<Option<Crossing>> = const { Cell::new(None) };
}

/// The cause of a transfer made now on this thread.
pub fn current_crossing() -> Crossing {
    CURRENT.get().unwrap_or(Crossing::Other)
}

/// Runs `f` with its transfers counted under `cause`, unless an outer scope already set one.
pub fn with_crossing<T>(cause: Crossing, f: impl FnOnce() -> T) -> T {
    // Restored on unwind too: a device fault unwinds through these scopes.
    struct Restore(Option<Crossing>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.set(self.0);
        }
    }
    let outer = CURRENT.get();
    let _restore = Restore(outer);
    if outer.is_none() {
        CURRENT.set(Some(cause));
    }
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outermost_cause_wins_and_is_restored_after_an_unwind() {
        assert_eq!(current_crossing(), Crossing::Other);
        with_crossing(Crossing::HostFallback, || {
            with_crossing(Crossing::Columns, || {
                assert_eq!(current_crossing(), Crossing::HostFallback)
            })
        });
        let unwound = std::panic::catch_unwind(|| {
            with_crossing(Crossing::Twiddles, || {
                assert_eq!(current_crossing(), Crossing::Twiddles);
                std::panic::resume_unwind(Box::new(()))
            })
        });
        assert!(unwound.is_err());
        assert_eq!(current_crossing(), Crossing::Other);
    }
}
