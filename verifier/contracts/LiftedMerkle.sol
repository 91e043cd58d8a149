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
        verifyHashed(root, index, hash, index.length, opening.logHeight, opening.witness, what);
    }

    /// Reverts with `what` and a reason unless the first `n` leaves, `hash` at `index` (sorted,
    /// distinct), hash to `root` with `witness` in a tree of height `logHeight`. Overwrites
    /// `index` and `hash`.
    function verifyHashed(
        bytes32 root,
        uint256[] memory index,
        bytes32[] memory hash,
        uint256 n,
        uint256 logHeight,
        bytes32[] calldata witness,
        string memory what
    ) internal pure {
        uint256 used = 0;
        for (uint256 layer = 0; layer < logHeight; layer++) {
            (n, used) = hashLayer(index, hash, n, witness, used, what);
        }
        if (used != witness.length) revert(string.concat(what, ": Merkle witness too long"));
        if (n != 1 || index[0] != 0) revert(string.concat(what, ": Merkle positions outside the tree"));
        if (hash[0] != root) revert(string.concat(what, ": Merkle root mismatch"));
    }

    /// stwo's prepare_preprocessed_query_positions: the queries on a preprocessed tree of
    /// another height (the low bit stays, the others scale). Non-decreasing when `queries` is.
    function preprocessedPositions(uint256[] memory queries, uint256 logSize, uint256 ppLogSize)
        internal
        pure
        returns (uint256[] memory out)
    {
        if (ppLogSize == 0) return new uint256[](0);
        out = new uint256[](queries.length);
        for (uint256 i = 0; i < queries.length; i++) {
            uint256 q = queries[i];
            out[i] = logSize < ppLogSize
                ? ((q >> 1) << (ppLogSize - logSize + 1)) + (q & 1)
                : ((q >> (logSize - ppLogSize + 1)) << 1) + (q & 1);
        }
    }

    /// The leaves at the distinct consecutive positions, hashed from their rows.
    function leaves(uint256[] memory positions, Opening calldata opening, string memory what)
        internal
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
    function hashCalldata(bytes calldata data) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            h := keccak256(ptr, data.length)
        }
    }

    /// Replaces the first `n` nodes of a layer by their parents (in place: a parent's slot is
    /// never after its children's); returns their count and the witness hashes used so far. A
    /// node whose sibling follows it pairs with it (a run of alternating siblings is one chunk,
    /// of which the first two count, as stwo's `chunk_by`); any other takes its sibling from
    /// the witness. In assembly: Solidity's bounds-checked arrays cost ~1,000 gas a node.
    function hashLayer(
        uint256[] memory index,
        bytes32[] memory hash,
        uint256 n,
        bytes32[] calldata witness,
        uint256 used,
        string memory what
    ) private pure returns (uint256 m, uint256) {
        bool short;
        assembly ("memory-safe") {
            let idx := add(index, 0x20)
            let hs := add(hash, 0x20)
            let i := 0
            for {} lt(i, n) {} {
                let at := mload(add(idx, shl(5, i)))
                let next := add(i, 1)
                switch and(lt(next, n), eq(mload(add(idx, shl(5, next))), xor(at, 1)))
                case 1 {
                    mstore(0x00, mload(add(hs, shl(5, i))))
                    mstore(0x20, mload(add(hs, shl(5, next))))
                    let j := next
                    for {} and(lt(add(j, 1), n), eq(mload(add(idx, shl(5, add(j, 1)))), xor(mload(add(idx, shl(5, j))), 1))) {} {
                        j := add(j, 1)
                    }
                    i := add(j, 1)
                }
                default {
                    if iszero(lt(used, witness.length)) {
                        short := 1
                        break
                    }
                    let sibling := calldataload(add(witness.offset, shl(5, used)))
                    used := add(used, 1)
                    switch and(at, 1)
                    case 0 {
                        mstore(0x00, mload(add(hs, shl(5, i))))
                        mstore(0x20, sibling)
                    }
                    default {
                        mstore(0x00, sibling)
                        mstore(0x20, mload(add(hs, shl(5, i))))
                    }
                    i := next
                }
                mstore(add(idx, shl(5, m)), shr(1, at))
                mstore(add(hs, shl(5, m)), keccak256(0x00, 0x40))
                m := add(m, 1)
            }
        }
        if (short) revert(string.concat(what, ": Merkle witness too short"));
        return (m, used);
    }
}
