// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {LiftedMerkle} from "./LiftedMerkle.sol";
import {StatementRegistry} from "./StatementRegistry.sol";

/// One tree's lifted Merkle decommitment, a transaction of its own: that the rows hashed to
/// `leafCommitment` (keccak256 of the leaves' hashes, in position order, a repeated position's
/// leaf once) are the tree's leaves under `root` at `positions`. The PCS quotients
/// (`QuotientStatement`) then take the rows by their leaf hashes, without the witness.
contract MerkleStatement is StatementRegistry {
    /// Verifies the decommitment and registers its fact; reverts with a reason.
    function verify(bytes32 root, uint256[] calldata positions, LiftedMerkle.Opening calldata opening)
        external
        returns (bytes32 fact)
    {
        require(opening.logHeight > 0, "Merkle statement: an empty tree");
        (uint256[] memory index, bytes32[] memory hash) = LiftedMerkle.leaves(positions, opening, "Merkle statement");
        // Before verifyHashed, which overwrites the leaves with their parents.
        bytes32 leafCommitment = keccak256(abi.encodePacked(hash));
        LiftedMerkle.verifyHashed(
            root, index, hash, index.length, opening.logHeight, opening.witness, "Merkle statement"
        );
        fact = factOf(root, keccak256(abi.encodePacked(positions)), opening.logHeight, leafCommitment);
        register(fact);
    }

    function factOf(bytes32 root, bytes32 positionsHash, uint256 logHeight, bytes32 leafCommitment)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(root, positionsHash, logHeight, leafCommitment));
    }
}
