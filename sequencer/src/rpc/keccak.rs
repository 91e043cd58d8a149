//! Keccak-256 (Ethereum's, not SHA3-256) and Starknet's L1→L2 message hash, for the
//! `message_hash` of L1_HANDLER receipts.

use sha3::{Digest, Keccak256};
use starknet_types_core::felt::Felt;

use crate::execute::MessageToL2;

/// Keccak-256 of `data`.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// Starknet's L1→L2 message hash:
/// `keccak256(from, to, nonce, selector, payload_len, payload…)`, each a 32-byte word.
pub fn l1_to_l2_message_hash(message: &MessageToL2) -> [u8; 32] {
    let mut words = vec![
        message.from_address,
        message.to_address,
        Felt::from(message.nonce),
        message.selector,
        Felt::from(message.payload.len()),
    ];
    words.extend_from_slice(&message.payload);
    let bytes: Vec<u8> = words.iter().flat_map(|word| word.to_bytes_be()).collect();
    keccak256(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn known_vectors() {
        assert_eq!(
            hex(&keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(
            hex(&keccak256(b"abc")),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
        );
        // Inputs of several 136-byte blocks: `message_hash_matches_starknet_core` in
        // `tests/rpc.rs` compares with the `sha3` crate.
    }
}
