//! The CUDA C source of the kernels, built on every machine (the CUDA backend compiles it with
//! NVRTC at run time; the tests also compile it for the CPU with a C++ compiler and a small
//! shim, see [`crate::cuda_emulation`]).

const SOURCE: &str = include_str!("shaders/blake2s.cu");
const M31: &str = include_str!("shaders/m31.cu");
const FFT: &str = include_str!("shaders/circle_fft.cu");
const FRI: &str = include_str!("shaders/fri_fold.cu");
const RESIDENT: &str = include_str!("shaders/resident.cu");

/// Full CUDA C source of the kernels (the generated Blake2s rounds substituted; the M31 field
/// kernels after them: they use `uint32_t` from the Blake2s prelude).
pub fn cuda_source() -> String {
    format!(
        "{}\n{M31}\n{FFT}\n{FRI}\n{RESIDENT}",
        crate::blake2s::render(SOURCE)
    )
}
