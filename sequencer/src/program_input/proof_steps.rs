//! An account's trie proof as the block program reads it: the key's bit at each binary
//! node, and, when the account is absent, how the key splits the edge it leaves.

use starknet_types_core::felt::Felt;

use super::input::{ProgramInputError, ProofStep};
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
