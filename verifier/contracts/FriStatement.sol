// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CircleFri} from "./CircleFri.sol";
import {CirclePoints} from "./CirclePoints.sol";
import {StatementRegistry} from "./StatementRegistry.sol";

/// FRI's decommitment, folding and last layer, a transaction of its own: that the first
/// layer's values `values` at `queries` fold down every layer under `roots` with `alphas` to
/// a polynomial of the last layer `lastLayerPoly`. The values come from the quotient
/// statements; the roots, alphas and last layer from the transcript (`StwoFactRegistry`
/// checks both).
contract FriStatement is StatementRegistry {
    /// FRI's inputs: the first layer's positions and values, the domain, the transcript's parts.
    struct Input {
        uint256[] queries;
        uint256[] values;
        uint256 logSize;
        uint256[] alphas;
        bytes32[] roots;
        bytes lastLayerPoly;
    }

    /// Verifies FRI and registers its fact; reverts with a reason.
    function verify(Input calldata f, CircleFri.Layer[] calldata layers) external returns (bytes32 fact) {
        require(f.values.length == f.queries.length, "FRI statement: a value per query");
        require(f.alphas.length == f.roots.length, "FRI statement: an alpha per layer");
        CircleFri.verify(first(f), layers, f.roots, f.lastLayerPoly);
        fact = factOf(
            keccak256(abi.encodePacked(f.queries)),
            keccak256(abi.encodePacked(f.values)),
            f.logSize,
            keccak256(abi.encodePacked(f.alphas)),
            keccak256(abi.encodePacked(f.roots)),
            keccak256(f.lastLayerPoly)
        );
        register(fact);
    }

    /// The first layer's evaluations and the queries' circle points.
    function first(Input calldata f) private pure returns (CircleFri.Input memory) {
        uint256 n = f.queries.length;
        uint256[] memory px = new uint256[](n);
        uint256[] memory py = new uint256[](n);
        for (uint256 j = 0; j < n; j++) {
            (px[j], py[j]) = CirclePoints.domainPoint(f.queries[j], f.logSize);
        }
        return CircleFri.Input(CircleFri.Evals(f.queries, f.values, py), px, f.logSize, f.alphas);
    }

    function factOf(
        bytes32 queriesHash,
        bytes32 valuesHash,
        uint256 logSize,
        bytes32 alphasHash,
        bytes32 rootsHash,
        bytes32 lastLayerHash
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(queriesHash, valuesHash, logSize, alphasHash, rootsHash, lastLayerHash));
    }
}
