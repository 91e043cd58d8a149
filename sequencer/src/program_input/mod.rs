//! The block program's input and output (`sequencer/cairo/block.cairo`; layouts in
//! `docs/sequencer.md`, "Block program input" and "Block program output").
//!
//! Per block the sequencer publishes a [`BlockProverInput`]: the header fields, the
//! transactions, the pre-block states of the accounts they touch and one multiproof of those
//! accounts against the previous contracts root. Any range of the block can then be proven on
//! its own: [`BlockProverInput::range`] replays the block natively on the partial trie the
//! multiproof forms and gives the [`RangeInput`] whose felts ([`RangeInput::to_felts`]) the
//! program reads, with the output the program must give ([`RangeInput::expected_output`]);
//! [`BlockOutput::from_felts`] parses what a run or a proof's artifact output.
//!
//! One file per responsibility:
//! - `input`: the published [`BlockProverInput`] and a range's [`RangeInput`], as data;
//! - `from_trie`: building a block's input (pre-block states and their multiproof) from
//!   the contracts trie;
//! - `from_store`: rebuilding it for a closed block from the sequencer's database, and the
//!   publisher hook that publishes it with each block;
//! - `replay`: [`BlockProverInput::range`], the native replay that yields a range's input
//!   and its hints;
//! - `proof_steps`: an account's trie proof as the program reads it;
//! - `encode`: a range's input as the felts the program reads;
//! - `output`: the program's output: what native execution expects, felts, parsing.

mod encode;
mod from_store;
mod from_trie;
mod input;
mod output;
mod proof_steps;
mod replay;

pub use encode::PROGRAM_INPUT_VERSION;
pub use from_store::{block_prover_input, with_prover_inputs, ProverInputError};
pub use input::{
    AccountEntry, AccountProof, BlockProverInput, Outcome, ProgramInputError, ProofStep,
    RangeInput, RangeTx, SharedStep, BLOCK_PROVER_INPUT_VERSION,
};
pub use output::{BlockOutput, OutputError, OUTPUT_HEADER_LEN};
pub use proof_steps::shared_steps;

/// The compiled block program (`cairo/block.cairo`, `cairo-compile --proof_mode`): the
/// program whose input and output this module lays out, embedded so that whoever proves a
/// published block (the scheduler) proves the program this build's input format is for.
pub const BLOCK_PROGRAM_JSON: &[u8] = include_bytes!("../../cairo/block.json");

/// Cairo steps the block program spends on a range besides its transactions (header, output,
/// the empty pass 2; `docs/sequencer.md`, "Cost": ~300, measured on an empty block).
pub const RANGE_OVERHEAD_STEPS: u64 = 300;
