// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {StwoVerifier} from "./StwoVerifier.sol";
import {PcsQuotients} from "./PcsQuotients.sol";
import {CircleFri} from "./CircleFri.sol";
import {CairoClaim} from "./CairoClaim.sol";

/// Measures each FRI layer's gas inside one call, for tests only.
contract FriLayerProbe is StwoVerifier {
    constructor(CairoClaim claim, uint256 floor) StwoVerifier(claim, floor) {}

    /// Gas of each FRI layer's check and fold (first layer first), then of the last layer's
    /// check, after replaying `p` and computing its quotients (the trees are not checked).
    function friLayerGas(Proof calldata p) external view returns (uint256[] memory gas) {
        Transcript memory t = replay(p);
        (uint256[] memory values, uint256[] memory px, uint256[] memory py) =
            PcsQuotients.answers(quotientInput(p, t), p.trees, p.columns, p.sampledValues);
        CircleFri.Input memory input =
            CircleFri.Input(CircleFri.Evals(t.queries, values, py), px, liftingLogSize(p), t.friAlphas);
        gas = new uint256[](p.friLayers.length + 1);
        CircleFri.Evals memory e = input.first;
        for (uint256 i = 0; i < p.friLayers.length; i++) {
            uint256 before = gasleft();
            e = CircleFri.step(input, e, p.friLayers[i], p.friCommitments[i], i);
            gas[i] = before - gasleft();
        }
        uint256 last = gasleft();
        CircleFri.checkLastLayer(e, p.lastLayerPoly);
        gas[p.friLayers.length] = last - gasleft();
    }
}
