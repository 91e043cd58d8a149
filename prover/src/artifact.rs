//! The proof artifact: a self-describing, versioned file.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `STARFARM` |
//! | 4 | format version ([`ARTIFACT_FORMAT_VERSION`]) |
//! | 4 | header length `h` |
//! | h | header: JSON of [`ArtifactHeader`] |
//! | 8 | proof length `p` |
//! | p | proof: bincode of stwo-cairo's `CairoProofForRustVerifier<H>`, `H` the header's channel's Merkle hasher |
//!
//! Verification binds the program hash, output, fact, parameters and security bits in the
//! header to the proof, and verifies the proof with the header's `channel` (a proof verifies
//! only with the channel it was made with). `steps`, `builtins`, `timings_ms` and `prover` are
//! informational.
//!
//! The `channel` field came without a version bump: a header without it is a blake2s proof,
//! and blake2s headers leave it out, so their bytes are those of earlier builds.

use std::collections::BTreeMap;

use bincode::Options;
use cairo_air::CairoProofForRustVerifier;
use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;
use stwo::core::pcs::PcsConfig;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;
use stwo::core::vcs_lifted::merkle_hasher::MerkleHasherLifted;
pub use stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant;

use crate::channel::ChannelKind;
use crate::device::{Device, GpuUse};
use crate::error::ArtifactError;
use crate::profile::SecurityProfile;

/// Version of the artifact layout and header; readers refuse other versions.
pub const ARTIFACT_FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"STARFARM";
/// Headers are small (output felts dominate); anything larger is corrupt.
const MAX_HEADER_BYTES: u64 = 64 << 20;

/// The proof type of blake2s artifacts.
pub type CairoProof = CairoProofForRustVerifier<Blake2sMerkleHasher>;

/// Milliseconds spent in each phase of producing the artifact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTimings {
    pub execute_ms: u64,
    pub adapt_ms: u64,
    /// Twiddles and preprocessed-trace commitment; 0 when the prover was warm.
    pub precompute_ms: u64,
    pub prove_ms: u64,
    pub verify_ms: u64,
}

/// What a proof claims, in a form people and other programs can read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactHeader {
    pub format_version: u32,
    /// cairo-lang's program hash (`cairo-hash-program`).
    pub program_hash: Felt,
    /// Offset of `main`, part of the program hash.
    pub program_main: u64,
    /// The program's output segment.
    pub output: Vec<Felt>,
    /// `keccak256(abi.encode(program_hash, keccak256(abi.encodePacked(output))))`, 0x-hex.
    pub fact: String,
    pub profile: SecurityProfile,
    /// Conjectured security: `pow_bits + log_blowup_factor * n_queries`.
    pub security_bits: u32,
    /// Stwo commitment-scheme parameters (also inside the proof).
    pub pcs_config: PcsConfig,
    pub preprocessed_trace: PreProcessedTraceVariant,
    pub steps: u64,
    pub builtins: BTreeMap<String, u64>,
    pub timings_ms: PhaseTimings,
    pub prover: String,
    /// The backend that made the proof (`cpu` in artifacts from before GPU proving).
    #[serde(default)]
    pub backend: Device,
    /// GPU kernel calls of the proof, and how many of them were redone on the CPU.
    #[serde(default)]
    pub gpu: GpuUse,
    /// The Fiat–Shamir channel and Merkle hash of the proof (blake2s when absent).
    #[serde(default, skip_serializing_if = "ChannelKind::is_blake2s")]
    pub channel: ChannelKind,
}

/// A header and its encoded proof.
#[derive(Clone, Debug, PartialEq)]
pub struct ProofArtifact {
    pub header: ArtifactHeader,
    /// The proof section, as encoded by [`ProofCodec`].
    pub proof: Vec<u8>,
}

impl ProofArtifact {
    pub fn to_bytes(&self) -> Result<Vec<u8>, ArtifactError> {
        let header =
            serde_json::to_vec(&self.header).map_err(|e| ArtifactError::Encode(e.to_string()))?;
        let mut out = Vec::with_capacity(32 + header.len() + self.proof.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&ARTIFACT_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&(self.proof.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.proof);
        Ok(out)
    }

    /// Parses the layout; the proof section is decoded only by verification.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArtifactError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(MAGIC.len(), "magic")? != MAGIC {
            return Err(ArtifactError::BadMagic);
        }
        let version = r.u32("format version")?;
        if version != ARTIFACT_FORMAT_VERSION {
            return Err(ArtifactError::UnsupportedVersion {
                found: version,
                supported: ARTIFACT_FORMAT_VERSION,
            });
        }
        let header_len = u64::from(r.u32("header length")?);
        if header_len > MAX_HEADER_BYTES {
            return Err(ArtifactError::Header(format!(
                "header length {header_len} is implausible"
            )));
        }
        let header_bytes = r.take(header_len as usize, "header")?;
        let header: ArtifactHeader = serde_json::from_slice(header_bytes)
            .map_err(|e| ArtifactError::Header(e.to_string()))?;
        if header.format_version != version {
            return Err(ArtifactError::Header(format!(
                "header says format version {}, file says {version}",
                header.format_version
            )));
        }
        let proof_len = r.u64("proof length")?;
        let proof = r
            .take(usize::try_from(proof_len).unwrap_or(usize::MAX), "proof")?
            .to_vec();
        let rest = bytes.len() - r.pos;
        if rest != 0 {
            return Err(ArtifactError::TrailingBytes(rest));
        }
        Ok(Self { header, proof })
    }

    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        let bytes = self.to_bytes().map_err(std::io::Error::other)?;
        // Write beside and rename, so a crash never leaves a half-written artifact in place.
        let tmp = path.with_extension("tmp-write");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ArtifactError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(ArtifactError::Truncated(format!(
                "the {what} needs {n} bytes at offset {}, the file has {}",
                self.pos,
                self.bytes.len()
            )));
        };
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self, what: &str) -> Result<u32, ArtifactError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, ArtifactError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Encoding of the proof section.
pub struct ProofCodec;

impl ProofCodec {
    fn options() -> impl Options {
        bincode::DefaultOptions::new().with_fixint_encoding()
    }

    /// Encodes a proof. Generic over the hasher type so that proofs made with the GPU channel
    /// (whose hasher serialises exactly like `Blake2sMerkleHasher`) encode to the same bytes.
    pub fn encode<H: MerkleHasherLifted>(
        proof: &CairoProofForRustVerifier<H>,
    ) -> Result<Vec<u8>, String>
    where
        CairoProofForRustVerifier<H>: Serialize,
    {
        Self::options().serialize(proof).map_err(|e| e.to_string())
    }

    /// Decodes a proof section made with hasher `H`; bounded by its length, so corrupt lengths
    /// cannot exhaust memory.
    pub fn decode<H: MerkleHasherLifted>(
        bytes: &[u8],
    ) -> Result<CairoProofForRustVerifier<H>, String>
    where
        CairoProofForRustVerifier<H>: serde::de::DeserializeOwned,
    {
        Self::options()
            .with_limit(bytes.len() as u64)
            .deserialize(bytes)
            .map_err(|e| e.to_string())
    }
}
