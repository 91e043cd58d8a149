//! The Poseidon Merkle-Patricia trie against hand-computed vectors, an independent
//! from-scratch root computation, the account storage closed form, proofs and partial
//! tries, and a published Starknet class-trie root.

// Helpers outside `#[test]` functions panic on failure just like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use starfarm_sequencer::hash::short_string;
use starfarm_sequencer::state::AccountState;
use starfarm_sequencer::testing::Rng;
use starfarm_sequencer::trie::{
    verify_proof, MemoryNodes, Node, NodeStore, Overlay, Trie, TrieError, HEIGHT,
};
use starfarm_sequencer::Felt;
use starknet_crypto::poseidon_hash as h;

// ---------------------------------------------------------------------------------------
// Helpers: a deterministic generator, an independent reference root, a shape checker.
// ---------------------------------------------------------------------------------------

/// Trie keys: a third of them cluster (shared high bits, long edges).
trait TrieKeys {
    fn key(&mut self) -> Felt;
}

impl TrieKeys for Rng {
    fn key(&mut self) -> Felt {
        let mut bytes = self.bytes();
        bytes[0] &= 0x07;
        if self.below(3) == 0 {
            bytes[..28].copy_from_slice(&[0x03; 28]);
        }
        Felt::from_bytes_be(&bytes)
    }
}

fn felt(n: u64) -> Felt {
    Felt::from(n)
}

fn two_pow(n: u32) -> Felt {
    Felt::from(2u8).pow(n)
}

/// Root of the leaves computed from scratch with the textbook recursion (split on the
/// longest common prefix), using `to_bits_be` and `poseidon_hash` only: shares no code with
/// the trie's incremental update.
fn reference_root(leaves: &BTreeMap<Felt, Felt>) -> Felt {
    let entries: Vec<([bool; 256], Felt)> = leaves
        .iter()
        .filter(|(_, value)| **value != Felt::ZERO)
        .map(|(key, value)| (key.to_bits_be(), *value))
        .collect();
    if entries.is_empty() {
        return Felt::ZERO;
    }
    reference_node(&entries, 0)
}

fn reference_node(entries: &[([bool; 256], Felt)], depth: usize) -> Felt {
    let bit = |entry: &([bool; 256], Felt), d: usize| entry.0[256 - 251 + d];
    if depth == 251 {
        return entries[0].1;
    }
    let (first, last) = (&entries[0], &entries[entries.len() - 1]);
    let mut shared = 0;
    while depth + shared < 251 && bit(first, depth + shared) == bit(last, depth + shared) {
        shared += 1;
    }
    if shared > 0 {
        let path = (depth..depth + shared).fold(Felt::ZERO, |acc, d| {
            acc.double() + if bit(first, d) { Felt::ONE } else { Felt::ZERO }
        });
        let child = reference_node(entries, depth + shared);
        return h(child, path) + Felt::from(shared as u64);
    }
    let split = entries.iter().position(|entry| bit(entry, depth)).unwrap();
    h(
        reference_node(&entries[..split], depth + 1),
        reference_node(&entries[split..], depth + 1),
    )
}

/// Walks the whole trie and checks Starknet's shape rules: binary nodes have two non-empty
/// children, edges are maximal (never directly above another edge) and stay within 251
/// bits. Returns the number of leaves.
fn check_shape<S: NodeStore>(trie: &Trie<S>) -> usize {
    if trie.root() == Felt::ZERO {
        return 0;
    }
    count_leaves(trie.store(), trie.root(), 0, false)
}

fn count_leaves<S: NodeStore>(store: &S, hash: Felt, depth: u32, under_edge: bool) -> usize {
    if depth == 251 {
        assert_ne!(hash, Felt::ZERO, "empty leaf in the trie");
        return 1;
    }
    let node = store.get(&hash).unwrap().expect("node present");
    assert_eq!(node.hash(), hash);
    match node {
        Node::Binary { left, right } => {
            assert!(
                left != Felt::ZERO && right != Felt::ZERO,
                "binary node with an empty side"
            );
            count_leaves(store, left, depth + 1, false)
                + count_leaves(store, right, depth + 1, false)
        }
        Node::Edge {
            child,
            length,
            path,
        } => {
            assert!(!under_edge, "edge directly under an edge at depth {depth}");
            assert!(length >= 1 && depth + u32::from(length) <= 251);
            assert!(path.bits() <= usize::from(length));
            count_leaves(store, child, depth + u32::from(length), true)
        }
    }
}

fn random_leaves(rng: &mut Rng, n: usize) -> BTreeMap<Felt, Felt> {
    (0..n).map(|_| (rng.key(), rng.felt())).collect()
}

fn trie_of(leaves: &BTreeMap<Felt, Felt>) -> Trie<MemoryNodes> {
    let mut trie = Trie::empty(MemoryNodes::new());
    let updates: Vec<(Felt, Felt)> = leaves.iter().map(|(k, v)| (*k, *v)).collect();
    trie.update(&updates).unwrap();
    trie
}

// ---------------------------------------------------------------------------------------
// 1. Hand-built vectors.
// ---------------------------------------------------------------------------------------

#[test]
fn empty_trie_has_root_zero() {
    let mut trie = Trie::empty(MemoryNodes::new());
    assert_eq!(trie.root(), Felt::ZERO);
    assert_eq!(trie.get(felt(5)).unwrap(), Felt::ZERO);
    assert_eq!(trie.update(&[]).unwrap(), Felt::ZERO);
    assert_eq!(trie.update(&[(felt(5), Felt::ZERO)]).unwrap(), Felt::ZERO);
    assert!(trie.store().is_empty());
}

#[test]
fn single_leaf_is_one_edge_of_length_251() {
    let (key, value) = (felt(0x1234), felt(0x99));
    let mut trie = Trie::empty(MemoryNodes::new());
    let root = trie.update(&[(key, value)]).unwrap();
    assert_eq!(root, h(value, key) + felt(251));
    assert_eq!(trie.get(key).unwrap(), value);
    assert_eq!(trie.get(felt(0x1235)).unwrap(), Felt::ZERO);

    // The top key: 251 one bits.
    let top = two_pow(251) - Felt::ONE;
    let mut trie = Trie::empty(MemoryNodes::new());
    assert_eq!(
        trie.update(&[(top, value)]).unwrap(),
        h(value, top) + felt(251)
    );
    assert_eq!(trie.get(top).unwrap(), value);
}

#[test]
fn two_leaves_differing_in_the_last_bit() {
    let prefix = felt(0xabcdef);
    let (k0, k1) = (prefix.double(), prefix.double() + Felt::ONE);
    let (v0, v1) = (felt(10), felt(11));
    let mut trie = Trie::empty(MemoryNodes::new());
    let root = trie.update(&[(k1, v1), (k0, v0)]).unwrap();
    // A binary node at depth 250 under an edge holding the first 250 bits.
    assert_eq!(root, h(h(v0, v1), prefix) + felt(250));
    assert_eq!(trie.get(k0).unwrap(), v0);
    assert_eq!(trie.get(k1).unwrap(), v1);
    assert_eq!(check_shape(&trie), 2);
}

#[test]
fn two_leaves_differing_in_the_first_bit() {
    let (low0, low1) = (felt(0x77), felt(0x1234_5678));
    let (k0, k1) = (low0, two_pow(250) + low1);
    let (v0, v1) = (felt(3), felt(4));
    let mut trie = Trie::empty(MemoryNodes::new());
    let root = trie.update(&[(k0, v0), (k1, v1)]).unwrap();
    // Binary root over two edges of length 250.
    let left = h(v0, low0) + felt(250);
    let right = h(v1, low1) + felt(250);
    assert_eq!(root, h(left, right));
    assert_eq!(trie.get(k1).unwrap(), v1);
    assert_eq!(check_shape(&trie), 2);
}

#[test]
fn three_leaves_then_deletions_back_to_one_and_to_empty() {
    // Keys 0b100, 0b101, 0b110: 248 zero bits then "1" are shared; below, 4 and 5 differ in
    // the last bit and 6 hangs alone.
    let (a, b, c) = (felt(0xa), felt(0xb), felt(0xc));
    let mut trie = Trie::empty(MemoryNodes::new());
    let root = trie
        .update(&[(felt(4), a), (felt(5), b), (felt(6), c)])
        .unwrap();
    let pair = h(a, b); // binary at depth 250
    let lone = h(c, Felt::ZERO) + felt(1); // edge "0" at depth 250 to leaf 6
    let split = h(pair, lone); // binary at depth 249
    assert_eq!(root, h(split, Felt::ONE) + felt(249));
    assert_eq!(check_shape(&trie), 3);

    // Deleting 6 collapses depth 249 into a longer edge ("10" after the shared 248 zeros).
    let root = trie.update(&[(felt(6), Felt::ZERO)]).unwrap();
    assert_eq!(root, h(pair, felt(2)) + felt(250));
    assert_eq!(check_shape(&trie), 2);

    // Deleting 5 merges everything into one edge to leaf 4.
    let root = trie.update(&[(felt(5), Felt::ZERO)]).unwrap();
    assert_eq!(root, h(a, felt(4)) + felt(251));
    assert_eq!(trie.get(felt(4)).unwrap(), a);
    assert_eq!(trie.get(felt(5)).unwrap(), Felt::ZERO);

    let root = trie.update(&[(felt(4), Felt::ZERO)]).unwrap();
    assert_eq!(root, Felt::ZERO);

    // The same deletions in one batch, from the three-leaf root.
    let mut trie = Trie::empty(MemoryNodes::new());
    trie.update(&[(felt(4), a), (felt(5), b), (felt(6), c)])
        .unwrap();
    let root = trie
        .update(&[(felt(6), Felt::ZERO), (felt(5), Felt::ZERO)])
        .unwrap();
    assert_eq!(root, h(a, felt(4)) + felt(251));
}

#[test]
fn node_hash_formulas() {
    let node = Node::Binary {
        left: felt(1),
        right: felt(2),
    };
    assert_eq!(node.hash(), h(felt(1), felt(2)));
    let node = Node::Edge {
        child: felt(7),
        path: felt(5),
        length: 3,
    };
    assert_eq!(node.hash(), h(felt(7), felt(5)) + felt(3));
}

// ---------------------------------------------------------------------------------------
// 2. The account storage root's closed form.
// ---------------------------------------------------------------------------------------

#[test]
fn account_storage_root_matches_the_generic_trie() {
    let key = Felt::from_hex_unchecked(
        "0x3ee9e18edc71a6df30ac3aca2e0b02a198fbce19b7480a63a0d71cbd76652e0",
    );
    for (public_key, balance) in [(key, 1_000u128), (key, 0), (Felt::ZERO, 5), (Felt::ZERO, 0)] {
        let account = AccountState {
            class_hash: Felt::ONE,
            public_key,
            balance,
            nonce: 3,
        };
        let mut trie = Trie::empty(MemoryNodes::new());
        let root = trie
            .update(&[(felt(0), public_key), (felt(1), Felt::from(balance))])
            .unwrap();
        assert_eq!(
            account.storage_root(),
            root,
            "public key {public_key:#x}, balance {balance}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 3. Order independence, deletions, zero values.
// ---------------------------------------------------------------------------------------

#[test]
fn inserts_in_any_order_give_the_reference_root() {
    let mut rng = Rng(1);
    for n in [1usize, 2, 3, 17, 250] {
        let leaves = random_leaves(&mut rng, n);
        let expected = reference_root(&leaves);
        let batch = trie_of(&leaves);
        assert_eq!(batch.root(), expected, "batch, {n} leaves");
        assert_eq!(check_shape(&batch), leaves.len());

        let mut entries: Vec<(Felt, Felt)> = leaves.iter().map(|(k, v)| (*k, *v)).collect();
        for _ in 0..3 {
            rng.shuffle(&mut entries);
            let mut one_by_one = Trie::empty(MemoryNodes::new());
            for entry in &entries {
                one_by_one.update(&[*entry]).unwrap();
            }
            assert_eq!(one_by_one.root(), expected, "one by one, {n} leaves");
            let mut chunked = Trie::empty(MemoryNodes::new());
            for chunk in entries.chunks(7) {
                chunked.update(chunk).unwrap();
            }
            assert_eq!(chunked.root(), expected, "chunks, {n} leaves");
        }
        for (key, value) in &leaves {
            assert_eq!(batch.get(*key).unwrap(), *value);
        }
    }
}

#[test]
fn random_update_batches_match_the_reference() {
    let mut rng = Rng(2);
    let mut leaves = random_leaves(&mut rng, 300);
    let mut trie = trie_of(&leaves);
    for round in 0..20 {
        let mut updates = Vec::new();
        let existing: Vec<Felt> = leaves.keys().copied().collect();
        for _ in 0..rng.below(60) + 1 {
            let key = match rng.below(3) {
                0 if !existing.is_empty() => existing[rng.below(existing.len())],
                _ => rng.key(),
            };
            let value = if rng.below(3) == 0 {
                Felt::ZERO
            } else {
                rng.felt()
            };
            updates.push((key, value));
        }
        for (key, value) in &updates {
            leaves.insert(*key, *value);
        }
        leaves.retain(|_, value| *value != Felt::ZERO);
        let root = trie.update(&updates).unwrap();
        assert_eq!(root, reference_root(&leaves), "round {round}");
        assert_eq!(check_shape(&trie), leaves.len());
    }
}

#[test]
fn deleting_restores_the_earlier_root_and_zero_values_are_ignored() {
    let mut rng = Rng(3);
    let base = random_leaves(&mut rng, 120);
    let mut trie = trie_of(&base);
    let before = trie.root();

    let extra: Vec<(Felt, Felt)> = (0..80).map(|_| (rng.key(), rng.felt())).collect();
    let grown = trie.update(&extra).unwrap();
    assert_ne!(grown, before);
    let deletions: Vec<(Felt, Felt)> = extra.iter().map(|(k, _)| (*k, Felt::ZERO)).collect();
    assert_eq!(trie.update(&deletions).unwrap(), before);

    // Zero for keys that are absent changes nothing.
    let absent: Vec<(Felt, Felt)> = (0..30).map(|_| (rng.key(), Felt::ZERO)).collect();
    assert_eq!(trie.update(&absent).unwrap(), before);

    // Deleting in a different order, one at a time, also restores it.
    trie.update(&extra).unwrap();
    for (key, _) in extra.iter().rev() {
        trie.update(&[(*key, Felt::ZERO)]).unwrap();
    }
    assert_eq!(trie.root(), before);

    // Past roots stay readable: nothing was ever deleted from the store.
    let old = Trie::new(trie.store().clone(), grown);
    assert_eq!(old.get(extra[0].0).unwrap(), extra[0].1);
}

#[test]
fn a_repeated_key_takes_its_last_value() {
    let mut trie = Trie::empty(MemoryNodes::new());
    let root = trie
        .update(&[(felt(9), felt(1)), (felt(8), felt(4)), (felt(9), felt(2))])
        .unwrap();
    let mut expected = Trie::empty(MemoryNodes::new());
    assert_eq!(
        root,
        expected
            .update(&[(felt(8), felt(4)), (felt(9), felt(2))])
            .unwrap()
    );
    let root = trie
        .update(&[(felt(9), felt(5)), (felt(9), Felt::ZERO)])
        .unwrap();
    assert_eq!(root, h(felt(4), felt(8)) + felt(251));
}

#[test]
fn keys_at_or_above_2_pow_251_are_refused() {
    let mut trie = Trie::empty(MemoryNodes::new());
    for key in [two_pow(251), -Felt::ONE] {
        assert!(
            matches!(trie.update(&[(key, felt(1))]), Err(TrieError::KeyTooLarge(k)) if k == key)
        );
        assert!(matches!(trie.get(key), Err(TrieError::KeyTooLarge(_))));
        assert!(matches!(
            verify_proof(Felt::ZERO, key, &[]),
            Err(TrieError::KeyTooLarge(_))
        ));
    }
    assert_eq!(trie.root(), Felt::ZERO);
}

#[test]
fn overlay_keeps_the_base_untouched() {
    let mut rng = Rng(4);
    let leaves = random_leaves(&mut rng, 100);
    let base_trie = trie_of(&leaves);
    let (root, mut base) = (base_trie.root(), base_trie.into_store());
    let stored = base.len();

    let updates: Vec<(Felt, Felt)> = (0..20).map(|_| (rng.key(), rng.felt())).collect();
    let mut hypothetical = Trie::new(Overlay::new(&base), root);
    let new_root = hypothetical.update(&updates).unwrap();
    assert_eq!(hypothetical.get(updates[0].0).unwrap(), updates[0].1);
    let new_nodes = hypothetical.into_store().into_new_nodes();
    assert_eq!(base.len(), stored, "the base was not written");
    assert!(!new_nodes.is_empty());

    // `compute_update` agrees and writes nothing.
    let (same_root, same_nodes) = Trie::new(&mut base, root).compute_update(&updates).unwrap();
    assert_eq!(same_root, new_root);
    assert_eq!(same_nodes.len(), new_nodes.len());

    base.put_batch(&new_nodes).unwrap();
    let persisted = Trie::new(base, new_root);
    let mut all = leaves.clone();
    all.extend(updates.iter().copied());
    assert_eq!(reference_root(&all), new_root);
    assert_eq!(check_shape(&persisted), all.len());
    let old = Trie::new(persisted.into_store(), root);
    assert_eq!(check_shape(&old), leaves.len());
}

// ---------------------------------------------------------------------------------------
// 4. Proofs.
// ---------------------------------------------------------------------------------------

#[test]
fn proofs_verify_for_present_and_absent_keys() {
    let mut rng = Rng(5);
    for n in [1usize, 2, 5, 200] {
        let leaves = random_leaves(&mut rng, n);
        let trie = trie_of(&leaves);
        for (key, value) in leaves.iter().take(40) {
            let proof = trie.proof(*key).unwrap();
            assert_eq!(verify_proof(trie.root(), *key, &proof).unwrap(), *value);
        }
        for _ in 0..40 {
            let key = rng.key();
            let proof = trie.proof(key).unwrap();
            let expected = leaves.get(&key).copied().unwrap_or(Felt::ZERO);
            assert_eq!(verify_proof(trie.root(), key, &proof).unwrap(), expected);
        }
    }
    // The empty trie: empty proofs, for every key.
    let empty = Trie::empty(MemoryNodes::new());
    assert!(empty.proof(felt(3)).unwrap().is_empty());
    assert_eq!(verify_proof(Felt::ZERO, felt(3), &[]).unwrap(), Felt::ZERO);
}

#[test]
fn proof_shapes_end_at_the_leaf_parent_or_the_diverging_edge() {
    let (a, b, c) = (felt(0xa), felt(0xb), felt(0xc));
    let mut trie = Trie::empty(MemoryNodes::new());
    trie.update(&[(felt(4), a), (felt(5), b), (felt(6), c)])
        .unwrap();
    let pair = Node::Binary { left: a, right: b };
    let lone = Node::Edge {
        child: c,
        path: Felt::ZERO,
        length: 1,
    };
    let split = Node::Binary {
        left: pair.hash(),
        right: lone.hash(),
    };
    let top = Node::Edge {
        child: split.hash(),
        path: Felt::ONE,
        length: 249,
    };
    assert_eq!(trie.proof(felt(5)).unwrap(), vec![top, split, pair]);
    assert_eq!(trie.proof(felt(6)).unwrap(), vec![top, split, lone]);
    // 7 = 0b111 leaves through the edge "0" under the split: absent.
    assert_eq!(trie.proof(felt(7)).unwrap(), vec![top, split, lone]);
    assert_eq!(
        verify_proof(trie.root(), felt(7), &[top, split, lone]).unwrap(),
        Felt::ZERO
    );
    // 0 leaves at the top edge.
    assert_eq!(trie.proof(felt(0)).unwrap(), vec![top]);
    assert_eq!(
        verify_proof(trie.root(), felt(0), &[top]).unwrap(),
        Felt::ZERO
    );
}

fn assert_refused(result: Result<Felt, TrieError>, what: &str) {
    assert!(
        matches!(result, Err(TrieError::BadProof { .. })),
        "{what}: {result:?}"
    );
}

#[test]
fn tampered_proofs_are_refused() {
    let mut rng = Rng(6);
    let leaves = random_leaves(&mut rng, 200);
    let trie = trie_of(&leaves);
    let root = trie.root();
    for (key, _) in leaves.iter().take(30) {
        let key = *key;
        let proof = trie.proof(key).unwrap();
        assert!(proof.len() >= 2);

        // A changed sibling in any binary node.
        for (i, node) in proof.iter().enumerate() {
            if let Node::Binary { left, right } = *node {
                let mut forged = proof.clone();
                let right_side = key.to_bits_be()[5 + depth_of(&proof, i)];
                forged[i] = if right_side {
                    Node::Binary {
                        left: left + Felt::ONE,
                        right,
                    }
                } else {
                    Node::Binary {
                        left,
                        right: right + Felt::ONE,
                    }
                };
                assert_refused(verify_proof(root, key, &forged), "changed sibling");
            }
        }
        // A changed leaf value in the last node.
        let mut forged = proof.clone();
        let last = forged.len() - 1;
        forged[last] = match forged[last] {
            Node::Binary { left, right } => Node::Binary {
                left: left + Felt::ONE,
                right: right + Felt::ONE,
            },
            Node::Edge {
                child,
                path,
                length,
            } => Node::Edge {
                child: child + Felt::ONE,
                path,
                length,
            },
        };
        assert_refused(verify_proof(root, key, &forged), "changed value");
        // Truncated, extended, or against another root.
        assert_refused(
            verify_proof(root, key, &proof[..proof.len() - 1]),
            "truncated",
        );
        assert_refused(verify_proof(root, key, &[]), "empty");
        let mut longer = proof.clone();
        longer.push(proof[proof.len() - 1]);
        assert_refused(verify_proof(root, key, &longer), "extended");
        assert_refused(verify_proof(root + Felt::ONE, key, &proof), "other root");
        // Another key whose path leaves this one at the root's binary node.
        let other = if key.to_bits_be()[5] {
            key - two_pow(250)
        } else {
            key + two_pow(250)
        };
        assert!(matches!(proof[0], Node::Binary { .. }));
        assert_refused(verify_proof(root, other, &proof), "wrong key");
    }
    // A non-membership proof cannot be stretched: nodes after the diverging edge.
    let absent = rng.key();
    let proof = trie.proof(absent).unwrap();
    assert_eq!(verify_proof(root, absent, &proof).unwrap(), Felt::ZERO);
    let mut longer = proof.clone();
    longer.push(proof[0]);
    assert_refused(
        verify_proof(root, absent, &longer),
        "extended non-membership",
    );
    // Malformed edges (length 0, overrunning the key) are refused even with the right hash.
    let bad = Node::Edge {
        child: felt(1),
        path: Felt::ZERO,
        length: 0,
    };
    assert_refused(verify_proof(bad.hash(), felt(1), &[bad]), "length 0");
    let long = Node::Edge {
        child: felt(1),
        path: felt(1),
        length: 252,
    };
    assert_refused(verify_proof(long.hash(), felt(1), &[long]), "length 252");
    let wide = Node::Edge {
        child: felt(1),
        path: felt(4),
        length: 2,
    };
    assert_refused(
        verify_proof(wide.hash(), felt(1), &[wide]),
        "path wider than length",
    );
}

/// Depth at which `proof[index]` sits.
fn depth_of(proof: &[Node], index: usize) -> usize {
    proof[..index]
        .iter()
        .map(|node| match node {
            Node::Binary { .. } => 1,
            Node::Edge { length, .. } => usize::from(*length),
        })
        .sum()
}

// ---------------------------------------------------------------------------------------
// 5. Partial tries.
// ---------------------------------------------------------------------------------------

/// A random update set over `leaves`: changed values, deletions, new keys, zeros for absent
/// keys.
fn random_updates(rng: &mut Rng, leaves: &BTreeMap<Felt, Felt>, count: usize) -> Vec<(Felt, Felt)> {
    let existing: Vec<Felt> = leaves.keys().copied().collect();
    (0..count)
        .map(|_| match rng.below(4) {
            0 if !existing.is_empty() => (existing[rng.below(existing.len())], Felt::ZERO),
            1 if !existing.is_empty() => (existing[rng.below(existing.len())], rng.felt()),
            2 => (rng.key(), Felt::ZERO),
            _ => (rng.key(), rng.felt()),
        })
        .collect()
}

#[test]
fn partial_trie_from_a_multiproof_reads_and_updates_like_the_full_trie() {
    let mut rng = Rng(7);
    let (mut deletions_needing_more, mut rounds) = (0, 0);
    for n in [1usize, 2, 3, 10, 60, 400] {
        for _ in 0..8 {
            rounds += 1;
            let leaves = random_leaves(&mut rng, n);
            let full = trie_of(&leaves);
            let count = rng.below(20) + 1;
            let updates = random_updates(&mut rng, &leaves, count);
            let keys: Vec<Felt> = updates.iter().map(|(k, _)| *k).collect();
            let (expected, _) = full.compute_update(&updates).unwrap();

            let proof = full.multiproof(&keys).unwrap();
            let mut partial = Trie::new(MemoryNodes::from_nodes(proof.clone()), full.root());
            for key in &keys {
                assert_eq!(partial.get(*key).unwrap(), full.get(*key).unwrap());
            }
            // Without deletions the multiproof suffices.
            let upserts: Vec<(Felt, Felt)> = updates
                .iter()
                .copied()
                .filter(|(_, v)| *v != Felt::ZERO)
                .collect();
            let (upserted, _) = full.compute_update(&upserts).unwrap();
            assert_eq!(partial.compute_update(&upserts).unwrap().0, upserted);
            // A deletion may need the node on the other side of a collapsing binary node,
            // which a path proof only names by hash: refused, never a wrong root.
            match partial.update(&updates) {
                Ok(root) => assert_eq!(root, expected),
                Err(TrieError::MissingNode(hash)) => {
                    assert!(full.store().contains(&hash));
                    deletions_needing_more += 1;
                }
                Err(other) => panic!("unexpected {other}"),
            }
            // The update witness always suffices.
            let witness = full.update_witness(&updates).unwrap();
            assert!(
                proof.iter().all(|node| witness.contains(node)),
                "witness ⊇ multiproof"
            );
            let mut partial = Trie::new(MemoryNodes::from_nodes(witness), full.root());
            assert_eq!(partial.update(&updates).unwrap(), expected, "{n} leaves");
            for (key, _) in &updates {
                let mut full_after = full.clone();
                full_after.update(&updates).unwrap();
                assert_eq!(partial.get(*key).unwrap(), full_after.get(*key).unwrap());
            }
        }
    }
    // The case the witness exists for does occur in these rounds.
    assert!(deletions_needing_more > 0 && deletions_needing_more < rounds);
}

#[test]
fn multiproof_is_the_deduplicated_union_of_proofs() {
    let mut rng = Rng(8);
    let leaves = random_leaves(&mut rng, 300);
    let trie = trie_of(&leaves);
    let mut keys: Vec<Felt> = leaves.keys().copied().take(25).collect();
    keys.extend((0..25).map(|_| rng.key()));
    keys.push(keys[0]);
    let multi = trie.multiproof(&keys).unwrap();
    let mut union = Vec::new();
    for key in &keys {
        for node in trie.proof(*key).unwrap() {
            if !union.contains(&node) {
                union.push(node);
            }
        }
    }
    assert_eq!(multi.len(), union.len());
    assert!(union.iter().all(|node| multi.contains(node)));
    assert_eq!(multi[0].hash(), trie.root(), "parents first");
}

#[test]
fn touching_an_unproven_path_is_a_missing_node() {
    let mut rng = Rng(9);
    let leaves = random_leaves(&mut rng, 100);
    let full = trie_of(&leaves);
    let key = *leaves.keys().next().unwrap();
    let mut partial = Trie::new(
        MemoryNodes::from_nodes(full.proof(key).unwrap()),
        full.root(),
    );
    assert_eq!(partial.get(key).unwrap(), leaves[&key]);
    // A key on the other side of the root's binary node.
    let other = key + two_pow(250);
    assert!(matches!(partial.get(other), Err(TrieError::MissingNode(_))));
    assert!(matches!(
        partial.update(&[(other, felt(1))]),
        Err(TrieError::MissingNode(_))
    ));
    assert_eq!(
        partial.root(),
        full.root(),
        "a failed update changes nothing"
    );
    assert!(matches!(
        partial.proof(other),
        Err(TrieError::MissingNode(_))
    ));
}

// ---------------------------------------------------------------------------------------
// 6. Starknet's class trie.
// ---------------------------------------------------------------------------------------

/// Starknet's classes trie (the one Starknet hashes with Poseidon): key = class hash,
/// leaf = Poseidon("CONTRACT_CLASS_LEAF_V0", compiled_class_hash). Expected root from
/// madara-alliance/madara, `madara/crates/client/db/src/rocksdb/global_trie/classes.rs`
/// (`test_class_trie_root`), computed there with bonsai-trie, the trie madara syncs
/// Starknet mainnet with.
#[test]
fn starknet_class_trie_root_from_madara() {
    let leaf = |compiled: &str| {
        h(
            short_string("CONTRACT_CLASS_LEAF_V0"),
            Felt::from_hex_unchecked(compiled),
        )
    };
    let classes = [
        (
            "0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
            "0xfedcba0987654321fedcba0987654321fedcba0987654321fedcba0987654321",
        ),
        (
            "0xabcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890",
            "0x1234567890abcdeffedcba09876543211234567890abcdeffedcba0987654321",
        ),
    ];
    // The 256-bit hex values reduce modulo the field prime; the reduced class hashes are
    // below 2^251, so they are valid keys here and in madara's 251-bit trie alike.
    let updates: Vec<(Felt, Felt)> = classes
        .iter()
        .map(|(class, compiled)| (Felt::from_hex_unchecked(class), leaf(compiled)))
        .collect();
    for (key, _) in &updates {
        assert!(key.bits() <= usize::from(HEIGHT));
    }
    let mut trie = Trie::empty(MemoryNodes::new());
    let root = trie.update(&updates).unwrap();
    assert_eq!(
        root,
        Felt::from_hex_unchecked(
            "0x9e521cb5e73189fe985db9dfd50b1dcdefc95ca4e1ebf23b0a4408a81bb610"
        )
    );
}

// ---------------------------------------------------------------------------------------
// Scale: a block-sized batch on a large trie (timings printed, not asserted).
// ---------------------------------------------------------------------------------------

#[test]
fn block_sized_batches_on_a_large_trie() {
    let mut rng = Rng(10);
    let mut trie = Trie::empty(MemoryNodes::new());
    let build = Instant::now();
    let mut all = BTreeMap::new();
    for _ in 0..10 {
        let batch: Vec<(Felt, Felt)> = (0..5_000).map(|_| (rng.key(), rng.felt())).collect();
        all.extend(batch.iter().copied());
        trie.update(&batch).unwrap();
    }
    let built = build.elapsed();
    let updates = random_updates(&mut rng, &all, 2_000);
    let start = Instant::now();
    let root = trie.update(&updates).unwrap();
    let batch_time = start.elapsed();
    let keys: Vec<Felt> = updates.iter().map(|(k, _)| *k).collect();
    let start = Instant::now();
    let proof = trie.multiproof(&keys).unwrap();
    let proof_time = start.elapsed();
    eprintln!(
        "{} leaves built in {built:?}; 2000-key batch in {batch_time:?}; multiproof ({} nodes) in {proof_time:?}",
        all.len(),
        proof.len()
    );
    for (key, value) in &updates {
        all.insert(*key, *value);
    }
    all.retain(|_, v| *v != Felt::ZERO);
    assert_eq!(root, reference_root(&all));
}
