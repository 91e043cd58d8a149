//! `SimdBackend`'s Merkle hashing and proof-of-work grinding for the Keccak channel, on the
//! CPU cores with rayon. Keccak has no SIMD kernel here (and the GPU kernels are Blake2s-only):
//! rows are hashed in parallel, one scalar Keccak-f[1600] sponge per row, driven directly
//! (the `keccak` crate's permutation) rather than through `sha3`'s buffered hasher: about
//! twice the hashes per second, measured.
//!
//! Leaves follow Stwo's lifted Merkle commitment (`CpuBackend`'s generic `build_leaves`):
//! columns sorted by increasing length, a column of `2^s` rows read at row `i` of a `2^m`
//! layer at `(i >> (m - s + 1) << 1) + (i & 1)`. Rows of a smaller size share the Keccak state
//! that absorbed them, so each value is absorbed about once, not once per leaf it lifts to.

use rayon::prelude::*;
use stwo::core::fields::m31::BaseField;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs_lifted::merkle_hasher::MerkleHasherLifted;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::{Column, ColumnOps, CpuBackend};
use stwo::prover::vcs_lifted::ops::MerkleOpsLifted;

use super::keccak::{Keccak256Channel, Keccak256Hash, Keccak256MerkleHasher};

impl ColumnOps<Keccak256Hash> for SimdBackend {
    type Column = Vec<Keccak256Hash>;

    fn bit_reverse_column(column: &mut Self::Column) {
        <CpuBackend as ColumnOps<Keccak256Hash>>::bit_reverse_column(column)
    }
}

impl MerkleOpsLifted<Keccak256MerkleHasher> for SimdBackend {
    fn build_leaves(columns: &[&BaseColumn], lifting_log_size: u32) -> Vec<Keccak256Hash> {
        let Some(last) = columns.last() else {
            return vec![Keccak256MerkleHasher::default().finalize()];
        };
        let max_log_size = last.len().ilog2();
        let groups = size_groups(columns);
        let block = 1 << max_log_size.min(LOG_LEAF_BLOCK);
        let mut leaves = vec![Keccak256Hash::default(); 1 << max_log_size];
        leaves
            .par_chunks_mut(block)
            .enumerate()
            .for_each(|(index, out)| hash_leaf_block(&groups, max_log_size, index * block, out));
        if lifting_log_size <= max_log_size {
            return leaves;
        }
        let ratio = lifting_log_size - max_log_size;
        (0..1usize << lifting_log_size)
            .into_par_iter()
            .map(|row| leaves[lifted_row(row, ratio)])
            .collect()
    }

    fn build_next_layer(prev_layer: &Vec<Keccak256Hash>) -> Vec<Keccak256Hash> {
        prev_layer
            .par_chunks_exact(2)
            .map(|pair| hash_children(&pair[0], &pair[1]))
            .collect()
    }
}

/// Leaves hashed per parallel task (2^10): the task holds the Keccak states of its rows of
/// every column size, a few hundred KiB, instead of a state per row of the whole layer.
const LOG_LEAF_BLOCK: u32 = 10;

/// Hashes the leaves `first_row..first_row + out.len()` of a `2^max_log_size` layer
/// (`out.len()` a power of two dividing `first_row`). For each column size it absorbs only the
/// rows this block lifts from: `out.len() >> ratio` of them, or two once that is below two.
fn hash_leaf_block(
    groups: &[(u32, Vec<&[BaseField]>)],
    max_log_size: u32,
    first_row: usize,
    out: &mut [Keccak256Hash],
) {
    // The rows absorbed so far: their log size, the first one's index, their states. Stwo's
    // lifted Merkle starts from two empty rows of size 2.
    let (mut log_size, mut start) = (1, 0);
    let mut states = vec![WordSponge::default(); 2];
    for (group_log_size, group) in groups {
        let ratio = max_log_size - group_log_size;
        let group_start = lifted_row(first_row, ratio);
        let count = (out.len() >> ratio).max(2);
        let step = group_log_size - log_size;
        states = (group_start..group_start + count)
            .map(|row| {
                let mut state = states[lifted_row(row, step) - start];
                absorb_row(&mut state, group, row);
                state
            })
            .collect();
        (log_size, start) = (*group_log_size, group_start);
    }
    for (leaf, state) in out.iter_mut().zip(states) {
        *leaf = state.finalize();
    }
}

/// Columns (sorted by increasing length) grouped by log size, as value slices.
fn size_groups<'a>(columns: &[&'a BaseColumn]) -> Vec<(u32, Vec<&'a [BaseField]>)> {
    let mut groups: Vec<(u32, Vec<&'a [BaseField]>)> = Vec::new();
    for column in columns {
        let log_size = column.len().ilog2();
        match groups.last_mut() {
            Some((size, group)) if *size == log_size => group.push(column.as_slice()),
            _ => groups.push((log_size, vec![column.as_slice()])),
        }
    }
    groups
}

/// The row of a layer `2^ratio` times smaller that lifts to `row`.
fn lifted_row(row: usize, ratio: u32) -> usize {
    (row >> (ratio + 1) << 1) + (row & 1)
}

/// Absorbs `row` of every column of `group`.
fn absorb_row(state: &mut WordSponge, group: &[&[BaseField]], row: usize) {
    for column in group {
        state.absorb(column[row].0);
    }
}

/// Keccak-f[1600]'s rate for Keccak-256, in bytes.
const RATE: usize = 136;

/// Keccak-256 over big-endian `uint32`s, straight on the permutation: the state is 208 bytes
/// (half of `sha3`'s buffered hasher, and one is held per row being hashed) and a word is one
/// XOR into its lane. Equal to `sha3::Keccak256` of the same bytes (tested).
#[derive(Clone, Copy, Default)]
struct WordSponge {
    state: [u64; 25],
    /// Bytes absorbed into the current rate block (a multiple of 4, below [`RATE`]).
    offset: usize,
}

impl WordSponge {
    fn absorb(&mut self, word: u32) {
        // Lanes are little-endian: the word's big-endian bytes are its byte-swap.
        self.state[self.offset / 8] ^= u64::from(word.swap_bytes()) << (8 * (self.offset % 8));
        self.offset += 4;
        if self.offset == RATE {
            keccak::f1600(&mut self.state);
            self.offset = 0;
        }
    }

    fn finalize(mut self) -> Keccak256Hash {
        // Keccak padding: 0x01 after the message, 0x80 in the rate block's last byte.
        self.state[self.offset / 8] ^= 0x01 << (8 * (self.offset % 8));
        self.state[RATE / 8 - 1] ^= 0x80 << 56;
        keccak::f1600(&mut self.state);
        squeeze(&self.state)
    }
}

/// The first 32 bytes of a Keccak state.
fn squeeze(state: &[u64; 25]) -> Keccak256Hash {
    let mut hash = [0u8; 32];
    for (bytes, lane) in hash.chunks_exact_mut(8).zip(state) {
        bytes.copy_from_slice(&lane.to_le_bytes());
    }
    Keccak256Hash(hash)
}

/// `keccak256(left ‖ right)`: one padded block, one permutation.
fn hash_children(left: &Keccak256Hash, right: &Keccak256Hash) -> Keccak256Hash {
    let mut state = [0u64; 25];
    for (lane, bytes) in state
        .iter_mut()
        .zip(left.0.chunks_exact(8).chain(right.0.chunks_exact(8)))
    {
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        *lane = u64::from_le_bytes(word);
    }
    state[8] = 0x01;
    state[RATE / 8 - 1] ^= 0x80 << 56;
    keccak::f1600(&mut state);
    squeeze(&state)
}

/// Nonces per parallel batch, and per task inside a batch (tried in order, in a tight loop).
/// The first accepted nonce of the first batch holding one is returned, so the proof does not
/// depend on the thread count.
const GRIND_BATCH: u64 = 1 << 20;
const GRIND_TASK: u64 = 1 << 12;

impl GrindOps<Keccak256Channel> for SimdBackend {
    fn grind(channel: &Keccak256Channel, pow_bits: u32) -> u64 {
        let prefix = prefix_lanes(&channel.pow_prefix_digest(pow_bits));
        (0..)
            .step_by(GRIND_BATCH as usize)
            .find_map(|batch: u64| {
                (0..GRIND_BATCH / GRIND_TASK)
                    .into_par_iter()
                    .find_map_first(|task| {
                        let first = batch + task * GRIND_TASK;
                        (first..first + GRIND_TASK)
                            .map(nonce_at)
                            .find(|nonce| pow_leading_zeros(&prefix, *nonce) >= pow_bits)
                    })
            })
            .expect("the nonce space is not exhausted")
    }
}

/// The proof of work's first hash as the Keccak lanes it fills (little-endian words).
fn prefix_lanes(prefix: &Keccak256Hash) -> [u64; 4] {
    std::array::from_fn(|i| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&prefix.0[8 * i..8 * i + 8]);
        u64::from_le_bytes(bytes)
    })
}

/// Leading zeros (big-endian, first 128 bits) of `keccak256(prefix ‖ uint64(nonce))`: the
/// 40-byte message fits one rate block, so it is absorbed and padded by hand around a single
/// Keccak-f[1600] (twice the rate of `sha3`'s buffered hasher, measured).
fn pow_leading_zeros(prefix: &[u64; 4], nonce: u64) -> u32 {
    let mut state = [0u64; 25];
    state[..4].copy_from_slice(prefix);
    // Bytes 32..40: the nonce, big-endian (lanes are read little-endian); then the padding
    // 0x01 ... 0x80 of the 136-byte rate block.
    state[4] = nonce.swap_bytes();
    state[5] = 0x01;
    state[RATE / 8 - 1] = 0x80 << 56;
    keccak::f1600(&mut state);
    ((u128::from(state[0].swap_bytes()) << 64) | u128::from(state[1].swap_bytes())).leading_zeros()
}

/// The `n`-th nonce tried: both 32-bit halves stay below the M31 prime (as Stwo's Blake2s
/// grinder keeps them), for verifiers that read a nonce as two base-field elements.
fn nonce_at(n: u64) -> u64 {
    const LOW_BITS: u32 = 30;
    ((n >> LOW_BITS) << 32) | (n & ((1 << LOW_BITS) - 1))
}

#[cfg(test)]
mod tests {
    use stwo::core::channel::Channel;
    use stwo::core::fields::m31::{M31, P};
    use stwo::core::vcs_lifted::verifier::MerkleVerifierLifted;
    use stwo::prover::vcs_lifted::prover::MerkleProverLifted;

    use super::*;
    use crate::channel::keccak::{keccak256, leading_zeros};

    /// Columns of mixed sizes, sorted by length, some sizes repeated, one group larger than a
    /// rate block and the largest spanning several leaf blocks, with values from a seeded
    /// splitmix64.
    fn columns(seed: u64) -> Vec<Vec<BaseField>> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            M31::from(((z ^ (z >> 31)) % u64::from(P)) as u32)
        };
        let log_sizes = [1, 3, 3, 4, 6, 6, 6, 11]
            .into_iter()
            .chain(std::iter::repeat_n(12, 40));
        log_sizes
            .map(|log| (0..1 << log).map(|_| next()).collect())
            .collect()
    }

    #[test]
    fn leaves_and_layers_equal_stwos_generic_lifted_merkle() {
        let cpu = columns(16);
        let simd: Vec<BaseColumn> = cpu.iter().map(|c| BaseColumn::from_cpu(c)).collect();
        for lifting in [12, 14] {
            let expected = <CpuBackend as MerkleOpsLifted<Keccak256MerkleHasher>>::build_leaves(
                &cpu.iter().collect::<Vec<_>>(),
                lifting,
            );
            let actual = <SimdBackend as MerkleOpsLifted<Keccak256MerkleHasher>>::build_leaves(
                &simd.iter().collect::<Vec<_>>(),
                lifting,
            );
            assert_eq!(actual, expected, "lifting to 2^{lifting}");
            assert_eq!(
                <SimdBackend as MerkleOpsLifted<Keccak256MerkleHasher>>::build_next_layer(&actual),
                <CpuBackend as MerkleOpsLifted<Keccak256MerkleHasher>>::build_next_layer(&expected),
            );
        }
    }

    #[test]
    fn commitments_decommit_and_verify() {
        let cpu = columns(17);
        let simd: Vec<BaseColumn> = cpu.iter().map(|c| BaseColumn::from_cpu(c)).collect();
        let lifting = 13;
        let tree = MerkleProverLifted::<SimdBackend, Keccak256MerkleHasher>::commit(
            simd.iter().collect(),
            lifting,
            0,
        );
        let queries = vec![3, 77, 2000, 8191];
        let (values, decommitment) = tree.decommit(&queries, simd.iter().collect());
        let log_sizes: Vec<u32> = simd.iter().map(|c| c.len().ilog2()).collect();
        let verifier = MerkleVerifierLifted::<Keccak256MerkleHasher>::new(
            tree.root(),
            log_sizes.clone(),
            Some(lifting),
        );
        verifier
            .verify(&queries, values.clone(), decommitment.decommitment.clone())
            .expect("an honest decommitment verifies");
        let mut tampered = values;
        tampered[5][1] += M31::from(1);
        assert!(verifier
            .verify(&queries, tampered, decommitment.decommitment)
            .is_err());
    }

    #[test]
    fn grinding_finds_the_smallest_accepted_nonce() {
        let mut channel = Keccak256Channel::default();
        channel.mix_u64(42);
        for bits in [0, 4, 12] {
            let nonce = SimdBackend::grind(&channel, bits);
            assert!(channel.verify_pow_nonce(bits, nonce));
            assert!((0..nonce).all(|n| !channel.verify_pow_nonce(bits, n)));
            let prefix = channel.pow_prefix_digest(bits);
            let hash = keccak256(&[&prefix.0, &nonce.to_be_bytes()]);
            assert!(leading_zeros(&hash) >= bits);
        }
        // After mixing the nonce, the digest is keccak256(digest ‖ uint64(nonce)).
        let nonce = SimdBackend::grind(&channel, 12);
        let before = channel.digest();
        channel.mix_u64(nonce);
        assert_eq!(
            channel.digest(),
            keccak256(&[&before.0, &nonce.to_be_bytes()])
        );
    }

    #[test]
    fn word_sponge_and_node_hash_equal_keccak256() {
        // Lengths around the rate block (34 words) and its multiples.
        for n_words in [0, 1, 2, 33, 34, 35, 67, 68, 69, 200] {
            let words: Vec<u32> = (0..n_words)
                .map(|i| 0x8765_4321 ^ (i * 0x0101_0101))
                .collect();
            let mut sponge = WordSponge::default();
            words.iter().for_each(|w| sponge.absorb(*w));
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
            assert_eq!(sponge.finalize(), keccak256(&[&bytes]), "{n_words} words");
        }
        let (left, right) = (keccak256(&[b"l"]), keccak256(&[b"r"]));
        assert_eq!(
            hash_children(&left, &right),
            Keccak256MerkleHasher::hash_children((left, right))
        );
    }

    #[test]
    fn hand_padded_pow_hashes_equal_keccak256() {
        let prefix = keccak256(&[b"prefix"]);
        for nonce in [0, 1, 0x0123_4567_89ab_cdef, u64::MAX] {
            let hash = keccak256(&[&prefix.0, &nonce.to_be_bytes()]);
            assert_eq!(
                pow_leading_zeros(&prefix_lanes(&prefix), nonce),
                leading_zeros(&hash),
                "nonce {nonce:#x}"
            );
        }
    }

    #[test]
    fn nonces_keep_both_halves_below_the_prime() {
        for n in [0, (1 << 30) - 1, 1 << 30, (1 << 40) + 5] {
            let nonce = nonce_at(n);
            assert!((nonce as u32) < P);
            assert!(((nonce >> 32) as u32) < P);
        }
        assert_eq!(nonce_at(1 << 30), 1 << 32);
    }
}
