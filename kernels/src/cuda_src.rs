//! The CUDA C source of the kernels, built on every machine (the CUDA backend compiles it with
//! NVRTC at run time; the tests also compile it for the CPU with a C++ compiler and a small
//! shim, see `tests/cuda_emulated.rs`).

const SOURCE: &str = include_str!("shaders/blake2s.cu");

/// Full CUDA C source of the kernels (the generated Blake2s rounds substituted).
pub fn cuda_source() -> String {
    crate::blake2s::render(SOURCE)
}
