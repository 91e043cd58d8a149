// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {QM31} from "./QM31.sol";

/// The public memory's part of a Cairo proof's logup sum (cairo-air's `PublicData::logup_sum`
/// without the two opcode terms): for every public memory entry (address, id, value),
/// 1/combine(address-to-id: relation, address, id) + 1/combine(id-to-big: relation, id, the
/// value's 28 limbs of 9 bits), combine(v) = sum alpha^i v_i - z. Entries come as two words
/// each: `address << 32 | id`, then the value (a felt), in `CairoClaim.publicMemoryWords`'
/// order. Shared by `CairoClaim` (inline, for small claims) and `PublicMemoryStatement` (by
/// ranges of entries, for claims whose program section is thousands of felts).
library PublicMemory {
    uint256 internal constant P = 0x7fffffff;
    uint256 internal constant MEMORY_ADDRESS_TO_ID_RELATION_ID = 1444891767;
    uint256 internal constant MEMORY_ID_TO_BIG_RELATION_ID = 1662111297;
    uint256 internal constant FELT_WORDS = 28;
    uint256 internal constant STARK_PRIME = 0x800000000000011000000000000000000000000000000000000000000000001;
    uint256 internal constant LANE = 0xffffffffffffffff;

    /// alpha^0 .. alpha^(FELT_WORDS + 1) with each QM31 coordinate in a 64-bit lane (a | b << 64
    /// | c << 128 | d << 192), so one `MUL` by a small scalar scales all four coordinates and
    /// the sums of a denominator's terms stay below 2^64 a lane (28 limbs below 2^9 times
    /// coordinates below 2^31, plus two terms below 2^62): reduced once, not per term.
    function widePowers(uint256 alpha) internal pure returns (uint256[] memory w) {
        w = new uint256[](FELT_WORDS + 2);
        uint256 power = 1;
        for (uint256 i = 0; i < w.length; i++) {
            w[i] = wide(power);
            power = QM31.mul(power, alpha);
        }
    }

    function wide(uint256 x) internal pure returns (uint256) {
        return (x & QM31.MASK) | (((x >> 32) & QM31.MASK) << 64) | (((x >> 64) & QM31.MASK) << 128)
            | (((x >> 96) & QM31.MASK) << 192);
    }

    /// A lane sum reduced to a packed QM31.
    function narrow(uint256 w) internal pure returns (uint256) {
        return QM31.pack((w & LANE) % P, ((w >> 64) & LANE) % P, ((w >> 128) & LANE) % P, (w >> 192) % P);
    }

    /// relation - z as lanes (each coordinate of -z as P - z_i: the lanes stay nonnegative).
    function constantTerm(uint256 relation, uint256 z) internal pure returns (uint256) {
        (uint256 a, uint256 b, uint256 c, uint256 d) = QM31.coords(z);
        return (relation + P - a % P) | ((P - b % P) << 64) | ((P - c % P) << 128) | ((P - d % P) << 192);
    }

    /// Sum over `words`' entries of their two inverse denominators under (z, alpha); reverts
    /// on an address or id not an M31, a value not a felt, or a zero denominator.
    function sum(uint256[] memory words, uint256 z, uint256 alpha) internal view returns (uint256) {
        require(words.length % 2 == 0, "public memory: entries are two words each");
        uint256[] memory w = widePowers(alpha);
        uint256 addrConst = constantTerm(MEMORY_ADDRESS_TO_ID_RELATION_ID, z);
        uint256 bigConst = constantTerm(MEMORY_ID_TO_BIG_RELATION_ID, z);
        uint256[] memory d = new uint256[](words.length);
        (uint256 a1, uint256 a2) = (w[1], w[2]);
        for (uint256 i = 0; i < words.length; i += 2) {
            uint256 head = words[i];
            uint256 value = words[i + 1];
            uint256 addr = head >> 32;
            uint256 id = head & QM31.MASK;
            require(addr < P && id < P, "public memory: an address or id is not an M31");
            require(value < STARK_PRIME, "public memory: a value is not a felt");
            d[i] = narrow(addrConst + a1 * addr + a2 * id);
            uint256 acc = bigConst + a1 * id;
            assembly ("memory-safe") {
                let powers := add(w, 96) // alpha^2 onwards
                for { let k := 0 } lt(k, 28) { k := add(k, 1) } {
                    let limb := and(shr(mul(9, k), value), 0x1ff)
                    acc := add(acc, mul(mload(add(powers, shl(5, k))), limb))
                }
            }
            d[i + 1] = narrow(acc);
        }
        return sumOfInverses(d);
    }

    /// sum 1/d_i with one inversion (Montgomery's trick).
    function sumOfInverses(uint256[] memory d) internal view returns (uint256 total) {
        uint256 n = d.length;
        uint256[] memory prefix = new uint256[](n);
        uint256 acc = 1;
        for (uint256 i = 0; i < n; i++) {
            prefix[i] = acc;
            acc = QM31.mul(acc, d[i]);
        }
        require(acc != 0, "claim: a lookup denominator is zero");
        uint256 inv = QM31.inv(acc);
        for (uint256 i = n; i > 0; i--) {
            total = QM31.add(total, QM31.mul(inv, prefix[i - 1]));
            inv = QM31.mul(inv, d[i - 1]);
        }
    }
}
