// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IFactRegistry
/// @notice What StarfarmCore asks before it accepts a state update: is this fact valid?
/// The first implementation is `AttestedFactRegistry` (TRUSTED: it believes registered prover
/// keys). A contract that verifies Stwo proofs on chain can replace it behind this interface.
interface IFactRegistry {
    /// @return true when `fact` has been registered (and, for registries with a floor, meets it).
    function isValid(bytes32 fact) external view returns (bool);
}
