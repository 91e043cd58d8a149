// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {QM31} from "./QM31.sol";
import {CirclePoints} from "./CirclePoints.sol";
import {LiftedMerkle} from "./LiftedMerkle.sol";

/// Stwo 2.3's circle FRI decommitment (`FriVerifier::decommit`) with fold step 1: the first
/// layer (a circle evaluation) folds into a line, each inner layer halves the line, and the
/// last layer polynomial must take the folded values at the final positions.
///
/// A layer is opened at the pairs {2k, 2k + 1} holding its positions: the values at queried
/// positions come from the previous fold (the PCS quotients for the first layer), the others
/// from the layer's witness values, in order (`compute_decommitment_positions_and_rebuild_evals`).
/// Its tree is a Merkle tree over the domain, a leaf keccak256 of the QM31's four coordinates
/// (big-endian uint32s: four lifted columns of one size). A pair folds to
/// f0 + α f1 with (f0, f1) = (f(e) + f(o), (f(e) - f(o)) / t) (`ibutterfly`), t the even
/// position's y coordinate on the circle, its x coordinate on a line. The position's x on the
/// next line is π(x) = 2 x^2 - 1, so one circle point per query serves every layer.
library CircleFri {
    uint256 internal constant P = 0x7fffffff;

    /// One layer's decommitment: the values the verifier cannot compute, and the Merkle witness.
    struct Layer {
        /// QM31s, four big-endian uint32s each, in position order.
        bytes values;
        bytes32[] witness;
    }

    /// A layer's positions (sorted, distinct), their values and their coordinate (y on the
    /// circle layer, x on a line).
    struct Evals {
        uint256[] positions;
        uint256[] values;
        uint256[] coord;
    }

    /// A layer opened at its pairs.
    struct Opened {
        /// Per pair: the even then the odd position, and their leaves.
        uint256[] index;
        bytes32[] hash;
        /// Per pair: the values at the even and odd positions and the even one's coordinate.
        uint256[] even;
        uint256[] odd;
        uint256[] twiddles;
        uint256 pairs;
        /// Witness values used so far.
        uint256 used;
    }

    /// What FRI's decommitment starts from.
    struct Input {
        /// The first layer's positions (the lifted domain's), values (the PCS quotients) and y.
        Evals first;
        /// The positions' x.
        uint256[] px;
        /// The lifted domain's log size.
        uint256 logSize;
        /// The first layer's folding coefficient, then each inner layer's.
        uint256[] alphas;
    }

    /// Checks the decommitment of every layer (`roots`: the first layer's, then the inner
    /// layers') and the last layer's values; reverts with a reason. Returns the last layer's
    /// values.
    function verify(Input memory input, Layer[] calldata layers, bytes32[] calldata roots, bytes calldata lastLayerPoly)
        internal
        view
        returns (uint256[] memory)
    {
        require(layers.length == roots.length, "FRI: a layer decommitment per layer");
        Evals memory e = input.first;
        for (uint256 i = 0; i < layers.length; i++) {
            e = step(input, e, layers[i], roots[i], i);
        }
        checkLastLayer(e, lastLayerPoly);
        return e.values;
    }

    /// Layer `i`'s check and fold.
    function step(Input memory input, Evals memory e, Layer calldata layer, bytes32 root, uint256 i)
        internal
        view
        returns (Evals memory)
    {
        uint256[] memory circleX = i == 0 ? input.px : new uint256[](0);
        return foldLayer(e, circleX, layer, root, input.logSize - i, input.alphas[i], layerName(i));
    }

    function layerName(uint256 i) internal pure returns (string memory) {
        return i == 0 ? "FRI first layer" : string.concat("FRI layer ", itoa(i));
    }

    /// Opens one layer at its pairs, checks its Merkle tree, folds: the next layer's positions,
    /// values and x coordinates. `circleX` holds the positions' x on the first (circle) layer,
    /// and is empty on a line layer.
    function foldLayer(
        Evals memory e,
        uint256[] memory circleX,
        Layer calldata layer,
        bytes32 root,
        uint256 logSize,
        uint256 alpha,
        string memory what
    ) internal view returns (Evals memory next) {
        // Reasons are concatenated only on failure: string.concat allocates.
        if (layer.values.length % 16 != 0) revert(string.concat(what, ": values not whole QM31s"));
        (Opened memory o, Evals memory n) = open(e, circleX, layer.values, what);
        if (o.used != layer.values.length / 16) revert(string.concat(what, ": witness values too long"));
        LiftedMerkle.verifyHashed(root, o.index, o.hash, 2 * o.pairs, logSize, layer.witness, what);
        CirclePoints.batchInverse(o.twiddles);
        for (uint256 j = 0; j < o.pairs; j++) {
            uint256 f0 = QM31.add(o.even[j], o.odd[j]);
            uint256 f1 = QM31.mulM31(QM31.sub(o.even[j], o.odd[j]), o.twiddles[j]);
            n.values[j] = QM31.add(f0, QM31.mul(alpha, f1));
        }
        next = n;
    }

    /// The pairs {2k, 2k + 1} holding `e`'s positions, their values (the witness's where not
    /// queried) and leaves; the next layer's positions k and x coordinates.
    function open(Evals memory e, uint256[] memory circleX, bytes calldata witnessValues, string memory what)
        private
        pure
        returns (Opened memory o, Evals memory next)
    {
        uint256 n = e.positions.length;
        o = Opened(new uint256[](2 * n), new bytes32[](2 * n), new uint256[](n), new uint256[](n), new uint256[](n), 0, 0);
        next = Evals(new uint256[](n), new uint256[](n), new uint256[](n));
        for (uint256 i = 0; i < n; i++) {
            uint256 pos = e.positions[i];
            uint256 at = o.pairs;
            // This position's coordinate, and the next layer's x (read before a pair's odd
            // position moves `i`).
            uint256 t = e.coord[i];
            next.coord[at] = circleX.length != 0 ? circleX[i] : addmod(mulmod(2, mulmod(t, t, P), P), P - 1, P);
            if (pos & 1 == 0) {
                o.even[at] = e.values[i];
                if (i + 1 < n && e.positions[i + 1] == pos + 1) {
                    o.odd[at] = e.values[++i];
                } else {
                    o.odd[at] = witness(o, witnessValues, what);
                }
            } else {
                o.even[at] = witness(o, witnessValues, what);
                o.odd[at] = e.values[i];
            }
            // The even position's coordinate: the odd one's point is the conjugate (circle) or
            // the negation (line) of the even one's.
            o.twiddles[at] = pos & 1 == 0 ? t : (P - t) % P;
            next.positions[at] = pos >> 1;
            o.index[2 * at] = pos & ~uint256(1);
            o.hash[2 * at] = leaf(o.even[at]);
            o.index[2 * at + 1] = pos | 1;
            o.hash[2 * at + 1] = leaf(o.odd[at]);
            o.pairs = at + 1;
        }
        shrink(o.twiddles, o.pairs);
        shrink(next.positions, o.pairs);
        shrink(next.values, o.pairs);
        shrink(next.coord, o.pairs);
    }

    /// The next witness value.
    function witness(Opened memory o, bytes calldata values, string memory what) private pure returns (uint256) {
        if (16 * (o.used + 1) > values.length) revert(string.concat(what, ": witness values too short"));
        return QM31.readPacked(values, 16 * o.used++);
    }

    /// The last layer polynomial (coefficients in bit-reversed order, `LinePoly::eval_at_point`)
    /// at each final position's x must equal the folded value there.
    function checkLastLayer(Evals memory e, bytes calldata poly) internal pure {
        uint256 n = poly.length / 16;
        require(n != 0 && n & (n - 1) == 0, "FRI: last layer size not a power of two");
        uint256 logN = 0;
        while ((1 << logN) < n) logN++;
        uint256[] memory buffer = new uint256[](n);
        uint256[] memory doublings = new uint256[](logN);
        for (uint256 i = 0; i < e.positions.length; i++) {
            uint256 x = e.coord[i];
            for (uint256 j = 0; j < logN; j++) {
                doublings[j] = x;
                x = addmod(mulmod(2, mulmod(x, x, P), P), P - 1, P);
            }
            for (uint256 k = 0; k < n; k++) {
                buffer[k] = QM31.readPacked(poly, 16 * k);
            }
            // fold: the innermost split pairs neighbours with the last doubling.
            for (uint256 level = logN; level > 0; level--) {
                uint256 half = 1 << (level - 1);
                for (uint256 k = 0; k < half; k++) {
                    buffer[k] = QM31.add(buffer[2 * k], QM31.mulM31(buffer[2 * k + 1], doublings[level - 1]));
                }
            }
            require(buffer[0] == e.values[i], "FRI: last layer evaluation mismatch");
        }
    }

    /// keccak256 of a QM31's coordinates as four big-endian uint32s.
    function leaf(uint256 x) private pure returns (bytes32 h) {
        (uint256 a, uint256 b, uint256 c, uint256 d) = QM31.coords(x);
        assembly ("memory-safe") {
            mstore(0x00, shl(128, or(or(shl(96, a), shl(64, b)), or(shl(32, c), d))))
            h := keccak256(0x00, 16)
        }
    }

    function shrink(uint256[] memory a, uint256 n) private pure {
        assembly ("memory-safe") {
            mstore(a, n)
        }
    }

    function itoa(uint256 v) private pure returns (string memory) {
        if (v == 0) return "0";
        bytes memory out;
        while (v != 0) {
            out = abi.encodePacked(bytes1(uint8(48 + (v % 10))), out);
            v /= 10;
        }
        return string(out);
    }
}
