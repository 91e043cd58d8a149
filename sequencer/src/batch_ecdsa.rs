//! The native twin of the batched signature check (`cairo/starfarm/batch_ecdsa.cairo`): the
//! signature records and the prover's hints the Cairo library reads, computed exactly as the
//! library checks them, and the batch equation evaluated natively. Soundness and cost:
//! docs/sequencer.md, "Signatures without ec_op", "Half-length scalars", "A transcript of what
//! is not bound yet" and "Signed 5-bit windows" (every scalar as signed base-32 digits).
//!
//! A record is `message, public_key, r, s, key_y, r_y`: the y's make `s·R = z·G + r·Q` hold for
//! a valid signature (found from `R = u1·G ± u2·Q`, `u1 = z/s`, `u2 = r/s` mod n). Each
//! signature also has half-length multipliers ([`Multipliers`]): v, μ with `μ ≡ v·r·s⁻¹` and
//! `w ≡ v·z·s⁻¹` (mod n), |v|, |μ| < 2^126, so that its term in the batch is
//! `v·R − μ·Q − w·G`. The batch coefficients are drawn from a Poseidon transcript that starts
//! from a felt binding every message and key ([`Bound`]) and absorbs each signature's r, s
//! and one packed felt of v and the y's parities ([`transcript_coefficients`]); the program
//! recomputes them, so they are never part of the input (docs/sequencer.md, "A transcript of
//! what is not bound yet").

use num_bigint::{BigInt, BigUint, Sign};
use starknet_crypto::{poseidon_hash, poseidon_hash_many, poseidon_permute_comp};
use starknet_types_core::curve::{AffinePoint, ProjectivePoint};
use starknet_types_core::felt::{Felt, NonZeroFelt};

use crate::ecdsa::{EC_ORDER, HALF_ORDER};

/// Signed base-32 digits of G's scalar `Σ a_i·w_i` (below 2^396; 80 reach 2^398).
pub const WINDOWS: usize = 80;
/// Signed base-32 digits (in [−16, 16)) of `a·|v|` and `a·|μ|` (below 2^256).
pub const HALF_WINDOWS: usize = 52;
/// Layout 4's base-16 digits of `a·|v|` and `a·|μ|`.
const V4_HALF_WINDOWS: usize = 64;
const LIMBS: usize = 4;
const LIMB_BITS: usize = 64;
/// Felts of a record, of G's scalar hint.
pub const SIGNATURE_SIZE: usize = 6;
pub const SCALAR_HINT_SIZE: usize = 6 + WINDOWS;
/// Layout 2 to 4's base-16 digits of G's scalar (4 limbs of 16, then 35 for the top carry).
const V4_WINDOWS: usize = 99;
/// Digits per group of the signed digit checks (13: 65 bits, just past a 64-bit limb).
const GROUP_DIGITS: usize = 13;
/// G's carries are given as `c + CARRY_OFFSET` (they may be slightly negative).
const CARRY_OFFSET: u8 = 16;
/// Felts the transcript absorbs per signature: r, s, and v's sign and limbs with the y's
/// parities packed in one felt.
pub const TRANSCRIPT_SIZE: usize = 3;
/// Coefficients drawn from one Poseidon permutation: both 128-bit halves of its 3 outputs.
pub const COEFFICIENTS_PER_DRAW: usize = 6;
/// Offsets in a signature's hint (after the 64-bit limbs of message, r and s): v's sign bit
/// and magnitude limbs, μ's, k's two limbs, w's four, k_w's four, key_y's and r_y's parity
/// (`bit, high, low` with `y = 2·(high·2^128 + low) + bit`), the signed base-32 digits of
/// `a·|v|` then of `a·|μ|`.
pub const HINT_V: usize = 3 * LIMBS;
pub const HINT_MU: usize = HINT_V + 3;
pub const HINT_K: usize = HINT_MU + 3;
pub const HINT_W: usize = HINT_K + 2;
pub const HINT_KW: usize = HINT_W + LIMBS;
pub const HINT_KEY_Y: usize = HINT_KW + LIMBS;
pub const HINT_R_Y: usize = HINT_KEY_Y + 3;
pub const HINT_DIGITS: usize = HINT_R_Y + 3;
pub const SIGNATURE_HINT_SIZE: usize = HINT_DIGITS + 2 * HALF_WINDOWS;
/// Layout 4's hints (`BatchInput::hint_felts_v4`): v and μ as felts first (2 per
/// signature), then per signature the hint above without the parities and with 64 base-16
/// digits of each product.
const V4_MULTIPLIER_SIZE: usize = 2;
/// Most signatures in one batch (bounds G's scalar, which the top digits hold).
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

/// A signature's half-length multipliers and the quotients the program's integer identities
/// need: `μ·s − v·r = k·n` and `w·s − v·z = k_w·n`. Its term in the batch equation is
/// `v·R − μ·Q − w·G = v·s⁻¹·(s·R − r·Q − z·G)`, O exactly when the signature is valid (v ≢ 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Multipliers {
    pub v: BigInt,
    pub mu: BigInt,
    pub w: BigInt,
    pub k: BigInt,
    pub k_w: BigInt,
}

impl Multipliers {
    /// What an honest prover gives: v, μ from a half-GCD of n and `u = r·s⁻¹ mod n` (the
    /// extended Euclidean algorithm stopped at the first remainder below √n: μ is that
    /// remainder, v its cofactor, both of absolute value at most √n < 2^126), then w and the
    /// quotients. For s ≡ 0 (which the program refuses) v = 1, μ = 0.
    pub fn of(hash: Felt, r: Felt, s: Felt) -> Self {
        let n = order_int();
        let (v, mu) = match s_inverse(s) {
            Some(s_inv) => {
                let u = BigInt::from(r.mul_mod(&s_inv, &order()).to_biguint());
                half_gcd(&u, &n)
            }
            None => (BigInt::from(1u8), BigInt::default()),
        };
        Self::with(v, mu, hash, r, s)
    }

    /// v and μ as given; `w = v·z·s⁻¹ mod n` (0 if s ≡ 0) and the quotients by truncated
    /// division: exact when `μ ≡ v·r·s⁻¹` (mod n), otherwise the program's identity fails
    /// (tests: multipliers a cheating prover might try).
    pub fn with(v: BigInt, mu: BigInt, hash: Felt, r: Felt, s: Felt) -> Self {
        let n = order_int();
        let [z, r, s] = [hash, r, s].map(|x| BigInt::from(x.to_biguint()));
        let w = match s_inverse(Felt::from(s.magnitude().clone())) {
            Some(s_inv) => modulo(&(&v * &z * BigInt::from(s_inv.to_biguint())), &n),
            None => BigInt::default(),
        };
        let k = (&mu * &s - &v * &r) / &n;
        let k_w = (&w * &s - &v * &z) / &n;
        Self { v, mu, w, k, k_w }
    }

    /// v and μ as layout 4's transcript absorbed them (a negative value is PRIME − |value|).
    fn felts_v4(&self) -> [Felt; V4_MULTIPLIER_SIZE] {
        [signed_felt(&self.v), signed_felt(&self.mu)]
    }
}

/// The hints' layout: the current one (5) or layout 4's.
#[derive(Clone, Copy)]
enum Layout {
    V5,
    V4,
}

/// What fixes every record's message and public key before the transcript absorbs the rest
/// (the transcript starts from it instead of absorbing them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// `poseidon_hash_many` of all records: the test program `signature_batch.cairo`, where
    /// nothing else binds them.
    Records,
    /// A felt the caller computed from data that fixes them: the block program's
    /// [`block_bound`] of its start root and commitments.
    Given(Felt),
}

/// The block program's bound: `poseidon_hash_many(root_start, commitment_start,
/// commitment_end)`. The messages are the transaction hashes chained from `commitment_start`
/// to `commitment_end`; the keys are the start states' (in leaves under `root_start`) or
/// deploys' of the range (in their transaction hashes).
pub fn block_bound(root_start: Felt, commitment_start: Felt, commitment_end: Felt) -> Felt {
    poseidon_hash_many(&[root_start, commitment_start, commitment_end])
}

/// A batch as the program reads it: records, multipliers, the bound its transcript starts
/// from and the coefficients the hints are made with.
#[derive(Clone, Debug)]
pub struct BatchInput {
    records: Vec<[Felt; SIGNATURE_SIZE]>,
    multipliers: Vec<Multipliers>,
    bound: Bound,
    coefficients: Vec<Felt>,
}

impl BatchInput {
    /// The records of `signatures` (y's recovered) and their multipliers, with the
    /// transcript's coefficients, bound by the records themselves ([`Bound::Records`], the
    /// test program's). Refuses what the program refuses by its bounds: a batch over
    /// [`MAX_BATCH`], a hash, r or s from 2^251, and a non-canonical s (above (n − 1)/2).
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
        Ok(Self::unchecked(signatures, Bound::Records))
    }

    /// The records and hints a prover would give for any signatures, without the bounds of
    /// [`BatchInput::new`] (e.g. a malleated (r, n − s)): the program refuses what `new`
    /// refuses. The block program's input uses this (with [`Bound::Given`]), so that a bad
    /// signature in a published block fails the proof rather than the encoding.
    pub fn unchecked(signatures: &[SignedHash], bound: Bound) -> Self {
        let records: Vec<_> = signatures.iter().map(record).collect();
        let multipliers = records
            .iter()
            .map(|rec| Multipliers::of(rec[0], rec[2], rec[3]))
            .collect();
        let mut batch = Self {
            records,
            multipliers,
            bound,
            coefficients: Vec::new(),
        };
        batch.redraw();
        batch
    }

    /// The coefficients from the transcript, as the program draws them.
    fn redraw(&mut self) {
        self.coefficients =
            transcript_coefficients(self.bound_felt(), &self.records, &self.multipliers);
    }

    /// The felt the transcript starts from.
    pub fn bound_felt(&self) -> Felt {
        match self.bound {
            Bound::Records => {
                let flat: Vec<Felt> = self.records.iter().flatten().copied().collect();
                poseidon_hash_many(&flat)
            }
            Bound::Given(bound) => bound,
        }
    }

    pub fn records(&self) -> &[[Felt; SIGNATURE_SIZE]] {
        &self.records
    }

    pub fn multipliers(&self) -> &[Multipliers] {
        &self.multipliers
    }

    /// Replaces a record (tests: a tampered hint, e.g. the other y of R), with the honest
    /// multipliers of its message, r and s, and redraws the coefficients from the transcript,
    /// as the program does.
    pub fn set_record(&mut self, index: usize, record: [Felt; SIGNATURE_SIZE]) {
        self.records[index] = record;
        self.multipliers[index] = Multipliers::of(record[0], record[2], record[3]);
        self.redraw();
    }

    /// Replaces a signature's multipliers (tests: what a cheating prover might give) and
    /// redraws the coefficients from the transcript, which absorbs them.
    pub fn set_multipliers(&mut self, index: usize, multipliers: Multipliers) {
        self.multipliers[index] = multipliers;
        self.redraw();
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

    /// The program input: n, the records, then the hints.
    pub fn to_felts(&self) -> Vec<Felt> {
        let mut out = vec![Felt::from(self.records.len())];
        out.extend(self.records.iter().flatten());
        out.extend(self.hint_felts());
        out
    }

    /// The hints `verify_ecdsa_batch` reads: each signature's hint, then G's scalar's.
    pub fn hint_felts(&self) -> Vec<Felt> {
        let n = self.records.len();
        let mut out = Vec::with_capacity(n * SIGNATURE_HINT_SIZE + SCALAR_HINT_SIZE);
        self.extend_hints(&self.coefficients, Layout::V5, &mut out);
        out
    }

    /// The hints of layout 4 (half-length scalars, the transcript of every record and of
    /// every v and μ), kept only so that the program of that layout runs on the same blocks
    /// (A/B measurements, `STARFARM_BENCH_PREVIOUS_LAYOUT=4` of the `block_program` bench):
    /// all v's and μ's first, then per signature the hint without the y's parities, then
    /// G's scalar's; coefficients the low 128 bits of `Poseidon(seed, i)` with `seed =
    /// Poseidon(poseidon_hash_many(records), poseidon_hash_many(v's and μ's))`.
    pub fn hint_felts_v4(&self) -> Vec<Felt> {
        let flat: Vec<Felt> = self.records.iter().flatten().copied().collect();
        let flat_multipliers: Vec<Felt> = self
            .multipliers
            .iter()
            .flat_map(Multipliers::felts_v4)
            .collect();
        let seed = poseidon_hash(
            poseidon_hash_many(&flat),
            poseidon_hash_many(&flat_multipliers),
        );
        let coefficients = coefficients_from(seed, self.records.len());
        let mut out = flat_multipliers;
        self.extend_hints(&coefficients, Layout::V4, &mut out);
        out
    }

    /// Each signature's hint (layout 5: with the y's parities and signed base-32 digits;
    /// layout 4: neither, base-16 digits), then G's scalar's, for these coefficients.
    fn extend_hints(&self, coefficients: &[Felt], layout: Layout, out: &mut Vec<Felt>) {
        let mut g_sum = [
            BigUint::default(),
            BigUint::default(),
            BigUint::default(),
            BigUint::default(),
        ];
        for ((rec, m), a) in self.records.iter().zip(&self.multipliers).zip(coefficients) {
            let a = a.to_biguint();
            let [message, r, s] = [rec[0], rec[2], rec[3]].map(limbs);
            out.extend(message.iter().chain(&r).chain(&s).map(Felt::from));
            out.extend(sign_and_magnitude(&m.v));
            out.extend(sign_and_magnitude(&m.mu));
            out.extend(signed_limbs(&m.k, 2));
            let w = unsigned_limbs(&m.w);
            out.extend(w.iter().map(Felt::from));
            out.extend(signed_limbs(&m.k_w, LIMBS));
            let (av, amu) = (&a * m.v.magnitude(), &a * m.mu.magnitude());
            match layout {
                Layout::V5 => {
                    out.extend(parity(rec[4]));
                    out.extend(parity(rec[5]));
                    out.extend(signed_digits(&av, HALF_WINDOWS));
                    out.extend(signed_digits(&amu, HALF_WINDOWS));
                }
                Layout::V4 => {
                    out.extend(digits(&av, V4_HALF_WINDOWS));
                    out.extend(digits(&amu, V4_HALF_WINDOWS));
                }
            }
            for (sum, l) in g_sum.iter_mut().zip(w) {
                *sum += &a * l;
            }
        }
        out.extend(match layout {
            Layout::V5 => signed_scalar_hint(&g_sum),
            Layout::V4 => scalar_hint(&g_sum),
        });
    }

    /// The hints of the full-length form (input layouts 2 and 3, before half-length scalars),
    /// kept only so that programs of those layouts run on the same blocks (A/B measurements,
    /// `STARFARM_BENCH_PREVIOUS_LAYOUT` of the `block_program` bench): coefficients from the
    /// records alone; per signature the limbs of message, r and s and the 99-digit hints of
    /// `a·s` and `a·r`; then the hint of `Σ a_i·z_i`.
    pub fn full_length_hint_felts(&self) -> Vec<Felt> {
        let flat: Vec<Felt> = self.records.iter().flatten().copied().collect();
        let coefficients = coefficients_from(poseidon_hash_many(&flat), self.records.len());
        let mut out = Vec::new();
        let mut message_sum = [
            BigUint::default(),
            BigUint::default(),
            BigUint::default(),
            BigUint::default(),
        ];
        for (rec, a) in self.records.iter().zip(&coefficients) {
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

    /// The program's batch equation, natively, with this input's coefficients, records and
    /// multipliers: `Σ a_i·(v_i·R_i − μ_i·Q_i − w_i·G) = O` (points off the curve make it
    /// false). It holds for valid signatures whatever the (consistent) multipliers; the
    /// program also checks the multipliers' identities mod n, which this does not.
    pub fn equation_holds(&self) -> bool {
        let n = order_int();
        let scalar = |x: BigInt| Felt::from(modulo(&x, &n).magnitude().clone());
        let g = ProjectivePoint::from_affine_unchecked(generator().x(), generator().y());
        let mut sum = ProjectivePoint::identity();
        for ((rec, m), a) in self
            .records
            .iter()
            .zip(&self.multipliers)
            .zip(&self.coefficients)
        {
            let [_, public_key, r, _, key_y, r_y] = *rec;
            let (Ok(q), Ok(big_r)) = (
                ProjectivePoint::from_affine(public_key, key_y),
                ProjectivePoint::from_affine(r, r_y),
            ) else {
                return false;
            };
            let a = BigInt::from(a.to_biguint());
            sum += &big_r * scalar(&a * &m.v);
            sum += -&(&q * scalar(&a * &m.mu));
            sum += -&(&g * scalar(&a * &m.w));
        }
        sum.is_identity()
    }
}

/// The coefficients the program draws. `seed = poseidon_hash_many(bound, then per signature
/// r, s, packed)` with `packed = |v|'s limbs + 2^128·(v's sign bit + 2·parity(r_y) +
/// 4·parity(key_y))` ([`packed`]); then per block j of six signatures the Poseidon
/// permutation of `(seed, j, 2)`, each of its three outputs giving its low then its high 128
/// bits.
pub fn transcript_coefficients(
    bound: Felt,
    records: &[[Felt; SIGNATURE_SIZE]],
    multipliers: &[Multipliers],
) -> Vec<Felt> {
    let mut transcript = Vec::with_capacity(1 + TRANSCRIPT_SIZE * records.len());
    transcript.push(bound);
    for (rec, m) in records.iter().zip(multipliers) {
        transcript.extend([rec[2], rec[3], packed(rec, m)]);
    }
    let seed = poseidon_hash_many(&transcript);
    let mut out = Vec::with_capacity(records.len() + COEFFICIENTS_PER_DRAW);
    let mut block = 0u64;
    while out.len() < records.len() {
        let mut state = [seed, Felt::from(block), Felt::TWO];
        poseidon_permute_comp(&mut state);
        for x in state {
            let [high, low] = halves(x);
            out.extend([low, high]);
        }
        block += 1;
    }
    out.truncate(records.len());
    out
}

/// The felt the transcript absorbs after a signature's r and s: v's limbs (the program
/// range-checks them below 2^64) and three bits above 2^128, so distinct (v, y's) give
/// distinct felts.
pub fn packed(record: &[Felt; SIGNATURE_SIZE], m: &Multipliers) -> Felt {
    let [sign, low, high] = sign_and_magnitude(&m.v);
    let [key_bit, ..] = parity(record[4]);
    let [r_bit, ..] = parity(record[5]);
    low + high * Felt::TWO.pow(64u32)
        + Felt::TWO.pow(128u32) * (sign + Felt::TWO * r_bit + Felt::from(4u8) * key_bit)
}

/// `bit, high, low` with `y = 2·(high·2^128 + low) + bit` over the integers (y in [0, PRIME)):
/// its parity, which tells a point's two y's apart. For y = PRIME − 1, `high` is the program's
/// bound, which it refuses (docs/sequencer.md).
fn parity(y: Felt) -> [Felt; 3] {
    let y = y.to_biguint();
    let half = &y >> 1u8;
    [
        Felt::from(&y & BigUint::from(1u8)),
        Felt::from(&half >> 128u8),
        Felt::from(&half & mask(128)),
    ]
}

/// `[high, low]`: x = high·2^128 + low with low below 2^128 (Cairo's `split_felt`).
fn halves(x: Felt) -> [Felt; 2] {
    let bytes = x.to_bytes_be();
    let mut high = [0u8; 16];
    let mut low = [0u8; 16];
    high.copy_from_slice(&bytes[..16]);
    low.copy_from_slice(&bytes[16..]);
    [
        Felt::from(u128::from_be_bytes(high)),
        Felt::from(u128::from_be_bytes(low)),
    ]
}

/// `n` coefficients as layouts 2 to 4 drew them: the low 128 bits of `Poseidon(seed, i)`.
fn coefficients_from(seed: Felt, n: usize) -> Vec<Felt> {
    (0..n)
        .map(|i| halves(poseidon_hash(seed, Felt::from(i)))[1])
        .collect()
}

fn order() -> NonZeroFelt {
    NonZeroFelt::from_felt_unchecked(EC_ORDER)
}

fn order_int() -> BigInt {
    BigInt::from(EC_ORDER.to_biguint())
}

/// s⁻¹ mod n, if s ≢ 0.
fn s_inverse(s: Felt) -> Option<Felt> {
    s.mod_inverse(&order())
}

/// x mod m in [0, m).
fn modulo(x: &BigInt, m: &BigInt) -> BigInt {
    ((x % m) + m) % m
}

/// (v, μ) with `μ ≡ v·u (mod n)` and |v|, |μ| ≤ √n: the extended Euclidean algorithm on
/// (n, u) keeps `r_i ≡ t_i·u` and `|t_i|·r_(i−1) ≤ n`; it stops at the first remainder below
/// √n, whose predecessor is at least √n.
fn half_gcd(u: &BigInt, n: &BigInt) -> (BigInt, BigInt) {
    let (mut r0, mut r1) = (n.clone(), u.clone());
    let (mut t0, mut t1) = (BigInt::default(), BigInt::from(1u8));
    while &r1 * &r1 >= *n {
        let q = &r0 / &r1;
        let r2 = &r0 - &q * &r1;
        let t2 = &t0 - &q * &t1;
        (r0, r1) = (r1, r2);
        (t0, t1) = (t1, t2);
    }
    (t1, r1)
}

/// A felt for a signed integer (a negative one is PRIME − |x|).
fn signed_felt(x: &BigInt) -> Felt {
    let magnitude = Felt::from(x.magnitude().clone());
    if x.sign() == Sign::Minus {
        -magnitude
    } else {
        magnitude
    }
}

/// `bit, low, high`: the sign bit (1 for negative) and |x| as `low + 2^64·high`, `low`
/// below 2^64 (`high` is the rest: an oversized |x| gives a `high` the program refuses).
fn sign_and_magnitude(x: &BigInt) -> [Felt; 3] {
    let magnitude = x.magnitude();
    [
        Felt::from(u8::from(x.sign() == Sign::Minus)),
        Felt::from(magnitude & mask(LIMB_BITS)),
        Felt::from(magnitude >> LIMB_BITS),
    ]
}

/// `count` limbs of a signed x: the low ones in [0, 2^64), the top one signed (the rest).
fn signed_limbs(x: &BigInt, count: usize) -> Vec<Felt> {
    let low_bits = LIMB_BITS * (count - 1);
    let low = modulo(x, &(BigInt::from(1u8) << low_bits));
    let top = (x - &low) >> low_bits;
    let low = low.magnitude().clone();
    let mut out: Vec<Felt> = (0..count - 1)
        .map(|i| Felt::from((&low >> (LIMB_BITS * i)) & mask(LIMB_BITS)))
        .collect();
    out.push(signed_felt(&top));
    out
}

/// The four 64-bit limbs of a non-negative x (the top one holds the rest).
fn unsigned_limbs(x: &BigInt) -> [BigUint; LIMBS] {
    let x = x.magnitude();
    [0, 1, 2, 3].map(|i| {
        let limb = x >> (LIMB_BITS * i);
        if i + 1 < LIMBS {
            limb & mask(LIMB_BITS)
        } else {
            limb
        }
    })
}

fn mask(bits: usize) -> BigUint {
    (BigUint::from(1u8) << bits) - 1u8
}

/// The `count` base-16 digits of x, least significant first.
fn digits(x: &BigUint, count: usize) -> Vec<Felt> {
    (0..count)
        .map(|j| Felt::from((x >> (4 * j)) & mask(4)))
        .collect()
}

/// A signed digit's integer value: felts above 16 are the negative digits (`PRIME + d`).
fn signed_digit_value(d: &Felt) -> BigInt {
    if *d > Felt::from(16u8) {
        -BigInt::from((-*d).to_biguint())
    } else {
        BigInt::from(d.to_biguint())
    }
}

/// The `count` signed base-32 digits of x, each in [−16, 16), least significant first:
/// `x = Σ d_j·32^j` (a digit of 16 or more is taken as d − 32 with a carry into the next).
fn signed_digits(x: &BigUint, count: usize) -> Vec<Felt> {
    let mut rest = BigInt::from(x.clone());
    (0..count)
        .map(|_| {
            let r = modulo(&rest, &BigInt::from(32u8));
            let d = if r >= BigInt::from(16u8) { r - 32 } else { r };
            rest = (&rest - &d) >> 5u8;
            signed_felt(&d)
        })
        .collect()
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
    let w = s_inverse(sig.s)?;
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
/// (high, low) halves at 2^128, then its base-16 digits, least significant first (layouts 2
/// to 4).
fn scalar_hint(xs: &[BigUint; LIMBS]) -> Vec<Felt> {
    let total: BigUint = xs
        .iter()
        .enumerate()
        .map(|(k, x)| x << (LIMB_BITS * k))
        .sum();
    let mut out = Vec::with_capacity(6 + V4_WINDOWS);
    let mut carry = BigUint::default();
    for (k, x) in xs.iter().take(LIMBS - 1).enumerate() {
        let digits_part = (&total >> (LIMB_BITS * k)) & mask(LIMB_BITS);
        carry = (x + &carry - digits_part) >> LIMB_BITS;
        out.push(Felt::from(&carry >> 128));
        out.push(Felt::from(&carry & mask(128)));
    }
    out.extend(digits(&total, V4_WINDOWS));
    out
}

/// The hint of the integer `X = Σ xs[k]·2^(64k)` as `check_scalar` reads it: the carries
/// c1..c3 of `x_k + c_k = G_k + 2^64·c_(k+1)` as (high, low) halves of `c + CARRY_OFFSET`,
/// then X's WINDOWS signed base-32 digits; G_k is the sum of digits 13k.. (13 of them, the
/// last group all the rest) weighted `32^(j − 13k)·2^k`.
fn signed_scalar_hint(xs: &[BigUint; LIMBS]) -> Vec<Felt> {
    let total: BigUint = xs
        .iter()
        .enumerate()
        .map(|(k, x)| x << (LIMB_BITS * k))
        .sum();
    let digit_felts = signed_digits(&total, WINDOWS);
    let signed: Vec<BigInt> = digit_felts.iter().map(signed_digit_value).collect();
    let group = |k: usize| -> BigInt {
        let end = if k + 1 < LIMBS {
            GROUP_DIGITS * (k + 1)
        } else {
            WINDOWS
        };
        let sum = signed[GROUP_DIGITS * k..end]
            .iter()
            .rev()
            .fold(BigInt::default(), |acc, d| acc * 32 + d);
        sum << k
    };
    let mut out = Vec::with_capacity(SCALAR_HINT_SIZE);
    let mut carry = BigInt::default();
    for (k, x) in xs.iter().take(LIMBS - 1).enumerate() {
        carry = (BigInt::from(x.clone()) + &carry - group(k)) >> LIMB_BITS;
        let given = (&carry + BigInt::from(CARRY_OFFSET)).magnitude().clone();
        out.push(Felt::from(&given >> 128));
        out.push(Felt::from(&given & mask(128)));
    }
    out.extend(digit_felts);
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
    fn signed_scalar_hint_digits_and_carries_close_every_limb() {
        let a = BigUint::from(u128::MAX) * BigUint::from(1u32 << 16);
        let xs = [u64::MAX, 1 << 63, 12345, (1 << 60) - 1].map(|l| &a * BigUint::from(l));
        let hint = signed_scalar_hint(&xs);
        assert_eq!(hint.len(), SCALAR_HINT_SIZE);
        let signed: Vec<BigInt> = hint[6..].iter().map(signed_digit_value).collect();
        let value = signed
            .iter()
            .rev()
            .fold(BigInt::default(), |acc, d| acc * 32 + d);
        let expected: BigUint = xs.iter().enumerate().map(|(k, x)| x << (64 * k)).sum();
        assert_eq!(value, BigInt::from(expected));
        // The limb equations the program checks, with the hinted carries.
        let carries: Vec<BigInt> = (0..3)
            .map(|k| {
                let given = (hint[2 * k].to_biguint() << 128usize) + hint[2 * k + 1].to_biguint();
                BigInt::from(given) - BigInt::from(CARRY_OFFSET)
            })
            .collect();
        let group = |k: usize, end: usize| {
            signed[13 * k..end]
                .iter()
                .rev()
                .fold(BigInt::default(), |acc, d| acc * 32 + d)
                << k
        };
        let limb = BigInt::from(1u8) << 64usize;
        let x = |k: usize| BigInt::from(xs[k].clone());
        assert_eq!(x(0), group(0, 13) + &limb * &carries[0]);
        assert_eq!(x(1) + &carries[0], group(1, 26) + &limb * &carries[1]);
        assert_eq!(x(2) + &carries[1], group(2, 39) + &limb * &carries[2]);
        assert_eq!(x(3) + &carries[2], group(3, WINDOWS));
    }

    #[test]
    fn multipliers_are_half_length_and_satisfy_the_identities() {
        let mut rng = Rng(5);
        let n = order_int();
        let bound: BigInt = BigInt::from(1u8) << 126usize;
        for _ in 0..50 {
            let sig = rng.signed_hash();
            let m = Multipliers::of(sig.hash, sig.r, sig.s);
            let [z, r, s] = [sig.hash, sig.r, sig.s].map(|x| BigInt::from(x.to_biguint()));
            assert!(m.v != BigInt::default());
            assert!(m.v.magnitude() < bound.magnitude(), "|v| < 2^126");
            assert!(m.mu.magnitude() < bound.magnitude(), "|μ| < 2^126");
            assert_eq!(&m.mu * &s - &m.v * &r, &m.k * &n);
            assert_eq!(&m.w * &s - &m.v * &z, &m.k_w * &n);
            assert!(m.w >= BigInt::default() && m.w < n);
        }
    }

    #[test]
    fn parities_tell_the_two_ys_apart_and_rebuild_y() {
        let mut rng = Rng(6);
        let two128 = Felt::TWO.pow(128u32);
        for _ in 0..20 {
            let sig = rng.signed_hash();
            let y = curve_y(sig.r);
            let [bit, high, low] = parity(y);
            assert_eq!(Felt::TWO * (high * two128 + low) + bit, y);
            assert!(bit == Felt::ZERO || bit == Felt::ONE);
            assert_ne!(parity(-y)[0], bit, "y and −y differ in parity");
        }
        // PRIME − 1 = 2·(PRIME − 1)/2: its high half is the program's bound, refused there.
        let [bit, high, low] = parity(-Felt::ONE);
        assert_eq!((bit, low), (Felt::ZERO, Felt::ZERO));
        assert_eq!(
            high,
            Felt::TWO.pow(122u32) + Felt::from(17u8) * Felt::TWO.pow(63u32)
        );
    }

    #[test]
    fn coefficients_are_both_halves_of_each_permutation_output() {
        let mut rng = Rng(7);
        let sigs: Vec<_> = (0..7).map(|_| rng.signed_hash()).collect();
        let batch = BatchInput::new(&sigs).expect("in range");
        let a = batch.coefficients();
        assert_eq!(a.len(), 7);
        let mut state = [Felt::ZERO; 3];
        let seed = {
            let mut t = vec![batch.bound_felt()];
            for (rec, m) in batch.records().iter().zip(batch.multipliers()) {
                t.extend([rec[2], rec[3], packed(rec, m)]);
            }
            poseidon_hash_many(&t)
        };
        state[0] = seed;
        state[2] = Felt::TWO;
        poseidon_permute_comp(&mut state);
        assert_eq!(state[0], poseidon_hash(seed, Felt::ZERO));
        let two128 = Felt::TWO.pow(128u32);
        for k in 0..3 {
            assert_eq!(a[2 * k + 1] * two128 + a[2 * k], state[k]);
        }
        assert!(a.iter().all(|x| x.to_biguint().bits() <= 128));
    }

    #[test]
    fn signed_digits_rebuild_the_value_within_their_range() {
        let max = (BigUint::from(1u8) << 256usize) - 1u8;
        for x in [
            BigUint::default(),
            BigUint::from(16u8),
            BigUint::from(31u8),
            max.clone(),
            &max >> 3usize,
        ] {
            let felts = signed_digits(&x, HALF_WINDOWS);
            let value = felts.iter().rev().fold(BigInt::default(), |acc, d| {
                let d = signed_digit_value(d);
                assert!(d >= BigInt::from(-16) && d < BigInt::from(16));
                acc * 32 + d
            });
            assert_eq!(value, BigInt::from(x));
        }
    }

    #[test]
    fn signed_limbs_rebuild_the_value() {
        for x in [
            -(BigInt::from(1u8) << 130usize) + BigInt::from(5u8),
            BigInt::from(-1),
            BigInt::from(7u8),
        ] {
            let felts = signed_limbs(&x, 3);
            let value = felts
                .iter()
                .rev()
                .fold(Felt::ZERO, |acc, l| acc * Felt::TWO.pow(64u32) + *l);
            assert_eq!(value, signed_felt(&x));
            assert!(felts[..2].iter().all(|l| *l < Felt::TWO.pow(64u32)));
        }
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
