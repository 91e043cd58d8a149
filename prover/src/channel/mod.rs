//! The Fiat–Shamir channel and Merkle hash a proof is made with.
//!
//! - `blake2s` (Stwo's `Blake2sMerkleChannel`): the default; the fastest on the CPU (SIMD) and
//!   the only one with GPU kernels (`starfarm_kernels::GpuBlake2sMerkleChannel`).
//! - `keccak` ([`keccak::Keccak256MerkleChannel`]): Keccak-256 encoded as Solidity's
//!   `abi.encodePacked`, so that an Ethereum contract replays the transcript and checks Merkle
//!   paths with the `keccak256` opcode. Proofs made with it run on the CPU (`SimdBackend`).
//!
//! The channel is part of the proof: a proof verifies only with the channel it was made with.

pub mod keccak;
mod keccak_simd;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use keccak::{Keccak256Channel, Keccak256Hash, Keccak256MerkleChannel, Keccak256MerkleHasher};

/// Which channel a proof uses (`--channel`, and the artifact's `channel`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    #[default]
    Blake2s,
    Keccak,
}

impl ChannelKind {
    pub const ALL: [Self; 2] = [Self::Blake2s, Self::Keccak];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blake2s => "blake2s",
            Self::Keccak => "keccak",
        }
    }

    /// Whether the GPU kernels can hash and grind for this channel.
    pub fn has_gpu_kernels(self) -> bool {
        self == Self::Blake2s
    }

    /// Serde's `skip_serializing_if` for headers: blake2s, the channel of artifacts from
    /// before the field existed, is left out so those bytes stay as they were.
    pub fn is_blake2s(&self) -> bool {
        *self == Self::Blake2s
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChannelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown channel {s:?}: expected blake2s or keccak"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_and_serialise_by_name() {
        for channel in ChannelKind::ALL {
            assert_eq!(channel.as_str().parse::<ChannelKind>(), Ok(channel));
            let json = serde_json::to_string(&channel).unwrap();
            assert_eq!(json, format!("\"{channel}\""));
        }
        let err = "sha256".parse::<ChannelKind>().unwrap_err();
        assert!(err.contains("blake2s or keccak"), "{err}");
        assert!(!ChannelKind::Keccak.has_gpu_kernels());
    }
}
