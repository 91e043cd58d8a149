//! Lifted Blake2s Merkle commitment: GPU backends vs Stwo's `SimdBackend` on the same input in
//! the same run. Reports input GB/s (column bytes / time to the full tree) for each.
//! `STARFARM_BENCH_LOG_ROWS` (default 16) and `STARFARM_BENCH_COLS` (default 32) size the input.
//! Then proof-of-work grinding at `STARFARM_BENCH_POW_BITS` (default 20) bits, same nonce
//! required; then the circle FFT (evaluation of one polynomial of 2^`STARFARM_BENCH_FFT_LOG`
//! coefficients, default 20, on a domain twice as large), same values required, timed with its
//! transfers to and from the device; then the FRI fold of a circle evaluation of twice that
//! size into a line (`fold_circle_into_line`), likewise. On CUDA, the leaf kernel is also timed alone, its input
//! already on the device, as a share of the GPU's peak memory bandwidth.

use std::time::{Duration, Instant};

use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::BaseField;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::vcs_lifted::prover::MerkleProverLifted;

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Best of `runs` timings of `f`.
fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = None;
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        out = Some(value);
    }
    (best, out.expect("runs > 0"))
}

fn main() {
    let log_rows = env("STARFARM_BENCH_LOG_ROWS", 16);
    let n_cols = env("STARFARM_BENCH_COLS", 32) as usize;
    let runs = env("STARFARM_BENCH_RUNS", 3) as usize;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let columns: Vec<BaseColumn> = (0..n_cols)
        .map(|_| {
            let values: Vec<BaseField> = (0..1usize << log_rows)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    BaseField::from((state >> 33) as u32 % 0x7FFF_FFFF)
                })
                .collect();
            BaseColumn::from_cpu(&values)
        })
        .collect();
    let bytes = (n_cols as f64) * 4.0 * f64::from(1u32 << log_rows);
    println!(
        "input: {n_cols} columns x 2^{log_rows} rows = {:.1} MiB, best of {runs}",
        bytes / (1 << 20) as f64
    );

    let refs: Vec<&BaseColumn> = columns.iter().collect();
    let (simd_time, simd) = best(runs, || {
        MerkleProverLifted::<SimdBackend, Blake2sMerkleHasher>::commit(refs.clone(), log_rows, 0)
            .layers
    });
    println!(
        "SimdBackend ({} rayon threads): {:>9.2} ms  {:>6.3} GB/s",
        stwo_threads(),
        simd_time.as_secs_f64() * 1e3,
        bytes / simd_time.as_secs_f64() / 1e9
    );

    let words: Vec<&[u32]> = columns
        .iter()
        .map(|c| bytemuck::cast_slice::<BaseField, u32>(c.as_slice()))
        .collect();
    #[cfg(feature = "cuda")]
    resident::bench_leaves(&words, log_rows, runs);
    for choice in [
        starfarm_kernels::device::GpuSelection::Wgpu,
        starfarm_kernels::device::GpuSelection::Cuda,
    ] {
        let gpu = match starfarm_kernels::device::open(choice) {
            Ok(gpu) => gpu,
            Err(e) => {
                println!("{choice:?}: skipped ({e})");
                continue;
            }
        };
        let (time, layers) = best(runs, || gpu.merkle_commit(&words, log_rows));
        match layers {
            Ok(layers) => {
                assert_eq!(layers, simd, "{choice:?} tree differs from SimdBackend");
                println!(
                    "{:<28} {:>9.2} ms  {:>6.3} GB/s  ({:.2}x SIMD; {})",
                    format!("{choice:?}:"),
                    time.as_secs_f64() * 1e3,
                    bytes / time.as_secs_f64() / 1e9,
                    simd_time.as_secs_f64() / time.as_secs_f64(),
                    gpu.describe()
                );
            }
            Err(e) => println!("{choice:?}: failed: {e}"),
        }
        let pow_bits = env("STARFARM_BENCH_POW_BITS", 20);
        let mut channel = Blake2sChannel::default();
        channel.mix_u64(0x5eed);
        let (simd_grind, expected) = best(runs, || {
            <SimdBackend as GrindOps<Blake2sChannel>>::grind(&channel, pow_bits)
        });
        let prefixed = starfarm_kernels::channel::pow_prefixed_digest(&channel, pow_bits);
        let (gpu_grind, nonce) = best(runs, || gpu.grind(prefixed, pow_bits));
        match nonce {
            Ok(nonce) => {
                assert_eq!(nonce, expected, "{choice:?} nonce differs from SimdBackend");
                println!(
                    "grind {pow_bits} bits (nonce {nonce:#x}): SimdBackend {:.2} ms, {choice:?} {:.2} ms",
                    simd_grind.as_secs_f64() * 1e3,
                    gpu_grind.as_secs_f64() * 1e3
                );
            }
            Err(e) => println!("{choice:?}: grind failed: {e}"),
        }
        bench_fft(gpu.as_ref(), env("STARFARM_BENCH_FFT_LOG", 20), runs);
        bench_fri(gpu.as_ref(), env("STARFARM_BENCH_FFT_LOG", 20) + 1, runs);
    }
}

fn bench_fft(gpu: &dyn starfarm_kernels::GpuDevice, log: u32, runs: usize) {
    use stwo::core::poly::circle::CanonicCoset;
    use stwo::prover::backend::cpu::CpuBackend;
    use stwo::prover::backend::Column;
    use stwo::prover::poly::circle::{CircleCoefficients, PolyOps};

    let domain = CanonicCoset::new(log + 1).circle_domain();
    let simd_tree = SimdBackend::precompute_twiddles(domain.half_coset);
    let cpu_tree = CpuBackend::precompute_twiddles(domain.half_coset);
    let coeffs: Vec<BaseField> = (0..1u32 << log)
        .map(|i| BaseField::from(i.wrapping_mul(0x9E37_79B9) % 0x7FFF_FFFF))
        .collect();
    let poly = CircleCoefficients::<SimdBackend>::new(coeffs.iter().copied().collect());
    let (simd_time, expected) = best(runs, || poly.evaluate_with_twiddles(domain, &simd_tree));
    let (gpu_time, got) = best(runs, || {
        starfarm_kernels::fft::evaluate(gpu, &coeffs, domain, &cpu_tree)
    });
    let bytes = 4.0 * domain.size() as f64;
    match got {
        Ok(values) => {
            assert_eq!(
                values,
                expected.values.to_cpu(),
                "FFT differs from SimdBackend"
            );
            let what = format!("FFT 2^{log} -> 2^{} points", log + 1);
            report(&what, gpu.kind(), bytes, simd_time, gpu_time);
        }
        Err(e) => println!("{}: FFT failed: {e}", gpu.kind()),
    }
}

fn bench_fri(gpu: &dyn starfarm_kernels::GpuDevice, log: u32, runs: usize) {
    use starfarm_kernels::fri;
    use stwo::core::fields::qm31::SecureField;
    use stwo::core::poly::circle::CanonicCoset;
    use stwo::prover::backend::cpu::CpuBackend;
    use stwo::prover::fri::FriOps;
    use stwo::prover::poly::circle::{PolyOps, SecureEvaluation};
    use stwo::prover::poly::BitReversedOrder;
    use stwo::prover::secure_column::SecureColumnByCoords;

    let domain = CanonicCoset::new(log).circle_domain();
    let simd_tree = SimdBackend::precompute_twiddles(domain.half_coset);
    let cpu_tree = CpuBackend::precompute_twiddles(domain.half_coset);
    let coords: fri::Coords = std::array::from_fn(|c| {
        (0..1u32 << log)
            .map(|i| BaseField::from((i ^ c as u32).wrapping_mul(0x9E37_79B9) % 0x7FFF_FFFF))
            .collect()
    });
    let alpha = SecureField::from_m31_array([5, 7, 11, 13].map(BaseField::from));
    let eval = SecureEvaluation::<SimdBackend, BitReversedOrder>::new(
        domain,
        SecureColumnByCoords {
            columns: coords.clone().map(|c| c.into_iter().collect()),
        },
    );
    let (simd_time, expected) = best(runs, || {
        SimdBackend::fold_circle_into_line(&eval, alpha, &simd_tree)
    });
    let (gpu_time, got) = best(runs, || {
        fri::fold_circle_into_line(gpu, &coords, domain, alpha, &cpu_tree)
    });
    let bytes = 16.0 * domain.size() as f64;
    match got {
        Ok(line) => {
            assert_eq!(
                line,
                expected.values.to_cpu().columns,
                "FRI fold differs from SimdBackend"
            );
            let what = format!("FRI fold 2^{log} -> 2^{} points", log - 1);
            report(&what, gpu.kind(), bytes, simd_time, gpu_time);
        }
        Err(e) => println!("{}: FRI fold failed: {e}", gpu.kind()),
    }
}

/// One line: `bytes` processed by SimdBackend and by the GPU (transfers included).
fn report(what: &str, kind: &str, bytes: f64, simd: Duration, gpu: Duration) {
    println!(
        "{what}: SimdBackend {:.2} ms ({:.3} GB/s), {kind} {:.2} ms ({:.3} GB/s, {:.2}x SIMD, transfers included)",
        simd.as_secs_f64() * 1e3,
        bytes / simd.as_secs_f64() / 1e9,
        gpu.as_secs_f64() * 1e3,
        bytes / gpu.as_secs_f64() / 1e9,
        simd.as_secs_f64() / gpu.as_secs_f64()
    );
}

fn stwo_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The CUDA leaf kernel on input already in device memory: what a GPU-resident prover would
/// see, without the PCIe transfers that `merkle_commit` includes.
#[cfg(feature = "cuda")]
mod resident {
    use cudarc::driver::sys::CUdevice_attribute;
    use cudarc::driver::CudaContext;
    use starfarm_kernels::cuda_device::CudaDevice;
    use starfarm_kernels::gpu_device::Launcher;
    use starfarm_kernels::plan::{column_log_sizes, plan_leaves, LeafParams, STATE_BYTES};
    use starfarm_kernels::{GpuDevice, KernelError, Result};

    /// Peak DRAM bandwidth in bytes/s: 2 transfers per memory clock over the bus.
    fn peak_bandwidth() -> Option<f64> {
        let ctx = CudaContext::new(0).ok()?;
        let clock_khz = ctx
            .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE)
            .ok()?;
        let bus_bits = ctx
            .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH)
            .ok()?;
        Some(2.0 * f64::from(clock_khz) * 1e3 * f64::from(bus_bits) / 8.0)
    }

    pub fn bench_leaves(words: &[&[u32]], log_rows: u32, runs: usize) {
        let Ok(gpu) = CudaDevice::new(0) else {
            return;
        };
        match time_leaves(&gpu, words, log_rows, runs) {
            Ok((seconds, input, traffic)) => {
                let share = peak_bandwidth()
                    .map(|peak| {
                        format!(
                            ", {:.0}% of the {:.2} TB/s peak",
                            100.0 * traffic / seconds / peak,
                            peak / 1e12
                        )
                    })
                    .unwrap_or_default();
                println!(
                    "Cuda leaf kernel, resident:  {:>9.3} ms  {:>6.1} GB/s input, {:.1} GB/s memory traffic{share}",
                    seconds * 1e3,
                    input / seconds / 1e9,
                    traffic / seconds / 1e9
                );
            }
            Err(e) => println!("Cuda leaf kernel, resident: failed: {e}"),
        }
    }

    /// Best time of the leaf passes over one tile, with the input bytes and the bytes the
    /// kernel moves (input, plus each pass reading and writing the row states).
    fn time_leaves(
        gpu: &CudaDevice,
        words: &[&[u32]],
        log_rows: u32,
        runs: usize,
    ) -> Result<(f64, f64, f64)> {
        let lens: Vec<usize> = words.iter().map(|c| c.len()).collect();
        let log_sizes = column_log_sizes(&lens, log_rows)?;
        let tiles = plan_leaves(&log_sizes, log_rows, gpu.memory_budget())?;
        let [tile] = tiles.as_slice() else {
            return Err(KernelError::InvalidInput(
                "the input does not fit the device at once".into(),
            ));
        };
        let mut passes = Vec::new();
        for pass in &tile.passes {
            let params = LeafParams::new(tile, pass, log_rows, words.len());
            passes.push((
                gpu.upload(bytemuck::cast_slice(bytemuck::bytes_of(&params)))?,
                gpu.upload(bytemuck::cast_slice(&pass.descs(&log_sizes)))?,
                gpu.upload(&pass.gather(words))?,
            ));
        }
        let mut states = gpu.zeros(8 * tile.rows)?;
        let fence = gpu.zeros(1)?;
        let mut best = f64::MAX;
        for _ in 0..runs.max(1) + 1 {
            let start = std::time::Instant::now();
            for (params, descs, data) in &passes {
                gpu.launch_leaves(params, descs, data, &mut states, tile.rows as u32)?;
            }
            // In-stream order: the one-word copy back waits for the launches.
            gpu.download(&fence)?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        let input: usize = tile.passes.iter().map(|p| p.data_words * 4).sum();
        let states_traffic = 2 * STATE_BYTES as usize * tile.rows * tile.passes.len();
        Ok((best, input as f64, (input + states_traffic) as f64))
    }
}
