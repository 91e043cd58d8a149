// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IFactRegistry} from "./IFactRegistry.sol";

/// @title AttestedFactRegistry — a TRUSTED fact registry
/// @notice THIS REGISTRY DOES NOT VERIFY PROOFS. It records a fact when a prover key that the
/// owner registered signs it, and it TRUSTS those signers to have verified a Stwo proof of the
/// block program with at least the security bits they sign. Anyone holding a registered key can
/// make any state transition valid. It is the stop-gap until a contract that verifies Stwo
/// proofs on chain replaces it behind `IFactRegistry` (`StarfarmCore.setFactRegistry`).
///
/// Signature scheme: EIP-712 typed data.
///   domain  = EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)
///             with name "StarfarmAttestedFactRegistry", version "1", the chain id, this contract
///   message = FactAttestation(bytes32 fact,uint32 securityBits)
///   digest  = keccak256(0x19 0x01 ‖ domainSeparator ‖ keccak256(abi.encode(
///               FACT_ATTESTATION_TYPEHASH, fact, uint256(securityBits))))
///   signature = r (32 bytes) ‖ s (32 bytes) ‖ v (1 byte, 27 or 28), s ≤ secp256k1n/2.
/// `attestationDigest(fact, securityBits)` returns the digest a signer must sign.
contract AttestedFactRegistry is IFactRegistry {
    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant FACT_ATTESTATION_TYPEHASH = keccak256("FactAttestation(bytes32 fact,uint32 securityBits)");
    bytes32 private constant NAME_HASH = keccak256("StarfarmAttestedFactRegistry");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// secp256k1n / 2: signatures with a larger s are malleable twins and are refused.
    uint256 private constant HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    /// Security floor at deployment (the production proving profile has 96 bits).
    uint32 public constant DEFAULT_MIN_SECURITY_BITS = 96;

    address public owner;
    /// Registered prover keys (Ethereum addresses of their secp256k1 keys).
    mapping(address => bool) public isSigner;
    /// Facts below this many security bits are refused, at registration and by `isValid`.
    uint32 public minSecurityBits;
    /// Security bits a fact was attested with (the highest, if attested more than once); 0 = none.
    mapping(bytes32 => uint32) public factSecurityBits;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event SignerAdded(address indexed signer);
    event SignerRemoved(address indexed signer);
    event MinSecurityBitsChanged(uint32 previousBits, uint32 newBits);
    event FactRegistered(bytes32 indexed fact, address indexed signer, uint32 securityBits);

    modifier onlyOwner() {
        require(msg.sender == owner, "ONLY_OWNER");
        _;
    }

    constructor(address initialOwner) {
        require(initialOwner != address(0), "ZERO_ADDRESS");
        owner = initialOwner;
        minSecurityBits = DEFAULT_MIN_SECURITY_BITS;
        emit OwnershipTransferred(address(0), initialOwner);
        emit MinSecurityBitsChanged(0, DEFAULT_MIN_SECURITY_BITS);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "ZERO_ADDRESS");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function addSigner(address signer) external onlyOwner {
        require(signer != address(0), "ZERO_ADDRESS");
        require(!isSigner[signer], "SIGNER_ALREADY_REGISTERED");
        isSigner[signer] = true;
        emit SignerAdded(signer);
    }

    function removeSigner(address signer) external onlyOwner {
        require(isSigner[signer], "UNKNOWN_SIGNER");
        isSigner[signer] = false;
        emit SignerRemoved(signer);
    }

    /// Raising the floor also invalidates facts registered below it (see `isValid`).
    function setMinSecurityBits(uint32 bits) external onlyOwner {
        require(bits > 0, "ZERO_SECURITY_BITS");
        emit MinSecurityBitsChanged(minSecurityBits, bits);
        minSecurityBits = bits;
    }

    /// EIP-712 domain separator of this registry on the current chain.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// The digest a prover key signs to attest `fact` at `securityBits`.
    function attestationDigest(bytes32 fact, uint32 securityBits) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(FACT_ATTESTATION_TYPEHASH, fact, uint256(securityBits)));
        return keccak256(abi.encodePacked(hex"1901", domainSeparator(), structHash));
    }

    /// Records `fact` when `signature` is a registered signer's attestation of it at
    /// `securityBits` (≥ `minSecurityBits`). Idempotent: registering again keeps the highest bits.
    function registerFact(bytes32 fact, uint32 securityBits, bytes calldata signature) external {
        require(securityBits >= minSecurityBits, "SECURITY_BITS_TOO_LOW");
        address signer = recoverSigner(attestationDigest(fact, securityBits), signature);
        require(isSigner[signer], "UNKNOWN_SIGNER");
        if (securityBits > factSecurityBits[fact]) {
            factSecurityBits[fact] = securityBits;
        }
        emit FactRegistered(fact, signer, securityBits);
    }

    /// True when `fact` was attested with at least the current `minSecurityBits`.
    function isValid(bytes32 fact) external view override returns (bool) {
        uint32 bits = factSecurityBits[fact];
        return bits != 0 && bits >= minSecurityBits;
    }

    /// ecrecover with the checks it lacks: 65-byte length, v ∈ {27, 28}, low s, non-zero result.
    function recoverSigner(bytes32 digest, bytes calldata signature) public pure returns (address) {
        require(signature.length == 65, "BAD_SIGNATURE_LENGTH");
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        require(uint256(s) <= HALF_CURVE_ORDER, "BAD_SIGNATURE_S");
        require(v == 27 || v == 28, "BAD_SIGNATURE_V");
        address signer = ecrecover(digest, v, r, s);
        require(signer != address(0), "BAD_SIGNATURE");
        return signer;
    }
}
