//! Security profiles: named Stwo parameter sets with their conjectured security.
//!
//! Conjectured security (Stwo's `PcsConfig::security_bits`) is
//! `pow_bits + log_blowup_factor * n_queries`. Every artifact records its profile, parameters
//! and bits, and verification recomputes the bits from the proof itself.

use serde::{Deserialize, Serialize};
use stwo::core::fri::FriConfig;
use stwo::core::pcs::PcsConfig;

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
}

impl SecurityProfile {
    pub const ALL: [SecurityProfile; 3] = [Self::Production, Self::ProductionFast, Self::Test];

    /// Stwo's commitment-scheme parameters for this profile.
    pub fn pcs_config(self) -> PcsConfig {
        let (pow_bits, n_queries) = match self {
            Self::Production => (26, 70),
            Self::ProductionFast => (16, 80),
            Self::Test => (10, 8),
        };
        PcsConfig {
            pow_bits,
            fri_config: FriConfig {
                log_blowup_factor: 1,
                log_last_layer_degree_bound: 0,
                n_queries,
                fold_step: 1,
            },
            lifting_log_size: None,
        }
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
                format!("unknown profile {s:?} (expected production, production-fast or test)")
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
        assert!(SecurityProfile::Test.security_bits() < 32);
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
