//! Program input: a JSON array of felts, handed to the program by a project hint.
//!
//! A Cairo program reads its input with `read_input` from `cairo/starfarm/input.cairo`:
//!
//! ```cairo
//! from starfarm.input import read_input
//! let (input_len, input) = read_input();  // input: felt*
//! ```
//!
//! The input file is a JSON array whose elements are numbers or strings (decimal or `0x` hex),
//! e.g. `[10, "0x1f", "12345678901234567890"]`. The same file works with cairo-lang's
//! `cairo-run --program_input`, because the hint is plain Python that cairo-lang runs too;
//! starfarm's hint processor recognises its exact text ([`INPUT_HINT`]) and does the same.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use cairo_vm::hint_processor::builtin_hint_processor::builtin_hint_processor_definition::HintFunc;
use cairo_vm::hint_processor::builtin_hint_processor::hint_utils::insert_value_from_var_name;
use cairo_vm::types::relocatable::MaybeRelocatable;
use serde_json::Value;
use starknet_types_core::felt::Felt;

use crate::error::{BadJson, InputError};

/// The hint body of `read_input` (as cairo-compile stores it, dedented).
pub const INPUT_HINT: &str = "ids.input_len = len(program_input)\nids.input = segments.gen_arg([int(x, 0) if isinstance(x, str) else int(x) for x in program_input])";

/// The felts given to a program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramInput {
    pub felts: Vec<Felt>,
}

impl ProgramInput {
    pub fn new(felts: Vec<Felt>) -> Self {
        Self { felts }
    }

    /// Parses a JSON array of felts; `name` (usually the file path) is used in errors.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<Self, InputError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| InputError::NotJson(BadJson::new(name, &e)))?;
        let Value::Array(items) = value else {
            return Err(InputError::NotArray {
                name: name.to_string(),
                found: json_kind(&value),
            });
        };
        let felts = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                parse_felt(item).map_err(|reason| InputError::NotFelt {
                    name: name.to_string(),
                    index,
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { felts })
    }

    /// The input as JSON (hex strings), readable by [`ProgramInput::from_json`] and cairo-run.
    pub fn to_json(&self) -> String {
        let items: Vec<String> = self.felts.iter().map(|f| format!("{f:#x}")).collect();
        serde_json::to_string(&items).unwrap_or_default()
    }

    /// The hint that loads this input into a new segment and sets `input`/`input_len`.
    pub(crate) fn hint(&self) -> Rc<HintFunc> {
        let values: Arc<Vec<MaybeRelocatable>> = Arc::new(
            self.felts
                .iter()
                .map(|f| MaybeRelocatable::Int(*f))
                .collect(),
        );
        Rc::new(HintFunc(Box::new(
            move |vm, _scopes, ids: &HashMap<_, _>, ap_tracking, _constants| {
                let base = vm.add_memory_segment();
                vm.load_data(base, &values)?;
                insert_value_from_var_name("input", base, vm, ids, ap_tracking)?;
                insert_value_from_var_name(
                    "input_len",
                    Felt::from(values.len()),
                    vm,
                    ids,
                    ap_tracking,
                )
            },
        )))
    }
}

fn parse_felt(item: &Value) -> Result<Felt, String> {
    match item {
        Value::Number(n) => match n.as_u64() {
            Some(v) => Ok(Felt::from(v)),
            None => Err(format!(
                "{n} is not a non-negative integer below 2^64 (write larger values as strings)"
            )),
        },
        Value::String(s) => parse_felt_str(s),
        other => Err(format!(
            "expected a number or a string, found {}",
            json_kind(other)
        )),
    }
}

fn parse_felt_str(s: &str) -> Result<Felt, String> {
    let t = s.trim();
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        let ok = !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| Felt::from_hex(t).ok()).flatten()
    } else {
        let ok = !t.is_empty() && t.len() <= 80 && t.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Felt::from_dec_str(t).ok()).flatten()
    };
    let felt = parsed.ok_or_else(|| format!("{s:?} is not a decimal or 0x-hex integer"))?;
    // Felt parsing reduces modulo P silently; a value >= P is almost surely a mistake.
    if felt.to_biguint() != num_from_str(t) {
        return Err(format!("{s:?} is not below the Cairo prime"));
    }
    Ok(felt)
}

fn num_from_str(t: &str) -> num_bigint::BigUint {
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => num_bigint::BigUint::parse_bytes(hex.as_bytes(), 16),
        None => num_bigint::BigUint::parse_bytes(t.as_bytes(), 10),
    }
    .unwrap_or_default()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_strings() {
        let input = ProgramInput::from_json(br#"[10, "0x1f", "123"]"#, "in.json").unwrap();
        assert_eq!(
            input.felts,
            vec![Felt::from(10u8), Felt::from(31u8), Felt::from(123u8)]
        );
        let again = ProgramInput::from_json(input.to_json().as_bytes(), "again").unwrap();
        assert_eq!(again, input);
    }

    #[test]
    fn wrong_shapes_name_the_problem() {
        let err = ProgramInput::from_json(br#"{"n": 1}"#, "in.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.json: the input must be a JSON array of felts, e.g. [10, \"0x1f\"], not an object"
        );
        let err = ProgramInput::from_json(br#"[1, [2]]"#, "in.json").unwrap_err();
        assert!(err.to_string().contains("element [1]"), "{err}");
        let err = ProgramInput::from_json(br#"[-1]"#, "in.json").unwrap_err();
        assert!(err.to_string().contains("element [0]"), "{err}");
        let err = ProgramInput::from_json(br#"["0xzz"]"#, "in.json").unwrap_err();
        assert!(err.to_string().contains("not a decimal or 0x-hex"), "{err}");
        let p = "0x800000000000011000000000000000000000000000000000000000000000001";
        let err = ProgramInput::from_json(format!("[\"{p}\"]").as_bytes(), "in.json").unwrap_err();
        assert!(err.to_string().contains("below the Cairo prime"), "{err}");
        let err = ProgramInput::from_json(b"[1,", "in.json").unwrap_err();
        assert!(
            matches!(&err, InputError::NotJson(j) if j.line == 1),
            "{err}"
        );
    }
}
