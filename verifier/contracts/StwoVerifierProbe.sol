// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {StwoVerifier} from "./StwoVerifier.sol";
import {CairoClaim} from "./CairoClaim.sol";

/// Exposes StwoVerifier's checks after a given transcript, for tests only: a tampered sampled
/// value kept out of the transcript shows the quotients catch it (on chain, the transcript
/// moves first). (`FriLayerProbe` measures each FRI layer's gas: one contract holding both
/// is above EIP-170's cap.)
contract StwoVerifierProbe is StwoVerifier {
    constructor(CairoClaim claim, uint256 floor) StwoVerifier(claim, floor) {}

    function verifyWith(Proof calldata p, Transcript memory t) external view {
        checkAfterReplay(p, t);
    }
}
