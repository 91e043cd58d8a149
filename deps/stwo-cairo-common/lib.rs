//! stwo-cairo-common 1.3.0, compiled from the patched copy that `scripts/patch-deps.sh`
//! unpacks into `.deps/` (upstream's own crate root is these four modules).
#![cfg_attr(feature = "prover", feature(portable_simd))]

#[path = "../../.deps/stwo-cairo-common-1.3.0/src/builtins.rs"]
pub mod builtins;
#[path = "../../.deps/stwo-cairo-common-1.3.0/src/memory.rs"]
pub mod memory;
#[path = "../../.deps/stwo-cairo-common-1.3.0/src/preprocessed_columns/mod.rs"]
pub mod preprocessed_columns;
#[path = "../../.deps/stwo-cairo-common-1.3.0/src/prover_types/mod.rs"]
pub mod prover_types;
