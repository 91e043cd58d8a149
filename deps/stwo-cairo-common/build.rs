//! Fails early, with the command to run, when the patched upstream source is missing.
use std::path::Path;

fn main() {
    // Read at run time, not with `env!`: a build script compiled in one checkout is reused
    // from a shared target folder by a checkout elsewhere (cargo fingerprints it by relative
    // path), and must look beside the checkout that runs it.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let src = Path::new(&dir).join("../../.deps/stwo-cairo-common-1.3.0");
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
