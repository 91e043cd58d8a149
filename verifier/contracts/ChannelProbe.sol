// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {KeccakChannel} from "./KeccakChannel.sol";

/// Exposes KeccakChannel for tests: the same mixes and draws as a Rust channel.
contract ChannelProbe {
    using KeccakChannel for KeccakChannel.Channel;

    struct Draws {
        bytes32 digest;
        bool powAccepted;
        uint256 felt;
        uint256[] felts;
        uint256 words;
        uint256[] queries;
        uint32 nDraws;
    }

    /// Mixes each of `mixes` (a 32-byte one as a root, an 8-byte one as a uint64), checks `nonce` as a proof of work of
    /// `powBits`, then draws a felt, `nFelts` felts, eight words and `nQueries` positions below
    /// 2^`logSize`.
    function run(bytes[] calldata mixes, uint32 powBits, uint64 nonce, uint256 nFelts, uint256 logSize, uint256 nQueries)
        external
        pure
        returns (Draws memory d)
    {
        KeccakChannel.Channel memory ch;
        for (uint256 i = 0; i < mixes.length; i++) {
            bytes calldata data = mixes[i];
            if (data.length == 32) ch.mixRoot(bytes32(data));
            else if (data.length == 8) ch.mixU64(uint64(bytes8(data)));
            else ch.mixCalldata(data);
        }
        d.digest = ch.digest;
        d.powAccepted = ch.checkPow(powBits, nonce);
        d.felt = ch.drawSecureFelt();
        d.felts = ch.drawSecureFelts(nFelts);
        d.words = ch.drawWords();
        d.queries = ch.drawQueries(logSize, nQueries);
        d.nDraws = ch.nDraws;
    }
}
