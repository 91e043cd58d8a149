//! An in-memory node store: tests, partial tries built from proofs, and scratch work.

use std::collections::HashMap;

use starknet_types_core::felt::Felt;

use super::{Node, NodeStore, TrieError};

/// Nodes by hash, in a `HashMap`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryNodes {
    nodes: HashMap<Felt, Node>,
}

impl MemoryNodes {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `nodes` (for example a proof or a multiproof), each under the hash
    /// computed here: the nodes may come from anyone, so their claimed hashes are not trusted.
    pub fn from_nodes(nodes: impl IntoIterator<Item = Node>) -> Self {
        let mut store = Self::new();
        for node in nodes {
            store.insert(node);
        }
        store
    }

    /// Adds a node under its own hash and returns that hash.
    pub fn insert(&mut self, node: Node) -> Felt {
        let hash = node.hash();
        self.nodes.insert(hash, node);
        hash
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn contains(&self, hash: &Felt) -> bool {
        self.nodes.contains_key(hash)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Felt, &Node)> {
        self.nodes.iter()
    }
}

impl NodeStore for MemoryNodes {
    fn get(&self, hash: &Felt) -> Result<Option<Node>, TrieError> {
        Ok(self.nodes.get(hash).copied())
    }

    fn put(&mut self, hash: Felt, node: Node) -> Result<(), TrieError> {
        self.nodes.insert(hash, node);
        Ok(())
    }
}

impl FromIterator<Node> for MemoryNodes {
    fn from_iter<I: IntoIterator<Item = Node>>(iter: I) -> Self {
        Self::from_nodes(iter)
    }
}
