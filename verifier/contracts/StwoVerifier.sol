// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {QM31} from "./QM31.sol";
import {KeccakChannel} from "./KeccakChannel.sol";
import {LiftedMerkle} from "./LiftedMerkle.sol";
import {PcsQuotients} from "./PcsQuotients.sol";
import {CircleFri} from "./CircleFri.sol";
import {CairoClaim} from "./CairoClaim.sol";

/// The parts of a Stwo 2.3 verification of a Cairo proof (Keccak channel) checked so far: the
/// Fiat–Shamir transcript as cairo-air's `verify_cairo` and stwo's `verify` replay it (up to
/// the query positions), both proofs of work, the lifted Merkle decommitment of each of the
/// four trees at the queries, the PCS quotients at the queries (FRI's first layer) and FRI's
/// decommitment, folding and last layer. Not yet: the claim's own checks, the composition
/// check at the out-of-domain point, and the sampling layout derived from the claim (it comes
/// in the calldata). Registers no fact.
contract StwoVerifier {
    using KeccakChannel for KeccakChannel.Channel;

    /// cairo-air's INTERACTION_POW_BITS.
    uint32 public constant INTERACTION_POW_BITS = 24;
    /// Stwo's COMPOSITION_LOG_SPLIT: the composition polynomial is committed in two halves.
    uint256 internal constant COMPOSITION_LOG_SPLIT = 1;

    /// The contract that reads the structured claim (its mixes, its checks, its fact): fixed
    /// at deployment, never named by the prover.
    CairoClaim public immutable claimContract;
    /// The least pow bits + log blowup x queries a proof may have (set at deployment).
    uint256 public immutable securityFloor;

    constructor(CairoClaim claim, uint256 floor) {
        claimContract = claim;
        securityFloor = floor;
    }

    /// Stwo's PcsConfig (a lifting log size is not supported: the proofs have none).
    struct Config {
        uint32 powBits;
        uint32 logBlowupFactor;
        uint32 nQueries;
        uint32 logLastLayerDegreeBound;
        uint32 foldStep;
    }

    /// A Cairo proof as `starfarm-verifier`'s calldata encoding writes it.
    struct Proof {
        uint32 channelSalt;
        Config config;
        /// Preprocessed, trace, interaction and composition trees' roots.
        bytes32[4] commitments;
        /// The Cairo claim, `abi.encode(CairoClaim.Claim)`: the contract mixes it itself.
        bytes claim;
        uint64 interactionPow;
        /// The interaction claim: each enabled component's claimed sum (flat order), four
        /// big-endian uint32s each.
        bytes claimedSums;
        /// Every sampled value (tree, column, point order), four big-endian uint32s each.
        bytes sampledValues;
        /// FRI's first layer root, then each inner layer's.
        bytes32[] friCommitments;
        /// The last layer polynomial's coefficients, four big-endian uint32s each.
        bytes lastLayerPoly;
        uint64 powNonce;
        /// The four trees' openings at the queries.
        LiftedMerkle.Opening[4] trees;
        /// Per tree, a byte per column (commitment order): its log size with the blowup (low
        /// 5 bits) and how many points it is sampled at (bits 5-6; 2: the previous row and the
        /// out-of-domain point). Taken from the calldata until the claim checks derive it.
        bytes[4] columns;
        /// FRI's first layer's decommitment, then each inner layer's.
        CircleFri.Layer[] friLayers;
    }

    /// What the transcript draws.
    struct Transcript {
        /// The Cairo relation's lookup elements (z, alpha).
        uint256 lookupZ;
        uint256 lookupAlpha;
        /// The composition polynomial's random coefficient.
        uint256 compositionCoeff;
        /// The out-of-domain point.
        uint256 oodsX;
        uint256 oodsY;
        /// The coefficient that combines the PCS quotients.
        uint256 quotientCoeff;
        /// FRI's folding coefficients: the first layer's, then each inner layer's.
        uint256[] friAlphas;
        /// The query positions on the lifted domain, sorted, distinct.
        uint256[] queries;
        /// The channel's digest after the queries were drawn.
        bytes32 digest;
    }

    /// The transcript of `p`; reverts on a failed proof of work or a malformed FRI proof.
    function replay(Proof calldata p) public view returns (Transcript memory) {
        return replayWith(p, type(uint256).max);
    }

    /// `replay` with the public memory entries' part of the logup sum given (`CairoClaim.
    /// mixInteractionClaim`'s `memorySum`: `StwoFactRegistry` passes the sum its
    /// `PublicMemoryStatement` facts hold for the drawn (z, alpha)).
    function replayWith(Proof calldata p, uint256 memorySum) public view returns (Transcript memory t) {
        KeccakChannel.Channel memory ch;
        checkConfig(p.config);
        // The preprocessed root and the layout are the claim's, fixed or derived on chain: the
        // prover states none of its own.
        bytes32[4] memory layoutHashes;
        uint256 heights = 0;
        for (uint256 tree = 0; tree < 4; tree++) {
            layoutHashes[tree] = keccak256(p.columns[tree]);
            heights |= uint256(p.trees[tree].logHeight) << (8 * tree);
        }
        claimContract.checkTrees(
            p.claim, p.config.logBlowupFactor, p.commitments[0], keccak256(abi.encodePacked(layoutHashes)), heights
        );
        ch.mix(abi.encodePacked(uint32(p.channelSalt % KeccakChannel.P), uint32(0), uint32(0), uint32(0)));
        ch.mix(configWords(p.config));
        replayTraces(p, ch, t, memorySum);
        replayComposition(p, ch, t);
        replayFri(p, ch, t);
        if (!ch.checkPow(p.config.powBits, p.powNonce)) revert("proof of work: nonce rejected");
        ch.mixU64(p.powNonce);
        t.queries = sortedDistinct(ch.drawQueries(liftingLogSize(p), p.config.nQueries));
        t.digest = ch.digest;
    }

    /// Replays `p` and checks tree `tree`'s decommitment (0: preprocessed, 1: trace,
    /// 2: interaction, 3: composition).
    function verifyTree(Proof calldata p, uint256 tree) external view returns (bytes32) {
        Transcript memory t = replay(p);
        checkTree(p, t.queries, tree);
        return t.digest;
    }

    /// Replays `p` and checks every tree's decommitment, the quotients and FRI.
    function verify(Proof calldata p) external view returns (bytes32) {
        Transcript memory t = replay(p);
        checkAfterReplay(p, t);
        return t.digest;
    }

    /// Replays `p` and returns FRI's first layer values at the queries: the PCS quotients
    /// (no decommitment is checked).
    function friAnswers(Proof calldata p) external view returns (uint256[] memory values) {
        Transcript memory t = replay(p);
        (values,,) = PcsQuotients.answers(quotientInput(p, t), p.trees, p.columns, p.sampledValues);
    }

    /// Every check after the transcript's: the trees, the quotients, FRI.
    function checkAfterReplay(Proof calldata p, Transcript memory t) internal view {
        checkTrees(p, t);
        (uint256[] memory values, uint256[] memory px, uint256[] memory py) =
            PcsQuotients.answers(quotientInput(p, t), p.trees, p.columns, p.sampledValues);
        CircleFri.verify(
            CircleFri.Input(CircleFri.Evals(t.queries, values, py), px, liftingLogSize(p), t.friAlphas),
            p.friLayers,
            p.friCommitments,
            p.lastLayerPoly
        );
    }

    function checkTrees(Proof calldata p, Transcript memory t) internal pure {
        for (uint256 tree = 0; tree < 4; tree++) {
            checkTree(p, t.queries, tree);
        }
    }

    function quotientInput(Proof calldata p, Transcript memory t)
        internal
        pure
        returns (PcsQuotients.Input memory)
    {
        return PcsQuotients.Input({
            liftingLogSize: liftingLogSize(p),
            logBlowup: p.config.logBlowupFactor,
            oodsX: t.oodsX,
            oodsY: t.oodsY,
            coeff: t.quotientCoeff,
            queries: t.queries,
            preprocessedQueries: LiftedMerkle.preprocessedPositions(t.queries, liftingLogSize(p), p.trees[0].logHeight)
        });
    }

    function checkConfig(Config calldata c) internal view {
        require(c.foldStep == 1, "config: fold step must be 1");
        require(c.nQueries > 0, "config: no queries");
        require(
            uint256(c.powBits) + uint256(c.logBlowupFactor) * uint256(c.nQueries) >= securityFloor,
            "config: below the security floor"
        );
    }

    /// PcsConfig::mix_into: (powBits, logBlowup, nQueries, logLastLayer), (foldStep, 0, 0, 0).
    function configWords(Config calldata c) internal pure returns (bytes memory) {
        return abi.encodePacked(
            c.powBits, c.logBlowupFactor, c.nQueries, c.logLastLayerDegreeBound, c.foldStep, uint32(0), uint32(0), uint32(0)
        );
    }

    /// From the preprocessed root to the interaction root (cairo-air's verify_cairo).
    function replayTraces(Proof calldata p, KeccakChannel.Channel memory ch, Transcript memory t, uint256 memorySum)
        internal
        view
    {
        ch.mixRoot(p.commitments[0]);
        ch.digest = claimContract.mixClaim(ch.digest, p.claim);
        ch.nDraws = 0;
        ch.mixRoot(p.commitments[1]);
        if (!ch.checkPow(INTERACTION_POW_BITS, p.interactionPow)) revert("interaction proof of work: nonce rejected");
        ch.mixU64(p.interactionPow);
        uint256[] memory lookup = ch.drawSecureFelts(2);
        (t.lookupZ, t.lookupAlpha) = (lookup[0], lookup[1]);
        ch.digest = claimContract.mixInteractionClaim(
            ch.digest, p.claim, p.claimedSums, t.lookupZ, t.lookupAlpha, memorySum
        );
        ch.nDraws = 0;
        ch.mixRoot(p.commitments[2]);
    }

    /// The composition root, the out-of-domain point and the sampled values (stwo's verify).
    function replayComposition(Proof calldata p, KeccakChannel.Channel memory ch, Transcript memory t)
        internal
        view
    {
        t.compositionCoeff = ch.drawSecureFelt();
        ch.mixRoot(p.commitments[3]);
        (t.oodsX, t.oodsY) = randomPoint(ch);
        require(p.sampledValues.length % 16 == 0, "sampled values: not whole QM31s");
        ch.mixCalldata(p.sampledValues);
        t.quotientCoeff = ch.drawSecureFelt();
    }

    /// FRI's commitment phase: each layer's root and folding coefficient, the last layer.
    function replayFri(Proof calldata p, KeccakChannel.Channel memory ch, Transcript memory t) internal pure {
        Config calldata c = p.config;
        uint256 lineLogDegree = liftingLogSize(p) - c.logBlowupFactor;
        require(lineLogDegree >= c.foldStep + c.logLastLayerDegreeBound, "FRI: domain too small for its layers");
        uint256 nInner = lineLogDegree - c.foldStep - c.logLastLayerDegreeBound;
        require(p.friCommitments.length == nInner + 1, "FRI: wrong number of layers");
        t.friAlphas = new uint256[](nInner + 1);
        for (uint256 i = 0; i <= nInner; i++) {
            ch.mixRoot(p.friCommitments[i]);
            t.friAlphas[i] = ch.drawSecureFelt();
        }
        require(p.lastLayerPoly.length % 16 == 0, "FRI: last layer not whole QM31s");
        require(p.lastLayerPoly.length / 16 <= 1 << c.logLastLayerDegreeBound, "FRI: last layer degree too high");
        ch.mixCalldata(p.lastLayerPoly);
    }

    /// CirclePoint::get_random_point: t drawn, (x, y) = ((1 - t^2) / (1 + t^2), 2t / (1 + t^2)).
    function randomPoint(KeccakChannel.Channel memory ch) internal view returns (uint256 x, uint256 y) {
        uint256 t = ch.drawSecureFelt();
        uint256 t2 = QM31.mul(t, t);
        uint256 d = QM31.inv(QM31.add(t2, 1));
        x = QM31.mul(QM31.sub(1, t2), d);
        y = QM31.mul(QM31.add(t, t), d);
    }

    /// The height of the composition tree: the domain FRI and the queries live on.
    function liftingLogSize(Proof calldata p) internal pure returns (uint256) {
        return p.trees[3].logHeight;
    }

    function checkTree(Proof calldata p, uint256[] memory queries, uint256 tree) internal pure {
        string[4] memory names = ["preprocessed tree", "trace tree", "interaction tree", "composition tree"];
        uint256[] memory positions = tree == 0 ? LiftedMerkle.preprocessedPositions(queries, liftingLogSize(p), p.trees[0].logHeight) : queries;
        LiftedMerkle.verify(p.commitments[tree], positions, p.trees[tree], names[tree]);
    }

    /// `raw` sorted ascending without repeats (insertion sort: a few dozen queries).
    function sortedDistinct(uint256[] memory raw) internal pure returns (uint256[] memory out) {
        for (uint256 i = 1; i < raw.length; i++) {
            uint256 v = raw[i];
            uint256 j = i;
            while (j > 0 && raw[j - 1] > v) {
                raw[j] = raw[j - 1];
                j--;
            }
            raw[j] = v;
        }
        uint256 n = 0;
        for (uint256 i = 0; i < raw.length; i++) {
            if (i == 0 || raw[i] != raw[i - 1]) raw[n++] = raw[i];
        }
        out = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            out[i] = raw[i];
        }
    }
}
