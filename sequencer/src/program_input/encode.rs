//! A range's input as the felts the block program reads (`docs/sequencer.md`, "Block
//! program input").

use starknet_types_core::felt::Felt;

use super::input::{ProofStep, RangeInput, SharedStep};
use crate::batch_ecdsa::{block_bound, BatchInput, Bound, SignedHash};
use crate::trie::bits::Bits;
use crate::tx::{address_of, Transaction};

/// First felt of the program input: the version of its layout. 5: the batch's transcript
/// starts from the range's start root and commitments and absorbs per signature r, s and one
/// packed felt of v and the y's parities, whose hints (`bit, high, low`) join each signature's
/// hint; no separate v's and μ's before the hints; every scalar as signed base-32 digits (52
/// per product, 80 for G's, whose carries are offset by 16): `BatchInput::hint_felts`. 4: the
/// batch's hints are those of half-length scalars (each signature's v and μ first, then its
/// limbs, multipliers, quotients and 64-digit base-16 scalars: `BatchInput::hint_felts_v4`). 3: pass 2 updates the accounts
/// present at the range start in one pass over the union of their paths, then inserts the
/// absent ones one by one; 2: signatures checked as one batch (each signed transaction's
/// record ends with the y's of its key and of R; the batch's hints follow the proofs), pass 2
/// one account after the other; 1: one ec_op check per signature (the benchmark anchor,
/// `sequencer/cairo/anchor/block_v1.json`, reads it through [`RangeInput::to_felts_v1`]).
pub const PROGRAM_INPUT_VERSION: u64 = 5;

/// Which block program the felts are for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// The current program (`PROGRAM_INPUT_VERSION`).
    Batched,
    /// Layout 4: the transcript of every record and multiplier.
    BatchedV4,
    /// Layout 3: the shared update, full-length batch hints.
    BatchedV3,
    /// Layout 2: batched signatures, pass 2 one account after the other.
    BatchedV2,
    /// Layout 1, the anchor's.
    EcOp,
}

/// `x = high * 2^128 + low`, as the program reads bounded numbers.
fn split(x: Felt) -> [Felt; 2] {
    let bits = Bits::from_felt(&x);
    [bits.shr(128).to_felt(), bits.low(128).to_felt()]
}

impl RangeInput {
    /// The program input (`docs/sequencer.md`, "Block program input").
    pub fn to_felts(&self) -> Vec<Felt> {
        self.encode(Layout::Batched)
    }

    /// The input of layout 4 (the batch's transcript of every record, v and μ), kept for A/B
    /// measurements of the bound transcript against a program compiled from the commit before
    /// it (`STARFARM_BENCH_PREVIOUS_LAYOUT=4` of the `block_program` bench).
    pub fn to_felts_v4(&self) -> Vec<Felt> {
        self.encode(Layout::BatchedV4)
    }

    /// The batch of the range's signatures as the current program checks it: its transcript
    /// starts from [`block_bound`] of the start root and the range's commitments.
    pub fn batch(&self) -> BatchInput {
        BatchInput::unchecked(
            &self.signatures(),
            Bound::Given(block_bound(
                self.previous_contracts_root,
                self.tx_commitment_start,
                self.tx_commitment_end,
            )),
        )
    }

    /// The input of layout 3 (the shared update, the batch's full-length hints), kept for A/B
    /// measurements of half-length scalars against a program compiled from the commit before
    /// them (`STARFARM_BENCH_PREVIOUS_LAYOUT=3` of the `block_program` bench).
    pub fn to_felts_v3(&self) -> Vec<Felt> {
        self.encode(Layout::BatchedV3)
    }

    /// The input of layout 2 (batched signatures, pass 2 one account after the other), kept
    /// for A/B measurements of the shared update against a program compiled from the commit
    /// before it (`STARFARM_BENCH_PREVIOUS_LAYOUT=2` of the `block_program` bench).
    pub fn to_felts_v2(&self) -> Vec<Felt> {
        self.encode(Layout::BatchedV2)
    }

    /// The input of the previous program (layout 1: no y's, no batch hints), kept only for
    /// the benchmark anchor `sequencer/cairo/anchor/block_v1.json`.
    pub fn to_felts_v1(&self) -> Vec<Felt> {
        self.encode(Layout::EcOp)
    }

    /// The range's signatures in transaction order, with their signers' keys: a deploy's own
    /// key, else the sender's, which is its key at the range start or the one a deploy of this
    /// range set (keys never change after deployment).
    pub fn signatures(&self) -> Vec<SignedHash> {
        let mut keys: std::collections::BTreeMap<Felt, Felt> = self
            .accounts
            .iter()
            .map(|a| (a.address, a.state.public_key))
            .collect();
        let mut out = Vec::new();
        for tx in &self.transactions {
            let t = &tx.transaction;
            let Some(sig) = t.signature() else {
                continue;
            };
            let public_key = match t {
                Transaction::DeployAccount(d) => {
                    keys.insert(address_of(d.public_key), d.public_key);
                    d.public_key
                }
                _ => t
                    .sender()
                    .and_then(|a| keys.get(&a).copied())
                    .unwrap_or(Felt::ZERO),
            };
            out.push(SignedHash {
                hash: t.hash(),
                public_key,
                r: sig.r,
                s: sig.s,
            });
        }
        out
    }

    fn encode(&self, layout: Layout) -> Vec<Felt> {
        let version = match layout {
            Layout::Batched => PROGRAM_INPUT_VERSION,
            Layout::BatchedV4 => 4,
            Layout::BatchedV3 => 3,
            Layout::BatchedV2 => 2,
            Layout::EcOp => 1,
        };
        // The batch's records give the y's; its hints close the input.
        let batch = (layout != Layout::EcOp).then(|| self.batch());
        let mut ys = batch
            .iter()
            .flat_map(|b| b.records().iter().map(|r| [r[4], r[5]]))
            .collect::<Vec<_>>()
            .into_iter();
        let mut next_ys = |felts: &mut Vec<Felt>| {
            if let Some(pair) = ys.next() {
                felts.extend(pair);
            }
        };
        let mut felts = vec![
            Felt::from(version),
            Felt::from(self.block_number),
            self.parent_hash,
            Felt::from(self.timestamp),
            Felt::from(self.tx_count),
            Felt::from(self.tx_start),
            self.tx_commitment_start,
            self.previous_contracts_root,
            Felt::from(self.accounts.len()),
        ];
        for entry in &self.accounts {
            let s = &entry.state;
            let [high, low] = split(entry.address);
            felts.extend([
                entry.address,
                high,
                low,
                s.class_hash,
                s.public_key,
                Felt::from(s.balance),
                Felt::from(s.nonce),
            ]);
        }
        felts.push(Felt::from(self.transactions.len()));
        for tx in &self.transactions {
            let status = Felt::from(tx.outcome.code());
            let prev = |i: usize| Felt::from(tx.previous_versions.get(i).copied().unwrap_or(0));
            let kind = Felt::from(tx.transaction.kind());
            match &tx.transaction {
                Transaction::DeployAccount(t) => felts.extend([
                    kind,
                    t.public_key,
                    t.signature.r,
                    t.signature.s,
                    Felt::from(u8::from(tx.address_wrapped)),
                    prev(0),
                ]),
                Transaction::Transfer(t) => felts.extend([
                    kind,
                    t.sender,
                    Felt::from(t.nonce),
                    t.recipient,
                    Felt::from(t.amount),
                    t.signature.r,
                    t.signature.s,
                    status,
                    prev(0),
                    prev(1),
                ]),
                Transaction::Withdraw(t) => felts.extend([
                    kind,
                    t.sender,
                    Felt::from(t.nonce),
                    t.l1_recipient,
                    Felt::from(t.amount),
                    t.signature.r,
                    t.signature.s,
                    status,
                    prev(0),
                ]),
                Transaction::Deposit(t) => felts.extend([
                    kind,
                    t.l1_sender,
                    t.recipient,
                    Felt::from(t.amount),
                    Felt::from(t.l1_nonce),
                    status,
                    prev(0),
                ]),
            }
            if tx.transaction.signature().is_some() {
                next_ys(&mut felts);
            }
        }
        match layout {
            Layout::Batched | Layout::BatchedV4 | Layout::BatchedV3 => {
                felts.extend(self.proofs.iter().map(|p| Felt::from(p.final_version)));
                for step in &self.shared {
                    match *step {
                        SharedStep::Left { right } => felts.extend([Felt::ZERO, right]),
                        SharedStep::Right { left } => felts.extend([Felt::ONE, left]),
                        SharedStep::Both => felts.push(Felt::TWO),
                        SharedStep::Edge { path, length } => {
                            felts.extend([Felt::THREE, path, Felt::from(length)])
                        }
                    }
                }
                for steps in &self.insertions {
                    felts.push(Felt::from(steps.len()));
                    encode_steps(steps, &mut felts);
                }
            }
            Layout::BatchedV2 | Layout::EcOp => {
                for proof in &self.proofs {
                    felts.push(Felt::from(proof.final_version));
                    felts.push(Felt::from(proof.steps.len()));
                    encode_steps(&proof.steps, &mut felts);
                }
            }
        }
        if let Some(batch) = batch.filter(|b| !b.records().is_empty()) {
            match layout {
                Layout::Batched => felts.extend(batch.hint_felts()),
                Layout::BatchedV4 => felts.extend(batch.hint_felts_v4()),
                _ => felts.extend(batch.full_length_hint_felts()),
            }
        }
        felts
    }
}

/// An account's proof bottom-up: the program climbs from the leaf (or the edge the key leaves).
fn encode_steps(steps: &[ProofStep], felts: &mut Vec<Felt>) {
    for step in steps.iter().rev() {
        match *step {
            ProofStep::Binary { left, right, bit } => {
                let sibling = if bit { left } else { right };
                felts.extend([Felt::from(u8::from(bit)), sibling]);
            }
            ProofStep::Edge { path, length, .. } => {
                felts.extend([Felt::TWO, path, Felt::from(length)]);
            }
            ProofStep::EdgeLeaves {
                child,
                path,
                length,
                common,
                bit,
                new_length,
                common_path,
                old_rest,
                new_rest,
            } => {
                felts.extend([
                    Felt::THREE,
                    child,
                    path,
                    Felt::from(length),
                    Felt::from(common),
                    Felt::from(u8::from(bit)),
                    Felt::from(new_length),
                ]);
                felts.extend(split(common_path));
                felts.extend(split(old_rest));
                felts.extend(split(new_rest));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_shift_mask_and_split_round_trip() {
        let x = Felt::from_hex("0x7f0123456789abcdeff0123456789abcdeff0123456789abcdeff0123456789")
            .expect("hex");
        let w = Bits::from_felt(&x);
        assert_eq!(w.to_felt(), x);
        assert_eq!(w.bit_len(), 251);
        assert_eq!(w.shr(250).to_felt(), Felt::ONE);
        assert_eq!(
            w.shr(4).to_felt(),
            x.floor_div(&Felt::from(16u8).try_into().expect("nonzero"))
        );
        assert_eq!(w.low(8).to_felt(), Felt::from(0x89u8));
        // Bits 128 and 129 of x: its high half, 0x7f…89ab, ends in 0b11.
        assert_eq!(w.low(130).shr(128).to_felt(), Felt::from(3u8));
        let [high, low] = split(x);
        assert_eq!(high * Felt::from(2u8).pow(128u32) + low, x);
    }
}
