// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CairoLayout} from "./CairoLayout.sol";
import {QM31} from "./QM31.sol";

/// The generated evaluator (air/generated/evm/AirEvaluator.sol), as this contract calls it.
interface IAirEvaluator {
    struct Part {
        address[] program;
        uint256[] mask;
        uint256[] params;
    }

    function accumulate(Part[] calldata parts, uint256[] calldata relations, uint256 coeff, uint256 acc)
        external
        view
        returns (uint256);

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
/// Split by ranges of component instances (each a transaction under 2^24 gas): stwo
/// accumulates every constraint of every instance as `acc = acc * coeff + constraint` (Horner:
/// `acc` is all the accumulation carries, no power of the coefficient), and divides once by
/// the vanishing value. A range [from, to) starts from the accumulator stored at `from` by a
/// verified range ending there (0 at the first instance), stores the one at `to` under
/// `rangeFact(context, to)`, and the range ending at the last instance compares the division
/// with the committed value and records the statement's fact, `context` itself. `context`
/// (`factOf`) hashes everything the check reads (the claim, the claimed sums, the sampled
/// values, the layout, the transcript's draws), so a range of another proof, a range whose
/// predecessor is not verified (reordered, skipped) or one that starts anywhere but where a
/// verified range of the same proof ended finds no accumulator and reverts; any chain of
/// ranges from 0 to the last instance gives the one value Horner's rule gives.
///
/// Only the first range carries the whole claim (a block's is ~240 KB: its program section):
/// it stores, under `context`, the hash of the claim's fields the parts read (`ClaimView`:
/// enable flags, log sizes, variant, segment starts), derived here from the claim. A later
/// range (`verifyRange`) carries those fields and the claim's hash instead, recomputes
/// `context` from the hash and the rest of its input, and is refused unless the first range
/// of that context was verified with the same fields: every range reads one input.
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
    /// The accumulator after the instances before `to`, keyed `rangeFact(context, to)`, with
    /// bit 255 set (an accumulator is a QM31, below 2^128, and may be 0).
    mapping(bytes32 => uint256) private partials;
    uint256 internal constant SET = 1 << 255;
    /// `to` of the range ending at the last instance (in `values`).
    uint256 internal constant ALL = type(uint256).max;
    /// Per `context` whose first range was verified (and more ranges follow): the hash of its
    /// claim's `ClaimView`, what a later range's fields must hash to.
    mapping(bytes32 => bytes32) private bound;

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

    /// A statement's fact (`factOf`: the whole check) or a range's (`rangeFact`) is verified.
    function isValid(bytes32 fact) external view returns (bool) {
        return facts[fact] || partials[fact] != 0;
    }

    /// The fact of the ranges verified up to instance `to` (the accumulator stored there).
    function rangeFact(bytes32 context, uint256 to) public pure returns (bytes32) {
        return keccak256(abi.encode(context, to));
    }

    /// The accumulator stored at instance `to` for `context`, if a range ending there was
    /// verified.
    function accumulatorAt(bytes32 context, uint256 to) external view returns (bool stored, uint256 acc) {
        uint256 word = partials[rangeFact(context, to)];
        return (word != 0, word & ~SET);
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

    /// Checks the instances [from, to) (flat order of the enabled components) from the
    /// accumulator a verified range left at `from`: stores the accumulator at `to` and returns
    /// `rangeFact(factOf(s), to)`, or, when `to` is the last instance, checks the composition
    /// and records and returns `factOf(s)`. Reverts with the reason otherwise. The first range
    /// of several also binds the claim's fields for the later ones (`verifyRange`).
    function verify(Input calldata s, uint256 from, uint256 to) external returns (bytes32 fact) {
        bytes32 context = factOf(s);
        ClaimView memory claim = claimView(s.claim);
        bool last;
        (fact, last) = verifyFrom(s, claim, context, from, to);
        if (!last && from == 0) bound[context] = keccak256(abi.encode(claim));
    }

    /// `verify` for a range after the first, without the claim: `s.claim` empty, the claim's
    /// hash and its fields (`ClaimView`, as the first range derived them) instead. Refused
    /// unless the first range of the context they give was verified with those fields.
    function verifyRange(Input calldata s, bytes32 claimHash, ClaimView calldata fields, uint256 from, uint256 to)
        external
        returns (bytes32 fact)
    {
        require(s.claim.length == 0, "composition: a later range carries the claim's fields, not the claim");
        bytes32 context = factOfHashes(
            [claimHash, keccak256(s.claimedSums), keccak256(s.sampledValues), keccak256(abi.encode(s.columns))],
            [s.lookupZ, s.lookupAlpha, s.coeff, s.oodsX, s.oodsY, s.liftingLogSize, s.logBlowup]
        );
        bytes32 fieldsHash = bound[context];
        require(fieldsHash != 0, "composition: the first range of this input is not verified");
        ClaimView memory claim = fields;
        require(keccak256(abi.encode(claim)) == fieldsHash, "composition: the claim's fields are not the first range's");
        (fact,) = verifyFrom(s, claim, context, from, to);
    }

    /// The range [from, to) of `context` read from `claim`: its accumulator stored, or the
    /// whole check's fact recorded (`last`).
    function verifyFrom(Input calldata s, ClaimView memory claim, bytes32 context, uint256 from, uint256 to)
        internal
        returns (bytes32 fact, bool last)
    {
        uint256 acc = 0;
        if (from != 0) {
            uint256 stored = partials[rangeFact(context, from)];
            require(stored != 0, "composition: the range before this one is not verified");
            acc = stored & ~SET;
        }
        (uint256 n, uint256 value, uint256 committed) = evaluate(s, claim, from, to, acc);
        last = to >= n;
        if (!last) {
            fact = rangeFact(context, to);
            partials[fact] = value | SET;
        } else {
            require(value == committed, "composition: the constraints do not hold at the out-of-domain point");
            fact = context;
            facts[fact] = true;
        }
    }

    /// The constraints' composition at the point (the evaluator's, all instances in one call)
    /// and the committed one (the composition tree's sampled values).
    function values(Input calldata s) public view returns (uint256 constraints, uint256 committed) {
        (, constraints, committed) = evaluate(s, claimView(s.claim), 0, ALL, 0);
    }

    /// The instance count; for [from, to) from `acc`: the accumulator, or when `to` is the
    /// last instance the composition's value and the committed one.
    function evaluate(Input calldata s, ClaimView memory claim, uint256 from, uint256 to, uint256 acc)
        internal
        view
        returns (uint256 n, uint256 value, uint256 committed)
    {
        require(s.liftingLogSize > s.logBlowup && s.liftingLogSize < 32, "composition: bad domain");
        uint256 nValues = s.sampledValues.length / 16;
        require(nValues * 16 == s.sampledValues.length && nValues >= 8, "composition: sampled values not whole QM31s");
        n = claim.logSizes.length;
        if (to == ALL) to = n;
        require(from < to && to <= n, "composition: not a range of the instances");
        IAirEvaluator.Part[] memory parts = buildParts(s, claim, nValues, from, to);
        if (to < n) {
            value = evaluator.accumulate(parts, relations(s.lookupZ, s.lookupAlpha), s.coeff, acc);
        } else {
            (value, committed) = finish(s, parts, acc, nValues);
        }
    }

    /// The last range: the composition's value from `acc` and the committed one.
    function finish(Input calldata s, IAirEvaluator.Part[] memory parts, uint256 acc, uint256 nValues)
        internal
        view
        returns (uint256 value, uint256 committed)
    {
        uint256 logDegree = s.liftingLogSize - s.logBlowup;
        committed = committedValue(s, nValues, logDegree);
        value = evaluator.composition(parts, relations(s.lookupZ, s.lookupAlpha), s.coeff, acc, s.oodsX, logDegree);
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

    /// The claim's fields the parts read: the enable flags (flat order), the enabled
    /// instances' log sizes, the preprocessed variant and the public segments' starts
    /// (`PublicSegmentRanges` order). What a later range carries instead of the claim.
    struct ClaimView {
        bytes enabled;
        uint256[] logSizes;
        uint256 variant;
        uint256[11] segmentStarts;
    }

    /// The fields, read in place from `abi.encode(CairoClaim.Claim)`: the claim's program
    /// section (thousands of felts in a block's) is never copied. Read as the canonical
    /// encoding (`abi.decode`'s on it); any other bytes are another claim hash, hence another
    /// fact, which the registry (whose replay holds the claim to its canonical encoding) never
    /// asks for.
    function claimView(bytes calldata claim) internal pure returns (ClaimView memory v) {
        // abi.encode of a dynamic struct: the offset of its tuple (32), then the tuple, whose
        // head is the offsets of publicData, enabled, logSizes, then variant.
        require(claimWord(claim, 0) == 32, "composition: the claim's encoding");
        uint256 publicData = 32 + claimWord(claim, 32);
        uint256 enabled = 32 + claimWord(claim, 64);
        require(claimWord(claim, enabled) == N_FLAT, "claim: wrong number of components");
        require(claim.length - enabled - 32 >= N_FLAT, "composition: the claim's encoding");
        v.enabled = claim[enabled + 32:enabled + 32 + N_FLAT];
        uint256 logSizes = 32 + claimWord(claim, 96);
        uint256 n = claimWord(claim, logSizes);
        require(n <= N_FLAT, "claim: one log size per enabled component");
        v.logSizes = new uint256[](n);
        for (uint256 k = 0; k < n; k++) {
            v.logSizes[k] = claimWord(claim, logSizes + 32 + 32 * k);
        }
        v.variant = claimWord(claim, 128);
        // PublicData's head: state (6 words), then the segments (4 words each: startId,
        // start, stopId, stop).
        for (uint256 i = 0; i < 11; i++) {
            v.segmentStarts[i] = claimWord(claim, publicData + 32 * (6 + 4 * i + 1));
        }
    }

    /// The claim's 32 bytes at `at`, in bounds.
    function claimWord(bytes calldata claim, uint256 at) internal pure returns (uint256 w) {
        require(at < claim.length && claim.length - at >= 32, "composition: the claim's encoding");
        assembly {
            w := calldataload(add(claim.offset, at))
        }
    }

    function logSizeOf(ClaimView memory v, uint256 k) internal pure returns (uint256) {
        require(k < v.logSizes.length, "claim: one log size per enabled component");
        return v.logSizes[k];
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
        /// `CairoLayout.MASKS` and `MASK_AT`, copied to memory once (8.5 KB: once an instance
        /// was most of a part's building).
        bytes masks;
        bytes maskAt;
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

    /// One part per enabled component instance of [from, to), in flat order (the trace's column
    /// order and the composition's accumulation order); the instances before `from` only move
    /// the cursor.
    function buildParts(Input calldata s, ClaimView memory claim, uint256 n, uint256 from, uint256 to)
        internal
        view
        returns (IAirEvaluator.Part[] memory parts)
    {
        require(s.claimedSums.length == 16 * claim.logSizes.length, "composition: a claimed sum per component");
        parts = new IAirEvaluator.Part[](to - from);
        Cursor memory c = cursor(s.columns);
        (c.at, c.reads) = CairoLayout.preprocessedReads(claim.variant);
        c.seq = CairoLayout.sequenceColumns(claim.variant);
        c.masks = CairoLayout.MASKS;
        c.maskAt = CairoLayout.MASK_AT;
        uint256 k = 0;
        for (uint256 i = 0; i < N_FLAT && k < to; i++) {
            if (uint8(claim.enabled[i]) != 1) continue;
            uint256 ir = irComponent(i);
            uint256 logSize = logSizeOf(claim, k);
            if (k < from) {
                skip(c, ir, logSize);
            } else {
                uint256[] memory mask = maskOf(s.sampledValues, c, ir, logSize);
                parts[k - from] =
                    IAirEvaluator.Part({program: programs[ir], mask: mask, params: paramsOf(s, claim, c, ir, k)});
            }
            k++;
        }
        require(k == to, "claim: one log size per enabled component");
        require(c.interaction <= n - 8, "composition: the sampled values are not the layout's");
    }

    /// Moves the cursor past an instance of component `ir` (its trace and interaction samples,
    /// memory_id_to_big's offset).
    function skip(Cursor memory c, uint256 ir, uint256 logSize) internal pure {
        (uint256 n1, uint256 n2) = maskCounts(c, ir);
        c.trace += n1;
        c.interaction += n2;
        if (ir == MEMORY_ID_TO_BIG) c.bigOffset += uint256(1) << logSize;
    }

    /// How many trace and interaction samples component `ir` has.
    function maskCounts(Cursor memory c, uint256 ir) internal pure returns (uint256 n1, uint256 n2) {
        n1 = sumBytes(c.masks, u16At(c.maskAt, 2 * ir), u16At(c.maskAt, 2 * ir + 1));
        n2 = sumBytes(c.masks, u16At(c.maskAt, 2 * ir + 1), u16At(c.maskAt, 2 * ir + 2));
    }

    /// The sum of `b[from..to]`'s bytes.
    function sumBytes(bytes memory b, uint256 from, uint256 to) internal pure returns (uint256 sum) {
        require(from <= to && to <= b.length, "composition: the mask table");
        assembly {
            let p := add(add(b, 32), from)
            let end := add(add(b, 32), to)
            for {} lt(p, end) { p := add(p, 1) } {
                sum := add(sum, byte(0, mload(p)))
            }
        }
    }

    /// The evaluator's mask: the preprocessed columns the component reads, then its trace
    /// columns' samples, then its interaction columns' (each column's samples in order).
    function maskOf(bytes calldata sv, Cursor memory c, uint256 ir, uint256 logSize)
        internal
        pure
        returns (uint256[] memory mask)
    {
        uint256 p0 = u16At(c.at, ir);
        uint256 nPp = u16At(c.at, ir + 1) - p0;
        (uint256 n1, uint256 n2) = maskCounts(c, ir);
        mask = new uint256[](nPp + n1 + n2);
        for (uint256 j = 0; j < nPp; j++) {
            uint256 column = u16At(c.reads, p0 + j);
            require(column != 0xfffe, "layout: the preprocessed variant cannot prove a component");
            if (column == 0xffff) column = u16At(c.seq, logSize);
            require(column < c.ppIndex.length, "composition: the sampled values are not the layout's");
            mask[j] = valueAt(sv, c.ppIndex[column]);
        }
        require(
            16 * (c.trace + n1) <= sv.length && 16 * (c.interaction + n2) <= sv.length,
            "composition: the sampled values are not the layout's"
        );
        copyValues(sv, c.trace, mask, nPp, n1);
        copyValues(sv, c.interaction, mask, nPp + n1, n2);
        c.trace += n1;
        c.interaction += n2;
    }

    /// `mask[to..to + count]` = sampled values `from..from + count` (in bounds), packed as
    /// `valueAt`.
    function copyValues(bytes calldata sv, uint256 from, uint256[] memory mask, uint256 to, uint256 count)
        internal
        pure
    {
        assembly {
            let src := add(sv.offset, shl(4, from))
            let dst := add(add(mask, 32), shl(5, to))
            let end := add(dst, shl(5, count))
            for {} lt(dst, end) {
                dst := add(dst, 32)
                src := add(src, 16)
            } {
                let w := shr(128, calldataload(src))
                mstore(
                    dst,
                    or(
                        or(shr(96, w), shl(32, and(shr(64, w), M))),
                        or(shl(64, and(shr(32, w), M)), shl(96, and(w, M)))
                    )
                )
            }
        }
    }

    /// log size, the claim parameter if any (a builtin's segment start, memory_id_to_big's
    /// offset), the claimed sum.
    function paramsOf(Input calldata s, ClaimView memory claim, Cursor memory c, uint256 ir, uint256 k)
        internal
        pure
        returns (uint256[] memory params)
    {
        uint256 logSize = logSizeOf(claim, k);
        uint256 sum = valueAt(s.claimedSums, k);
        uint256 segment = builtinSegment(ir);
        if (segment != 0) {
            params = new uint256[](3);
            params[1] = claim.segmentStarts[segment];
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
