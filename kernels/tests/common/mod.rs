//! Shared test bodies: every check runs a `GpuDevice` against Stwo's `SimdBackend` on random
//! inputs. `wgpu.rs` and `cuda.rs` run them on their backend.
#![allow(dead_code)]

use starfarm_kernels::channel::pow_prefixed_digest;
use starfarm_kernels::plan::{self, MemoryBudget};
use starfarm_kernels::GpuDevice;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::BaseField;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::vcs_lifted::ops::MerkleOpsLifted;
use stwo::prover::vcs_lifted::prover::MerkleProverLifted;

/// Small deterministic generator (xorshift64*), values below the M31 prime.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }
    pub fn m31(&mut self) -> u32 {
        self.next_u32() % 0x7FFF_FFFF
    }
}

/// The process-wide device the glue tests use: `STARFARM_GPU` if set, otherwise CUDA, then any
/// wgpu adapter (lavapipe included). Thresholds are lowered so every call goes to the device.
/// `None` (with a message) when there is none, a panic if `STARFARM_REQUIRE_WGPU=1` or
/// `STARFARM_REQUIRE_CUDA=1`.
pub fn test_device(test: &str) -> Option<&'static dyn GpuDevice> {
    use starfarm_kernels::device::{self, GpuSelection};
    device::set_thresholds(0, 0);
    let choice = match std::env::var_os("STARFARM_GPU") {
        Some(_) => GpuSelection::from_env(),
        None => GpuSelection::Any,
    };
    match device::init_global(choice) {
        Some(gpu) => {
            eprintln!("{test} runs on: {}", gpu.describe());
            Some(gpu)
        }
        None if required("STARFARM_REQUIRE_WGPU") || required("STARFARM_REQUIRE_CUDA") => {
            panic!("{test}: a GPU is required but none was found")
        }
        None => {
            eprintln!("SKIPPED (GPU part of {test}): no device; checking the CPU fallback only");
            None
        }
    }
}

/// Whether env `name` is `1`.
pub fn required(name: &str) -> bool {
    std::env::var(name).as_deref() == Ok("1")
}

/// Random columns with these log sizes (sorted by increasing length, as Stwo passes them).
pub fn columns(rng: &mut Rng, log_sizes: &[u32]) -> Vec<BaseColumn> {
    let mut sorted = log_sizes.to_vec();
    sorted.sort();
    sorted
        .iter()
        .map(|&log| {
            let values: Vec<BaseField> = (0..1usize << log)
                .map(|_| BaseField::from(rng.m31()))
                .collect();
            BaseColumn::from_cpu(&values)
        })
        .collect()
}

pub fn words(columns: &[BaseColumn]) -> Vec<&[u32]> {
    columns
        .iter()
        .map(|c| bytemuck::cast_slice::<BaseField, u32>(c.as_slice()))
        .collect()
}

pub fn simd_leaves(columns: &[BaseColumn], lifting_log_size: u32) -> Vec<Blake2sHash> {
    let refs: Vec<&BaseColumn> = columns.iter().collect();
    <SimdBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_leaves(&refs, lifting_log_size)
}

/// The shapes the leaf tests cover: (column log sizes, lifting log size).
pub fn leaf_cases() -> Vec<(Vec<u32>, u32)> {
    let mut cases: Vec<(Vec<u32>, u32)> = vec![
        // Smallest: one column of two values.
        (vec![1], 1),
        (vec![1], 4),
        (vec![1, 1, 1], 2),
        // Mixed log sizes, lifted to the largest and beyond.
        (vec![1, 2, 2, 3, 5, 5, 5, 8], 8),
        (vec![1, 2, 2, 3, 5, 5, 5, 8], 10),
        ((0..20).map(|i| 2 + i % 7).collect(), 9),
        ((0..37).map(|i| 4 + (i * 5) % 6).collect(), 11),
        // Uneven block boundaries: 16 columns of one size then 1 of another, and the reverse.
        ([vec![4; 16], vec![6]].concat(), 6),
        ([vec![4], vec![6; 16]].concat(), 7),
        ([vec![3; 17], vec![9; 15]].concat(), 9),
    ];
    for log in [1u32, 2, 3, 4, 5, 7, 8, 10, 12, 14] {
        for n_cols in [1usize, 3, 15, 16, 17, 33] {
            if log >= 12 && n_cols > 17 {
                continue;
            }
            cases.push((vec![log; n_cols], log));
        }
    }
    cases
}

pub fn check_leaves(gpu: &dyn GpuDevice) -> usize {
    let mut rng = Rng::new(7);
    let cases = leaf_cases();
    for (log_sizes, lifting) in &cases {
        let cols = columns(&mut rng, log_sizes);
        let got = gpu
            .merkle_leaves(&words(&cols), *lifting)
            .expect("gpu leaves");
        assert_eq!(
            got,
            simd_leaves(&cols, *lifting),
            "log sizes {log_sizes:?} lifted to {lifting}"
        );
    }
    // No columns: Stwo returns the hash of the empty message.
    let got = gpu.merkle_leaves(&[], 5).expect("gpu leaves");
    assert_eq!(got, simd_leaves(&[], 5));
    cases.len() + 1
}

/// Under a tiny memory budget the leaves are cut into many tiles and passes; the result must
/// not change.
pub fn check_chunked_leaves(gpu: &dyn GpuDevice) {
    let mut rng = Rng::new(11);
    let mut multi_pass = false;
    for (log_sizes, lifting) in [
        ((0..40).map(|i| 3 + i % 6).collect::<Vec<u32>>(), 9u32),
        (vec![10; 50], 10),
        (vec![1, 5, 9], 12),
    ] {
        let cols = columns(&mut rng, &log_sizes);
        let mut sorted = log_sizes.clone();
        sorted.sort();
        let tiles = plan::plan_leaves(&sorted, lifting, gpu.memory_budget()).expect("plan");
        assert!(
            tiles.len() > 1,
            "the budget {:?} should force tiles",
            gpu.memory_budget()
        );
        multi_pass |= tiles.iter().any(|t| t.passes.len() > 1);
        let got = gpu
            .merkle_leaves(&words(&cols), lifting)
            .expect("gpu leaves");
        assert_eq!(
            got,
            simd_leaves(&cols, lifting),
            "chunked {log_sizes:?} lifted to {lifting}"
        );
    }
    assert!(
        multi_pass,
        "the budget should force several passes somewhere"
    );
    let mut rng = Rng::new(12);
    let layer = random_hashes(&mut rng, 1 << 12);
    let got = gpu.merkle_next_layer(&layer).expect("gpu layer");
    assert_eq!(
        got,
        <SimdBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_next_layer(&layer)
    );
}

/// A budget that forces chunking.
pub fn tiny_budget() -> MemoryBudget {
    MemoryBudget {
        total: 16 << 10,
        max_buffer: 8 << 10,
    }
}

pub fn random_hashes(rng: &mut Rng, n: usize) -> Vec<Blake2sHash> {
    (0..n)
        .map(|_| {
            let mut h = [0u8; 32];
            for chunk in h.chunks_exact_mut(4) {
                chunk.copy_from_slice(&rng.next_u32().to_le_bytes());
            }
            Blake2sHash(h)
        })
        .collect()
}

pub fn check_next_layer(gpu: &dyn GpuDevice) -> usize {
    let mut rng = Rng::new(3);
    let logs: Vec<u32> = (1..=14).collect();
    for &log in &logs {
        let layer = random_hashes(&mut rng, 1 << log);
        let got = gpu.merkle_next_layer(&layer).expect("gpu layer");
        let expected =
            <SimdBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_next_layer(&layer);
        assert_eq!(got, expected, "layer of 2^{log}");
    }
    assert!(gpu.merkle_next_layer(&random_hashes(&mut rng, 3)).is_err());
    logs.len()
}

/// Whole trees: every layer equals Stwo's `MerkleProverLifted` on `SimdBackend`.
pub fn check_commit(gpu: &dyn GpuDevice) {
    let mut rng = Rng::new(5);
    for (log_sizes, lifting) in [
        (vec![1u32], 1u32),
        (vec![2, 3, 3, 6, 6, 6, 6], 8),
        ((0..18).map(|i| 5 + i % 4).collect(), 8),
    ] {
        let cols = columns(&mut rng, &log_sizes);
        let got = gpu
            .merkle_commit(&words(&cols), lifting)
            .expect("gpu commit");
        let expected = MerkleProverLifted::<SimdBackend, Blake2sMerkleHasher>::commit(
            cols.iter().collect(),
            lifting,
            0,
        );
        assert_eq!(
            got, expected.layers,
            "tree of {log_sizes:?} lifted to {lifting}"
        );
    }
}

pub fn check_grind(gpu: &dyn GpuDevice) -> usize {
    let mut n = 0;
    for seed in 0..4u64 {
        let mut channel = Blake2sChannel::default();
        channel.mix_u64(0x1111_2222_3333_4444 ^ seed);
        for pow_bits in [0u32, 1, 2, 5, 8, 12, 16] {
            let got = gpu
                .grind(pow_prefixed_digest(&channel, pow_bits), pow_bits)
                .expect("gpu grind");
            let expected = <SimdBackend as GrindOps<Blake2sChannel>>::grind(&channel, pow_bits);
            assert_eq!(got, expected, "seed {seed}, {pow_bits} bits");
            assert!(channel.verify_pow_nonce(pow_bits, got));
            n += 1;
        }
    }
    // A nonce past the first batch: high word >= 1 and low word >= 2^19 (found with SIMD).
    let pow_bits = 20;
    let channel = (0u64..)
        .map(|seed| {
            let mut channel = Blake2sChannel::default();
            channel.mix_u64(seed);
            channel
        })
        .find(|channel| {
            let nonce = <SimdBackend as GrindOps<Blake2sChannel>>::grind(channel, pow_bits);
            nonce >> 32 >= 1 && nonce & 0xFFFF_FFFF >= 1 << 19
        })
        .expect("some seed");
    let expected = <SimdBackend as GrindOps<Blake2sChannel>>::grind(&channel, pow_bits);
    let got = gpu
        .grind(pow_prefixed_digest(&channel, pow_bits), pow_bits)
        .expect("gpu grind");
    assert_eq!(got, expected, "nonce {expected:#x} past the first batch");
    n + 1
}

/// Stwo's circle FFT on `gpu` against `SimdBackend`, word for word: evaluations of random
/// polynomials of 2^1..=2^max_log coefficients on domains 1 and 2 sizes larger (a blowup, as
/// the prover extends them), and interpolations back, with twiddle trees rooted at the
/// domain and at a larger coset (as the prover's tree is). Returns the cases checked.
pub fn check_fft(gpu: &dyn GpuDevice, max_log: u32) -> usize {
    let mut rng = Rng::new(0xff7);
    let mut cases = 0;
    for log in 1..=max_log {
        for blowup in [0, 1, 2] {
            for root_extra in [0, 2] {
                cases += fft_case(gpu, &mut rng, log, blowup, root_extra);
            }
        }
    }
    cases
}

/// The FFT above `SimdBackend`'s `CACHED_FFT_LOG_SIZE` (2^16), where it keeps coefficients
/// transposed: 2^17 coefficients evaluated on 2^18 points and interpolated back.
pub fn check_fft_transposed(gpu: &dyn GpuDevice) -> usize {
    fft_case(gpu, &mut Rng::new(0x7a5), 17, 1, 0)
}

/// Evaluates random coefficients on a domain `blowup` sizes larger and interpolates back, both
/// checked against `SimdBackend`; the twiddle tree is `root_extra` sizes larger than the domain.
fn fft_case(gpu: &dyn GpuDevice, rng: &mut Rng, log: u32, blowup: u32, root_extra: u32) -> usize {
    use starfarm_kernels::fft;
    use stwo::core::poly::circle::CanonicCoset;
    use stwo::prover::backend::cpu::CpuBackend;
    use stwo::prover::backend::Column;
    use stwo::prover::poly::circle::{CircleCoefficients, PolyOps};

    let domain = CanonicCoset::new(log + blowup).circle_domain();
    let root = CanonicCoset::new(log + blowup + root_extra).half_coset();
    let simd_tree = SimdBackend::precompute_twiddles(root);
    let cpu_tree = CpuBackend::precompute_twiddles(root);
    let coeffs: Vec<BaseField> = (0..1 << log).map(|_| BaseField::from(rng.m31())).collect();
    let poly = CircleCoefficients::<SimdBackend>::new(coeffs.iter().copied().collect());
    let expected = poly.evaluate_with_twiddles(domain, &simd_tree);
    let got = fft::evaluate(gpu, &coeffs, domain, &cpu_tree).expect("evaluate");
    assert_eq!(
        raw(&got),
        raw(&expected.values.to_cpu()),
        "evaluate: 2^{log} coefficients on 2^{} points",
        log + blowup
    );
    let back = fft::interpolate(gpu, &got, domain, &cpu_tree).expect("interpolate");
    let simd_back = SimdBackend::interpolate(expected, &simd_tree);
    assert_eq!(
        raw(&back),
        raw(&simd_back.coeffs.to_cpu()),
        "interpolate: 2^{} points",
        log + blowup
    );
    2
}

fn raw(values: &[BaseField]) -> Vec<u32> {
    values.iter().map(|v| v.0).collect()
}

/// Stwo's FRI folds on `gpu` against `SimdBackend`, word for word: `fold_circle_into_line` of
/// random secure evaluations on circle domains of 2^1..=2^max_log points, then `fold_line` of
/// the result with 1 to 3 folding steps, with twiddle trees rooted at the domain and at a larger
/// coset (as the prover's tree is). Returns the cases checked.
pub fn check_fri(gpu: &dyn GpuDevice, max_log: u32) -> usize {
    use starfarm_kernels::fri;
    use stwo::core::fields::qm31::SecureField;
    use stwo::core::poly::circle::CanonicCoset;
    use stwo::prover::backend::cpu::CpuBackend;
    use stwo::prover::backend::simd::column::BaseColumn;
    use stwo::prover::fri::FriOps;
    use stwo::prover::line::LineEvaluation;
    use stwo::prover::poly::circle::{PolyOps, SecureEvaluation};
    use stwo::prover::secure_column::SecureColumnByCoords;

    let mut rng = Rng::new(0xf21);
    let mut cases = 0;
    for log in 1..=max_log {
        for root_extra in [0, 2] {
            let domain = CanonicCoset::new(log).circle_domain();
            let root = CanonicCoset::new(log + root_extra).half_coset();
            let simd_tree = SimdBackend::precompute_twiddles(root);
            let cpu_tree = CpuBackend::precompute_twiddles(root);
            let coords: fri::Coords = std::array::from_fn(|_| {
                (0..1 << log).map(|_| BaseField::from(rng.m31())).collect()
            });
            let alpha = SecureField::from_m31_array(std::array::from_fn(|_| rng.m31().into()));
            let simd_values = SecureColumnByCoords::<SimdBackend> {
                columns: coords
                    .clone()
                    .map(|c| c.into_iter().collect::<BaseColumn>()),
            };
            let simd_line = SimdBackend::fold_circle_into_line(
                &SecureEvaluation::new(domain, simd_values),
                alpha,
                &simd_tree,
            );
            let line = fri::fold_circle_into_line(gpu, &coords, domain, alpha, &cpu_tree)
                .expect("fold_circle_into_line");
            assert_eq!(
                raw_coords(&line),
                raw_coords(&simd_line.values.to_cpu().columns),
                "fold_circle_into_line: 2^{log} points, tree 2^{}",
                log + root_extra
            );
            cases += 1;
            let line_domain = fri::line_domain_of_circle(log);
            for fold_step in 1..=line_domain.log_size().min(3) {
                let expected = SimdBackend::fold_line(
                    &LineEvaluation::new(line_domain, simd_line.values.clone()),
                    alpha,
                    &simd_tree,
                    fold_step,
                );
                let got = fri::fold_line(gpu, &line, line_domain, alpha, &cpu_tree, fold_step)
                    .expect("fold_line");
                assert_eq!(
                    raw_coords(&got),
                    raw_coords(&expected.values.to_cpu().columns),
                    "fold_line: 2^{} points, {fold_step} steps",
                    line_domain.log_size()
                );
                cases += 1;
            }
        }
    }
    cases
}

fn raw_coords(coords: &[Vec<BaseField>; 4]) -> Vec<Vec<u32>> {
    coords.iter().map(|c| raw(c)).collect()
}
