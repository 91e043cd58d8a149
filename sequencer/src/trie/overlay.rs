//! A store that reads through to a base it never writes: the sequencer computes hypothetical
//! roots (block candidates, prover witnesses) over its persistent trie this way, then
//! persists the new nodes in one transaction if it keeps the result.

use std::collections::HashMap;

use starknet_types_core::felt::Felt;

use super::{Node, NodeStore, TrieError};

/// New nodes in memory on top of a read-only `base`.
#[derive(Debug)]
pub struct Overlay<'a, S: NodeStore + ?Sized> {
    base: &'a S,
    new: HashMap<Felt, Node>,
}

impl<'a, S: NodeStore + ?Sized> Overlay<'a, S> {
    pub fn new(base: &'a S) -> Self {
        Self {
            base,
            new: HashMap::new(),
        }
    }

    pub fn base(&self) -> &'a S {
        self.base
    }

    /// The nodes written since creation (some may already be in the base: stores are
    /// content-addressed, so writing them again is harmless).
    pub fn new_nodes(&self) -> impl Iterator<Item = (&Felt, &Node)> {
        self.new.iter()
    }

    /// The written nodes, for the caller to persist (for example with `put_batch`).
    pub fn into_new_nodes(self) -> Vec<(Felt, Node)> {
        self.new.into_iter().collect()
    }
}

impl<S: NodeStore + ?Sized> NodeStore for Overlay<'_, S> {
    fn get(&self, hash: &Felt) -> Result<Option<Node>, TrieError> {
        match self.new.get(hash) {
            Some(node) => Ok(Some(*node)),
            None => self.base.get(hash),
        }
    }

    fn put(&mut self, hash: Felt, node: Node) -> Result<(), TrieError> {
        self.new.insert(hash, node);
        Ok(())
    }
}
