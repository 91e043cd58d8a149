//! The prover input of a closed block, rebuilt from the sequencer's database, and the
//! publisher hook that publishes it with each block.

use std::collections::BTreeMap;
use std::sync::Arc;

use starknet_types_core::felt::Felt;

use super::input::{BlockProverInput, ProgramInputError};
use crate::block::Block;
use crate::execute::touched;
use crate::publish::Publisher;
use crate::state::AccountState;
use crate::store::{Store, StoreError};
use crate::trie::Trie;

/// A publisher that also publishes each block's prover input.
pub fn with_prover_inputs(publisher: Publisher) -> Publisher {
    publisher.with_prover_input(Arc::new(|db: &Store, block: &Block| {
        let input = block_prover_input(db, block).map_err(|e| e.to_string())?;
        serde_json::to_vec(&input).map_err(|e| e.to_string())
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum ProverInputError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Input(#[from] ProgramInputError),
    #[error("block {0} is not in the database")]
    MissingBlock(u64),
}

/// The prover input of a closed block, rebuilt from the database: the accounts it touches
/// as they were after the previous block, and their proofs in the trie at that block's root
/// (trie nodes are never deleted, so past roots stay readable).
pub fn block_prover_input(db: &Store, block: &Block) -> Result<BlockProverInput, ProverInputError> {
    let number = block.header.number;
    let previous = match number.checked_sub(1) {
        Some(n) => Some(
            db.block(n)?
                .ok_or(ProverInputError::MissingBlock(n))?
                .header,
        ),
        None => None,
    };
    let root = previous.as_ref().map_or(Felt::ZERO, |h| h.contracts_root);
    let mut pre_states = BTreeMap::new();
    for address in block.transactions.iter().flat_map(touched) {
        let state = match &previous {
            Some(h) => db.account(&address, h.number)?,
            None => AccountState::default(),
        };
        pre_states.insert(address, state);
    }
    let trie = Trie::new(db.nodes()?, root);
    Ok(BlockProverInput::build(
        &trie,
        &pre_states,
        number,
        block.header.parent_hash,
        block.header.timestamp,
        block.transactions.clone(),
    )?)
}
