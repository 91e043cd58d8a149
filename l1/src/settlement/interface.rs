//! [`SettlementClient`]: what the settlement line needs from L1, so that more than one way
//! of making a fact valid can settle through the same [`Settler`](super::Settler). Today's
//! one is [`AttestedSettlement`]: a registered prover key attests each fact to the
//! `AttestedFactRegistry`. Every call answers with [`L1Error`]: a revert carries the
//! contract's reason, which decides whether the line stops.

use std::future::Future;

use alloy::primitives::B256;
use starknet_types_core::felt::Felt;

use crate::client::{L1Client, L1State, TxOutcome};
use crate::{L1Error, PrivateKeySigner};

/// One wallet settling on one deployment. Writes wait for their receipt.
pub trait SettlementClient: Send + Sync {
    /// Transactions of the paying wallet not mined yet (sent before a restart): the line
    /// sends nothing while there are any, so it never sends a range twice.
    fn in_flight(&self) -> impl Future<Output = Result<u64, L1Error>> + Send;

    /// Where settlement stands on L1.
    fn state(&self) -> impl Future<Output = Result<L1State, L1Error>> + Send;

    /// Whether L1 holds `fact` as valid already.
    fn is_fact_valid(&self, fact: B256) -> impl Future<Output = Result<bool, L1Error>> + Send;

    /// Makes `fact` valid on L1, vouched for at `security_bits` (the conjectured security of
    /// the proofs behind it).
    fn register_fact(
        &self,
        fact: B256,
        security_bits: u32,
    ) -> impl Future<Output = Result<TxOutcome, L1Error>> + Send;

    /// Settles one range of a block from its block-program output (`updateState`).
    fn update_state(
        &self,
        output: &[Felt],
    ) -> impl Future<Output = Result<TxOutcome, L1Error>> + Send;
}

/// Settlement through the attested fact registry: `client` pays, `signer` (a registered
/// prover key) attests every fact.
#[derive(Clone)]
pub struct AttestedSettlement {
    pub client: L1Client,
    pub signer: PrivateKeySigner,
}

impl AttestedSettlement {
    pub fn new(client: L1Client, signer: PrivateKeySigner) -> Self {
        Self { client, signer }
    }
}

impl SettlementClient for AttestedSettlement {
    async fn in_flight(&self) -> Result<u64, L1Error> {
        self.client.in_flight().await
    }

    async fn state(&self) -> Result<L1State, L1Error> {
        self.client.state().await
    }

    async fn is_fact_valid(&self, fact: B256) -> Result<bool, L1Error> {
        self.client.is_fact_valid(fact).await
    }

    async fn register_fact(&self, fact: B256, security_bits: u32) -> Result<TxOutcome, L1Error> {
        self.client
            .register_fact(&self.signer, fact, security_bits)
            .await
    }

    async fn update_state(&self, output: &[Felt]) -> Result<TxOutcome, L1Error> {
        self.client.update_state(output).await
    }
}
