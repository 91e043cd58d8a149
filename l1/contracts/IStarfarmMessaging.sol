// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IStarfarmMessaging
/// @notice The messaging half of StarfarmCore, in the shape of Starknet's `IStarknetMessaging`.
interface IStarfarmMessaging {
    /// An L2→L1 message recorded by a state update (Starknet's event).
    event LogMessageToL1(uint256 indexed fromAddress, address indexed toAddress, uint256[] payload);

    /// An L1→L2 message sent (Starknet's event).
    event LogMessageToL2(
        address indexed fromAddress,
        uint256 indexed toAddress,
        uint256 indexed selector,
        uint256[] payload,
        uint256 nonce,
        uint256 fee
    );

    /// An L2→L1 message consumed on L1 by its recipient (Starknet's event).
    event ConsumedMessageToL1(uint256 indexed fromAddress, address indexed toAddress, uint256[] payload);

    /// An L1→L2 message consumed by a state update (Starknet's event).
    event ConsumedMessageToL2(
        address indexed fromAddress,
        uint256 indexed toAddress,
        uint256 indexed selector,
        uint256[] payload,
        uint256 nonce
    );

    /// Sends a message to L2 contract/account `toAddress`. `msg.value` is recorded as the fee.
    /// @return msgHash the message hash, and the nonce the message was sent with.
    function sendMessageToL2(uint256 toAddress, uint256 selector, uint256[] calldata payload)
        external
        payable
        returns (bytes32, uint256);

    /// Consumes one L2→L1 message from `fromAddress` to `msg.sender` with this payload.
    function consumeMessageFromL2(uint256 fromAddress, uint256[] calldata payload) external returns (bytes32);
}
