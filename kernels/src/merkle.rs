//! [`GpuBlake2sHasher`]: a Merkle hasher that hashes exactly like Stwo's
//! `Blake2sMerkleHasher`, and whose `MerkleOpsLifted` for `SimdBackend` runs on the GPU
//! ([`crate::device::global`]), falling back to Stwo's SIMD code when there is no device, the
//! layer is small, or the device fails. A commitment made with it is the same bytes as one made
//! with `Blake2sMerkleHasher`, so Stwo's verifier for that hasher accepts it.

use bytemuck::cast_slice;
use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::BaseField;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;
use stwo::core::vcs_lifted::merkle_hasher::MerkleHasherLifted;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::Col;
use stwo::prover::vcs_lifted::ops::MerkleOpsLifted;

use crate::device;

/// `Blake2sMerkleHasher`, under a project type so that `SimdBackend`'s Merkle operations for it
/// can be ours.
#[derive(Clone, Debug, Default)]
pub struct GpuBlake2sHasher(Blake2sMerkleHasher);

impl MerkleHasherLifted for GpuBlake2sHasher {
    type Hash = Blake2sHash;

    fn hash_children(children_hashes: (Blake2sHash, Blake2sHash)) -> Blake2sHash {
        Blake2sMerkleHasher::hash_children(children_hashes)
    }

    fn update_leaf(&mut self, column_values: &[BaseField]) {
        self.0.update_leaf(column_values)
    }

    fn finalize(self) -> Blake2sHash {
        MerkleHasherLifted::finalize(self.0)
    }
}

// Serialised like Stwo's `Blake2sMerkleHasher`: a struct with no fields; deserialising reads
// nothing.
impl Serialize for GpuBlake2sHasher {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        serializer
            .serialize_struct("Blake2sMerkleHasherGeneric", 1)?
            .end()
    }
}

impl<'de> Deserialize<'de> for GpuBlake2sHasher {
    fn deserialize<D: serde::Deserializer<'de>>(_deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::default())
    }
}

/// Hash of leaf `leaf` computed on the host: used to spot-check device output.
fn host_leaf(columns: &[&[u32]], lifting_log_size: u32, leaf: usize) -> Blake2sHash {
    let words: Vec<u32> = columns
        .iter()
        .map(|c| c[crate::plan::lifted_index(leaf, lifting_log_size, c.len().ilog2())])
        .collect();
    Blake2sHash(crate::blake2s::state_to_bytes(&crate::blake2s::hash_words(
        &words,
    )))
}

impl MerkleOpsLifted<GpuBlake2sHasher> for SimdBackend {
    /// Stwo's contract: `columns` sorted by increasing length, lengths powers of two `>= 2`.
    fn build_leaves(columns: &[&Col<Self, BaseField>], lifting_log_size: u32) -> Vec<Blake2sHash> {
        if !columns.is_empty() && lifting_log_size >= device::min_log_rows() {
            if let Some(gpu) = device::global() {
                let words: Vec<&[u32]> = columns
                    .iter()
                    .map(|c| cast_slice::<BaseField, u32>(c.as_slice()))
                    .collect();
                let leaves = device::run("Merkle leaves", || {
                    let leaves = gpu.merkle_leaves(&words, lifting_log_size)?;
                    // A broken device must not produce a wrong proof: spot-check two leaves.
                    let _check = tracing::trace_span!("GPU check").entered();
                    let last = leaves.len().saturating_sub(1);
                    for leaf in [0, last] {
                        if leaves.get(leaf) != Some(&host_leaf(&words, lifting_log_size, leaf)) {
                            return Err(crate::KernelError::Device {
                                backend: gpu.kind(),
                                message: format!("leaf {leaf} differs from the host hash"),
                            });
                        }
                    }
                    Ok(leaves)
                });
                if let Some(leaves) = leaves {
                    return leaves;
                }
            }
        }
        <Self as MerkleOpsLifted<Blake2sMerkleHasher>>::build_leaves(columns, lifting_log_size)
    }

    fn build_next_layer(prev_layer: &Vec<Blake2sHash>) -> Vec<Blake2sHash> {
        let log_rows = prev_layer.len().ilog2().saturating_sub(1);
        if log_rows >= device::min_log_rows() {
            if let Some(gpu) = device::global() {
                let layer = device::run("Merkle layer", || {
                    let layer = gpu.merkle_next_layer(prev_layer)?;
                    let expected =
                        Blake2sMerkleHasher::hash_children((prev_layer[0], prev_layer[1]));
                    if layer.first() != Some(&expected) || layer.len() != prev_layer.len() / 2 {
                        return Err(crate::KernelError::Device {
                            backend: gpu.kind(),
                            message: "node 0 differs from the host hash".into(),
                        });
                    }
                    Ok(layer)
                });
                if let Some(layer) = layer {
                    return layer;
                }
            }
        }
        <Self as MerkleOpsLifted<Blake2sMerkleHasher>>::build_next_layer(prev_layer)
    }
}
