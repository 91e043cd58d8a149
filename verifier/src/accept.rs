//! What a deployment accepts, derived from programs and a profile alone (no proof): each
//! program's key as a proof of it has it in its claim, and each preprocessed variant's root
//! at the profile's blowup. `starfarm l1 deploy --verifier stwo` accepts the block program so.

use alloy::primitives::{keccak256, B256, U256};
use starfarm_prover::artifact::PreProcessedTraceVariant;
use starfarm_prover::CairoProgram;
use stwo::core::pcs::PcsConfig;

use crate::claim::{preprocessed_root, root_key, variant_index};
use crate::plan::Accepted;

/// Where a proof-mode run's program segment starts once relocated: stwo-cairo's relocator
/// puts the first segment (the program) at address 1.
const PROGRAM_BASE: u64 = 1;

/// [`crate::program_key`] of every proof of `program`, from the program alone: a proof-mode
/// run starts at `__start__` in the program segment, and the claim's program section is the
/// segment's memory, [initial pc, initial ap − 2): the program's data (stwo-cairo's
/// `extract_sections_from_memory`).
pub fn program_key_of(program: &CairoProgram) -> B256 {
    let initial_pc = PROGRAM_BASE + program.start();
    let mut bytes = U256::from(initial_pc).to_be_bytes::<32>().to_vec();
    for felt in program.data() {
        bytes.extend(felt.to_bytes_be());
    }
    keccak256(bytes)
}

impl Accepted {
    /// What a deployment needs to accept proofs of `programs` made with `config` on any of
    /// `variants`, at `floor` bits: computed from the programs and the profile, no proof
    /// needed (the roots as the prover commits them: seconds and ~1.7 GiB for CanonicalSmall
    /// at blowup 1).
    pub fn for_programs(
        programs: &[CairoProgram],
        variants: &[PreProcessedTraceVariant],
        config: &PcsConfig,
        floor: u32,
    ) -> Self {
        let mut accepted = Self {
            floor,
            ..Self::default()
        };
        for program in programs {
            let entry = (
                program_key_of(program),
                B256::from(program.hash().to_bytes_be()),
            );
            if !accepted.programs.contains(&entry) {
                accepted.programs.push(entry);
            }
        }
        let log_blowup = config.fri_config.log_blowup_factor;
        for &variant in variants {
            let key = root_key(variant_index(variant), log_blowup);
            if !accepted.roots.iter().any(|(k, _)| *k == key) {
                accepted
                    .roots
                    .push((key, preprocessed_root(variant, config)));
            }
        }
        accepted
    }
}
