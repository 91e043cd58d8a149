//! starfarm-air owns the Cairo AIR as data: the IR extracted from cairo-air 1.3's components
//! with stwo-constraint-framework's symbolic evaluator (`extract`, `lower`), its text dump
//! (`dump`), an interpreter in M31/QM31 that evaluates constraints and the composition
//! polynomial at the out-of-domain point as stwo's verifier does (`interpret`, `replay`), and
//! the code generators that emit the constraints for other targets (`codegen`: CUDA, and the
//! EVM's bytecode with its evaluator contract), and the relations each component's row uses
//! (`uses`, what `check_relation_uses` sums; emitted for the EVM as `RelationUses.sol`).
//!
//! It also owns the glue that runs the generated CUDA on the resident backend (`resident`:
//! `DeviceComponent`, a `ComponentProver<DeviceBackend<D>>` per component instance, and
//! `prove_cairo`, the Cairo prove flow on that backend, and `ResidentProver`, that flow with a
//! warm device precompute as the prover's CUDA path, through the kernels' `ProveFlow` trait
//! which the binary hands to the prover), because that glue needs the IR's
//! layouts, `starfarm-kernels` may import no starfarm crate, and the prover cannot import this
//! crate (this crate dev-depends on the prover).
//!
//! Constraints enter only through extraction from cairo-air; nothing here restates them.
//! This crate must not import the scheduler, the sequencer, l1 or the prover (the prover is a
//! dev-dependency, for tests on real proofs); of starfarm's crates it imports only the kernels
//! (the resident backend's device and row-kernel launches).

pub mod codegen;
pub mod dump;
pub mod extract;
pub mod interpret;
pub mod ir;
mod lower;
pub mod replay;
pub mod resident;
pub mod uses;

pub use extract::{extract, Instance, COMPONENT_NAMES};
pub use ir::Air;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("component {component}: {what}")]
    Lowering { component: String, what: String },
    #[error("no component {0} in the IR")]
    UnknownComponent(String),
    #[error("extraction thread: {0}")]
    Thread(String),
}

#[derive(Debug, thiserror::Error)]
pub enum InterpretError {
    #[error("component {0}: a trace node is not in the mask")]
    Mask(String),
    #[error("component {0}: missing claim parameter")]
    ClaimParam(String),
    #[error("relation {0}: no lookup elements")]
    Relation(u32),
    #[error("preprocessed column {0} is not in the preprocessed trace")]
    Preprocessed(String),
    #[error("no preprocessed-trace variant {0} in the IR")]
    Variant(String),
    #[error("component {component}: sampled values of tree {tree} column {column} do not match the mask")]
    SampledShape {
        component: String,
        tree: usize,
        column: usize,
    },
    #[error("layout: {0}")]
    Layout(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error("component {0}: a trace node is not in the mask")]
    Mask(String),
    #[error("component {0}: relation {1} is not in the IR")]
    Relation(String, u32),
    #[error("component {component}: logup entry {entry}: {what}")]
    Logup {
        component: String,
        entry: usize,
        what: String,
    },
    #[error("the relation uses table: {0}")]
    UsesTable(String),
    #[error("component {component}: {slots} slots do not fit the EVM bytecode's 16-bit operands")]
    TooManySlots { component: String, slots: usize },
    #[error("component {0}: no EVM instruction for {1}")]
    Unexpected(String, String),
}
