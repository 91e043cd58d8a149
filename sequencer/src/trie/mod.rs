//! Starknet's binary Merkle-Patricia trie of height 251 with Poseidon node hashes:
//! binary node `H(left, right)`, edge node `H(child, path) + length`, a leaf's hash is its
//! value, the empty trie's root is 0, and a value of 0 means "absent".
//! Nodes live in a `NodeStore` keyed by hash and are never deleted, so every past root stays
//! readable; a store filled only with proof nodes is a partial trie that can still be
//! updated along the proven paths.
//!
//! Layout: `bits` (key arithmetic, also the program input's), `memory` and `overlay`
//! (stores), `update` (batch updates), `proof` (proofs, multiproofs, witnesses and their
//! verification), `patricia` (the `Trie` handle tying them together).

use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use crate::hash::h;

pub(crate) mod bits;
mod memory;
mod overlay;
mod patricia;
mod proof;
mod update;

pub use memory::MemoryNodes;
pub use overlay::Overlay;
pub use patricia::Trie;
pub use proof::verify_proof;

/// Number of key bits: keys are below 2^251.
pub const HEIGHT: u8 = 251;

/// An inner node, naming its children by hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    Binary {
        left: Felt,
        right: Felt,
    },
    /// `path` holds `length` bits (most significant first) that lead to `child`.
    Edge {
        child: Felt,
        path: Felt,
        length: u8,
    },
}

impl Node {
    /// The node's hash: `H(left, right)` or `H(child, path) + length`.
    pub fn hash(&self) -> Felt {
        match *self {
            Node::Binary { left, right } => h(left, right),
            Node::Edge {
                child,
                path,
                length,
            } => h(child, path) + Felt::from(length),
        }
    }

    /// Compact encoding for databases: `0, left, right` (65 bytes) or
    /// `1, child, path, length` (66 bytes), felts as 32 big-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(66);
        match self {
            Node::Binary { left, right } => {
                out.push(0);
                out.extend_from_slice(&left.to_bytes_be());
                out.extend_from_slice(&right.to_bytes_be());
            }
            Node::Edge {
                child,
                path,
                length,
            } => {
                out.push(1);
                out.extend_from_slice(&child.to_bytes_be());
                out.extend_from_slice(&path.to_bytes_be());
                out.push(*length);
            }
        }
        out
    }

    /// Decodes `to_bytes`; refuses any other byte string, including felts not in canonical
    /// form, so that a node decodes to exactly one value.
    pub fn from_bytes(bytes: &[u8]) -> Result<Node, TrieError> {
        let bad = || TrieError::Store(format!("malformed node encoding ({} bytes)", bytes.len()));
        let felt_at = |offset: usize| -> Result<Felt, TrieError> {
            let raw: [u8; 32] = bytes
                .get(offset..offset + 32)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(bad)?;
            let felt = Felt::from_bytes_be(&raw);
            if felt.to_bytes_be() != raw {
                return Err(bad());
            }
            Ok(felt)
        };
        match (bytes.first(), bytes.len()) {
            (Some(0), 65) => Ok(Node::Binary {
                left: felt_at(1)?,
                right: felt_at(33)?,
            }),
            (Some(1), 66) => Ok(Node::Edge {
                child: felt_at(1)?,
                path: felt_at(33)?,
                length: bytes[65],
            }),
            _ => Err(bad()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    #[error("trie node {0:#x} is not in the store (a partial trie holds only proven paths)")]
    MissingNode(Felt),
    #[error("key {0:#x} is not below 2^251")]
    KeyTooLarge(Felt),
    #[error("invalid proof for key {key:#x}: {reason}")]
    BadProof { key: Felt, reason: String },
    #[error("trie store: {0}")]
    Store(String),
}

/// Where nodes live (memory, or the sequencer's database). Nodes are content-addressed:
/// `put` may be called again for a node the store already holds, with the same content.
pub trait NodeStore {
    fn get(&self, hash: &Felt) -> Result<Option<Node>, TrieError>;
    fn put(&mut self, hash: Felt, node: Node) -> Result<(), TrieError>;

    /// Stores the nodes one update created; a database overrides this to write them in one
    /// transaction.
    fn put_batch(&mut self, nodes: &[(Felt, Node)]) -> Result<(), TrieError> {
        nodes
            .iter()
            .try_for_each(|&(hash, node)| self.put(hash, node))
    }
}

impl<S: NodeStore + ?Sized> NodeStore for &mut S {
    fn get(&self, hash: &Felt) -> Result<Option<Node>, TrieError> {
        (**self).get(hash)
    }
    fn put(&mut self, hash: Felt, node: Node) -> Result<(), TrieError> {
        (**self).put(hash, node)
    }
    fn put_batch(&mut self, nodes: &[(Felt, Node)]) -> Result<(), TrieError> {
        (**self).put_batch(nodes)
    }
}

impl<S: NodeStore + ?Sized> NodeStore for Box<S> {
    fn get(&self, hash: &Felt) -> Result<Option<Node>, TrieError> {
        (**self).get(hash)
    }
    fn put(&mut self, hash: Felt, node: Node) -> Result<(), TrieError> {
        (**self).put(hash, node)
    }
    fn put_batch(&mut self, nodes: &[(Felt, Node)]) -> Result<(), TrieError> {
        (**self).put_batch(nodes)
    }
}

/// Loads the node `hash` that sits at `depth`, refusing shapes no valid trie has (they can
/// arrive through proofs or a corrupted database, and would otherwise overrun the key).
fn load<S: NodeStore + ?Sized>(store: &S, hash: Felt, depth: u8) -> Result<Node, TrieError> {
    let node = store.get(&hash)?.ok_or(TrieError::MissingNode(hash))?;
    check_shape(&node, depth)
        .map_err(|reason| TrieError::Store(format!("node {hash:#x}: {reason}")))?;
    Ok(node)
}

/// Why `node` cannot sit at `depth`, if it cannot.
fn check_shape(node: &Node, depth: u8) -> Result<(), String> {
    if depth >= HEIGHT {
        return Err(format!(
            "inner node at depth {depth}, where only leaves live"
        ));
    }
    if let Node::Edge { path, length, .. } = node {
        if *length == 0 || *length > HEIGHT - depth {
            return Err(format!("edge of length {length} at depth {depth}"));
        }
        if bits::Bits::from_felt(path).bit_len() > u32::from(*length) {
            return Err(format!(
                "edge path {path:#x} longer than its length {length}"
            ));
        }
    }
    Ok(())
}

/// A key as bits, refusing keys outside the trie.
fn key_bits(key: &Felt) -> Result<bits::Bits, TrieError> {
    let bits = bits::Bits::from_felt(key);
    if bits.bit_len() > u32::from(HEIGHT) {
        return Err(TrieError::KeyTooLarge(*key));
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::update::prepare;
    use super::*;

    #[test]
    fn node_bytes_roundtrip_and_refuse_garbage() {
        let binary = Node::Binary {
            left: Felt::from(1u8),
            right: Felt::from(2u8),
        };
        let edge = Node::Edge {
            child: Felt::from(3u8),
            path: Felt::from(5u8),
            length: 3,
        };
        for node in [binary, edge] {
            assert_eq!(Node::from_bytes(&node.to_bytes()).unwrap(), node);
        }
        assert_eq!(binary.to_bytes().len(), 65);
        assert_eq!(edge.to_bytes().len(), 66);
        assert!(Node::from_bytes(&[]).is_err());
        assert!(Node::from_bytes(&edge.to_bytes()[..65]).is_err());
        let mut wrong_tag = binary.to_bytes();
        wrong_tag[0] = 2;
        assert!(Node::from_bytes(&wrong_tag).is_err());
        // A felt at or above the prime is not canonical.
        let mut big = binary.to_bytes();
        big[1..33].copy_from_slice(&[0xff; 32]);
        assert!(Node::from_bytes(&big).is_err());
    }

    #[test]
    fn prepare_sorts_keeps_the_last_value_and_refuses_large_keys() {
        let ups = [
            (Felt::from(9u8), Felt::from(1u8)),
            (Felt::from(3u8), Felt::from(2u8)),
            (Felt::from(9u8), Felt::from(7u8)),
        ];
        let prepared = prepare(&ups).unwrap();
        let got: Vec<(Felt, Felt)> = prepared
            .iter()
            .map(|u| (u.key.to_felt(), u.value))
            .collect();
        assert_eq!(
            got,
            vec![
                (Felt::from(3u8), Felt::from(2u8)),
                (Felt::from(9u8), Felt::from(7u8))
            ]
        );
        let too_large = Felt::from(2u8).pow(251u32);
        assert!(matches!(
            prepare(&[(too_large, Felt::ONE)]),
            Err(TrieError::KeyTooLarge(_))
        ));
    }

    #[test]
    fn shape_checks() {
        let edge = |length| Node::Edge {
            child: Felt::ONE,
            path: Felt::ZERO,
            length,
        };
        assert!(check_shape(&edge(251), 0).is_ok());
        assert!(check_shape(&edge(1), 250).is_ok());
        assert!(check_shape(&edge(0), 0).is_err());
        assert!(check_shape(&edge(2), 250).is_err());
        let wide = Node::Edge {
            child: Felt::ONE,
            path: Felt::from(2u8),
            length: 1,
        };
        assert!(check_shape(&wide, 0).is_err());
        let binary = Node::Binary {
            left: Felt::ONE,
            right: Felt::TWO,
        };
        assert!(check_shape(&binary, 250).is_ok());
        assert!(check_shape(&binary, 251).is_err());
    }

    #[test]
    fn stores_read_through_and_keep_writes_local() {
        let mut base = MemoryNodes::new();
        let a = base.insert(Node::Binary {
            left: Felt::ONE,
            right: Felt::TWO,
        });
        let mut overlay = Overlay::new(&base);
        let b_node = Node::Binary {
            left: Felt::TWO,
            right: Felt::ONE,
        };
        overlay.put(b_node.hash(), b_node).unwrap();
        assert!(overlay.get(&a).unwrap().is_some());
        assert_eq!(overlay.get(&b_node.hash()).unwrap(), Some(b_node));
        assert_eq!(overlay.into_new_nodes(), vec![(b_node.hash(), b_node)]);
        assert_eq!(base.len(), 1);
        // Boxed trait objects work as stores too.
        let mut boxed: Box<dyn NodeStore> = Box::new(MemoryNodes::new());
        boxed.put_batch(&[(b_node.hash(), b_node)]).unwrap();
        assert_eq!(boxed.get(&b_node.hash()).unwrap(), Some(b_node));
    }
}
