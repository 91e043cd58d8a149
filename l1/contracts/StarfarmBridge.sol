// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IStarfarmMessaging} from "./IStarfarmMessaging.sol";

/// @title StarfarmBridge — ETH deposits to starfarm's native token
/// @notice `deposit` holds the ETH and sends the L1→L2 message the sequencer turns into a
/// DEPOSIT transaction: (from = this bridge, to = l2Recipient, nonce, selector = "deposit",
/// payload = [amount in wei]). The sequencer's L1 watcher must honour deposit messages only
/// when their `from` is this bridge: anyone can send a message with the "deposit" selector
/// straight to the core without paying.
///
/// NOT BUILT YET: releasing the bridged ETH on withdrawal. An L2 withdrawal is an L2→L1 message
/// (from = L2 sender, to = l1_recipient, payload = [amount]) that the recipient consumes on the
/// core directly (`consumeMessageFromL2`); its payload names no recipient the bridge could pay,
/// so this contract has no withdrawal function and the deposited ETH stays here.
contract StarfarmBridge {
    /// The Cairo short string "deposit" (its ASCII bytes as a big-endian number).
    uint256 public constant DEPOSIT_SELECTOR = 0x6465706f736974;
    /// Starknet's L2_ADDRESS_UPPER_BOUND = 2^251 - 256: L2 addresses are below it.
    uint256 public constant L2_ADDRESS_UPPER_BOUND = 2 ** 251 - 256;

    IStarfarmMessaging public immutable core;

    event Deposit(address indexed sender, uint256 indexed l2Recipient, uint256 amount, uint256 nonce, bytes32 msgHash);

    constructor(IStarfarmMessaging core_) {
        require(address(core_) != address(0), "ZERO_ADDRESS");
        core = core_;
    }

    /// Deposits `msg.value` wei for `l2Recipient` (the checks are the sequencer's, so that no
    /// deposit message is one it would refuse).
    function deposit(uint256 l2Recipient) external payable returns (bytes32, uint256) {
        require(msg.value > 0, "ZERO_AMOUNT");
        require(msg.value < 2 ** 128, "AMOUNT_TOO_LARGE");
        require(l2Recipient != 0 && l2Recipient < L2_ADDRESS_UPPER_BOUND, "INVALID_L2_ADDRESS");
        uint256[] memory payload = new uint256[](1);
        payload[0] = msg.value;
        (bytes32 msgHash, uint256 nonce) = core.sendMessageToL2{value: 0}(l2Recipient, DEPOSIT_SELECTOR, payload);
        emit Deposit(msg.sender, l2Recipient, msg.value, nonce, msgHash);
        return (msgHash, nonce);
    }
}
