// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IFactRegistry} from "./IFactRegistry.sol";
import {IStarfarmMessaging} from "./IStarfarmMessaging.sol";

/// @title StarfarmCore
/// @notice Starfarm's L1 core contract, in the shape of Starknet's: it holds the settled state
/// (global root, block number, block hash), accepts the output of the block program once its
/// fact is valid in the fact registry, records L2→L1 messages for their recipients to consume
/// and consumes the L1→L2 messages the block consumed.
///
/// A block is proven as one or more chained transaction ranges; `updateState` settles ONE range.
/// Between ranges of a block the contract keeps the in-progress block's tx index and tx
/// commitment. fact = keccak256(abi.encode(programHash, keccak256(abi.encodePacked(programOutput)))).
///
/// Program output (felts, see docs/sequencer.md "Block program output"):
///   [0] previous global root   [1] new global root   [2] block number   [3] parent block hash
///   [4] block hash (tx_end = tx_count) or 0          [5] timestamp
///   [6] tx_start  [7] tx_end  [8] tx_count  [9] tx_commitment before  [10] tx_commitment after
///   [11] n1, then n1 felts of messages to L1:  from, to, payload_size, payload…
///   [12 + n1] n2, then n2 felts of messages to L2: from, to, nonce, selector, payload_size, payload…
///   and nothing after.
contract StarfarmCore is IStarfarmMessaging {
    uint256 private constant HEADER_SIZE = 11;
    uint256 private constant PREV_ROOT = 0;
    uint256 private constant NEW_ROOT = 1;
    uint256 private constant BLOCK_NUMBER = 2;
    uint256 private constant PARENT_HASH = 3;
    uint256 private constant BLOCK_HASH = 4;
    uint256 private constant TIMESTAMP = 5;
    uint256 private constant TX_START = 6;
    uint256 private constant TX_END = 7;
    uint256 private constant TX_COUNT = 8;
    uint256 private constant COMMITMENT_BEFORE = 9;
    uint256 private constant COMMITMENT_AFTER = 10;
    /// from, to, payload_size
    uint256 private constant MESSAGE_TO_L1_PREFIX_SIZE = 3;
    /// from, to, nonce, selector, payload_size
    uint256 private constant MESSAGE_TO_L2_PREFIX_SIZE = 5;
    /// Bound on segment and payload sizes (Starknet's), so that offsets never overflow.
    uint256 private constant MAX_SIZE = 2 ** 30;

    address public owner;
    /// Cairo program hash of the block program whose output `updateState` accepts.
    uint256 public programHash;
    IFactRegistry public factRegistry;

    /// Global state root after the last settled range.
    uint256 public stateRoot;
    /// Number the next block to start must have (0 before any block; the last settled block is one less).
    uint256 public nextBlockNumber;
    /// Hash of the last fully settled block (0 before the first).
    uint256 public stateBlockHash;
    /// Transactions of block `nextBlockNumber` settled so far (0: no block in progress).
    uint256 public txIndex;
    /// tx_commitment after the settled transactions of the in-progress block (0 when none).
    uint256 public txCommitment;
    /// tx_count and timestamp of the in-progress block (checked on each of its later ranges).
    uint256 public inProgressTxCount;
    uint256 public inProgressTimestamp;

    /// L2→L1 message hash → number of such messages not yet consumed.
    mapping(bytes32 => uint256) public l2ToL1Messages;
    /// L1→L2 message hash → fee + 1 while pending, 0 once consumed (or never sent).
    mapping(bytes32 => uint256) public l1ToL2Messages;
    /// Nonce of the next L1→L2 message.
    uint256 public l1ToL2MessageNonce;

    /// A block fully settled (Starknet's event).
    event LogStateUpdate(uint256 globalRoot, int256 blockNumber, uint256 blockHash);
    /// One transaction range settled.
    event LogRangeSettled(uint256 indexed blockNumber, uint256 txStart, uint256 txEnd, uint256 globalRoot, bytes32 fact);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event ProgramHashChanged(uint256 oldProgramHash, uint256 newProgramHash);
    event FactRegistryChanged(address oldRegistry, address newRegistry);

    modifier onlyOwner() {
        require(msg.sender == owner, "ONLY_OWNER");
        _;
    }

    /// @param initialStateRoot global root of the state before block 0 (starfarm's empty state:
    ///        H_many("STARKNET_STATE_V0", 0, 0), the block program's field 0 of block 0).
    constructor(uint256 programHash_, IFactRegistry factRegistry_, uint256 initialStateRoot) {
        require(address(factRegistry_) != address(0), "ZERO_ADDRESS");
        owner = msg.sender;
        programHash = programHash_;
        factRegistry = factRegistry_;
        stateRoot = initialStateRoot;
        emit OwnershipTransferred(address(0), msg.sender);
        emit ProgramHashChanged(0, programHash_);
        emit FactRegistryChanged(address(0), address(factRegistry_));
    }

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "ZERO_ADDRESS");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function setProgramHash(uint256 newProgramHash) external onlyOwner {
        emit ProgramHashChanged(programHash, newProgramHash);
        programHash = newProgramHash;
    }

    /// Replaces the registry (e.g. by a contract that verifies Stwo proofs on chain).
    function setFactRegistry(IFactRegistry newRegistry) external onlyOwner {
        require(address(newRegistry) != address(0), "ZERO_ADDRESS");
        emit FactRegistryChanged(address(factRegistry), address(newRegistry));
        factRegistry = newRegistry;
    }

    /// Starknet's view: the last fully settled block's number, -1 before the first.
    function stateBlockNumber() external view returns (int256) {
        return int256(nextBlockNumber) - 1;
    }

    /// The fact `updateState` requires for `programOutput`.
    function outputFact(uint256[] calldata programOutput) public view returns (bytes32) {
        return keccak256(abi.encode(programHash, keccak256(abi.encodePacked(programOutput))));
    }

    /// Settles one transaction range of a block from the block program's output.
    function updateState(uint256[] calldata programOutput) external {
        // Layout: header, then the two message segments, filling the output exactly.
        require(programOutput.length > HEADER_SIZE, "OUTPUT_TOO_SHORT");
        uint256 l1Size = programOutput[HEADER_SIZE];
        require(l1Size < MAX_SIZE, "INVALID_MESSAGE_SEGMENT_SIZE");
        uint256 l2SizeOffset = HEADER_SIZE + 1 + l1Size;
        require(programOutput.length > l2SizeOffset, "OUTPUT_TOO_SHORT");
        uint256 l2Size = programOutput[l2SizeOffset];
        require(l2Size < MAX_SIZE, "INVALID_MESSAGE_SEGMENT_SIZE");
        require(programOutput.length == l2SizeOffset + 1 + l2Size, "INVALID_OUTPUT_LENGTH");

        uint256 blockNumber = programOutput[BLOCK_NUMBER];
        uint256 txStart = programOutput[TX_START];
        uint256 txEnd = programOutput[TX_END];
        uint256 txCount = programOutput[TX_COUNT];

        // Chain: the range continues exactly where settlement stands.
        require(blockNumber >= nextBlockNumber, "BLOCK_ALREADY_SETTLED");
        require(blockNumber == nextBlockNumber, "INVALID_BLOCK_NUMBER");
        require(txStart >= txIndex, "RANGE_ALREADY_SETTLED");
        require(txStart == txIndex, "INVALID_TX_START");
        require(programOutput[PARENT_HASH] == stateBlockHash, "INVALID_PARENT_HASH");
        require(programOutput[COMMITMENT_BEFORE] == txCommitment, "INVALID_TX_COMMITMENT");
        require(programOutput[PREV_ROOT] == stateRoot, "INVALID_PREVIOUS_ROOT");
        if (txStart != 0) {
            require(txCount == inProgressTxCount, "INVALID_TX_COUNT");
            require(programOutput[TIMESTAMP] == inProgressTimestamp, "INVALID_TIMESTAMP");
        }
        require(txEnd <= txCount, "INVALID_TX_END");
        require(txEnd > txStart || txCount == 0, "EMPTY_RANGE");
        bool complete = txEnd == txCount;
        uint256 blockHash = programOutput[BLOCK_HASH];
        if (complete) {
            require(blockHash != 0, "INVALID_BLOCK_HASH");
        } else {
            require(blockHash == 0, "INVALID_BLOCK_HASH");
        }

        // The proof (or, with the attested registry, a trusted prover's word).
        bytes32 fact = outputFact(programOutput);
        require(factRegistry.isValid(fact), "FACT_NOT_REGISTERED");

        stateRoot = programOutput[NEW_ROOT];
        if (complete) {
            nextBlockNumber = blockNumber + 1;
            stateBlockHash = blockHash;
            txIndex = 0;
            txCommitment = 0;
            inProgressTxCount = 0;
            inProgressTimestamp = 0;
        } else {
            txIndex = txEnd;
            txCommitment = programOutput[COMMITMENT_AFTER];
            inProgressTxCount = txCount;
            inProgressTimestamp = programOutput[TIMESTAMP];
        }

        processMessagesToL1(programOutput[HEADER_SIZE + 1:l2SizeOffset]);
        processMessagesToL2(programOutput[l2SizeOffset + 1:]);

        emit LogRangeSettled(blockNumber, txStart, txEnd, programOutput[NEW_ROOT], fact);
        if (complete) {
            emit LogStateUpdate(programOutput[NEW_ROOT], int256(blockNumber), blockHash);
        }
    }

    /// Records each message: hash = keccak256(abi.encodePacked(from, to, payload_size, payload)),
    /// as Starknet. A `to` of more than 160 bits is recorded but nobody can consume it (Starknet's rule).
    function processMessagesToL1(uint256[] calldata segment) private {
        uint256 offset = 0;
        while (offset < segment.length) {
            require(segment.length - offset >= MESSAGE_TO_L1_PREFIX_SIZE, "MESSAGE_TOO_SHORT");
            uint256 payloadSize = segment[offset + 2];
            require(payloadSize <= segment.length - offset - MESSAGE_TO_L1_PREFIX_SIZE, "TRUNCATED_MESSAGE_PAYLOAD");
            uint256 end = offset + MESSAGE_TO_L1_PREFIX_SIZE + payloadSize;
            uint256[] calldata message = segment[offset:end];
            l2ToL1Messages[keccak256(abi.encodePacked(message))] += 1;
            emit LogMessageToL1(message[0], address(uint160(message[1])), message[MESSAGE_TO_L1_PREFIX_SIZE:]);
            offset = end;
        }
    }

    /// Consumes each message: hash = keccak256(abi.encodePacked(from, to, nonce, selector,
    /// payload_size, payload)), which must be pending (sent by `sendMessageToL2`, not yet consumed).
    function processMessagesToL2(uint256[] calldata segment) private {
        uint256 offset = 0;
        while (offset < segment.length) {
            require(segment.length - offset >= MESSAGE_TO_L2_PREFIX_SIZE, "MESSAGE_TOO_SHORT");
            uint256 payloadSize = segment[offset + 4];
            require(payloadSize <= segment.length - offset - MESSAGE_TO_L2_PREFIX_SIZE, "TRUNCATED_MESSAGE_PAYLOAD");
            uint256 end = offset + MESSAGE_TO_L2_PREFIX_SIZE + payloadSize;
            uint256[] calldata message = segment[offset:end];
            bytes32 msgHash = keccak256(abi.encodePacked(message));
            require(l1ToL2Messages[msgHash] > 0, "INVALID_MESSAGE_TO_CONSUME");
            l1ToL2Messages[msgHash] = 0;
            // A pending hash was made from uint256(uint160(sender)), so `from` fits 160 bits.
            emit ConsumedMessageToL2(
                address(uint160(message[0])), message[1], message[3], message[MESSAGE_TO_L2_PREFIX_SIZE:], message[2]
            );
            offset = end;
        }
    }

    /// Starknet's `sendMessageToL2`: hash = keccak256(abi.encodePacked(uint256(uint160(msg.sender)),
    /// toAddress, nonce, selector, payload.length, payload)); records fee + 1 (the fee, `msg.value`,
    /// stays in this contract: nothing collects it yet).
    function sendMessageToL2(uint256 toAddress, uint256 selector, uint256[] calldata payload)
        external
        payable
        override
        returns (bytes32, uint256)
    {
        uint256 nonce = l1ToL2MessageNonce;
        l1ToL2MessageNonce = nonce + 1;
        bytes32 msgHash = keccak256(
            abi.encodePacked(uint256(uint160(msg.sender)), toAddress, nonce, selector, payload.length, payload)
        );
        l1ToL2Messages[msgHash] = msg.value + 1;
        emit LogMessageToL2(msg.sender, toAddress, selector, payload, nonce, msg.value);
        return (msgHash, nonce);
    }

    /// Starknet's `consumeMessageFromL2`: the caller consumes one message addressed to it.
    function consumeMessageFromL2(uint256 fromAddress, uint256[] calldata payload)
        external
        override
        returns (bytes32)
    {
        bytes32 msgHash = keccak256(
            abi.encodePacked(fromAddress, uint256(uint160(msg.sender)), payload.length, payload)
        );
        require(l2ToL1Messages[msgHash] > 0, "INVALID_MESSAGE_TO_CONSUME");
        l2ToL1Messages[msgHash] -= 1;
        emit ConsumedMessageToL1(fromAddress, msg.sender, payload);
        return msgHash;
    }
}
