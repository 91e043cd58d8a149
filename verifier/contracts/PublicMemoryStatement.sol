// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PublicMemory} from "./PublicMemory.sol";
import {StatementRegistry} from "./StatementRegistry.sol";

/// A range of a claim's public memory entries and its part of the logup sum under the lookup
/// elements (z, alpha), a transaction of its own (as Starknet's `MemoryPageFactRegistry`
/// registers a memory page's product): a block program's program section is thousands of
/// felts, whose sum at ~5 k gas an entry does not fit one transaction with the rest of
/// `verifyProof`. The fact hashes the entries' words, z, alpha and the range's sum;
/// `StwoFactRegistry` recomputes each range's words from the claim and takes (z, alpha) from
/// the replayed transcript, so a range's sum counts only for the proof that drew them.
contract PublicMemoryStatement is StatementRegistry {
    /// Computes the sum of `words`' entries (`PublicMemory`: two words an entry) and registers
    /// the fact; reverts with a reason on a malformed entry.
    function verify(uint256[] calldata words, uint256 z, uint256 alpha)
        external
        returns (bytes32 fact, uint256 sum)
    {
        require(words.length > 0, "public memory statement: no entries");
        sum = PublicMemory.sum(words, z, alpha);
        fact = factOf(keccak256(abi.encodePacked(words)), z, alpha, sum);
        register(fact);
    }

    function factOf(bytes32 wordsHash, uint256 z, uint256 alpha, uint256 sum) public pure returns (bytes32) {
        return keccak256(abi.encode(wordsHash, z, alpha, sum));
    }
}
