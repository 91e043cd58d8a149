//! The native twin of the batched signature check (`cairo/starfarm/batch_ecdsa.cairo`): the
//! signature records and the prover's hints the Cairo library reads, computed exactly as the
//! library checks them, and the batch equation evaluated natively. Soundness and cost:
//! docs/sequencer.md, "Signatures without ec_op".
//!
//! A record is `message, public_key, r, s, key_y, r_y`: the y's make `s·R = z·G + r·Q` hold for
//! a valid signature (found from `R = u1·G ± u2·Q`, `u1 = z/s`, `u2 = r/s` mod n). The batch
//! coefficients are the low 128 bits of `Poseidon(seed, i)`, `seed` = `poseidon_hash_many` of
//! all records; the program recomputes them, so they are never part of the input.

use num_bigint::BigUint;
use starknet_crypto::{poseidon_hash, poseidon_hash_many};
use starknet_types_core::curve::{AffinePoint, ProjectivePoint};
use starknet_types_core::felt::{Felt, NonZeroFelt};

use crate::ecdsa::{EC_ORDER, HALF_ORDER};

/// Base-16 digits of every scalar (4 limbs of 16, then 35 for the top carry).
pub const WINDOWS: usize = 99;
const LIMBS: usize = 4;
const LIMB_BITS: usize = 64;
/// Felts of a record, of a signature's hints and of the batch's closing hint.
pub const SIGNATURE_SIZE: usize = 6;
pub const SCALAR_HINT_SIZE: usize = 6 + WINDOWS;
pub const SIGNATURE_HINT_SIZE: usize = 3 * LIMBS + 2 * SCALAR_HINT_SIZE;
/// Most signatures in one batch (bounds the message sum the top digits hold).
pub const MAX_BATCH: usize = 1 << 16;

/// `b` of the curve `y² = x³ + x + b`.
const BETA: Felt =
    Felt::from_hex_unchecked("0x6f21413efbe40de150e596d72f7a8c5609ad26c15c915c1f4cdfcb99cee9e89");

/// A signature of `hash` by the key whose x is `public_key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedHash {
    pub hash: Felt,
    pub public_key: Felt,
    pub r: Felt,
    pub s: Felt,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchEcdsaError {
    #[error("signature {index}: {what} must be below 2^251")]
    OutOfRange { index: usize, what: &'static str },
    #[error("signature {index}: s is above (n − 1)/2 (not canonical; (r, n − s) is)")]
    HighS { index: usize },
    #[error("a batch holds at most {max} signatures, not {0}", max = MAX_BATCH)]
    TooLarge(usize),
    #[error("{coefficients} coefficients for {signatures} signatures")]
    Coefficients {
        coefficients: usize,
        signatures: usize,
    },
}

/// A batch as the program reads it: records and the coefficients the hints are made with.
#[derive(Clone, Debug)]
pub struct BatchInput {
    records: Vec<[Felt; SIGNATURE_SIZE]>,
    coefficients: Vec<Felt>,
}

impl BatchInput {
    /// The records of `signatures` (y's recovered) with the transcript's coefficients.
    /// Refuses what the program refuses by its bounds: a batch over [`MAX_BATCH`], a hash, r or
    /// s from 2^251, and a non-canonical s (above (n − 1)/2).
    pub fn new(signatures: &[SignedHash]) -> Result<Self, BatchEcdsaError> {
        if signatures.len() > MAX_BATCH {
            return Err(BatchEcdsaError::TooLarge(signatures.len()));
        }
        let bound = Felt::TWO.pow(251u32);
        for (index, sig) in signatures.iter().enumerate() {
            for (what, v) in [("the hash", sig.hash), ("r", sig.r), ("s", sig.s)] {
                if v >= bound {
                    return Err(BatchEcdsaError::OutOfRange { index, what });
                }
            }
            if sig.s > HALF_ORDER {
                return Err(BatchEcdsaError::HighS { index });
            }
        }
        Ok(Self::unchecked(signatures))
    }

    /// The records and hints a prover would give for any signatures, without the bounds of
    /// [`BatchInput::new`] (e.g. a malleated (r, n − s)): the program refuses what `new`
    /// refuses. The block program's input uses this, so that a bad signature in a published
    /// block fails the proof rather than the encoding.
    pub fn unchecked(signatures: &[SignedHash]) -> Self {
        let records: Vec<_> = signatures.iter().map(record).collect();
        let coefficients = transcript_coefficients(&records);
        Self {
            records,
            coefficients,
        }
    }

    pub fn records(&self) -> &[[Felt; SIGNATURE_SIZE]] {
        &self.records
    }

    /// Replaces a record (tests: a tampered hint, e.g. the other y of R).
    pub fn set_record(&mut self, index: usize, record: [Felt; SIGNATURE_SIZE]) {
        self.records[index] = record;
    }

    pub fn coefficients(&self) -> &[Felt] {
        &self.coefficients
    }

    /// Hints made with other coefficients than the transcript's: what a cheating prover would
    /// need. The program recomputes the coefficients, so such hints fail there (tests).
    pub fn with_coefficients(mut self, coefficients: Vec<Felt>) -> Result<Self, BatchEcdsaError> {
        if coefficients.len() != self.records.len() {
            return Err(BatchEcdsaError::Coefficients {
                coefficients: coefficients.len(),
                signatures: self.records.len(),
            });
        }
        self.coefficients = coefficients;
        Ok(self)
    }

    /// The program input: n, the records, each signature's hint, the batch hint.
    pub fn to_felts(&self) -> Vec<Felt> {
        let mut out = vec![Felt::from(self.records.len())];
        out.extend(self.records.iter().flatten());
        out.extend(self.hint_felts());
        out
    }

    /// The hints `verify_ecdsa_batch` reads: each signature's, then the batch's.
    pub fn hint_felts(&self) -> Vec<Felt> {
        let mut out =
            Vec::with_capacity(self.records.len() * SIGNATURE_HINT_SIZE + SCALAR_HINT_SIZE);
        let mut message_sum = [
            BigUint::default(),
            BigUint::default(),
            BigUint::default(),
            BigUint::default(),
        ];
        for (rec, a) in self.records.iter().zip(&self.coefficients) {
            let a = a.to_biguint();
            let [message, r, s] = [rec[0], rec[2], rec[3]].map(limbs);
            out.extend(message.iter().chain(&r).chain(&s).map(Felt::from));
            out.extend(scalar_hint(&s.clone().map(|l| &a * l)));
            out.extend(scalar_hint(&r.clone().map(|l| &a * l)));
            for (sum, l) in message_sum.iter_mut().zip(message) {
                *sum += &a * l;
            }
        }
        out.extend(scalar_hint(&message_sum));
        out
    }

    /// `Σ a_i·(s_i·R_i − r_i·Q_i − z_i·G) = O`, natively, with this input's coefficients and
    /// records (points off the curve make it false).
    pub fn equation_holds(&self) -> bool {
        let n = order();
        let g = ProjectivePoint::from_affine_unchecked(generator().x(), generator().y());
        let mut sum = ProjectivePoint::identity();
        for (rec, a) in self.records.iter().zip(&self.coefficients) {
            let [z, public_key, r, s, key_y, r_y] = *rec;
            let (Ok(q), Ok(big_r)) = (
                ProjectivePoint::from_affine(public_key, key_y),
                ProjectivePoint::from_affine(r, r_y),
            ) else {
                return false;
            };
            sum += &big_r * a.mul_mod(&s, &n);
            sum += -&(&q * a.mul_mod(&r, &n));
            sum += -&(&g * a.mul_mod(&z, &n));
        }
        sum.is_identity()
    }
}

/// The coefficients the program draws: low 128 bits of `Poseidon(seed, i)`.
pub fn transcript_coefficients(records: &[[Felt; SIGNATURE_SIZE]]) -> Vec<Felt> {
    let flat: Vec<Felt> = records.iter().flatten().copied().collect();
    let seed = poseidon_hash_many(&flat);
    (0..records.len())
        .map(|i| {
            let bytes = poseidon_hash(seed, Felt::from(i)).to_bytes_be();
            let mut low = [0u8; 16];
            low.copy_from_slice(&bytes[16..]);
            Felt::from(u128::from_be_bytes(low))
        })
        .collect()
}

fn order() -> NonZeroFelt {
    NonZeroFelt::from_felt_unchecked(EC_ORDER)
}

fn generator() -> AffinePoint {
    AffinePoint::generator()
}

/// A y of the point with this x (0 if there is none: the program then refuses the record).
fn curve_y(x: Felt) -> Felt {
    (x * x * x + x + BETA).sqrt().unwrap_or(Felt::ZERO)
}

/// The record of a signature: the y's for which `s·R = z·G + r·Q` holds when it is valid
/// (any y's otherwise: the batch then fails, whatever they are).
fn record(sig: &SignedHash) -> [Felt; SIGNATURE_SIZE] {
    let (key_y, r_y) = (curve_y(sig.public_key), curve_y(sig.r));
    let ys = signing_ys(sig, key_y).unwrap_or((key_y, r_y));
    [sig.hash, sig.public_key, sig.r, sig.s, ys.0, ys.1]
}

/// `R = u1·G + u2·Q` for Q = (public_key, ±key_y): the y's for which R's x is r.
fn signing_ys(sig: &SignedHash, key_y: Felt) -> Option<(Felt, Felt)> {
    let n = order();
    let w = sig.s.mod_inverse(&n)?;
    let (u1, u2) = (sig.hash.mul_mod(&w, &n), sig.r.mul_mod(&w, &n));
    let g = ProjectivePoint::from_affine(generator().x(), generator().y()).ok()?;
    let u1g = &g * u1;
    for y in [key_y, -key_y] {
        let q = ProjectivePoint::from_affine(sig.public_key, y).ok()?;
        let point = (&u1g + &(&q * u2)).to_affine().ok()?;
        if point.x() == sig.r {
            return Some((y, point.y()));
        }
    }
    None
}

/// The 64-bit limbs of a felt below 2^256, least significant first.
fn limbs(x: Felt) -> [BigUint; LIMBS] {
    x.to_le_digits().map(BigUint::from)
}

/// The hint of the integer `Σ xs[k]·2^(64k)`: carries 1..3 of the limb equations as
/// (high, low) halves at 2^128, then its WINDOWS base-16 digits, least significant first.
fn scalar_hint(xs: &[BigUint; LIMBS]) -> Vec<Felt> {
    let total: BigUint = xs
        .iter()
        .enumerate()
        .map(|(k, x)| x << (LIMB_BITS * k))
        .sum();
    let mask = |bits: usize| (BigUint::from(1u8) << bits) - 1u8;
    let mut out = Vec::with_capacity(SCALAR_HINT_SIZE);
    let mut carry = BigUint::default();
    for (k, x) in xs.iter().take(LIMBS - 1).enumerate() {
        let digits_part = (&total >> (LIMB_BITS * k)) & mask(LIMB_BITS);
        carry = (x + &carry - digits_part) >> LIMB_BITS;
        out.push(Felt::from(&carry >> 128));
        out.push(Felt::from(&carry & mask(128)));
    }
    out.extend((0..WINDOWS).map(|j| Felt::from((&total >> (4 * j)) & mask(4))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    #[test]
    fn valid_batches_satisfy_the_equation_and_forged_ones_do_not() {
        let mut rng = Rng(3);
        let mut sigs: Vec<_> = (0..4).map(|_| rng.signed_hash()).collect();
        let batch = BatchInput::new(&sigs).expect("in range");
        assert!(batch.equation_holds());
        sigs[2].s += Felt::ONE;
        let forged = BatchInput::new(&sigs).expect("in range");
        assert!(!forged.equation_holds());
    }

    #[test]
    fn the_digits_are_the_scalar() {
        let xs = [1u64 << 63, u64::MAX, 7, 1 << 58].map(BigUint::from);
        let a = BigUint::from(u128::MAX);
        let hint = scalar_hint(&xs.clone().map(|x| &a * x));
        let value: BigUint = hint[6..]
            .iter()
            .rev()
            .fold(BigUint::default(), |acc, d| (acc << 4) + d.to_biguint());
        let expected: BigUint = xs
            .iter()
            .enumerate()
            .map(|(k, x)| (&a * x) << (64 * k))
            .sum();
        assert_eq!(value, expected);
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_index() {
        let mut rng = Rng(4);
        let mut sigs: Vec<_> = (0..2).map(|_| rng.signed_hash()).collect();
        sigs[1].r = Felt::TWO.pow(251u32);
        assert_eq!(
            BatchInput::new(&sigs).err(),
            Some(BatchEcdsaError::OutOfRange {
                index: 1,
                what: "r"
            })
        );
    }
}
