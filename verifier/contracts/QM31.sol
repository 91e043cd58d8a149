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

    function add(uint256 x, uint256 y) internal pure returns (uint256) {
        (uint256 a, uint256 b, uint256 c, uint256 d) = coords(x);
        (uint256 e, uint256 f, uint256 g, uint256 h) = coords(y);
        return pack(addmod(a, e, P), addmod(b, f, P), addmod(c, g, P), addmod(d, h, P));
    }

    function sub(uint256 x, uint256 y) internal pure returns (uint256) {
        (uint256 a, uint256 b, uint256 c, uint256 d) = coords(y);
        return add(x, pack((P - a) % P, (P - b) % P, (P - c) % P, (P - d) % P));
    }

    /// (a + b i)(c + d i) in CM31.
    function cm31Mul(uint256 a, uint256 b, uint256 c, uint256 d) private pure returns (uint256, uint256) {
        return (addmod(mulmod(a, c, P), P - mulmod(b, d, P), P), addmod(mulmod(a, d, P), mulmod(b, c, P), P));
    }

    function mul(uint256 x, uint256 y) internal pure returns (uint256) {
        // (x0 + x1 u)(y0 + y1 u) = x0 y0 + (2 + i) x1 y1 + (x0 y1 + x1 y0) u
        (uint256 lr, uint256 li) = cm31Mul(x & MASK, (x >> 32) & MASK, y & MASK, (y >> 32) & MASK);
        (uint256 hr, uint256 hi) = cm31Mul((x >> 64) & MASK, (x >> 96) & MASK, (y >> 64) & MASK, (y >> 96) & MASK);
        (hr, hi) = cm31Mul(hr, hi, 2, 1);
        (uint256 m0r, uint256 m0i) = cm31Mul(x & MASK, (x >> 32) & MASK, (y >> 64) & MASK, (y >> 96) & MASK);
        (uint256 m1r, uint256 m1i) = cm31Mul((x >> 64) & MASK, (x >> 96) & MASK, y & MASK, (y >> 32) & MASK);
        return pack(addmod(lr, hr, P), addmod(li, hi, P), addmod(m0r, m1r, P), addmod(m0i, m1i, P));
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
        uint256 conjugate = pack(a, b, (P - c) % P, (P - d) % P);
        return mul(conjugate, pack(mulmod(nr, n, P), mulmod((P - ni) % P, n, P), 0, 0));
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
