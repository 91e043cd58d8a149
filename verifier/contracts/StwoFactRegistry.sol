// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IFactRegistry} from "./IFactRegistry.sol";
import {StwoVerifier} from "./StwoVerifier.sol";
import {MerkleStatement} from "./MerkleStatement.sol";
import {QuotientStatement} from "./QuotientStatement.sol";
import {FriStatement} from "./FriStatement.sol";
import {CompositionStatement} from "./CompositionStatement.sol";
import {LiftedMerkle} from "./LiftedMerkle.sol";
import {PublicMemoryStatement} from "./PublicMemoryStatement.sol";
import {QM31} from "./QM31.sol";

/// The fact registry that verifies: a fact becomes valid only through `verifyProof`, the last
/// of a proof's transactions, which replays the transcript (`StwoVerifier.replay`: the layout
/// derived from the claim, the claim's mixes and checks, the security floor, both proofs of
/// work) and requires every statement its checks depend on to be verified already, each in its
/// own transaction under EIP-7825's 2^24 gas: the four trees' Merkle decommitments
/// (`MerkleStatement`), the PCS quotients by ranges of the queries (`QuotientStatement`) and
/// FRI (`FriStatement`). A statement's fact hashes everything it was checked against (roots,
/// positions, leaf commitments, transcript draws, values), and `verifyProof` recomputes each
/// from the replayed transcript, so a verification can be resumed from whatever statements
/// are on chain and never completed with another proof's. The fact registered is the claim's
/// (`CairoClaim.fact`: a program registered at deployment, the claim's output).
///
/// The composition check at the out-of-domain point (`CompositionStatement`: the AIR's
/// constraints on the sampled values equal the composition tree's value) is the last
/// statement, verified by ranges of component instances (each range's fact listed, for a
/// resumed verification; the last one's is the whole check's, which only a chain of ranges
/// from the first instance reaches); then, for a claim whose public memory is too large to sum
/// inside `verifyProof` (a block program's program section), one `PublicMemoryStatement` per
/// range of its entries: `verifyProof` replays with their sums added
/// (`StwoVerifier.replayWith`) and requires each range's fact for the words the claim gives
/// that range and the (z, alpha) the transcript drew.
contract StwoFactRegistry is IFactRegistry {
    StwoVerifier public immutable transcript;
    MerkleStatement public immutable merkle;
    QuotientStatement public immutable quotients;
    FriStatement public immutable fri;
    CompositionStatement public immutable composition;
    PublicMemoryStatement public immutable publicMemory;

    mapping(bytes32 => bool) private facts;

    /// `proofId`: the channel's digest after the queries (binds every commitment and mix).
    event LogProofVerified(bytes32 indexed proofId, bytes32 indexed fact);

    /// What the statements produced that `verifyProof` must hear again to find their facts.
    struct Parts {
        /// Per tree: keccak256 of its leaves' hashes (`MerkleStatement`).
        bytes32[4] leafCommitments;
        /// FRI's first layer values at every query (the quotient statements' results).
        uint256[] values;
        /// The quotient ranges: [0, ends[0]), [ends[0], ends[1]), ..., ending at the query count.
        uint256[] rangeEnds;
        /// The composition's ranges of component instances: [0, compositionEnds[0]), ...
        uint256[] compositionEnds;
        /// The public memory's entry ranges, [0, memoryEnds[0]), ...: empty when the claim's
        /// public memory is summed inline; and each range's sum (`PublicMemoryStatement`).
        uint256[] memoryEnds;
        uint256[] memorySums;
    }

    constructor(
        StwoVerifier transcript_,
        MerkleStatement merkle_,
        QuotientStatement quotients_,
        FriStatement fri_,
        CompositionStatement composition_,
        PublicMemoryStatement publicMemory_
    ) {
        transcript = transcript_;
        merkle = merkle_;
        quotients = quotients_;
        fri = fri_;
        composition = composition_;
        publicMemory = publicMemory_;
    }

    function isValid(bytes32 fact) external view returns (bool) {
        return facts[fact];
    }

    /// Every statement `header`'s verification needs (the four trees, the quotient setup, each
    /// quotient range, FRI, the composition's ranges, the public memory's)
    /// and whether it is on chain: what a resumed verification still has to send. `header` is
    /// the proof without its openings (rows, witnesses, FRI layers may be empty: unread).
    function statements(StwoVerifier.Proof calldata header, Parts calldata parts)
        public
        view
        returns (bytes32[] memory needed, bool[] memory done, bytes32 proofId)
    {
        StwoVerifier.Transcript memory t = parts.memoryEnds.length == 0
            ? transcript.replay(header)
            : transcript.replayWith(header, memorySum(parts));
        proofId = t.digest;
        uint256 nRanges = parts.rangeEnds.length;
        require(parts.values.length == t.queries.length, "registry: a value per query");
        needed = new bytes32[](
            6 + nRanges + parts.compositionEnds.length
                + (parts.memoryEnds.length == 0 ? 0 : 1 + parts.memoryEnds.length)
        );
        done = new bool[](needed.length);
        uint256 logSize = header.trees[3].logHeight;
        for (uint256 tree = 0; tree < 4; tree++) {
            uint256[] memory positions = tree == 0
                ? transcriptPositions(t.queries, logSize, header.trees[0].logHeight)
                : t.queries;
            needed[tree] = merkle.factOf(
                header.commitments[tree],
                keccak256(abi.encodePacked(positions)),
                header.trees[tree].logHeight,
                parts.leafCommitments[tree]
            );
            done[tree] = merkle.isValid(needed[tree]);
        }
        needed[4] = quotientSetup(header, t);
        done[4] = quotients.isValid(needed[4]);
        uint256 from = 0;
        for (uint256 r = 0; r < nRanges; r++) {
            uint256 to = parts.rangeEnds[r];
            require(from < to && to <= t.queries.length, "registry: ranges must cover the queries in order");
            needed[5 + r] = quotientFact(header, parts, t, from, to);
            done[5 + r] = quotients.isValid(needed[5 + r]);
            from = to;
        }
        require(from == t.queries.length, "registry: ranges must cover the queries in order");
        needed[5 + nRanges] = fri.factOf(
            keccak256(abi.encodePacked(t.queries)),
            keccak256(abi.encodePacked(parts.values)),
            logSize,
            keccak256(abi.encodePacked(t.friAlphas)),
            keccak256(abi.encodePacked(header.friCommitments)),
            keccak256(header.lastLayerPoly)
        );
        done[5 + nRanges] = fri.isValid(needed[5 + nRanges]);
        compositionRanges(compositionFact(header, t), parts.compositionEnds, needed, done, 6 + nRanges);
        memoryFacts(header, parts, t, needed, done, 6 + nRanges + parts.compositionEnds.length);
    }

    /// The sum of the public memory ranges' sums (as the statements registered them: a
    /// range's fact holds its exact word).
    function memorySum(Parts calldata parts) private pure returns (uint256 sum) {
        require(parts.memorySums.length == parts.memoryEnds.length, "registry: a sum per public memory range");
        for (uint256 r = 0; r < parts.memorySums.length; r++) {
            sum = QM31.add(sum, parts.memorySums[r]);
        }
    }

    /// From `at`: the claim's program key, done once `CairoClaim` keeps its program's root
    /// (so the replay does not hash the program's limbs); then each public memory range's
    /// fact: its words as the claim gives them, the replayed (z, alpha), its stated sum.
    function memoryFacts(
        StwoVerifier.Proof calldata header,
        Parts calldata parts,
        StwoVerifier.Transcript memory t,
        bytes32[] memory needed,
        bool[] memory done,
        uint256 at
    ) private view {
        if (parts.memoryEnds.length == 0) return;
        (bytes32[] memory hashes,, bytes32 key, bool rootKept) =
            transcript.claimContract().publicMemoryHashes(header.claim, parts.memoryEnds);
        (needed[at], done[at]) = (key, rootKept);
        at++;
        for (uint256 r = 0; r < hashes.length; r++) {
            needed[at + r] = publicMemory.factOf(hashes[r], t.lookupZ, t.lookupAlpha, parts.memorySums[r]);
            done[at + r] = publicMemory.isValid(needed[at + r]);
        }
    }

    /// The composition ranges' facts from `at`: each range's (the accumulator stored at its
    /// end), the last one the whole statement's (`context`). The ends are the plan's choice:
    /// whatever they are, the last fact is recorded only by a chain of ranges over every
    /// instance.
    function compositionRanges(
        bytes32 context,
        uint256[] calldata ends,
        bytes32[] memory needed,
        bool[] memory done,
        uint256 at
    ) private view {
        require(ends.length > 0, "registry: composition ranges must cover the instances in order");
        uint256 from = 0;
        for (uint256 r = 0; r < ends.length; r++) {
            require(ends[r] > from, "registry: composition ranges must cover the instances in order");
            from = ends[r];
            needed[at + r] = r + 1 == ends.length ? context : composition.rangeFact(context, from);
            done[at + r] = composition.isValid(needed[at + r]);
        }
    }

    /// The composition statement's fact for `header` and its replayed draws.
    function compositionFact(StwoVerifier.Proof calldata header, StwoVerifier.Transcript memory t)
        private
        view
        returns (bytes32)
    {
        return composition.factOfHashes(
            [
                keccak256(header.claim),
                keccak256(header.claimedSums),
                keccak256(header.sampledValues),
                keccak256(abi.encode(header.columns))
            ],
            [
                t.lookupZ,
                t.lookupAlpha,
                t.compositionCoeff,
                t.oodsX,
                t.oodsY,
                header.trees[3].logHeight,
                header.config.logBlowupFactor
            ]
        );
    }

    /// The last transaction of a proof: registers its fact once every statement is on chain;
    /// reverts naming the first one missing.
    function verifyProof(StwoVerifier.Proof calldata header, Parts calldata parts) external returns (bytes32 fact) {
        (, bool[] memory done, bytes32 proofId) = statements(header, parts);
        for (uint256 i = 0; i < done.length; i++) {
            if (!done[i]) revert(missing(i, parts.rangeEnds.length, parts.compositionEnds.length));
        }
        fact = transcript.claimContract().fact(header.claim);
        facts[fact] = true;
        emit LogProofVerified(proofId, fact);
    }

    /// The quotient setup's fact (`QuotientStatement.setupFact`): the proof's context.
    function quotientSetup(StwoVerifier.Proof calldata header, StwoVerifier.Transcript memory t)
        private
        view
        returns (bytes32)
    {
        LiftedMerkle.Opening[4] calldata trees = header.trees;
        return quotients.setupFact(
            [trees[3].logHeight, header.config.logBlowupFactor, t.oodsX, t.oodsY, t.quotientCoeff],
            [trees[0].logHeight, trees[1].logHeight, trees[2].logHeight, trees[3].logHeight],
            [trees[0].rowBytes, trees[1].rowBytes, trees[2].rowBytes, trees[3].rowBytes],
            keccak256(abi.encode(header.columns)),
            keccak256(header.sampledValues)
        );
    }

    function quotientFact(
        StwoVerifier.Proof calldata header,
        Parts calldata parts,
        StwoVerifier.Transcript memory t,
        uint256 from,
        uint256 to
    ) private view returns (bytes32) {
        QuotientStatement.Input memory q = QuotientStatement.Input({
            liftingLogSize: header.trees[3].logHeight,
            logBlowup: header.config.logBlowupFactor,
            oodsX: t.oodsX,
            oodsY: t.oodsY,
            coeff: t.quotientCoeff,
            queries: t.queries,
            from: from,
            to: to
        });
        uint256[] memory values = new uint256[](to - from);
        for (uint256 i = from; i < to; i++) {
            values[i - from] = parts.values[i];
        }
        return quotients.factOf(
            keccak256(abi.encode(q)),
            parts.leafCommitments,
            [header.trees[0].logHeight, header.trees[1].logHeight, header.trees[2].logHeight, header.trees[3].logHeight],
            keccak256(abi.encode(header.columns)),
            keccak256(header.sampledValues),
            keccak256(abi.encodePacked(values))
        );
    }

    function transcriptPositions(uint256[] memory queries, uint256 logSize, uint256 ppLogSize)
        private
        pure
        returns (uint256[] memory)
    {
        return LiftedMerkle.preprocessedPositions(queries, logSize, ppLogSize);
    }

    /// The reason naming statement `i` of `n` before the `nComposition` composition ranges.
    /// The reason naming statement `i`: after the Merkle statements, the quotient setup, the
    /// `nRanges` quotient statements and the FRI statement, the `nComposition` composition ranges, then the program's root and the
    /// public memory ranges.
    function missing(uint256 i, uint256 nRanges, uint256 nComposition) private pure returns (string memory) {
        if (i < 4) return string.concat("registry: Merkle statement of tree ", digit(i), " not verified");
        if (i == 4) return "registry: quotient setup not verified";
        if (i < 5 + nRanges) return string.concat("registry: quotient statement of range ", digit(i - 5), " not verified");
        if (i == 5 + nRanges) return "registry: FRI statement not verified";
        uint256 c = 6 + nRanges;
        if (i < c + nComposition) {
            if (nComposition == 1) return "registry: composition statement not verified";
            return string.concat("registry: composition statement of range ", digit(i - c), " not verified");
        }
        if (i == c + nComposition) return "registry: the program's root is not kept (registerProgramRoot)";
        return string.concat("registry: public memory statement of range ", digit(i - c - nComposition - 1), " not verified");
    }

    function digit(uint256 i) private pure returns (string memory) {
        return i < 10 ? string(abi.encodePacked(bytes1(uint8(48 + i)))) : "10+";
    }
}
