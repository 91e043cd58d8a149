//! CPU feature check. The workspace builds for x86-64-v3 (AVX2) because Stwo's SIMD code picks
//! its AVX2 paths at compile time; a CPU without AVX2 would die on an illegal instruction.

/// Returns an error message when this CPU lacks a feature the build was compiled for.
pub fn check_cpu() -> Result<(), String> {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    if !std::arch::is_x86_feature_detected!("avx2") {
        return Err(
            "this starfarm build needs a CPU with AVX2 (x86-64-v3); rebuild without \
             `-C target-cpu=x86-64-v3` in .cargo/config.toml for older CPUs (proving is about \
             2x slower)"
                .into(),
        );
    }
    Ok(())
}
