// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {QM31} from "./QM31.sol";
import {ClaimLayout} from "./ClaimLayout.sol";
import {PublicMemory} from "./PublicMemory.sol";
// Generated from the AIR (air/generated/evm/, compiled with these sources by build.sh).
import {RelationUses} from "./RelationUses.sol";

/// A Cairo proof's claim in structured form, and what the verifier derives from it: the
/// channel mixes (cairo-air 1.3's `CairoClaim::mix_into` and `CairoInteractionClaim::mix_into`
/// on the Keccak channel), the well-formedness checks `verify_cairo` makes on it, and the fact
/// it establishes, and the trees it gives (the deployment's preprocessed root, the layout
/// `ClaimLayout` derives). `StwoVerifier` hands it the claim's bytes (`abi.encode(Claim)`) so the
/// prover states the claim, never the mixes: what is mixed, checked and registered is one
/// value.
///
/// Narrow external functions, so a verification split over transactions can call each alone:
/// `mixClaim`/`mixInteractionClaim` (digest in, digest out), `claimMixes` (the mixes, for
/// tests and tools), `check` (the claim's own checks), `checkTrees` (each relation's uses,
/// root and layout), `programHash`/`outputHash`/`fact`.
contract CairoClaim {
    uint256 internal constant P = 0x7fffffff;
    /// cairo-air's flat claim: the number of components (enable bits) it has.
    uint256 public constant N_COMPONENTS = 83;
    /// The Stark field's prime: a memory value is a felt below it.
    uint256 internal constant STARK_PRIME = 0x800000000000011000000000000000000000000000000000000000000000001;

    /// A segment's start and stop pointers: each a memory id and the value (an address).
    struct Segment {
        uint32 startId;
        uint32 start;
        uint32 stopId;
        uint32 stop;
    }

    /// cairo-air's PublicData.
    struct PublicData {
        /// Initial pc, ap, fp, then final pc, ap, fp.
        uint32[6] state;
        /// The output segment, then pedersen, range_check_128, ecdsa, bitwise, ec_op, keccak,
        /// poseidon, range_check_96, add_mod, mul_mod (cairo-air's PublicSegmentRanges order).
        Segment[11] segments;
        /// Bit i set: segment i is present (bit 0, the output, always is).
        uint16 presentSegments;
        uint32[2] safeCallIds;
        /// The program section: memory ids and values (felts), from the initial pc on.
        uint32[] programIds;
        uint256[] program;
        /// The output section: memory ids and values.
        uint32[] outputIds;
        uint256[] output;
    }

    /// cairo-air's CairoClaim, flattened as its `flatten_claim`: a byte per component (1:
    /// enabled), each enabled component's log size in order.
    struct Claim {
        PublicData publicData;
        bytes enabled;
        uint32[] logSizes;
        /// The preprocessed trace (`PreProcessedTraceVariant::ALL_VARIANTS` index): not mixed
        /// (the preprocessed root is), it fixes the preprocessed tree's layout.
        uint8 variant;
    }

    /// `Claim` as `abi.encode` lays it out, its dynamic public data left in place
    /// (`publicData`: its tuple's offset from the claim's tuple). Decoding the claim's bytes as
    /// this reads a few words where a full decode copies the program section (a block program's
    /// claim is ~240 KB: ~3.2 M gas a decode, five of them in a `verifyProof`). The values are
    /// the ones a full decode of the same bytes gives: `canonical` holds the bytes to the
    /// claim's encoding before any of them is read (`checkTrees`, the replay's first call,
    /// its structure; `mixClaim` the values and the claim's shape).
    struct ClaimHead {
        uint256 publicData;
        bytes enabled;
        uint32[] logSizes;
        uint8 variant;
    }

    /// `PublicData`'s head: its static fields, and its four arrays' offsets from its tuple.
    struct PublicDataHead {
        uint32[6] state;
        Segment[11] segments;
        uint16 presentSegments;
        uint32[2] safeCallIds;
        uint256 programIds;
        uint256 program;
        uint256 outputIds;
        uint256 output;
    }

    /// A claim read in place: its head, its public data's head, and where (in the claim's
    /// bytes) its public data's tuple starts.
    struct ClaimView {
        ClaimHead head;
        PublicDataHead pd;
        uint256 pdAt;
    }

    /// The program hash (cairo-lang's Pedersen chain, which the EVM cannot afford) of each
    /// program a fact may name, keyed by `programKey`: registered at deployment only.
    mapping(bytes32 => bytes32) public programHashes;

    /// The preprocessed trace's root per (variant, log blowup), keyed `variant << 8 | logBlowup`:
    /// a constant of the deployment, never the prover's.
    mapping(uint256 => bytes32) public preprocessedRoots;

    constructor(
        ClaimLayout layout_,
        bytes32[] memory programKeys,
        bytes32[] memory hashes,
        uint256[] memory rootKeys,
        bytes32[] memory roots
    ) {
        layoutContract = layout_;
        require(rootKeys.length == roots.length, "preprocessed roots: one root per key");
        for (uint256 i = 0; i < rootKeys.length; i++) {
            preprocessedRoots[rootKeys[i]] = roots[i];
        }
        require(programKeys.length == hashes.length, "programs: one hash per key");
        for (uint256 i = 0; i < programKeys.length; i++) {
            programHashes[programKeys[i]] = hashes[i];
        }
    }

    /// `encodedClaim` decoded; reverts unless it is the canonical encoding, so one claim has
    /// one encoding (what is mixed, checked and registered is the same bytes). The reference
    /// `canonical` replaced in the replay (a full decode and re-encoding: ~3.8 M gas for a
    /// block claim): the tests hold the two to the same verdicts; no verification calls it.
    function decode(bytes calldata encodedClaim) public pure returns (Claim memory c) {
        c = abi.decode(encodedClaim, (Claim));
        require(keccak256(abi.encode(c)) == keccak256(encodedClaim), "claim: not canonically encoded");
    }

    /// `encodedClaim` read in place (`ClaimView`): the heads decoded, the arrays left in the
    /// calldata. Reverts on offsets outside the bytes; not a canonical-encoding check.
    function view_(bytes calldata encodedClaim) internal pure returns (ClaimView memory v) {
        v.head = abi.decode(encodedClaim, (ClaimHead));
        v.pdAt = uint256(bytes32(encodedClaim[0:32])) + v.head.publicData;
        v.pd = abi.decode(encodedClaim[v.pdAt:], (PublicDataHead));
    }

    /// Where a public data array's elements start in `encodedClaim` (from its offset `rel` in
    /// the public data's tuple) and how many there are; reverts unless they are inside it.
    function arrayAt(bytes calldata encodedClaim, ClaimView memory v, uint256 rel)
        internal
        pure
        returns (uint256 at, uint256 n)
    {
        at = v.pdAt + rel;
        n = uint256(bytes32(encodedClaim[at:at + 32]));
        at += 32;
        require(n <= encodedClaim.length / 32 && at + 32 * n <= encodedClaim.length, "claim: an array beyond the encoding");
    }

    /// keccak256 of `prefix` (a word, or nothing when `withPrefix` is false) then the `n` words
    /// of `encodedClaim` at `at`: the program key and the output hash, read from the calldata.
    function hashWords(bytes calldata encodedClaim, uint256 at, uint256 n, bool withPrefix, uint256 prefix)
        internal
        pure
        returns (bytes32 h)
    {
        assembly ("memory-safe") {
            // Scratch past the free pointer (not allocated: hashed and left).
            let start := mload(0x40)
            let m := start
            if withPrefix {
                mstore(m, prefix)
                m := add(m, 32)
            }
            calldatacopy(m, add(encodedClaim.offset, at), shl(5, n))
            h := keccak256(start, sub(add(m, shl(5, n)), start))
        }
    }

    /// `programKey` of the claim read in place.
    function programKeyOf(bytes calldata encodedClaim, ClaimView memory v) internal pure returns (bytes32) {
        (uint256 at, uint256 n) = arrayAt(encodedClaim, v, v.pd.program);
        return hashWords(encodedClaim, at, n, true, v.pd.state[0]);
    }

    /// The channel's digest after `encodedClaim`'s mixes, from `digest`. The replay's first
    /// full look at the claim: `canonical` holds the bytes to `abi.encode(Claim)`'s layout
    /// (what every later in-place reader assumes) and the claim's shape, then the mixes are
    /// read from the calldata, never decoded (a block claim is ~270 KB: ~3.8 M gas a decode).
    function mixClaim(bytes32 digest, bytes calldata encodedClaim) external view returns (bytes32) {
        bytes[] memory mixes = claimMixes(encodedClaim);
        for (uint256 i = 0; i < mixes.length; i++) {
            bytes memory m = mixes[i];
            // keccak256(digest ‖ m) over m's own memory: its length word holds the digest for
            // the hash, then is put back (no copy of the ~17 KB public words).
            assembly ("memory-safe") {
                let n := mload(m)
                mstore(m, digest)
                digest := keccak256(m, add(n, 32))
                mstore(m, n)
            }
        }
        return digest;
    }

    /// The channel's digest after the interaction claim's one mix (every claimed sum, one per
    /// enabled component in flat order, four big-endian uint32s each), once `check` passed
    /// with the lookup elements (z, alpha) drawn just before: as `verify_cairo`, which checks
    /// the claim and the logup sum between the draw and the mix. `memorySum`: the public
    /// memory entries' part of the logup sum as `PublicMemoryStatement`s verified it for
    /// (z, alpha) (the caller, `StwoFactRegistry`, holds their facts), or `INLINE` to compute
    /// it here.
    function mixInteractionClaim(
        bytes32 digest,
        bytes calldata encodedClaim,
        bytes calldata claimedSums,
        uint256 z,
        uint256 alpha,
        uint256 memorySum
    ) external view returns (bytes32) {
        checkWith(encodedClaim, claimedSums, z, alpha, memorySum);
        return keccak256(abi.encodePacked(digest, claimedSums));
    }

    /// `memorySum` meaning: compute the public memory's sum inline (not a QM31: above 2^128).
    uint256 public constant INLINE = type(uint256).max;

    // cairo-air's relation ids (relations.rs), builtins' memory cells, memory bounds.
    uint256 internal constant OPCODES_RELATION_ID = 428564188;
    uint256 internal constant LARGE_MEMORY_VALUE_ID_BASE = 0x40000000;
    uint256 internal constant MAX_SEQUENCE_LOG_SIZE = 25;
    uint256 internal constant MIN_LOG_SIZE = 4;
    uint256 internal constant MEMORY_ADDRESS_TO_ID_SPLIT = 16;
    /// Flat indices (flatten_claim's order) of the components the checks name.
    uint256 internal constant MEMORY_ADDRESS_TO_ID = 48;
    uint256 internal constant MEMORY_ID_TO_BIG = 49;
    /// Segment indices (PublicSegmentRanges order).
    uint256 internal constant SEG_PEDERSEN = 1;
    uint256 internal constant SEG_RANGE_CHECK_128 = 2;
    uint256 internal constant SEG_ECDSA = 3;
    uint256 internal constant SEG_BITWISE = 4;
    uint256 internal constant SEG_EC_OP = 5;
    uint256 internal constant SEG_KECCAK = 6;
    uint256 internal constant SEG_POSEIDON = 7;
    uint256 internal constant SEG_RANGE_CHECK_96 = 8;
    uint256 internal constant SEG_ADD_MOD = 9;
    uint256 internal constant SEG_MUL_MOD = 10;

    /// The checks cairo-air's `verify_cairo` makes on the claim (`verify_claim`: the states,
    /// the program's fixed prologue, the builtin segments against their components' sizes,
    /// the memory components' bounds; and every log size within the preprocessed sequences),
    /// then the logup balance: the claimed sums plus the public memory's contribution
    /// (`PublicData::logup_sum` with the lookup elements z, alpha) must be zero; each
    /// relation's uses below the prime (`checkRelationUses`, before the balance as in
    /// `verify_cairo`, whose `verify_claim` runs it before the lookup sum).
    function check(bytes calldata encodedClaim, bytes calldata claimedSums, uint256 z, uint256 alpha)
        external
        view
    {
        canonical(encodedClaim, true);
        ClaimHead memory h = abi.decode(encodedClaim, (ClaimHead));
        checkRelationUses(h.enabled, h.logSizes);
        checkWith(encodedClaim, claimedSums, z, alpha, INLINE);
    }

    /// cairo-air's `check_relation_uses`: every relation's uses (a row's, `RelationUses`,
    /// generated from the AIR, times 2^log size, summed over the enabled components) below
    /// the M31 prime, or the logup sums could wrap around the field and a forged trace
    /// balance. A log size from 31 on counts as 31 (2^31 rows already reach P for any use: the
    /// verdict is the same, and the shift cannot overflow); the sizes' own bounds are
    /// `checkSizes`'. The flags and sizes are held to the claim's shape as `flatLogSizes`
    /// does, with its reasons.
    function checkRelationUses(bytes memory enabled, uint32[] memory logSizes) internal pure {
        require(enabled.length == N_COMPONENTS, "claim: wrong number of components");
        bytes memory at = RelationUses.USES_AT;
        bytes memory uses = RelationUses.USES;
        uint256[] memory total = new uint256[](RelationUses.N_RELATIONS);
        uint256 k;
        uint256 notBit;
        // In assembly: with checked indexing the check cost ~60-120 k gas for fibonacci's 31
        // instances. The entries are the generated table's: each component's range is inside
        // USES and every relation index below N_RELATIONS, so `total`'s slots are its own; a
        // sum stays far below 2^256 (at most 2^16 uses x 2^31 rows an entry, 83 components).
        // A log size read past `logSizes` (more flags set than sizes) is refused below, before
        // any sum is looked at.
        assembly ("memory-safe") {
            let flags := add(enabled, 32)
            let sizes := add(logSizes, 32)
            let u := add(uses, 32)
            let t := add(total, 32)
            for { let i := 0 } lt(i, N_COMPONENTS) { i := add(i, 1) } {
                let flag := byte(0, mload(add(flags, i)))
                notBit := or(notBit, gt(flag, 1))
                if flag {
                    let size := mload(add(sizes, shl(5, k)))
                    k := add(k, 1)
                    if gt(size, 31) { size := 31 }
                    // The IR component: memory_id_to_big's instances are one (as
                    // `ClaimLayout.irComponent`).
                    let c := i
                    if gt(i, MEMORY_ID_TO_BIG) {
                        c := MEMORY_ID_TO_BIG
                        if iszero(lt(i, add(MEMORY_ID_TO_BIG, MEMORY_ADDRESS_TO_ID_SPLIT))) {
                            c := add(sub(i, MEMORY_ADDRESS_TO_ID_SPLIT), 1)
                        }
                    }
                    let a := add(add(at, 32), shl(1, c))
                    let to := shr(240, mload(add(a, 2)))
                    for { let j := shr(240, mload(a)) } lt(j, to) { j := add(j, 1) } {
                        // Three bytes: the relation's index, then its uses per row (uint16).
                        let e := shr(232, mload(add(u, mul(3, j))))
                        let slot := add(t, shl(5, shr(16, e)))
                        mstore(slot, add(mload(slot), shl(size, and(e, 0xffff))))
                    }
                }
            }
        }
        require(notBit == 0, "claim: an enable flag is not 0 or 1");
        require(k == logSizes.length, "claim: one log size per enabled component");
        for (uint256 r = 0; r < total.length; r++) {
            if (total[r] >= P) revert(string.concat("relation uses: ", RelationUses.name(r), " too many"));
        }
    }

    /// `check` with the public memory entries' sum given (or `INLINE`), the claim read in
    /// place (`ClaimView`: no copy of the program section). The canonical encoding and the
    /// claim's shape past its flags and sizes (values felts, ids and values paired) are
    /// `mixClaim`'s checks, which the replay runs on the same bytes before this; `check` runs
    /// them itself.
    function checkWith(
        bytes calldata encodedClaim,
        bytes calldata claimedSums,
        uint256 z,
        uint256 alpha,
        uint256 memorySum
    ) internal view {
        ClaimView memory v = view_(encodedClaim);
        uint256[] memory sizes = flatLogSizes(v.head.enabled, v.head.logSizes);
        require(claimedSums.length == 16 * v.head.logSizes.length, "interaction claim: one claimed sum per component");
        checkStates(v.pd.state);
        checkProgram(encodedClaim, v);
        checkBuiltins(v.pd, sizes);
        checkSizes(sizes, v.head.logSizes);
        if (memorySum == INLINE) memorySum = PublicMemory.sum(publicMemoryWords(encodedClaim, v), z, alpha);
        uint256 sum = QM31.add(memorySum, stateTerms(v.pd.state, z, alpha));
        for (uint256 i = 0; i < claimedSums.length; i += 16) {
            sum = QM31.add(sum, readSum(claimedSums, i));
        }
        require(sum == 0, "claim: the logup sums do not balance");
    }

    /// A packed claimed sum (four big-endian uint32s, each an M31) as a QM31.
    function readSum(bytes calldata sums, uint256 at) internal pure returns (uint256) {
        uint256 a = uint32(bytes4(sums[at:at + 4]));
        uint256 b = uint32(bytes4(sums[at + 4:at + 8]));
        uint256 c = uint32(bytes4(sums[at + 8:at + 12]));
        uint256 d = uint32(bytes4(sums[at + 12:at + 16]));
        require(a < P && b < P && c < P && d < P, "interaction claim: a claimed sum is not in M31^4");
        return QM31.pack(a, b, c, d);
    }

    /// Each flat component's log size, or 2^256-1 when disabled; reverts unless there is one
    /// flag (0 or 1) per component and one log size per enabled one.
    function flatLogSizes(bytes memory enabled, uint32[] memory logSizes) internal pure returns (uint256[] memory sizes) {
        require(enabled.length == N_COMPONENTS, "claim: wrong number of components");
        sizes = new uint256[](N_COMPONENTS);
        uint256 k = 0;
        for (uint256 i = 0; i < N_COMPONENTS; i++) {
            uint8 flag = uint8(enabled[i]);
            require(flag <= 1, "claim: an enable flag is not 0 or 1");
            if (flag == 1) {
                require(k < logSizes.length, "claim: one log size per enabled component");
                sizes[i] = logSizes[k++];
            } else {
                sizes[i] = type(uint256).max;
            }
        }
        require(k == logSizes.length, "claim: one log size per enabled component");
    }

    function checkStates(uint32[6] memory s) internal pure {
        require(s[0] == 1, "claim: initial pc is not 1");
        require(uint256(s[0]) + 2 < s[1], "claim: initial ap too low");
        require(s[2] == s[5], "claim: initial and final fp differ");
        require(s[2] == s[1], "claim: initial fp is not initial ap");
        require(s[3] == 5, "claim: final pc is not 5");
        require(s[1] <= s[4], "claim: final ap below initial ap");
    }

    /// verify_program: the prologue every proven program starts with (add ap, n builtins;
    /// call rel; jmp rel 0).
    function checkProgram(bytes calldata encodedClaim, ClaimView memory v) internal pure {
        (uint256 at, uint256 n) = arrayAt(encodedClaim, v, v.pd.program);
        require(n >= 6, "claim: program shorter than its prologue");
        uint256[6] memory prog = abi.decode(encodedClaim[at:at + 192], (uint256[6]));
        uint256 nBuiltins = 0;
        for (uint256 i = 0; i < 11; i++) {
            nBuiltins += (v.pd.presentSegments >> i) & 1;
        }
        require(prog[0] == (0x4078001 << 32 | 0x7fff7fff), "claim: program prologue (add ap)");
        require(prog[1] == nBuiltins, "claim: program prologue (builtin count)");
        require(prog[2] == (0x11048001 << 32 | 0x80018000), "claim: program prologue (call)");
        require(prog[4] == (0x1078001 << 32 | 0x7fff7fff), "claim: program prologue (jmp)");
        require(prog[5] == 0, "claim: program prologue (jmp offset)");
    }

    /// verify_builtins: ECDSA and Keccak unused, the output segment ordered, each used builtin
    /// segment starting where its component says and within its component's cells.
    function checkBuiltins(PublicDataHead memory pd, uint256[] memory sizes) internal pure {
        Segment[11] memory seg = pd.segments;
        require(present(pd, SEG_ECDSA) == false || seg[SEG_ECDSA].start == seg[SEG_ECDSA].stop, "claim: ECDSA segment not empty");
        require(present(pd, SEG_KECCAK) == false || seg[SEG_KECCAK].start == seg[SEG_KECCAK].stop, "claim: Keccak segment not empty");
        require(seg[0].stop < 1 << 31 && seg[0].start <= seg[0].stop, "claim: output segment out of order");
        require(sizes[29] == type(uint256).max || sizes[30] == type(uint256).max, "claim: both Pedersen builtins");
        // (segment, component, memory cells per instance)
        checkBuiltin(pd, SEG_RANGE_CHECK_128, sizes[33], 1);
        checkBuiltin(pd, SEG_RANGE_CHECK_96, sizes[32], 1);
        checkBuiltin(pd, SEG_PEDERSEN, sizes[29] != type(uint256).max ? sizes[29] : sizes[30], 3);
        checkBuiltin(pd, SEG_BITWISE, sizes[27], 5);
        checkBuiltin(pd, SEG_ADD_MOD, sizes[26], 7);
        checkBuiltin(pd, SEG_MUL_MOD, sizes[28], 7);
        checkBuiltin(pd, SEG_POSEIDON, sizes[31], 6);
        checkBuiltin(pd, SEG_EC_OP, sizes[34], 7);
    }

    function present(PublicDataHead memory pd, uint256 i) internal pure returns (bool) {
        return (pd.presentSegments >> i) & 1 == 1;
    }

    /// check_builtin, the component's segment start being the segment's start (the claim
    /// states it once: in the public segment).
    function checkBuiltin(PublicDataHead memory pd, uint256 i, uint256 logSize, uint256 cells) internal pure {
        Segment memory s = pd.segments[i];
        if (!present(pd, i) || s.start == s.stop) return;
        require(logSize != type(uint256).max, "claim: a used builtin has no component");
        require(s.start <= s.stop, "claim: builtin segment out of order");
        require((s.stop - s.start) % cells == 0, "claim: builtin segment not whole instances");
        uint256 end = uint256(s.start) + (uint256(1) << logSize) * cells;
        require(s.stop <= end, "claim: builtin segment beyond its component");
        require(end < 1 << 31, "claim: builtin segment end beyond 2^31");
    }

    /// Every log size within the preprocessed sequences; the memory components' bounds.
    function checkSizes(uint256[] memory sizes, uint32[] memory logSizes) internal pure {
        for (uint256 i = 0; i < logSizes.length; i++) {
            require(logSizes[i] >= MIN_LOG_SIZE && logSizes[i] <= MAX_SEQUENCE_LOG_SIZE, "claim: a component size out of bounds");
        }
        require(sizes[MEMORY_ADDRESS_TO_ID] != type(uint256).max, "claim: no memory address-to-id component");
        require(
            (uint256(1) << sizes[MEMORY_ADDRESS_TO_ID]) * MEMORY_ADDRESS_TO_ID_SPLIT <= 1 << 29,
            "claim: memory address-to-id beyond the address bound"
        );
        uint256 ids = 0;
        for (uint256 i = MEMORY_ID_TO_BIG; i < MEMORY_ID_TO_BIG + MEMORY_ADDRESS_TO_ID_SPLIT; i++) {
            if (sizes[i] != type(uint256).max) ids += uint256(1) << sizes[i];
        }
        require(ids >= 1 && ids - 1 + LARGE_MEMORY_VALUE_ID_BASE < P, "claim: big memory ids beyond the prime");
    }

    /// The public memory's entries (`PublicMemory`: two words each, `address << 32 | id` then
    /// the value) in `PublicData::logup_sum`'s order: the program section from the initial pc,
    /// the two safe call cells below the initial ap, each present segment's start (from the
    /// initial ap) and stop pointer (below the final ap), the output section from the final ap.
    /// Read from the claim's bytes in place (ids and values paired, ids uint32s).
    function publicMemoryWords(bytes calldata encodedClaim, ClaimView memory v)
        internal
        pure
        returns (uint256[] memory w)
    {
        PublicDataHead memory pd = v.pd;
        uint256 nSeg = 0;
        for (uint256 i = 0; i < 11; i++) {
            nSeg += (pd.presentSegments >> i) & 1;
        }
        (, uint256 nProg) = arrayAt(encodedClaim, v, pd.program);
        (, uint256 nOut) = arrayAt(encodedClaim, v, pd.output);
        w = new uint256[](2 * (nProg + 2 + 2 * nSeg + nOut));
        uint256 n = pairs(encodedClaim, v, w, 0, pd.state[0], pd.programIds, pd.program);
        uint256 ap = pd.state[1];
        (w[n], w[n + 1], w[n + 2], w[n + 3]) = (((ap - 2) << 32) | pd.safeCallIds[0], ap, ((ap - 1) << 32) | pd.safeCallIds[1], 0);
        n += 4;
        uint256 k = 0;
        for (uint256 i = 0; i < 11; i++) {
            if (!present(pd, i)) continue;
            Segment memory s = pd.segments[i];
            (w[n], w[n + 1]) = (((ap + k) << 32) | s.startId, s.start);
            (w[n + 2], w[n + 3]) = (((pd.state[4] - nSeg + k) << 32) | s.stopId, s.stop);
            n += 4;
            k++;
        }
        pairs(encodedClaim, v, w, n, pd.state[4], pd.outputIds, pd.output);
    }

    /// Writes a section's entries into `w` from word `n`: address `addr + i`, the i-th id and
    /// value of the public data's arrays at offsets `idsRel` and `valuesRel`; the next word.
    function pairs(
        bytes calldata encodedClaim,
        ClaimView memory v,
        uint256[] memory w,
        uint256 n,
        uint256 addr,
        uint256 idsRel,
        uint256 valuesRel
    ) internal pure returns (uint256) {
        (uint256 ids, uint256 count) = arrayAt(encodedClaim, v, idsRel);
        (uint256 values, uint256 nValues) = arrayAt(encodedClaim, v, valuesRel);
        require(count == nValues, "claim: memory ids and values differ in length");
        require(2 * count <= w.length - n, "claim: public memory entries overflow");
        uint256 dirty;
        assembly ("memory-safe") {
            let base := encodedClaim.offset
            let dst := add(add(w, 32), shl(5, n))
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                let id := calldataload(add(base, add(ids, shl(5, i))))
                dirty := or(dirty, shr(32, id))
                mstore(dst, or(shl(32, add(addr, i)), id))
                mstore(add(dst, 32), calldataload(add(base, add(values, shl(5, i)))))
                dst := add(dst, 64)
            }
        }
        // As `abi.decode` of a uint32: a word with higher bits set is not an id.
        require(dirty == 0, "claim: a memory id is not a uint32");
        return n + 2 * count;
    }

    /// The hash of each range of the claim's public memory entries, ranges [0, ends[0]),
    /// [ends[0], ends[1]), ... covering every entry in order: what a `PublicMemoryStatement`
    /// of that range hashes (keccak256 of its words, packed). Reverts unless the ranges cover
    /// the entries. Also the claim's `programKey` and whether its program's root is kept
    /// (`registerProgramRoot`).
    function publicMemoryHashes(bytes calldata encodedClaim, uint256[] calldata ends)
        external
        view
        returns (bytes32[] memory hashes, uint256 entries, bytes32 key, bool rootKept)
    {
        ClaimView memory v = view_(encodedClaim);
        key = programKeyOf(encodedClaim, v);
        rootKept = programRoots[key] != 0;
        uint256[] memory w = publicMemoryWords(encodedClaim, v);
        entries = w.length / 2;
        hashes = new bytes32[](ends.length);
        uint256 from = 0;
        for (uint256 r = 0; r < ends.length; r++) {
            uint256 to = ends[r];
            require(from < to && to <= entries, "public memory: ranges must cover the entries in order");
            bytes32 h;
            assembly ("memory-safe") {
                h := keccak256(add(add(w, 32), shl(6, from)), shl(6, sub(to, from)))
            }
            hashes[r] = h;
            from = to;
        }
        require(from == entries, "public memory: ranges must cover the entries in order");
    }

    /// 1/combine(final state) - 1/combine(initial state) (the opcodes relation: pc, ap, fp).
    function stateTerms(uint32[6] memory s, uint256 z, uint256 alpha) internal view returns (uint256) {
        uint256 a2 = QM31.mul(alpha, alpha);
        uint256 a3 = QM31.mul(a2, alpha);
        uint256 f = opcodeCombine(s[3], s[4], s[5], z, alpha, a2, a3);
        uint256 i = opcodeCombine(s[0], s[1], s[2], z, alpha, a2, a3);
        uint256 prod = QM31.mul(f, i);
        require(prod != 0, "claim: a lookup denominator is zero");
        return QM31.mul(QM31.sub(i, f), QM31.inv(prod));
    }

    function opcodeCombine(uint256 pc, uint256 ap, uint256 fp, uint256 z, uint256 a1, uint256 a2, uint256 a3)
        internal
        pure
        returns (uint256)
    {
        uint256 acc = QM31.add(QM31.add(QM31.mulM31(a1, pc), QM31.mulM31(a2, ap)), QM31.mulM31(a3, fp));
        return QM31.sub(QM31.add(OPCODES_RELATION_ID, acc), z);
    }

    /// What `CairoClaim::mix_into` mixes, each mix as the bytes the channel hashes after the
    /// digest, read from the claim's bytes in place once `canonical` has held them to the
    /// claim's encoding and shape (reverts, with its reason, on any other bytes).
    function claimMixes(bytes calldata encodedClaim) public view returns (bytes[] memory mixes) {
        uint256[6] memory at = canonical(encodedClaim, true);
        uint256 b = absolute(encodedClaim, 0);
        uint256 nProgram = wordAt(encodedClaim, at[1]);
        uint256 nOutput = wordAt(encodedClaim, at[3]);
        mixes = new bytes[](7);
        mixes[0] = abi.encodePacked(uint32(N_COMPONENTS), uint96(0));
        // Each `packed` is filled before the next allocation (`put`'s spill past it is free
        // memory then).
        bytes memory flags = packed(N_COMPONENTS);
        put(flags, 0, b + at[4] + 32, N_COMPONENTS, 1);
        mixes[1] = flags;
        uint256 nEnabled = wordAt(encodedClaim, at[5]);
        bytes memory sizes = packed(nEnabled);
        put(sizes, 0, b + at[5] + 32, nEnabled, 32);
        mixes[2] = sizes;
        mixes[3] = abi.encodePacked(uint32(nProgram), uint96(0));
        // PublicData::pack_into_u32s' public claim: the states and the segments' four words
        // each (the public data's first 50 head words), the safe call ids, the output's then
        // the program's memory ids.
        bytes memory words = packed(52 + nOutput + nProgram);
        uint256 k = put(words, 0, b + PD_AT, 50, 32);
        k = put(words, k, b + PD_AT + 0x660, 2, 32);
        k = put(words, k, b + at[2] + 32, nOutput, 32);
        put(words, k, b + at[0] + 32, nProgram, 32);
        mixes[4] = words;
        mixes[5] = abi.encodePacked(feltsRoot(b + at[3] + 32, nOutput));
        mixes[6] = abi.encodePacked(programRootAt(encodedClaim, at[1]));
    }

    /// The mixed root of the claim's program section (its length word at `at` in the claim's
    /// bytes): the registered one when its program's root is kept, else computed. The key:
    /// keccak256(abi.encodePacked(uint256 initial pc, the program's values)).
    function programRootAt(bytes calldata e, uint256 at) internal view returns (bytes32 root) {
        uint256 n = wordAt(e, at);
        root = programRoots[hashWords(e, at + 32, n, true, wordAt(e, PD_AT))];
        if (root == 0) root = feltsRoot(absolute(e, at + 32), n);
    }

    /// The root of each registered program's section (`feltsRoot`), keyed by `programKey`:
    /// hashing a block program's ~3,700 felts as 28 limbs each costs millions of gas, paid
    /// once per program by `registerProgramRoot` instead of by every proof.
    mapping(bytes32 => bytes32) public programRoots;

    /// Computes and keeps the root of a registered program's section (anyone may: the root
    /// is computed here from the words the key hashes).
    function registerProgramRoot(uint256 initialPc, uint256[] calldata program) external returns (bytes32 key) {
        key = keccak256(abi.encodePacked(initialPc, program));
        require(programHashes[key] != 0, "claim: program not registered");
        for (uint256 i = 0; i < program.length; i++) {
            require(program[i] < STARK_PRIME, "claim: a memory value is not a felt");
        }
        uint256 src;
        assembly ("memory-safe") {
            src := program.offset
        }
        programRoots[key] = feltsRoot(src, program.length);
    }

    /// The registered program hash of the claim's program; reverts for a program not
    /// registered at deployment.
    function programHash(bytes calldata encodedClaim) public view returns (bytes32 hash) {
        hash = programHashes[programKeyOf(encodedClaim, view_(encodedClaim))];
        require(hash != 0, "claim: program not registered");
    }

    /// Where `abi.encode(Claim)` puts the public data's tuple (after the outer offset and the
    /// claim's four head words) and how long its head is (57 words: the states, the segments,
    /// the segment flags, the safe call ids, the four arrays' offsets).
    uint256 internal constant PD_AT = 0xa0;
    uint256 internal constant PD_HEAD = 0x720;

    /// Reverts unless `e` is `abi.encode` of a `Claim` (what a full decode and re-encoding
    /// checked, at ~3.8 M gas for a block claim): every offset the one the canonical encoding
    /// has (each array right after the previous one, in field order), every length within the
    /// bytes, the enable flags' padding zeros, nothing after the last array, each value word a
    /// value of its type; then the claim's shape: one flag (0 or 1) per component, one log size
    /// per enabled one, ids and values paired, the output segment present, absent segments all
    /// zeros, every value a felt, every word mixed an M31 (two claims must never mix the same).
    /// So what `ClaimView`, `ClaimLayout` and the composition statement read in place is the
    /// canonical decode's. `arrays` false leaves out the public data's four arrays' values
    /// (the O(n) part: ~8,400 words in a block claim) for `checkTrees`, which reads only the
    /// head and runs before `mixClaim` checks them. Returns where (in `e`) each array's length word is: the program's
    /// ids, the program, the output's ids, the output, the enable flags, the log sizes.
    function canonical(bytes calldata e, bool arrays) internal pure returns (uint256[6] memory at) {
        uint256 bad;
        assembly ("memory-safe") {
            let b := e.offset
            let len := e.length
            // The outer offset, the public data's (from the claim's tuple at 0x20), the
            // variant a uint8, the segment flags a uint16.
            bad := or(iszero(eq(calldataload(b), 0x20)), iszero(eq(calldataload(add(b, 0x20)), 0x80)))
            bad := or(bad, gt(calldataload(add(b, 0x80)), 0xff))
            bad := or(bad, gt(calldataload(add(b, add(PD_AT, 0x640))), 0xffff))
            // The public data's arrays, each offset (from its tuple) where the previous array
            // ends. A length above the bytes' length is refused, so no sum below wraps; every
            // word read lies before the final cursor, which must be the bytes' end.
            let c := add(PD_AT, PD_HEAD)
            for { let k := 0 } lt(k, 4) { k := add(k, 1) } {
                bad := or(bad, iszero(eq(calldataload(add(b, add(add(PD_AT, 0x6a0), shl(5, k)))), sub(c, PD_AT))))
                mstore(add(at, shl(5, k)), c)
                let n := calldataload(add(b, c))
                bad := or(bad, gt(n, len))
                c := add(c, shl(5, add(n, 1)))
            }
            // The enable flags (bytes: zero-padded to whole words), then the log sizes, their
            // offsets from the claim's tuple.
            bad := or(bad, iszero(eq(calldataload(add(b, 0x40)), sub(c, 0x20))))
            mstore(add(at, 0x80), c)
            let nBytes := calldataload(add(b, c))
            bad := or(bad, gt(nBytes, len))
            let nWords := shr(5, add(nBytes, 31))
            if and(nBytes, 31) {
                bad := or(bad, shl(shl(3, and(nBytes, 31)), calldataload(add(b, add(c, shl(5, nWords))))))
            }
            c := add(c, shl(5, add(nWords, 1)))
            bad := or(bad, iszero(eq(calldataload(add(b, 0x60)), sub(c, 0x20))))
            mstore(add(at, 0xa0), c)
            let n := calldataload(add(b, c))
            bad := or(bad, gt(n, len))
            c := add(c, shl(5, add(n, 1)))
            bad := or(bad, iszero(eq(c, len)))
        }
        require(bad == 0, "claim: not canonically encoded");
        require(wordAt(e, at[4]) == N_COMPONENTS, "claim: wrong number of components");
        uint256 b = absolute(e, 0);
        uint256 nEnabled;
        assembly ("memory-safe") {
            let flags := add(b, add(mload(add(at, 0x80)), 32))
            for { let i := 0 } lt(i, N_COMPONENTS) { i := add(i, 1) } {
                let f := byte(0, calldataload(add(flags, i)))
                bad := or(bad, gt(f, 1))
                nEnabled := add(nEnabled, f)
            }
        }
        require(bad == 0, "claim: an enable flag is not 0 or 1");
        require(wordAt(e, at[5]) == nEnabled, "claim: one log size per enabled component");
        require(wordAt(e, at[0]) == wordAt(e, at[1]), "claim: program ids and values differ in length");
        require(wordAt(e, at[2]) == wordAt(e, at[3]), "claim: output ids and values differ in length");
        uint256 flagsWord = wordAt(e, PD_AT + 0x640);
        require(flagsWord & 1 == 1 && flagsWord < 1 << 11, "claim: bad segment flags");
        uint256 notFelt;
        uint256 notM31;
        assembly ("memory-safe") {
            // Whether any of the n words from `src` is at least `bound`.
            function over(src, n, bound) -> r {
                for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                    r := or(r, iszero(lt(calldataload(add(src, shl(5, i))), bound)))
                }
            }
            let pd := add(b, PD_AT)
            // An absent segment mixes zeros: its stated pointers must be zeros too, or two
            // claims would mix the same.
            for { let i := 0 } lt(i, 11) { i := add(i, 1) } {
                if iszero(and(shr(i, flagsWord), 1)) {
                    let s := add(pd, add(0xc0, shl(7, i)))
                    bad := or(bad, or(or(calldataload(s), calldataload(add(s, 32))), or(calldataload(add(s, 64)), calldataload(add(s, 96)))))
                }
            }
            if arrays {
                notFelt := or(arrayOver(b, at, 1, STARK_PRIME), arrayOver(b, at, 3, STARK_PRIME))
                notM31 := or(arrayOver(b, at, 0, P), arrayOver(b, at, 2, P))
            }
            // The words mixed: states and segments, safe call ids, both id arrays, log sizes.
            // Array j's words (its length word at `at[j]`), each below `bound`.
            function arrayOver(base, ats, j, bound) -> r {
                let a := add(base, mload(add(ats, shl(5, j))))
                r := over(add(a, 32), calldataload(a), bound)
            }
            notM31 := or(notM31, or(over(pd, 50, P), or(over(add(pd, 0x660), 2, P), arrayOver(b, at, 5, P))))
        }
        require(bad == 0, "claim: an absent segment has pointers");
        require(notFelt == 0, "claim: a memory value is not a felt");
        require(notM31 == 0, "claim: a word is not an M31");
    }

    /// The word at byte `i` of `e` (inside it: `canonical` checked the positions).
    function wordAt(bytes calldata e, uint256 i) internal pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := calldataload(add(e.offset, i))
        }
    }

    /// Byte `i` of `e` as an absolute calldata position.
    function absolute(bytes calldata e, uint256 i) internal pure returns (uint256 a) {
        assembly ("memory-safe") {
            a := add(e.offset, i)
        }
    }

    /// Zeroed bytes for `n` words packed as uint32s, padded to a multiple of four (a QM31's
    /// four coordinates: `pack_into_secure_felts`).
    function packed(uint256 n) internal pure returns (bytes memory) {
        return new bytes((n + 3) / 4 * 16);
    }

    /// Writes `n` values from calldata position `src` (each a word, or a byte when `stride` is
    /// 1) into `out` as big-endian uint32s from the `k`-th on; returns the next index. One
    /// plain store a value: the next overwrites the zeros after its four bytes, and the last
    /// one's spill past `out` is free memory (`out` is the latest allocation). The values are
    /// M31s (`canonical`): nothing is reduced.
    function put(bytes memory out, uint256 k, uint256 src, uint256 n, uint256 stride) internal pure returns (uint256) {
        assembly ("memory-safe") {
            let dst := add(add(out, 32), shl(2, k))
            let s := mul(eq(stride, 1), 248)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                mstore(add(dst, shl(2, i)), shl(224, shr(s, calldataload(add(src, mul(i, stride))))))
            }
        }
        return k + n;
    }

    /// `keccak256(abi.encodePacked(output))`: the output felts as uint256 words.
    function outputHash(bytes calldata encodedClaim) public pure returns (bytes32) {
        return outputHashOf(encodedClaim, view_(encodedClaim));
    }

    function outputHashOf(bytes calldata encodedClaim, ClaimView memory v) internal pure returns (bytes32) {
        (uint256 at, uint256 n) = arrayAt(encodedClaim, v, v.pd.output);
        return hashWords(encodedClaim, at, n, false, 0);
    }

    /// The fact `StarfarmCore.updateState` requires: keccak256(abi.encode(programHash,
    /// keccak256(abi.encodePacked(output)))) (starfarm-common's `fact`), the program hash the
    /// one registered for the claim's program.
    function fact(bytes calldata encodedClaim) external view returns (bytes32) {
        // Read in place: a block program's claim is ~240 KB, ~3.2 M gas a full decode. The
        // replay before it (`mixClaim`) held these bytes to the canonical encoding.
        ClaimView memory v = view_(encodedClaim);
        bytes32 hash = programHashes[programKeyOf(encodedClaim, v)];
        require(hash != 0, "claim: program not registered");
        return keccak256(abi.encode(hash, outputHashOf(encodedClaim, v)));
    }

    /// The Keccak Merkle hasher's leaf of the felts' 9-bit limbs (28 a felt, low limb first),
    /// each a big-endian uint32, of the `n` felts at calldata position `src`: what `PublicData::mix_into` mixes as the output's and the
    /// program's roots. In assembly, eight limbs packed into a word and written with one plain
    /// `mstore` (the next store overwrites the zeros past a felt's 112 bytes): ~270 gas a limb
    /// with a checked read-modify-write per limb made a block program's root (3,720 felts)
    /// 27.8 M gas, over EIP-7825's cap. The leaf is built in scratch memory past the free
    /// pointer (not allocated: nothing else is written before it is hashed).
    function feltsRoot(uint256 src, uint256 n) internal pure returns (bytes32 root) {
        assembly ("memory-safe") {
            // Limbs 0..7 of v (9 bits each), limb j in bytes 4j..4j+3 of the word.
            function pack8(v) -> w {
                w := or(shl(224, and(v, 0x1ff)), shl(192, and(shr(9, v), 0x1ff)))
                w := or(w, or(shl(160, and(shr(18, v), 0x1ff)), shl(128, and(shr(27, v), 0x1ff))))
                w := or(w, or(shl(96, and(shr(36, v), 0x1ff)), shl(64, and(shr(45, v), 0x1ff))))
                w := or(w, or(shl(32, and(shr(54, v), 0x1ff)), and(shr(63, v), 0x1ff)))
            }
            let leaf := mload(0x40)
            let at := leaf
            for { let end := add(src, shl(5, n)) } lt(src, end) { src := add(src, 32) } {
                let v := calldataload(src)
                // 28 limbs: three words of eight, then four (a felt is below 2^252; the
                // 16 zero bytes after them are the next felt's or past the leaf).
                mstore(at, pack8(v))
                mstore(add(at, 32), pack8(shr(72, v)))
                mstore(add(at, 64), pack8(shr(144, v)))
                mstore(add(at, 96), pack8(shr(216, v)))
                at := add(at, 112)
            }
            root := keccak256(leaf, sub(at, leaf))
        }
    }

    /// The contract that derives the sampling layout (its tables fill a contract of their own).
    ClaimLayout public immutable layoutContract;

    /// Reverts unless the trees are the claim's: `preprocessedRoot` the deployment's root of
    /// the claim's variant at this blowup, `columnsHash` and `heights` the layout
    /// `ClaimLayout.layout` derives from the claim (`ClaimLayout.checkLayout`). The prover
    /// states no layout and no preprocessed trace of its own. First the encoding's structure
    /// (`canonical`; `mixClaim`, next in the replay, checks the arrays' values), then each relation's uses
    /// below the prime (`checkRelationUses`): the replay's first look at the claim's sizes, as
    /// `verify_cairo` checks them before its transcript (the head is decoded here anyway).
    function checkTrees(
        bytes calldata encodedClaim,
        uint256 logBlowup,
        bytes32 preprocessedRoot,
        bytes32 columnsHash,
        uint256 heights
    ) external view {
        // The encoding first: the decodes below (and `ClaimLayout`'s) would revert without a
        // reason on bytes that are not a claim's.
        canonical(encodedClaim, false);
        ClaimHead memory h = abi.decode(encodedClaim, (ClaimHead));
        checkRelationUses(h.enabled, h.logSizes);
        bytes32 root = preprocessedRoots[uint256(h.variant) << 8 | logBlowup];
        require(root != 0 && root == preprocessedRoot, "preprocessed root: not the variant's");
        layoutContract.checkLayout(encodedClaim, logBlowup, columnsHash, heights);
    }
}
