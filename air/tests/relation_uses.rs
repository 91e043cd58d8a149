//! The relation uses table (`starfarm_air::uses`, emitted as `evm/RelationUses.sol` for the
//! Solidity verifier's `check_relation_uses`) is counted from the IR's logup entries; here it
//! must equal cairo-air's own `RELATION_USES_PER_ROW` for every component, so a cairo-air
//! upgrade that changes a component's uses (or its logup entries) fails this test, and the
//! committed Solidity must be the generator's.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use cairo_air::components::*;
use starfarm_air::ir::Air;
use starfarm_air::uses::{relation_id, relation_uses, relation_uses_named, P};

static AIR: LazyLock<Air> = LazyLock::new(|| starfarm_air::extract().expect("extracts"));

/// cairo-air's `RELATION_USES_PER_ROW` of every component that declares one (all but
/// verify_bitwise_xor_12, a lookup table), by the component's name.
macro_rules! stwo_uses {
    ($($name:ident),* $(,)?) => {
        vec![$((
            stringify!($name),
            $name::RELATION_USES_PER_ROW
                .iter()
                .map(|u| (u.relation_id, u32::try_from(u.uses).expect("uses fit u32")))
                .collect::<BTreeMap<&str, u32>>(),
        )),*]
    };
}

fn stwo_tables() -> Vec<(&'static str, BTreeMap<&'static str, u32>)> {
    stwo_uses!(
        add_opcode,
        add_opcode_small,
        add_ap_opcode,
        assert_eq_opcode,
        assert_eq_opcode_imm,
        assert_eq_opcode_double_deref,
        blake_compress_opcode,
        call_opcode_abs,
        call_opcode_rel_imm,
        generic_opcode,
        jnz_opcode_non_taken,
        jnz_opcode_taken,
        jump_opcode_abs,
        jump_opcode_double_deref,
        jump_opcode_rel,
        jump_opcode_rel_imm,
        mul_opcode,
        mul_opcode_small,
        qm_31_add_mul_opcode,
        ret_opcode,
        verify_instruction,
        blake_round,
        blake_g,
        blake_round_sigma,
        triple_xor_32,
        add_mod_builtin,
        bitwise_builtin,
        mul_mod_builtin,
        pedersen_builtin,
        pedersen_builtin_narrow_windows,
        poseidon_builtin,
        range_check96_builtin,
        range_check_builtin,
        ec_op_builtin,
        partial_ec_mul_generic,
        pedersen_aggregator_window_bits_18,
        partial_ec_mul_window_bits_18,
        pedersen_points_table_window_bits_18,
        pedersen_aggregator_window_bits_9,
        partial_ec_mul_window_bits_9,
        pedersen_points_table_window_bits_9,
        poseidon_aggregator,
        poseidon_3_partial_rounds_chain,
        poseidon_full_round_chain,
        cube_252,
        poseidon_round_keys,
        range_check_252_width_27,
        memory_address_to_id,
        memory_id_to_big,
        memory_id_to_small,
        range_check_6,
        range_check_8,
        range_check_11,
        range_check_12,
        range_check_18,
        range_check_20,
        range_check_4_3,
        range_check_4_4,
        range_check_9_9,
        range_check_7_2_5,
        range_check_3_6_6_3,
        range_check_4_4_4_4,
        range_check_3_3_3_3_3,
        verify_bitwise_xor_4,
        verify_bitwise_xor_7,
        verify_bitwise_xor_8,
        verify_bitwise_xor_9,
    )
}

#[test]
fn the_table_counted_from_the_ir_is_cairo_airs_for_every_component() {
    let table = relation_uses(&AIR).expect("counts");
    let stwo: BTreeMap<_, _> = stwo_tables().into_iter().collect();
    let mut compared = 0;
    for c in &AIR.components {
        let ours: BTreeMap<&str, u32> = table
            .of(&AIR, &c.name)
            .expect("a component of the IR")
            .into_iter()
            .collect();
        let theirs = match stwo.get(c.name.as_str()) {
            Some(t) => t.clone(),
            // No RELATION_USES_PER_ROW: a lookup table, it only yields.
            None => {
                assert_eq!(c.name, "verify_bitwise_xor_12");
                BTreeMap::new()
            }
        };
        assert_eq!(
            ours, theirs,
            "{}: the IR's uses per row against cairo-air's",
            c.name
        );
        compared += 1;
    }
    assert_eq!(compared, 68, "every component of the AIR");
    assert_eq!(
        stwo.len() + 1,
        AIR.components.len(),
        "every table cairo-air has is the IR's"
    );
    // Not vacuous: most components use something, and some a relation dozens of times a row.
    let used = table.components.iter().filter(|c| !c.is_empty()).count();
    assert!(used >= 40, "{used} components use a relation");
    let most = table.components.iter().flatten().map(|(_, n)| *n).max();
    assert!(
        most.is_some_and(|n| n > 1),
        "entries are counted, not just present: {most:?}"
    );
}

#[test]
fn relation_ids_are_cairo_airs_and_unnamed_ones_are_refused() {
    use cairo_air::relations::*;
    for (name, id) in [
        ("Opcodes", OPCODES_RELATION_ID),
        ("MemoryAddressToId", MEMORY_ADDRESS_TO_ID_RELATION_ID),
        ("MemoryIdToBig", MEMORY_ID_TO_BIG_RELATION_ID),
        ("RangeCheck_9_9", RANGE_CHECK_9_9_RELATION_ID),
        ("RangeCheck_9_9_H", RANGE_CHECK_9_9_H_RELATION_ID),
        ("VerifyBitwiseXor_12", VERIFY_BITWISE_XOR_12_RELATION_ID),
    ] {
        assert_eq!(relation_id(name), id.0, "{name}");
        assert!(relation_id(name) < P);
    }
    // An id used by the AIR that no name hashes to fails generation (a relation a new
    // cairo-air adds must be named, never dropped from the table).
    let mut names = starfarm_air::extract::relation_names();
    names.retain(|n| *n != "Opcodes");
    let err = relation_uses_named(&AIR, &names).expect_err("Opcodes unnamed");
    assert!(
        err.to_string()
            .contains("relation id 428564188 has no name"),
        "{err}"
    );
}

/// What `check_relation_uses` sums, from the table, equals cairo-air's own accumulation
/// (`accumulate_relation_uses` over the per-row constants) for a claim with every component
/// at its own log size.
#[test]
fn totals_at_log_sizes_are_cairo_airs_accumulation() {
    let table = relation_uses(&AIR).expect("counts");
    let instances: Vec<(usize, u32)> = (0..AIR.components.len())
        .map(|k| (k, 4 + (k as u32 % 22)))
        .collect();
    let ours = table.totals(&instances);
    let mut theirs: BTreeMap<&str, u64> = BTreeMap::new();
    let stwo: BTreeMap<_, _> = stwo_tables().into_iter().collect();
    for (k, log_size) in &instances {
        for (name, n) in stwo
            .get(AIR.components[*k].name.as_str())
            .into_iter()
            .flatten()
        {
            *theirs.entry(name).or_insert(0) += u64::from(*n) << log_size;
        }
    }
    assert_eq!(ours, theirs);
}

#[test]
fn the_committed_solidity_is_the_generators() {
    let files = starfarm_air::codegen::generated_files(&AIR).expect("generates");
    let (_, text) = files
        .iter()
        .find(|(n, _)| n == "evm/RelationUses.sol")
        .expect("generated");
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("generated/evm/RelationUses.sol");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == *text,
        "{} is stale: run `cargo run -p starfarm-air --bin air-codegen`",
        path.display()
    );
}
