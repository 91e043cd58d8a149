//! The resident-backend checks, generic over the device: `tests/resident.rs` runs them on the
//! emulated device, `tests/resident_cuda.rs` on a GPU.

use starfarm_kernels::fft::simd_coefficient_order;
use starfarm_kernels::resident::{
    catch_device_faults, op_counts, prefetch_decommitment, DeviceBackend, DeviceColumn,
    HostComponent, HostTrace, Op, OpCount, ResidentDevice,
};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::{Col, Column};
use stwo::prover::fri::FriOps;
use stwo::prover::line::LineEvaluation;
use stwo::prover::poly::circle::{CircleCoefficients, CircleEvaluation, PolyOps, SecureEvaluation};
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::secure_column::SecureColumnByCoords;
use stwo::prover::vcs_lifted::ops::MerkleOpsLifted;

type Dev<D> = DeviceBackend<D>;

fn counts() -> Vec<(Op, OpCount)> {
    op_counts()
}

fn delta(before: &[(Op, OpCount)], after: &[(Op, OpCount)], op: Op) -> OpCount {
    let get = |v: &[(Op, OpCount)]| {
        v.iter()
            .find(|(o, _)| *o == op)
            .map(|(_, c)| *c)
            .unwrap_or_default()
    };
    let (b, a) = (get(before), get(after));
    OpCount {
        device: a.device - b.device,
        host: a.host - b.host,
    }
}

pub fn whole_proof<D: ResidentDevice>(log_n_rows: u32) {
    let before = counts();
    let simd = super::simd_proof(log_n_rows);
    let component = super::component(log_n_rows);
    let host_component = HostComponent::new(&component);
    let resident =
        catch_device_faults(|| super::prove_on::<Dev<D>>(log_n_rows, &[&host_component]))
            .expect("no device fault");
    assert!(
        super::bytes(&resident) == super::bytes(&simd),
        "the resident proof of 2^{log_n_rows} rows differs from SimdBackend's"
    );
    super::verify_proof(log_n_rows, resident);
    let after = counts();
    eprintln!("2^{log_n_rows} rows, calls per operation (this test binary, all tests so far):");
    for (op, _) in &after {
        let d = delta(&before, &after, *op);
        if d != OpCount::default() {
            eprintln!(
                "  {op:?}: {} on the device, {} on the host",
                d.device, d.host
            );
        }
    }
    for op in [
        Op::Interpolate,
        Op::Evaluate,
        Op::FoldCircleIntoLine,
        Op::FoldLine,
        Op::MerkleLeaves,
        Op::MerkleNextLayer,
        Op::Grind,
        Op::BarycentricEval,
        Op::PackLeaves,
        Op::LiftAndAccumulate,
    ] {
        assert!(
            delta(&before, &after, op).device > 0,
            "{op:?} never ran on the device"
        );
    }
}

/// A whole proof (2^8 rows) with its decommitment predicted and each column's queried rows
/// gathered on the device (`prefetch_decommitment`): the same bytes as `SimdBackend`'s, and it
/// verifies. (Whether the gathers replaced single reads is counted where a device counts its
/// transfers: `tests/resident_decommit.rs`.)
pub fn whole_proof_with_batched_decommitment_equals_simd<D: ResidentDevice>() {
    let log_n_rows = 8;
    let simd = super::simd_proof(log_n_rows);
    let component = super::component(log_n_rows);
    let host_component = HostComponent::new(&component);
    let resident = catch_device_faults(|| {
        let fri = super::config().fri_config;
        let _prefetch = prefetch_decommitment(fri.n_queries, fri.fold_step);
        super::prove_on::<Dev<D>>(log_n_rows, &[&host_component])
    })
    .expect("no device fault");
    assert!(
        super::bytes(&resident) == super::bytes(&simd),
        "the proof with a batched decommitment differs from SimdBackend's"
    );
    super::verify_proof(log_n_rows, resident);
}

pub fn whole_proof_equals_simd_byte_for_byte_and_verifies<D: ResidentDevice>() {
    whole_proof::<D>(8);
}

/// Polynomials above `CACHED_FFT_LOG_SIZE` (2^16), whose coefficients `SimdBackend` keeps
/// transposed: the composition polynomial here has 2^17.
pub fn whole_proof_above_simd_transpose_size_equals_simd<D: ResidentDevice>() {
    whole_proof::<D>(16);
}

/// Two components of different sizes: the second component's share of the composition
/// polynomial uses powers `α^k…` with `k > 0` (`HostComponent`'s rescaling), and the
/// accumulator holds columns of two sizes (lifted on the host).
pub fn two_components_of_different_sizes_equal_simd<D: ResidentDevice>() {
    let sizes = [7u32, 5];
    let simd = super::simd_proof_sizes(&sizes);
    let components = super::components(&sizes);
    // One download of the trace for both components.
    let shared = HostTrace::default();
    let wrapped: Vec<HostComponent<'_>> = components
        .iter()
        .map(|c| HostComponent::with_trace(c, &shared))
        .collect();
    let provers: Vec<&dyn stwo::prover::ComponentProver<Dev<D>>> = wrapped
        .iter()
        .map(|c| c as &dyn stwo::prover::ComponentProver<Dev<D>>)
        .collect();
    let resident = catch_device_faults(|| super::prove_sizes_on::<Dev<D>>(&sizes, &provers))
        .expect("no device fault");
    assert!(super::bytes(&resident) == super::bytes(&simd));
    super::verify_proof_sizes(&sizes, resident);
}

fn random_base(rng: &mut crate::common::Rng, n: usize) -> Vec<BaseField> {
    (0..n)
        .map(|_| BaseField::from_u32_unchecked(rng.m31()))
        .collect()
}

fn random_secure(rng: &mut crate::common::Rng, n: usize) -> Vec<SecureField> {
    (0..n)
        .map(|_| {
            SecureField::from_m31_array(std::array::from_fn(|_| {
                BaseField::from_u32_unchecked(rng.m31())
            }))
        })
        .collect()
}

pub fn circle_fft_on_resident_columns_matches_simd<D: ResidentDevice>() {
    let mut rng = crate::common::Rng::new(7);
    let before = counts();
    for (log, blowup) in [
        (1u32, 1u32),
        (2, 1),
        (3, 0),
        (3, 2),
        (5, 1),
        (9, 3),
        (17, 1),
    ] {
        let root = CanonicCoset::new(log + blowup + 1)
            .circle_domain()
            .half_coset;
        let simd_tree = SimdBackend::precompute_twiddles(root);
        let dev_tree = Dev::<D>::precompute_twiddles(root);
        let domain = CanonicCoset::new(log + blowup).circle_domain();
        let values = random_base(&mut rng, 1 << log);
        let small = CanonicCoset::new(log).circle_domain();

        // interpolate: coefficients equal up to SimdBackend's order.
        let simd_coeffs = SimdBackend::interpolate(
            CircleEvaluation::<SimdBackend, BaseField, BitReversedOrder>::new(
                small,
                values.iter().copied().collect(),
            ),
            &simd_tree,
        );
        let dev_coeffs = Dev::<D>::interpolate(
            CircleEvaluation::<Dev<D>, BaseField, BitReversedOrder>::new(
                small,
                values.iter().copied().collect(),
            ),
            &dev_tree,
        );
        let mut natural: Vec<u32> = dev_coeffs.coeffs.to_cpu().iter().map(|v| v.0).collect();
        simd_coefficient_order(&mut natural);
        let simd_words: Vec<u32> = simd_coeffs.coeffs.to_cpu().iter().map(|v| v.0).collect();
        assert_eq!(natural, simd_words, "interpolate 2^{log}");

        // evaluate on the blown-up domain.
        let simd_eval = SimdBackend::evaluate(&simd_coeffs, domain, &simd_tree);
        let dev_eval = Dev::<D>::evaluate(&dev_coeffs, domain, &dev_tree);
        assert_eq!(
            dev_eval.values.to_cpu(),
            simd_eval.values.to_cpu(),
            "evaluate 2^{log} on 2^{}",
            log + blowup
        );

        // split_at_mid and extend agree through evaluation at a point.
        if log >= 2 {
            let point = stwo::core::circle::SECURE_FIELD_CIRCLE_GEN.mul(rng.next_u32() as u128 + 3);
            let extended = Dev::<D>::extend(&dev_coeffs, log + 1);
            assert_eq!(
                Dev::<D>::eval_at_point(&extended, point),
                SimdBackend::eval_at_point(&simd_coeffs, point)
            );
            let (l, r) = Dev::<D>::split_at_mid(CircleCoefficients::new(dev_coeffs.coeffs.clone()));
            let (sl, sr) = SimdBackend::split_at_mid(simd_coeffs);
            assert_eq!(
                Dev::<D>::eval_at_point(&l, point),
                SimdBackend::eval_at_point(&sl, point)
            );
            assert_eq!(
                Dev::<D>::eval_at_point(&r, point),
                SimdBackend::eval_at_point(&sr, point)
            );
        }
    }
    let after = counts();
    assert!(delta(&before, &after, Op::Interpolate).device >= 4);
    assert!(delta(&before, &after, Op::Evaluate).device >= 4);
}

fn simd_coords(values: &[SecureField]) -> SecureColumnByCoords<SimdBackend> {
    values.iter().copied().collect()
}

fn by_coords<B: stwo::prover::backend::ColumnOps<BaseField>>(
    values: &SecureColumnByCoords<B>,
) -> [Vec<BaseField>; 4] {
    values.columns.each_ref().map(|c| c.to_cpu())
}

fn dev_coords<D: ResidentDevice>(values: &[SecureField]) -> SecureColumnByCoords<Dev<D>> {
    SecureColumnByCoords {
        columns: std::array::from_fn(|c| values.iter().map(|v| v.to_m31_array()[c]).collect()),
    }
}

pub fn fri_folds_on_resident_columns_match_simd<D: ResidentDevice>() {
    let mut rng = crate::common::Rng::new(9);
    let before = counts();
    for log in [3u32, 4, 6, 10] {
        let root = CanonicCoset::new(log + 1).circle_domain().half_coset;
        let simd_tree = SimdBackend::precompute_twiddles(root);
        let dev_tree = Dev::<D>::precompute_twiddles(root);
        let alpha = random_secure(&mut rng, 1)[0];
        let values = random_secure(&mut rng, 1 << log);
        let domain = CanonicCoset::new(log).circle_domain();
        let simd_line = SimdBackend::fold_circle_into_line(
            &SecureEvaluation::new(domain, simd_coords(&values)),
            alpha,
            &simd_tree,
        );
        let dev_line = Dev::<D>::fold_circle_into_line(
            &SecureEvaluation::new(domain, dev_coords::<D>(&values)),
            alpha,
            &dev_tree,
        );
        assert_eq!(dev_line.domain().log_size(), simd_line.domain().log_size());
        assert_eq!(
            by_coords(&dev_line.values),
            by_coords(&simd_line.values),
            "circle fold 2^{log}"
        );

        for fold_step in 1..=(log - 1).min(3) {
            let simd_folded = SimdBackend::fold_line(&simd_line, alpha, &simd_tree, fold_step);
            let dev_folded = Dev::<D>::fold_line(
                &LineEvaluation::new(dev_line.domain(), dev_line.values.clone()),
                alpha,
                &dev_tree,
                fold_step,
            );
            assert_eq!(
                dev_folded.domain().log_size(),
                simd_folded.domain().log_size()
            );
            assert_eq!(
                by_coords(&dev_folded.values),
                by_coords(&simd_folded.values),
                "line fold 2^{} by {fold_step}",
                log - 1
            );
        }
    }
    let after = counts();
    assert!(delta(&before, &after, Op::FoldCircleIntoLine).device >= 4);
    assert!(delta(&before, &after, Op::FoldLine).device >= 4);
}

pub fn merkle_on_resident_columns_matches_simd<D: ResidentDevice>() {
    let mut rng = crate::common::Rng::new(11);
    for (log_sizes, lifting) in crate::common::leaf_cases() {
        let simd_cols = crate::common::columns(&mut rng, &log_sizes);
        let dev_cols: Vec<DeviceColumn<D, BaseField>> = simd_cols
            .iter()
            .map(|c| c.as_slice().iter().copied().collect())
            .collect();
        let simd_refs: Vec<&Col<SimdBackend, BaseField>> = simd_cols.iter().collect();
        let dev_refs: Vec<&DeviceColumn<D, BaseField>> = dev_cols.iter().collect();
        let simd_leaves = <SimdBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_leaves(
            &simd_refs, lifting,
        );
        let dev_leaves =
            <Dev<D> as MerkleOpsLifted<Blake2sMerkleHasher>>::build_leaves(&dev_refs, lifting);
        assert_eq!(
            dev_leaves.to_cpu(),
            simd_leaves,
            "{log_sizes:?} lifted to {lifting}"
        );
        if simd_leaves.len() >= 2 {
            let simd_next = <SimdBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_next_layer(
                &simd_leaves,
            );
            let dev_next =
                <Dev<D> as MerkleOpsLifted<Blake2sMerkleHasher>>::build_next_layer(&dev_leaves);
            assert_eq!(dev_next.to_cpu(), simd_next);
        }
    }
}

pub fn grind_on_the_device_matches_simd<D: ResidentDevice>() {
    for seed in 0..3u64 {
        let mut channel = Blake2sChannel::default();
        channel.mix_u64(seed);
        for pow_bits in [1u32, 5, 9] {
            assert_eq!(
                <Dev<D> as GrindOps<Blake2sChannel>>::grind(&channel, pow_bits),
                <SimdBackend as GrindOps<Blake2sChannel>>::grind(&channel, pow_bits)
            );
        }
    }
}

pub fn barycentric_eval_on_resident_columns_matches_simd<D: ResidentDevice>() {
    let mut rng = crate::common::Rng::new(13);
    let before = counts();
    for log in [1u32, 2, 4, 9, 12] {
        let coset = CanonicCoset::new(log);
        let point = stwo::core::circle::SECURE_FIELD_CIRCLE_GEN.mul(rng.next_u32() as u128 + 5);
        let values = random_base(&mut rng, 1 << log);
        let simd_eval = CircleEvaluation::<SimdBackend, BaseField, BitReversedOrder>::new(
            coset.circle_domain(),
            values.iter().copied().collect(),
        );
        let dev_eval = CircleEvaluation::<Dev<D>, BaseField, BitReversedOrder>::new(
            coset.circle_domain(),
            values.iter().copied().collect(),
        );
        let simd_weights = SimdBackend::barycentric_weights(coset, point);
        let dev_weights = Dev::<D>::barycentric_weights(coset, point);
        assert_eq!(dev_weights.to_cpu(), simd_weights.to_cpu());
        assert_eq!(
            Dev::<D>::barycentric_eval_at_point(&dev_eval, &dev_weights),
            SimdBackend::barycentric_eval_at_point(&simd_eval, &simd_weights),
            "2^{log} points"
        );
    }
    let after = counts();
    assert!(delta(&before, &after, Op::BarycentricEval).device >= 5);
}

pub fn accumulation_and_leaf_packing_on_resident_columns_match_simd<D: ResidentDevice>() {
    use stwo::prover::vcs_lifted::ops::PackLeavesOps;
    use stwo::prover::AccumulationOps;
    let mut rng = crate::common::Rng::new(17);
    let before = counts();
    // Below 16 values (2^4) SimdBackend's lifting is its own: those take the host fallback.
    for log_sizes in [
        vec![1u32],
        vec![1, 3, 6, 9],
        vec![4, 6, 9],
        vec![4],
        vec![5, 7],
    ] {
        let values: Vec<Vec<SecureField>> = log_sizes
            .iter()
            .map(|&l| random_secure(&mut rng, 1 << l))
            .collect();
        let simd =
            SimdBackend::lift_and_accumulate(values.iter().map(|v| simd_coords(v)).collect());
        let dev =
            Dev::<D>::lift_and_accumulate(values.iter().map(|v| dev_coords::<D>(v)).collect());
        assert_eq!(
            dev.as_ref().map(by_coords),
            simd.as_ref().map(by_coords),
            "lift_and_accumulate {log_sizes:?}"
        );
    }
    for log in [1u32, 4, 10] {
        let (a, b) = (
            random_secure(&mut rng, 1 << log),
            random_secure(&mut rng, 1 << log),
        );
        let mut simd = simd_coords(&a);
        SimdBackend::accumulate(&mut simd, &simd_coords(&b));
        let mut dev = dev_coords::<D>(&a);
        Dev::<D>::accumulate(&mut dev, &dev_coords::<D>(&b));
        assert_eq!(by_coords(&dev), by_coords(&simd), "accumulate 2^{log}");
    }
    for log in [2u32, 3, 8] {
        let values = random_secure(&mut rng, 1 << log);
        let (simd, dev) = (simd_coords(&values), dev_coords::<D>(&values));
        let simd_packed =
            SimdBackend::pack_leaves_input(&std::array::from_fn(|c| &simd.columns[c]));
        let dev_packed = Dev::<D>::pack_leaves_input(&std::array::from_fn(|c| &dev.columns[c]));
        for (d, s) in dev_packed.iter().zip(&simd_packed) {
            assert_eq!(d.to_cpu(), s.to_cpu(), "pack_leaves 2^{log}");
        }
    }
    let after = counts();
    assert!(delta(&before, &after, Op::LiftAndAccumulate).device >= 3);
    assert!(delta(&before, &after, Op::Accumulate).device >= 3);
    assert!(delta(&before, &after, Op::PackLeaves).device >= 3);
}

/// Out-of-domain sampling from resident coefficients (`eval_at_point`, the prover's path when
/// it stores coefficients) equals CpuBackend's value (and SimdBackend's from 16 coefficients),
/// on the device, for polynomials of 1 to 2^15 coefficients (below and above a fold chunk,
/// several chunk sums).
pub fn out_of_domain_evaluation_on_resident_coefficients_matches_simd<D: ResidentDevice>() {
    use stwo::prover::backend::cpu::CpuBackend;
    let mut rng = crate::common::Rng::new(23);
    let before = counts();
    let sizes = [0u32, 1, 2, 5, 6, 7, 9, 12, 15];
    for log in sizes {
        let point = stwo::core::circle::SECURE_FIELD_CIRCLE_GEN.mul(rng.next_u32() as u128 + 7);
        let coeffs = random_base(&mut rng, 1 << log);
        let cpu = CpuBackend::eval_at_point(&CircleCoefficients::new(coeffs.clone()), point);
        let dev = Dev::<D>::eval_at_point(
            &CircleCoefficients::new(DeviceColumn::from_host(&coeffs).expect("uploads")),
            point,
        );
        assert_eq!(dev, cpu, "2^{log} coefficients");
        // SimdBackend evaluates whole 16-value vectors (its own columns pad shorter ones).
        if log >= 4 {
            let simd = SimdBackend::eval_at_point(
                &CircleCoefficients::new(coeffs.iter().copied().collect()),
                point,
            );
            assert_eq!(simd, cpu, "2^{log} coefficients: the references agree");
        }
    }
    let after = counts();
    let d = delta(&before, &after, Op::EvalAtPoint);
    assert_eq!(
        d.device,
        sizes.len() as u64,
        "every evaluation ran on the device"
    );
    assert_eq!(d.host, 0);
}

/// Stwo's FRI quotients (`compute_fri_quotients`: `accumulate_numerators` per column size,
/// `lift_and_accumulate`, `compute_quotients_and_combine`) over resident columns of several
/// sizes sampled at two points (one column at one only) equal SimdBackend's, coordinate by
/// coordinate, and ran on the device.
pub fn fri_quotients_on_resident_columns_match_simd<D: ResidentDevice>() {
    use stwo::core::circle::SECURE_FIELD_CIRCLE_GEN;
    use stwo::core::pcs::quotients::PointSample;
    use stwo::core::pcs::TreeVec;
    use stwo::prover::pcs::quotient_ops::compute_fri_quotients;
    let mut rng = crate::common::Rng::new(29);
    let before = counts();
    let log_blowup = 1;
    for log_sizes in [vec![5u32, 5, 7, 9], vec![6, 8, 8], vec![10]] {
        let lifting = *log_sizes.iter().max().expect("sizes");
        let values: Vec<Vec<BaseField>> = log_sizes
            .iter()
            .map(|&l| random_base(&mut rng, 1 << l))
            .collect();
        let points = [
            SECURE_FIELD_CIRCLE_GEN.mul(rng.next_u32() as u128 + 3),
            SECURE_FIELD_CIRCLE_GEN.mul(rng.next_u32() as u128 + 11),
        ];
        let samples: Vec<Vec<PointSample>> = (0..log_sizes.len())
            .map(|i| {
                points
                    .iter()
                    .take(if i == 1 { 1 } else { 2 })
                    .map(|&point| PointSample {
                        point,
                        value: random_secure(&mut rng, 1)[0],
                    })
                    .collect()
            })
            .collect();
        let samples = TreeVec(vec![samples]);
        let alpha = random_secure(&mut rng, 1)[0];
        let coset = CanonicCoset::new(lifting).circle_domain().half_coset;

        let simd_cols: Vec<CircleEvaluation<SimdBackend, BaseField, BitReversedOrder>> = log_sizes
            .iter()
            .zip(&values)
            .map(|(&l, v)| {
                CircleEvaluation::new(
                    CanonicCoset::new(l).circle_domain(),
                    v.iter().copied().collect(),
                )
            })
            .collect();
        let simd_twiddles = SimdBackend::precompute_twiddles(coset);
        let simd = compute_fri_quotients(
            &TreeVec(vec![simd_cols.iter().collect()]),
            &samples,
            alpha,
            lifting,
            &simd_twiddles,
            log_blowup,
        );

        let dev_cols: Vec<CircleEvaluation<Dev<D>, BaseField, BitReversedOrder>> = log_sizes
            .iter()
            .zip(&values)
            .map(|(&l, v)| {
                CircleEvaluation::new(
                    CanonicCoset::new(l).circle_domain(),
                    DeviceColumn::from_host(v).expect("uploads"),
                )
            })
            .collect();
        let dev_twiddles = Dev::<D>::precompute_twiddles(coset);
        let dev = compute_fri_quotients(
            &TreeVec(vec![dev_cols.iter().collect()]),
            &samples,
            alpha,
            lifting,
            &dev_twiddles,
            log_blowup,
        );
        assert_eq!(dev.domain, simd.domain);
        for c in 0..4 {
            assert_eq!(
                dev.values.columns[c].to_cpu(),
                simd.values.columns[c].to_cpu(),
                "coordinate {c} of the FRI quotients over columns of 2^{log_sizes:?}"
            );
        }
    }
    let after = counts();
    for op in [Op::AccumulateNumerators, Op::CombineQuotients] {
        let d = delta(&before, &after, op);
        assert!(d.device > 0, "{op:?} ran on the device");
        assert_eq!(d.host, 0, "{op:?} never fell back to the host");
    }
}
