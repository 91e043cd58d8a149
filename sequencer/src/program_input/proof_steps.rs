//! An account's trie proof as the block program reads it: the key's bit at each binary
//! node, and, when the account is absent, how the key splits the edge it leaves.

use starknet_types_core::felt::Felt;

use super::input::{ProgramInputError, ProofStep, SharedStep};
use crate::trie::bits::Bits;
use crate::trie::{Node, TrieError, HEIGHT};

/// The program's view of `address`'s proof `nodes` (root-down): key bits at binary nodes,
/// and the split of the edge the key leaves, if it is absent.
pub(super) fn proof_steps(
    address: Felt,
    nodes: &[Node],
) -> Result<Vec<ProofStep>, ProgramInputError> {
    let bad = |reason: &str| TrieError::BadProof {
        key: address,
        reason: reason.to_string(),
    };
    let key = Bits::from_felt(&address);
    let height = u32::from(HEIGHT);
    let mut depth = 0u32;
    let mut steps = Vec::with_capacity(nodes.len());
    for (index, node) in nodes.iter().enumerate() {
        match *node {
            Node::Binary { left, right } => {
                if depth >= height {
                    return Err(bad("binary node below the leaves").into());
                }
                steps.push(ProofStep::Binary {
                    left,
                    right,
                    bit: key.bit(height - 1 - depth),
                });
                depth += 1;
            }
            Node::Edge {
                child,
                path,
                length,
            } => {
                let len = u32::from(length);
                if len == 0 || depth + len > height {
                    return Err(bad("edge length out of range").into());
                }
                let segment = key.shr(height - depth - len).low(len);
                let path_bits = Bits::from_felt(&path);
                if segment == path_bits {
                    steps.push(ProofStep::Edge {
                        child,
                        path,
                        length,
                    });
                    depth += len;
                    continue;
                }
                if index + 1 != nodes.len() {
                    return Err(bad("the key leaves an edge before the proof's last node").into());
                }
                // Highest differing bit (from the least significant end of the path).
                let differ = segment.xor(path_bits).bit_len() - 1;
                let common = len - 1 - differ;
                let new_length = height - depth - common - 1;
                steps.push(ProofStep::EdgeLeaves {
                    child,
                    path,
                    length,
                    common: common as u8,
                    bit: path_bits.bit(differ),
                    new_length: new_length as u8,
                    common_path: path_bits.shr(differ + 1).to_felt(),
                    old_rest: path_bits.low(differ).to_felt(),
                    new_rest: key.low(new_length).to_felt(),
                });
            }
        }
    }
    Ok(steps)
}

/// The union of the paths of `addresses` (sorted, strictly increasing, all present in the
/// trie; `proofs[i]` is the root-down proof of `addresses[i]`) as the program's pre-order
/// records (`shared_update` in `block.cairo`). Empty for no address. Public so that tests can
/// build the records of another set of accounts (a dishonest prover's).
pub fn shared_steps(
    addresses: &[Felt],
    proofs: &[Vec<Node>],
) -> Result<Vec<SharedStep>, ProgramInputError> {
    let keys: Vec<Bits> = addresses.iter().map(Bits::from_felt).collect();
    let mut out = Vec::new();
    if !addresses.is_empty() {
        let union = Union {
            addresses,
            keys: &keys,
            proofs,
        };
        union.walk(0, addresses.len(), 0, 0, &mut out)?;
    }
    Ok(out)
}

struct Union<'a> {
    addresses: &'a [Felt],
    keys: &'a [Bits],
    proofs: &'a [Vec<Node>],
}

impl Union<'_> {
    /// Records the subtree holding keys `start..end`, which share its node: the `index`-th
    /// of each of their proofs, at `depth` below the root.
    fn walk(
        &self,
        start: usize,
        end: usize,
        index: usize,
        depth: u32,
        out: &mut Vec<SharedStep>,
    ) -> Result<(), TrieError> {
        let bad = |reason: &str| TrieError::BadProof {
            key: self.addresses[start],
            reason: reason.to_string(),
        };
        let height = u32::from(HEIGHT);
        if depth == height {
            return match end - start {
                1 => Ok(()),
                _ => Err(bad("two keys reach one leaf")),
            };
        }
        let node = self.proofs[start]
            .get(index)
            .ok_or_else(|| bad("a present key's proof ends above its leaf"))?;
        match *node {
            Node::Binary { left, right } => {
                let bit = height - 1 - depth;
                // Sorted keys: those going left come first.
                let split = start
                    + self.keys[start..end]
                        .iter()
                        .take_while(|k| !k.bit(bit))
                        .count();
                if split == start {
                    out.push(SharedStep::Right { left });
                    self.walk(start, end, index + 1, depth + 1, out)
                } else if split == end {
                    out.push(SharedStep::Left { right });
                    self.walk(start, end, index + 1, depth + 1, out)
                } else {
                    out.push(SharedStep::Both);
                    self.walk(start, split, index + 1, depth + 1, out)?;
                    self.walk(split, end, index + 1, depth + 1, out)
                }
            }
            Node::Edge { path, length, .. } => {
                let len = u32::from(length);
                if len == 0 || depth + len > height {
                    return Err(bad("edge length out of range"));
                }
                let path_bits = Bits::from_felt(&path);
                let follows = self.keys[start..end]
                    .iter()
                    .all(|k| k.shr(height - depth - len).low(len) == path_bits);
                if !follows {
                    return Err(bad("a present key leaves an edge"));
                }
                out.push(SharedStep::Edge { path, length });
                self.walk(start, end, index + 1, depth + len, out)
            }
        }
    }
}
