// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {StwoVerifier} from "./StwoVerifier.sol";

/// Exposes StwoVerifier's checks after a given transcript, for tests only: a tampered sampled
/// value kept out of the transcript shows the quotients catch it (on chain, the transcript
/// moves first).
contract StwoVerifierProbe is StwoVerifier {
    function verifyWith(Proof calldata p, Transcript memory t) external view {
        checkAfterReplay(p, t);
    }
}
