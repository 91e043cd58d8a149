//! Fails early, with the command to run, when the patched upstream source is missing.
use std::path::Path;

fn main() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.deps/stwo-cairo-common-1.3.0");
    println!("cargo:rerun-if-changed={}", src.join(".starfarm-patched").display());
    if !src.join("src/lib.rs").exists() || !src.join(".starfarm-patched").exists() {
        eprintln!(
            "\n  stwo-cairo-common 1.3.0 needs a one-word fix for current nightly and has not \
             been prepared.\n  Run `scripts/patch-deps.sh` from the repository root once, then \
             build again.\n"
        );
        std::process::exit(1);
    }
}
