//! Method parameters, by position (`[a, b]`) or by name (`{"a": .., "b": ..}`), and the
//! parsers of their values. Every failure names the parameter and says what is wrong.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use starknet_types_core::felt::Felt;

use super::error::RpcError;

/// The `params` member of a request.
#[derive(Debug, Default)]
pub(crate) enum Params {
    #[default]
    Absent,
    Positional(Vec<Value>),
    Named(Map<String, Value>),
}

impl Params {
    pub fn new(raw: Option<Value>) -> Result<Self, RpcError> {
        match raw {
            None | Some(Value::Null) => Ok(Params::Absent),
            Some(Value::Array(values)) => Ok(Params::Positional(values)),
            Some(Value::Object(map)) => Ok(Params::Named(map)),
            Some(other) => Err(RpcError::invalid_params(format!(
                "params must be an array or an object, not {}",
                kind(&other)
            ))),
        }
    }

    /// Binds the params to the method's parameter names (in the spec's order), refusing
    /// extra positional params and unknown names.
    pub fn bind<'a>(&'a self, names: &'a [&'a str]) -> Result<Bound<'a>, RpcError> {
        match self {
            Params::Positional(values) if values.len() > names.len() => {
                Err(RpcError::invalid_params(format!(
                    "expected at most {} params ({}), got {}",
                    names.len(),
                    names.join(", "),
                    values.len()
                )))
            }
            Params::Named(map) => match map.keys().find(|key| !names.contains(&key.as_str())) {
                Some(key) => Err(RpcError::invalid_params(format!(
                    "unknown param {key:?} (expected: {})",
                    names.join(", ")
                ))),
                None => Ok(Bound {
                    params: self,
                    names,
                }),
            },
            _ => Ok(Bound {
                params: self,
                names,
            }),
        }
    }
}

/// Params bound to a method's names.
pub(crate) struct Bound<'a> {
    params: &'a Params,
    names: &'a [&'a str],
}

impl Bound<'_> {
    fn get(&self, name: &str) -> Result<Option<&Value>, RpcError> {
        let index = self
            .names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| RpcError::internal(format!("param {name:?} is not declared")))?;
        let value = match self.params {
            Params::Absent => None,
            Params::Positional(values) => values.get(index),
            Params::Named(map) => map.get(name),
        };
        Ok(value.filter(|v| !v.is_null()))
    }

    pub fn required<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T, RpcError> {
        match self.get(name)? {
            Some(value) => parse(value).map_err(|reason| invalid(name, reason)),
            None => Err(RpcError::invalid_params(format!("missing param {name:?}"))),
        }
    }

    pub fn optional<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<Option<T>, RpcError> {
        self.get(name)?
            .map(|value| parse(value).map_err(|reason| invalid(name, reason)))
            .transpose()
    }
}

fn invalid(name: &str, reason: String) -> RpcError {
    RpcError::invalid_params(format!("{name}: {reason}"))
}

/// A block id as the spec writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockRef {
    Latest,
    PreConfirmed,
    L1Accepted,
    Number(u64),
    Hash(Felt),
}

const BLOCK_ID_SHAPES: &str = "expected \"latest\", \"pre_confirmed\", \"l1_accepted\", \
     {\"block_number\": <integer>} or {\"block_hash\": <felt>}";

pub(crate) fn block_ref(value: &Value) -> Result<BlockRef, String> {
    match value {
        Value::String(tag) => match tag.as_str() {
            "latest" => Ok(BlockRef::Latest),
            "pre_confirmed" => Ok(BlockRef::PreConfirmed),
            "l1_accepted" => Ok(BlockRef::L1Accepted),
            other => Err(format!("unknown block tag {other:?}; {BLOCK_ID_SHAPES}")),
        },
        Value::Object(map) if map.len() == 1 => {
            if let Some(number) = map.get("block_number") {
                return u64_number(number)
                    .map(BlockRef::Number)
                    .map_err(|e| format!("block_number: {e}"));
            }
            if let Some(hash) = map.get("block_hash") {
                return felt(hash)
                    .map(BlockRef::Hash)
                    .map_err(|e| format!("block_hash: {e}"));
            }
            Err(BLOCK_ID_SHAPES.to_string())
        }
        _ => Err(BLOCK_ID_SHAPES.to_string()),
    }
}

/// A non-negative JSON integer.
pub(crate) fn u64_number(value: &Value) -> Result<u64, String> {
    value.as_u64().ok_or_else(|| {
        format!(
            "expected a non-negative integer below 2^64, got {}",
            kind(value)
        )
    })
}

/// A felt: a `0x` hex string (or decimal string, or small JSON integer) below the prime.
pub(crate) fn felt(value: &Value) -> Result<Felt, String> {
    match value {
        Value::String(text) => felt_from_str(text),
        Value::Number(n) => n
            .as_u64()
            .map(Felt::from)
            .ok_or_else(|| not_a_felt(&n.to_string())),
        other => Err(format!(
            "expected a felt (0x-prefixed hex string), got {}",
            kind(other)
        )),
    }
}

fn felt_from_str(text: &str) -> Result<Felt, String> {
    let (parsed, digits) = if let Some(hex) = text.strip_prefix("0x") {
        if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_a_felt(text));
        }
        let parsed = Felt::from_hex(text).map(|f| (f, format!("{f:x}")));
        (parsed, hex.trim_start_matches('0').to_ascii_lowercase())
    } else {
        if text.is_empty() || text.len() > 78 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_a_felt(text));
        }
        let parsed = Felt::from_dec_str(text).map(|f| (f, f.to_string()));
        (parsed, text.trim_start_matches('0').to_string())
    };
    let digits = if digits.is_empty() {
        "0".to_string()
    } else {
        digits
    };
    // A value at or above the prime would be reduced silently: compare the round trip.
    match parsed {
        Ok((felt, printed)) if printed == digits => Ok(felt),
        _ => Err(not_a_felt(text)),
    }
}

fn not_a_felt(text: &str) -> String {
    format!("{text:?} is not a felt (a 0x-prefixed hex string below the field prime)")
}

/// Any serde type (the project's transaction JSON, deposits).
pub(crate) fn serde<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    T::deserialize(value).map_err(|e| e.to_string())
}

/// The JSON kind of a value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
