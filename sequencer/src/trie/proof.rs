//! Proofs. A proof for a key lists the nodes from the root down its path: it ends at the
//! leaf's parent when the key is present, or at the edge its path leaves when it is absent.
//! The union of proofs for some keys (a multiproof) in a `MemoryNodes` is a partial trie
//! that reads and updates those keys; `update_witness` adds what deletions need besides.

use std::collections::HashSet;

use starknet_types_core::felt::Felt;

use super::bits::Bits;
use super::patricia::{descend, Trie};
use super::update::{self, Planner};
use super::{check_shape, key_bits, load, Node, NodeStore, TrieError, HEIGHT};

impl<S: NodeStore> Trie<S> {
    /// The nodes along `key`'s path (empty for the empty trie).
    pub fn proof(&self, key: Felt) -> Result<Vec<Node>, TrieError> {
        let mut nodes = Vec::new();
        self.walk(&key, |node| nodes.push(node))?;
        Ok(nodes)
    }

    /// The union of the proofs of `keys`, each node once, parents before children.
    pub fn multiproof(&self, keys: &[Felt]) -> Result<Vec<Node>, TrieError> {
        let mut sorted = keys.iter().map(key_bits).collect::<Result<Vec<_>, _>>()?;
        sorted.sort_unstable();
        sorted.dedup();
        let mut proof = Proof::default();
        self.collect(self.root, 0, &sorted, &mut proof)?;
        Ok(proof.nodes)
    }

    /// Every node that applying `updates` reads: the multiproof of their keys, plus, where a
    /// deletion empties one side of a binary node, the node on the other side (it merges
    /// into an edge, so its kind matters and a proof only names it by hash). A partial trie
    /// over these nodes computes the same new root as the full trie.
    pub fn update_witness(&self, updates: &[(Felt, Felt)]) -> Result<Vec<Node>, TrieError> {
        let updates = update::prepare(updates)?;
        let mut planner = Planner::recording(&self.store);
        planner.plan(self.root, &updates)?;
        let mut proof = Proof::default();
        planner
            .into_read()
            .into_iter()
            .for_each(|(hash, node)| proof.add(hash, node));
        Ok(proof.nodes)
    }

    /// Adds the nodes on the paths of the sorted `keys` below the node `hash` at `depth`.
    fn collect(
        &self,
        hash: Felt,
        depth: u8,
        keys: &[Bits],
        proof: &mut Proof,
    ) -> Result<(), TrieError> {
        if keys.is_empty() || depth == HEIGHT || hash == Felt::ZERO {
            return Ok(());
        }
        let node = load(&self.store, hash, depth)?;
        proof.add(hash, node);
        match node {
            Node::Binary { left, right } => {
                let split = keys.partition_point(|key| !key.bit_at_depth(depth));
                self.collect(left, depth + 1, &keys[..split], proof)?;
                self.collect(right, depth + 1, &keys[split..], proof)
            }
            Node::Edge {
                child,
                path,
                length,
            } => {
                // The keys are sorted and share the bits above `depth`, so those that follow
                // the edge are a contiguous run.
                let path = Bits::from_felt(&path);
                let start = keys.partition_point(|key| key.segment(depth, length) < path);
                let end = keys.partition_point(|key| key.segment(depth, length) <= path);
                self.collect(child, depth + length, &keys[start..end], proof)
            }
        }
    }
}

/// Nodes in first-seen order, without repeats.
#[derive(Default)]
struct Proof {
    seen: HashSet<Felt>,
    nodes: Vec<Node>,
}

impl Proof {
    fn add(&mut self, hash: Felt, node: Node) {
        if self.seen.insert(hash) {
            self.nodes.push(node);
        }
    }
}

/// Checks `proof` for `key` against `root` and returns the key's value (0 when the proof
/// shows the key absent).
pub fn verify_proof(root: Felt, key: Felt, proof: &[Node]) -> Result<Felt, TrieError> {
    let bad = |reason: String| TrieError::BadProof { key, reason };
    let bits = key_bits(&key)?;
    let (mut expected, mut depth) = (root, 0u8);
    for (index, node) in proof.iter().enumerate() {
        if depth == HEIGHT || expected == Felt::ZERO {
            return Err(bad(format!(
                "node {index} lies below the key's leaf or an empty subtree"
            )));
        }
        if node.hash() != expected {
            return Err(bad(format!("node {index} does not hash to {expected:#x}")));
        }
        check_shape(node, depth).map_err(|reason| bad(format!("node {index}: {reason}")))?;
        match descend(*node, &bits, depth) {
            Some(next) => (expected, depth) = next,
            None => return absent_at(index, proof.len()).map_err(bad),
        }
    }
    match (depth, expected) {
        (HEIGHT, value) => Ok(value),
        (_, root) if root == Felt::ZERO && proof.is_empty() => Ok(Felt::ZERO),
        _ => Err(bad(format!(
            "proof stops at depth {depth}, above the key's leaf"
        ))),
    }
}

/// The key leaves the trie at node `index`: that must be the proof's last node.
fn absent_at(index: usize, len: usize) -> Result<Felt, String> {
    if index + 1 == len {
        Ok(Felt::ZERO)
    } else {
        Err(format!(
            "node {index} is an edge the key leaves, yet {} nodes follow",
            len - index - 1
        ))
    }
}
