//! Batch updates in two passes. The planning pass walks the old trie once along the sorted
//! keys (keys sharing a prefix share the walk) and decides the new shape: which edges split,
//! which binary nodes collapse into edges, where edges merge. It reads nodes but hashes
//! nothing. The hashing pass then hashes the new shape bottom-up, in parallel across large
//! subtrees; it touches no store, so stores need not be `Sync`.

use starknet_types_core::felt::Felt;

use super::bits::Bits;
use super::{key_bits, load, Node, NodeStore, TrieError, HEIGHT};

/// Below this many updates in a subtree, handing half of it to another thread costs more
/// than the Poseidon hashes it saves.
const PARALLEL_MIN_UPDATES: usize = 16;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Update {
    pub(crate) key: Bits,
    pub(crate) value: Felt,
}

/// Sorts the updates by key; when a key repeats, its last value wins (as applying the
/// updates one by one would give). Refuses keys outside the trie.
pub(crate) fn prepare(updates: &[(Felt, Felt)]) -> Result<Vec<Update>, TrieError> {
    let mut sorted = updates
        .iter()
        .map(|(key, value)| {
            Ok(Update {
                key: key_bits(key)?,
                value: *value,
            })
        })
        .collect::<Result<Vec<_>, TrieError>>()?;
    // Stable, so repeated keys keep their order and the last one can be kept.
    sorted.sort_by_key(|update| update.key);
    let mut unique: Vec<Update> = Vec::with_capacity(sorted.len());
    for update in sorted {
        match unique.last_mut() {
            Some(last) if last.key == update.key => *last = update,
            _ => unique.push(update),
        }
    }
    Ok(unique)
}

/// What the old trie holds at some position.
#[derive(Clone, Copy, Debug)]
enum Existing {
    Empty,
    /// A stored node (or, at depth 251, a leaf value) whose kind is not known until loaded.
    Node(Felt),
    /// The lower part of an edge that an update split: `len` bits of `path` lead to `child`.
    Edge {
        path: Bits,
        len: u8,
        child: Felt,
    },
}

impl Existing {
    fn from_hash(hash: Felt) -> Self {
        if hash == Felt::ZERO {
            Existing::Empty
        } else {
            Existing::Node(hash)
        }
    }
}

/// The new subtree at some position.
#[derive(Debug)]
pub(crate) enum Sub {
    Empty,
    /// Unchanged old subtree; its kind is only loaded if a collapse needs it.
    Old(Felt),
    /// `len` path bits (an edge when `len > 0`) down to a tip that is not an edge.
    Path {
        path: Bits,
        len: u8,
        tip: Tip,
    },
}

#[derive(Debug)]
pub(crate) enum Tip {
    /// An old binary node's hash, or a leaf value.
    Known(Felt),
    /// A new binary node; the count of updates below it decides whether to hash in parallel.
    Binary(Box<Sub>, Box<Sub>, usize),
}

/// The planning pass over a store; it can record the nodes it reads (an update witness).
pub(crate) struct Planner<'s, S: NodeStore + ?Sized> {
    store: &'s S,
    read: Option<Vec<(Felt, Node)>>,
}

impl<'s, S: NodeStore + ?Sized> Planner<'s, S> {
    pub(crate) fn new(store: &'s S) -> Self {
        Self { store, read: None }
    }

    pub(crate) fn recording(store: &'s S) -> Self {
        Self {
            store,
            read: Some(Vec::new()),
        }
    }

    /// The nodes read so far with their hashes (with repeats), when recording.
    pub(crate) fn into_read(self) -> Vec<(Felt, Node)> {
        self.read.unwrap_or_default()
    }

    /// The new shape of the trie under `root` after the sorted, unique `updates`.
    pub(crate) fn plan(&mut self, root: Felt, updates: &[Update]) -> Result<Sub, TrieError> {
        self.apply(Existing::from_hash(root), 0, updates)
    }

    fn load(&mut self, hash: Felt, depth: u8) -> Result<Node, TrieError> {
        let node = load(self.store, hash, depth)?;
        if let Some(read) = &mut self.read {
            read.push((hash, node));
        }
        Ok(node)
    }

    /// `updates` all lie under the position at `depth` that `old` describes.
    fn apply(&mut self, old: Existing, depth: u8, updates: &[Update]) -> Result<Sub, TrieError> {
        let Some(last) = updates.last() else {
            return Ok(unchanged(old));
        };
        if depth == HEIGHT {
            // Keys are unique, so exactly one update reaches a leaf.
            return Ok(leaf(last.value));
        }
        match old {
            Existing::Empty => self.apply_empty(depth, updates),
            Existing::Node(hash) => match self.load(hash, depth)? {
                Node::Binary { left, right } => {
                    let (left, right) = (Existing::from_hash(left), Existing::from_hash(right));
                    self.apply_binary(depth, left, right, updates)
                }
                Node::Edge {
                    child,
                    path,
                    length,
                } => self.apply_edge(depth, Bits::from_felt(&path), length, child, updates),
            },
            Existing::Edge { path, len, child } => {
                self.apply_edge(depth, path, len, child, updates)
            }
        }
    }

    fn apply_empty(&mut self, depth: u8, updates: &[Update]) -> Result<Sub, TrieError> {
        match updates {
            [only] if only.value == Felt::ZERO => Ok(Sub::Empty),
            [only] => Ok(Sub::Path {
                path: only.key.segment(depth, HEIGHT - depth),
                len: HEIGHT - depth,
                tip: Tip::Known(only.value),
            }),
            // Several keys may still end up as one edge (zero values), which `join` sorts out.
            _ => self.apply_binary(depth, Existing::Empty, Existing::Empty, updates),
        }
    }

    /// A binary position at `depth` (real, or virtual where an edge splits).
    fn apply_binary(
        &mut self,
        depth: u8,
        left: Existing,
        right: Existing,
        updates: &[Update],
    ) -> Result<Sub, TrieError> {
        let split = updates.partition_point(|update| !update.key.bit_at_depth(depth));
        let new_left = self.apply(left, depth + 1, &updates[..split])?;
        let new_right = self.apply(right, depth + 1, &updates[split..])?;
        self.join(depth, new_left, new_right, updates.len())
    }

    /// An old edge at `depth`: `len` bits of `path` down to `child`.
    fn apply_edge(
        &mut self,
        depth: u8,
        path: Bits,
        len: u8,
        child: Felt,
        updates: &[Update],
    ) -> Result<Sub, TrieError> {
        if len == 0 {
            return self.apply(Existing::from_hash(child), depth, updates);
        }
        // Keys are sorted, so the ones leaving the edge earliest are the first or the last.
        let shared = |update: &Update| update.key.segment(depth, len).common_prefix(path, len);
        let (first, last) = (&updates[0], &updates[updates.len() - 1]);
        let kept = shared(first).min(shared(last));
        if kept == len {
            let below = self.apply(Existing::from_hash(child), depth + len, updates)?;
            return self.prepend(depth, path, len, below);
        }
        // Some key leaves the edge after `kept` bits: a binary position opens there, with the
        // rest of the old edge on one side.
        let rest_len = len - kept - 1;
        let rest = Existing::Edge {
            path: path.low(u32::from(rest_len)),
            len: rest_len,
            child,
        };
        let (left, right) = if path.bit(u32::from(rest_len)) {
            (Existing::Empty, rest)
        } else {
            (rest, Existing::Empty)
        };
        let split = self.apply_binary(depth + kept, left, right, updates)?;
        self.prepend(depth, path.shr(u32::from(len - kept)), kept, split)
    }

    /// Combines the new children of the binary position at `depth`: a binary node while
    /// both sides hold something, otherwise the surviving side hangs under a longer edge.
    fn join(&mut self, depth: u8, left: Sub, right: Sub, updates: usize) -> Result<Sub, TrieError> {
        match (left, right) {
            (Sub::Empty, Sub::Empty) => Ok(Sub::Empty),
            (only, Sub::Empty) => self.prepend(depth, Bits::ZERO, 1, only),
            (Sub::Empty, only) => self.prepend(depth, Bits::from_u64(1), 1, only),
            (left, right) => Ok(Sub::Path {
                path: Bits::ZERO,
                len: 0,
                tip: Tip::Binary(Box::new(left), Box::new(right), updates),
            }),
        }
    }

    /// Puts `len` bits of `prefix` above `sub` (which sits at `depth + len`), merging with an
    /// edge at the top of `sub` so that edges stay maximal.
    fn prepend(&mut self, depth: u8, prefix: Bits, len: u8, sub: Sub) -> Result<Sub, TrieError> {
        if len == 0 || matches!(sub, Sub::Empty) {
            return Ok(sub);
        }
        let (path, below, tip) = self.expose(depth + len, sub)?;
        Ok(Sub::Path {
            path: prefix.shl(u32::from(below)).or(path),
            len: len + below,
            tip,
        })
    }

    /// `sub` (non-empty, at `depth`) as edge bits plus a non-edge tip; an unchanged old
    /// subtree must be loaded for that, since only its node says whether it is an edge.
    fn expose(&mut self, depth: u8, sub: Sub) -> Result<(Bits, u8, Tip), TrieError> {
        match sub {
            Sub::Path { path, len, tip } => Ok((path, len, tip)),
            Sub::Old(hash) if depth == HEIGHT => Ok((Bits::ZERO, 0, Tip::Known(hash))),
            Sub::Old(hash) => match self.load(hash, depth)? {
                Node::Edge {
                    child,
                    path,
                    length,
                } => Ok((Bits::from_felt(&path), length, Tip::Known(child))),
                Node::Binary { .. } => Ok((Bits::ZERO, 0, Tip::Known(hash))),
            },
            Sub::Empty => Err(TrieError::Store(
                "internal: exposing an empty subtree".into(),
            )),
        }
    }
}

fn unchanged(old: Existing) -> Sub {
    match old {
        Existing::Empty => Sub::Empty,
        Existing::Node(hash) => Sub::Old(hash),
        Existing::Edge { path, len, child } => Sub::Path {
            path,
            len,
            tip: Tip::Known(child),
        },
    }
}

fn leaf(value: Felt) -> Sub {
    if value == Felt::ZERO {
        Sub::Empty
    } else {
        Sub::Path {
            path: Bits::ZERO,
            len: 0,
            tip: Tip::Known(value),
        }
    }
}

/// The hashing pass: the root of `sub` and the nodes created for it.
pub(crate) fn commit(sub: Sub) -> (Felt, Vec<(Felt, Node)>) {
    let mut created = Vec::new();
    let root = hash_sub(sub, &mut created);
    (root, created)
}

fn hash_sub(sub: Sub, created: &mut Vec<(Felt, Node)>) -> Felt {
    match sub {
        Sub::Empty => Felt::ZERO,
        Sub::Old(hash) => hash,
        Sub::Path { len: 0, tip, .. } => hash_tip(tip, created),
        Sub::Path { path, len, tip } => {
            let child = hash_tip(tip, created);
            emit(
                Node::Edge {
                    child,
                    path: path.to_felt(),
                    length: len,
                },
                created,
            )
        }
    }
}

fn hash_tip(tip: Tip, created: &mut Vec<(Felt, Node)>) -> Felt {
    match tip {
        Tip::Known(hash) => hash,
        Tip::Binary(left, right, updates) if updates >= PARALLEL_MIN_UPDATES => {
            let mut right_created = Vec::new();
            let (left, right) = rayon::join(
                || hash_sub(*left, created),
                || hash_sub(*right, &mut right_created),
            );
            created.append(&mut right_created);
            emit(Node::Binary { left, right }, created)
        }
        Tip::Binary(left, right, _) => {
            let left = hash_sub(*left, created);
            let right = hash_sub(*right, created);
            emit(Node::Binary { left, right }, created)
        }
    }
}

fn emit(node: Node, created: &mut Vec<(Felt, Node)>) -> Felt {
    let hash = node.hash();
    created.push((hash, node));
    hash
}
