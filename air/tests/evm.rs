//! The EVM form of the constraints (air/generated/evm/): the committed programs are current;
//! deployed on anvil by ordinary transactions (EIP-170's 24,576-byte limit enforced: a larger
//! contract is refused), the evaluator contract run on every component's program (all of them)
//! with random sampled values and parameters equals the interpreter; on a real fibonacci proof
//! (`test` profile) the composition value computed on-chain, in calls of at most 2^24 gas
//! each, equals stwo's verifier's, and a changed sampled value changes it to stwo's new value.
//!
//! Needs node, solc-js (l1/contracts/build.sh installs it, or `$STARFARM_SOLC_PREFIX`) and
//! anvil (`$STARFARM_ANVIL`, run with Cancun's gas rules: see `run_on_anvil`); skipped with a
//! message without them (a failure without anvil
//! with `STARFARM_REQUIRE_ANVIL=1`, as in CI). Gas and sizes are printed (`--nocapture`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use num_traits::{One, Zero};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use starfarm_air::codegen::evm::{self, Layout};
use starfarm_air::interpret::{evaluate_constraints, instance_inputs, Lookup, Mask, Params};
use starfarm_air::ir::{Air, Component, LogSize};
use starfarm_air::replay::replay;
use starfarm_l1::anvil::Anvil;
use starfarm_prover::artifact::ProofCodec;
use starfarm_prover::{CairoProgram, Felt, ProgramInput, Prover, SecurityProfile};
use stwo::core::fields::qm31::QM31;
use stwo::core::pcs::TreeVec;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;

static AIR: LazyLock<Air> = LazyLock::new(|| starfarm_air::extract().expect("extracts"));

const GAS_CAP: u64 = 1 << 24;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hex(word: u128) -> String {
    format!("{word:#x}")
}

fn unpacked(hex: &str) -> QM31 {
    let word = u128::from_str_radix(hex.trim_start_matches("0x"), 16).expect("a QM31 word");
    let limb = |k: u32| (word >> (32 * k)) as u32;
    QM31::from_u32_unchecked(limb(0), limb(1), limb(2), limb(3))
}

/// The committed programs, current, as data contracts' runtime code (hex).
fn programs(air: &Air) -> BTreeMap<String, Vec<String>> {
    let generated = manifest().join("generated");
    let files = starfarm_air::codegen::generated_files(air).expect("generates");
    let mut programs = BTreeMap::new();
    for (name, text) in files.iter().filter(|(n, _)| n.starts_with("evm/")) {
        let committed = std::fs::read_to_string(generated.join(name)).unwrap_or_default();
        assert!(committed == *text, "the committed {name} is current");
        if let Some(component) = name
            .strip_prefix("evm/")
            .and_then(|n| n.strip_suffix(".hex"))
        {
            let bytes = evm::parse_hex(text).expect("hex");
            let chunks = evm::chunks(&bytes)
                .iter()
                .map(|c| c.iter().map(|b| format!("{b:02x}")).collect())
                .collect();
            programs.insert(component.to_string(), chunks);
        }
    }
    assert_eq!(
        programs.len(),
        air.components.len(),
        "a program per component"
    );
    programs
}

/// Deploys the evaluator and `programs` on a fresh anvil and runs `calls`
/// (evaluate.mjs's request format); `None` when node, solc-js or anvil is missing.
fn run_on_anvil(programs: &BTreeMap<String, Vec<String>>, calls: Vec<Value>) -> Option<Value> {
    let (solc, bin) = tools()?;
    // Block gas limit 30M, EIP-170's code size limit on. Cancun's gas rules: a call costs
    // 21,000 + its calldata (4 a zero byte, 16 another) + its execution, without Prague's
    // calldata floor (EIP-7623), which would hide the execution of the small components.
    let anvil = Anvil::start_with(&bin, &["--hardfork", "cancun"]).expect("anvil starts");
    let request = json!({
        "anvil": anvil.url,
        "evaluator": manifest().join("generated/evm/AirEvaluator.sol"),
        "programs": programs,
        "calls": calls,
    });
    let dir = std::env::temp_dir().join(format!(
        "starfarm-air-evm-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (request_path, response_path) = (dir.join("request.json"), dir.join("response.json"));
    std::fs::write(&request_path, request.to_string()).expect("request");
    let Ok(status) = Command::new("node")
        .arg(manifest().join("tests/evm/evaluate.mjs"))
        .arg(&solc)
        .arg(&request_path)
        .arg(&response_path)
        .status()
    else {
        eprintln!("SKIPPED: node not found");
        return None;
    };
    assert!(status.success(), "evaluate.mjs deploys and calls");
    let response: Value =
        serde_json::from_slice(&std::fs::read(&response_path).expect("response")).expect("json");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        response["oversizedRejected"],
        json!(true),
        "anvil refuses a 24,577-byte contract: the size limit is enforced"
    );
    Some(response)
}

/// Tells apart the temp dirs of the tests of this binary, which run in parallel.
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// solc-js's package dir and anvil, or `None` (skipped, with a message) when one is missing.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let solc = std::env::var_os("STARFARM_SOLC_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest().join("../l1/contracts"));
    if !solc.join("node_modules/solc/package.json").exists() {
        eprintln!("SKIPPED: solc-js not installed (l1/contracts/build.sh or STARFARM_SOLC_PREFIX)");
        return None;
    }
    Some((solc, Anvil::binary_for_tests()?))
}

/// A call's value, checked to have stayed under the gas cap.
fn value(result: &Value, what: &str) -> (QM31, u64) {
    if let Some(error) = result.get("error") {
        panic!("{what}: the call failed (over 2^24 gas?): {error}");
    }
    let gas = result["gas"].as_u64().expect("gas");
    assert!(gas < GAS_CAP, "{what}: {gas} gas, over 2^24");
    (unpacked(result["value"].as_str().expect("value")), gas)
}

struct FlatMask<'a> {
    layout: &'a Layout,
    mask: &'a [QM31],
}

impl Mask for FlatMask<'_> {
    fn trace(&self, interaction: u32, column: u32, position: usize) -> QM31 {
        self.mask[self.layout.column_start[interaction as usize - 1][column as usize] + position]
    }
    fn preprocessed(&self, index: u32) -> QM31 {
        self.mask[index as usize]
    }
}

/// Random inputs for `c`: the call and the interpreter's accumulation from `acc`.
fn random_call(air: &Air, c: &Component, rng: &mut SmallRng) -> (Value, QM31) {
    let layout = Layout::of(air, c);
    let mask: Vec<QM31> = (0..layout.n_mask).map(|_| rng.gen()).collect();
    let log_size = match c.log_size {
        LogSize::Fixed(l) => l,
        LogSize::Claimed => rng.gen_range(4..24),
    };
    let claim_params: Vec<u32> = c
        .claim_params
        .iter()
        .map(|_| rng.gen_range(0..1 << 30))
        .collect();
    let relations: Vec<Lookup> = air
        .relations
        .iter()
        .map(|r| Lookup {
            z: rng.gen(),
            alpha_powers: (0..r.size).map(|_| rng.gen()).collect(),
        })
        .collect();
    let params = Params {
        log_size,
        claim_params: &claim_params,
        claimed_sum: rng.gen(),
        relations: &relations,
    };
    let flat = FlatMask {
        layout: &layout,
        mask: &mask,
    };
    let (coeff, acc): (QM31, QM31) = (rng.gen(), rng.gen());
    let expected = evaluate_constraints(c, &flat, &params)
        .expect("evaluates")
        .into_iter()
        .fold(acc, |acc, v| acc * coeff + v);
    let call = json!({
        "method": "accumulate",
        "parts": [part(c, &flat, &params)],
        "relations": evm::relations_words(&relations).into_iter().map(hex).collect::<Vec<_>>(),
        "coeff": hex(evm::pack(coeff)),
        "acc": hex(evm::pack(acc)),
    });
    (call, expected)
}

fn part(c: &Component, mask: &impl Mask, params: &Params) -> Value {
    json!({
        "program": c.name,
        "mask": evm::mask_words(c, mask).into_iter().map(hex).collect::<Vec<_>>(),
        "params": evm::params_words(params).into_iter().map(hex).collect::<Vec<_>>(),
    })
}

#[test]
fn every_component_on_the_deployed_evaluator_equals_the_interpreter() {
    let air = &*AIR;
    let programs = programs(air);
    let mut rng = SmallRng::seed_from_u64(16);
    let (mut calls, expected): (Vec<Value>, Vec<QM31>) = air
        .components
        .iter()
        .map(|c| random_call(air, c, &mut rng))
        .unzip();
    // Bad input: a missing mask value, a non-canonical coordinate (2^31 - 1).
    let mut short = calls[0].clone();
    short["parts"][0]["mask"]
        .as_array_mut()
        .expect("mask")
        .pop();
    let mut non_canonical = calls[0].clone();
    non_canonical["parts"][0]["mask"][0] = json!("0x7fffffff");
    calls.extend([short, non_canonical]);

    let Some(response) = run_on_anvil(&programs, calls) else {
        return;
    };
    let results = response["results"].as_array().expect("results");
    let mut gas = BTreeMap::new();
    for ((c, want), result) in air.components.iter().zip(&expected).zip(results) {
        let (got, used) = value(result, &c.name);
        assert_eq!(
            got, *want,
            "{}: the evaluator equals the interpreter",
            c.name
        );
        let calldata = result["calldataGas"].as_u64().expect("calldata gas");
        gas.insert(c.name.clone(), (used, used - calldata));
    }
    let n = air.components.len();
    for (result, what) in results[n..]
        .iter()
        .zip(["a short mask", "a non-canonical value"])
    {
        let error = result["error"].as_str().unwrap_or_default();
        assert!(error.contains("revert"), "{what} is refused: {result}");
    }
    report(air, &response, &gas);
}

/// Sizes and gas, per component and per preprocessed-trace variant.
/// `gas`: per component, the call's gas and that less the transaction's and calldata's.
fn report(air: &Air, response: &Value, gas: &BTreeMap<String, (u64, u64)>) {
    let mut total_bytes = 0;
    let mut total_deploy = 0;
    eprintln!(
        "component: program bytes (data contracts), instructions, slots, call gas (less calldata)"
    );
    for c in &air.components {
        let info = &response["programs"][&c.name];
        let bytes: Vec<u64> = info["bytes"]
            .as_array()
            .expect("bytes")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        assert!(bytes.iter().all(|b| *b <= 24_576), "{}: EIP-170", c.name);
        let program = evm::compile(air, c).expect("compiles");
        let (call, execution) = gas[&c.name];
        eprintln!(
            "  {}: {} ({}), {}, {}, {call} ({execution})",
            c.name,
            bytes.iter().sum::<u64>(),
            bytes.len(),
            program.n_instructions,
            program.n_slots,
        );
        total_bytes += bytes.iter().sum::<u64>();
        total_deploy += info["deployGas"].as_u64().unwrap_or(0);
    }
    eprintln!(
        "evaluator: {} runtime bytes, {} deploy gas; programs: {total_bytes} bytes, {total_deploy} deploy gas",
        response["evaluator"]["bytes"], response["evaluator"]["deployGas"]
    );
    for variant in &air.variants {
        let call: u64 = variant.components.iter().map(|c| gas[c].0).sum();
        let execution: u64 = variant.components.iter().map(|c| gas[c].1).sum();
        eprintln!(
            "{}: {} components, {call} gas as one call each, {execution} less calldata",
            variant.name,
            variant.components.len()
        );
    }
}

/// The calls evaluating a proof's composition: one `accumulate` per instance, passing on the
/// accumulator, the last one `composition`.
fn composition_calls(
    air: &Air,
    oods: &starfarm_air::replay::Oods,
    sampled: &TreeVec<Vec<Vec<QM31>>>,
) -> Vec<Value> {
    oods.with_inputs(air, sampled, |inputs| {
        let instances = instance_inputs(air, inputs).expect("instances");
        let relations: Vec<String> = evm::relations_words(inputs.relations)
            .into_iter()
            .map(hex)
            .collect();
        let n = instances.len();
        instances
            .iter()
            .enumerate()
            .map(|(k, i)| {
                json!({
                    "method": if k + 1 == n { "composition" } else { "accumulate" },
                    "parts": [part(i.component, &i.mask, &i.params)],
                    "relations": relations,
                    "coeff": hex(evm::pack(inputs.random_coeff)),
                    "acc": if k == 0 { json!("0x0") } else { json!("previous") },
                    "pointX": hex(evm::pack(inputs.point.x)),
                    "logSize": inputs.max_log_degree_bound,
                })
            })
            .collect()
    })
    .expect("inputs")
}

/// On one real proof: the on-chain composition, split per instance and in one call, equals
/// stwo's verifier's, and a changed trace value changes it to stwo's new value. Returns the
/// number of instances.
fn check_proof(
    air: &Air,
    programs: &BTreeMap<String, Vec<String>>,
    prover: &mut Prover,
    name: &str,
    input: &ProgramInput,
) -> Option<usize> {
    let program = CairoProgram::from_file(&manifest().join(format!("../examples/{name}.json")))
        .expect("loads");
    let artifact = prover.prove(&program, input, &mut |_| {}).expect("proves");
    let proof = ProofCodec::decode(&artifact.proof).expect("decodes");
    let oods = replay::<Blake2sMerkleChannel>(&proof).expect("replays");
    let sampled = &proof.stark_proof.sampled_values;
    let stwo = oods.stwo_composition(sampled);
    assert!(!stwo.is_zero());

    // One trace value the composition depends on, changed (as proofs.rs picks it).
    let mut changed = sampled.clone();
    let column = (0..sampled[1].len())
        .find(|c| {
            let mut s = sampled.clone();
            s[1][*c][0] += QM31::one();
            oods.stwo_composition(&s) != stwo
        })
        .expect("some trace value matters");
    changed[1][column][0] += QM31::one();
    let stwo_changed = oods.stwo_composition(&changed);

    let split = composition_calls(air, &oods, sampled);
    let n = split.len();
    let mut calls = split.clone();
    calls.push(one_call(&split));
    calls.extend(composition_calls(air, &oods, &changed));
    let response = run_on_anvil(programs, calls)?;
    let results = response["results"].as_array().expect("results");
    let mut gas = 0;
    let mut execution = 0;
    for (k, result) in results[..n].iter().enumerate() {
        let (_, used) = value(result, &format!("{name}: call {k}"));
        gas += used;
        execution += used - result["calldataGas"].as_u64().expect("calldata gas");
    }
    let (split_value, _) = value(&results[n - 1], "the composition in calls");
    assert_eq!(
        split_value, stwo,
        "{name}: on-chain composition equals stwo's verifier"
    );
    let (whole, whole_gas) = value(&results[n], "the composition in one call");
    assert_eq!(whole, stwo, "{name}: in one call too");
    let (changed_value, _) = value(&results[2 * n], "the changed composition");
    assert_ne!(
        changed_value, stwo,
        "{name}: a changed sampled value changes it"
    );
    assert_eq!(changed_value, stwo_changed, "{name}: still equals stwo's");
    eprintln!(
        "{name} proof ({}): {n} component instances; in one call {whole_gas} gas \
         ({} of it calldata); in {n} calls {gas} gas, {execution} without calldata",
        oods.variant_name, results[n]["calldataGas"]
    );
    Some(n)
}

/// All of `split`'s parts in one `composition` call.
fn one_call(split: &[Value]) -> Value {
    let mut call = split.last().expect("a call").clone();
    call["parts"] = split
        .iter()
        .flat_map(|c| c["parts"].as_array().expect("parts").clone())
        .collect();
    call["acc"] = json!("0x0");
    call
}

#[test]
fn fibonacci_and_pedersen_proofs_composition_on_the_evaluator_equals_the_stwo_verifier() {
    let air = &*AIR;
    let programs = programs(air);
    if tools().is_none() {
        return;
    }
    let mut prover = Prover::new(SecurityProfile::Test);
    let fibonacci = ProgramInput::new(vec![Felt::from(300u64)]);
    let Some(n) = check_proof(air, &programs, &mut prover, "fibonacci", &fibonacci) else {
        return;
    };
    assert!(n > 20, "a Cairo proof has many component instances: {n}");
    let pedersen = ProgramInput::new([1u64, 2, 3].map(Felt::from).to_vec());
    check_proof(air, &programs, &mut prover, "pedersen_chain", &pedersen);
}
