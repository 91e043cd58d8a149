//! A whole polynomial-commitment proof (trace commitment, FRI with packed leaves, proof of
//! work) made with `GpuBlake2sMerkleChannel` is byte for byte the proof
//! `Blake2sMerkleChannel` makes, and Stwo's stock verifier accepts it.

mod common;

use starfarm_kernels::{device, GpuBlake2sMerkleChannel};
use stwo::core::channel::Blake2sChannel;
use stwo::core::channel::MerkleChannel;
use stwo::core::circle::CirclePoint;
use stwo::core::circle::SECURE_FIELD_CIRCLE_GEN;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::quotients::CommitmentSchemeProof;
use stwo::core::pcs::{CommitmentSchemeVerifier, PcsConfig, TreeVec};
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::BackendForChannel;
use stwo::prover::poly::circle::{CircleCoefficients, PolyOps};
use stwo::prover::CommitmentSchemeProver;

const LIFTING_LOG_SIZE: u32 = 10;

fn polys(rng: &mut common::Rng) -> Vec<CircleCoefficients<SimdBackend>> {
    let mut polys: Vec<CircleCoefficients<SimdBackend>> = (0..13)
        .map(|i| {
            let log = 4 + (i % 5) as u32;
            CircleCoefficients::new((0..1 << log).map(|_| M31::from(rng.m31())).collect())
        })
        .collect();
    polys.push(CircleCoefficients::new(
        (0..1 << LIFTING_LOG_SIZE)
            .map(|_| M31::from(rng.m31()))
            .collect(),
    ));
    polys
}

fn sampled_points(n: usize) -> TreeVec<Vec<Vec<CirclePoint<SecureField>>>> {
    let a = SECURE_FIELD_CIRCLE_GEN.mul(0x1234_5678_9abc_def0_u128);
    let b = SECURE_FIELD_CIRCLE_GEN.mul(0x0fed_cba9_8765_4321_u128);
    TreeVec(vec![(0..n)
        .map(|i| if i % 2 == 0 { vec![a] } else { vec![a, b] })
        .collect()])
}

fn prove<MC: MerkleChannel>(config: PcsConfig) -> (CommitmentSchemeProof<MC::H>, Vec<u32>)
where
    SimdBackend: BackendForChannel<MC>,
{
    let twiddles = SimdBackend::precompute_twiddles(
        CanonicCoset::new(LIFTING_LOG_SIZE + config.fri_config.log_blowup_factor).half_coset(),
    );
    let mut channel = MC::C::default();
    let mut scheme = CommitmentSchemeProver::<SimdBackend, MC>::new(config, &twiddles);
    let polys = polys(&mut common::Rng::new(99));
    let sizes: Vec<u32> = polys.iter().map(|p| p.log_size()).collect();
    let n = polys.len();
    let mut builder = scheme.tree_builder();
    builder.extend_polys(polys);
    builder.commit(&mut channel);
    (
        scheme.prove_values(sampled_points(n), &mut channel).proof,
        sizes,
    )
}

#[test]
fn gpu_channel_proof_is_byte_identical_and_verifies() {
    let on_gpu = common::test_device("pcs test").is_some();
    let before = device::stats();
    let config = PcsConfig {
        pow_bits: 12,
        ..PcsConfig::default()
    };
    let (gpu_proof, sizes) = prove::<GpuBlake2sMerkleChannel>(config);
    let (cpu_proof, _) = prove::<Blake2sMerkleChannel>(config);
    let gpu_bytes = serde_json::to_vec(&gpu_proof).expect("serialise");
    let cpu_bytes = serde_json::to_vec(&cpu_proof).expect("serialise");
    assert_eq!(gpu_bytes, cpu_bytes, "proofs differ");

    // The stock verifier, on the GPU proof read back as Stwo's own proof type.
    let proof: CommitmentSchemeProof<Blake2sMerkleHasher> =
        serde_json::from_slice(&gpu_bytes).expect("deserialise");
    let mut channel = Blake2sChannel::default();
    let mut verifier = CommitmentSchemeVerifier::<Blake2sMerkleChannel>::new(config);
    verifier.commit(proof.commitments[0], &sizes, &mut channel);
    verifier
        .verify_values(sampled_points(sizes.len()), proof, &mut channel)
        .expect("stock verifier accepts the GPU proof");
    let after = device::stats();
    if on_gpu {
        assert!(after.gpu_calls > before.gpu_calls);
        assert_eq!(after.fallbacks, before.fallbacks);
    }
    eprintln!(
        "pcs proof: {} bytes of JSON, identical; GPU calls {}",
        gpu_bytes.len(),
        after.gpu_calls - before.gpu_calls
    );
}
