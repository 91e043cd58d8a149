//! The `Trie` handle: a root over a node store.

use starknet_types_core::felt::Felt;

use super::bits::Bits;
use super::update::{self, Planner};
use super::{key_bits, load, Node, NodeStore, TrieError, HEIGHT};

/// A trie at `root` over `store`. Updates add nodes and move the root; they never delete,
/// so a `Trie::new(store, old_root)` still reads every earlier version.
#[derive(Clone, Debug)]
pub struct Trie<S: NodeStore> {
    pub(super) store: S,
    pub(super) root: Felt,
}

impl<S: NodeStore> Trie<S> {
    pub fn new(store: S, root: Felt) -> Self {
        Self { store, root }
    }

    pub fn empty(store: S) -> Self {
        Self::new(store, Felt::ZERO)
    }

    pub fn root(&self) -> Felt {
        self.root
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Direct access to the store; writing nodes that do not hash to their key breaks it.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    pub fn into_store(self) -> S {
        self.store
    }

    /// The value at `key` (0 when absent).
    pub fn get(&self, key: Felt) -> Result<Felt, TrieError> {
        self.walk(&key, |_| ())
    }

    /// Applies `updates` (key → value, 0 deletes) as one batch and returns the new root.
    /// The result does not depend on the order; a key given twice takes its last value.
    /// Only new nodes are written, in one `put_batch`; on error nothing changes.
    pub fn update(&mut self, updates: &[(Felt, Felt)]) -> Result<Felt, TrieError> {
        let (root, created) = self.compute_update(updates)?;
        self.store.put_batch(&created)?;
        self.root = root;
        Ok(root)
    }

    /// What `update` would do, without doing it: the new root and the nodes it would write.
    pub fn compute_update(
        &self,
        updates: &[(Felt, Felt)],
    ) -> Result<(Felt, Vec<(Felt, Node)>), TrieError> {
        let updates = update::prepare(updates)?;
        if updates.is_empty() {
            return Ok((self.root, Vec::new()));
        }
        let shape = Planner::new(&self.store).plan(self.root, &updates)?;
        Ok(update::commit(shape))
    }

    /// Follows `key` from the root, showing each node to `visit`; returns the key's value.
    pub(super) fn walk(&self, key: &Felt, mut visit: impl FnMut(Node)) -> Result<Felt, TrieError> {
        let bits = key_bits(key)?;
        let (mut hash, mut depth) = (self.root, 0u8);
        // Only the empty trie's root is 0: binary nodes never have empty children.
        while depth < HEIGHT && hash != Felt::ZERO {
            let node = load(&self.store, hash, depth)?;
            visit(node);
            match descend(node, &bits, depth) {
                Some(next) => (hash, depth) = next,
                None => return Ok(Felt::ZERO),
            }
        }
        // At depth 251 the "hash" is the leaf's value.
        Ok(hash)
    }
}

/// One step down a key's path: the child's hash and depth, or None where an edge leaves the
/// path (the key is absent).
pub(super) fn descend(node: Node, bits: &Bits, depth: u8) -> Option<(Felt, u8)> {
    match node {
        Node::Binary { left, right } => {
            let next = if bits.bit_at_depth(depth) {
                right
            } else {
                left
            };
            Some((next, depth + 1))
        }
        Node::Edge {
            child,
            path,
            length,
        } => (bits.segment(depth, length) == Bits::from_felt(&path))
            .then_some((child, depth + length)),
    }
}
