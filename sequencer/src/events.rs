//! The events each transaction emits, in the shapes of Starknet's ERC-20, bridge and account
//! contracts, so that indexers, explorers and wallets written for Starknet follow balances here.
//!
//! starfarm has no contracts: balances are native (slot 1 of each account). Events are
//! derived from a transaction and its receipt, never stored, so blocks, hashes and the block
//! program are unchanged, and every reader (the sequencer, a node in any mode) derives the same.
//! A reverted transaction emits nothing (as on Starknet, where only its fee transfer remains,
//! and starfarm charges no fees).
//!
//! | transaction | emitter | keys | data |
//! |---|---|---|---|
//! | `TRANSFER` | [`TOKEN_ADDRESS`] | `Transfer`, from, to | amount low, high (u256) |
//! | `DEPOSIT` | [`TOKEN_ADDRESS`] | `Transfer`, 0, recipient | amount low, high |
//! |  | [`BRIDGE_ADDRESS`] | `DepositHandled`, recipient | l1 sender, amount low, high |
//! | `WITHDRAW` | [`BRIDGE_ADDRESS`] | `WithdrawInitiated`, l1 recipient | sender, amount low, high |
//! |  | [`TOKEN_ADDRESS`] | `Transfer`, sender, 0 | amount low, high |
//! | `DEPLOY_ACCOUNT` | the new account | `OwnerAdded`, public key | (none) |
//!
//! Key 0 is the event's selector, `sn_keccak(name)` as Cairo's `#[event]` derives it; the
//! other keys are the fields Starknet's contracts mark `#[key]`.

use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use starknet_types_core::felt::Felt;

use crate::execute::{ExecutionStatus, Receipt};
use crate::hash::short_string;
use crate::tx::{address_of, Transaction};

/// The address that emits the native balance's ERC-20 `Transfer` events (the short string
/// "STARFARM_TOKEN": no account address, a Poseidon hash, is that small).
pub fn token_address() -> Felt {
    short_string(TOKEN_ADDRESS)
}

/// The address that emits the bridge's deposit and withdrawal events.
pub fn bridge_address() -> Felt {
    short_string(BRIDGE_ADDRESS)
}

/// Short string of [`token_address`].
pub const TOKEN_ADDRESS: &str = "STARFARM_TOKEN";
/// Short string of [`bridge_address`].
pub const BRIDGE_ADDRESS: &str = "STARFARM_BRIDGE";

/// One event (Starknet's `EVENT`: emitter, keys, data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub from_address: Felt,
    pub keys: Vec<Felt>,
    pub data: Vec<Felt>,
}

/// Starknet's selector of a name: keccak-256 of its bytes, reduced to 250 bits.
pub fn selector(name: &str) -> Felt {
    let mut digest: [u8; 32] = Keccak256::digest(name.as_bytes()).into();
    digest[0] &= 0x03;
    Felt::from_bytes_be(&digest)
}

/// The events `tx` emitted, given its receipt (none when it reverted).
pub fn emitted(tx: &Transaction, receipt: &Receipt) -> Vec<Event> {
    if receipt.execution_status == ExecutionStatus::Reverted {
        return Vec::new();
    }
    match tx {
        Transaction::Transfer(t) => vec![transfer(t.sender, t.recipient, t.amount)],
        Transaction::Deposit(t) => vec![
            transfer(Felt::ZERO, t.recipient, t.amount),
            Event {
                from_address: bridge_address(),
                keys: vec![selector("DepositHandled"), t.recipient],
                data: [vec![t.l1_sender], u256(t.amount)].concat(),
            },
        ],
        Transaction::Withdraw(t) => vec![
            Event {
                from_address: bridge_address(),
                keys: vec![selector("WithdrawInitiated"), t.l1_recipient],
                data: [vec![t.sender], u256(t.amount)].concat(),
            },
            transfer(t.sender, Felt::ZERO, t.amount),
        ],
        Transaction::DeployAccount(t) => vec![Event {
            from_address: address_of(t.public_key),
            keys: vec![selector("OwnerAdded"), t.public_key],
            data: Vec::new(),
        }],
    }
}

/// The ERC-20 `Transfer` (OpenZeppelin's Cairo shape: `from` and `to` are keys).
fn transfer(from: Felt, to: Felt, amount: u128) -> Event {
    Event {
        from_address: token_address(),
        keys: vec![selector("Transfer"), from, to],
        data: u256(amount),
    }
}

/// A u256 as Cairo serialises it: low 128 bits, then high (always 0 for starfarm's u128).
fn u256(amount: u128) -> Vec<Felt> {
    vec![Felt::from(amount), Felt::ZERO]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{Deposit, KeyPair};

    fn succeeded(tx: &Transaction) -> Receipt {
        Receipt {
            transaction_hash: tx.hash(),
            execution_status: ExecutionStatus::Succeeded,
            revert_reason: None,
            messages_sent: Vec::new(),
            message_consumed: None,
        }
    }

    #[test]
    fn selectors_are_starknets() {
        // The `Transfer` key every Starknet ERC-20 emits (e.g. STRK's, as explorers show it).
        assert_eq!(
            selector("Transfer"),
            Felt::from_hex_unchecked(
                "0x99cd8bde557814842a3121e8ddfd433a539b8c9f14bf31ebf108d12e6196e9"
            )
        );
    }

    #[test]
    fn a_transfer_emits_an_erc20_transfer() {
        let (alice, bob) = (
            KeyPair::from_private(Felt::from(11u32)),
            KeyPair::from_private(Felt::from(12u32)),
        );
        let tx = Transaction::transfer(&alice, 1, bob.address(), 400);
        let events = emitted(&tx, &succeeded(&tx));
        assert_eq!(
            events,
            vec![Event {
                from_address: token_address(),
                keys: vec![selector("Transfer"), alice.address(), bob.address()],
                data: vec![Felt::from(400u32), Felt::ZERO],
            }]
        );
    }

    #[test]
    fn a_deposit_mints_and_the_bridge_says_so() {
        let tx = Transaction::Deposit(Deposit {
            l1_sender: Felt::from(0xe7u32),
            recipient: Felt::from(0xabcu32),
            amount: 5,
            l1_nonce: 0,
        });
        let events = emitted(&tx, &succeeded(&tx));
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].keys[1], Felt::ZERO, "minted: from 0");
        assert_eq!(events[1].from_address, bridge_address());
        assert_eq!(
            events[1].keys,
            vec![selector("DepositHandled"), Felt::from(0xabcu32)]
        );
    }

    #[test]
    fn a_reverted_transaction_emits_nothing() {
        let alice = KeyPair::from_private(Felt::from(11u32));
        let tx = Transaction::withdraw(&alice, 1, Felt::from(0xbeefu32), 100);
        let mut receipt = succeeded(&tx);
        receipt.execution_status = ExecutionStatus::Reverted;
        assert!(emitted(&tx, &receipt).is_empty());
        receipt.execution_status = ExecutionStatus::Succeeded;
        let events = emitted(&tx, &receipt);
        assert_eq!(
            events[1].keys,
            vec![selector("Transfer"), alice.address(), Felt::ZERO]
        );
    }
}
