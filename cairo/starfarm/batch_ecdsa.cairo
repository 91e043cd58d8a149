// Batched verification of STARK-curve ECDSA signatures in plain Cairo (no ec_op builtin).
// The soundness argument and the cost are in docs/sequencer.md ("Signatures without ec_op");
// the prover's hints are written by `sequencer/src/batch_ecdsa.rs` (the native twin).
//
// A signature (r, s) of message z by the key whose x is `public_key` is accepted, as by
// cairo-lang's `check_ecdsa_signature`, when s·R = z·G + r·Q for the curve points R = (r, r_y)
// and Q = (public_key, key_y), either y of each (the prover supplies them); here also z, r and
// s must lie in [0, 2^251) (starknet-crypto's bounds, which admission applies) and r, s ≠ 0,
// and s must be canonical: s ≤ (n − 1)/2 ("low s"). (r, s) and (r, n − s) are both ECDSA
// signatures of the same hash (R and −R share their x); only the low one passes, so a valid
// signature cannot be malleated into a second accepted one (docs/sequencer.md,
// "Malleability").
//
// All n signatures are checked at once, with half-length scalars (docs/sequencer.md,
// "Half-length scalars"). For each signature the prover gives v, μ (|v|, |μ| < 2^128, found by
// a half-GCD of n and r·s⁻¹ mod n, so honestly < 2^126) and w, with, checked here over the
// integers (64-bit limbs, carries range-checked), μ·s − v·r = k·n and w·s − v·z = k'·n, and
// v ≠ 0. Then v·R − μ·Q − w·G = s⁻¹·v·(s·R − r·Q − z·G) (mod n on the scalars), which is O
// exactly when the signature's equation holds. With coefficients a_i drawn from a Poseidon
// transcript (below),
//   Σ a_i·v_i·R_i + Σ a_i·μ_i·(−Q_i) + (Σ a_i·w_i)·(−G) = O,
// one multi-scalar multiplication (Straus: a table of the multiples −16..15 per point, one
// shared chain of doublings, one addition per point and 5-bit window). Every scalar is given
// as signed base-32 digits in [−16, 16): a·|v| and a·|μ| (below 2^256) in 52 (the signs of v
// and μ pick ±R and ±Q, a digit's sign the table entry's), Σ a_i·w_i (below 2^396) in 80, G
// alone above window 51. Scalars are integers, never reduced mod the curve order, given by the prover as
// digits that the program checks against the products it computes from a_i and 64-bit limbs
// (every digit and carry range-checked). The coefficients are never
// input: a prover who wants other coefficients must give digits of other products, which
// fail here.
//
// The transcript (docs/sequencer.md, "A transcript of what is not bound yet") absorbs only
// what fixes each signature's term and is not fixed already: the caller's `bound`, a felt
// that binds every record's message and public key (the block program: its start root and
// its range's commitments), then per signature r, s and one packed felt of v (sign bit, two
// 64-bit limbs) and the parities of the two hinted y's; μ, w and the quotients follow from
// those. Three felts a signature, 1.5 Poseidon permutations at rate 2, and one permutation
// draws six coefficients (both halves of its three outputs).

from starkware.cairo.common.alloc import alloc
from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash_many
from starkware.cairo.common.cairo_builtins import PoseidonBuiltin
from starkware.cairo.common.math import assert_le, assert_le_felt, split_felt
from starkware.cairo.common.poseidon_state import PoseidonBuiltinState

// The curve y² = x³ + x + BETA and its generator.
const BETA = 0x6f21413efbe40de150e596d72f7a8c5609ad26c15c915c1f4cdfcb99cee9e89;
// (n − 1)/2 for the curve's order n: the largest canonical s.
const HALF_ORDER = 0x4000000000000087fffffffffffffffdbc08936e573d9190f335120d6e32697;
// The 64-bit limbs of the curve's order n, least significant first.
const N0 = 0x1e66a241adc64d2f;
const N1 = 0xb781126dcae7b232;
const N2 = 0xffffffffffffffff;
const N3 = 0x800000000000010;
const GEN_X = 0x1ef15c18599971b7beced415a40f0c7deacfd9b0d1819e03d723d8bc943cfca;
const GEN_Y = 0x5668060aa49730b7be4801df46ec62de53ecd11abe43a32873000c36e8dc1f;
// The accumulator starts at OFFSET (Pedersen's shift point: no one knows its logarithm, so an
// honest sum never meets an exceptional case) and must end at 32^WINDOWS · OFFSET.
const OFFSET_X = 0x49ee3eba8c1600700ee1b87eb599f16716b0b1022947733551fde4050ca6804;
const OFFSET_Y = 0x3ca0cfe4b3bc6ddf346d49d06ea0ed34e621062c0e056c1d0405d266e10268a;
const OFFSET_END_X = 0x532fe3439f32c5ba8fb93d8bd26a67c9967ff43e1cb2bd8fa69edde745dd2dc;
const OFFSET_END_Y = 0x1102ebb51d75ca7299a1d38b6ec5db9940150688b7594c89146cd23831f0b80;

// Every scalar's digits are signed base-32 digits in [−SIGNED_HALF, SIGNED_HALF).
const SIGNED_BASE = 32;
const SIGNED_HALF = 16;
// A multiples table (`multiples`) is addressed at its entry 0: the x of d·P at table[d], its y
// at table[TABLE_Y + d], for d in [−16, 16) (x's at −16..15, y's at 16..47).
const TABLE_Y = 32;
// Digits of G's scalar Σ a_i·w_i (below 2^(380 + 16) for at most MAX_BATCH signatures; 80
// signed digits reach 15·(32^80 − 1)/31 > 2^398).
const WINDOWS = 80;
// Digits of a·|v| and a·|μ| (below 2^128 · 2^128; 52 signed digits reach 2^258).
const HALF_WINDOWS = 52;
// Digit groups: 13 digits (65 bits) each, the first group's sum congruent to the first 64-bit
// limb mod 2^64 (`check_half_scalar`, `check_scalar`); G's top group has the last 41.
const GROUP_DIGITS = 13;
const TOP_DIGITS = WINDOWS - 3 * GROUP_DIGITS;
const LIMB = 2 ** 64;
const MAX_BATCH = 2 ** 16;
// Carries of G's scalar are given as c + CARRY_OFFSET = high·2^128 + low, high < 2^CARRY_HIGH_BOUND
// (the carries lie in (−9, 2^146)).
const CARRY_HIGH_BOUND = 2 ** 22;
const CARRY_OFFSET = 16;
// The carries of the identities mod n are checked in [−2^127, 2^127), and so are the limbs of
// k and k'.
const SIGNED_OFFSET = 2 ** 127;

// A signature record: message, public_key, r, s, key_y, r_y.
const SIGNATURE_SIZE = 6;
// Felts the transcript absorbs per signature: r, s and the packed felt of v's sign and limbs
// and the y's parities (`absorbed`).
const TRANSCRIPT_SIZE = 3;
// Coefficients drawn from one permutation: the (high, low) halves of its three outputs.
const COEFFICIENTS_PER_DRAW = 6;
// G's scalar hint: 3 carries (high, low, of c + CARRY_OFFSET) then WINDOWS digits, least
// significant first.
const SCALAR_HINT_SIZE = 6 + WINDOWS;
// A signature's hint, by offset: the 64-bit limbs of message (0), r (4) and s (8); v's sign
// bit and |v|'s two limbs (12), μ's (15); k (18, 2 signed limbs); w (20, 4 limbs); k' (24, 4
// signed limbs); key_y's parity as (bit, high, low) (28), r_y's (31); the signed base-32
// digits of a·|v| (34) and of a·|μ| (34 + HALF_WINDOWS), least significant first.
const HINT_V = 12;
const HINT_MU = 15;
const HINT_K = 18;
const HINT_W = 20;
const HINT_KW = 24;
const HINT_KEY_Y = 28;
const HINT_R_Y = 31;
const HINT_DIGITS = 34;
const SIGNATURE_HINT_SIZE = HINT_DIGITS + 2 * HALF_WINDOWS;
// After all signatures' hints: the hint of Σ a_i·w_i.
const BATCH_HINT_SIZE = SCALAR_HINT_SIZE;
// A y's parity hint: y = 2·(high·2^128 + low) + bit with high below this, so that
// 2·(high·2^128 + low) + bit ≤ PRIME − 2 never wraps: (PRIME − 1)/2 = 2^128·Y_HIGH_BOUND.
const Y_HIGH_BOUND = 2 ** 122 + 17 * 2 ** 63;

// A point of the multi-scalar multiplication: its multiples 1..15 (`multiples`: x's, then
// y's from TABLE_Y) and its scalar's digits.
struct MsmPoint {
    table: felt*,
    digits: felt*,
}

// Fails unless all `n` signatures are valid. `signatures`: n records of SIGNATURE_SIZE;
// `hints`: n signature hints of SIGNATURE_HINT_SIZE, then BATCH_HINT_SIZE felts; `bound`: a
// felt the caller computed from data that fixes every record's message and public key (the
// transcript does not absorb them again). Returns the end of the hints read.
func verify_ecdsa_batch{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    n, signatures: felt*, hints: felt*, bound
) -> felt* {
    alloc_locals;
    local batch_hint: felt* = hints + n * SIGNATURE_HINT_SIZE;
    assert_le(n, MAX_BATCH);
    let (transcript: felt*) = alloc();
    assert transcript[0] = bound;
    absorbed(n, signatures, hints, transcript + 1);
    let (seed) = poseidon_hash_many(1 + n * TRANSCRIPT_SIZE, transcript);
    let (coefficients: felt*) = alloc();
    local coefficients: felt* = coefficients;
    draw_coefficients(seed, 0, n, coefficients);
    let (points: MsmPoint*) = alloc();
    local points: MsmPoint* = points;
    // G is point 0; each signature adds R and −Q after it.
    let (w0, w1, w2, w3) = prepare(
        coefficients, n, signatures, hints, points + MsmPoint.SIZE, 0, 0, 0, 0
    );
    let digits = check_scalar(w0, w1, w2, w3, batch_hint);
    local digits: felt* = digits;
    let g_table = multiples(GEN_X, -GEN_Y);
    assert points[0] = MsmPoint(table=g_table, digits=digits);
    // Above HALF_WINDOWS only G's scalar has digits.
    let (x, y) = msm_windows(points, 1, WINDOWS - 1, HALF_WINDOWS, OFFSET_X, OFFSET_Y);
    let (x, y) = msm_windows(points, 2 * n + 1, HALF_WINDOWS - 1, 0, x, y);
    assert x = OFFSET_END_X;
    assert y = OFFSET_END_Y;
    return batch_hint + BATCH_HINT_SIZE;
}

// Writes what the transcript absorbs for signatures 0..n-1 to `out` (TRANSCRIPT_SIZE each):
// r, s, and |v|'s limbs + 2^128·(v's sign bit + 2·r_y's parity + 4·key_y's parity). `prepare`
// checks every cell read here (the limbs below 2^64, the three bits), so the packed felt
// (below 2^131) is injective: it fixes v, R (r and the parity of its y) and Q's y.
func absorbed(n, signature: felt*, hint: felt*, out: felt*) {
    if (n == 0) {
        return ();
    }
    assert out[0] = signature[2];
    assert out[1] = signature[3];
    assert out[2] = hint[HINT_V + 1] + LIMB * hint[HINT_V + 2] + 2 ** 128 * (
        hint[HINT_V] + 2 * hint[HINT_R_Y] + 4 * hint[HINT_KEY_Y]
    );
    return absorbed(
        n - 1, signature + SIGNATURE_SIZE, hint + SIGNATURE_HINT_SIZE, out + TRANSCRIPT_SIZE
    );
}

// Coefficients for signatures 6·block.. (at least n of them, COEFFICIENTS_PER_DRAW per
// permutation; none for n = 0): the Poseidon permutation of (seed, block, 2) (its first output is
// Poseidon(seed, block)), each output split as high·2^128 + low by split_felt (unique), giving
// low then high: every coefficient is below 2^128 (a high half at most 2^123 + 17·2^64).
func draw_coefficients{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    seed, block, n, out: felt*
) {
    alloc_locals;
    if (n == 0) {
        return ();
    }
    assert poseidon_ptr.input = PoseidonBuiltinState(s0=seed, s1=block, s2=2);
    local s1 = poseidon_ptr.output.s1;
    local s2 = poseidon_ptr.output.s2;
    let s0 = poseidon_ptr.output.s0;
    let poseidon_ptr = poseidon_ptr + PoseidonBuiltin.SIZE;
    let (high, low) = split_felt(s0);
    assert out[0] = low;
    assert out[1] = high;
    let (high, low) = split_felt(s1);
    assert out[2] = low;
    assert out[3] = high;
    let (high, low) = split_felt(s2);
    assert out[4] = low;
    assert out[5] = high;
    // n ≤ COEFFICIENTS_PER_DRAW: done (six equalities, no range check needed for a felt that
    // only decreases from n ≤ MAX_BATCH by six each time).
    if (n == 1) {
        return ();
    }
    if (n == 2) {
        return ();
    }
    if (n == 3) {
        return ();
    }
    if (n == 4) {
        return ();
    }
    if (n == 5) {
        return ();
    }
    if (n == 6) {
        return ();
    }
    return draw_coefficients(seed, block + 1, n - COEFFICIENTS_PER_DRAW, out + COEFFICIENTS_PER_DRAW);
}

// Signature 0..n-1 from here: checks its record and its hint, adds its two points (±R with
// a·|v|, ∓Q with a·|μ|) to `points` and a·(w's limbs) to G's scalar (w0..w3, 64-bit limbs,
// unreduced). `coefficient`: its a, then the next signatures'.
func prepare{range_check_ptr}(
    coefficient: felt*,
    n,
    signature: felt*,
    hint: felt*,
    points: MsmPoint*,
    w0,
    w1,
    w2,
    w3,
) -> (w0: felt, w1: felt, w2: felt, w3: felt) {
    alloc_locals;
    if (n == 0) {
        return (w0=w0, w1=w1, w2=w2, w3=w3);
    }
    local public_key = signature[1];
    local r = signature[2];
    local s = signature[3];
    local key_y = signature[4];
    local r_y = signature[5];
    // Q and R on the curve; r and s non-zero.
    assert key_y * key_y = public_key * public_key * public_key + public_key + BETA;
    assert r_y * r_y = r * r * r + r + BETA;
    assert_nonzero(r);
    assert_nonzero(s);
    assert_le_felt(s, HALF_ORDER);
    check_limbs(signature[0], hint);
    check_limbs(r, hint + 4);
    check_limbs(s, hint + 8);
    // The parities the transcript absorbed are the y's.
    check_parity(key_y, hint + HINT_KEY_Y);
    check_parity(r_y, hint + HINT_R_Y);
    let v_sign = magnitude_sign(hint + HINT_V);
    local v_sign = v_sign;
    // v ≠ 0: |v| < 2^128 < n, so v ≢ 0 (mod n).
    assert_nonzero(hint[HINT_V + 1] + LIMB * hint[HINT_V + 2]);
    let mu_sign = magnitude_sign(hint + HINT_MU);
    local mu_sign = mu_sign;
    check_ratio(hint, v_sign, mu_sign);
    check_message(hint, v_sign);
    local a = coefficient[0];
    let v_digits = check_half_scalar(
        a * hint[HINT_V + 1], a * hint[HINT_V + 2], hint + HINT_DIGITS
    );
    local v_digits: felt* = v_digits;
    let mu_digits = check_half_scalar(
        a * hint[HINT_MU + 1], a * hint[HINT_MU + 2], hint + HINT_DIGITS + HALF_WINDOWS
    );
    local mu_digits: felt* = mu_digits;
    let r_table = multiples(r, v_sign * r_y);
    assert points[0] = MsmPoint(table=r_table, digits=v_digits);
    let key_table = multiples(public_key, -mu_sign * key_y);
    assert points[1] = MsmPoint(table=key_table, digits=mu_digits);
    return prepare(
        coefficient + 1,
        n - 1,
        signature + SIGNATURE_SIZE,
        hint + SIGNATURE_HINT_SIZE,
        points + 2 * MsmPoint.SIZE,
        w0 + a * hint[HINT_W],
        w1 + a * hint[HINT_W + 1],
        w2 + a * hint[HINT_W + 2],
        w3 + a * hint[HINT_W + 3],
    );
}

// y = 2·(hint[1]·2^128 + hint[2]) + hint[0] with hint[0] a bit, hint[2] < 2^128 and hint[1] <
// Y_HIGH_BOUND: the right side is at most PRIME − 2, so the equation holds over the integers
// and hint[0] is y's parity as an integer in [0, PRIME). y and −y = PRIME − y differ in parity
// (PRIME is odd), so the bit picks one of a point's two y's. The one y without this form is
// PRIME − 1 (docs/sequencer.md: no one can sign with such a point).
func check_parity{range_check_ptr}(y, hint: felt*) {
    let bit = hint[0];
    assert bit * bit = bit;
    assert [range_check_ptr] = hint[2];
    assert [range_check_ptr + 1] = hint[1];
    assert [range_check_ptr + 2] = hint[1] + (2 ** 128 - Y_HIGH_BOUND);
    let range_check_ptr = range_check_ptr + 3;
    assert y = 2 * (hint[1] * 2 ** 128 + hint[2]) + bit;
    return ();
}

// The sign 1 − 2·hint[0] (hint[0] a bit) of a signed number whose magnitude is hint[1] +
// 2^64·hint[2], both limbs checked below 2^64 (so the magnitude is below 2^128 and the pair
// sign, magnitude names one integer, 0 aside).
func magnitude_sign{range_check_ptr}(hint: felt*) -> felt {
    let bit = hint[0];
    assert bit * bit = bit;
    assert [range_check_ptr] = hint[1];
    assert [range_check_ptr + 1] = hint[1] + (2 ** 128 - LIMB);
    assert [range_check_ptr + 2] = hint[2];
    assert [range_check_ptr + 3] = hint[2] + (2 ** 128 - LIMB);
    let range_check_ptr = range_check_ptr + 4;
    return 1 - 2 * bit;
}

// μ·s − v·r = k·n over the integers, so μ ≡ v·r·s⁻¹ (mod n). The limbs: s and r's (checked
// below 2^64), v and μ as sign × magnitude limbs (below 2^64), k's two limbs in
// [−2^127, 2^127) (k = k0 + 2^64·k1). The limb sums x_j of the product's convolution are below
// 2^193 in absolute value; each carry c_(j+1) = (x_j + c_j)/2^64 is computed in the field and
// must lie in [−2^127, 2^127), so x_j + c_j = 2^64·c_(j+1) holds over the integers (every
// term is far below PRIME/2), and so does Σ x_j·2^(64j) = 0 once the last limb closes at 0.
func check_ratio{range_check_ptr}(hint: felt*, v_sign, mu_sign) {
    alloc_locals;
    local m0 = v_sign * hint[HINT_V + 1];
    local m1 = v_sign * hint[HINT_V + 2];
    local p0 = mu_sign * hint[HINT_MU + 1];
    local p1 = mu_sign * hint[HINT_MU + 2];
    let r = hint + 4;
    let s = hint + 8;
    let k = hint + HINT_K;
    assert [range_check_ptr] = k[0] + SIGNED_OFFSET;
    assert [range_check_ptr + 1] = k[1] + SIGNED_OFFSET;
    let range_check_ptr = range_check_ptr + 2;
    tempvar c = (p0 * s[0] - m0 * r[0] - k[0] * N0) / LIMB;
    assert [range_check_ptr + 0] = c + SIGNED_OFFSET;
    tempvar c = (c + p0 * s[1] + p1 * s[0] - m0 * r[1] - m1 * r[0] - k[0] * N1 - k[1] * N0) / LIMB;
    assert [range_check_ptr + 1] = c + SIGNED_OFFSET;
    tempvar c = (c + p0 * s[2] + p1 * s[1] - m0 * r[2] - m1 * r[1] - k[0] * N2 - k[1] * N1) / LIMB;
    assert [range_check_ptr + 2] = c + SIGNED_OFFSET;
    tempvar c = (c + p0 * s[3] + p1 * s[2] - m0 * r[3] - m1 * r[2] - k[0] * N3 - k[1] * N2) / LIMB;
    assert [range_check_ptr + 3] = c + SIGNED_OFFSET;
    assert c + p1 * s[3] - m1 * r[3] - k[1] * N3 = 0;
    let range_check_ptr = range_check_ptr + 4;
    return ();
}

// w·s − v·z = k'·n over the integers, so w ≡ v·z·s⁻¹ (mod n); as `check_ratio`, with w's
// limbs below 2^64 (the top one below 2^60: w < 2^252, which keeps Σ a_i·w_i within G's
// digits) and k''s four limbs in [−2^127, 2^127).
func check_message{range_check_ptr}(hint: felt*, v_sign) {
    alloc_locals;
    local m0 = v_sign * hint[HINT_V + 1];
    local m1 = v_sign * hint[HINT_V + 2];
    let z = hint;
    let s = hint + 8;
    let w = hint + HINT_W;
    let k = hint + HINT_KW;
    assert [range_check_ptr] = w[0];
    assert [range_check_ptr + 1] = w[0] + (2 ** 128 - LIMB);
    assert [range_check_ptr + 2] = w[1];
    assert [range_check_ptr + 3] = w[1] + (2 ** 128 - LIMB);
    assert [range_check_ptr + 4] = w[2];
    assert [range_check_ptr + 5] = w[2] + (2 ** 128 - LIMB);
    assert [range_check_ptr + 6] = w[3];
    assert [range_check_ptr + 7] = w[3] + (2 ** 128 - 2 ** 60);
    assert [range_check_ptr + 8] = k[0] + SIGNED_OFFSET;
    assert [range_check_ptr + 9] = k[1] + SIGNED_OFFSET;
    assert [range_check_ptr + 10] = k[2] + SIGNED_OFFSET;
    assert [range_check_ptr + 11] = k[3] + SIGNED_OFFSET;
    let range_check_ptr = range_check_ptr + 12;
    tempvar c = (w[0] * s[0] - m0 * z[0] - k[0] * N0) / LIMB;
    assert [range_check_ptr + 0] = c + SIGNED_OFFSET;
    tempvar c = (c + w[0] * s[1] + w[1] * s[0] - m0 * z[1] - m1 * z[0] - k[0] * N1 - k[1] * N0) / LIMB;
    assert [range_check_ptr + 1] = c + SIGNED_OFFSET;
    tempvar c = (c + w[0] * s[2] + w[1] * s[1] + w[2] * s[0] - m0 * z[2] - m1 * z[1] - k[0] * N2 - k[1] * N1 - k[2] * N0) / LIMB;
    assert [range_check_ptr + 2] = c + SIGNED_OFFSET;
    tempvar c = (c + w[0] * s[3] + w[1] * s[2] + w[2] * s[1] + w[3] * s[0] - m0 * z[3] - m1 * z[2] - k[0] * N3 - k[1] * N2 - k[2] * N1 - k[3] * N0) / LIMB;
    assert [range_check_ptr + 3] = c + SIGNED_OFFSET;
    tempvar c = (c + w[1] * s[3] + w[2] * s[2] + w[3] * s[1] - m1 * z[3] - k[1] * N3 - k[2] * N2 - k[3] * N1) / LIMB;
    assert [range_check_ptr + 4] = c + SIGNED_OFFSET;
    tempvar c = (c + w[2] * s[3] + w[3] * s[2] - k[2] * N3 - k[3] * N2) / LIMB;
    assert [range_check_ptr + 5] = c + SIGNED_OFFSET;
    assert c + w[3] * s[3] - k[3] * N3 = 0;
    let range_check_ptr = range_check_ptr + 6;
    return ();
}

// Checks that `digits` (HALF_WINDOWS signed base-32 digits) are those of x0 + 2^64·x1 for
// x0, x1 < 2^192, and returns them. The first 13 digits' sum L (|L| < 2^65) is
// congruent to x0 mod 2^64 (every later digit weighs a multiple of 2^65), so x0 = L + 2^64·c
// with c computed and range-checked (c + 2 below 2^128); then x1 + c must be the later digits'
// sum over 2^64, i.e. 2·Σ d_j·32^(j−13). Both equations have both sides below 2^197 < PRIME,
// so they hold over the integers.
func check_half_scalar{range_check_ptr}(x0, x1, digits: felt*) -> felt* {
    alloc_locals;
    local x1 = x1;
    let low = signed_digit_sum13(digits);
    local c = (x0 - low) / LIMB;
    assert [range_check_ptr] = c + 2;
    let range_check_ptr = range_check_ptr + 1;
    let d1 = signed_digit_sum13(digits + GROUP_DIGITS);
    local d1 = d1;
    let d2 = signed_digit_sum13(digits + 2 * GROUP_DIGITS);
    local d2 = d2;
    let d3 = signed_digit_sum13(digits + 3 * GROUP_DIGITS);
    assert x1 + c = 2 * (d1 + 2 ** 65 * (d2 + 2 ** 65 * d3));
    return digits;
}

// Fails if value is zero (a jump on the value itself: the prover cannot choose the branch).
func assert_nonzero(value) {
    if (value == 0) {
        assert value = 1;
    }
    return ();
}

// x = l0 + l1·2^64 + l2·2^128 + l3·2^192 with l0, l1, l2 < 2^64 and l3 < 2^59: x < 2^251,
// and the limbs are x's (the sum is below PRIME, so it does not wrap).
func check_limbs{range_check_ptr}(x, limbs: felt*) {
    assert [range_check_ptr] = limbs[0];
    assert [range_check_ptr + 1] = limbs[0] + (2 ** 128 - LIMB);
    assert [range_check_ptr + 2] = limbs[1];
    assert [range_check_ptr + 3] = limbs[1] + (2 ** 128 - LIMB);
    assert [range_check_ptr + 4] = limbs[2];
    assert [range_check_ptr + 5] = limbs[2] + (2 ** 128 - LIMB);
    assert [range_check_ptr + 6] = limbs[3];
    assert [range_check_ptr + 7] = limbs[3] + (2 ** 128 - 2 ** 59);
    let range_check_ptr = range_check_ptr + 8;
    assert x = limbs[0] + LIMB * (limbs[1] + LIMB * (limbs[2] + LIMB * limbs[3]));
    return ();
}

// Checks that the hint's digits (WINDOWS signed base-32 digits) are those of x0 + x1·2^64 +
// x2·2^128 + x3·2^192 (each xk below 2^210) and returns them. As in `check_half_scalar`, the
// digits below the k-th limb boundary (groups of 13: bits below 65, 130, 195) sum, over
// 2^(64k), to a value congruent to the limb plus the carry mod 2^64, since every later digit
// weighs a multiple of 2^(64(k+1)): xk + ck = Gk + 2^64·c(k+1), with Gk the k-th group's sum
// times 2^(5·13k − 64k) (1, 2, 4, then 8 for the top group of 41) and the carries hinted
// (`carry`, in (−9, 2^146)). Every equation has both sides below 2^215 < PRIME in absolute
// value, so it holds over the integers.
func check_scalar{range_check_ptr}(x0, x1, x2, x3, hint: felt*) -> felt* {
    alloc_locals;
    local digits: felt* = hint + 6;
    let c1 = carry(hint[0], hint[1]);
    local c1 = c1;
    let c2 = carry(hint[2], hint[3]);
    local c2 = c2;
    let c3 = carry(hint[4], hint[5]);
    local c3 = c3;
    let g0 = signed_digit_sum13(digits);
    assert x0 = g0 + LIMB * c1;
    let g1 = signed_digit_sum13(digits + GROUP_DIGITS);
    assert x1 + c1 = 2 * g1 + LIMB * c2;
    let g2 = signed_digit_sum13(digits + 2 * GROUP_DIGITS);
    assert x2 + c2 = 4 * g2 + LIMB * c3;
    let top = signed_digit_sum(digits + 3 * GROUP_DIGITS, TOP_DIGITS);
    assert x3 + c3 = 8 * top;
    return digits;
}

// (high·2^128 + low) − CARRY_OFFSET with low < 2^128 and high < 2^22.
func carry{range_check_ptr}(high, low) -> felt {
    assert [range_check_ptr] = low;
    assert [range_check_ptr + 1] = high;
    assert [range_check_ptr + 2] = high + (2 ** 128 - CARRY_HIGH_BOUND);
    let range_check_ptr = range_check_ptr + 3;
    return high * 2 ** 128 + low - CARRY_OFFSET;
}

// Σ digits[j]·32^j for j < count, each digit checked in [−16, 16) (G's top group, once per
// batch: not unrolled).
func signed_digit_sum{range_check_ptr}(digits: felt*, count) -> felt {
    if (count == 0) {
        return 0;
    }
    let d = digits[0];
    assert [range_check_ptr] = d + SIGNED_HALF;
    assert [range_check_ptr + 1] = d + (2 ** 128 - SIGNED_HALF);
    let range_check_ptr = range_check_ptr + 2;
    let rest = signed_digit_sum(digits + 1, count - 1);
    return d + SIGNED_BASE * rest;
}

// Σ d[j]·32^j for j < 13, each digit checked in [−16, 16) (d + 16 and d + 16 + 2^128 − 32
// range-checked), unrolled: it runs 8 times per signature.
func signed_digit_sum13{range_check_ptr}(d: felt*) -> felt {
    tempvar acc = d[12];
    tempvar u = acc + SIGNED_HALF;
    assert [range_check_ptr + 24] = u;
    tempvar u = acc + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 25] = u;
    tempvar t = d[11];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 22] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 23] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[10];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 20] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 21] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[9];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 18] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 19] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[8];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 16] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 17] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[7];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 14] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 15] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[6];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 12] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 13] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[5];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 10] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 11] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[4];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 8] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 9] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[3];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 6] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 7] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[2];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 4] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 5] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[1];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 2] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 3] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    tempvar t = d[0];
    tempvar u = t + SIGNED_HALF;
    assert [range_check_ptr + 0] = u;
    tempvar u = t + (2 ** 128 - SIGNED_HALF);
    assert [range_check_ptr + 1] = u;
    tempvar acc = acc * SIGNED_BASE + t;
    let range_check_ptr = range_check_ptr + 2 * GROUP_DIGITS;
    return acc;
}

// The multiples −16..15 (but 0) of (x, y), a point on the curve, in a table addressed at
// its entry 0: the x of d·P at table[d], its y at table[TABLE_Y + d]; G's unsigned digits use
// 1..15, the signatures' signed digits −16..15. Unrolled: it runs twice per signature, and a
// call per multiple cost more than its addition. The additions need no check of distinct x's:
// on this curve of prime order n, k·P = ±P only for k ≡ ±1 (mod n), so for k in 2..15 the x's
// of k·P and P differ and the slope equation fixes the slope; the doubling's y ≠ 0 holds for
// every point (no point of order 2). −d·P is d·P's x with −y.
func multiples(x, y) -> felt* {
    alloc_locals;
    let (base: felt*) = alloc();
    local table: felt* = base + SIGNED_HALF;
    assert table[1] = x;
    assert table[TABLE_Y + 1] = y;
    assert table[-1] = x;
    tempvar ny = -y;
    assert table[TABLE_Y - 1] = ny;
    tempvar slope = (3 * x * x + 1) / (2 * y);
    tempvar px = slope * slope - 2 * x;
    tempvar py = slope * (x - px) - y;
    assert table[2] = px;
    assert table[TABLE_Y + 2] = py;
    assert table[-2] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 2] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[3] = px;
    assert table[TABLE_Y + 3] = py;
    assert table[-3] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 3] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[4] = px;
    assert table[TABLE_Y + 4] = py;
    assert table[-4] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 4] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[5] = px;
    assert table[TABLE_Y + 5] = py;
    assert table[-5] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 5] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[6] = px;
    assert table[TABLE_Y + 6] = py;
    assert table[-6] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 6] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[7] = px;
    assert table[TABLE_Y + 7] = py;
    assert table[-7] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 7] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[8] = px;
    assert table[TABLE_Y + 8] = py;
    assert table[-8] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 8] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[9] = px;
    assert table[TABLE_Y + 9] = py;
    assert table[-9] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 9] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[10] = px;
    assert table[TABLE_Y + 10] = py;
    assert table[-10] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 10] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[11] = px;
    assert table[TABLE_Y + 11] = py;
    assert table[-11] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 11] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[12] = px;
    assert table[TABLE_Y + 12] = py;
    assert table[-12] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 12] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[13] = px;
    assert table[TABLE_Y + 13] = py;
    assert table[-13] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 13] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[14] = px;
    assert table[TABLE_Y + 14] = py;
    assert table[-14] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 14] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    assert table[15] = px;
    assert table[TABLE_Y + 15] = py;
    assert table[-15] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 15] = ny;
    tempvar slope = (py - y) / (px - x);
    tempvar px = slope * slope - x - px;
    tempvar py = slope * (x - px) - y;
    // 16·P is needed only negated (digits are below 16), and table[16] is −16·P's y.
    assert table[-16] = px;
    tempvar ny = -py;
    assert table[TABLE_Y - 16] = ny;
    return table;
}

// Windows w..last (5 bits), most significant first: the accumulator times 32, then each of
// the first n_points points' multiple for its signed digit at the window.
func msm_windows(points: MsmPoint*, n_points, w, last, x, y) -> (x: felt, y: felt) {
    let (x, y) = ec_double(x, y);
    let (x, y) = ec_double(x, y);
    let (x, y) = ec_double(x, y);
    let (x, y) = ec_double(x, y);
    let (x, y) = ec_double(x, y);
    let (x, y) = msm_window(points, n_points, w, x, y);
    if (w == last) {
        return (x=x, y=y);
    }
    return msm_windows(points, n_points, w - 1, last, x, y);
}

// The state of `msm_window`'s loop, the last WindowFrame.SIZE cells before ap: the next
// point, how many are left, the accumulator.
struct WindowFrame {
    points: MsmPoint*,
    n: felt,
    x: felt,
    y: felt,
}

// Adds each of the first n_points points' multiple for its digit at window w to (x, y). A
// loop on ap (no call per point: the call, its argument copies and the return were ~40 % of
// an addition's steps); an addition's slope needs distinct x's, checked by a jump on
// x2 − x itself, which the prover cannot steer.
func msm_window(points: MsmPoint*, n_points, w, x, y) -> (x: felt, y: felt) {
    if (n_points == 0) {
        return (x=x, y=y);
    }
    tempvar frame = WindowFrame(points=points, n=n_points, x=x, y=y);

    loop:
    let frame = [cast(ap - WindowFrame.SIZE, WindowFrame*)];
    tempvar d = frame.points.digits[w];
    jmp add if d != 0;
    // A zero digit adds nothing.
    tempvar next = WindowFrame(
        points=frame.points + MsmPoint.SIZE, n=frame.n - 1, x=frame.x, y=frame.y
    );
    jmp loop if next.n != 0;
    return (x=next.x, y=next.y);

    add:
    tempvar entry: felt* = frame.points.table + d;
    tempvar x2 = entry[0];
    tempvar y2 = entry[TABLE_Y];
    tempvar dx = x2 - frame.x;
    jmp distinct if dx != 0;
    assert dx = 1;

    distinct:
    // x3 = λ² − x − x2 and y3 = λ·(x − x3) − y, ordered so that the new frame's four cells
    // come last: x − x3 = x + (x + x2) − λ² is computed before x3.
    tempvar slope = (y2 - frame.y) / dx;
    tempvar slope2 = slope * slope;
    tempvar sum = frame.x + x2;
    tempvar run = frame.x + sum - slope2;
    tempvar rise = slope * run;
    tempvar next = WindowFrame(
        points=frame.points + MsmPoint.SIZE, n=frame.n - 1, x=slope2 - sum, y=rise - frame.y
    );
    jmp loop if next.n != 0;
    return (x=next.x, y=next.y);
}

// 2·(x, y) for a point on the curve (y ≠ 0 on this curve of prime order; checked, as the
// slope equation would otherwise be free).
func ec_double(x, y) -> (x: felt, y: felt) {
    if (y == 0) {
        assert y = 1;
    }
    tempvar slope = (3 * x * x + 1) / (2 * y);
    tempvar nx = slope * slope - 2 * x;
    return (x=nx, y=slope * (x - nx) - y);
}
