//! The Stwo glue: `GpuBlake2sHasher` / `GpuBlake2sMerkleChannel` through Stwo's own Merkle
//! prover and verifier. Runs on the process-wide device (`common::test_device`); without one
//! it checks the CPU fallback and says so.

mod common;

use starfarm_kernels::{device, GpuBlake2sChannel, GpuBlake2sHasher};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;
use stwo::core::vcs_lifted::verifier::{MerkleDecommitmentLifted, MerkleVerifierLifted};
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::vcs_lifted::prover::MerkleProverLifted;

fn setup() -> bool {
    common::test_device("glue test").is_some()
}

#[test]
fn gpu_hasher_commitment_verifies_with_stock_verifier() {
    let on_gpu = setup();
    let before = device::stats();
    let mut rng = common::Rng::new(21);
    for (log_sizes, lifting) in [
        (vec![1u32], 1u32),
        (vec![3, 3, 4, 7, 7, 7], 7),
        (vec![3, 3, 4, 7, 7, 7], 9),
        ((0..19).map(|i| 2 + i % 8).collect(), 10),
    ] {
        let cols = common::columns(&mut rng, &log_sizes);
        let refs: Vec<&BaseColumn> = cols.iter().collect();
        let gpu =
            MerkleProverLifted::<SimdBackend, GpuBlake2sHasher>::commit(refs.clone(), lifting, 0);
        let cpu = MerkleProverLifted::<SimdBackend, Blake2sMerkleHasher>::commit(
            refs.clone(),
            lifting,
            0,
        );
        assert_eq!(gpu.layers, cpu.layers, "{log_sizes:?} lifted to {lifting}");

        let queries: Vec<usize> = {
            let mut q: Vec<usize> = (0..6)
                .map(|_| rng.next_u32() as usize % (1 << lifting))
                .collect();
            q.sort();
            q.dedup();
            q
        };
        let (values, decommitment) = gpu.decommit(&queries, refs.clone());
        let (cpu_values, cpu_decommitment) = cpu.decommit(&queries, refs);
        assert_eq!(values, cpu_values);
        assert_eq!(
            decommitment.decommitment.hash_witness,
            cpu_decommitment.decommitment.hash_witness
        );
        // The stock verifier, for Stwo's own hasher type.
        let stock = MerkleDecommitmentLifted::<Blake2sMerkleHasher> {
            hash_witness: decommitment.decommitment.hash_witness,
        };
        let mut sorted = log_sizes.clone();
        sorted.sort();
        let verifier =
            MerkleVerifierLifted::<Blake2sMerkleHasher>::new(gpu.root(), sorted, Some(lifting));
        verifier
            .verify(&queries, values, stock)
            .expect("stock verifier accepts the GPU commitment");
    }
    // Leaf packing (FRI layers): 4 columns, 4 rows per leaf.
    let cols = common::columns(&mut rng, &[6, 6, 6, 6]);
    let refs: Vec<&BaseColumn> = cols.iter().collect();
    let gpu = MerkleProverLifted::<SimdBackend, GpuBlake2sHasher>::commit(refs.clone(), 6, 2);
    let cpu = MerkleProverLifted::<SimdBackend, Blake2sMerkleHasher>::commit(refs, 6, 2);
    assert_eq!(gpu.layers, cpu.layers, "packed leaves");

    let after = device::stats();
    if on_gpu {
        assert!(
            after.gpu_calls > before.gpu_calls,
            "the GPU path was not taken: {after:?}"
        );
        assert_eq!(
            after.fallbacks, before.fallbacks,
            "the GPU failed and the CPU took over"
        );
    }
}

#[test]
fn gpu_channel_grinds_like_simd() {
    let on_gpu = setup();
    let before = device::stats();
    for seed in 0..3u64 {
        let mut channel = GpuBlake2sChannel::default();
        channel.mix_u64(seed);
        let mut stock = Blake2sChannel::default();
        stock.mix_u64(seed);
        for pow_bits in [1u32, 6, 11] {
            let got = <SimdBackend as GrindOps<GpuBlake2sChannel>>::grind(&channel, pow_bits);
            let expected = <SimdBackend as GrindOps<Blake2sChannel>>::grind(&stock, pow_bits);
            assert_eq!(got, expected);
            channel.mix_u64(got);
            stock.mix_u64(expected);
            assert_eq!(channel.0.digest(), stock.digest());
        }
    }
    let after = device::stats();
    if on_gpu {
        assert!(
            after.gpu_calls > before.gpu_calls,
            "the GPU path was not taken: {after:?}"
        );
        assert_eq!(after.fallbacks, before.fallbacks);
    }
}
