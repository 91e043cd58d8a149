// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// What every statement contract shares: a verified statement is kept as its fact (a hash of
/// everything it was verified against), so a later transaction, `StwoFactRegistry.verifyProof`,
/// can ask for it. Facts are content-addressed: a statement verified for one proof is true of
/// any proof with the same inputs, and one with other inputs (another proof's parts) is
/// another fact, so parts of two proofs never combine.
abstract contract StatementRegistry {
    mapping(bytes32 => bool) private verified;

    event StatementVerified(bytes32 indexed fact);

    function isValid(bytes32 fact) external view returns (bool) {
        return verified[fact];
    }

    function register(bytes32 fact) internal {
        verified[fact] = true;
        emit StatementVerified(fact);
    }
}
