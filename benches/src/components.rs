//! What a proof pays for, per AIR component: the rows the proof's claim states for each
//! component of stwo-cairo's AIR, its columns (base trace plus interaction trace, as committed)
//! and the trace cells they make. Computed by writing the base trace only (no commitment, no
//! FRI), so it costs a small part of a proof's time and memory.

use std::sync::Arc;

use anyhow::Result;
use cairo_air::claims::CairoClaim;
use starfarm_prover::{choose_variant, Execution};
use stwo::core::pcs::TreeVec;
use stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant;
use stwo_cairo_prover::witness::cairo::create_cairo_claim_generator;

/// One component of the proof's claim.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ComponentCost {
    pub name: &'static str,
    /// What the component is for (see [`group_of`]).
    pub group: &'static str,
    /// Rows, as the claim states them (a power of two per instance: padded).
    pub rows: u64,
    /// Base-trace plus interaction-trace columns of one row.
    pub columns: u64,
    /// `rows × columns`: the cells committed for this component.
    pub cells: u64,
}

/// The claim a proof of `execution` would state, and the preprocessed trace it would use.
pub fn claim_of(execution: &Execution) -> Result<(CairoClaim, PreProcessedTraceVariant)> {
    let variant = choose_variant(execution)?;
    let input = execution.adapt()?;
    let generator = create_cairo_claim_generator(input, Arc::new(variant.to_preprocessed_trace()));
    let (_trace, claim, _interaction) = generator.write_trace();
    Ok((claim, variant))
}

/// Rows, columns and cells of a component from its claim's column log sizes.
fn cost(name: &'static str, log_sizes: TreeVec<Vec<u32>>) -> ComponentCost {
    let cells_of = |tree: &[u32]| tree.iter().map(|l| 1u64 << l).sum::<u64>();
    let base = log_sizes.first().map_or(&[][..], |t| &t[..]);
    let cells = log_sizes.iter().map(|t| cells_of(t)).sum::<u64>();
    // Components split into instances of different sizes (memory_id_to_big) have one block of
    // columns per instance: count the rows of all instances, the columns of one.
    let instances = if name == "memory_id_to_big" {
        (base.len() / cairo_air::components::memory_id_to_big::BIG_N_COLUMNS).max(1)
    } else {
        1
    };
    let base_columns = (base.len() / instances).max(1) as u64;
    let rows = cells_of(base) / base_columns;
    ComponentCost {
        name,
        group: group_of(name),
        rows,
        columns: cells / rows.max(1),
        cells,
    }
}

macro_rules! costs {
    ($claim:ident; $($name:ident),* $(,)?) => {
        [$($claim.$name.as_ref().map(|c| cost(stringify!($name), c.log_sizes()))),*]
            .into_iter()
            .flatten()
            .collect()
    };
}

/// Every component the claim enables, in the claim's order.
pub fn component_costs(claim: &CairoClaim) -> Vec<ComponentCost> {
    costs!(claim;
        add_opcode, add_opcode_small, add_ap_opcode, assert_eq_opcode, assert_eq_opcode_imm,
        assert_eq_opcode_double_deref, blake_compress_opcode, call_opcode_abs,
        call_opcode_rel_imm, generic_opcode, jnz_opcode_non_taken, jnz_opcode_taken,
        jump_opcode_abs, jump_opcode_double_deref, jump_opcode_rel, jump_opcode_rel_imm,
        mul_opcode, mul_opcode_small, qm_31_add_mul_opcode, ret_opcode, verify_instruction,
        blake_round, blake_g, blake_round_sigma, triple_xor_32, verify_bitwise_xor_12,
        add_mod_builtin, bitwise_builtin, mul_mod_builtin, pedersen_builtin,
        pedersen_builtin_narrow_windows, poseidon_builtin, range_check96_builtin,
        range_check_builtin, ec_op_builtin, partial_ec_mul_generic,
        pedersen_aggregator_window_bits_18, partial_ec_mul_window_bits_18,
        pedersen_points_table_window_bits_18, pedersen_aggregator_window_bits_9,
        partial_ec_mul_window_bits_9, pedersen_points_table_window_bits_9, poseidon_aggregator,
        poseidon_3_partial_rounds_chain, poseidon_full_round_chain, cube_252,
        poseidon_round_keys, range_check_252_width_27, memory_address_to_id, memory_id_to_big,
        memory_id_to_small, range_check_6, range_check_8, range_check_11, range_check_12,
        range_check_18, range_check_20, range_check_4_3, range_check_4_4, range_check_9_9,
        range_check_7_2_5, range_check_3_6_6_3, range_check_4_4_4_4, range_check_3_3_3_3_3,
        verify_bitwise_xor_4, verify_bitwise_xor_7, verify_bitwise_xor_8, verify_bitwise_xor_9,
    )
}

/// The lever a component belongs to: the builtin or mechanism whose use sizes it.
/// `lookup tables` are fixed-size (their rows do not grow with the program).
pub fn group_of(name: &str) -> &'static str {
    match name {
        "ec_op_builtin" | "partial_ec_mul_generic" => "ec_op",
        "poseidon_builtin"
        | "poseidon_aggregator"
        | "poseidon_3_partial_rounds_chain"
        | "poseidon_full_round_chain"
        | "cube_252"
        | "poseidon_round_keys"
        | "range_check_252_width_27" => "poseidon",
        "range_check_builtin" | "range_check96_builtin" => "range_check builtin",
        "memory_address_to_id" | "memory_id_to_big" | "memory_id_to_small" => "memory",
        n if n.ends_with("_builtin") => "other builtins",
        n if n.contains("opcode") || n == "verify_instruction" => "opcodes",
        n if n.starts_with("range_check_") || n.starts_with("verify_bitwise_xor_") => {
            "lookup tables"
        }
        _ => "other",
    }
}

/// Cells per group, largest first.
pub fn by_group(costs: &[ComponentCost]) -> Vec<(&'static str, u64)> {
    let mut groups: Vec<(&'static str, u64)> = Vec::new();
    for c in costs {
        match groups.iter_mut().find(|(g, _)| *g == c.group) {
            Some((_, cells)) => *cells += c.cells,
            None => groups.push((c.group, c.cells)),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.1));
    groups
}
