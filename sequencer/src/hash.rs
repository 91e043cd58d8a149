//! Hash primitives and the constants every formula of `docs/sequencer.md` uses. Poseidon is
//! starknet-crypto's (the Hades permutation Cairo's `poseidon` builtin computes), so native
//! code and the Cairo block program hash identically.

use starknet_crypto::{poseidon_hash, poseidon_hash_many};
use starknet_types_core::felt::Felt;

/// `H(a, b)`: Poseidon of two elements (Cairo: `poseidon_hash(x, y)`).
pub fn h(a: Felt, b: Felt) -> Felt {
    poseidon_hash(a, b)
}

/// Poseidon sponge over any number of elements (Cairo: `poseidon_hash_many`).
pub fn h_many(values: &[Felt]) -> Felt {
    poseidon_hash_many(values)
}

/// A Cairo short string (up to 31 ASCII bytes, big-endian) as a felt.
pub fn short_string(s: &str) -> Felt {
    debug_assert!(s.len() <= 31, "short strings hold at most 31 bytes");
    Felt::from_bytes_be_slice(s.as_bytes())
}

/// Chain id of a starfarm network: the short string "SN_STARFARM".
pub const CHAIN_ID: &str = "SN_STARFARM";

/// Class hash every deployed account has (starfarm has one built-in account class).
pub const ACCOUNT_CLASS: &str = "STARFARM_ACCOUNT_V1";

/// Prefix of the address derivation.
pub const ADDRESS_PREFIX: &str = "STARFARM_ADDRESS";

/// Prefix of the global state root (Starknet's).
pub const STATE_PREFIX: &str = "STARKNET_STATE_V0";

/// Prefix of the block hash.
pub const BLOCK_PREFIX: &str = "STARFARM_BLOCK_V1";

/// Addresses are reduced below Starknet's `L2_ADDRESS_UPPER_BOUND` = 2^251 - 256.
pub fn address_upper_bound() -> Felt {
    Felt::from(2u8).pow(251u32) - Felt::from(256u32)
}
