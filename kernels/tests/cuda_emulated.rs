//! The CUDA kernel source, exactly as NVRTC gets it (`cuda_src::cuda_source()`), compiled for
//! the CPU with the system C++ compiler plus the shim of `starfarm_kernels::cuda_emulation`, and driven through the same host
//! code as the CUDA backend (`gpu_device::Launcher`). Every launch runs all threads of its grid.
//! Checks the CUDA kernels' logic bit for bit against `SimdBackend` on machines without a GPU;
//! what it cannot check (NVRTC acceptance, real GPU memory and scheduling) is `cuda.rs`'s job.
//! Skipped, with a message, when no C++ compiler is found (`CXX`, `c++`, `g++`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use starfarm_kernels::cuda_emulation;
use starfarm_kernels::cuda_src::cuda_source;
use starfarm_kernels::gpu_device::{self, Launcher};
use starfarm_kernels::plan::MemoryBudget;
use starfarm_kernels::{GpuDevice, KernelError, Result};
use stwo::core::vcs::blake2_hash::Blake2sHash;

/// The compiled emulator, built once per test binary.
fn emulator() -> Option<&'static Path> {
    static EMU: OnceLock<Option<PathBuf>> = OnceLock::new();
    EMU.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("starfarm-cuda-emu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let source = format!(
            "{}\n{}\n{}",
            cuda_emulation::SHIM,
            cuda_source(),
            include_str!("cuda_emu/harness.cpp")
        );
        match cuda_emulation::compile(&source, &dir.join("emu"), 2) {
            Ok(Some(emu)) => {
                eprintln!("CUDA source compiled for the CPU with {}", emu.compiler);
                Some(emu.exe)
            }
            Ok(None) => {
                eprintln!("SKIPPED: CUDA emulation tests, no C++ compiler (set CXX)");
                None
            }
            Err(message) => panic!("{message}"),
        }
    })
    .as_deref()
}

struct Emulated {
    exe: &'static Path,
    budget: MemoryBudget,
}

/// A host buffer standing in for device memory.
struct Buf(Vec<u32>);

static NEXT_FILE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Emulated {
    fn file(&self, words: &[u32]) -> PathBuf {
        let n = NEXT_FILE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self.exe.with_file_name(format!("buf{n}"));
        std::fs::write(&path, bytemuck::cast_slice::<u32, u8>(words)).expect("write buffer");
        path
    }

    fn run(&self, args: &[&std::ffi::OsStr]) -> Result<()> {
        let out = Command::new(self.exe)
            .args(args)
            .output()
            .map_err(|e| KernelError::Device {
                backend: "cuda-emulated",
                message: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(KernelError::Device {
                backend: "cuda-emulated",
                message: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(())
    }

    /// Runs `harness KERNEL INPUT... OUTPUT THREADS`: the buffers go through files, and the
    /// output buffer (read and written by the kernel) comes back.
    fn launch(&self, kernel: &str, inputs: &[&Buf], output: &mut Buf, threads: u32) -> Result<()> {
        let inputs: Vec<PathBuf> = inputs.iter().map(|b| self.file(&b.0)).collect();
        let out = self.file(&output.0);
        let threads = threads.to_string();
        let mut args: Vec<&std::ffi::OsStr> = vec![kernel.as_ref()];
        args.extend(inputs.iter().map(|f| f.as_os_str()));
        args.extend([out.as_os_str(), threads.as_ref()]);
        let ran = self.run(&args);
        for f in &inputs {
            let _ = std::fs::remove_file(f);
        }
        if let Err(e) = ran {
            let _ = std::fs::remove_file(&out);
            return Err(e);
        }
        output.0 = Self::read_back(&out);
        Ok(())
    }

    fn read_back(path: &Path) -> Vec<u32> {
        let bytes = std::fs::read(path).expect("read buffer");
        let _ = std::fs::remove_file(path);
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}

impl Launcher for Emulated {
    type Buffer = Buf;

    fn upload(&self, words: &[u32]) -> Result<Buf> {
        Ok(Buf(words.to_vec()))
    }
    fn zeros(&self, words: usize) -> Result<Buf> {
        Ok(Buf(vec![0; words]))
    }
    fn download(&self, buffer: &Buf) -> Result<Vec<u32>> {
        Ok(buffer.0.clone())
    }
    fn launch_leaves(
        &self,
        params: &Buf,
        descs: &Buf,
        data: &Buf,
        states: &mut Buf,
        rows: u32,
    ) -> Result<()> {
        self.launch("leaves", &[params, descs, data], states, rows)
    }
    fn launch_next_layer(&self, rows: u32, children: &Buf, parents: &mut Buf) -> Result<()> {
        self.launch("next_layer", &[children], parents, rows)
    }
    fn launch_grind(&self, params: &Buf, best: &mut Buf, n_tries: u32) -> Result<()> {
        self.launch("grind", &[params], best, n_tries)
    }
    fn launch_fft_layer(
        &self,
        params: &Buf,
        twiddles: &Buf,
        values: &mut Buf,
        n_half: u32,
    ) -> Result<()> {
        self.launch("fft_layer", &[params, twiddles], values, n_half)
    }
    fn launch_fri_fold(
        &self,
        params: &Buf,
        twiddles: &Buf,
        src: &Buf,
        dst: &mut Buf,
        n_half: u32,
    ) -> Result<()> {
        self.launch("fri_fold", &[params, twiddles, src], dst, n_half)
    }
}

impl GpuDevice for Emulated {
    fn kind(&self) -> &'static str {
        "cuda-emulated"
    }
    fn describe(&self) -> String {
        format!("CUDA source on the CPU ({})", self.exe.display())
    }
    fn memory_budget(&self) -> MemoryBudget {
        self.budget
    }
    fn merkle_leaves(&self, columns: &[&[u32]], lifting_log_size: u32) -> Result<Vec<Blake2sHash>> {
        gpu_device::merkle_leaves_with(self, self.budget, columns, lifting_log_size)
    }
    fn merkle_next_layer(&self, children: &[Blake2sHash]) -> Result<Vec<Blake2sHash>> {
        gpu_device::merkle_next_layer_with(self, self.budget, children)
    }
    fn grind_batch(
        &self,
        prefixed_digest: [u32; 8],
        hi_base: u32,
        n_tries: u32,
        pow_bits: u32,
    ) -> Result<Option<u32>> {
        gpu_device::grind_batch_with(self, prefixed_digest, hi_base, n_tries, pow_bits)
    }
    fn fft_layers(
        &self,
        values: &[u32],
        layers: &[starfarm_kernels::fft::FftLayer],
    ) -> Result<Vec<u32>> {
        gpu_device::fft_layers_with(self, self.budget, values, layers)
    }
    fn fri_fold(
        &self,
        coords: &[u32],
        passes: &[starfarm_kernels::fri::FoldPass],
    ) -> Result<Vec<u32>> {
        gpu_device::fri_fold_with(self, self.budget, coords, passes)
    }
}

fn backend() -> Option<Emulated> {
    Some(Emulated {
        exe: emulator()?,
        budget: MemoryBudget {
            total: 1 << 30,
            max_buffer: 1 << 30,
        },
    })
}

#[test]
fn cuda_source_leaves_match_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_leaves(&gpu);
    eprintln!("emulated CUDA leaves: {n} shapes bit-identical to SimdBackend");
}

#[test]
fn cuda_source_chunked_leaves_match_simd() {
    let Some(mut gpu) = backend() else { return };
    gpu.budget = common::tiny_budget();
    common::check_chunked_leaves(&gpu);
}

#[test]
fn cuda_source_next_layer_matches_simd() {
    let Some(gpu) = backend() else { return };
    common::check_next_layer(&gpu);
}

#[test]
fn cuda_source_commit_matches_simd() {
    let Some(gpu) = backend() else { return };
    common::check_commit(&gpu);
}

#[test]
fn cuda_source_grind_matches_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_grind(&gpu);
    eprintln!("emulated CUDA grind: {n} (channel, pow_bits) pairs give SimdBackend's nonce");
}

#[test]
fn cuda_source_circle_fft_matches_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_fft(&gpu, 8);
    eprintln!(
        "cuda_source circle FFT: {n} evaluations and interpolations bit-identical to SimdBackend"
    );
}

#[test]
fn cuda_source_fri_folds_match_simd() {
    let Some(gpu) = backend() else { return };
    let n = common::check_fri(&gpu, 8);
    eprintln!("cuda_source FRI folds: {n} folds bit-identical to SimdBackend");
}

#[test]
fn cuda_source_circle_fft_matches_simd_above_its_transpose_size() {
    let Some(gpu) = backend() else { return };
    let n = common::check_fft_transposed(&gpu);
    eprintln!("cuda_source circle FFT: {n} large cases bit-identical to SimdBackend");
}
