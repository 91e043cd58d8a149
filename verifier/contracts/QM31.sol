// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// Stwo's secure field QM31 = CM31[u] / (u^2 - 2 - i) over CM31 = M31[i] / (i^2 + 1), one value
/// in a uint256: coordinates (a, b, c, d) = (a + b i) + (c + d i) u packed as
/// a | b << 32 | c << 64 | d << 96, as the generated AIR code (starfarm-air) packs it.
library QM31 {
    uint256 internal constant P = 0x7fffffff;
    uint256 internal constant MASK = 0xffffffff;

    function coords(uint256 x) internal pure returns (uint256 a, uint256 b, uint256 c, uint256 d) {
        return (x & MASK, (x >> 32) & MASK, (x >> 64) & MASK, (x >> 96) & MASK);
    }

    function pack(uint256 a, uint256 b, uint256 c, uint256 d) internal pure returns (uint256) {
        return a | (b << 32) | (c << 64) | (d << 96);
    }

    // The arithmetic is in assembly: with Solidity's tuples a product cost ~1,700 gas, a sum
    // ~390 (measured); here ~300 and ~100. Coordinates may be unreduced 32-bit words (as
    // calldata holds them): a negation adds K = P * 2^34 (above any product of two words,
    // a multiple of P) before the subtraction.

    function add(uint256 x, uint256 y) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            let p := 0x7fffffff
            let m := 0xffffffff
            r := or(
                or(addmod(and(x, m), and(y, m), p), shl(32, addmod(and(shr(32, x), m), and(shr(32, y), m), p))),
                or(
                    shl(64, addmod(and(shr(64, x), m), and(shr(64, y), m), p)),
                    shl(96, addmod(and(shr(96, x), m), and(shr(96, y), m), p))
                )
            )
        }
    }

    function sub(uint256 x, uint256 y) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            let p := 0x7fffffff
            let m := 0xffffffff
            let k := shl(34, p)
            r := or(
                or(
                    addmod(and(x, m), sub(k, and(y, m)), p),
                    shl(32, addmod(and(shr(32, x), m), sub(k, and(shr(32, y), m)), p))
                ),
                or(
                    shl(64, addmod(and(shr(64, x), m), sub(k, and(shr(64, y), m)), p)),
                    shl(96, addmod(and(shr(96, x), m), sub(k, and(shr(96, y), m)), p))
                )
            )
        }
    }

    /// (x0 + x1 u)(y0 + y1 u) = x0 y0 + (2 + i) x1 y1 + (x0 y1 + x1 y0) u, products unreduced.
    function mul(uint256 x, uint256 y) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            let p := 0x7fffffff
            let m := 0xffffffff
            let k := shl(34, p)
            let a := and(x, m)
            let b := and(shr(32, x), m)
            let c := and(shr(64, x), m)
            let d := and(shr(96, x), m)
            let e := and(y, m)
            let f := and(shr(32, y), m)
            let g := and(shr(64, y), m)
            let h := and(shr(96, y), m)
            // x1 y1 = (cg - dh) + (ch + dg) i, reduced; times (2 + i).
            let rr := mod(add(mul(c, g), sub(k, mul(d, h))), p)
            let ii := mod(add(mul(c, h), mul(d, g)), p)
            let r0 := mod(add(add(mul(a, e), sub(k, mul(b, f))), add(add(rr, rr), sub(p, ii))), p)
            let i0 := mod(add(add(mul(a, f), mul(b, e)), add(rr, add(ii, ii))), p)
            let r1 := mod(add(add(mul(a, g), sub(k, mul(b, h))), add(mul(c, e), sub(k, mul(d, f)))), p)
            let i1 := mod(add(add(mul(a, h), mul(b, g)), add(mul(c, f), mul(d, e))), p)
            r := or(or(r0, shl(32, i0)), or(shl(64, r1), shl(96, i1)))
        }
    }

    /// x times the M31 `s`.
    function mulM31(uint256 x, uint256 s) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            let p := 0x7fffffff
            let m := 0xffffffff
            r := or(
                or(mulmod(and(x, m), s, p), shl(32, mulmod(and(shr(32, x), m), s, p))),
                or(shl(64, mulmod(and(shr(64, x), m), s, p)), shl(96, mulmod(and(shr(96, x), m), s, p)))
            )
        }
    }

    /// x times the CM31 `y` (packed e | f << 32): (x0 + x1 u) y = x0 y + x1 y u.
    function mulCM31(uint256 x, uint256 y) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            let p := 0x7fffffff
            let m := 0xffffffff
            let k := shl(34, p)
            let a := and(x, m)
            let b := and(shr(32, x), m)
            let c := and(shr(64, x), m)
            let d := and(shr(96, x), m)
            let e := and(y, m)
            let f := and(shr(32, y), m)
            r := or(
                or(mod(add(mul(a, e), sub(k, mul(b, f))), p), shl(32, mod(add(mul(a, f), mul(b, e)), p))),
                or(shl(64, mod(add(mul(c, e), sub(k, mul(d, f))), p)), shl(96, mod(add(mul(c, f), mul(d, e)), p)))
            )
        }
    }

    /// The conjugate over CM31: x0 + x1 u to x0 - x1 u.
    function conjugate(uint256 x) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            let p := 0x7fffffff
            let m := 0xffffffff
            let k := shl(34, p)
            r := or(
                and(x, 0xffffffffffffffff),
                or(shl(64, mod(sub(k, and(shr(64, x), m)), p)), shl(96, mod(sub(k, and(shr(96, x), m)), p)))
            )
        }
    }

    /// (a + b i)(c + d i) in CM31.
    function cm31Mul(uint256 a, uint256 b, uint256 c, uint256 d) private pure returns (uint256, uint256) {
        return (addmod(mulmod(a, c, P), P - mulmod(b, d, P), P), addmod(mulmod(a, d, P), mulmod(b, c, P), P));
    }

    /// x^(P - 2) in M31, with the modexp precompile.
    function m31Inv(uint256 x) internal view returns (uint256 r) {
        require(x % P != 0, "QM31: inverse of zero");
        (bool ok, bytes memory out) = address(0x05).staticcall(abi.encode(32, 32, 32, x, P - 2, P));
        require(ok, "QM31: modexp failed");
        r = abi.decode(out, (uint256));
    }

    /// 1 / (x0 + x1 u) = (x0 - x1 u) / (x0^2 - (2 + i) x1^2), and 1 / (r + s i) = (r - s i) / (r^2 + s^2).
    function inv(uint256 x) internal view returns (uint256) {
        (uint256 a, uint256 b, uint256 c, uint256 d) = coords(x);
        (uint256 sr, uint256 si) = cm31Mul(a, b, a, b);
        (uint256 tr, uint256 ti) = cm31Mul(c, d, c, d);
        (tr, ti) = cm31Mul(tr, ti, 2, 1);
        (uint256 nr, uint256 ni) = (addmod(sr, P - tr, P), addmod(si, P - ti, P));
        uint256 n = m31Inv(addmod(mulmod(nr, nr, P), mulmod(ni, ni, P), P));
        uint256 conj = pack(a, b, (P - c) % P, (P - d) % P);
        return mul(conj, pack(mulmod(nr, n, P), mulmod((P - ni) % P, n, P), 0, 0));
    }

    /// The coordinates as the channel mixes them: four big-endian uint32s, a first.
    function encodePacked(uint256 x) internal pure returns (bytes memory) {
        (uint256 a, uint256 b, uint256 c, uint256 d) = coords(x);
        return abi.encodePacked(uint32(a), uint32(b), uint32(c), uint32(d));
    }

    /// The value encoded at `offset` of `data` as [`encodePacked`] writes it.
    function readPacked(bytes calldata data, uint256 offset) internal pure returns (uint256) {
        uint256 word = uint256(bytes32(data[offset:offset + 16])) >> 128;
        return pack(word >> 96, (word >> 64) & MASK, (word >> 32) & MASK, word & MASK);
    }
}
