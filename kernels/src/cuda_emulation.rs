//! CUDA C compiled for the CPU, for tests on machines without a GPU: a small shim
//! (`cuda_emu/shim.h`: CUDA's qualifiers, thread indices and the intrinsics our kernels use)
//! turns a CUDA source into ordinary C++, which the system compiler builds either with a harness
//! that runs every "thread" of a launch in a loop (an executable per test binary), or with
//! extern "C" launchers into a shared library that [`crate::emulated_device`] loads in-process. Used by this crate's `tests/cuda_emulated.rs`
//! (the kernels) and by `starfarm-air`'s (the generated constraint code). What it cannot check
//! (NVRTC's acceptance, real device memory and scheduling) the tests on a GPU do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The shim, to be placed before the CUDA source.
pub const SHIM: &str = include_str!("cuda_emu/shim.h");
/// The M31 field helpers the kernels and the generated code share (`shaders/m31.cu`).
pub const M31: &str = include_str!("shaders/m31.cu");

/// A built emulator.
#[derive(Debug, Clone)]
pub struct Emulator {
    pub exe: PathBuf,
    /// The compiler that built it, and how long it took.
    pub compiler: String,
    pub took: Duration,
}

/// Writes `source` (the shim and everything after it, harness included) next to `exe` and
/// compiles it with `$CXX`, `c++` or `g++` (the first one found) at `-O{opt_level}`.
/// `Ok(None)`: no C++ compiler on this machine (callers skip, loudly). `Err`: a compiler
/// rejected the source, with its message.
pub fn compile(source: &str, exe: &Path, opt_level: u8) -> Result<Option<Emulator>, String> {
    compile_with(source, exe, opt_level, &[])
}

/// The extern "C" launchers the in-process emulated device calls (`cuda_emu/launchers.cpp`).
pub const LAUNCHERS: &str = include_str!("cuda_emu/launchers.cpp");

/// Compiles the shim, the kernels' CUDA source and [`LAUNCHERS`] into the shared library `lib`
/// (`-shared -fPIC`), which [`crate::emulated_device`] loads into the process. Same outcomes
/// as [`compile`].
pub fn compile_shared_library(lib: &Path, opt_level: u8) -> Result<Option<Emulator>, String> {
    let source = format!("{SHIM}\n{}\n{LAUNCHERS}", crate::cuda_src::cuda_source());
    compile_with(&source, lib, opt_level, &["-shared", "-fPIC"])
}

/// Compiles `source` (the shim and everything after it, extern "C" launchers included) into
/// the shared library `lib`, at `-O{opt_level}`. Same outcomes as [`compile`].
pub fn compile_shared(source: &str, lib: &Path, opt_level: u8) -> Result<Option<Emulator>, String> {
    compile_with(source, lib, opt_level, &["-shared", "-fPIC"])
}

fn compile_with(
    source: &str,
    exe: &Path,
    opt_level: u8,
    extra: &[&str],
) -> Result<Option<Emulator>, String> {
    let src = exe.with_extension("cpp");
    std::fs::write(&src, source).map_err(|e| format!("writing {}: {e}", src.display()))?;
    let compilers = std::env::var("CXX")
        .into_iter()
        .chain(["c++".into(), "g++".into()]);
    for compiler in compilers {
        let started = Instant::now();
        let Ok(out) = Command::new(&compiler)
            .arg("-std=c++17")
            .arg(format!("-O{opt_level}"))
            .args(extra)
            .args(["-Wno-unknown-pragmas", "-o"])
            .arg(exe)
            .arg(&src)
            .output()
        else {
            continue;
        };
        if !out.status.success() {
            return Err(format!(
                "{compiler} rejects the CUDA source (+ shim):\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        return Ok(Some(Emulator {
            exe: exe.to_path_buf(),
            compiler,
            took: started.elapsed(),
        }));
    }
    Ok(None)
}
