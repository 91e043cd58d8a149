//! The L1 watcher: follows the core contract's events and tells L2 what happened on L1:
//! blocks settled (`LogStateUpdate`: their transactions become ACCEPTED_ON_L1) and deposits
//! made through the bridge (`LogMessageToL2`: they become DEPOSIT transactions).
//!
//! Only messages sent by the bridge, with the `"deposit"` selector and a one-felt payload,
//! are deposits: `sendMessageToL2` is open to anyone, and only the bridge holds the value.
//! Events are delivered at least once (a restarted watcher reads again from its start
//! block, and a poll whose delivery failed is repeated): an [`L2Sink`] must be idempotent,
//! as the sequencer is (a deposit's transaction hash is known once admitted).

use alloy::primitives::Address;
use alloy::providers::Provider;
use starknet_types_core::felt::Felt;

use crate::client::{retry, L1Client, MessageToL2};
use crate::contracts::StarfarmCore;
use crate::fact::u256_to_felt;
use crate::settled_log::StateUpdate;
use crate::L1Error;

/// The deposit selector: the Cairo short string `"deposit"`.
pub const DEPOSIT_SELECTOR: Felt = Felt::from_hex_unchecked("0x6465706f736974");

/// What L2 is told (the sequencer implements it), and the deposits it is told of.
pub use starfarm_common::settlement::{L1Deposit, L2Sink};

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    L1(#[from] L1Error),
    /// The sink's own error, boxed (its message is part of this one's, so not a source).
    #[error("L2 refused an L1 event: {0}")]
    Sink(Box<dyn std::error::Error + Send + Sync>),
}

impl WatchError {
    fn sink(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Sink(Box::new(e))
    }
}

/// What one poll saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The last block settled in the polled range.
    pub settled: Option<u64>,
    pub deposits: usize,
    /// Messages to L2 that are not bridge deposits.
    pub ignored: usize,
}

/// Follows one deployment from an L1 block on, `confirmations` blocks behind the head.
pub struct Watcher {
    client: L1Client,
    next_block: u64,
    confirmations: u64,
    /// Most L1 blocks read per poll (RPC providers limit log ranges).
    pub max_range: u64,
}

impl Watcher {
    pub fn new(client: L1Client, from_block: u64, confirmations: u64) -> Self {
        Self {
            client,
            next_block: from_block,
            confirmations,
            max_range: 2_000,
        }
    }

    /// The first L1 block the next poll reads.
    pub fn next_block(&self) -> u64 {
        self.next_block
    }

    /// Reads the confirmed events since the last poll and hands them to `sink`; the
    /// watcher moves on only once `sink` took them all.
    pub async fn poll<S: L2Sink>(&mut self, sink: &S) -> Result<Seen, WatchError> {
        let range = confirmed_range(
            &self.client,
            self.next_block,
            self.confirmations,
            self.max_range,
        );
        let Some((from, to)) = range.await? else {
            return Ok(Seen::default());
        };
        let deployment = self.client.deployment()?;
        let core = StarfarmCore::new(deployment.core, self.client.provider().clone());
        let messages = core.LogMessageToL2_filter().from_block(from).to_block(to);
        let messages = retry("LogMessageToL2", || messages.query()).await?;
        let updates = state_updates(&self.client, from, to).await?;

        let mut seen = Seen::default();
        for (event, _) in messages {
            match bridge_deposit(MessageToL2::from_event(event)?, deployment.bridge) {
                Some(deposit) => {
                    sink.deposit(deposit).await.map_err(WatchError::sink)?;
                    seen.deposits += 1;
                }
                None => seen.ignored += 1,
            }
        }
        for update in updates {
            sink.settled(update.block_number)
                .await
                .map_err(WatchError::sink)?;
            seen.settled = Some(update.block_number);
        }
        self.next_block = to + 1;
        Ok(seen)
    }
}

/// The L1 blocks a reader that stands at `next_block` reads next: up to `confirmations`
/// blocks behind the head, at most `max_range` of them; None when none is confirmed yet.
pub(crate) async fn confirmed_range(
    client: &L1Client,
    next_block: u64,
    confirmations: u64,
    max_range: u64,
) -> Result<Option<(u64, u64)>, L1Error> {
    let provider = client.provider();
    let head = retry("eth_blockNumber", || provider.get_block_number()).await?;
    let Some(confirmed) = head.checked_sub(confirmations) else {
        return Ok(None);
    };
    if confirmed < next_block {
        return Ok(None);
    }
    Ok(Some((
        next_block,
        confirmed.min(next_block + max_range.max(1) - 1),
    )))
}

/// The blocks the core settled in L1 blocks `from..=to` (`LogStateUpdate`), in order.
pub(crate) async fn state_updates(
    client: &L1Client,
    from: u64,
    to: u64,
) -> Result<Vec<StateUpdate>, L1Error> {
    let core = StarfarmCore::new(client.deployment()?.core, client.provider().clone());
    let updates = core.LogStateUpdate_filter().from_block(from).to_block(to);
    let updates = retry("LogStateUpdate", || updates.query()).await?;
    Ok(updates
        .into_iter()
        // -1 (nothing settled) is never emitted.
        .filter_map(|(event, _)| {
            Some(StateUpdate {
                block_number: u64::try_from(event.blockNumber).ok()?,
                global_root: u256_to_felt(event.globalRoot),
                block_hash: u256_to_felt(event.blockHash),
            })
        })
        .collect())
}

/// The deposit a message stands for, if it is one the bridge sent.
fn bridge_deposit(message: MessageToL2, bridge: Address) -> Option<L1Deposit> {
    let [amount] = message.payload.as_slice() else {
        return None;
    };
    if message.from_address != bridge || message.selector != DEPOSIT_SELECTOR {
        return None;
    }
    Some(L1Deposit {
        l1_sender: message.from_felt(),
        recipient: message.to_address,
        amount: u128::try_from(amount.to_biguint()).ok()?,
        nonce: message.nonce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::U256;

    fn message(from: Address, selector: Felt, payload: Vec<Felt>) -> MessageToL2 {
        MessageToL2 {
            from_address: from,
            to_address: Felt::from(7u8),
            selector,
            payload,
            nonce: 3,
            fee: U256::ZERO,
        }
    }

    #[test]
    fn only_bridge_deposits_with_one_amount_are_deposits() {
        let bridge = Address::repeat_byte(0xb1);
        let amount = vec![Felt::from(500u32)];
        let deposit = bridge_deposit(message(bridge, DEPOSIT_SELECTOR, amount.clone()), bridge);
        assert_eq!(
            deposit,
            Some(L1Deposit {
                l1_sender: crate::fact::address_to_felt(bridge),
                recipient: Felt::from(7u8),
                amount: 500,
                nonce: 3,
            })
        );
        let stranger = Address::repeat_byte(0x51);
        assert_eq!(
            bridge_deposit(message(stranger, DEPOSIT_SELECTOR, amount.clone()), bridge),
            None
        );
        assert_eq!(
            bridge_deposit(message(bridge, Felt::ONE, amount), bridge),
            None
        );
        assert_eq!(
            bridge_deposit(message(bridge, DEPOSIT_SELECTOR, vec![]), bridge),
            None
        );
        let huge = vec![Felt::from(u128::MAX) + Felt::ONE];
        assert_eq!(
            bridge_deposit(message(bridge, DEPOSIT_SELECTOR, huge), bridge),
            None
        );
    }
}
