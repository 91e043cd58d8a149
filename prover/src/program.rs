//! Loading a compiled Cairo 0 program and computing its program hash.

use cairo_vm::types::program::Program;
use cairo_vm::types::relocatable::MaybeRelocatable;
use starknet_types_core::felt::Felt;
use starknet_types_core::hash::{Pedersen, StarkHash};

use crate::error::{BadJson, ProgramError};

/// The builtins every program must declare, in this order: the bootloader's builtin context,
/// which the stwo-cairo adapter assumes.
pub const REQUIRED_BUILTINS: [&str; 11] = [
    "output",
    "pedersen",
    "range_check",
    "ecdsa",
    "bitwise",
    "ec_op",
    "keccak",
    "poseidon",
    "range_check96",
    "add_mod",
    "mul_mod",
];

/// A compiled Cairo 0 program that passed starfarm's checks.
#[derive(Clone)]
pub struct CairoProgram {
    name: String,
    program: Program,
    hash: Felt,
    main: u64,
    /// The program's data (its bytecode and constants), checked to be felts at load.
    data: Vec<Felt>,
    /// Offset of `__start__`, where a proof-mode run begins.
    start: u64,
}

impl std::fmt::Debug for CairoProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CairoProgram")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .finish()
    }
}

impl CairoProgram {
    /// Reads a compiled program from a file; errors name the file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ProgramError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ProgramError::Io {
            name: name.clone(),
            source,
        })?;
        Self::from_json(&bytes, &name)
    }

    /// Parses the JSON written by `cairo-compile --proof_mode`. `name` is used in errors.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<Self, ProgramError> {
        let name = name.to_string();
        // Parse once with serde_json first: its errors carry line and column.
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Err(ProgramError::NotJson(BadJson::new(&name, &e)));
        }
        let program =
            Program::from_bytes(bytes, Some("main")).map_err(|e| ProgramError::Malformed {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        check_builtins(&program, &name)?;
        if program.get_identifier("__main__.__start__").is_none()
            || program.get_identifier("__main__.__end__").is_none()
        {
            return Err(ProgramError::NotProofMode { name });
        }
        let malformed = |reason: String| ProgramError::Malformed {
            name: name.clone(),
            reason,
        };
        let main = program
            .get_stripped_program()
            .map_err(|e| malformed(e.to_string()))?
            .main as u64;
        let data = program
            .iter_data()
            .enumerate()
            .map(|(i, v)| match v {
                MaybeRelocatable::Int(f) => Ok(*f),
                MaybeRelocatable::RelocatableValue(_) => Err(malformed(format!(
                    "data[{i}] is a relocatable value, not a felt"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let hash = program_hash(main, &data);
        let start = program
            .get_identifier("__main__.__start__")
            .and_then(|i| i.pc)
            .ok_or_else(|| malformed("__start__ is not a label".into()))?
            as u64;
        Ok(Self {
            name,
            program,
            hash,
            main,
            data,
            start,
        })
    }

    /// The name given at load time (usually the file path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The program hash, as cairo-lang's `cairo-hash-program` computes it (Pedersen chain).
    pub fn hash(&self) -> Felt {
        self.hash
    }

    /// Offset of `main` in the program data (part of the program hash).
    pub fn main(&self) -> u64 {
        self.main
    }

    /// The program's data: what a proof-mode run loads as its program segment (a proof's
    /// public memory holds it as the program section).
    pub fn data(&self) -> &[Felt] {
        &self.data
    }

    /// Offset of `__start__` in the data, where a proof-mode run begins.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The cairo-vm program.
    pub fn vm_program(&self) -> &Program {
        &self.program
    }
}

fn check_builtins(program: &Program, name: &str) -> Result<(), ProgramError> {
    let declared: Vec<&str> = program.iter_builtins().map(|b| b.to_str()).collect();
    if declared == REQUIRED_BUILTINS {
        return Ok(());
    }
    let missing: Vec<&str> = REQUIRED_BUILTINS
        .iter()
        .copied()
        .filter(|b| !declared.contains(b))
        .collect();
    Err(ProgramError::Builtins {
        name: name.to_string(),
        declared: declared.join(" "),
        expected: REQUIRED_BUILTINS.join(" "),
        missing: if missing.is_empty() {
            "none, but the order differs".to_string()
        } else {
            missing.join(", ")
        },
    })
}

/// cairo-lang's `compute_program_hash_chain` (bootloader version 0) for a program that
/// declares [`REQUIRED_BUILTINS`]: a Pedersen hash chain over
/// `[len, 0, main, n_builtins, builtins..., data...]`, where `len` counts what follows it.
pub fn program_hash(main: u64, data: &[Felt]) -> Felt {
    let header = [
        Felt::ZERO,
        Felt::from(main),
        Felt::from(REQUIRED_BUILTINS.len()),
    ];
    let builtins = REQUIRED_BUILTINS
        .iter()
        .map(|b| Felt::from_bytes_be_slice(b.as_bytes()));
    let len = Felt::from(header.len() + REQUIRED_BUILTINS.len() + data.len());
    let chain: Vec<Felt> = std::iter::once(len)
        .chain(header)
        .chain(builtins)
        .chain(data.iter().copied())
        .collect();
    hash_chain(&chain)
}

/// `h(x0, h(x1, ... h(x_{n-2}, x_{n-1})))`, cairo-lang's `compute_hash_chain`.
fn hash_chain(items: &[Felt]) -> Felt {
    let mut rev = items.iter().rev();
    let Some(last) = rev.next() else {
        return Felt::ZERO;
    };
    rev.fold(*last, |acc, x| Pedersen::hash(x, &acc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_chain_folds_from_the_right() {
        let (a, b, c) = (Felt::from(1u8), Felt::from(2u8), Felt::from(3u8));
        let expected = Pedersen::hash(&a, &Pedersen::hash(&b, &c));
        assert_eq!(hash_chain(&[a, b, c]), expected);
        assert_eq!(hash_chain(&[a]), a);
    }

    #[test]
    fn non_json_is_refused_with_its_position() {
        let err = CairoProgram::from_json(b"{\n  \"data\": [1,", "p.json").unwrap_err();
        assert!(
            matches!(&err, ProgramError::NotJson(j) if j.line == 2),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("p.json: not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn json_that_is_not_a_program_is_refused() {
        let err = CairoProgram::from_json(b"{\"hello\": 1}", "p.json").unwrap_err();
        assert!(matches!(err, ProgramError::Malformed { .. }), "{err}");
    }
}
