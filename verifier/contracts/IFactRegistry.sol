// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// What StarfarmCore asks before it accepts a state update (l1/contracts/IFactRegistry.sol; the
/// build compiles one folder at a time, so the verifier's registry declares the same
/// interface here: one function, the same selector).
interface IFactRegistry {
    /// @return true when `fact` has been registered.
    function isValid(bytes32 fact) external view returns (bool);
}
