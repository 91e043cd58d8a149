//! The fact a proof establishes, as Ethereum contracts check it (`StarfarmCore.updateState`,
//! the fact registries): `keccak256(abi.encode(programHash, keccak256(abi.encodePacked(output
//! as uint256[]))))`.

use sha3::{Digest, Keccak256};
use starknet_types_core::felt::Felt;

/// `keccak256(abi.encodePacked(words))`: the felts concatenated, each a 32-byte big-endian
/// word.
pub fn packed_hash(words: &[Felt]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    for word in words {
        hasher.update(word.to_bytes_be());
    }
    hasher.finalize().into()
}

/// The fact of a program run with the given output.
pub fn fact(program_hash: Felt, output: &[Felt]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(program_hash.to_bytes_be());
    hasher.update(packed_hash(output));
    hasher.finalize().into()
}

/// `0x`-prefixed lowercase hex of 32 bytes.
pub fn hex32(bytes: &[u8; 32]) -> String {
    let mut s = String::with_capacity(66);
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keccak(bytes: &[u8]) -> [u8; 32] {
        Keccak256::digest(bytes).into()
    }

    #[test]
    fn empty_output_hashes_like_keccak_of_nothing() {
        // keccak256("") as every Ethereum library prints it.
        assert_eq!(
            hex32(&packed_hash(&[])),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn fact_is_keccak_of_abi_encoded_pair() {
        // Reference: keccak256(abi.encode(uint256(1), keccak256(abi.encodePacked([uint256(2)])))),
        // computed here from its definition with an independent byte layout.
        let mut word2 = [0u8; 32];
        word2[31] = 2;
        let inner = keccak(&word2);
        let mut encoded = [0u8; 64];
        encoded[31] = 1;
        encoded[32..].copy_from_slice(&inner);
        let expected = keccak(&encoded);
        assert_eq!(fact(Felt::ONE, &[Felt::TWO]), expected);
        assert_ne!(fact(Felt::ONE, &[Felt::THREE]), expected);
    }

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
        outer[32..].copy_from_slice(&keccak(&packed));
        assert_eq!(fact(program_hash, &output), keccak(&outer));
    }

    /// Fixed vectors, computed with pycryptodome's keccak (the repository's cairo-lang venv)
    /// over the same layout, pin the encoding.
    #[test]
    fn facts_are_pinned() {
        let output = [Felt::from(1u8), Felt::from(2u8), Felt::MAX];
        assert_eq!(
            hex32(&fact(Felt::from(0x1234u32), &output)),
            "0xc12189f765657b2faef73c03ec5a0de99353b2854d0c1d1e38da25bdd563d203"
        );
        assert_eq!(
            hex32(&fact(Felt::ZERO, &[])),
            "0x88d4843af302c2093286898cd34cba7a471c3cdce4c78514fc971c3c6a53891e"
        );
    }
}
