//! Felts as the contracts see them (`uint256` big-endian words), and the fact and message
//! hashes of `starfarm_common` (the one home of those formulas) in alloy's types.

use alloy::primitives::{Address, B256, U256};
use starfarm_common::{fact as formulas, message};
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

/// The fact `StarfarmCore.updateState` requires for a block-program `output`
/// ([`starfarm_common::fact::fact`]).
pub fn fact(program_hash: Felt, output: &[Felt]) -> B256 {
    B256::from(formulas::fact(program_hash, output))
}

/// Hash of an L2→L1 message (`l2ToL1Messages` key, [`message::l2_to_l1_message_hash`]).
pub fn l2_to_l1_message_hash(from_l2: Felt, to_l1: Address, payload: &[Felt]) -> B256 {
    B256::from(message::l2_to_l1_message_hash(
        from_l2,
        address_to_felt(to_l1),
        payload,
    ))
}

/// Hash of an L1→L2 message (`l1ToL2Messages` key, [`message::l1_to_l2_message_hash`]).
pub fn l1_to_l2_message_hash(
    from_l1: Address,
    to_l2: Felt,
    nonce: u64,
    selector: Felt,
    payload: &[Felt],
) -> B256 {
    B256::from(message::l1_to_l2_message_hash(
        address_to_felt(from_l1),
        to_l2,
        nonce,
        selector,
        payload,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
