// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// Decommitments of Stwo 2.3's lifted Merkle trees (`MerkleVerifierLifted`) with the prover's
/// Keccak hasher: a leaf is keccak256 of its row (every column's value at the position, as a
/// big-endian uint32, columns in increasing log size), a node keccak256(left ‖ right).
library LiftedMerkle {
    /// One tree's opening at a list of positions.
    struct Opening {
        /// Its height: the largest column's log size (with the blowup).
        uint32 logHeight;
        /// The bytes of one row: 4 per column.
        uint32 rowBytes;
        /// The rows at the positions, in order, a repeated position's row once.
        bytes rows;
        /// The sibling hashes the verifier cannot compute, in the order it needs them.
        bytes32[] witness;
    }

    /// Reverts with `what` and a reason unless `opening` hashes to `root` at `positions`
    /// (in query order; consecutive repeats are one leaf).
    function verify(bytes32 root, uint256[] memory positions, Opening calldata opening, string memory what)
        internal
        pure
    {
        if (opening.logHeight == 0) return;
        (uint256[] memory index, bytes32[] memory hash) = leaves(positions, opening, what);
        uint256 n = index.length;
        uint256 used = 0;
        for (uint256 layer = 0; layer < opening.logHeight; layer++) {
            (n, used) = hashLayer(index, hash, n, opening.witness, used, what);
        }
        if (used != opening.witness.length) revert(string.concat(what, ": Merkle witness too long"));
        if (n != 1 || index[0] != 0) revert(string.concat(what, ": Merkle positions outside the tree"));
        if (hash[0] != root) revert(string.concat(what, ": Merkle root mismatch"));
    }

    /// The leaves at the distinct consecutive positions, hashed from their rows.
    function leaves(uint256[] memory positions, Opening calldata opening, string memory what)
        private
        pure
        returns (uint256[] memory index, bytes32[] memory hash)
    {
        uint256 n = 0;
        for (uint256 i = 0; i < positions.length; i++) {
            if (i == 0 || positions[i] != positions[i - 1]) n++;
        }
        if (opening.rows.length != n * uint256(opening.rowBytes)) {
            revert(string.concat(what, ": queried rows have the wrong length"));
        }
        index = new uint256[](n);
        hash = new bytes32[](n);
        uint256 k = 0;
        for (uint256 i = 0; i < positions.length; i++) {
            if (i > 0 && positions[i] == positions[i - 1]) continue;
            uint256 start = k * uint256(opening.rowBytes);
            index[k] = positions[i];
            hash[k] = hashCalldata(opening.rows[start:start + opening.rowBytes]);
            k++;
        }
    }

    /// keccak256 of calldata, in scratch memory above the free pointer (no copy is kept).
    function hashCalldata(bytes calldata data) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            h := keccak256(ptr, data.length)
        }
    }

    /// keccak256(left ‖ right), in the scratch space (abi.encodePacked would allocate 64 bytes
    /// of memory per node, never freed).
    function hashPair(bytes32 left, bytes32 right) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            h := keccak256(0x00, 0x40)
        }
    }

    /// Replaces the first `n` nodes of a layer by their parents (in place); returns their
    /// count and the witness hashes used so far. A node whose sibling follows it pairs with
    /// it; any other takes its sibling from the witness.
    function hashLayer(
        uint256[] memory index,
        bytes32[] memory hash,
        uint256 n,
        bytes32[] calldata witness,
        uint256 used,
        string memory what
    ) private pure returns (uint256, uint256) {
        uint256 m = 0;
        uint256 i = 0;
        while (i < n) {
            uint256 at = index[i];
            bytes32 parent;
            if (i + 1 < n && index[i + 1] == at ^ 1) {
                parent = hashPair(hash[i], hash[i + 1]);
                // A run of alternating siblings is one chunk, of which the first two count.
                uint256 j = i + 1;
                while (j + 1 < n && index[j + 1] == index[j] ^ 1) j++;
                i = j + 1;
            } else {
                if (used >= witness.length) revert(string.concat(what, ": Merkle witness too short"));
                bytes32 sibling = witness[used++];
                parent = at & 1 == 0 ? hashPair(hash[i], sibling) : hashPair(sibling, hash[i]);
                i++;
            }
            index[m] = at >> 1;
            hash[m] = parent;
            m++;
        }
        return (m, used);
    }
}
