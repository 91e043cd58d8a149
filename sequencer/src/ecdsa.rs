//! STARK-curve ECDSA verification for admission, with starknet-crypto 0.8's exact acceptance
//! rules and a fraction of its cost.
//!
//! `starknet_crypto::verify` recovers the key's y with a square root on every call and runs two
//! plain double-and-add multiplications (~1 ms). Here each account's key is prepared once
//! ([`VerifyingKey`]: the point plus wNAF tables of odd multiples of `2^(64j)·Q`), the generator
//! has a fixed-window table built once per process, and all point arithmetic is in Jacobian
//! coordinates with no inversion: `x(R) == r` is checked as `X == r·Z²`.
//!
//! Acceptance, as in starknet-crypto 0.8 (`src/ecdsa.rs`, `verify`): the hash, `r` and `s` must
//! be below 2^251, `r` and `s` non-zero, the public key must be the x of a curve point (either
//! y: both `u1·G + u2·Q` and `u1·G − u2·Q` are tried, so the sign of y does not matter), and
//! `w = s⁻¹ mod n` must itself be below 2^251. The one divergence: where `u1·G ± u2·Q` is the
//! point at infinity, starknet-crypto panics (`to_affine().unwrap()`); here that sum simply does
//! not match, so a crafted signature cannot crash the sequencer.

use std::sync::LazyLock;

use lambdaworks_math::field::element::FieldElement;
use lambdaworks_math::field::fields::fft_friendly::stark_252_prime_field::Stark252PrimeField;
use lambdaworks_math::field::fields::montgomery_backed_prime_fields::{IsModulus, U256PrimeField};
use lambdaworks_math::unsigned_integer::element::U256;
use rayon::prelude::*;
use starknet_types_core::felt::Felt;

/// The base field, used directly rather than through `Felt` so that its Montgomery operations
/// inline here (`Felt`'s are out-of-line calls: ~1.4x slower point arithmetic, measured).
type Fp = FieldElement<Stark252PrimeField>;

/// Scalars modulo the group order n, in Montgomery form: s⁻¹ mod n costs ~3 µs here against
/// ~50 µs through num-bigint's extended GCD (what starknet-crypto and `Felt::mod_inverse` use).
type Scalar = FieldElement<U256PrimeField<CurveOrder>>;

/// Order n of the STARK curve's group (prime: every affine point generates it).
#[derive(Clone, Copy, Debug)]
struct CurveOrder;

impl IsModulus<U256> for CurveOrder {
    const MODULUS: U256 =
        U256::from_hex_unchecked("800000000000010ffffffffffffffffb781126dcae7b2321e66a241adc64d2f");
}

/// Exclusive bound on the hash, `r`, `s` and `s⁻¹ mod n` (crypto-cpp's, kept by starknet-crypto).
const ELEMENT_UPPER_BOUND: Felt =
    Felt::from_hex_unchecked("0x800000000000000000000000000000000000000000000000000000000000000");

/// The STARK curve's group order n.
pub const EC_ORDER: Felt =
    Felt::from_hex_unchecked("0x800000000000010ffffffffffffffffb781126dcae7b2321e66a241adc64d2f");

/// (n − 1)/2: a signature is canonical ("low-s") when `s ≤ HALF_ORDER`. Of the two valid
/// signatures (r, s) and (r, n − s) of a hash, exactly one is canonical (n is odd); admission
/// stores that one and the block program refuses the other (docs/sequencer.md,
/// "Malleability").
pub const HALF_ORDER: Felt =
    Felt::from_hex_unchecked("0x4000000000000087fffffffffffffffdbc08936e573d9190f335120d6e32697");

/// Curve `y² = x³ + x + β` (alpha is 1, which the doubling formula uses).
const BETA: Fp =
    Fp::from_hex_unchecked("6f21413efbe40de150e596d72f7a8c5609ad26c15c915c1f4cdfcb99cee9e89");

const GENERATOR: Affine = Affine {
    x: Fp::from_hex_unchecked("1ef15c18599971b7beced415a40f0c7deacfd9b0d1819e03d723d8bc943cfca"),
    y: Fp::from_hex_unchecked("5668060aa49730b7be4801df46ec62de53ecd11abe43a32873000c36e8dc1f"),
};

const FP_ZERO: Fp = Fp::from_hex_unchecked("0");
const FP_ONE: Fp = Fp::from_hex_unchecked("1");

/// The key's scalar `u2` (< 2^252) is split into 64-bit limbs, each multiplied against its own
/// table of `2^(64j)·Q`: 65 doublings instead of 252, for 2 KiB per key.
const KEY_PARTS: usize = 4;
const KEY_PART_BITS: usize = 256 / KEY_PARTS;
/// wNAF width for the key: digits are odd, |d| < 2^(W-1).
const KEY_WNAF_WIDTH: usize = 5;
const KEY_TABLE_LEN: usize = 1 << (KEY_WNAF_WIDTH - 2);

/// Fixed signed windows for the generator: `u1·G` is a sum of one table point per window,
/// with no doubling at all. 37 windows × 64 points (150 KiB) cover 252 bits plus a carry.
const GEN_WINDOW_BITS: usize = 7;
const GEN_WINDOWS: usize = 252 / GEN_WINDOW_BITS + 1;
const GEN_TABLE_LEN: usize = 1 << (GEN_WINDOW_BITS - 1);

/// `GEN_TABLE[i][j] = (j + 1)·2^(7i)·G`, built on first use.
static GEN_TABLE: LazyLock<Vec<[Affine; GEN_TABLE_LEN]>> = LazyLock::new(build_generator_table);

/// Why a public key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcdsaError {
    /// starknet-crypto answers `InvalidPublicKey` for such a key on every signature.
    #[error("public key {0} is not the x coordinate of a STARK-curve point")]
    NotOnCurve(Felt),
}

/// An account's public key, prepared once for fast verification (about 2 KiB).
#[derive(Clone)]
pub struct VerifyingKey {
    public_key: Felt,
    /// `tables[j][i] = (2i + 1)·2^(64j)·Q`.
    tables: Box<[[Affine; KEY_TABLE_LEN]; KEY_PARTS]>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VerifyingKey")
            .field(&self.public_key)
            .finish()
    }
}

/// One signature to check with [`verify_many`].
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck<'a> {
    pub key: &'a VerifyingKey,
    pub hash: Felt,
    pub r: Felt,
    pub s: Felt,
}

/// Checks many signatures on rayon's pool; answers in input order.
pub fn verify_many(checks: &[SignatureCheck<'_>]) -> Vec<bool> {
    checks
        .par_iter()
        .map(|c| c.key.verify(c.hash, c.r, c.s))
        .collect()
}

/// Builds the generator table now rather than inside the first admission (a few ms).
pub fn warm_up() {
    LazyLock::force(&GEN_TABLE);
}

impl VerifyingKey {
    /// Recovers the point whose x is `x` (y from a square root, as starknet-crypto does on
    /// every call) and precomputes its multiplication tables.
    pub fn from_public_key(public_key: Felt) -> Result<Self, EcdsaError> {
        let x = fp(public_key);
        let (y, _) = (x.square() * x + x + BETA)
            .sqrt()
            .ok_or(EcdsaError::NotOnCurve(public_key))?;
        Ok(Self {
            public_key,
            tables: Box::new(key_tables(&Affine { x, y })),
        })
    }

    /// The public key (the point's x) this was built from.
    pub fn public_key(&self) -> Felt {
        self.public_key
    }

    /// Same answer as `starknet_crypto::verify(&pk, &hash, &r, &s).unwrap_or(false)`, except
    /// that where starknet-crypto panics (a sum at infinity) this does not.
    pub fn verify(&self, hash: Felt, r: Felt, s: Felt) -> bool {
        let Some((u1, u2)) = scalars(hash, r, s) else {
            return false;
        };
        let a = generator_mul(&u1);
        let b = self.mul(&u2);
        sum_or_difference_has_x(&a, &b, fp(r))
    }

    /// `k·Q` by interleaved wNAF over the 64-bit limbs of `k`.
    fn mul(&self, k: &[u64; 4]) -> Jacobian {
        let digits: [[i8; KEY_PART_BITS + 1]; KEY_PARTS] =
            std::array::from_fn(|j| wnaf(k[j], KEY_WNAF_WIDTH));
        let mut acc = Jacobian::IDENTITY;
        for bit in (0..=KEY_PART_BITS).rev() {
            acc = acc.double();
            for (part, table) in digits.iter().zip(self.tables.iter()) {
                if let Some(p) = table_point(table, part[bit]) {
                    acc = acc.add_affine(&p);
                }
            }
        }
        acc
    }
}

/// starknet-crypto's range checks, then `(u1, u2) = (z·w, r·w) mod n` with `w = s⁻¹ mod n`,
/// as little-endian limbs. `None` wherever starknet-crypto returns an error (read as "invalid").
fn scalars(hash: Felt, r: Felt, s: Felt) -> Option<([u64; 4], [u64; 4])> {
    let in_range = |v: Felt| v < ELEMENT_UPPER_BOUND;
    if !in_range(hash) || r == Felt::ZERO || !in_range(r) || s == Felt::ZERO || !in_range(s) {
        return None;
    }
    // All three are below 2^251 < n, so they are canonical residues mod n.
    let scalar = |v: Felt| Scalar::new(U256::from_limbs(v.to_be_digits()));
    // n is prime and 0 < s < n, so the inverse exists; starknet-crypto still refuses a w at or
    // above 2^251 (top limb over 59 bits), so this must too.
    let w = scalar(s).inv().ok()?;
    if w.representative().limbs[0] >> 59 != 0 {
        return None;
    }
    let le_limbs = |v: Scalar| {
        let mut limbs = v.representative().limbs;
        limbs.reverse();
        limbs
    };
    Some((le_limbs(scalar(hash) * w), le_limbs(scalar(r) * w)))
}

/// The same field element, moved between the two crates' wrappers (both Montgomery form).
fn fp(v: Felt) -> Fp {
    Fp::const_from_raw(U256::from_limbs(v.to_raw()))
}

/// Whether `x(a + b) == r` or `x(a − b) == r`, without leaving Jacobian coordinates. A sum at
/// infinity matches nothing.
fn sum_or_difference_has_x(a: &Jacobian, b: &Jacobian, r: Fp) -> bool {
    if a.is_identity() || b.is_identity() {
        // ±b or ±a: the same x either way.
        let other = if a.is_identity() { b } else { a };
        return other.has_x(r);
    }
    // The add-1998-cmo-2 terms; negating b only flips the sign of S2.
    let z1z1 = a.z.square();
    let z2z2 = b.z.square();
    let u1 = a.x * z2z2;
    let u2 = b.x * z1z1;
    let s1 = a.y * b.z * z2z2;
    let s2 = b.y * a.z * z1z1;
    let h = u2 - u1;
    if h == FP_ZERO {
        // b = ±a: one of a ± b is at infinity, the other is 2a.
        return a.double().has_x(r);
    }
    let hh = h.square();
    let hhh = h * hh;
    let v = u1 * hh;
    let z3 = a.z * b.z * h;
    let rz3z3 = r * z3.square();
    let x3 = |rr: Fp| rr.square() - hhh - v.double();
    x3(s2 - s1) == rz3z3 || x3(-s2 - s1) == rz3z3
}

/// `k·G` as a sum of one signed table point per 7-bit window.
fn generator_mul(k: &[u64; 4]) -> Jacobian {
    let table = &*GEN_TABLE;
    let mut acc = Jacobian::IDENTITY;
    let mut carry = 0i32;
    for (i, row) in table.iter().enumerate() {
        let mut digit = bits(k, i * GEN_WINDOW_BITS, GEN_WINDOW_BITS) as i32 + carry;
        // Digits in (-2^6, 2^6]: the table holds only positive multiples; negate y for the rest.
        carry = i32::from(digit > GEN_TABLE_LEN as i32);
        digit -= carry << GEN_WINDOW_BITS;
        if digit != 0 {
            let p = row[digit.unsigned_abs() as usize - 1];
            acc = acc.add_affine(&if digit < 0 { p.neg() } else { p });
        }
    }
    acc
}

/// The table point for a wNAF digit (odd, signed), or `None` for 0.
fn table_point(table: &[Affine; KEY_TABLE_LEN], digit: i8) -> Option<Affine> {
    let p = table[usize::from(digit.unsigned_abs() / 2)];
    match digit {
        0 => None,
        d if d < 0 => Some(p.neg()),
        _ => Some(p),
    }
}

/// `count` bits of `k` from `start`, little-endian, zero past the top.
fn bits(k: &[u64; 4], start: usize, count: usize) -> u64 {
    let mut out = 0u64;
    for i in 0..count {
        let at = start + i;
        if at < 256 {
            out |= ((k[at / 64] >> (at % 64)) & 1) << i;
        }
    }
    out
}

/// Width-`w` NAF of a 64-bit scalar (libsecp256k1's `ecmult_wnaf` recoding): digit `i`
/// weighs `2^i`; non-zero digits are odd, below `2^(w-1)` in size, and at least `w` apart.
fn wnaf(k: u64, w: usize) -> [i8; KEY_PART_BITS + 1] {
    let mut out = [0i8; KEY_PART_BITS + 1];
    let k = u128::from(k);
    let mut carry = 0u128;
    let mut bit = 0;
    // Bits above 64 read as zero, so a window reaching past the top starts odd and stays below
    // 2^(w-1): the last carry lands on bit 64 at most, which the loop still visits.
    while bit <= KEY_PART_BITS {
        if (k >> bit) & 1 == carry {
            bit += 1;
            continue;
        }
        let word = ((k >> bit) & ((1 << w) - 1)) + carry;
        carry = (word >> (w - 1)) & 1;
        out[bit] = (word as i64 - ((carry as i64) << w)) as i8;
        bit += w;
    }
    debug_assert_eq!(carry, 0);
    out
}

/// `tables[j][i] = (2i + 1)·2^(64j)·q`, all normalised with one inversion.
fn key_tables(q: &Affine) -> [[Affine; KEY_TABLE_LEN]; KEY_PARTS] {
    let mut points = Vec::with_capacity(KEY_PARTS * KEY_TABLE_LEN);
    let mut base = Jacobian::from(*q);
    for _ in 0..KEY_PARTS {
        let twice = base.double();
        let mut p = base;
        for _ in 0..KEY_TABLE_LEN {
            points.push(p);
            p = p.add(&twice);
        }
        for _ in 0..KEY_PART_BITS {
            base = base.double();
        }
    }
    let affine = batch_to_affine(&points);
    std::array::from_fn(|j| std::array::from_fn(|i| affine[j * KEY_TABLE_LEN + i]))
}

/// `rows[i][j] = (j + 1)·2^(7i)·G`: each window's multiples by repeated addition.
fn build_generator_table() -> Vec<[Affine; GEN_TABLE_LEN]> {
    let mut points = Vec::with_capacity(GEN_WINDOWS * GEN_TABLE_LEN);
    let mut base = Jacobian::from(GENERATOR);
    for _ in 0..GEN_WINDOWS {
        let mut p = base;
        for _ in 0..GEN_TABLE_LEN {
            points.push(p);
            p = p.add(&base);
        }
        // p is now (2^6 + 1)·base; the next window's base is 2^7·base.
        base = points[points.len() - 1].double();
    }
    let affine = batch_to_affine(&points);
    affine
        .chunks_exact(GEN_TABLE_LEN)
        .map(|row| std::array::from_fn(|j| row[j]))
        .collect()
}

/// Montgomery's trick: one field inversion for the whole batch. Every point here is `m·P` for a
/// finite `P` and `0 < m < 2^259` with no factor n (n is a prime above 2^251), so finite.
fn batch_to_affine(points: &[Jacobian]) -> Vec<Affine> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = FP_ONE;
    for p in points {
        prefix.push(acc);
        acc *= p.z;
    }
    let mut inv = acc
        .inv()
        .expect("table points are never at infinity: n is prime and larger than each multiple");
    let mut out = vec![GENERATOR; points.len()];
    for (i, p) in points.iter().enumerate().rev() {
        let z_inv = inv * prefix[i];
        inv *= p.z;
        let z_inv2 = z_inv.square();
        out[i] = Affine {
            x: p.x * z_inv2,
            y: p.y * z_inv2 * z_inv,
        };
    }
    out
}

/// A finite curve point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Affine {
    x: Fp,
    y: Fp,
}

impl Affine {
    fn neg(self) -> Self {
        Self {
            x: self.x,
            y: -self.y,
        }
    }
}

/// `(X, Y, Z)` for `(X/Z², Y/Z³)`; `Z = 0` is the point at infinity.
#[derive(Clone, Copy, Debug)]
struct Jacobian {
    x: Fp,
    y: Fp,
    z: Fp,
}

impl From<Affine> for Jacobian {
    fn from(p: Affine) -> Self {
        Self {
            x: p.x,
            y: p.y,
            z: FP_ONE,
        }
    }
}

impl Jacobian {
    const IDENTITY: Self = Self {
        x: FP_ONE,
        y: FP_ONE,
        z: FP_ZERO,
    };

    fn is_identity(&self) -> bool {
        self.z == FP_ZERO
    }

    /// Whether this finite point's x equals `r` (`X == r·Z²`).
    fn has_x(&self, r: Fp) -> bool {
        !self.is_identity() && self.x == r * self.z.square()
    }

    /// dbl-1998-cmo-2 with a = 1 (3M + 6S). Infinity stays at infinity (Z3 = 2·Y·Z), and
    /// the group has odd order, so no finite point has Y = 0.
    fn double(&self) -> Self {
        let xx = self.x.square();
        let yy = self.y.square();
        let zz = self.z.square();
        let s = (self.x * yy).double().double();
        let m = xx.double() + xx + zz.square();
        let x3 = m.square() - s.double();
        let yyyy8 = yy.square().double().double().double();
        Self {
            x: x3,
            y: m * (s - x3) - yyyy8,
            z: (self.y * self.z).double(),
        }
    }

    /// madd with a finite affine point (8M + 3S), handling equal and opposite points.
    fn add_affine(&self, p: &Affine) -> Self {
        if self.is_identity() {
            return Self::from(*p);
        }
        let zz = self.z.square();
        let u2 = p.x * zz;
        let s2 = p.y * zz * self.z;
        self.finish_add(u2, s2, self.x, self.y, self.z)
    }

    /// General addition (add-1998-cmo-2), handling infinity and equal or opposite points.
    fn add(&self, p: &Self) -> Self {
        if self.is_identity() {
            return *p;
        }
        if p.is_identity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = p.z.square();
        let u1 = self.x * z2z2;
        let s1 = self.y * p.z * z2z2;
        let u2 = p.x * z1z1;
        let s2 = p.y * self.z * z1z1;
        self.finish_add(u2, s2, u1, s1, self.z * p.z)
    }

    /// Shared tail of both additions: `u1, s1` from self, `u2, s2` from the other point, all
    /// scaled to the common denominator whose root is `z`.
    fn finish_add(&self, u2: Fp, s2: Fp, u1: Fp, s1: Fp, z: Fp) -> Self {
        let h = u2 - u1;
        let rr = s2 - s1;
        if h == FP_ZERO {
            return if rr == FP_ZERO {
                self.double()
            } else {
                Self::IDENTITY
            };
        }
        let hh = h.square();
        let hhh = h * hh;
        let v = u1 * hh;
        let x3 = rr.square() - hhh - v.double();
        Self {
            x: x3,
            y: rr * (v - x3) - s1 * hhh,
            z: z * h,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_affine(p: &Jacobian) -> Option<Affine> {
        let z_inv = p.z.inv().ok()?;
        Some(Affine {
            x: p.x * z_inv.square(),
            y: p.y * z_inv.square() * z_inv,
        })
    }

    #[test]
    fn constants_match_the_curve() {
        let g = GENERATOR;
        assert_eq!(g.y.square(), g.x.square() * g.x + g.x + BETA);
        assert_eq!(fp(starknet_crypto::get_public_key(&Felt::ONE)), g.x);
        // (n - 1)·G = -G has G's x.
        let n_minus_1 = Felt::from_hex_unchecked(
            "0x800000000000010ffffffffffffffffb781126dcae7b2321e66a241adc64d2e",
        );
        assert_eq!(fp(starknet_crypto::get_public_key(&n_minus_1)), g.x);
        assert_eq!(
            CurveOrder::MODULUS,
            U256::from_limbs((n_minus_1 + Felt::ONE).to_be_digits())
        );
    }

    #[test]
    fn generator_mul_matches_reference() {
        for k in [1u64, 2, 3, 64, 65, 127, 128, 0xdead_beef_cafe] {
            let felt = Felt::from(k);
            let ours = to_affine(&generator_mul(&felt.to_le_digits())).expect("finite");
            assert_eq!(
                ours.x,
                fp(starknet_crypto::get_public_key(&felt)),
                "k = {k}"
            );
        }
        let big = Felt::from_hex_unchecked(
            "0x7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        );
        let ours = to_affine(&generator_mul(&big.to_le_digits())).expect("finite");
        assert_eq!(ours.x, fp(starknet_crypto::get_public_key(&big)));
    }

    #[test]
    fn wnaf_recomposes() {
        for k in [
            0u64,
            1,
            31,
            32,
            0x5555_5555_5555_5555,
            u64::MAX,
            0x8000_0000_0000_0001,
        ] {
            let digits = wnaf(k, KEY_WNAF_WIDTH);
            let sum: i128 = digits
                .iter()
                .enumerate()
                .map(|(i, &d)| i128::from(d) << i)
                .sum();
            assert_eq!(sum, i128::from(k), "k = {k:#x}");
            assert!(digits
                .iter()
                .all(|&d| d == 0 || (d % 2 != 0 && d.abs() < 16)));
        }
    }

    #[test]
    fn key_mul_matches_generator_mul() {
        // Q = G: k·Q through the key tables equals k·G through the fixed windows.
        let key = VerifyingKey::from_public_key(starknet_crypto::get_public_key(&Felt::ONE))
            .expect("on curve");
        let k = Felt::from_hex_unchecked(
            "0x7f3c0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829304a5b6c",
        );
        let a = to_affine(&key.mul(&k.to_le_digits())).expect("finite");
        let b = to_affine(&generator_mul(&k.to_le_digits())).expect("finite");
        assert_eq!(a.x, b.x);
    }

    #[test]
    fn rejects_x_off_the_curve() {
        // Some x have no y; find one among the first few integers.
        let off = (0u64..100)
            .map(Felt::from)
            .find(|&x| (fp(x).square() * fp(x) + fp(x) + BETA).sqrt().is_none())
            .expect("about half of all x are off the curve");
        assert_eq!(
            VerifyingKey::from_public_key(off).unwrap_err(),
            EcdsaError::NotOnCurve(off)
        );
    }
}
