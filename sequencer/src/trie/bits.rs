//! Keys and edge paths as plain 256-bit integers. Felts are Montgomery-encoded, so reading
//! bits straight from them would cost a conversion per bit; the trie converts each key once
//! and then works on these limbs. The crate's one 256-bit helper: the block program's input
//! (`program_input::proof_steps`, `program_input::encode`) uses it for the same key and path
//! arithmetic and to split numbers into 128-bit halves.

use starknet_types_core::felt::Felt;

use super::HEIGHT;

/// A 256-bit unsigned integer, most significant limb first (so the derived `Ord` is numeric).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Bits([u64; 4]);

impl Bits {
    pub(crate) const ZERO: Bits = Bits([0; 4]);

    pub(crate) fn from_felt(felt: &Felt) -> Bits {
        Bits(felt.to_be_digits())
    }

    pub(crate) fn to_felt(self) -> Felt {
        let mut bytes = [0u8; 32];
        for (chunk, limb) in bytes.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&limb.to_be_bytes());
        }
        Felt::from_bytes_be(&bytes)
    }

    pub(crate) fn from_u64(value: u64) -> Bits {
        Bits([0, 0, 0, value])
    }

    /// Number of significant bits (0 for zero).
    pub(crate) fn bit_len(self) -> u32 {
        for (i, limb) in self.0.iter().enumerate() {
            if *limb != 0 {
                return 64 * (3 - i as u32) + (64 - limb.leading_zeros());
            }
        }
        0
    }

    /// Bit `index`, counted from the least significant bit.
    pub(crate) fn bit(self, index: u32) -> bool {
        debug_assert!(index < 256);
        let limb = self.0[3 - (index / 64) as usize];
        (limb >> (index % 64)) & 1 == 1
    }

    pub(crate) fn shr(self, n: u32) -> Bits {
        if n >= 256 {
            return Bits::ZERO;
        }
        let (limbs, bits) = ((n / 64) as usize, n % 64);
        let mut out = [0u64; 4];
        for (i, slot) in out.iter_mut().enumerate().skip(limbs) {
            let src = i - limbs;
            *slot = self.0[src] >> bits;
            if bits != 0 && src > 0 {
                *slot |= self.0[src - 1] << (64 - bits);
            }
        }
        Bits(out)
    }

    pub(crate) fn shl(self, n: u32) -> Bits {
        if n >= 256 {
            return Bits::ZERO;
        }
        let (limbs, bits) = ((n / 64) as usize, n % 64);
        let mut out = [0u64; 4];
        for (i, slot) in out.iter_mut().enumerate().take(4 - limbs) {
            let src = i + limbs;
            *slot = self.0[src] << bits;
            if bits != 0 && src < 3 {
                *slot |= self.0[src + 1] >> (64 - bits);
            }
        }
        Bits(out)
    }

    /// The low `n` bits.
    pub(crate) fn low(self, n: u32) -> Bits {
        if n >= 256 {
            return self;
        }
        let mut out = self.0;
        for (i, limb) in out.iter_mut().enumerate() {
            let lsb = 64 * (3 - i as u32);
            if n <= lsb {
                *limb = 0;
            } else if n - lsb < 64 {
                *limb &= (1u64 << (n - lsb)) - 1;
            }
        }
        Bits(out)
    }

    pub(crate) fn xor(self, other: Bits) -> Bits {
        let mut out = self.0;
        for (a, b) in out.iter_mut().zip(other.0) {
            *a ^= b;
        }
        Bits(out)
    }

    pub(crate) fn or(self, other: Bits) -> Bits {
        let mut out = self.0;
        for (a, b) in out.iter_mut().zip(other.0) {
            *a |= b;
        }
        Bits(out)
    }

    /// The key's bit at `depth` (depth 0 is bit 250, the first one the trie branches on).
    pub(crate) fn bit_at_depth(self, depth: u8) -> bool {
        self.bit(u32::from(HEIGHT - 1 - depth))
    }

    /// The `len` key bits starting at `depth`, as the integer an edge's `path` would hold.
    pub(crate) fn segment(self, depth: u8, len: u8) -> Bits {
        self.shr(u32::from(HEIGHT - depth - len))
            .low(u32::from(len))
    }

    /// How many leading bits two `len`-bit paths share.
    pub(crate) fn common_prefix(self, other: Bits, len: u8) -> u8 {
        let differing = self.xor(other).bit_len();
        // Both are below 2^len, so `differing <= len`.
        len - differing as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(hex: &str) -> Bits {
        Bits::from_felt(&Felt::from_hex_unchecked(hex))
    }

    #[test]
    fn felt_roundtrip_and_order() {
        let a = big("0x7ff0000000000000000000000000000000000000000000000000000000000ab");
        assert_eq!(
            a.to_felt(),
            Felt::from_hex_unchecked(
                "0x7ff0000000000000000000000000000000000000000000000000000000000ab"
            )
        );
        assert!(Bits::from_u64(5) < a);
        assert_eq!(a.bit_len(), 251);
        assert_eq!(Bits::ZERO.bit_len(), 0);
        assert_eq!(Bits::from_u64(1).bit_len(), 1);
    }

    #[test]
    fn shifts_cross_limbs() {
        let one = Bits::from_u64(1);
        for n in [0u32, 1, 63, 64, 65, 127, 128, 200, 250, 255] {
            let shifted = one.shl(n);
            assert_eq!(shifted.bit_len(), n + 1, "shl {n}");
            assert!(shifted.bit(n));
            assert_eq!(shifted.shr(n), one, "shr {n}");
        }
        assert_eq!(one.shl(256), Bits::ZERO);
        let x = big("0x123456789abcdef0fedcba9876543210aabbccddeeff00112233445566778");
        assert_eq!(x.shl(70).shr(70), x.low(256 - 70));
        assert_eq!(
            x.shr(3).to_felt(),
            x.to_felt().floor_div(&Felt::from(8u8).try_into().unwrap())
        );
    }

    #[test]
    fn low_masks() {
        let all = Bits([u64::MAX; 4]);
        for n in [0u32, 1, 63, 64, 65, 128, 191, 192, 251, 256] {
            assert_eq!(all.low(n).bit_len(), n, "low {n}");
        }
    }

    #[test]
    fn segments_and_prefixes() {
        // Key with bit 250 set and low bits 0b101.
        let key = Bits::from_u64(0b101).or(Bits::from_u64(1).shl(250));
        assert!(key.bit_at_depth(0));
        assert!(!key.bit_at_depth(1));
        assert!(key.bit_at_depth(250));
        assert!(!key.bit_at_depth(249));
        assert_eq!(key.segment(248, 3), Bits::from_u64(0b101));
        assert_eq!(key.segment(0, 2), Bits::from_u64(0b10));
        assert_eq!(key.segment(0, 251), key);
        assert_eq!(
            Bits::from_u64(0b1011).common_prefix(Bits::from_u64(0b1001), 4),
            2
        );
        assert_eq!(
            Bits::from_u64(0b1011).common_prefix(Bits::from_u64(0b1011), 4),
            4
        );
        assert_eq!(
            Bits::from_u64(0b0011).common_prefix(Bits::from_u64(0b1011), 4),
            0
        );
    }
}
