// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CairoClaim} from "./CairoClaim.sol";
import {CairoLayout} from "./CairoLayout.sol";
import {QM31} from "./QM31.sol";

/// The generated evaluator (air/generated/evm/AirEvaluator.sol), as this contract calls it.
interface IAirEvaluator {
    struct Part {
        address[] program;
        uint256[] mask;
        uint256[] params;
    }

    function composition(
        Part[] calldata parts,
        uint256[] calldata relations,
        uint256 coeff,
        uint256 acc,
        uint256 pointX,
        uint256 logSize
    ) external view returns (uint256);
}

/// The composition check at the out-of-domain point, as a statement of the split
/// verification: the AIR's constraints, evaluated on the proof's sampled values by the
/// generated evaluator and every component's program (addresses fixed at deployment), must
/// equal the composition polynomial's value the composition tree's sampled values give
/// (stwo's `extract_composition_oods_eval` against `eval_composition_polynomial_at_point`).
///
/// Every part is built here from what the registry binds: which sampled value is which
/// column of which component instance follows from the claim (the enabled components in flat
/// order, their log sizes, the preprocessed variant) and `CairoLayout`'s tables, as
/// `ClaimLayout` derives the sampling layout; the parameters from the claim (log sizes, each
/// builtin's segment start — the public segment's start, which `CairoClaim.check` holds to
/// the component —, memory_id_to_big's offsets — the sum of its earlier instances' sizes, as
/// cairo-air's `big_components_from_claim` —) and the interaction claim's sums. The prover
/// states no part, no program and no address.
contract CompositionStatement {
    uint256 internal constant N_FLAT = 83;
    uint256 internal constant MEMORY_ID_TO_BIG = 49;
    uint256 internal constant MEMORY_ADDRESS_TO_ID_SPLIT = 16;
    uint256 internal constant M = 0x7fffffff;

    IAirEvaluator public immutable evaluator;
    /// Words of the evaluator's `relations` (z, then the alpha powers the AIR uses), read from
    /// the programs' headers at deployment.
    uint256 public immutable relationWords;
    /// Per IR component (`CairoComponents` order), its program's data contracts.
    mapping(uint256 => address[]) private programs;
    mapping(bytes32 => bool) private facts;

    /// What the registry binds the statement to: the claim, the interaction claim, the sampled
    /// values and layout (as `StwoVerifier.Proof` carries them, checked by its replay), and the
    /// replayed draws.
    struct Input {
        bytes claim;
        bytes claimedSums;
        bytes sampledValues;
        bytes[4] columns;
        uint256 lookupZ;
        uint256 lookupAlpha;
        uint256 coeff;
        uint256 oodsX;
        uint256 oodsY;
        uint256 liftingLogSize;
        uint256 logBlowup;
    }

    constructor(IAirEvaluator evaluator_, address[][] memory programs_) {
        require(programs_.length == CairoLayout.N_COMPONENTS, "composition: a program per component");
        evaluator = evaluator_;
        uint256 words = 0;
        for (uint256 k = 0; k < programs_.length; k++) {
            require(programs_[k].length > 0, "composition: a program per component");
            programs[k] = programs_[k];
            // The header (after the data contract's STOP byte): n_mask, n_params, n_relations,
            // n_slots, u16 each; every program shares the AIR's relations.
            address first = programs_[k][0];
            uint256 header;
            assembly {
                extcodecopy(first, 0, 1, 8)
                header := shr(192, mload(0))
            }
            uint256 n = (header >> 16) & 0xffff;
            require(k == 0 || n == words, "composition: programs disagree on the relations");
            words = n;
        }
        require(words >= 1, "composition: no relation");
        relationWords = words;
    }

    function isValid(bytes32 fact) external view returns (bool) {
        return facts[fact];
    }

    function programOf(uint256 component) external view returns (address[] memory) {
        return programs[component];
    }

    /// The statement's fact: everything the check read.
    function factOf(Input calldata s) public pure returns (bytes32) {
        return factOfHashes(
            [keccak256(s.claim), keccak256(s.claimedSums), keccak256(s.sampledValues), keccak256(abi.encode(s.columns))],
            [s.lookupZ, s.lookupAlpha, s.coeff, s.oodsX, s.oodsY, s.liftingLogSize, s.logBlowup]
        );
    }

    /// The fact from the hashes of the claim, the claimed sums, the sampled values and
    /// `abi.encode(columns)`, and the words lookupZ, lookupAlpha, coeff, oodsX, oodsY,
    /// liftingLogSize, logBlowup (what the registry recomputes without copying the bytes).
    function factOfHashes(bytes32[4] memory hashes, uint256[7] memory words) public pure returns (bytes32) {
        return keccak256(abi.encode(hashes, words));
    }

    /// Checks the composition and records the fact; reverts with the reason otherwise.
    function verify(Input calldata s) external returns (bytes32 fact) {
        (uint256 constraints, uint256 committed) = values(s);
        require(constraints == committed, "composition: the constraints do not hold at the out-of-domain point");
        fact = factOf(s);
        facts[fact] = true;
    }

    /// The constraints' composition at the point (the evaluator's) and the committed one (the
    /// composition tree's sampled values).
    function values(Input calldata s) public view returns (uint256 constraints, uint256 committed) {
        require(s.liftingLogSize > s.logBlowup && s.liftingLogSize < 32, "composition: bad domain");
        uint256 logDegree = s.liftingLogSize - s.logBlowup;
        uint256 n = s.sampledValues.length / 16;
        require(n * 16 == s.sampledValues.length && n >= 8, "composition: sampled values not whole QM31s");
        committed = committedValue(s, n, logDegree);
        IAirEvaluator.Part[] memory parts = buildParts(s, n);
        constraints = evaluator.composition(parts, relations(s.lookupZ, s.lookupAlpha), s.coeff, 0, s.oodsX, logDegree);
    }

    /// stwo's `extract_composition_oods_eval`: the last 8 sampled values are the split halves'
    /// coordinates; left + x(2^(logDegree-1) · point) · right.
    function committedValue(Input calldata s, uint256 n, uint256 logDegree) internal pure returns (uint256) {
        uint256 left = fromPartials(s.sampledValues, n - 8);
        uint256 right = fromPartials(s.sampledValues, n - 4);
        uint256 x = s.oodsX;
        for (uint256 i = 1; i < logDegree; i++) {
            x = QM31.sub(QM31.add(QM31.mul(x, x), QM31.mul(x, x)), 1);
        }
        return QM31.add(left, QM31.mul(x, right));
    }

    /// `SecureField::from_partial_evals` of four sampled values from `at`.
    function fromPartials(bytes calldata sv, uint256 at) internal pure returns (uint256 r) {
        r = valueAt(sv, at);
        r = QM31.add(r, QM31.mul(valueAt(sv, at + 1), 1 << 32));
        r = QM31.add(r, QM31.mul(valueAt(sv, at + 2), 1 << 64));
        r = QM31.add(r, QM31.mul(valueAt(sv, at + 3), 1 << 96));
    }

    /// Sampled value `i` (four big-endian uint32s a, b, c, d) packed a | b << 32 | c << 64 | d << 96.
    function valueAt(bytes calldata sv, uint256 i) internal pure returns (uint256) {
        uint256 w = uint256(bytes32(sv[16 * i:16 * i + 16])) >> 128;
        return (w >> 96) | ((w >> 64) & M) << 32 | ((w >> 32) & M) << 64 | (w & M) << 96;
    }

    /// z, then alpha^0, alpha^1, ...
    function relations(uint256 z, uint256 alpha) internal view returns (uint256[] memory r) {
        r = new uint256[](relationWords);
        r[0] = z;
        uint256 power = 1;
        for (uint256 i = 1; i < r.length; i++) {
            r[i] = power;
            power = QM31.mul(power, alpha);
        }
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

    /// Where the trees' sampled values start, and each preprocessed column's value's index.
    struct Cursor {
        uint256[] ppIndex;
        uint256 trace;
        uint256 interaction;
        uint256 bigOffset;
        /// The variant's preprocessed reads (`CairoLayout.preprocessedReads`) and sequences.
        bytes at;
        bytes reads;
        bytes seq;
    }

    function cursor(bytes[4] calldata columns) internal pure returns (Cursor memory c) {
        bytes calldata pp = columns[0];
        c.ppIndex = new uint256[](pp.length);
        uint256 k = 0;
        for (uint256 i = 0; i < pp.length; i++) {
            c.ppIndex[i] = k;
            k += (uint8(pp[i]) >> 5) & 3;
        }
        c.trace = k;
        bytes calldata t = columns[1];
        for (uint256 i = 0; i < t.length; i++) {
            k += (uint8(t[i]) >> 5) & 3;
        }
        c.interaction = k;
    }

    /// One part per enabled component instance, in flat order (the trace's column order and the
    /// composition's accumulation order).
    function buildParts(Input calldata s, uint256 n) internal view returns (IAirEvaluator.Part[] memory parts) {
        CairoClaim.Claim memory claim = abi.decode(s.claim, (CairoClaim.Claim));
        require(claim.enabled.length == N_FLAT, "claim: wrong number of components");
        require(s.claimedSums.length == 16 * claim.logSizes.length, "composition: a claimed sum per component");
        parts = new IAirEvaluator.Part[](claim.logSizes.length);
        Cursor memory c = cursor(s.columns);
        (c.at, c.reads) = CairoLayout.preprocessedReads(claim.variant);
        c.seq = CairoLayout.sequenceColumns(claim.variant);
        uint256 k = 0;
        for (uint256 i = 0; i < N_FLAT; i++) {
            if (uint8(claim.enabled[i]) != 1) continue;
            uint256 ir = irComponent(i);
            uint256 logSize = claim.logSizes[k];
            uint256[] memory mask = maskOf(s.sampledValues, c, ir, logSize);
            parts[k] = IAirEvaluator.Part({program: programs[ir], mask: mask, params: paramsOf(s, claim, c, ir, k)});
            k++;
        }
        require(c.interaction <= n - 8, "composition: the sampled values are not the layout's");
    }

    /// The evaluator's mask: the preprocessed columns the component reads, then its trace
    /// columns' samples, then its interaction columns' (each column's samples in order).
    function maskOf(bytes calldata sv, Cursor memory c, uint256 ir, uint256 logSize)
        internal
        pure
        returns (uint256[] memory mask)
    {
        bytes memory masks = CairoLayout.MASKS;
        bytes memory maskAt = CairoLayout.MASK_AT;
        uint256 p0 = u16At(c.at, ir);
        uint256 nPp = u16At(c.at, ir + 1) - p0;
        uint256 n1 = 0;
        uint256 n2 = 0;
        for (uint256 j = u16At(maskAt, 2 * ir); j < u16At(maskAt, 2 * ir + 1); j++) {
            n1 += uint8(masks[j]);
        }
        for (uint256 j = u16At(maskAt, 2 * ir + 1); j < u16At(maskAt, 2 * ir + 2); j++) {
            n2 += uint8(masks[j]);
        }
        mask = new uint256[](nPp + n1 + n2);
        for (uint256 j = 0; j < nPp; j++) {
            uint256 column = u16At(c.reads, p0 + j);
            require(column != 0xfffe, "layout: the preprocessed variant cannot prove a component");
            if (column == 0xffff) column = u16At(c.seq, logSize);
            require(column < c.ppIndex.length, "composition: the sampled values are not the layout's");
            mask[j] = valueAt(sv, c.ppIndex[column]);
        }
        for (uint256 j = 0; j < n1; j++) {
            mask[nPp + j] = valueAt(sv, c.trace + j);
        }
        for (uint256 j = 0; j < n2; j++) {
            mask[nPp + n1 + j] = valueAt(sv, c.interaction + j);
        }
        c.trace += n1;
        c.interaction += n2;
    }

    /// log size, the claim parameter if any (a builtin's segment start, memory_id_to_big's
    /// offset), the claimed sum.
    function paramsOf(Input calldata s, CairoClaim.Claim memory claim, Cursor memory c, uint256 ir, uint256 k)
        internal
        pure
        returns (uint256[] memory params)
    {
        uint256 logSize = claim.logSizes[k];
        uint256 sum = valueAt(s.claimedSums, k);
        uint256 segment = builtinSegment(ir);
        if (segment != 0) {
            params = new uint256[](3);
            params[1] = claim.publicData.segments[segment].start;
        } else if (ir == MEMORY_ID_TO_BIG) {
            params = new uint256[](3);
            params[1] = c.bigOffset;
            c.bigOffset += uint256(1) << logSize;
        } else {
            params = new uint256[](2);
        }
        params[0] = logSize;
        params[params.length - 1] = sum;
    }

    /// The public segment (PublicSegmentRanges index) of a builtin component, 0 for others.
    function builtinSegment(uint256 ir) internal pure returns (uint256) {
        if (ir == 26) return 9; // add_mod
        if (ir == 27) return 4; // bitwise
        if (ir == 28) return 10; // mul_mod
        if (ir == 29 || ir == 30) return 1; // pedersen, pedersen (narrow windows)
        if (ir == 31) return 7; // poseidon
        if (ir == 32) return 8; // range_check96
        if (ir == 33) return 2; // range_check (128)
        if (ir == 34) return 5; // ec_op
        return 0;
    }
}
