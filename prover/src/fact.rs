//! The fact a proof establishes, as Ethereum contracts check it:
//! `keccak256(abi.encode(programHash, keccak256(abi.encodePacked(output as uint256[]))))`.

use sha3::{Digest, Keccak256};
use starknet_types_core::felt::Felt;

/// Keccak-256 of the output felts, each as a 32-byte big-endian word.
pub fn output_hash(output: &[Felt]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    for felt in output {
        hasher.update(felt.to_bytes_be());
    }
    hasher.finalize().into()
}

/// The fact of a program run with the given output.
pub fn fact(program_hash: Felt, output: &[Felt]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(program_hash.to_bytes_be());
    hasher.update(output_hash(output));
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

    #[test]
    fn empty_output_hashes_like_keccak_of_nothing() {
        // keccak256("") as every Ethereum library prints it.
        assert_eq!(
            hex32(&output_hash(&[])),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn fact_is_keccak_of_abi_encoded_pair() {
        // Reference: keccak256(abi.encode(uint256(1), keccak256(abi.encodePacked([uint256(2)])))),
        // computed here from its definition with an independent byte layout.
        let mut word2 = [0u8; 32];
        word2[31] = 2;
        let inner: [u8; 32] = Keccak256::digest(word2).into();
        let mut encoded = [0u8; 64];
        encoded[31] = 1;
        encoded[32..].copy_from_slice(&inner);
        let expected: [u8; 32] = Keccak256::digest(encoded).into();
        assert_eq!(fact(Felt::ONE, &[Felt::TWO]), expected);
        assert_ne!(fact(Felt::ONE, &[Felt::THREE]), expected);
    }
}
