// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {LiftedMerkle} from "./LiftedMerkle.sol";
import {PcsQuotients} from "./PcsQuotients.sol";
import {StatementRegistry} from "./StatementRegistry.sol";

/// The PCS quotients (FRI's first layer values) at a range of the queries, a transaction of
/// its own, after the proof's quotient setup, a transaction once a proof. The setup reads the
/// layout and the sampled values and keeps each batch's value constants (A and B: the only
/// part of the quotients the sampled values enter, `PcsQuotients.valueConstants`) under the
/// proof's *context*: the transcript's draws the quotients take, the trees' heights and row
/// widths, keccak(layout), keccak(sampled values). A range reads them from there (refused
/// without them: another proof's setup is another context) and pays only the layout's α
/// powers and its queries. The rows come without Merkle witnesses: each must hash to the
/// leaf at its place in the tree's leaf list, whose commitment `MerkleStatement` verified
/// (the fact binds the commitments, `StwoFactRegistry` checks both facts agree).
contract QuotientStatement is StatementRegistry {
    /// What the quotients take from the transcript, and the range [from, to) of the queries.
    struct Input {
        uint256 liftingLogSize;
        uint256 logBlowup;
        uint256 oodsX;
        uint256 oodsY;
        uint256 coeff;
        /// Every query position, sorted, distinct (the range's place in them fixes its leaves).
        uint256[] queries;
        uint256 from;
        uint256 to;
    }

    /// What the quotients take from the transcript: the quotient setup's draws.
    struct Draws {
        uint256 liftingLogSize;
        uint256 logBlowup;
        uint256 oodsX;
        uint256 oodsY;
        uint256 coeff;
    }

    /// Per setup fact (`setupFact`): each batch's A | B << 128, and the hash of the sample
    /// table (`PcsQuotients.tableOf`) a range gives in calldata.
    mapping(bytes32 => uint256[]) private constantsOf;
    mapping(bytes32 => bytes32) private tableHashOf;

    /// The proof's quotient setup: computes each batch's value constants from `columns` (the
    /// layout, for trees of `logHeights` and `rowBytes`) and `sampledValues` and keeps them
    /// under the setup's fact, which it registers; reverts with a reason. Its calldata is
    /// exactly what it reads.
    function setup(
        Draws calldata d,
        uint32[4] calldata logHeights,
        uint32[4] calldata rowBytes,
        bytes[4] calldata columns,
        bytes calldata sampledValues
    ) external returns (bytes32 fact) {
        fact = setupFact(
            [d.liftingLogSize, d.logBlowup, d.oodsX, d.oodsY, d.coeff],
            logHeights,
            rowBytes,
            keccak256(abi.encode(columns)),
            keccak256(sampledValues)
        );
        if (constantsOf[fact].length != 0) return fact;
        PcsQuotients.Input memory input;
        input.liftingLogSize = d.liftingLogSize;
        input.logBlowup = d.logBlowup;
        input.oodsX = d.oodsX;
        input.oodsY = d.oodsY;
        input.coeff = d.coeff;
        (uint256[] memory ab, uint256[] memory table) =
            PcsQuotients.valueConstants(input, logHeights, rowBytes, columns, sampledValues);
        constantsOf[fact] = ab;
        tableHashOf[fact] = keccak256(abi.encodePacked(table));
        register(fact);
    }

    /// The sample table `setup` keeps the hash of, for its arguments (what a range must give).
    function sampleTable(
        Draws calldata d,
        uint32[4] calldata logHeights,
        uint32[4] calldata rowBytes,
        bytes[4] calldata columns,
        bytes calldata sampledValues
    ) external pure returns (uint256[] memory table) {
        PcsQuotients.Input memory input;
        input.liftingLogSize = d.liftingLogSize;
        input.logBlowup = d.logBlowup;
        input.coeff = d.coeff;
        (, table) = PcsQuotients.valueConstants(input, logHeights, rowBytes, columns, sampledValues);
    }

    /// The setup's fact: the proof's context.
    function setupFact(
        uint256[5] memory draws,
        uint32[4] memory logHeights,
        uint32[4] memory rowBytes,
        bytes32 columnsHash,
        bytes32 sampledValuesHash
    ) public pure returns (bytes32) {
        return keccak256(abi.encode("quotient setup", draws, logHeights, rowBytes, columnsHash, sampledValuesHash));
    }

    /// The setup fact a range's (`q`, `trees`) and hashes read.
    function setupOf(
        Input calldata q,
        LiftedMerkle.Opening[4] calldata trees,
        bytes32 columnsHash,
        bytes32 sampledValuesHash
    ) private pure returns (bytes32) {
        return setupFact(
            [q.liftingLogSize, q.logBlowup, q.oodsX, q.oodsY, q.coeff],
            [trees[0].logHeight, trees[1].logHeight, trees[2].logHeight, trees[3].logHeight],
            [trees[0].rowBytes, trees[1].rowBytes, trees[2].rowBytes, trees[3].rowBytes],
            columnsHash,
            sampledValuesHash
        );
    }

    /// Computes the quotients at queries [from, to) from `trees` (per tree: its height, row
    /// width and the range's rows, no witness), the setup of (`q`, `columnsHash` =
    /// keccak(abi.encode(layout)), `sampledValuesHash`) and its sample `table`, checks each
    /// row against `leaves` (per tree, all its leaf hashes), and registers the fact binding
    /// them to the values; reverts with a reason. Returns the fact and the values.
    function verify(
        Input calldata q,
        LiftedMerkle.Opening[4] calldata trees,
        bytes32[][4] calldata leaves,
        bytes32 columnsHash,
        bytes32 sampledValuesHash,
        uint256[] calldata table
    ) external returns (bytes32 fact, uint256[] memory values) {
        require(q.from < q.to && q.to <= q.queries.length, "quotient statement: empty or out-of-range queries");
        bytes32 setupKey = setupOf(q, trees, columnsHash, sampledValuesHash);
        uint256[] memory ab = constantsOf[setupKey];
        require(ab.length != 0, "quotient statement: no setup of this proof's context");
        require(keccak256(abi.encodePacked(table)) == tableHashOf[setupKey], "quotient statement: not the setup's sample table");
        bytes32[4] memory commitments;
        (values, commitments) = answers(q, trees, leaves, table, ab);
        fact = factOf(
            keccak256(abi.encode(q)),
            commitments,
            [trees[0].logHeight, trees[1].logHeight, trees[2].logHeight, trees[3].logHeight],
            columnsHash,
            sampledValuesHash,
            keccak256(abi.encodePacked(values))
        );
        register(fact);
    }

    function inputOf(Input calldata q) private pure returns (PcsQuotients.Input memory input) {
        input.liftingLogSize = q.liftingLogSize;
        input.logBlowup = q.logBlowup;
        input.oodsX = q.oodsX;
        input.oodsY = q.oodsY;
        input.coeff = q.coeff;
    }

    /// The range's values, its rows checked against the leaves; the trees' leaf commitments.
    function answers(
        Input calldata q,
        LiftedMerkle.Opening[4] calldata trees,
        bytes32[][4] calldata leaves,
        uint256[] calldata table,
        uint256[] memory ab
    ) private view returns (uint256[] memory values, bytes32[4] memory commitments) {
        uint256[] memory pp = LiftedMerkle.preprocessedPositions(q.queries, q.liftingLogSize, trees[0].logHeight);
        commitments = checkRows(q, pp, trees, leaves);
        PcsQuotients.Input memory input = inputOf(q);
        input.queries = slice(q.queries, q.from, q.to);
        input.preprocessedQueries = sliceMemory(pp, q.from, q.to);
        values = PcsQuotients.answersFromTable(input, trees, table, ab);
    }

    function factOf(
        bytes32 inputHash,
        bytes32[4] memory leafCommitments,
        uint32[4] memory logHeights,
        bytes32 columnsHash,
        bytes32 sampledValuesHash,
        bytes32 valuesHash
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(inputHash, leafCommitments, logHeights, columnsHash, sampledValuesHash, valuesHash));
    }

    /// Every row of the range equals the leaf at its place; returns each tree's leaf
    /// commitment. The trace trees have a leaf per query; the preprocessed tree one per
    /// distinct remapped position (`pp`), so its range starts at the count of distinct
    /// positions before `from`.
    function checkRows(
        Input calldata q,
        uint256[] memory pp,
        LiftedMerkle.Opening[4] calldata trees,
        bytes32[][4] calldata leaves
    ) internal pure returns (bytes32[4] memory commitments) {
        uint256 ppFirst = 0;
        uint256 ppCount = 0;
        uint256 ppTotal = 0;
        for (uint256 j = 0; j < pp.length; j++) {
            bool fresh = j == 0 || pp[j] != pp[j - 1];
            if (fresh) ppTotal++;
            if (j == q.from) ppFirst = ppTotal - 1;
            if (j >= q.from && j < q.to && (fresh || j == q.from)) ppCount++;
        }
        for (uint256 t = 0; t < 4; t++) {
            (uint256 first, uint256 count, uint256 total) =
                t == 0 ? (ppFirst, ppCount, ppTotal) : (q.from, q.to - q.from, q.queries.length);
            require(leaves[t].length == total, "quotient statement: a tree's leaf count");
            uint256 width = trees[t].rowBytes;
            // The witnesses are unused: required empty, so the calldata holds nothing unread.
            require(trees[t].witness.length == 0, "quotient statement: rows come without witnesses");
            require(trees[t].rows.length == count * width, "quotient statement: a tree's rows have the wrong length");
            for (uint256 k = 0; k < count; k++) {
                bytes32 leaf = LiftedMerkle.hashCalldata(trees[t].rows[k * width:(k + 1) * width]);
                require(leaf == leaves[t][first + k], "quotient statement: a row is not the committed leaf");
            }
            commitments[t] = keccak256(abi.encodePacked(leaves[t]));
        }
    }

    function slice(uint256[] calldata xs, uint256 from, uint256 to) internal pure returns (uint256[] memory) {
        return xs[from:to];
    }

    function sliceMemory(uint256[] memory xs, uint256 from, uint256 to) internal pure returns (uint256[] memory out) {
        out = new uint256[](to - from);
        for (uint256 i = from; i < to; i++) {
            out[i - from] = xs[i];
        }
    }
}
