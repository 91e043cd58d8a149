// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CairoClaim} from "./CairoClaim.sol";
import {CairoLayout} from "./CairoLayout.sol";

/// Derives a Cairo proof's sampling layout from its claim (`CairoClaim.Claim`), the AIR and the
/// preprocessed variant (`CairoLayout`'s tables, generated from starfarm-air's IR): which
/// columns each tree has, their log sizes, the points each is sampled at, each tree's height.
/// `CairoClaim.checkTrees` holds a proof's stated layout to it.
contract ClaimLayout {
    uint256 internal constant N_COMPONENTS = 83;
    uint256 internal constant MEMORY_ID_TO_BIG = 49;
    uint256 internal constant MEMORY_ADDRESS_TO_ID_SPLIT = 16;

    /// The sampling layout every tree's columns must have, derived from the claim, the AIR
    /// (`CairoLayout`, generated from starfarm-air's IR) and the preprocessed variant: per
    /// tree a byte per column in commitment order, its log size with the blowup (low 5 bits)
    /// and how many points it is sampled at (bits 5-6: 0, 1 the out-of-domain point, 2 also
    /// the previous row), as `StwoVerifier.Proof.columns` states it; and each tree's height
    /// (its largest column; the composition tree's, the lifting log size).
    function layout(bytes calldata encodedClaim, uint256 logBlowup)
        public
        pure
        returns (bytes[4] memory cols, uint256[4] memory heights)
    {
        // The head only (flags, log sizes, variant): the public data, a block program's
        // ~240 KB, is not copied.
        CairoClaim.ClaimHead memory c = abi.decode(encodedClaim, (CairoClaim.ClaimHead));
        uint256[] memory sizes = flatLogSizes(c);
        uint256 lifting;
        (cols[1], cols[2], lifting) = traceLayout(sizes, logBlowup);
        cols[0] = preprocessedLayout(sizes, c.variant, logBlowup);
        cols[3] = new bytes(8);
        require(lifting < 32, "layout: a log size above 31");
        for (uint256 i = 0; i < 8; i++) {
            cols[3][i] = bytes1(uint8(lifting | 1 << 5));
        }
        for (uint256 t = 0; t < 4; t++) {
            for (uint256 i = 0; i < cols[t].length; i++) {
                uint256 size = uint8(cols[t][i]) & 31;
                if (size > heights[t]) heights[t] = size;
            }
        }
    }

    /// Reverts unless `columnsHash` (keccak256 of the four trees' layouts' keccak256s) and
    /// `heights` (tree t's in bits 8t..8t+7) are the layout `layout` derives.
    function checkLayout(bytes calldata encodedClaim, uint256 logBlowup, bytes32 columnsHash, uint256 heights)
        external
        pure
    {
        (bytes[4] memory cols, uint256[4] memory expected) = layout(encodedClaim, logBlowup);
        bytes32 derived = keccak256(
            abi.encodePacked(keccak256(cols[0]), keccak256(cols[1]), keccak256(cols[2]), keccak256(cols[3]))
        );
        require(derived == columnsHash, "layout: the columns are not the claim's");
        for (uint256 t = 0; t < 4; t++) {
            require((heights >> (8 * t)) & 0xff == expected[t], "layout: a tree's height is not the claim's");
        }
    }

    /// Each flat component's log size, or 2^256-1 when disabled; the claim's shape as far as
    /// the layout reads it (CairoClaim's `shape` checks the rest).
    function flatLogSizes(CairoClaim.ClaimHead memory c) internal pure returns (uint256[] memory sizes) {
        require(c.enabled.length == N_COMPONENTS, "claim: wrong number of components");
        sizes = new uint256[](N_COMPONENTS);
        uint256 k = 0;
        for (uint256 i = 0; i < N_COMPONENTS; i++) {
            uint8 flag = uint8(c.enabled[i]);
            require(flag <= 1, "claim: an enable flag is not 0 or 1");
            if (flag == 1) {
                require(k < c.logSizes.length, "claim: one log size per enabled component");
                sizes[i] = c.logSizes[k++];
            } else {
                sizes[i] = type(uint256).max;
            }
        }
        require(k == c.logSizes.length, "claim: one log size per enabled component");
    }

    /// The IR component of flat component `i` (memory_id_to_big's instances are one).
    function irComponent(uint256 i) internal pure returns (uint256) {
        if (i <= MEMORY_ID_TO_BIG) return i;
        if (i < MEMORY_ID_TO_BIG + MEMORY_ADDRESS_TO_ID_SPLIT) return MEMORY_ID_TO_BIG;
        return i - MEMORY_ADDRESS_TO_ID_SPLIT + 1;
    }

    function u16At(bytes memory b, uint256 k) internal pure returns (uint256) {
        return uint256(uint8(b[2 * k])) << 8 | uint8(b[2 * k + 1]);
    }

    /// The trace's and the interaction trace's columns, and the lifting log size (the largest
    /// constraint degree's, split in two, with the blowup).
    function traceLayout(uint256[] memory sizes, uint256 logBlowup)
        internal
        pure
        returns (bytes memory trace, bytes memory interaction, uint256 lifting)
    {
        bytes memory masks = CairoLayout.MASKS;
        bytes memory at = CairoLayout.MASK_AT;
        (uint256 n1, uint256 n2, uint256 maxDegree) = countColumns(sizes, at, logBlowup);
        require(maxDegree >= 1, "layout: no component");
        lifting = maxDegree - 1 + logBlowup;
        trace = new bytes(n1);
        interaction = new bytes(n2);
        (n1, n2) = (0, 0);
        for (uint256 i = 0; i < N_COMPONENTS; i++) {
            if (sizes[i] == type(uint256).max) continue;
            uint256 k = irComponent(i);
            uint256 size = sizes[i] + logBlowup;
            for (uint256 j = u16At(at, 2 * k); j < u16At(at, 2 * k + 1); j++) {
                trace[n1++] = bytes1(uint8(size | uint256(uint8(masks[j])) << 5));
            }
            for (uint256 j = u16At(at, 2 * k + 1); j < u16At(at, 2 * k + 2); j++) {
                interaction[n2++] = bytes1(uint8(size | uint256(uint8(masks[j])) << 5));
            }
        }
    }

    /// How many trace and interaction columns the enabled components have, and the largest
    /// constraint log degree; checks the fixed-size components' sizes.
    function countColumns(uint256[] memory sizes, bytes memory at, uint256 logBlowup)
        internal
        pure
        returns (uint256 n1, uint256 n2, uint256 maxDegree)
    {
        bytes memory blowups = CairoLayout.LOG_BLOWUP;
        bytes memory fixedSizes = CairoLayout.FIXED_LOG_SIZE;
        for (uint256 i = 0; i < N_COMPONENTS; i++) {
            uint256 size = sizes[i];
            if (size == type(uint256).max) continue;
            uint256 k = irComponent(i);
            uint256 fixedSize = uint8(fixedSizes[k]);
            require(fixedSize == 0 || fixedSize == size, "layout: a fixed-size component of another size");
            require(size + logBlowup < 32, "layout: a log size above 31");
            n1 += u16At(at, 2 * k + 1) - u16At(at, 2 * k);
            n2 += u16At(at, 2 * k + 2) - u16At(at, 2 * k + 1);
            uint256 degree = size + uint8(blowups[k]);
            if (degree > maxDegree) maxDegree = degree;
        }
    }

    /// The variant's preprocessed columns, each sampled once when an enabled component reads
    /// it (stwo's `Components::mask_points`), else not at all.
    function preprocessedLayout(uint256[] memory sizes, uint256 variant, uint256 logBlowup)
        internal
        pure
        returns (bytes memory cols)
    {
        bytes memory ppSizes = CairoLayout.preprocessedLogSizes(variant);
        (bytes memory at, bytes memory reads) = CairoLayout.preprocessedReads(variant);
        bytes memory seq = CairoLayout.sequenceColumns(variant);
        cols = new bytes(ppSizes.length);
        for (uint256 i = 0; i < ppSizes.length; i++) {
            uint256 size = uint8(ppSizes[i]) + logBlowup;
            require(size < 32, "layout: a log size above 31");
            cols[i] = bytes1(uint8(size));
        }
        for (uint256 i = 0; i < N_COMPONENTS; i++) {
            if (sizes[i] == type(uint256).max) continue;
            uint256 k = irComponent(i);
            for (uint256 j = u16At(at, k); j < u16At(at, k + 1); j++) {
                uint256 column = u16At(reads, j);
                require(column != 0xfffe, "layout: the preprocessed variant cannot prove a component");
                if (column == 0xffff) {
                    column = u16At(seq, sizes[i]);
                    require(column != 0xfffe, "layout: no sequence column of a component's size");
                }
                cols[column] |= bytes1(uint8(1 << 5));
            }
        }
    }
}
