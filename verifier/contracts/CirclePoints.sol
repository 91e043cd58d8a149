// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {QM31} from "./QM31.sol";

/// Points of the M31 circle x^2 + y^2 = 1 (Stwo's `CirclePoint<M31>`), the canonic domains'
/// points by bit-reversed position, and batch inversions in M31 and CM31 (one modexp each).
library CirclePoints {
    uint256 internal constant P = 0x7fffffff;
    /// Stwo's M31_CIRCLE_GEN, of order 2^31.
    uint256 internal constant GEN_X = 2;
    uint256 internal constant GEN_Y = 1268011823;

    /// (x1, y1) + (x2, y2) = (x1 x2 - y1 y2, x1 y2 + y1 x2).
    function add(uint256 x1, uint256 y1, uint256 x2, uint256 y2) internal pure returns (uint256, uint256) {
        return (addmod(mulmod(x1, x2, P), P - mulmod(y1, y2, P), P), addmod(mulmod(x1, y2, P), mulmod(y1, x2, P), P));
    }

    /// The generator times `index` (CirclePointIndex::to_point), index below 2^31: double and
    /// add, in assembly (with Solidity's tuples it cost ~15,000 gas).
    function at(uint256 index) internal pure returns (uint256 x, uint256 y) {
        assembly ("memory-safe") {
            let p := 0x7fffffff
            x := 1
            y := 0
            let bx := 2
            let by := 1268011823
            for {} index { index := shr(1, index) } {
                if and(index, 1) {
                    let nx := addmod(mulmod(x, bx, p), sub(p, mulmod(y, by, p)), p)
                    y := addmod(mulmod(x, by, p), mulmod(y, bx, p), p)
                    x := nx
                }
                // (bx, by) doubled: (2 bx^2 - 1, 2 bx by).
                let nbx := addmod(mulmod(2, mulmod(bx, bx, p), p), sub(p, 1), p)
                by := mulmod(2, mulmod(bx, by, p), p)
                bx := nbx
            }
        }
    }

    /// `i`'s lowest `logSize` bits reversed (stwo's bit_reverse_index).
    function bitReverse(uint256 i, uint256 logSize) internal pure returns (uint256 r) {
        for (uint256 k = 0; k < logSize; k++) {
            r = (r << 1) | ((i >> k) & 1);
        }
    }

    /// The point at position `position` of `CanonicCoset::new(logSize).circle_domain()`, the
    /// domain's points in bit-reversed order (FRI's first layer and the lifted trees): the
    /// half coset G_{4n} + <G_n> (n = 2^(logSize - 1)), then its conjugates.
    function domainPoint(uint256 position, uint256 logSize) internal pure returns (uint256 x, uint256 y) {
        require(logSize >= 1 && logSize <= 30, "circle domain: log size out of range");
        uint256 i = bitReverse(position, logSize);
        uint256 half = 1 << (logSize - 1);
        uint256 first = i < half ? i : i - half;
        (x, y) = at((1 << (30 - logSize)) + first * (1 << (32 - logSize)));
        if (i >= half) y = (P - y) % P;
    }

    /// Every element of `xs` inverted in place (Montgomery's trick: one modexp); reverts on 0.
    function batchInverse(uint256[] memory xs) internal view {
        uint256 n = xs.length;
        if (n == 0) return;
        uint256[] memory prefix = new uint256[](n);
        uint256 acc = 1;
        for (uint256 i = 0; i < n; i++) {
            prefix[i] = acc;
            acc = mulmod(acc, xs[i], P);
        }
        uint256 inv = QM31.m31Inv(acc);
        for (uint256 i = n; i > 0; i--) {
            uint256 x = xs[i - 1];
            xs[i - 1] = mulmod(inv, prefix[i - 1], P);
            inv = mulmod(inv, x, P);
        }
    }

    /// (a + b i)(c + d i) in CM31, packed a | b << 32.
    function cm31Mul(uint256 x, uint256 y) internal pure returns (uint256) {
        (uint256 a, uint256 b) = (x & 0xffffffff, x >> 32);
        (uint256 c, uint256 d) = (y & 0xffffffff, y >> 32);
        return addmod(mulmod(a, c, P), P - mulmod(b, d, P), P) | (addmod(mulmod(a, d, P), mulmod(b, c, P), P) << 32);
    }

    /// Every CM31 of `xs` (packed a | b << 32) inverted in place: 1 / (a + b i) is
    /// (a - b i) / (a^2 + b^2), the norms inverted together.
    function batchInverseCM31(uint256[] memory xs) internal view {
        uint256 n = xs.length;
        uint256[] memory norms = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            (uint256 a, uint256 b) = (xs[i] & 0xffffffff, xs[i] >> 32);
            norms[i] = addmod(mulmod(a, a, P), mulmod(b, b, P), P);
        }
        batchInverse(norms);
        for (uint256 i = 0; i < n; i++) {
            (uint256 a, uint256 b) = (xs[i] & 0xffffffff, xs[i] >> 32);
            xs[i] = mulmod(a, norms[i], P) | (mulmod((P - b) % P, norms[i], P) << 32);
        }
    }
}
