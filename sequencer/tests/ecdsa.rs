//! `VerifyingKey::verify` against `starknet_crypto::verify` on seeded random vectors: every
//! answer must equal the reference's (errors read as `false`), and genuine signatures must pass.

use starfarm_sequencer::ecdsa::{verify_many, EcdsaError, SignatureCheck, VerifyingKey};
use starfarm_sequencer::testing::Rng;
use starknet_types_core::felt::Felt;

const VALID: usize = 2_000;
const INVALID: usize = 2_000;

const EC_ORDER: Felt =
    Felt::from_hex_unchecked("0x800000000000010ffffffffffffffffb781126dcae7b2321e66a241adc64d2f");
const TWO_POW_251: Felt =
    Felt::from_hex_unchecked("0x800000000000000000000000000000000000000000000000000000000000000");

struct Signed {
    public_key: Felt,
    hash: Felt,
    r: Felt,
    s: Felt,
}

/// A genuine signature with an RFC 6979 k; private keys and hashes from `rng`.
fn signed(rng: &mut Rng, i: usize) -> Signed {
    loop {
        let private_key = rng.felt_below_2_251();
        // Some hashes at the edges: zero (u1 = 0) and tiny.
        let hash = match i % 97 {
            0 => Felt::ZERO,
            1 => Felt::from(i as u64),
            _ => rng.felt_below_2_251(),
        };
        if private_key == Felt::ZERO {
            continue;
        }
        let k = starknet_crypto::rfc6979_generate_k(&hash, &private_key, None);
        // sign refuses a k whose r or s falls out of range; the caller would retry too.
        if let Ok(sig) = starknet_crypto::sign(&private_key, &hash, &k) {
            return Signed {
                public_key: starknet_crypto::get_public_key(&private_key),
                hash,
                r: sig.r,
                s: sig.s,
            };
        }
    }
}

/// The reference's answer; `None` where it panics.
fn reference(pk: Felt, hash: Felt, r: Felt, s: Felt) -> Option<bool> {
    std::panic::catch_unwind(|| starknet_crypto::verify(&pk, &hash, &r, &s).unwrap_or(false)).ok()
}

fn ours(pk: Felt, hash: Felt, r: Felt, s: Felt) -> bool {
    VerifyingKey::from_public_key(pk).is_ok_and(|key| key.verify(hash, r, s))
}

fn flip_bit(v: Felt, bit: u64) -> Felt {
    let mut b = v.to_bytes_be();
    b[31 - (bit / 8) as usize] ^= 1 << (bit % 8);
    Felt::from_bytes_be(&b)
}

/// `x·y mod n`, and `n − x` for `x < n` (exact on integers: both stay below p).
fn mul_n(x: Felt, y: Felt) -> Felt {
    x.mul_mod(&y, &EC_ORDER.try_into().expect("n is non-zero"))
}

#[test]
fn ecdsa_valid_signatures_verify() {
    let mut rng = Rng(0x5eed_0001);
    let sigs: Vec<Signed> = (0..VALID).map(|i| signed(&mut rng, i)).collect();
    let keys: Vec<VerifyingKey> = sigs
        .iter()
        .map(|s| VerifyingKey::from_public_key(s.public_key).expect("a real key is on the curve"))
        .collect();
    for (sig, key) in sigs.iter().zip(&keys) {
        assert!(key.verify(sig.hash, sig.r, sig.s), "hash {}", sig.hash);
        assert_eq!(key.public_key(), sig.public_key);
    }
    // A sample through the reference too (it costs ~1 ms each), and the batch API.
    for sig in sigs.iter().step_by(20) {
        assert_eq!(
            reference(sig.public_key, sig.hash, sig.r, sig.s),
            Some(true)
        );
    }
    let checks: Vec<SignatureCheck<'_>> = sigs
        .iter()
        .zip(&keys)
        .map(|(sig, key)| SignatureCheck {
            key,
            hash: sig.hash,
            r: sig.r,
            s: sig.s,
        })
        .collect();
    assert!(verify_many(&checks).into_iter().all(|ok| ok));
}

/// One way to spoil (or, for `n − s`, keep) a genuine signature.
fn mutate(rng: &mut Rng, kind: usize, sig: &Signed, other_key: Felt) -> (Felt, Felt, Felt, Felt) {
    let (pk, h, r, s) = (sig.public_key, sig.hash, sig.r, sig.s);
    match kind {
        0 => (pk, flip_bit(h, rng.below(256) as u64), r, s),
        1 => (pk, h, flip_bit(r, rng.below(256) as u64), s),
        2 => (pk, h, r, flip_bit(s, rng.below(256) as u64)),
        3 => (other_key, h, r, s),
        4 => (pk, h, Felt::ZERO, s),
        5 => (pk, h, r, Felt::ZERO),
        6 => (pk, h, r + TWO_POW_251, s),
        7 => (pk, h, r, s + TWO_POW_251),
        8 => (pk, h + TWO_POW_251, r, s),
        // Malleated: -R has R's x, so both implementations accept it when n − s < 2^251.
        9 => (pk, h, r, EC_ORDER - s),
        10 => (pk, h, rng.felt_below_2_251(), rng.felt_below_2_251()),
        11 => (pk, h, s, r),
        12 => (pk, h, Felt::MAX, s),
        13 => (pk, rng.any_felt(), rng.any_felt(), rng.any_felt()),
        // A key flipped in one bit: off the curve about half the time.
        14 => (flip_bit(pk, rng.below(251) as u64), h, r, s),
        _ => (rng.any_felt(), h, r, s),
    }
}

#[test]
fn ecdsa_invalid_signatures_match_reference() {
    let mut rng = Rng(0x5eed_0002);
    let sigs: Vec<Signed> = (0..INVALID).map(|i| signed(&mut rng, i)).collect();
    let mut accepted = 0;
    let mut on_curve = Vec::new();
    for (i, sig) in sigs.iter().enumerate() {
        let other = sigs[(i + 1) % sigs.len()].public_key;
        let (pk, h, r, s) = mutate(&mut rng, i % 16, sig, other);
        let expected = reference(pk, h, r, s).expect("the reference does not panic here");
        assert_eq!(
            ours(pk, h, r, s),
            expected,
            "kind {}: {pk} {h} {r} {s}",
            i % 16
        );
        accepted += usize::from(expected);
        if let Ok(key) = VerifyingKey::from_public_key(pk) {
            on_curve.push((key, h, r, s, expected));
        }
    }
    // The batch API answers in input order on a mix of valid and invalid signatures.
    let checks: Vec<SignatureCheck<'_>> = on_curve
        .iter()
        .map(|(key, hash, r, s, _)| SignatureCheck {
            key,
            hash: *hash,
            r: *r,
            s: *s,
        })
        .collect();
    let expected: Vec<bool> = on_curve.iter().map(|c| c.4).collect();
    assert_eq!(verify_many(&checks), expected);
    // Only the malleated ones (kind 9) should pass, and nearly all of them do.
    assert!(
        accepted > INVALID / 16 - 5 && accepted <= INVALID / 16 + 1,
        "{accepted}"
    );
}

#[test]
fn ecdsa_key_recovery_matches_reference() {
    let mut rng = Rng(0x5eed_0003);
    let sig = signed(&mut rng, 5);
    let mut off_curve = 0;
    for _ in 0..200 {
        let x = rng.any_felt();
        let expected = starknet_crypto::verify(&x, &sig.hash, &sig.r, &sig.s);
        match VerifyingKey::from_public_key(x) {
            Err(EcdsaError::NotOnCurve(bad)) => {
                assert_eq!(bad, x);
                assert!(matches!(
                    expected,
                    Err(starknet_crypto::VerifyError::InvalidPublicKey)
                ));
                off_curve += 1;
            }
            Ok(key) => assert_eq!(key.verify(sig.hash, sig.r, sig.s), expected.expect("on")),
        }
    }
    assert!((50..150).contains(&off_curve), "{off_curve}");
}

/// `(x − y) mod n` for `x, y < n` (Felt arithmetic is mod p, and the result stays below p).
fn sub_n(x: Felt, y: Felt) -> Felt {
    if x >= y {
        x - y
    } else {
        x - y + EC_ORDER
    }
}

/// A mathematically genuine signature with a chosen `s`: random key d and nonce k,
/// `r = x(k·G)`, and the hash that makes it hold, `z = s·k − r·d mod n`. `None` where r or z
/// falls out of starknet-crypto's range.
fn forge(rng: &mut Rng, s: Felt) -> Option<Signed> {
    let (d, k) = (rng.felt_below_2_251(), rng.felt_below_2_251());
    let r = starknet_crypto::get_public_key(&k);
    let hash = sub_n(mul_n(s, k), mul_n(r, d));
    let usable = |v: Felt| v != Felt::ZERO && v < TWO_POW_251;
    (usable(d) && usable(r) && hash < TWO_POW_251).then(|| Signed {
        public_key: starknet_crypto::get_public_key(&d),
        hash,
        r,
        s,
    })
}

#[test]
fn ecdsa_inverse_of_s_at_or_above_2_251_is_refused() {
    // starknet-crypto refuses w = s⁻¹ mod n ≥ 2^251 even when s is in range and the signature
    // holds; the malleated twin n − s (w' = n − w < 2^251) passes, proving the vector genuine.
    let mut rng = Rng(0x5eed_0004);
    let n = EC_ORDER.try_into().expect("n is non-zero");
    let mut tried = 0;
    for offset in 0u64..50 {
        let w = TWO_POW_251 + Felt::from(offset * 0x1_0000_0001);
        let s = w.mod_inverse(&n).expect("n is prime");
        let Some(sig) = forge(&mut rng, s).filter(|_| s < TWO_POW_251) else {
            continue;
        };
        tried += 1;
        let (pk, h, r) = (sig.public_key, sig.hash, sig.r);
        assert_eq!(reference(pk, h, r, s), Some(false));
        assert!(!ours(pk, h, r, s));
        assert_eq!(reference(pk, h, r, EC_ORDER - s), Some(true));
        assert!(ours(pk, h, r, EC_ORDER - s));
    }
    assert!(tried > 40, "{tried}");
}

#[test]
fn ecdsa_out_of_range_aliases_are_refused() {
    // hash + n and s + n are the same residues mod n, so the equation still holds; only the
    // range checks (below 2^251) refuse them. Small values keep `v + n` below p.
    let mut rng = Rng(0x5eed_0006);
    for i in 0..20u64 {
        let sig = forge(&mut rng, Felt::from(i * 0x9e37_79b9 + 1)).expect("fits");
        let (pk, h, r, s) = (sig.public_key, sig.hash, sig.r, sig.s);
        assert_eq!(reference(pk, h, r, s), Some(true));
        assert!(ours(pk, h, r, s));
        assert_eq!(reference(pk, h, r, s + EC_ORDER), Some(false));
        assert!(!ours(pk, h, r, s + EC_ORDER));
    }
    let small_hash = (0..VALID)
        .map(|i| signed(&mut rng, i))
        .filter(|s| s.hash < Felt::from(1u64 << 40));
    for sig in small_hash.take(10) {
        let (pk, h, r, s) = (sig.public_key, sig.hash + EC_ORDER, sig.r, sig.s);
        assert!(ours(pk, sig.hash, r, s));
        assert_eq!(reference(pk, h, r, s), Some(false));
        assert!(!ours(pk, h, r, s));
    }
}

#[test]
fn ecdsa_sums_at_infinity_are_refused_where_the_reference_panics() {
    // With z = ∓r·d mod n, u1·G ± u2·Q is the point at infinity: starknet-crypto 0.8 unwraps
    // `to_affine()` and panics; ours answers false (the other sum, 2·u1·G, does not have x r).
    let mut rng = Rng(0x5eed_0005);
    let mut cases = 0;
    while cases < 6 {
        let d = rng.felt_below_2_251();
        let (r, s) = (rng.felt_below_2_251(), rng.felt_below_2_251());
        let rd = mul_n(r, d);
        let z = if cases % 2 == 0 { EC_ORDER - rd } else { rd };
        if d == Felt::ZERO || r == Felt::ZERO || s == Felt::ZERO || z >= TWO_POW_251 {
            continue;
        }
        let pk = starknet_crypto::get_public_key(&d);
        assert_eq!(reference(pk, z, r, s), None, "the reference panics");
        assert!(!ours(pk, z, r, s));
        cases += 1;
    }
}
