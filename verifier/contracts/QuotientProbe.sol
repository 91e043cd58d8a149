// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CirclePoints} from "./CirclePoints.sol";
import {LiftedMerkle} from "./LiftedMerkle.sol";
import {PcsQuotients} from "./PcsQuotients.sol";
import {QuotientStatement} from "./QuotientStatement.sol";

/// Measures where a quotient range's execution goes, for tests only: `QuotientStatement.verify`'s
/// steps on the same calldata, each between two `gasleft()`s (the split of the fixed part, the
/// per-proof work every range repeats, from the per-query work).
contract QuotientProbe is QuotientStatement {
    /// Gas of: [0] the preprocessed positions of every query, [1] the range's rows checked
    /// against the leaves and the leaf commitments, [2] the layout read (`readLayout`), [3] the
    /// batches' starts and arrays, [4] the samples placed with their α powers and the batches'
    /// value sums (`fill`), [5] the batches' points and constants (`pointConstants`), [6] the
    /// queries' domain points, rows and denominators, [7] the batched inversion and the sums,
    /// [8] the fact's hashes (input, layout, sampled values, values); [9] the samples in all,
    /// [10] the batches.
    function profile(
        Input calldata q,
        LiftedMerkle.Opening[4] calldata trees,
        bytes32[][4] calldata leaves,
        bytes[4] calldata columns,
        bytes calldata sampledValues
    ) external view returns (uint256[11] memory gas) {
        PcsQuotients.Input memory input = prelude(q, trees, leaves, gas);
        PcsQuotients.Batches memory bs = batchesOf(input, trees, columns, sampledValues, gas);
        bytes32 valuesHash = valuesOf(bs, input, trees, gas);
        uint256 g = gasleft();
        keccak256(abi.encode(keccak256(abi.encode(q)), keccak256(abi.encode(columns)), keccak256(sampledValues), valuesHash));
        gas[8] = g - gasleft();
        gas[10] = bs.n;
    }

    /// The queries' rows into gas[6], the inversion and sums into gas[7]; the values' hash.
    function valuesOf(
        PcsQuotients.Batches memory bs,
        PcsQuotients.Input memory input,
        LiftedMerkle.Opening[4] calldata trees,
        uint256[11] memory gas
    ) private view returns (bytes32) {
        uint256 g = gasleft();
        (uint256[] memory nums, uint256[] memory dens) = rowsOf(bs, input, trees);
        (gas[6], g) = (g - gasleft(), gasleft());
        bytes32 valuesHash = keccak256(abi.encodePacked(PcsQuotients.combine(nums, dens, input.queries.length, bs.n)));
        gas[7] = g - gasleft();
        return valuesHash;
    }

    /// Every query's numerators and denominators, as `PcsQuotients.answers`.
    function rowsOf(PcsQuotients.Batches memory bs, PcsQuotients.Input memory input, LiftedMerkle.Opening[4] calldata trees)
        private
        pure
        returns (uint256[] memory nums, uint256[] memory dens)
    {
        uint256 nq = input.queries.length;
        nums = new uint256[](nq * bs.n);
        dens = new uint256[](nq * bs.n);
        uint256[] memory rows = PcsQuotients.rowIndices(input);
        for (uint256 j = 0; j < nq; j++) {
            oneRow(bs, PcsQuotients.rowBases(trees, rows[j], j), input, j, nums, dens);
        }
    }

    function oneRow(
        PcsQuotients.Batches memory bs,
        uint256[4] memory bases,
        PcsQuotients.Input memory input,
        uint256 j,
        uint256[] memory nums,
        uint256[] memory dens
    ) private pure {
        (uint256 px, uint256 py) = CirclePoints.domainPoint(input.queries[j], input.liftingLogSize);
        PcsQuotients.row(bs, bases, px, py, nums, dens, j * bs.n);
    }

    /// `PcsQuotients.batches`, step by step, into gas[2..5].
    function batchesOf(
        PcsQuotients.Input memory input,
        LiftedMerkle.Opening[4] calldata trees,
        bytes[4] calldata columns,
        bytes calldata sampledValues,
        uint256[11] memory gas
    ) private view returns (PcsQuotients.Batches memory bs) {
        uint256 g = gasleft();
        PcsQuotients.Layout memory layout = PcsQuotients.readLayout(input, trees, columns, bs);
        (gas[2], g) = (g - gasleft(), gasleft());
        uint256[] memory start = new uint256[](bs.n + 1);
        for (uint256 i = 0; i < layout.nOrder; i++) {
            uint256 code = layout.order[i];
            uint256 count = layout.codeCount[code];
            for (uint256 ids = layout.codeBatches[code]; ids != 0; ids >>= 8) {
                start[ids & 0xff] += count;
            }
        }
        for (uint256 k = 0; k < bs.n; k++) {
            start[k + 1] += start[k];
        }
        bs.start = start;
        bs.loc = new uint256[](layout.total);
        bs.pow = new uint256[](layout.total);
        bs.pow2 = new uint256[](layout.total);
        bs.sumV = new uint256[](bs.n);
        bs.sumA = new uint256[](bs.n);
        (gas[3], g) = (g - gasleft(), gasleft());
        PcsQuotients.fill(bs, layout, sampledValues, input.coeff);
        (gas[4], g) = (g - gasleft(), gasleft());
        PcsQuotients.pointConstants(bs, input);
        gas[5] = g - gasleft();
        gas[9] = layout.total;
    }

    /// The preprocessed positions and the rows' check into gas[0..1]; the quotients' input.
    function prelude(
        Input calldata q,
        LiftedMerkle.Opening[4] calldata trees,
        bytes32[][4] calldata leaves,
        uint256[11] memory gas
    ) private view returns (PcsQuotients.Input memory input) {
        uint256 g = gasleft();
        uint256[] memory pp = LiftedMerkle.preprocessedPositions(q.queries, q.liftingLogSize, trees[0].logHeight);
        (gas[0], g) = (g - gasleft(), gasleft());
        checkRows(q, pp, trees, leaves);
        (gas[1], g) = (g - gasleft(), gasleft());
        input.liftingLogSize = q.liftingLogSize;
        input.logBlowup = q.logBlowup;
        input.oodsX = q.oodsX;
        input.oodsY = q.oodsY;
        input.coeff = q.coeff;
        input.queries = slice(q.queries, q.from, q.to);
        input.preprocessedQueries = sliceMemory(pp, q.from, q.to);
    }
}
