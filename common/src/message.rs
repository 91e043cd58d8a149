//! The hashes of messages between L1 and L2, as `StarfarmCore` keys them (`l1ToL2Messages`,
//! `l2ToL1Messages`) and Starknet computes them: the words below, each a 32-byte
//! big-endian word, hashed with [`packed_hash`]. An L1 address is the felt of its 160 bits.

use starknet_types_core::felt::Felt;

use crate::fact::packed_hash;

/// Hash of an L1→L2 message: `from, to, nonce, selector, payload_size, payload…`.
pub fn l1_to_l2_message_hash(
    from_l1: Felt,
    to_l2: Felt,
    nonce: u64,
    selector: Felt,
    payload: &[Felt],
) -> [u8; 32] {
    let mut words = vec![
        from_l1,
        to_l2,
        Felt::from(nonce),
        selector,
        Felt::from(payload.len()),
    ];
    words.extend_from_slice(payload);
    packed_hash(&words)
}

/// Hash of an L2→L1 message: `from, to, payload_size, payload…`.
pub fn l2_to_l1_message_hash(from_l2: Felt, to_l1: Felt, payload: &[Felt]) -> [u8; 32] {
    let mut words = vec![from_l2, to_l1, Felt::from(payload.len())];
    words.extend_from_slice(payload);
    packed_hash(&words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha3::{Digest, Keccak256};

    fn word(value: u64) -> [u8; 32] {
        let mut word = [0u8; 32];
        word[24..].copy_from_slice(&value.to_be_bytes());
        word
    }

    /// The words laid out by hand, in the order the contract reads them.
    #[test]
    fn message_hashes_are_keccak_of_their_words_in_order() {
        let mut bytes = Vec::new();
        for value in [0xa1, 0xb2, 7, 0xde, 2, 10, 20] {
            bytes.extend_from_slice(&word(value));
        }
        let expected: [u8; 32] = Keccak256::digest(&bytes).into();
        let payload = [Felt::from(10u8), Felt::from(20u8)];
        let hash = l1_to_l2_message_hash(
            Felt::from(0xa1u8),
            Felt::from(0xb2u8),
            7,
            Felt::from(0xdeu8),
            &payload,
        );
        assert_eq!(hash, expected);

        let mut bytes = Vec::new();
        for value in [0xb2, 0xa1, 2, 10, 20] {
            bytes.extend_from_slice(&word(value));
        }
        let expected: [u8; 32] = Keccak256::digest(&bytes).into();
        let hash = l2_to_l1_message_hash(Felt::from(0xb2u8), Felt::from(0xa1u8), &payload);
        assert_eq!(hash, expected);
        assert_ne!(
            l2_to_l1_message_hash(Felt::from(0xb2u8), Felt::from(0xa1u8), &payload[..1]),
            expected
        );
    }
}
