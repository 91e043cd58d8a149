//! A Keccak-256 transcript and lifted Merkle hasher for Stwo 2.3, encoded so that an EVM
//! contract replays them with the `keccak256` opcode.
//!
//! Stwo 2.3 ships Blake2s and Poseidon252 only; later upstream Stwo added
//! `Keccak256Channel`/`Keccak256MerkleChannel`, and these types follow their encoding so that a
//! Stwo upgrade can swap them for upstream's without changing a proof:
//!
//! - every integer is big-endian, as Solidity's `abi.encodePacked` writes it: an M31 is a
//!   `uint32`, a `u64` is a `uint64` (mixed as its high then low 32-bit word);
//! - `mix_*`: `digest = keccak256(digest ‖ data)`; `mix_root`: `keccak256(digest ‖ root)`;
//! - `draw_u32s`: `keccak256(digest ‖ uint32(n_draws) ‖ 0x00)` read as eight big-endian words;
//! - proof of work: `h = keccak256(keccak256(uint32(0x12345678) ‖ bytes12(0) ‖ digest ‖
//!   uint32(bits)) ‖ uint64(nonce))`, accepted when `uint256(h) < 2^(256 - bits)`;
//! - a Merkle leaf is `keccak256` of its row's values (columns in increasing length, as Stwo's
//!   lifted Merkle orders them), a node `keccak256(left ‖ right)`.
//!
//! `SimdBackend`'s Merkle and grinding operations for these types are in
//! [`super::keccak_simd`].

use std::fmt;

use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use stwo::core::channel::{Channel, MerkleChannel};
use stwo::core::fields::m31::{BaseField, P};
use stwo::core::fields::qm31::{SecureField, SECURE_EXTENSION_DEGREE};
use stwo::core::vcs::hash::Hash;
use stwo::core::vcs_lifted::merkle_hasher::MerkleHasherLifted;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::BackendForChannel;

/// Base-field elements drawn per hash (eight 32-bit words).
const FELTS_PER_HASH: usize = 8;

/// A Keccak-256 digest (a Solidity `bytes32`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keccak256Hash(pub [u8; 32]);

impl fmt::Display for Keccak256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Keccak256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Hash for Keccak256Hash {}

/// `keccak256` of the concatenation of `parts`.
pub fn keccak256(parts: &[&[u8]]) -> Keccak256Hash {
    let mut hasher = Keccak256::new();
    parts.iter().for_each(|p| hasher.update(p));
    Keccak256Hash(hasher.finalize().into())
}

/// The lifted Merkle hasher: a leaf absorbs its values as big-endian `uint32`s.
#[derive(Clone, Debug, Default)]
pub struct Keccak256MerkleHasher {
    state: Keccak256,
}

impl MerkleHasherLifted for Keccak256MerkleHasher {
    type Hash = Keccak256Hash;

    fn hash_children((left, right): (Self::Hash, Self::Hash)) -> Self::Hash {
        keccak256(&[&left.0, &right.0])
    }

    fn update_leaf(&mut self, column_values: &[BaseField]) {
        column_values
            .iter()
            .for_each(|v| self.state.update(v.0.to_be_bytes()));
    }

    fn finalize(self) -> Self::Hash {
        Keccak256Hash(self.state.finalize().into())
    }
}

// The proof types carry the hasher as a type parameter with serde bounds, never a value: like
// Stwo's Blake2s hasher, it serialises as an empty struct.
impl Serialize for Keccak256MerkleHasher {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        serializer
            .serialize_struct("Keccak256MerkleHasher", 0)?
            .end()
    }
}

impl<'de> Deserialize<'de> for Keccak256MerkleHasher {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Ok(Self::default())
    }
}

/// The Fiat–Shamir channel.
#[derive(Clone, Debug, Default)]
pub struct Keccak256Channel {
    digest: Keccak256Hash,
    n_draws: u32,
}

impl Keccak256Channel {
    pub const POW_PREFIX: u32 = 0x1234_5678;

    pub fn digest(&self) -> Keccak256Hash {
        self.digest
    }

    pub fn update_digest(&mut self, digest: Keccak256Hash) {
        self.digest = digest;
        self.n_draws = 0;
    }

    /// The first hash of the proof of work, fixed for the whole nonce search.
    pub fn pow_prefix_digest(&self, n_bits: u32) -> Keccak256Hash {
        keccak256(&[
            &Self::POW_PREFIX.to_be_bytes(),
            &[0; 12],
            &self.digest.0,
            &n_bits.to_be_bytes(),
        ])
    }

    /// Eight uniform base-field elements, by rejection of words >= 2P (probability ~2^-28).
    fn draw_base_felts(&mut self) -> [BaseField; FELTS_PER_HASH] {
        loop {
            let words = self.draw_words();
            if words.iter().all(|w| *w < 2 * P) {
                return words.map(|w| BaseField::reduce(u64::from(w)));
            }
        }
    }

    fn draw_words(&mut self) -> [u32; FELTS_PER_HASH] {
        let hash = keccak256(&[&self.digest.0, &self.n_draws.to_be_bytes(), &[0]]);
        self.n_draws += 1;
        let mut words = [0; FELTS_PER_HASH];
        for (word, bytes) in words.iter_mut().zip(hash.0.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        words
    }
}

/// Whether `keccak256(prefix_digest ‖ uint64(nonce))`, as a `uint256`, is below
/// `2^(256 - n_bits)`: its first 128 bits (big-endian) have `n_bits` leading zeros.
pub fn pow_accepts(prefix_digest: &Keccak256Hash, n_bits: u32, nonce: u64) -> bool {
    let hash = keccak256(&[&prefix_digest.0, &nonce.to_be_bytes()]);
    leading_zeros(&hash) >= n_bits
}

/// Leading zero bits of the first 128 bits of `hash`, big-endian.
pub(crate) fn leading_zeros(hash: &Keccak256Hash) -> u32 {
    let mut high = [0u8; 16];
    high.copy_from_slice(&hash.0[..16]);
    u128::from_be_bytes(high).leading_zeros()
}

impl Channel for Keccak256Channel {
    const BYTES_PER_HASH: usize = 32;

    fn verify_pow_nonce(&self, n_bits: u32, nonce: u64) -> bool {
        pow_accepts(&self.pow_prefix_digest(n_bits), n_bits, nonce)
    }

    fn mix_u32s(&mut self, data: &[u32]) {
        let bytes: Vec<u8> = data.iter().flat_map(|w| w.to_be_bytes()).collect();
        self.update_digest(keccak256(&[&self.digest.0, &bytes]));
    }

    fn mix_felts(&mut self, felts: &[SecureField]) {
        let bytes: Vec<u8> = felts
            .iter()
            .flat_map(|f| f.to_m31_array())
            .flat_map(|m| m.0.to_be_bytes())
            .collect();
        self.update_digest(keccak256(&[&self.digest.0, &bytes]));
    }

    fn mix_u64(&mut self, value: u64) {
        self.mix_u32s(&[(value >> 32) as u32, value as u32]);
    }

    fn draw_secure_felt(&mut self) -> SecureField {
        let felts = self.draw_base_felts();
        SecureField::from_m31_array(std::array::from_fn(|i| felts[i]))
    }

    fn draw_secure_felts(&mut self, n_felts: usize) -> Vec<SecureField> {
        let mut felts = std::iter::from_fn(|| Some(self.draw_base_felts())).flatten();
        (0..n_felts)
            .map(|_| {
                let coords: [BaseField; SECURE_EXTENSION_DEGREE] =
                    std::array::from_fn(|_| felts.next().unwrap_or_default());
                SecureField::from_m31_array(coords)
            })
            .collect()
    }

    fn draw_u32s(&mut self) -> Vec<u32> {
        self.draw_words().to_vec()
    }
}

/// The Merkle channel: [`Keccak256Channel`] with [`Keccak256MerkleHasher`].
#[derive(Default)]
pub struct Keccak256MerkleChannel;

impl MerkleChannel for Keccak256MerkleChannel {
    type C = Keccak256Channel;
    type H = Keccak256MerkleHasher;

    fn mix_root(channel: &mut Self::C, root: Keccak256Hash) {
        channel.update_digest(keccak256(&[&channel.digest.0, &root.0]));
    }
}

impl BackendForChannel<Keccak256MerkleChannel> for SimdBackend {}

#[cfg(test)]
mod tests {
    use stwo::core::fields::m31::M31;

    use super::*;

    fn hex(s: &str) -> Keccak256Hash {
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        Keccak256Hash(bytes.try_into().unwrap())
    }

    // Expected values computed independently with pycryptodome's Keccak-256 over the
    // `abi.encodePacked` bytes named in each comment (see the module docs for the encoding).

    #[test]
    fn empty_leaf_and_children_match_keccak256() {
        // keccak256("")
        let empty = Keccak256MerkleHasher::default().finalize();
        assert_eq!(
            empty,
            hex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        );
        // keccak256(abi.encodePacked(uint32(1), uint32(2), uint32(0x7ffffffe)))
        let mut leaf = Keccak256MerkleHasher::default();
        leaf.update_leaf(&[M31::from(1), M31::from(2)]);
        leaf.update_leaf(&[M31::from(P - 1)]);
        assert_eq!(leaf.finalize(), hex(KAT_LEAF));
        // keccak256(abi.encodePacked(bytes32(0x11..11), bytes32(0x22..22)))
        let node = Keccak256MerkleHasher::hash_children((
            Keccak256Hash([0x11; 32]),
            Keccak256Hash([0x22; 32]),
        ));
        assert_eq!(node, hex(KAT_NODE));
    }

    #[test]
    fn mixing_matches_abi_encode_packed() {
        // keccak256(abi.encodePacked(bytes32(0), uint64(0x1111222233334444)))
        let mut channel = Keccak256Channel::default();
        channel.mix_u64(0x1111_2222_3333_4444);
        assert_eq!(channel.digest(), hex(KAT_MIX_U64));
        // keccak256(abi.encodePacked(<previous>, uint32(1), ..., uint32(9)))
        channel.mix_u32s(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(channel.digest(), hex(KAT_MIX_U32S));
        // keccak256(abi.encodePacked(<previous>, uint32(1), uint32(2), uint32(3), uint32(4)))
        let felt = SecureField::from_m31_array([1, 2, 3, 4].map(M31::from));
        channel.mix_felts(&[felt]);
        assert_eq!(channel.digest(), hex(KAT_MIX_FELTS));
        // keccak256(abi.encodePacked(<previous>, bytes32(0x33..33)))
        Keccak256MerkleChannel::mix_root(&mut channel, Keccak256Hash([0x33; 32]));
        assert_eq!(channel.digest(), hex(KAT_MIX_ROOT));
    }

    #[test]
    fn draws_are_counted_big_endian_words() {
        let mut channel = Keccak256Channel::default();
        channel.mix_u64(0x1111_2222_3333_4444);
        // keccak256(abi.encodePacked(digest, uint32(0), uint8(0))), then uint32(1)
        let words = channel.draw_u32s();
        assert_eq!(words, KAT_DRAW_0.to_vec());
        assert_eq!(channel.draw_u32s(), KAT_DRAW_1.to_vec());
        assert_eq!(channel.n_draws, 2);
        // 9 secure felts take 36 base felts: 5 more draws (no rejection at ~2^-28 odds).
        channel.draw_secure_felts(9);
        assert_eq!(channel.n_draws, 7);
        // A mix restarts the count.
        channel.mix_u32s(&[]);
        assert_eq!(channel.n_draws, 0);
        // The first felt's coordinates are the first four draws reduced mod P.
        let mut fresh = channel.clone();
        let words = fresh.clone().draw_u32s();
        let felt = fresh.draw_secure_felt();
        let expected = std::array::from_fn(|i| BaseField::reduce(u64::from(words[i])));
        assert_eq!(felt.to_m31_array(), expected);
    }

    #[test]
    fn pow_accepts_exactly_hashes_below_two_to_256_minus_bits() {
        let mut channel = Keccak256Channel::default();
        channel.mix_u64(0x1111_2222_3333_4444);
        // prefix = keccak256(abi.encodePacked(uint32(0x12345678), bytes12(0), digest, uint32(8)))
        let prefix = channel.pow_prefix_digest(8);
        assert_eq!(prefix, hex(KAT_POW_PREFIX_8));
        // The smallest nonce whose keccak256(abi.encodePacked(prefix, uint64(nonce))) is below
        // 2^248, found by the independent script.
        assert!(channel.verify_pow_nonce(8, KAT_POW_NONCE_8));
        assert!((0..KAT_POW_NONCE_8).all(|n| !channel.verify_pow_nonce(8, n)));
        // The bound is on the whole uint256, not on trailing or little-endian bits.
        for nonce in 0..2000u64 {
            let hash = keccak256(&[&prefix.0, &nonce.to_be_bytes()]);
            let below = hash.0[0] == 0;
            assert_eq!(pow_accepts(&prefix, 8, nonce), below, "nonce {nonce}");
        }
        assert!(channel.verify_pow_nonce(0, 0));
    }

    const KAT_LEAF: &str = "be2824199e1eb85016b8abd681b1468b71d25963da8d7b7009179dbf2242386c";
    const KAT_NODE: &str = "3e92e0db88d6afea9edc4eedf62fffa4d92bcdfc310dccbe943747fe8302e871";
    const KAT_MIX_U64: &str = "e9542f2c688da116e660201e95f08b61c3a72e793c5e085089f6136119a9bf33";
    const KAT_MIX_U32S: &str = "c357cac4bfda33fa393663c1142c9708849910ad16c75bcba01bd6d3bc1379a2";
    const KAT_MIX_FELTS: &str = "cc5a5dc2ac6cf9d5f137ea453db8ab03cad7fc8de2c4cc81dabfffbb130aa65d";
    const KAT_MIX_ROOT: &str = "f55fc0da8119e70e6d46376c117fac4dcfd771b040933946d3c9b78b3201dc04";
    const KAT_DRAW_0: [u32; 8] = [
        0xde21c8c8, 0x9b47375b, 0x0c2c1f18, 0x62df41ab, 0x919fc58e, 0xc1d21761, 0x66643e6e,
        0x82354340,
    ];
    const KAT_DRAW_1: [u32; 8] = [
        0x5e92dced, 0x23ae917f, 0x9bc0f9de, 0x7817a7b3, 0xdf9edfb2, 0xb5dabe0b, 0x563f99c3,
        0x9713956a,
    ];
    const KAT_POW_PREFIX_8: &str =
        "2f7ca7e61823dc992a2abe7d32c98bb8483531636e0d377282b2b408d8591b20";
    const KAT_POW_NONCE_8: u64 = 165;
}
