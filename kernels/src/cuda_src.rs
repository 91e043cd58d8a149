//! The CUDA C source of the kernels, built on every machine (the CUDA backend compiles it with
//! NVRTC at run time; the tests also compile it for the CPU with a C++ compiler and a small
//! shim, see `tests/cuda_emulated.rs`).

const SOURCE: &str = include_str!("shaders/blake2s.cu");
const FFT: &str = include_str!("shaders/circle_fft.cu");

/// Full CUDA C source of the kernels (the generated Blake2s rounds substituted; the circle FFT
/// layer after them: it uses `uint32_t` from the Blake2s prelude).
pub fn cuda_source() -> String {
    format!("{}\n{FFT}", crate::blake2s::render(SOURCE))
}
