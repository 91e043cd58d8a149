//! The committed Solidity (air/generated/solidity/) is current; the components of up to
//! `MAX_NODES` nodes (solc-js needs ~7 ms a node, and the largest component alone takes
//! ~110 s) compile with the project's solc (solc-js 0.8.28 as l1/contracts/build.sh installs
//! it: `$STARFARM_SOLC_PREFIX` or l1/contracts) and, on anvil (`$STARFARM_ANVIL`, via eth_call),
//! evaluate their constraints on random sampled values equal to the interpreter. Skipped, with
//! a message, without node and solc; the evaluation is skipped without anvil (a failure with
//! `STARFARM_REQUIRE_ANVIL=1`, as in CI).
//! `STARFARM_AIR_SOL_MAX_NODES` raises the budget (all components: ~10 minutes).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use starfarm_air::interpret::{evaluate_constraints, Lookup, Mask, Params};
use starfarm_air::ir::{Air, Component, LogSize};
use starfarm_l1::anvil::Anvil;
use stwo::core::fields::qm31::QM31;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn solc_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("STARFARM_SOLC_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest().join("../l1/contracts"));
    dir.join("node_modules/solc/package.json")
        .exists()
        .then_some(dir)
}

/// `a | b << 32 | c << 64 | d << 96`, as the generated `AirField` packs a QM31.
fn packed(v: QM31) -> String {
    let [a, b, c, d] = v.to_m31_array().map(|m| m.0);
    format!("0x{d:08x}{c:08x}{b:08x}{a:08x}")
}

fn unpacked(hex: &str) -> QM31 {
    let h = hex.trim_start_matches("0x");
    let limb = |k: usize| {
        let end = h.len() - 8 * k;
        u32::from_str_radix(&h[end - 8..end], 16).expect("hex")
    };
    QM31::from_u32_unchecked(limb(0), limb(1), limb(2), limb(3))
}

/// Random sampled values and parameters for one component, in the generated layout.
struct Call {
    mask: Vec<QM31>,
    params: Vec<String>,
    expected: Vec<QM31>,
}

struct FlatMask<'a> {
    component: &'a Component,
    mask: &'a [QM31],
}

impl Mask for FlatMask<'_> {
    fn trace(&self, interaction: u32, column: u32, position: usize) -> QM31 {
        let c = self.component;
        let mut at = c.preprocessed.len();
        for (tree, columns) in c.columns.iter().enumerate() {
            for (j, offsets) in columns.iter().enumerate() {
                if tree + 1 == interaction as usize && j == column as usize {
                    return self.mask[at + position];
                }
                at += offsets.len();
            }
        }
        unreachable!("column in the mask")
    }
    fn preprocessed(&self, index: u32) -> QM31 {
        self.mask[index as usize]
    }
}

fn random_call(air: &Air, c: &Component, rng: &mut SmallRng) -> Call {
    let n_mask = c.preprocessed.len() + c.columns.iter().flatten().map(|o| o.len()).sum::<usize>();
    let mask: Vec<QM31> = (0..n_mask).map(|_| rng.gen()).collect();
    let log_size = match c.log_size {
        LogSize::Fixed(l) => l,
        LogSize::Claimed => rng.gen_range(4..24),
    };
    let claim_params: Vec<u32> = c
        .claim_params
        .iter()
        .map(|_| rng.gen_range(0..1 << 30))
        .collect();
    let claimed_sum: QM31 = rng.gen();
    let relations: Vec<Lookup> = air
        .relations
        .iter()
        .map(|r| Lookup {
            z: rng.gen(),
            alpha_powers: (0..r.size).map(|_| rng.gen()).collect(),
        })
        .collect();
    let mut params = vec![format!("{log_size:#x}")];
    params.extend(claim_params.iter().map(|p| format!("{p:#x}")));
    params.push(packed(claimed_sum));
    for r in &relations {
        params.push(packed(r.z));
        params.extend(r.alpha_powers.iter().map(|a| packed(*a)));
    }
    let expected = evaluate_constraints(
        c,
        &FlatMask {
            component: c,
            mask: &mask,
        },
        &Params {
            log_size,
            claim_params: &claim_params,
            claimed_sum,
            relations: &relations,
        },
    )
    .expect("evaluates");
    Call {
        mask,
        params,
        expected,
    }
}

const MAX_NODES: usize = 400;

#[test]
fn generated_solidity_compiles_and_equals_interpreter_on_anvil() {
    let air = starfarm_air::extract().expect("extracts");
    let generated = manifest().join("generated");
    for (name, text) in starfarm_air::codegen::generated_files(&air) {
        if name.ends_with(".sol") {
            let committed = std::fs::read_to_string(generated.join(&name)).unwrap_or_default();
            assert!(committed == text, "the committed {name} is current");
        }
    }
    let max_nodes = std::env::var("STARFARM_AIR_SOL_MAX_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_NODES);
    let selected: Vec<&Component> = air
        .components
        .iter()
        .filter(|c| c.nodes.len() <= max_nodes)
        .collect();
    assert!(
        selected.iter().any(|c| c.name.ends_with("_opcode")),
        "the selection includes opcodes, not only lookup tables"
    );

    let Some(solc) = solc_dir() else {
        eprintln!("SKIPPED: solc-js not installed (l1/contracts/build.sh or STARFARM_SOLC_PREFIX)");
        return;
    };
    // No gas limit per block: the largest components' eth_call runs past the default.
    let anvil = Anvil::binary_for_tests()
        .map(|bin| Anvil::start_with(&bin, &["--disable-block-gas-limit"]).expect("anvil starts"));
    if anvil.is_none() {
        eprintln!("SKIPPED (evaluation part): no STARFARM_ANVIL; compiling only");
    }
    let mut rng = SmallRng::seed_from_u64(18);
    let calls: Vec<Call> = match anvil {
        Some(_) => selected
            .iter()
            .map(|c| random_call(&air, c, &mut rng))
            .collect(),
        None => vec![],
    };
    let solidity = generated.join("solidity");
    let sources: Vec<PathBuf> = selected
        .iter()
        .map(|c| solidity.join(format!("Air_{}.sol", c.name)))
        .collect();
    let request = json!({
        "sources": sources,
        "anvil": anvil.as_ref().map(|a| a.url.clone()),
        "calls": selected.iter().zip(&calls).map(|(c, call)| json!({
            "contract": format!("Air_{}", c.name),
            "mask": call.mask.iter().map(|v| packed(*v)).collect::<Vec<_>>(),
            "params": call.params,
        })).collect::<Vec<_>>(),
    });
    let dir = std::env::temp_dir().join(format!("starfarm-air-sol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (request_path, response_path) = (dir.join("request.json"), dir.join("response.json"));
    std::fs::write(&request_path, request.to_string()).expect("request");
    let started = Instant::now();
    let status = Command::new("node")
        .arg(manifest().join("tests/solidity/eval.mjs"))
        .arg(&solc)
        .arg(&request_path)
        .arg(&response_path)
        .status();
    let Ok(status) = status else {
        eprintln!("SKIPPED: node not found");
        return;
    };
    assert!(
        status.success(),
        "solc compiles and anvil evaluates the generated Solidity"
    );
    let response: Value =
        serde_json::from_slice(&std::fs::read(&response_path).expect("response")).expect("json");
    let _ = std::fs::remove_dir_all(&dir);
    let sizes = response["deployedBytes"].as_object().expect("sizes");
    let total: u64 = sizes.values().filter_map(Value::as_u64).sum();
    let max = sizes.values().filter_map(Value::as_u64).max().unwrap_or(0);
    eprintln!(
        "solc: {} contracts, {total} runtime bytes in all, largest {max}, in {:?}",
        sizes.len(),
        started.elapsed()
    );
    assert_eq!(
        sizes.len(),
        selected.len() + 1,
        "a contract per component + AirField"
    );
    let results = response["results"].as_array().expect("results");
    for ((c, call), got) in selected.iter().zip(&calls).zip(results) {
        let got: Vec<QM31> = got
            .as_array()
            .expect("array")
            .iter()
            .map(|h| unpacked(h.as_str().expect("hex")))
            .collect();
        assert_eq!(got, call.expected, "{}: constraints on the EVM", c.name);
    }
    if !calls.is_empty() {
        eprintln!(
            "{} of {} components evaluated on anvil",
            calls.len(),
            air.components.len()
        );
    }
}
