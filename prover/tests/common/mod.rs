//! Helpers shared by the proving test binaries.

use starfarm_prover::{verify, ProofArtifact, VerifyError};

/// Flips one bit at `samples` positions spread evenly over the whole proof section, and at
/// both ends, and asserts that each tampered artifact fails verification: a flip in a length
/// prefix or padding as a decode error, anywhere else as a Stark or header mismatch.
pub fn assert_every_flip_fails(artifact: &ProofArtifact, samples: usize) {
    let n = artifact.proof.len();
    let positions = (0..samples).map(|i| i * n / samples).chain([1, n - 1]);
    for pos in positions {
        let mut tampered = artifact.clone();
        tampered.proof[pos] ^= 0x01;
        let err = verify(&tampered, 0).expect_err(&format!("flip at byte {pos} of {n} accepted"));
        assert!(
            matches!(
                err,
                VerifyError::Decode(_) | VerifyError::Stark(_) | VerifyError::Mismatch(_)
            ),
            "{err}"
        );
    }
}
