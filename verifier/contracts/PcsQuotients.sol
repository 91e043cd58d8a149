// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {QM31} from "./QM31.sol";
import {CirclePoints} from "./CirclePoints.sol";
import {LiftedMerkle} from "./LiftedMerkle.sol";

/// Stwo 2.3's PCS quotients at the queries (`pcs::quotients::fri_answers`): FRI's first layer
/// values. At a query's domain point p, for every sample (column i, point z, value v, the
/// quotient coefficient's power α^k) the term α^k (c f_i(p) - a p.y - b) / line(z, conj z)(p),
/// with (a, b, c) the line through (z.y, v) and (conj z.y, conj v)
/// (`complex_conjugate_line_coeffs`). Samples are batched by point in order of first
/// appearance, as `ColumnSampleBatch::new_vec`, so each batch costs one denominator a query:
/// per batch, c = conj(z.y) - z.y is shared, so the batch's numerator is
/// c Σ α^k f_i(p) - A p.y - B with A = Σ α^k (conj v - v) and B = c Σ α^k v - A z.y.
library PcsQuotients {
    uint256 internal constant P = 0x7fffffff;
    uint256 internal constant MASK = 0xffffffff;
    /// More distinct sample points than a Cairo proof has (two per column size, and two).
    uint256 internal constant MAX_BATCHES = 64;

    /// What the quotients need from the transcript.
    struct Input {
        uint256 liftingLogSize;
        uint256 logBlowup;
        uint256 oodsX;
        uint256 oodsY;
        /// The quotient coefficient α.
        uint256 coeff;
        /// The query positions on the lifted domain, sorted, distinct.
        uint256[] queries;
        /// The same on the preprocessed tree (stwo's remapping).
        uint256[] preprocessedQueries;
    }

    /// The samples, grouped by batch (sample point).
    struct Batches {
        uint256 n;
        /// Per batch: the point's shift from the out-of-domain point, in steps of the lifted
        /// domain's generator G_L (every mask and periodicity point is oods + k G_L).
        uint256[] shift;
        /// Per batch: where its samples start in `loc` / `pow` (n + 1 entries).
        uint256[] start;
        /// Per sample: tree | (its column's byte offset in the row) << 2.
        uint256[] loc;
        /// Per sample: α^k's first two coordinates (see `pow2`).
        uint256[] pow;
        /// Per batch: Σ α^k v and Σ α^k (conj v - v), then the point and its constants.
        uint256[] sumV;
        uint256[] sumA;
        uint256[] zx;
        uint256[] c;
        uint256[] b;
        /// While filling: per batch, its next free slot; the sampled values' calldata offset;
        /// the quotient coefficient.
        uint256[] next;
        uint256 valuesOffset;
        uint256 coeff;
        /// Per sample: α^k's coordinates in 128-bit lanes, c0 | c1 << 128 in `pow`, c2 | c3 << 128
        /// here: one MUL multiplies a row value into two coordinates (`sumRow`).
        uint256[] pow2;
    }

    /// FRI's first layer values at `input.queries` and the queries' domain points.
    /// `columns[t]` is tree t's layout: a byte per column in commitment order, its log size
    /// (with the blowup) in the low 5 bits and how many points it is sampled at (0, 1: the
    /// out-of-domain point, 2: the previous row's point then it) in bits 5-6.
    function answers(
        Input memory input,
        LiftedMerkle.Opening[4] calldata trees,
        bytes[4] calldata columns,
        bytes calldata sampledValues
    ) internal view returns (uint256[] memory values, uint256[] memory px, uint256[] memory py) {
        Batches memory bs = batches(input, trees, columns, sampledValues);
        uint256 nq = input.queries.length;
        px = new uint256[](nq);
        py = new uint256[](nq);
        uint256[] memory nums = new uint256[](nq * bs.n);
        uint256[] memory dens = new uint256[](nq * bs.n);
        uint256[] memory rows = rowIndices(input);
        for (uint256 j = 0; j < nq; j++) {
            (px[j], py[j]) = CirclePoints.domainPoint(input.queries[j], input.liftingLogSize);
            row(bs, rowBases(trees, rows[j], j), px[j], py[j], nums, dens, j * bs.n);
        }
        values = combine(nums, dens, nq, bs.n);
    }

    /// Per query: Σ over batches of numerator / denominator, the denominators inverted together.
    function combine(uint256[] memory nums, uint256[] memory dens, uint256 nq, uint256 nb)
        internal
        view
        returns (uint256[] memory values)
    {
        CirclePoints.batchInverseCM31(dens);
        values = new uint256[](nq);
        for (uint256 j = 0; j < nq; j++) {
            uint256 acc = 0;
            for (uint256 k = 0; k < nb; k++) {
                acc = QM31.add(acc, QM31.mulCM31(nums[j * nb + k], dens[j * nb + k]));
            }
            values[j] = acc;
        }
    }

    /// Per query, its row in the preprocessed tree's rows (repeated positions share one).
    function rowIndices(Input memory input) internal pure returns (uint256[] memory rows) {
        rows = new uint256[](input.queries.length);
        for (uint256 j = 1; j < rows.length; j++) {
            bool repeat = input.preprocessedQueries[j] == input.preprocessedQueries[j - 1];
            rows[j] = rows[j - 1] + (repeat ? 0 : 1);
        }
    }

    /// Where query `j`'s row of each tree starts in calldata.
    function rowBases(LiftedMerkle.Opening[4] calldata trees, uint256 ppRow, uint256 j)
        internal
        pure
        returns (uint256[4] memory bases)
    {
        for (uint256 t = 0; t < 4; t++) {
            bases[t] = rowsOffset(trees[t].rows) + (t == 0 ? ppRow : j) * trees[t].rowBytes;
        }
    }

    /// One query's numerator c S - A p.y - B and denominator per batch, at `at` onwards.
    function row(
        Batches memory bs,
        uint256[4] memory bases,
        uint256 px,
        uint256 py,
        uint256[] memory nums,
        uint256[] memory dens,
        uint256 at
    ) internal pure {
        for (uint256 k = 0; k < bs.n; k++) {
            uint256 s = sumRow(bs, bs.start[k], bs.start[k + 1], bases);
            nums[at + k] = QM31.sub(QM31.mul(bs.c[k], s), QM31.add(QM31.mulM31(bs.sumA[k], py), bs.b[k]));
            dens[at + k] = denominator(bs.zx[k], k, px, py, bs);
        }
    }

    /// (Re z.x - p.x) Im z.y - (Re z.y - p.y) Im z.x, a CM31 (`denominator_inverses`); z.y is
    /// kept in `bs.sumV` once the batch's constants are made (see `pointConstants`).
    function denominator(uint256 zx, uint256 k, uint256 px, uint256 py, Batches memory bs)
        private
        pure
        returns (uint256)
    {
        uint256 zy = bs.sumV[k];
        uint256 rx = addmod(zx & MASK, P - px, P) | (((zx >> 32) & MASK) << 32);
        uint256 ry = addmod(zy & MASK, P - py, P) | (((zy >> 32) & MASK) << 32);
        uint256 l = CirclePoints.cm31Mul(rx, (zy >> 64) & ((1 << 64) - 1));
        uint256 r = CirclePoints.cm31Mul(ry, (zx >> 64) & ((1 << 64) - 1));
        return addmod(l & MASK, P - (r & MASK), P) | (addmod(l >> 32, P - (r >> 32), P) << 32);
    }

    /// Σ α^k f_i(p) over a batch's samples, the row values read from calldata at `bases`
    /// (lazily reduced: a 31-bit value times a 128-bit lane of two 31-bit coordinates, summed,
    /// never carries across the lane).
    function sumRow(Batches memory bs, uint256 from, uint256 to, uint256[4] memory bases)
        private
        pure
        returns (uint256 s)
    {
        uint256[] memory loc = bs.loc;
        uint256[] memory pow = bs.pow;
        uint256[] memory pow2 = bs.pow2;
        assembly ("memory-safe") {
            let s01 := 0
            let s23 := 0
            let lp := add(loc, add(0x20, shl(5, from)))
            let end := add(loc, add(0x20, shl(5, to)))
            let d01 := sub(pow, loc)
            let d23 := sub(pow2, loc)
            for {} lt(lp, end) { lp := add(lp, 0x20) } {
                let l := mload(lp)
                let v := shr(224, calldataload(add(mload(add(bases, shl(5, and(l, 3)))), shr(2, l))))
                s01 := add(s01, mul(v, mload(add(lp, d01))))
                s23 := add(s23, mul(v, mload(add(lp, d23))))
            }
            let p := 0x7fffffff
            let low := 0xffffffffffffffffffffffffffffffff
            s := or(
                or(mod(and(s01, low), p), shl(32, mod(shr(128, s01), p))),
                or(shl(64, mod(and(s23, low), p)), shl(96, mod(shr(128, s23), p)))
            )
        }
    }

    function rowsOffset(bytes calldata rows) private pure returns (uint256 o) {
        assembly ("memory-safe") {
            o := rows.offset
        }
    }

    /// The layout read once: every sampled column in α-power order, and each column code's
    /// batches.
    struct Layout {
        /// Per sampled column: its code (the layout byte) | its location << 8.
        uint256[] cols;
        /// Per code (the layout byte): its samples' batch ids + 1, a byte each, in order.
        uint256[] codeBatches;
        /// Samples in all.
        uint256 total;
        /// Per code: how many columns have it; the codes in order of first appearance.
        uint256[] codeCount;
        uint256[] order;
        uint256 nOrder;
        /// Sampled columns so far.
        uint256 n;
    }

    /// The samples of the layout, grouped by point, with their batches' constants.
    function batches(
        Input memory input,
        LiftedMerkle.Opening[4] calldata trees,
        bytes[4] calldata columns,
        bytes calldata sampledValues
    ) internal pure returns (Batches memory bs) {
        Layout memory layout = readLayout(input, trees, columns, bs);
        fillBatches(input, layout, bs, sampledValues);
    }

    /// Every tree's columns: their row locations, and each code's batches (new points in order
    /// of first appearance, as `ColumnSampleBatch::new_vec`).
    function readLayout(
        Input memory input,
        LiftedMerkle.Opening[4] calldata trees,
        bytes[4] calldata columns,
        Batches memory bs
    ) internal pure returns (Layout memory layout) {
        uint256 n = 0;
        for (uint256 t = 0; t < 4; t++) {
            n += columns[t].length;
        }
        layout.cols = new uint256[](n);
        layout.codeBatches = new uint256[](256);
        layout.codeCount = new uint256[](256);
        layout.order = new uint256[](256);
        for (uint256 t = 0; t < 4; t++) {
            require(columns[t].length * 4 == trees[t].rowBytes, "layout: columns do not match the row width");
            readTree(layout, columns[t], trees[t].logHeight, t);
        }
        uint256[] memory cols = layout.cols;
        n = layout.n;
        assembly ("memory-safe") {
            mstore(cols, n)
        }
        bs.shift = new uint256[](MAX_BATCHES);
        uint256 mask = (1 << input.liftingLogSize) - 1;
        uint256 prevShift = (mask + 1 - (1 << input.logBlowup)) & mask;
        for (uint256 i = 0; i < layout.nOrder; i++) {
            uint256 code = layout.order[i];
            layout.codeBatches[code] = codeIds(bs, code, mask, prevShift);
        }
    }

    /// One tree's columns: each sampled column's code and location (columns ordered by log
    /// size, stably, as the lifted Merkle tree hashes them), the codes' counts and order of
    /// first appearance. In assembly: in Solidity this cost ~1,400 gas a column.
    /// Layout's fields: cols 0x00, total 0x40, codeCount 0x60, order 0x80, nOrder 0xa0, n 0xc0.
    function readTree(Layout memory layout, bytes calldata codes, uint256 height, uint256 t) private pure {
        uint256[33] memory firstOf;
        bool bad;
        assembly ("memory-safe") {
            for { let col := 0 } lt(col, codes.length) { col := add(col, 1) } {
                let ls := and(shr(248, calldataload(add(codes.offset, col))), 31)
                if or(iszero(ls), gt(ls, height)) { bad := 1 }
                let at := add(firstOf, shl(5, add(ls, 1)))
                mstore(at, add(mload(at), 1))
            }
        }
        if (bad) revert("layout: column log size outside its tree");
        for (uint256 s = 1; s < 33; s++) {
            firstOf[s] += firstOf[s - 1];
        }
        assembly ("memory-safe") {
            let cols := add(mload(layout), 0x20)
            let counts := add(mload(add(layout, 0x60)), 0x20)
            let order := add(mload(add(layout, 0x80)), 0x20)
            let n := mload(add(layout, 0xc0))
            let nOrder := mload(add(layout, 0xa0))
            let total := mload(add(layout, 0x40))
            for { let col := 0 } lt(col, codes.length) { col := add(col, 1) } {
                let code := shr(248, calldataload(add(codes.offset, col)))
                let at := add(firstOf, shl(5, and(code, 31)))
                let position := mload(at)
                mstore(at, add(position, 1))
                let count := shr(5, code)
                if count {
                    if gt(count, 2) { bad := 1 }
                    // The location: t | (byte offset 4 position) << 2.
                    mstore(add(cols, shl(5, n)), or(code, shl(8, or(t, shl(4, position)))))
                    n := add(n, 1)
                    let c := add(counts, shl(5, code))
                    if iszero(mload(c)) {
                        mstore(add(order, shl(5, nOrder)), code)
                        nOrder := add(nOrder, 1)
                    }
                    mstore(c, add(mload(c), 1))
                    total := add(total, add(count, shl(1, eq(count, 2))))
                }
            }
            mstore(add(layout, 0xc0), n)
            mstore(add(layout, 0xa0), nOrder)
            mstore(add(layout, 0x40), total)
        }
        if (bad) revert("layout: a column sampled at more than two points");
    }

    /// A code's batch ids + 1, in build_samples_with_randomness_and_periodicity's order: for
    /// two samples, the periodicity point (the second point plus G_L * 2^logSize), the previous
    /// row (oods - G_{L - blowup}), the out-of-domain point; for one, the out-of-domain point.
    function codeIds(Batches memory bs, uint256 code, uint256 mask, uint256 prevShift) private pure returns (uint256) {
        if (code >> 5 == 1) return batchOf(bs, 0);
        uint256 periodic = batchOf(bs, (1 << (code & 31)) & mask);
        uint256 prev = batchOf(bs, prevShift);
        return periodic | (prev << 8) | (batchOf(bs, 0) << 16);
    }

    /// The id + 1 of the batch at `shift`, a new batch if the point is new.
    function batchOf(Batches memory bs, uint256 shift) private pure returns (uint256) {
        uint256 k = 0;
        while (k < bs.n && bs.shift[k] != shift) k++;
        if (k == bs.n) {
            require(bs.n < MAX_BATCHES, "layout: too many sample points");
            bs.shift[bs.n++] = shift;
        }
        return k + 1;
    }

    /// Places every sample in its batch (`loc`, α^k in `pow`) and sums Σ α^k v and
    /// Σ α^k (conj v - v) per batch. In assembly: a Solidity loop cost ~3,800 gas a sample.
    function fill(Batches memory bs, Layout memory layout, bytes calldata sampled, uint256 coeff) internal pure {
        bs.next = new uint256[](bs.n + 1);
        for (uint256 k = 0; k <= bs.n; k++) {
            bs.next[k] = bs.start[k];
        }
        uint256 base;
        assembly ("memory-safe") {
            base := sampled.offset
        }
        bs.valuesOffset = base;
        bs.coeff = coeff;
        fillColumns(bs, layout);
        // With X = Σ α^k v0 and Y = Σ α^k v1 (v = v0 + v1 u, v0 and v1 in CM31):
        // Σ α^k v = X + u Y and Σ α^k (conj v - v) = -2 u Y, two CM31 products a sample
        // instead of two QM31 products.
        uint256 u = QM31.pack(0, 0, 1, 0);
        for (uint256 k = 0; k < bs.n; k++) {
            uint256 uy = QM31.mul(u, bs.sumA[k]);
            bs.sumV[k] = QM31.add(bs.sumV[k], uy);
            bs.sumA[k] = QM31.mulM31(uy, P - 2);
        }
    }

    /// `fill`'s loop. Batches' fields: loc at 0x60, pow 0x80, sumV 0xa0, sumA 0xc0, next 0x140,
    /// valuesOffset 0x160, coeff 0x180, pow2 0x1a0; Layout's: cols at 0x00, codeBatches 0x20.
    function fillColumns(Batches memory bs, Layout memory layout) private pure {
        assembly ("memory-safe") {
            // QM31.mul with literals for P, the mask and K = P << 34 (Yul's stack has no room).
            function qmul(x, y) -> r {
                let a := and(x, 0xffffffff)
                let b := and(shr(32, x), 0xffffffff)
                let c := and(shr(64, x), 0xffffffff)
                let d := shr(96, x)
                let e := and(y, 0xffffffff)
                let f := and(shr(32, y), 0xffffffff)
                let g := and(shr(64, y), 0xffffffff)
                let h := shr(96, y)
                let rr := mod(add(mul(c, g), sub(0x1fffffffc00000000, mul(d, h))), 0x7fffffff)
                let ii := mod(add(mul(c, h), mul(d, g)), 0x7fffffff)
                r := or(
                    mod(add(add(mul(a, e), sub(0x1fffffffc00000000, mul(b, f))), add(add(rr, rr), sub(0x7fffffff, ii))), 0x7fffffff),
                    shl(32, mod(add(add(mul(a, f), mul(b, e)), add(rr, add(ii, ii))), 0x7fffffff))
                )
                r := or(r, shl(64, mod(add(add(mul(a, g), sub(0x1fffffffc00000000, mul(b, h))), add(mul(c, e), sub(0x1fffffffc00000000, mul(d, f)))), 0x7fffffff)))
                r := or(r, shl(96, mod(add(add(mul(a, h), mul(b, g)), add(mul(c, f), mul(d, e))), 0x7fffffff)))
            }
            function qadd(x, y) -> r {
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
            // The QM31 at sampled value `v`: four big-endian words, the first the lowest.
            function value(b, v) -> r {
                let w := shr(128, calldataload(add(b, shl(4, v))))
                let m := 0xffffffff
                r := or(or(shr(96, w), shl(32, and(shr(64, w), m))), or(shl(64, and(shr(32, w), m)), shl(96, and(w, m))))
            }
            // w times the CM31 `c` (packed c0 | c1 << 32): 8 products, half a QM31 product.
            function qmulc(w, c) -> r {
                let c0 := and(c, 0xffffffff)
                let c1 := and(shr(32, c), 0xffffffff)
                let a := and(w, 0xffffffff)
                let b := and(shr(32, w), 0xffffffff)
                r := or(
                    mod(add(mul(a, c0), sub(0x1fffffffc00000000, mul(b, c1))), 0x7fffffff),
                    shl(32, mod(add(mul(a, c1), mul(b, c0)), 0x7fffffff))
                )
                a := and(shr(64, w), 0xffffffff)
                b := shr(96, w)
                r := or(r, shl(64, mod(add(mul(a, c0), sub(0x1fffffffc00000000, mul(b, c1))), 0x7fffffff)))
                r := or(r, shl(96, mod(add(mul(a, c1), mul(b, c0)), 0x7fffffff)))
            }
            function slot(arr, i) -> s {
                s := add(add(arr, 0x20), shl(5, i))
            }
            // One sample: batch `id` (1-based) gets location `l`, power `w`, value `x`.
            function place(b, id, l, w, x) {
                let k := sub(id, 1)
                let nxt := mload(add(b, 0x140))
                let at := mload(slot(nxt, k))
                mstore(slot(nxt, k), add(at, 1))
                mstore(slot(mload(add(b, 0x60)), at), l)
                mstore(slot(mload(add(b, 0x80)), at), or(and(w, 0xffffffff), shl(128, and(shr(32, w), 0xffffffff))))
                mstore(slot(mload(add(b, 0x1a0)), at), or(and(shr(64, w), 0xffffffff), shl(128, shr(96, w))))
                // x = x0 + x1 u: Σ w x0 in sumV, Σ w x1 in sumA (`fill` combines them).
                let sv := slot(mload(add(b, 0xa0)), k)
                mstore(sv, qadd(mload(sv), qmulc(w, and(x, 0xffffffffffffffff))))
                let sa := slot(mload(add(b, 0xc0)), k)
                mstore(sa, qadd(mload(sa), qmulc(w, shr(64, x))))
            }
            // One column's samples from sampled value `v` on, the powers from `w` on.
            function column(b, ids, c, v, w) -> v2, w2 {
                let l := shr(8, c)
                switch shr(5, and(c, 0xff))
                case 2 {
                    let cur := value(mload(add(b, 0x160)), add(v, 1))
                    place(b, and(ids, 0xff), l, w, cur)
                    w := qmul(w, mload(add(b, 0x180)))
                    place(b, and(shr(8, ids), 0xff), l, w, value(mload(add(b, 0x160)), v))
                    w := qmul(w, mload(add(b, 0x180)))
                    place(b, shr(16, ids), l, w, cur)
                    v2 := add(v, 2)
                }
                default {
                    place(b, ids, l, w, value(mload(add(b, 0x160)), v))
                    v2 := add(v, 1)
                }
                w2 := qmul(w, mload(add(b, 0x180)))
            }
            let cols := mload(layout)
            let codes := mload(add(layout, 0x20))
            let power := 1
            let v := 0
            for { let i := 0 } lt(i, mload(cols)) { i := add(i, 1) } {
                let c := mload(slot(cols, i))
                v, power := column(bs, mload(slot(codes, and(c, 0xff))), c, v, power)
            }
        }
    }

    /// Each batch's point z = oods + shift G_L and its constants c = conj(z.y) - z.y,
    /// B = c Σ α^k v - A z.y; z.y then replaces Σ α^k v (`denominator` reads it there).
    function pointConstants(Batches memory bs, Input memory input) internal pure {
        bs.zx = new uint256[](bs.n);
        bs.c = new uint256[](bs.n);
        bs.b = new uint256[](bs.n);
        for (uint256 k = 0; k < bs.n; k++) {
            (uint256 gx, uint256 gy) = CirclePoints.at(bs.shift[k] << (31 - input.liftingLogSize));
            uint256 zx = QM31.sub(QM31.mulM31(input.oodsX, gx), QM31.mulM31(input.oodsY, gy));
            uint256 zy = QM31.add(QM31.mulM31(input.oodsX, gy), QM31.mulM31(input.oodsY, gx));
            uint256 c = QM31.sub(QM31.conjugate(zy), zy);
            bs.zx[k] = zx;
            bs.c[k] = c;
            bs.b[k] = QM31.sub(QM31.mul(c, bs.sumV[k]), QM31.mul(bs.sumA[k], zy));
            bs.sumV[k] = zy;
        }
    }

    // The quotients in two parts (`QuotientStatement`): what is the same at every query, once
    // a proof (`valueConstants`: each batch's A and B, the only part the sampled values enter,
    // and the sample table of α powers and row locations), and each range's queries
    // (`answersFromTable`): no layout, no sampled value read there.

    /// Each batch's value constants A = Σ α^k (conj v - v) and B = c Σ α^k v - A z.y, as
    /// A | B << 128, in batch order: the part of the quotients that reads the sampled values;
    /// and the sample table (`tableOf`).
    function valueConstants(
        Input memory input,
        uint32[4] calldata logHeights,
        uint32[4] calldata rowBytes,
        bytes[4] calldata columns,
        bytes calldata sampledValues
    ) internal pure returns (uint256[] memory ab, uint256[] memory table) {
        Batches memory bs = setupBatches(input, logHeights, rowBytes, columns, sampledValues);
        ab = new uint256[](bs.n);
        for (uint256 k = 0; k < bs.n; k++) {
            ab[k] = bs.sumA[k] | (bs.b[k] << 128);
        }
        table = tableOf(bs);
    }

    /// `batches` with the trees' heights and row widths given alone (no opening).
    function setupBatches(
        Input memory input,
        uint32[4] calldata logHeights,
        uint32[4] calldata rowBytes,
        bytes[4] calldata columns,
        bytes calldata sampledValues
    ) private pure returns (Batches memory bs) {
        Layout memory layout = layoutOf(input, logHeights, rowBytes, columns, bs);
        fillBatches(input, layout, bs, sampledValues);
    }

    /// Each batch's values and samples from the layout: starts, α powers, row locations and the
    /// batches' value sums (shared by the one-call path and the quotient setup).
    function fillBatches(
        Input memory input,
        Layout memory layout,
        Batches memory bs,
        bytes calldata sampledValues
    ) private pure {
        uint256 nValues;
        uint256[] memory start = new uint256[](bs.n + 1);
        for (uint256 i = 0; i < layout.nOrder; i++) {
            uint256 code = layout.order[i];
            uint256 count = layout.codeCount[code];
            nValues += count * (code >> 5);
            for (uint256 ids = layout.codeBatches[code]; ids != 0; ids >>= 8) {
                start[ids & 0xff] += count;
            }
        }
        require(nValues * 16 <= sampledValues.length, "layout: more samples than sampled values");
        require(nValues * 16 == sampledValues.length, "layout: fewer samples than sampled values");
        for (uint256 k = 0; k < bs.n; k++) {
            start[k + 1] += start[k];
        }
        bs.start = start;
        bs.loc = new uint256[](layout.total);
        bs.pow = new uint256[](layout.total);
        bs.pow2 = new uint256[](layout.total);
        bs.sumV = new uint256[](bs.n);
        bs.sumA = new uint256[](bs.n);
        fill(bs, layout, sampledValues, input.coeff);
        pointConstants(bs, input);
    }

    /// The sample table a range reads (`answersFromTable`): the batch count n; per batch its
    /// first sample and its shift, start | shift << 128; per sample, in batch order, its α
    /// power's coordinates and its location, c0 | c2 << 32 | location << 64 | c1 << 128 |
    /// c3 << 160 (one AND gives each of `sumRow`'s two lanes). The plan builds the same
    /// (`quotient_table` in verifier/src/plan.rs).
    function tableOf(Batches memory bs) private pure returns (uint256[] memory table) {
        uint256 n = bs.n;
        // The samples placed (`loc` may have room to spare: `readTree` counts four a
        // two-point column).
        uint256 total = bs.start[n];
        table = new uint256[](1 + n + total);
        table[0] = n;
        for (uint256 k = 0; k < n; k++) {
            table[1 + k] = bs.start[k] | (bs.shift[k] << 128);
        }
        for (uint256 i = 0; i < total; i++) {
            table[1 + n + i] = bs.pow[i] | (bs.pow2[i] << 32) | (bs.loc[i] << 64);
        }
    }

    /// `answers`' values from the sample table (`tableOf`, checked against the setup's hash by
    /// the caller) and each batch's `valueConstants` (`ab`): no layout, no sampled value.
    function answersFromTable(
        Input memory input,
        LiftedMerkle.Opening[4] calldata trees,
        uint256[] calldata table,
        uint256[] memory ab
    ) internal view returns (uint256[] memory values) {
        uint256 n = ab.length;
        Batches memory bs;
        bs.n = n;
        bs.shift = new uint256[](n);
        bs.start = new uint256[](n + 1);
        for (uint256 k = 0; k < n; k++) {
            bs.start[k] = table[1 + k] & ((1 << 128) - 1);
            bs.shift[k] = table[1 + k] >> 128;
        }
        bs.start[n] = table.length - 1 - n;
        pointsFrom(bs, input, ab);
        // The samples' calldata offset, where `fill` keeps the sampled values'.
        uint256 samples;
        assembly ("memory-safe") {
            samples := add(table.offset, shl(5, add(1, n)))
        }
        bs.valuesOffset = samples;
        values = queriesFromTable(bs, input, trees);
    }

    /// Every query's value from the table's samples (at calldata `bs.valuesOffset`).
    function queriesFromTable(Batches memory bs, Input memory input, LiftedMerkle.Opening[4] calldata trees)
        private
        view
        returns (uint256[] memory)
    {
        uint256[] memory nums = new uint256[](input.queries.length * bs.n);
        uint256[] memory dens = new uint256[](input.queries.length * bs.n);
        uint256[] memory rows = rowIndices(input);
        for (uint256 j = 0; j < rows.length; j++) {
            rowFromTable(bs, rowBases(trees, rows[j], j), input, j, nums, dens);
        }
        return combine(nums, dens, rows.length, bs.n);
    }

    /// `row` with the samples read from the table in calldata (at `bs.valuesOffset`).
    function rowFromTable(
        Batches memory bs,
        uint256[4] memory bases,
        Input memory input,
        uint256 j,
        uint256[] memory nums,
        uint256[] memory dens
    ) private pure {
        (uint256 px, uint256 py) = CirclePoints.domainPoint(input.queries[j], input.liftingLogSize);
        uint256 at = j * bs.n;
        for (uint256 k = 0; k < bs.n; k++) {
            uint256 s = sumTableRow(bs.valuesOffset, bs.start[k], bs.start[k + 1], bases);
            nums[at + k] = QM31.sub(QM31.mul(bs.c[k], s), QM31.add(QM31.mulM31(bs.sumA[k], py), bs.b[k]));
            dens[at + k] = denominator(bs.zx[k], k, px, py, bs);
        }
    }

    /// `sumRow` over table entries [from, to) at calldata `samples`.
    function sumTableRow(uint256 samples, uint256 from, uint256 to, uint256[4] memory bases)
        private
        pure
        returns (uint256 s)
    {
        assembly ("memory-safe") {
            let s01 := 0
            let s23 := 0
            let lanes := or(0xffffffff, shl(128, 0xffffffff))
            let end := add(samples, shl(5, to))
            for { let p := add(samples, shl(5, from)) } lt(p, end) { p := add(p, 0x20) } {
                let w := calldataload(p)
                let l := and(shr(64, w), 0xffffffffffffffff)
                let v := shr(224, calldataload(add(mload(add(bases, shl(5, and(l, 3)))), shr(2, l))))
                s01 := add(s01, mul(v, and(w, lanes)))
                s23 := add(s23, mul(v, and(shr(32, w), lanes)))
            }
            let p := 0x7fffffff
            let low := 0xffffffffffffffffffffffffffffffff
            s := or(
                or(mod(and(s01, low), p), shl(32, mod(shr(128, s01), p))),
                or(shl(64, mod(and(s23, low), p)), shl(96, mod(shr(128, s23), p)))
            )
        }
    }

    /// `readLayout` with the trees' heights and row widths given alone.
    function layoutOf(
        Input memory input,
        uint32[4] calldata logHeights,
        uint32[4] calldata rowBytes,
        bytes[4] calldata columns,
        Batches memory bs
    ) private pure returns (Layout memory layout) {
        uint256 n = 0;
        for (uint256 t = 0; t < 4; t++) {
            n += columns[t].length;
        }
        layout.cols = new uint256[](n);
        layout.codeBatches = new uint256[](256);
        layout.codeCount = new uint256[](256);
        layout.order = new uint256[](256);
        for (uint256 t = 0; t < 4; t++) {
            require(columns[t].length * 4 == rowBytes[t], "layout: columns do not match the row width");
            readTree(layout, columns[t], logHeights[t], t);
        }
        uint256[] memory cols = layout.cols;
        n = layout.n;
        assembly ("memory-safe") {
            mstore(cols, n)
        }
        bs.shift = new uint256[](MAX_BATCHES);
        uint256 mask = (1 << input.liftingLogSize) - 1;
        uint256 prevShift = (mask + 1 - (1 << input.logBlowup)) & mask;
        for (uint256 i = 0; i < layout.nOrder; i++) {
            uint256 code = layout.order[i];
            layout.codeBatches[code] = codeIds(bs, code, mask, prevShift);
        }
    }

    /// `pointConstants` with A and B given (`ab`, from `valueConstants`).
    function pointsFrom(Batches memory bs, Input memory input, uint256[] memory ab) private pure {
        bs.zx = new uint256[](bs.n);
        bs.c = new uint256[](bs.n);
        bs.b = new uint256[](bs.n);
        bs.sumA = new uint256[](bs.n);
        bs.sumV = new uint256[](bs.n);
        uint256 low = (1 << 128) - 1;
        for (uint256 k = 0; k < bs.n; k++) {
            (uint256 gx, uint256 gy) = CirclePoints.at(bs.shift[k] << (31 - input.liftingLogSize));
            uint256 zy = QM31.add(QM31.mulM31(input.oodsX, gy), QM31.mulM31(input.oodsY, gx));
            bs.zx[k] = QM31.sub(QM31.mulM31(input.oodsX, gx), QM31.mulM31(input.oodsY, gy));
            bs.c[k] = QM31.sub(QM31.conjugate(zy), zy);
            bs.sumA[k] = ab[k] & low;
            bs.b[k] = ab[k] >> 128;
            bs.sumV[k] = zy;
        }
    }
}
