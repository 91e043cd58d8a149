//! A block's prover input built from the contracts trie at the previous block's root: the
//! touched accounts' states, each checked against its leaf, and their multiproof.

use std::collections::{BTreeMap, BTreeSet};

use starknet_types_core::felt::Felt;

use super::input::{AccountEntry, BlockProverInput, ProgramInputError, BLOCK_PROVER_INPUT_VERSION};
use crate::execute::touched;
use crate::state::AccountState;
use crate::trie::{NodeStore, Trie};
use crate::tx::Transaction;

impl BlockProverInput {
    /// The prover input of a block whose `transactions` run on the state of `trie` (the
    /// contracts trie at the previous block's root). `pre_states` holds the states of (at
    /// least) the accounts the transactions touch; a missing address is an absent account.
    /// Each state is checked against its leaf.
    pub fn build<S: NodeStore>(
        trie: &Trie<S>,
        pre_states: &BTreeMap<Felt, AccountState>,
        block_number: u64,
        parent_hash: Felt,
        timestamp: u64,
        transactions: Vec<Transaction>,
    ) -> Result<Self, ProgramInputError> {
        let addresses: BTreeSet<Felt> = transactions.iter().flat_map(touched).collect();
        let mut accounts = Vec::with_capacity(addresses.len());
        for &address in &addresses {
            let state = pre_states.get(&address).copied().unwrap_or_default();
            if trie.get(address)? != state.leaf() {
                return Err(ProgramInputError::StateMismatch(address));
            }
            accounts.push(AccountEntry { address, state });
        }
        let keys: Vec<Felt> = addresses.into_iter().collect();
        Ok(Self {
            format_version: BLOCK_PROVER_INPUT_VERSION,
            block_number,
            parent_hash,
            timestamp,
            previous_contracts_root: trie.root(),
            transactions,
            accounts,
            multiproof: trie.multiproof(&keys)?,
        })
    }
}
