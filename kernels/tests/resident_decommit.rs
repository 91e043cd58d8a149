//! Batched decommitment on the emulated device: with `prefetch_decommitment` around a proof,
//! the queried rows of each column come down in one gather (`Crossing::Decommitment`) instead
//! of one download per value (`Crossing::ColumnReads`), and the proof stays `SimdBackend`'s
//! byte for byte. Its own test binary: the prediction is process-wide, and a proof running
//! concurrently in the same process would blur the counts (never the bytes).

mod common;
mod resident_common;

use resident_common::checks;
use starfarm_kernels::emulated_device::{EmulatedDevice, Transfers};
use starfarm_kernels::resident::{Crossing, ResidentDevice};
use starfarm_kernels::KernelError;

fn by_crossing(device: &EmulatedDevice, cause: Crossing) -> Transfers {
    device
        .transfers_by_crossing()
        .into_iter()
        .find(|(c, _)| *c == cause)
        .map(|(_, t)| t)
        .expect("every cause is listed")
}

#[test]
fn a_batched_decommitment_gathers_the_queried_rows_and_keeps_the_proof() {
    let device = match EmulatedDevice::instance() {
        Ok(d) => d,
        Err(KernelError::NoDevice { reason, .. }) => {
            eprintln!("SKIPPED: batched decommitment, {reason}");
            return;
        }
        Err(e) => panic!("the emulated device does not build: {e}"),
    };
    let counts = || {
        (
            by_crossing(device, Crossing::ColumnReads),
            by_crossing(device, Crossing::Decommitment),
        )
    };
    // The same proof without the prediction, then with it.
    let (reads0, gathers0) = counts();
    checks::whole_proof_equals_simd_byte_for_byte_and_verifies::<EmulatedDevice>();
    let (reads1, gathers1) = counts();
    checks::whole_proof_with_batched_decommitment_equals_simd::<EmulatedDevice>();
    let (reads2, gathers2) = counts();

    let (single, batched) = (reads1.since(&reads0), reads2.since(&reads1));
    let (no_gathers, gathers) = (gathers1.since(&gathers0), gathers2.since(&gathers1));
    eprintln!(
        "without the prediction: reads {single}, gathers {no_gathers}; with it: reads \
         {batched}, gathers {gathers}"
    );
    assert_eq!(no_gathers.downloads, 0, "no gather without a prediction");
    assert!(gathers.downloads > 0, "the decommitment gathered rows");
    assert!(
        batched.downloads + gathers.downloads + gathers.uploads < single.downloads / 2,
        "the gathers replace most single reads: {} reads and {} gather transfers against {} \
         reads",
        batched.downloads,
        gathers.downloads + gathers.uploads,
        single.downloads
    );
}
