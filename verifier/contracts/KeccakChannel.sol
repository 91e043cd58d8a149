// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {QM31} from "./QM31.sol";

/// The prover's Keccak Fiat–Shamir channel (starfarm-prover's `channel/keccak.rs`, encoded as
/// upstream Stwo's Keccak256Channel): every mix is digest = keccak256(digest ‖ data) with the
/// data as abi.encodePacked writes it (big-endian), and a draw hashes the digest with a
/// counter that every mix resets.
library KeccakChannel {
    uint256 internal constant P = 0x7fffffff;
    uint32 internal constant POW_PREFIX = 0x12345678;

    struct Channel {
        bytes32 digest;
        uint32 nDraws;
    }

    /// Mixes `data`, already encoded (uint32 words, QM31 coordinates, a uint64, a root).
    function mix(Channel memory ch, bytes memory data) internal pure {
        ch.digest = keccak256(abi.encodePacked(ch.digest, data));
        ch.nDraws = 0;
    }

    /// [`mix`] of calldata, hashed in scratch memory above the free pointer (a proof's sampled
    /// values are tens of kilobytes: no copy is kept).
    function mixCalldata(Channel memory ch, bytes calldata data) internal pure {
        bytes32 digest = ch.digest;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, digest)
            calldatacopy(add(ptr, 32), data.offset, data.length)
            digest := keccak256(ptr, add(32, data.length))
        }
        ch.digest = digest;
        ch.nDraws = 0;
    }

    function mixRoot(Channel memory ch, bytes32 root) internal pure {
        ch.digest = keccak256(abi.encodePacked(ch.digest, root));
        ch.nDraws = 0;
    }

    function mixU64(Channel memory ch, uint64 value) internal pure {
        mix(ch, abi.encodePacked(value));
    }

    /// Eight 32-bit words: keccak256(digest ‖ uint32(nDraws) ‖ 0x00), big-endian, the first
    /// word in the top bits of the result.
    function drawWords(Channel memory ch) internal pure returns (uint256 words) {
        words = uint256(keccak256(abi.encodePacked(ch.digest, ch.nDraws, uint8(0))));
        ch.nDraws += 1;
    }

    /// Word `i` (0 first) of `drawWords`' result.
    function word(uint256 words, uint256 i) internal pure returns (uint256) {
        return (words >> (224 - 32 * i)) & 0xffffffff;
    }

    /// Eight uniform M31s: draws again while any word is >= 2P (as the prover's channel).
    function drawBaseFelts(Channel memory ch) internal pure returns (uint256 words) {
        while (true) {
            words = drawWords(ch);
            bool accepted = true;
            for (uint256 i = 0; i < 8; i++) {
                if (word(words, i) >= 2 * P) accepted = false;
            }
            if (accepted) return words;
        }
    }

    /// A QM31 from the first four of eight fresh base felts (the other four are dropped).
    function drawSecureFelt(Channel memory ch) internal pure returns (uint256) {
        uint256 words = drawBaseFelts(ch);
        return QM31.pack(word(words, 0) % P, word(words, 1) % P, word(words, 2) % P, word(words, 3) % P);
    }

    /// `n` QM31s, four base felts each, from consecutive draws of eight.
    function drawSecureFelts(Channel memory ch, uint256 n) internal pure returns (uint256[] memory felts) {
        felts = new uint256[](n);
        uint256 words;
        for (uint256 k = 0; k < n; k++) {
            if (k % 2 == 0) words = drawBaseFelts(ch);
            uint256 first = 4 * (k % 2);
            felts[k] = QM31.pack(
                word(words, first) % P, word(words, first + 1) % P, word(words, first + 2) % P, word(words, first + 3) % P
            );
        }
    }

    /// `n` positions in [0, 2^logSize), from the low bits of drawn words, in draw order.
    function drawQueries(Channel memory ch, uint256 logSize, uint256 n) internal pure returns (uint256[] memory raw) {
        raw = new uint256[](n);
        uint256 mask = (1 << logSize) - 1;
        uint256 words;
        for (uint256 k = 0; k < n; k++) {
            if (k % 8 == 0) words = drawWords(ch);
            raw[k] = word(words, k % 8) & mask;
        }
    }

    /// Whether `nonce` is a proof of work of `bits` bits on the current digest:
    /// keccak256(keccak256(uint32(0x12345678) ‖ bytes12(0) ‖ digest ‖ uint32(bits)) ‖ uint64(nonce))
    /// is below 2^(256 - bits).
    function checkPow(Channel memory ch, uint32 bits, uint64 nonce) internal pure returns (bool) {
        if (bits > 128) return false;
        bytes32 prefix = keccak256(abi.encodePacked(POW_PREFIX, bytes12(0), ch.digest, bits));
        uint256 h = uint256(keccak256(abi.encodePacked(prefix, nonce)));
        return bits == 0 || h < (uint256(1) << (256 - bits));
    }
}
