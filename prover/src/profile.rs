//! Security profiles: named Stwo parameter sets with their conjectured security.
//!
//! Conjectured security (Stwo's `PcsConfig::security_bits`) is
//! `pow_bits + log_blowup_factor * n_queries`. Every artifact records its profile, parameters
//! and bits, and verification recomputes the bits from the proof itself. A profile also names
//! the channel its proofs use ([`SecurityProfile::channel`]).

use serde::{Deserialize, Serialize};
use stwo::core::fri::FriConfig;
use stwo::core::pcs::PcsConfig;

use crate::channel::ChannelKind;

/// A named parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityProfile {
    /// 96 bits: 26 PoW bits, log blowup 1, 70 FRI queries (stwo-cairo's production default).
    #[default]
    Production,
    /// 96 bits with less grinding: 16 PoW bits, log blowup 1, 80 FRI queries. Same conjectured
    /// security, shorter PoW (seconds saved per proof), slightly larger proofs.
    ProductionFast,
    /// 18 bits: 10 PoW bits, log blowup 1, 8 queries. NOT SECURE: for tests and local
    /// development only; L1 settlement refuses it.
    Test,
    /// 96 bits for proofs an Ethereum contract verifies: the Keccak channel (the EVM's
    /// `keccak256` replays the transcript and Merkle paths), 26 PoW bits, log blowup 2,
    /// 35 queries.
    ///
    /// On L1 the proof's bytes (calldata) and its Merkle paths (one per query and tree) are the
    /// cost, so fewer queries pay for a larger blowup. Measured with `benches/channels.rs`
    /// (fibonacci, 16,420 steps, 2 shared cores, one run): Keccak at production's 26:1:70
    /// makes 637 KB proofs; 26:2:35 376 KB (-41%) at 1.8x peak memory (2.9 vs 1.6 GiB);
    /// 24:3:24 298 KB (-53%) but 3.4x memory (5.5 GiB) and twice the prover time of 2:35;
    /// 20:2:38 409 KB. Log blowup 3 would take the farm's block-chunk proofs (17–19 GiB at
    /// blowup 1) past any worker here, so 2 it is. The PoW stays at production's 26 bits:
    /// each bit spared costs half a query (~5 KB of calldata per proof), and Keccak grinding
    /// (2^26 expected hashes, ~3.8 M/s on 2 cores) parallelises over a worker's cores.
    L1,
    /// 20 bits on the Keccak channel: 12 PoW bits, log blowup 1, 8 queries. NOT SECURE: for
    /// tests and the devnet settling through the on-chain verifier, whose floor must then be
    /// deployed at 20 (`l1 deploy --verifier stwo --min-security-bits 20`). Its parameters
    /// differ from `test`'s (10 PoW bits) so a proof's parameters name one profile.
    L1Test,
}

impl SecurityProfile {
    pub const ALL: [SecurityProfile; 5] = [
        Self::Production,
        Self::ProductionFast,
        Self::Test,
        Self::L1,
        Self::L1Test,
    ];

    /// Stwo's commitment-scheme parameters for this profile.
    pub fn pcs_config(self) -> PcsConfig {
        let (pow_bits, log_blowup_factor, n_queries) = match self {
            Self::Production => (26, 1, 70),
            Self::ProductionFast => (16, 1, 80),
            Self::Test => (10, 1, 8),
            Self::L1 => (26, 2, 35),
            Self::L1Test => (12, 1, 8),
        };
        PcsConfig {
            pow_bits,
            fri_config: FriConfig {
                log_blowup_factor,
                log_last_layer_degree_bound: 0,
                n_queries,
                fold_step: 1,
            },
            lifting_log_size: None,
        }
    }

    /// The channel this profile's proofs use unless `--channel` says otherwise.
    pub fn channel(self) -> ChannelKind {
        match self {
            Self::L1 | Self::L1Test => ChannelKind::Keccak,
            _ => ChannelKind::Blake2s,
        }
    }

    /// Whether proofs of this profile may use `channel`: an L1 proof must be one the EVM can
    /// replay, so `l1` and `l1-test` take only their own channel; the others take any.
    pub fn allows(self, channel: ChannelKind) -> bool {
        !matches!(self, Self::L1 | Self::L1Test) || channel == self.channel()
    }

    /// [`Self::allows`], with the reason when it does not.
    pub fn check_channel(self, channel: ChannelKind) -> Result<(), String> {
        if self.allows(channel) {
            return Ok(());
        }
        Err(format!(
            "profile {self} proves with the {} channel only, not {channel}",
            self.channel()
        ))
    }

    /// Conjectured security of proofs made with this profile.
    pub fn security_bits(self) -> u32 {
        self.pcs_config().security_bits()
    }

    /// The profile whose parameters these are, if any.
    pub fn from_pcs_config(config: &PcsConfig) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.pcs_config() == *config)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::ProductionFast => "production-fast",
            Self::Test => "test",
            Self::L1 => "l1",
            Self::L1Test => "l1-test",
        }
    }
}

impl std::fmt::Display for SecurityProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SecurityProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown profile {s:?} (expected production, production-fast, test, l1 or \
                     l1-test)"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_profiles_have_96_bits() {
        assert_eq!(SecurityProfile::Production.security_bits(), 96);
        assert_eq!(SecurityProfile::ProductionFast.security_bits(), 96);
        assert!(SecurityProfile::L1.security_bits() >= 96);
        assert!(SecurityProfile::Test.security_bits() < 32);
    }

    #[test]
    fn l1_uses_keccak_with_a_larger_blowup_and_fewer_queries() {
        let (l1, production) = (
            SecurityProfile::L1.pcs_config(),
            SecurityProfile::Production.pcs_config(),
        );
        assert_eq!(SecurityProfile::L1.channel(), ChannelKind::Keccak);
        assert!(!SecurityProfile::L1.allows(ChannelKind::Blake2s));
        assert!(SecurityProfile::Test.allows(ChannelKind::Keccak));
        assert!(l1.fri_config.log_blowup_factor > production.fri_config.log_blowup_factor);
        assert!(l1.fri_config.n_queries < production.fri_config.n_queries);
    }

    /// The low-security profile of the on-chain verifier's tests and devnet: Keccak only,
    /// 20 bits, parameters of its own.
    #[test]
    fn l1_test_is_keccak_only_at_20_bits() {
        let l1_test = SecurityProfile::L1Test;
        assert_eq!(l1_test.channel(), ChannelKind::Keccak);
        assert!(!l1_test.allows(ChannelKind::Blake2s));
        assert_eq!(l1_test.security_bits(), 20);
        assert_eq!("l1-test".parse(), Ok(l1_test));
        assert_ne!(l1_test.pcs_config(), SecurityProfile::Test.pcs_config());
    }

    #[test]
    fn names_round_trip() {
        for p in SecurityProfile::ALL {
            assert_eq!(p.name().parse::<SecurityProfile>(), Ok(p));
            assert_eq!(SecurityProfile::from_pcs_config(&p.pcs_config()), Some(p));
        }
        assert!("fast".parse::<SecurityProfile>().is_err());
    }
}
