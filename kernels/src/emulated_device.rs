//! The emulated device: the kernels' CUDA source (`shaders/*.cu`, as NVRTC gets it) compiled
//! for the CPU with the shim of [`crate::cuda_emulation`] into a shared library, loaded into the
//! process, and driven through the same [`Launcher`] interface as [`crate::cuda_device`].
//! "Device memory" is host memory ([`HostBuffer`]); a launch runs every thread of its grid on
//! the calling host thread. It lets the resident backend ([`crate::resident`]) and its tests
//! run the CUDA kernels' logic, bit for bit, on machines without a GPU; what it cannot check
//! (NVRTC's acceptance, real device memory, scheduling, PCIe) needs a GPU.
//!
//! A fault can be injected ([`EmulatedDevice::inject_fault_after`]) to test how callers handle
//! a device that fails mid-proof.
// Calls into the loaded library are `unsafe`: each launcher's buffer sizes are checked here
// before the call (SAFETY comments), as the kernels index them without bounds checks.
#![allow(unsafe_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::error::{KernelError, Result};
use crate::gpu_device::{
    check_accumulate_column, check_eval_point_chunks, check_quotient_combine, check_sum_chunks,
    Launcher,
};
use crate::plan::MemoryBudget;
use crate::resident::{current_crossing, Crossing, ResidentDevice, RowLaunch};

const BACKEND: &str = "cuda-emulated";

/// Device memory of the emulated device: host words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostBuffer(pub Vec<u32>);

type LeavesFn = unsafe extern "C" fn(*const u32, *const u32, *const u32, *mut u32, u32);
type NextLayerFn = unsafe extern "C" fn(u32, *const u32, *mut u32);
type GrindFn = unsafe extern "C" fn(*const u32, *mut u32, u32);
type FftLayerFn = unsafe extern "C" fn(*const u32, *const u32, *mut u32, u32);
type FriFoldFn = unsafe extern "C" fn(*const u32, *const u32, *const u32, *mut u32, u32);
type MulFn = unsafe extern "C" fn(u32, *const u32, *const u32, *mut u32);
type FoldSumFn = unsafe extern "C" fn(u32, *mut u32);
type AddLiftedFn = unsafe extern "C" fn(u32, u32, *const u32, *mut u32);
type GatherFn = unsafe extern "C" fn(u32, u32, u32, *const u32, *mut u32);
type GatherRowsFn = unsafe extern "C" fn(u32, u32, *const u32, *const u32, *mut u32);
type EvalChunksFn = unsafe extern "C" fn(u32, u32, u32, *const u32, *const u32, *mut u32);
type SumChunksFn = unsafe extern "C" fn(u32, u32, u32, *const u32, *mut u32);
type AccumulateColumnFn =
    unsafe extern "C" fn(u32, u32, u32, u32, *const u32, *const u32, *mut u32);
type CombineFn = unsafe extern "C" fn(u32, *const u32, *const u32, *const u32, *mut u32);
type RowFn = unsafe extern "C" fn(u32, *const u32, *const u32, *mut u32);

/// Row kernels of an outside CUDA source, compiled for the CPU and loaded
/// ([`ResidentDevice::load_row_kernels`]).
pub struct EmulatedModule {
    // The function pointers below point into this library: it lives as long as they do.
    _library: libloading::Library,
    kernels: Vec<RowFn>,
}

/// The shared library of `source` (after the shim and m31.cu) and one launcher per kernel,
/// `emu_rows_<i>(rows, cols, params, accum)`, compiled once per text under the temporary
/// directory (as [`EmulatedDevice::open`]). Unoptimised: the generated AIR source is megabytes
/// of straight-line code, which `-O0` builds in seconds and `-O1` in minutes.
fn build_row_library(source: &str, names: &[String]) -> Result<PathBuf> {
    let mut text = format!(
        "{}\n{}\n{source}\nextern \"C\" {{\n",
        crate::cuda_emulation::SHIM,
        crate::cuda_emulation::M31
    );
    for (i, name) in names.iter().enumerate() {
        text.push_str(&format!(
            "void emu_rows_{i}(uint32_t rows, const uint32_t* cols, const uint32_t* params, \
             uint32_t* accum) {{ emu_grid(rows, [&] {{ {name}(cols, params, accum); }}); }}\n"
        ));
    }
    text.push_str("}\n");
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        h.finish()
    };
    let dir = std::env::temp_dir().join("starfarm-cuda-emu");
    std::fs::create_dir_all(&dir).map_err(|e| device_error(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("rows-{key:016x}.so"));
    if path.exists() {
        return Ok(path);
    }
    let tmp = dir.join(format!("rows-{key:016x}-{}.so", std::process::id()));
    match crate::cuda_emulation::compile_shared(&text, &tmp, 0) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(KernelError::NoDevice {
                backend: BACKEND,
                reason: "no C++ compiler (set CXX) to build the CUDA source for the CPU".into(),
            })
        }
        Err(message) => {
            return Err(KernelError::Compile {
                backend: BACKEND,
                message,
            })
        }
    }
    std::fs::rename(&tmp, &path).map_err(|e| device_error(format!("{}: {e}", path.display())))?;
    let _ = std::fs::remove_file(tmp.with_extension("cpp"));
    Ok(path)
}

/// Host↔device transfers of an [`EmulatedDevice`] so far: the count and the 32-bit words of
/// each direction. Differences of two readings measure a proof's PCIe traffic on a real device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transfers {
    pub uploads: u64,
    pub upload_words: u64,
    pub downloads: u64,
    pub download_words: u64,
}

impl Transfers {
    /// The transfers between `earlier` and `self`.
    pub fn since(&self, earlier: &Transfers) -> Transfers {
        Transfers {
            uploads: self.uploads - earlier.uploads,
            upload_words: self.upload_words - earlier.upload_words,
            downloads: self.downloads - earlier.downloads,
            download_words: self.download_words - earlier.download_words,
        }
    }
}

impl std::fmt::Display for Transfers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} uploads ({} bytes), {} downloads ({} bytes)",
            self.uploads,
            4 * self.upload_words,
            self.downloads,
            4 * self.download_words
        )
    }
}

pub struct EmulatedDevice {
    // The function pointers below point into this library: it lives as long as they do.
    _library: libloading::Library,
    path: PathBuf,
    leaves: LeavesFn,
    next_layer: NextLayerFn,
    grind: GrindFn,
    fft_layer: FftLayerFn,
    fri_fold: FriFoldFn,
    qm31_mul_m31: MulFn,
    qm31_fold_sum: FoldSumFn,
    m31_add_lifted: AddLiftedFn,
    m31_gather: GatherFn,
    gather_rows: GatherRowsFn,
    eval_point_chunks: EvalChunksFn,
    sum_chunks: SumChunksFn,
    accumulate_column: AccumulateColumnFn,
    quotient_combine: CombineFn,
    launches: AtomicU64,
    /// Host↔device traffic (see [`Transfers`]): what a real device would move over PCIe.
    uploads: AtomicU64,
    upload_words: AtomicU64,
    downloads: AtomicU64,
    download_words: AtomicU64,
    /// The same, by cause ([`Crossing`]): `[uploads, upload words, downloads, download words]`.
    by_crossing: [[AtomicU64; 4]; Crossing::ALL.len()],
    /// Launch number (1-based, counted over the process) that fails; 0: none.
    fail_at: AtomicU64,
}

fn device_error(message: impl Into<String>) -> KernelError {
    KernelError::Device {
        backend: BACKEND,
        message: message.into(),
    }
}

fn short(what: &str, have: usize, need: usize) -> Result<()> {
    if have < need {
        return Err(KernelError::InvalidInput(format!(
            "{what}: buffer of {have} words, the launch reads {need}"
        )));
    }
    Ok(())
}

impl EmulatedDevice {
    /// Compiles the CUDA source for the CPU (once per source text, cached under the temporary
    /// directory) and loads it. `NoDevice` when there is no C++ compiler.
    pub fn open() -> Result<Self> {
        let source = crate::cuda_src::cuda_source();
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            source.hash(&mut h);
            crate::cuda_emulation::LAUNCHERS.hash(&mut h);
            crate::cuda_emulation::SHIM.hash(&mut h);
            h.finish()
        };
        let dir = std::env::temp_dir().join("starfarm-cuda-emu");
        std::fs::create_dir_all(&dir)
            .map_err(|e| device_error(format!("{}: {e}", dir.display())))?;
        let path = dir.join(format!("kernels-{key:016x}.so"));
        if !path.exists() {
            // Built under a name of this process, then renamed: concurrent test binaries never
            // load a half-written library.
            let tmp = dir.join(format!("kernels-{key:016x}-{}.so", std::process::id()));
            match crate::cuda_emulation::compile_shared_library(&tmp, 2) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(KernelError::NoDevice {
                        backend: BACKEND,
                        reason: "no C++ compiler (set CXX) to build the CUDA source for the CPU"
                            .into(),
                    })
                }
                Err(message) => {
                    return Err(KernelError::Compile {
                        backend: BACKEND,
                        message,
                    })
                }
            }
            std::fs::rename(&tmp, &path)
                .map_err(|e| device_error(format!("{}: {e}", path.display())))?;
            let _ = std::fs::remove_file(tmp.with_extension("cpp"));
        }
        // SAFETY: the library is ours, built just above (or by an earlier run from the same
        // source, under a name keyed by its hash); its initialisers only set up C++ statics.
        let library = unsafe { libloading::Library::new(&path) }
            .map_err(|e| device_error(format!("loading {}: {e}", path.display())))?;
        // SAFETY: each symbol is declared in `cuda_emu/launchers.cpp` with exactly this
        // signature; the pointers are kept next to the library, which outlives them.
        unsafe {
            let get = |name: &[u8]| -> Result<*const ()> {
                library
                    .get::<*const ()>(name)
                    .map(|s| *s)
                    .map_err(|e| device_error(format!("symbol: {e}")))
            };
            let leaves: LeavesFn = std::mem::transmute(get(b"emu_merkle_leaves\0")?);
            let next_layer: NextLayerFn = std::mem::transmute(get(b"emu_merkle_next_layer\0")?);
            let grind: GrindFn = std::mem::transmute(get(b"emu_grind\0")?);
            let fft_layer: FftLayerFn = std::mem::transmute(get(b"emu_circle_fft_layer\0")?);
            let fri_fold: FriFoldFn = std::mem::transmute(get(b"emu_fri_fold\0")?);
            let qm31_mul_m31: MulFn = std::mem::transmute(get(b"emu_qm31_mul_m31\0")?);
            let qm31_fold_sum: FoldSumFn = std::mem::transmute(get(b"emu_qm31_fold_sum\0")?);
            let m31_add_lifted: AddLiftedFn = std::mem::transmute(get(b"emu_m31_add_lifted\0")?);
            let m31_gather: GatherFn = std::mem::transmute(get(b"emu_m31_gather\0")?);
            let gather_rows: GatherRowsFn = std::mem::transmute(get(b"emu_gather_rows\0")?);
            let eval_point_chunks: EvalChunksFn =
                std::mem::transmute(get(b"emu_m31_eval_point_chunks\0")?);
            let sum_chunks: SumChunksFn = std::mem::transmute(get(b"emu_qm31_sum_chunks\0")?);
            let accumulate_column: AccumulateColumnFn =
                std::mem::transmute(get(b"emu_qm31_accumulate_column\0")?);
            let quotient_combine: CombineFn = std::mem::transmute(get(b"emu_quotient_combine\0")?);
            Ok(Self {
                _library: library,
                path,
                leaves,
                next_layer,
                grind,
                fft_layer,
                fri_fold,
                qm31_mul_m31,
                qm31_fold_sum,
                m31_add_lifted,
                m31_gather,
                gather_rows,
                eval_point_chunks,
                sum_chunks,
                accumulate_column,
                quotient_combine,
                launches: AtomicU64::new(0),
                uploads: AtomicU64::new(0),
                upload_words: AtomicU64::new(0),
                downloads: AtomicU64::new(0),
                download_words: AtomicU64::new(0),
                by_crossing: Default::default(),
                fail_at: AtomicU64::new(0),
            })
        }
    }

    /// The loaded library.
    pub fn library_path(&self) -> &std::path::Path {
        &self.path
    }

    /// Makes the `n`-th launch from now (1: the next one) fail with a device error, once.
    pub fn inject_fault_after(&self, n: u64) {
        let now = self.launches.load(Ordering::SeqCst);
        self.fail_at.store(now + n.max(1), Ordering::SeqCst);
    }

    /// Kernel launches so far.
    pub fn launches(&self) -> u64 {
        self.launches.load(Ordering::SeqCst)
    }

    /// Host↔device transfers so far (uploads and downloads, whole or partial buffers).
    pub fn transfers(&self) -> Transfers {
        Transfers {
            uploads: self.uploads.load(Ordering::SeqCst),
            upload_words: self.upload_words.load(Ordering::SeqCst),
            downloads: self.downloads.load(Ordering::SeqCst),
            download_words: self.download_words.load(Ordering::SeqCst),
        }
    }

    /// Host↔device transfers so far by cause, every cause listed (zeros included).
    pub fn transfers_by_crossing(&self) -> Vec<(Crossing, Transfers)> {
        Crossing::ALL
            .iter()
            .map(|&c| {
                let [u, uw, d, dw] = self.by_crossing[c as usize]
                    .each_ref()
                    .map(|a| a.load(Ordering::SeqCst));
                let t = Transfers {
                    uploads: u,
                    upload_words: uw,
                    downloads: d,
                    download_words: dw,
                };
                (c, t)
            })
            .collect()
    }

    fn count_upload(&self, words: usize) {
        self.uploads.fetch_add(1, Ordering::SeqCst);
        self.upload_words.fetch_add(words as u64, Ordering::SeqCst);
        let cell = &self.by_crossing[current_crossing() as usize];
        cell[0].fetch_add(1, Ordering::SeqCst);
        cell[1].fetch_add(words as u64, Ordering::SeqCst);
    }

    fn count_download(&self, words: usize) {
        self.downloads.fetch_add(1, Ordering::SeqCst);
        self.download_words
            .fetch_add(words as u64, Ordering::SeqCst);
        let cell = &self.by_crossing[current_crossing() as usize];
        cell[2].fetch_add(1, Ordering::SeqCst);
        cell[3].fetch_add(words as u64, Ordering::SeqCst);
    }

    fn launch(&self, f: impl FnOnce()) -> Result<()> {
        let n = self.launches.fetch_add(1, Ordering::SeqCst) + 1;
        if self
            .fail_at
            .compare_exchange(n, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Err(device_error(format!("injected fault at launch {n}")));
        }
        f();
        Ok(())
    }
}

impl Launcher for EmulatedDevice {
    type Buffer = HostBuffer;

    fn upload(&self, words: &[u32]) -> Result<HostBuffer> {
        self.count_upload(words.len());
        Ok(HostBuffer(words.to_vec()))
    }
    fn zeros(&self, words: usize) -> Result<HostBuffer> {
        Ok(HostBuffer(vec![0; words]))
    }
    fn download(&self, buffer: &HostBuffer) -> Result<Vec<u32>> {
        self.count_download(buffer.0.len());
        Ok(buffer.0.clone())
    }
    fn launch_leaves(
        &self,
        params: &HostBuffer,
        descs: &HostBuffer,
        data: &HostBuffer,
        states: &mut HostBuffer,
        rows: u32,
    ) -> Result<()> {
        let p = &params.0;
        short("leaf parameters", p.len(), 8)?;
        let (col_begin, col_end) = (p[3] as usize, p[4] as usize);
        short(
            "column descriptors",
            descs.0.len(),
            4 * col_end.saturating_sub(col_begin),
        )?;
        short("leaf states", states.0.len(), 8 * rows as usize)?;
        let data_ptr = data.0.as_ptr();
        // SAFETY: merkle_leaves(params (8 words), descs (4 per column of the pass), data,
        // states (8 per row)), sizes checked above; the data slices the descriptors name were
        // laid out by `plan::Pass`, which sized `data`.
        self.launch(|| unsafe {
            (self.leaves)(
                p.as_ptr(),
                descs.0.as_ptr(),
                data_ptr,
                states.0.as_mut_ptr(),
                rows,
            )
        })
    }
    fn launch_next_layer(
        &self,
        rows: u32,
        children: &HostBuffer,
        parents: &mut HostBuffer,
    ) -> Result<()> {
        short("children", children.0.len(), 16 * rows as usize)?;
        short("parents", parents.0.len(), 8 * rows as usize)?;
        // SAFETY: merkle_next_layer(rows, children (16 words per row), parents (8 per row)).
        self.launch(|| unsafe {
            (self.next_layer)(rows, children.0.as_ptr(), parents.0.as_mut_ptr())
        })
    }
    fn launch_grind(&self, params: &HostBuffer, best: &mut HostBuffer, n_tries: u32) -> Result<()> {
        short("grind parameters", params.0.len(), 12)?;
        short("grind result", best.0.len(), 1)?;
        // SAFETY: grind(params (12 words), best (1 word)).
        self.launch(|| unsafe { (self.grind)(params.0.as_ptr(), best.0.as_mut_ptr(), n_tries) })
    }
    fn launch_fft_layer(
        &self,
        params: &HostBuffer,
        twiddles: &HostBuffer,
        values: &mut HostBuffer,
        n_half: u32,
    ) -> Result<()> {
        short("FFT parameters", params.0.len(), 4)?;
        short("FFT values", values.0.len(), 2 * n_half as usize)?;
        let (layer, mode) = (params.0[1], params.0[2]);
        if mode != 2 {
            let need = (n_half as usize).div_ceil(1usize << layer.min(31));
            short("FFT twiddles", twiddles.0.len(), need)?;
        }
        // SAFETY: circle_fft_layer(params (4 words), twiddles (n_half >> layer), values
        // (2 n_half)), sizes checked above.
        self.launch(|| unsafe {
            (self.fft_layer)(
                params.0.as_ptr(),
                twiddles.0.as_ptr(),
                values.0.as_mut_ptr(),
                n_half,
            )
        })
    }
    fn launch_fri_fold(
        &self,
        params: &HostBuffer,
        twiddles: &HostBuffer,
        src: &HostBuffer,
        dst: &mut HostBuffer,
        n_half: u32,
    ) -> Result<()> {
        let n = n_half as usize;
        short("FRI parameters", params.0.len(), 5)?;
        short("FRI twiddles", twiddles.0.len(), n)?;
        short("FRI source", src.0.len(), 8 * n)?;
        short("FRI destination", dst.0.len(), 4 * n)?;
        // SAFETY: fri_fold(params (n_half, alpha: 5 words), twiddles (n_half), src
        // (8 n_half), dst (4 n_half)), sizes checked above.
        self.launch(|| unsafe {
            (self.fri_fold)(
                params.0.as_ptr(),
                twiddles.0.as_ptr(),
                src.0.as_ptr(),
                dst.0.as_mut_ptr(),
                n_half,
            )
        })
    }

    fn launch_qm31_mul_m31(
        &self,
        n: u32,
        weights: &HostBuffer,
        evals: &HostBuffer,
        out: &mut HostBuffer,
    ) -> Result<()> {
        short("weights", weights.0.len(), 4 * n as usize)?;
        short("evaluations", evals.0.len(), n as usize)?;
        short("products", out.0.len(), 4 * n as usize)?;
        // SAFETY: qm31_mul_m31(n, weights (4 n), evals (n), out (4 n)), sizes checked above.
        self.launch(|| unsafe {
            (self.qm31_mul_m31)(n, weights.0.as_ptr(), evals.0.as_ptr(), out.0.as_mut_ptr())
        })
    }

    fn launch_qm31_fold_sum(&self, n_half: u32, values: &mut HostBuffer) -> Result<()> {
        short("sum", values.0.len(), 8 * n_half as usize)?;
        // SAFETY: qm31_fold_sum(n_half, values (8 n_half)), size checked above.
        self.launch(|| unsafe { (self.qm31_fold_sum)(n_half, values.0.as_mut_ptr()) })
    }

    fn launch_m31_add_lifted(
        &self,
        n: u32,
        log_ratio: u32,
        src: &HostBuffer,
        dst: &mut HostBuffer,
    ) -> Result<()> {
        if log_ratio > 30 {
            return Err(KernelError::InvalidInput(format!(
                "lifting ratio 2^{log_ratio}"
            )));
        }
        short(
            "lifted source",
            src.0.len(),
            (n as usize >> log_ratio).max(2),
        )?;
        short("sum", dst.0.len(), n as usize)?;
        // SAFETY: m31_add_lifted(n, log_ratio, src (n >> log_ratio, at least 2: the largest
        // index read is ((n - 1) >> (log_ratio + 1)) * 2 + 1), dst (n)), sizes checked above.
        self.launch(|| unsafe {
            (self.m31_add_lifted)(n, log_ratio, src.0.as_ptr(), dst.0.as_mut_ptr())
        })
    }

    fn launch_eval_point_chunks(
        &self,
        log_n: u32,
        log_chunk: u32,
        factors: &[u32],
        coeffs: &HostBuffer,
        out: &mut HostBuffer,
    ) -> Result<()> {
        let n_chunks =
            check_eval_point_chunks(log_n, log_chunk, factors.len(), coeffs.0.len(), out.0.len())?;
        // The factors cross to the "device" as a real one's upload would.
        self.count_upload(factors.len());
        // SAFETY: m31_eval_point_chunks(n_chunks, log_chunk, log_n, factors (4 log_n),
        // coeffs (2^log_n), out (4 n_chunks)), sizes checked above.
        self.launch(|| unsafe {
            (self.eval_point_chunks)(
                n_chunks,
                log_chunk,
                log_n,
                factors.as_ptr(),
                coeffs.0.as_ptr(),
                out.0.as_mut_ptr(),
            )
        })
    }

    fn launch_qm31_sum_chunks(
        &self,
        n_out: u32,
        chunk: u32,
        n_in: u32,
        src: &HostBuffer,
        dst: &mut HostBuffer,
    ) -> Result<()> {
        check_sum_chunks(n_out, chunk, n_in, src.0.len(), dst.0.len())?;
        // SAFETY: qm31_sum_chunks(n_out, chunk, n_in, src (4 n_in), dst (4 n_out)), checked.
        self.launch(|| unsafe {
            (self.sum_chunks)(n_out, chunk, n_in, src.0.as_ptr(), dst.0.as_mut_ptr())
        })
    }

    fn launch_accumulate_column(
        &self,
        n: u32,
        j: u32,
        init: Option<u32>,
        consts: &HostBuffer,
        col: &HostBuffer,
        acc: &mut HostBuffer,
    ) -> Result<()> {
        check_accumulate_column(n, j, init, consts.0.len(), col.0.len(), acc.0.len())?;
        let (init, init_index) = (u32::from(init.is_some()), init.unwrap_or(0));
        // SAFETY: qm31_accumulate_column(n, j, init, init_index, consts (4 (max(j, init_index)
        // + 1)), col (n), acc (4 n)), sizes checked above.
        self.launch(|| unsafe {
            (self.accumulate_column)(
                n,
                j,
                init,
                init_index,
                consts.0.as_ptr(),
                col.0.as_ptr(),
                acc.0.as_mut_ptr(),
            )
        })
    }

    fn launch_quotient_combine(
        &self,
        params: &[u32],
        points: &[u32],
        accs: &HostBuffer,
        out: &mut HostBuffer,
    ) -> Result<()> {
        let n = check_quotient_combine(params, points, accs.0.len(), out.0.len())?;
        self.count_upload(params.len());
        self.count_upload(points.len());
        // SAFETY: quotient_combine(params, points, accs, out) over n threads: the header, the
        // sample records, the point table and every record's accumulation range checked above.
        self.launch(|| unsafe {
            (self.quotient_combine)(
                n,
                params.as_ptr(),
                points.as_ptr(),
                accs.0.as_ptr(),
                out.0.as_mut_ptr(),
            )
        })
    }

    fn launch_m31_gather(
        &self,
        n: u32,
        stride: u32,
        offset: u32,
        src: &HostBuffer,
        dst: &mut HostBuffer,
    ) -> Result<()> {
        if n > 0 {
            let last = (n as usize - 1) * stride as usize + offset as usize;
            short("gather source", src.0.len(), last + 1)?;
        }
        short("gather destination", dst.0.len(), n as usize)?;
        // SAFETY: m31_gather(n, stride, offset, src (> (n - 1) stride + offset), dst (n)),
        // sizes checked above.
        self.launch(|| unsafe {
            (self.m31_gather)(n, stride, offset, src.0.as_ptr(), dst.0.as_mut_ptr())
        })
    }

    fn launch_gather_rows(
        &self,
        n: u32,
        words: u32,
        rows: &HostBuffer,
        src: &HostBuffer,
        dst: &mut HostBuffer,
    ) -> Result<()> {
        let (count, w) = (n as usize, words as usize);
        short("gathered rows", rows.0.len(), count)?;
        short("gather destination", dst.0.len(), count * w)?;
        if let Some(&r) = rows.0[..count].iter().max() {
            short("gather source", src.0.len(), (r as usize + 1) * w)?;
        }
        // SAFETY: gather_rows(n, words, rows (n), src (> max row, times words), dst
        // (n words)), sizes checked above.
        self.launch(|| unsafe {
            (self.gather_rows)(
                n,
                words,
                rows.0.as_ptr(),
                src.0.as_ptr(),
                dst.0.as_mut_ptr(),
            )
        })
    }
}

impl ResidentDevice for EmulatedDevice {
    const NAME: &'static str = BACKEND;
    type Module = EmulatedModule;

    fn load_row_kernels(&self, source: &str, names: &[String]) -> Result<EmulatedModule> {
        let path = build_row_library(source, names)?;
        // SAFETY: the library is ours, built by `build_row_library` from this text (or by an
        // earlier run, under a name keyed by its hash); its initialisers only set up C++
        // statics.
        let library = unsafe { libloading::Library::new(&path) }
            .map_err(|e| device_error(format!("loading {}: {e}", path.display())))?;
        let kernels = (0..names.len())
            .map(|i| {
                // SAFETY: `emu_rows_<i>` is declared by `build_row_library` with exactly this
                // signature; the pointer is kept next to the library, which outlives it.
                unsafe {
                    library
                        .get::<RowFn>(format!("emu_rows_{i}\0").as_bytes())
                        .map(|f| *f)
                        .map_err(|e| device_error(format!("symbol emu_rows_{i}: {e}")))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(EmulatedModule {
            _library: library,
            kernels,
        })
    }

    fn launch_row_kernel(
        &self,
        module: &EmulatedModule,
        index: usize,
        launch: RowLaunch,
        cols: &HostBuffer,
        params: &HostBuffer,
        accum: &mut HostBuffer,
    ) -> Result<()> {
        let kernel = *module
            .kernels
            .get(index)
            .ok_or_else(|| KernelError::InvalidInput(format!("no row kernel #{index}")))?;
        launch.check(cols.0.len(), params.0.len(), accum.0.len())?;
        // SAFETY: kernel(rows, cols, params, accum): the caller states what the kernel reads
        // (`launch`), checked against the buffers above.
        self.launch(|| unsafe {
            kernel(
                launch.rows,
                cols.0.as_ptr(),
                params.0.as_ptr(),
                accum.0.as_mut_ptr(),
            )
        })
    }

    fn instance() -> Result<&'static Self> {
        static DEVICE: OnceLock<std::result::Result<EmulatedDevice, String>> = OnceLock::new();
        DEVICE
            .get_or_init(|| {
                Self::open().map_err(|e| match e {
                    KernelError::NoDevice { reason, .. } => reason,
                    other => other.to_string(),
                })
            })
            .as_ref()
            .map_err(|reason| KernelError::NoDevice {
                backend: BACKEND,
                reason: reason.clone(),
            })
    }

    fn budget(&self) -> MemoryBudget {
        MemoryBudget::new(1 << 40, 1 << 40)
    }

    fn copy_range(
        &self,
        src: &HostBuffer,
        src_start: usize,
        dst: &mut HostBuffer,
        dst_start: usize,
        len: usize,
    ) -> Result<()> {
        let from = src
            .0
            .get(src_start..src_start + len)
            .ok_or_else(|| device_error("copy: source range out of bounds"))?;
        dst.0
            .get_mut(dst_start..dst_start + len)
            .ok_or_else(|| device_error("copy: destination range out of bounds"))?
            .copy_from_slice(from);
        Ok(())
    }

    fn launch_fft_layer_at(
        &self,
        params: &HostBuffer,
        params_at: usize,
        twiddles: &HostBuffer,
        twiddles_at: usize,
        twiddles_len: usize,
        values: &mut HostBuffer,
        n_half: u32,
    ) -> Result<()> {
        let p = params
            .0
            .get(params_at..params_at.saturating_add(4))
            .ok_or_else(|| device_error("FFT parameters out of bounds"))?;
        short("FFT values", values.0.len(), 2 * n_half as usize)?;
        let (layer, mode) = (p[1], p[2]);
        let t = twiddles
            .0
            .get(twiddles_at..twiddles_at.saturating_add(twiddles_len))
            .ok_or_else(|| device_error("FFT twiddles out of bounds"))?;
        if mode != 2 {
            let need = (n_half as usize).div_ceil(1usize << layer.min(31));
            short("FFT twiddles", t.len(), need)?;
        }
        // The scaling reads no twiddle, but the kernel takes a pointer.
        let t = if t.is_empty() { &twiddles.0[..] } else { t };
        // SAFETY: circle_fft_layer(params (4 words), twiddles (n_half >> layer), values
        // (2 n_half)), sizes and ranges checked above.
        self.launch(|| unsafe {
            (self.fft_layer)(p.as_ptr(), t.as_ptr(), values.0.as_mut_ptr(), n_half)
        })
    }

    fn launch_fri_fold_at(
        &self,
        params: &HostBuffer,
        params_at: usize,
        twiddles: &HostBuffer,
        twiddles_at: usize,
        src: &HostBuffer,
        dst: &mut HostBuffer,
        n_half: u32,
    ) -> Result<()> {
        let n = n_half as usize;
        let p = params
            .0
            .get(params_at..params_at.saturating_add(5))
            .ok_or_else(|| device_error("FRI parameters out of bounds"))?;
        let t = twiddles
            .0
            .get(twiddles_at..twiddles_at.saturating_add(n))
            .ok_or_else(|| device_error("FRI twiddles out of bounds"))?;
        short("FRI source", src.0.len(), 8 * n)?;
        short("FRI destination", dst.0.len(), 4 * n)?;
        // SAFETY: fri_fold(params (n_half, alpha: 5 words), twiddles (n_half), src
        // (8 n_half), dst (4 n_half)), ranges checked above.
        self.launch(|| unsafe {
            (self.fri_fold)(
                p.as_ptr(),
                t.as_ptr(),
                src.0.as_ptr(),
                dst.0.as_mut_ptr(),
                n_half,
            )
        })
    }

    fn download_range(&self, src: &HostBuffer, start: usize, len: usize) -> Result<Vec<u32>> {
        self.count_download(len);
        src.0
            .get(start..start + len)
            .map(<[u32]>::to_vec)
            .ok_or_else(|| device_error("download: range out of bounds"))
    }

    fn upload_range(&self, dst: &mut HostBuffer, start: usize, words: &[u32]) -> Result<()> {
        self.count_upload(words.len());
        dst.0
            .get_mut(start..start + words.len())
            .ok_or_else(|| device_error("upload: range out of bounds"))?
            .copy_from_slice(words);
        Ok(())
    }
}
