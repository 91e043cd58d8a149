//! Account state and the formulas that turn it into Starknet-shaped commitments: the storage
//! root of an account (a height-251 Poseidon Patricia trie with two slots), its contract-trie
//! leaf, and the global state root. `docs/sequencer.md` ("State") gives the derivations.

use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use crate::hash::{h, h_many, short_string, STATE_PREFIX};
use crate::tx::hex_u128;
use crate::tx::hex_u64;

/// Storage slot holding the account's public key.
pub const KEY_SLOT: u64 = 0;
/// Storage slot holding the account's native-token balance.
pub const BALANCE_SLOT: u64 = 1;

/// One account: the leaf of the contracts trie plus its two storage slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// `account_class_hash()` once deployed, 0 for an address that only received funds.
    pub class_hash: Felt,
    pub public_key: Felt,
    #[serde(with = "hex_u128")]
    pub balance: u128,
    #[serde(with = "hex_u64")]
    pub nonce: u64,
}

impl AccountState {
    pub fn is_deployed(&self) -> bool {
        self.class_hash != Felt::ZERO
    }

    pub fn is_empty(&self) -> bool {
        *self == AccountState::default()
    }

    /// Value of a storage slot (0 for any other key), as `starknet_getStorageAt` reports it.
    pub fn storage_at(&self, key: Felt) -> Felt {
        if key == Felt::from(KEY_SLOT) {
            self.public_key
        } else if key == Felt::from(BALANCE_SLOT) {
            Felt::from(self.balance)
        } else {
            Felt::ZERO
        }
    }

    /// Root of the storage trie holding `{0: public_key, 1: balance}` (zero slots absent).
    /// Keys 0 and 1 share their first 250 bits, so the trie is a fixed shape:
    /// both set: `H(H(key, balance), 0) + 250`; one set at slot k: `H(value, k) + 251`.
    pub fn storage_root(&self) -> Felt {
        let balance = Felt::from(self.balance);
        match (self.public_key != Felt::ZERO, self.balance != 0) {
            (true, true) => h(h(self.public_key, balance), Felt::ZERO) + Felt::from(250u32),
            (true, false) => h(self.public_key, Felt::from(KEY_SLOT)) + Felt::from(251u32),
            (false, true) => h(balance, Felt::from(BALANCE_SLOT)) + Felt::from(251u32),
            (false, false) => Felt::ZERO,
        }
    }

    /// The contracts-trie leaf: `H(H(H(class_hash, storage_root), nonce), 0)`, or 0 (absent)
    /// for an empty account.
    pub fn leaf(&self) -> Felt {
        if self.is_empty() {
            return Felt::ZERO;
        }
        h(
            h(
                h(self.class_hash, self.storage_root()),
                Felt::from(self.nonce),
            ),
            Felt::ZERO,
        )
    }
}

/// `Poseidon("STARKNET_STATE_V0", contracts_root, classes_root)`; starfarm has no classes
/// trie, so `classes_root` is 0.
pub fn global_root(contracts_root: Felt) -> Felt {
    h_many(&[short_string(STATE_PREFIX), contracts_root, Felt::ZERO])
}
