//! Facts and message hashes, exactly as `StarfarmCore` computes them. Felts are `uint256`
//! big-endian words.

use alloy::primitives::{keccak256, Address, B256, U256};
use starknet_types_core::felt::Felt;

/// A felt as the `uint256` the contracts see.
pub fn felt_to_u256(felt: &Felt) -> U256 {
    U256::from_be_bytes(felt.to_bytes_be())
}

/// A `uint256` as a felt (reduced modulo the field prime; the contracts only hand back
/// words that came from felts).
pub fn u256_to_felt(word: U256) -> Felt {
    Felt::from_bytes_be(&word.to_be_bytes::<32>())
}

/// An L1 address as the felt L2 sees (its 160 bits, zero-extended).
pub fn address_to_felt(address: Address) -> Felt {
    Felt::from_bytes_be_slice(address.as_slice())
}

/// The words of a program output, for `updateState`.
pub fn output_words(output: &[Felt]) -> Vec<U256> {
    output.iter().map(felt_to_u256).collect()
}

/// `keccak256(abi.encodePacked(words))`: the words concatenated, 32 bytes each.
pub fn packed_hash(words: &[Felt]) -> B256 {
    let mut bytes = Vec::with_capacity(32 * words.len());
    for word in words {
        bytes.extend_from_slice(&word.to_bytes_be());
    }
    keccak256(bytes)
}

/// The fact `StarfarmCore.updateState` requires for a block-program `output`:
/// `keccak256(abi.encode(programHash, keccak256(abi.encodePacked(output))))`.
pub fn fact(program_hash: Felt, output: &[Felt]) -> B256 {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&program_hash.to_bytes_be());
    bytes[32..].copy_from_slice(packed_hash(output).as_slice());
    keccak256(bytes)
}

/// Hash of an L2→L1 message (`l2ToL1Messages` key): `from, to, payload_size, payload`.
pub fn l2_to_l1_message_hash(from_l2: Felt, to_l1: Address, payload: &[Felt]) -> B256 {
    let mut words = vec![from_l2, address_to_felt(to_l1), Felt::from(payload.len())];
    words.extend_from_slice(payload);
    packed_hash(&words)
}

/// Hash of an L1→L2 message (`l1ToL2Messages` key): `from, to, nonce, selector,
/// payload_size, payload`.
pub fn l1_to_l2_message_hash(
    from_l1: Address,
    to_l2: Felt,
    nonce: u64,
    selector: Felt,
    payload: &[Felt],
) -> B256 {
    let mut words = vec![
        address_to_felt(from_l1),
        to_l2,
        Felt::from(nonce),
        selector,
        Felt::from(payload.len()),
    ];
    words.extend_from_slice(payload);
    packed_hash(&words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::b256;

    /// keccak256 over hand-laid bytes, compared with the helper.
    #[test]
    fn fact_matches_hand_computed_keccak() {
        let program_hash = Felt::from(0x1234u32);
        let output = [Felt::from(1u8), Felt::from(2u8), Felt::MAX];
        let mut packed = Vec::new();
        for w in [1u8, 2u8] {
            let mut word = [0u8; 32];
            word[31] = w;
            packed.extend_from_slice(&word);
        }
        // P - 1 = 0x0800000000000011000000000000000000000000000000000000000000000000
        let mut max = [0u8; 32];
        max[0] = 0x08;
        max[7] = 0x11;
        packed.extend_from_slice(&max);
        let mut outer = [0u8; 64];
        outer[30] = 0x12;
        outer[31] = 0x34;
        outer[32..].copy_from_slice(keccak256(&packed).as_slice());
        assert_eq!(fact(program_hash, &output), keccak256(outer));
    }

    /// Fixed vectors, computed with pycryptodome's keccak (the repository's cairo-lang venv)
    /// over the same layout, pin the encoding.
    #[test]
    fn facts_are_pinned() {
        let output = [Felt::from(1u8), Felt::from(2u8), Felt::MAX];
        assert_eq!(
            fact(Felt::from(0x1234u32), &output),
            b256!("c12189f765657b2faef73c03ec5a0de99353b2854d0c1d1e38da25bdd563d203")
        );
        assert_eq!(
            fact(Felt::ZERO, &[]),
            b256!("88d4843af302c2093286898cd34cba7a471c3cdce4c78514fc971c3c6a53891e")
        );
    }

    #[test]
    fn felt_words_round_trip() {
        let felt = Felt::from_hex_unchecked("0x7abc");
        assert_eq!(felt_to_u256(&felt), U256::from(0x7abcu32));
        assert_eq!(u256_to_felt(U256::from(0x7abcu32)), felt);
        let address = Address::repeat_byte(0x11);
        assert_eq!(
            felt_to_u256(&address_to_felt(address)),
            U256::from_be_slice(address.as_slice())
        );
    }
}
