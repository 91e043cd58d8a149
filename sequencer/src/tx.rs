//! Transactions: their JSON shape, their Poseidon hashes, signing and the format checks that
//! need no state. Formulas: `docs/sequencer.md` ("Transactions").

use serde::{Deserialize, Serialize};
use starknet_crypto::{get_public_key, sign, verify};
use starknet_types_core::felt::{Felt, NonZeroFelt};

use crate::hash::{
    address_upper_bound, h_many, short_string, ACCOUNT_CLASS, ADDRESS_PREFIX, CHAIN_ID,
};

/// Version of the transaction hash formulas.
pub const TX_VERSION: u64 = 1;

/// STARK-curve ECDSA signature over a transaction hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub r: Felt,
    pub s: Felt,
}

impl Signature {
    /// Whether `s ≤ (n − 1)/2`, the only form the block program accepts.
    pub fn is_canonical(&self) -> bool {
        self.s <= crate::ecdsa::HALF_ORDER
    }

    /// The canonical one of (r, s) and (r, n − s): both verify, or neither, for every hash
    /// and key (R and −R have the same x). Values of s at or above n are left alone (no
    /// verifier accepts them anyway).
    pub fn canonical(self) -> Self {
        if self.is_canonical() || self.s >= crate::ecdsa::EC_ORDER {
            return self;
        }
        Signature {
            r: self.r,
            s: crate::ecdsa::EC_ORDER - self.s,
        }
    }
}

/// Deploys the account of `public_key` at `address_of(public_key)`, signed by that key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployAccount {
    pub public_key: Felt,
    pub signature: Signature,
}

/// Moves `amount` of the native token from `sender` to `recipient`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub sender: Felt,
    #[serde(with = "hex_u64")]
    pub nonce: u64,
    pub recipient: Felt,
    #[serde(with = "hex_u128")]
    pub amount: u128,
    pub signature: Signature,
}

/// Burns `amount` on L2 and sends an L2→L1 message `[amount]` to `l1_recipient`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdraw {
    pub sender: Felt,
    #[serde(with = "hex_u64")]
    pub nonce: u64,
    pub l1_recipient: Felt,
    #[serde(with = "hex_u128")]
    pub amount: u128,
    pub signature: Signature,
}

/// Credits `amount` to `recipient`: an L1→L2 message consumed by the block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    pub l1_sender: Felt,
    pub recipient: Felt,
    #[serde(with = "hex_u128")]
    pub amount: u128,
    #[serde(with = "hex_u64")]
    pub l1_nonce: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Transaction {
    DeployAccount(DeployAccount),
    Transfer(Transfer),
    Withdraw(Withdraw),
    Deposit(Deposit),
}

/// Kind tags, as the block program's input encodes them.
impl Transaction {
    pub const DEPLOY_ACCOUNT: u64 = 0;
    pub const TRANSFER: u64 = 1;
    pub const WITHDRAW: u64 = 2;
    pub const DEPOSIT: u64 = 3;

    pub fn kind(&self) -> u64 {
        match self {
            Transaction::DeployAccount(_) => Self::DEPLOY_ACCOUNT,
            Transaction::Transfer(_) => Self::TRANSFER,
            Transaction::Withdraw(_) => Self::WITHDRAW,
            Transaction::Deposit(_) => Self::DEPOSIT,
        }
    }

    /// The Poseidon transaction hash (`docs/sequencer.md`).
    pub fn hash(&self) -> Felt {
        let chain = chain_id();
        let v = Felt::from(TX_VERSION);
        match self {
            Transaction::DeployAccount(t) => {
                h_many(&[short_string("deploy_account"), v, chain, t.public_key])
            }
            Transaction::Transfer(t) => h_many(&[
                short_string("transfer"),
                v,
                chain,
                t.sender,
                Felt::from(t.nonce),
                t.recipient,
                Felt::from(t.amount),
            ]),
            Transaction::Withdraw(t) => h_many(&[
                short_string("withdraw"),
                v,
                chain,
                t.sender,
                Felt::from(t.nonce),
                t.l1_recipient,
                Felt::from(t.amount),
            ]),
            Transaction::Deposit(t) => h_many(&[
                short_string("deposit"),
                v,
                chain,
                t.l1_sender,
                t.recipient,
                Felt::from(t.amount),
                Felt::from(t.l1_nonce),
            ]),
        }
    }

    /// The account whose nonce orders this transaction (none for deposits).
    pub fn sender(&self) -> Option<Felt> {
        match self {
            Transaction::DeployAccount(t) => Some(address_of(t.public_key)),
            Transaction::Transfer(t) => Some(t.sender),
            Transaction::Withdraw(t) => Some(t.sender),
            Transaction::Deposit(_) => None,
        }
    }

    /// The nonce the sender must have (deploy: 0).
    pub fn nonce(&self) -> Option<u64> {
        match self {
            Transaction::DeployAccount(_) => Some(0),
            Transaction::Transfer(t) => Some(t.nonce),
            Transaction::Withdraw(t) => Some(t.nonce),
            Transaction::Deposit(_) => None,
        }
    }

    /// The transaction with its signature in canonical (low-s) form; the hash does not cover
    /// the signature, so it is unchanged.
    pub fn with_canonical_signature(mut self) -> Self {
        match &mut self {
            Transaction::DeployAccount(t) => t.signature = t.signature.canonical(),
            Transaction::Transfer(t) => t.signature = t.signature.canonical(),
            Transaction::Withdraw(t) => t.signature = t.signature.canonical(),
            Transaction::Deposit(_) => {}
        }
        self
    }

    pub fn signature(&self) -> Option<&Signature> {
        match self {
            Transaction::DeployAccount(t) => Some(&t.signature),
            Transaction::Transfer(t) => Some(&t.signature),
            Transaction::Withdraw(t) => Some(&t.signature),
            Transaction::Deposit(_) => None,
        }
    }

    /// Checks that need no state: ranges of addresses and amounts.
    pub fn check_format(&self) -> Result<(), FormatError> {
        let address = |field: &'static str, value: Felt| {
            if value == Felt::ZERO || value >= address_upper_bound() {
                Err(FormatError::Address { field })
            } else {
                Ok(())
            }
        };
        let amount = |value: u128| {
            if value == 0 {
                Err(FormatError::ZeroAmount)
            } else {
                Ok(())
            }
        };
        match self {
            Transaction::DeployAccount(t) => {
                if t.public_key == Felt::ZERO {
                    return Err(FormatError::PublicKey);
                }
                Ok(())
            }
            Transaction::Transfer(t) => {
                address("sender", t.sender)?;
                address("recipient", t.recipient)?;
                amount(t.amount)
            }
            Transaction::Withdraw(t) => {
                address("sender", t.sender)?;
                if t.l1_recipient == Felt::ZERO || t.l1_recipient.bits() > 160 {
                    return Err(FormatError::L1Address);
                }
                amount(t.amount)
            }
            Transaction::Deposit(t) => {
                address("recipient", t.recipient)?;
                if t.l1_sender.bits() > 160 {
                    return Err(FormatError::L1Address);
                }
                amount(t.amount)
            }
        }
    }
}

/// What is wrong with a transaction's fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("{field} must be a non-zero L2 address below 2^251 - 256")]
    Address { field: &'static str },
    #[error("an L1 address must be a non-zero 160-bit number")]
    L1Address,
    #[error("amount must be positive")]
    ZeroAmount,
    #[error("public key must be non-zero and on the STARK curve")]
    PublicKey,
}

/// The chain id felt (short string "SN_STARFARM").
pub fn chain_id() -> Felt {
    short_string(CHAIN_ID)
}

/// The class hash of deployed accounts.
pub fn account_class_hash() -> Felt {
    short_string(ACCOUNT_CLASS)
}

/// `address = H_many("STARFARM_ADDRESS", public_key) mod (2^251 - 256)`.
pub fn address_of(public_key: Felt) -> Felt {
    let bound = NonZeroFelt::try_from(address_upper_bound()).expect("bound is non-zero");
    h_many(&[short_string(ADDRESS_PREFIX), public_key]).mod_floor(&bound)
}

/// A STARK-curve key pair.
#[derive(Clone, Copy)]
pub struct KeyPair {
    pub private_key: Felt,
    pub public_key: Felt,
}

impl KeyPair {
    pub fn from_private(private_key: Felt) -> Self {
        KeyPair {
            private_key,
            public_key: get_public_key(&private_key),
        }
    }

    pub fn address(&self) -> Felt {
        address_of(self.public_key)
    }

    /// Signs a hash with RFC 6979 deterministic k.
    pub fn sign(&self, hash: Felt) -> Signature {
        let k = starknet_crypto::rfc6979_generate_k(&hash, &self.private_key, None);
        let sig = sign(&self.private_key, &hash, &k).expect("a k from RFC 6979 signs any hash");
        // starknet-crypto does not normalise s; the block program accepts only low s.
        Signature { r: sig.r, s: sig.s }.canonical()
    }
}

/// Reference check with starknet-crypto (slow: ~1 ms); the admission path uses `ecdsa`.
pub fn verify_reference(public_key: Felt, hash: Felt, signature: &Signature) -> bool {
    verify(&public_key, &hash, &signature.r, &signature.s).unwrap_or(false)
}

/// Builders that sign: what a client library needs.
impl Transaction {
    pub fn deploy_account(keys: &KeyPair) -> Self {
        let mut tx = DeployAccount {
            public_key: keys.public_key,
            signature: zero_signature(),
        };
        tx.signature = keys.sign(Transaction::DeployAccount(tx.clone()).hash());
        Transaction::DeployAccount(tx)
    }

    pub fn transfer(keys: &KeyPair, nonce: u64, recipient: Felt, amount: u128) -> Self {
        let mut tx = Transfer {
            sender: keys.address(),
            nonce,
            recipient,
            amount,
            signature: zero_signature(),
        };
        tx.signature = keys.sign(Transaction::Transfer(tx.clone()).hash());
        Transaction::Transfer(tx)
    }

    pub fn withdraw(keys: &KeyPair, nonce: u64, l1_recipient: Felt, amount: u128) -> Self {
        let mut tx = Withdraw {
            sender: keys.address(),
            nonce,
            l1_recipient,
            amount,
            signature: zero_signature(),
        };
        tx.signature = keys.sign(Transaction::Withdraw(tx.clone()).hash());
        Transaction::Withdraw(tx)
    }
}

fn zero_signature() -> Signature {
    Signature {
        r: Felt::ZERO,
        s: Felt::ZERO,
    }
}

/// Serde for integers as `0x` hex strings (Starknet's JSON convention); decimal strings and
/// JSON numbers are accepted on input.
macro_rules! hex_int {
    ($name:ident, $ty:ty) => {
        pub mod $name {
            use serde::{de::Error, Deserialize, Deserializer, Serializer};

            pub fn serialize<S: Serializer>(value: &$ty, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&format!("{value:#x}"))
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Repr {
                    Number($ty),
                    Text(String),
                }
                match Repr::deserialize(d)? {
                    Repr::Number(n) => Ok(n),
                    Repr::Text(t) => {
                        let parsed = match t.strip_prefix("0x") {
                            Some(hex) => <$ty>::from_str_radix(hex, 16),
                            None => t.parse::<$ty>(),
                        };
                        parsed.map_err(|_| {
                            D::Error::custom(format!(
                                "{t:?} is not a {} (0x-hex or decimal)",
                                stringify!($ty)
                            ))
                        })
                    }
                }
            }
        }
    };
}
hex_int!(hex_u64, u64);
hex_int!(hex_u128, u128);
