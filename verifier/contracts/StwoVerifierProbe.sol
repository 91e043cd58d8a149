// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {StwoVerifier} from "./StwoVerifier.sol";
import {PcsQuotients} from "./PcsQuotients.sol";
import {CircleFri} from "./CircleFri.sol";
import {CairoClaim} from "./CairoClaim.sol";

/// Exposes StwoVerifier's checks after a given transcript, for tests only: a tampered sampled
/// value kept out of the transcript shows the quotients catch it (on chain, the transcript
/// moves first). Also measures each FRI layer's gas.
contract StwoVerifierProbe is StwoVerifier {
    constructor(CairoClaim claim, uint256 floor) StwoVerifier(claim, floor) {}

    function verifyWith(Proof calldata p, Transcript memory t) external view {
        checkAfterReplay(p, t);
    }

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
