//! Typed errors of the prover crate. Each says what is wrong and where.

use thiserror::Error;

/// A file that is not valid JSON, with the position of the first problem.
#[derive(Debug, Error)]
#[error("{name}: not valid JSON (line {line}, column {column}): {reason}")]
pub struct BadJson {
    pub name: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl BadJson {
    pub fn new(name: &str, e: &serde_json::Error) -> Self {
        Self {
            name: name.to_string(),
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        }
    }
}

/// A compiled program that cannot be used.
#[derive(Debug, Error)]
pub enum ProgramError {
    #[error("{name}: cannot read the program: {source}")]
    Io {
        name: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    NotJson(BadJson),
    #[error("{name}: not a compiled Cairo 0 program: {reason}")]
    Malformed { name: String, reason: String },
    #[error(
        "{name}: not compiled in proof mode (no `__start__`/`__end__` labels in `__main__`); \
         compile it with `cairo-compile --proof_mode`"
    )]
    NotProofMode { name: String },
    #[error(
        "{name}: declares builtins [{declared}] but starfarm proves in the bootloader's builtin \
         context and needs exactly `%builtins {expected}` (missing: {missing})"
    )]
    Builtins {
        name: String,
        declared: String,
        expected: String,
        missing: String,
    },
}

/// A program input that does not have the expected shape.
#[derive(Debug, Error)]
pub enum InputError {
    #[error(transparent)]
    NotJson(BadJson),
    #[error("{name}: the input must be a JSON array of felts, e.g. [10, \"0x1f\"], not {found}")]
    NotArray { name: String, found: &'static str },
    #[error("{name}: element [{index}] is not a felt: {reason}")]
    NotFelt {
        name: String,
        index: usize,
        reason: String,
    },
}

/// A program run that did not finish.
#[derive(Debug, Error)]
pub enum ExecuteError {
    #[error("the program did not finish within the step limit of {limit} steps")]
    StepLimit { limit: u64 },
    #[error("the program failed: {0}")]
    Failed(String),
    #[error("the run cannot be proven: {0}")]
    Adapter(String),
}

/// Proving failed.
#[derive(Debug, Error)]
pub enum ProveError {
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    #[error(
        "the program needs a trace of 2^{needed} rows, more than this prover accepts (2^{max})"
    )]
    TooLarge { needed: u32, max: u32 },
    #[error("stwo-cairo failed to prove the program: {0}")]
    Stwo(String),
    #[error("the proof just produced did not verify (a prover bug): {0}")]
    SelfCheck(String),
    #[error("{0}")]
    Device(String),
    /// The profile and channel do not go together (e.g. `l1` with blake2s).
    #[error("{0}")]
    Channel(String),
}

/// A proof artifact that cannot be read at all (truncated, not an artifact, unknown version).
#[derive(Debug, Error)]
pub enum ArtifactError {
    #[error("not a starfarm proof artifact (bad magic bytes)")]
    BadMagic,
    #[error("artifact format version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("artifact is truncated: {0}")]
    Truncated(String),
    #[error("artifact header is not valid: {0}")]
    Header(String),
    #[error("artifact has {0} unexpected bytes after the proof section")]
    TrailingBytes(usize),
    #[error("cannot encode artifact: {0}")]
    Encode(String),
}

/// An artifact that was read but whose proof does not establish what its header claims.
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("the proof section does not decode: {0}")]
    Decode(String),
    #[error("the STARK proof is invalid: {0}")]
    Stark(String),
    #[error("the header does not match the proof: {0}")]
    Mismatch(String),
    #[error("the proof has {bits} bits of security, below the required {required}")]
    TooWeak { bits: u32, required: u32 },
}
