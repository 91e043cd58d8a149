//! [`SettlementClient`]: what the settlement line needs from L1, so that more than one way
//! of making a fact valid can settle through the same [`Settler`](super::Settler):
//! [`VerifiedSettlement`] sends the range's proof to `StwoFactRegistry`, whose last
//! transaction registers the fact (no key is trusted); [`AttestedSettlement`] (the TRUSTED
//! mode) has a registered prover key attest each fact to the `AttestedFactRegistry`. Every
//! call answers with [`L1Error`]: a revert carries the contract's reason, which decides
//! whether the line stops.

use std::future::Future;

use alloy::primitives::B256;
use starknet_types_core::felt::Felt;

use crate::client::{L1Client, L1State, TxOutcome};
use crate::metrics::SettleMetrics;
use crate::verify::ProofVerification;
use crate::{L1Error, PrivateKeySigner};

/// The proof behind one range's fact, as the settlement line knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeProof {
    /// The conjectured security of the proof (the attested registry refuses bits below its
    /// floor; the verifying one reads them from the proof itself).
    pub security_bits: u32,
    /// The content hash of the proof's artifact in the farm's artifact store; `None` where
    /// the source keeps no proofs.
    pub artifact: Option<String>,
}

/// One wallet settling on one deployment. Writes wait for their receipt.
pub trait SettlementClient: Send + Sync {
    /// Transactions of the paying wallet not mined yet (sent before a restart): the line
    /// sends nothing while there are any, so it never sends a range twice.
    fn in_flight(&self) -> impl Future<Output = Result<u64, L1Error>> + Send;

    /// Where settlement stands on L1.
    fn state(&self) -> impl Future<Output = Result<L1State, L1Error>> + Send;

    /// Whether L1 holds `fact` as valid already.
    fn is_fact_valid(&self, fact: B256) -> impl Future<Output = Result<bool, L1Error>> + Send;

    /// How [`Self::register_fact`] is named in `starfarm_l1_submissions_total{call}`: an
    /// attested registry's `registerFact`, or a verification's (its statements and
    /// `verifyProof`, each also counted under its own name by the sender).
    const REGISTER_CALL: &'static str = "registerFact";

    /// Makes `fact` valid on L1 from `proof` (the range's proof); answers with the last
    /// transaction, its `gas_used` the gas of every transaction this call sent.
    fn register_fact(
        &self,
        fact: B256,
        proof: &RangeProof,
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

    async fn register_fact(&self, fact: B256, proof: &RangeProof) -> Result<TxOutcome, L1Error> {
        self.client
            .register_fact(&self.signer, fact, proof.security_bits)
            .await
    }

    async fn update_state(&self, output: &[Felt]) -> Result<TxOutcome, L1Error> {
        self.client.update_state(output).await
    }
}

/// Where a [`VerifiedSettlement`] gets a range's proof as transactions: the artifact,
/// fetched and planned for the deployment's verifier contracts (the plan is
/// `starfarm-verifier`'s, which this crate does not build).
pub trait ProofPlans: Send + Sync {
    /// The verification of the proof whose artifact has content hash `artifact`.
    fn verification(
        &self,
        artifact: &str,
    ) -> impl Future<Output = Result<ProofVerification, L1Error>> + Send;
}

/// Settlement through the verifying registry (`StwoFactRegistry`): a range's fact becomes
/// valid only by its proof's verification on chain (the statements the chain lacks, then
/// `verifyProof`, resumed after a restart from what the chain holds). No key attests
/// anything: `client` only pays.
pub struct VerifiedSettlement<P> {
    pub client: L1Client,
    pub plans: P,
    /// Where the verification's gas per phase and per proof is counted.
    pub metrics: Option<SettleMetrics>,
}

impl<P: ProofPlans> VerifiedSettlement<P> {
    pub fn new(client: L1Client, plans: P) -> Self {
        Self {
            client,
            plans,
            metrics: None,
        }
    }

    /// Counts the verification's gas in `metrics` (the settler's, so they are exported with
    /// the line's).
    pub fn with_metrics(mut self, metrics: SettleMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl<P: ProofPlans> SettlementClient for VerifiedSettlement<P> {
    const REGISTER_CALL: &'static str = "verification";

    async fn in_flight(&self) -> Result<u64, L1Error> {
        self.client.in_flight().await
    }

    async fn state(&self) -> Result<L1State, L1Error> {
        self.client.state().await
    }

    async fn is_fact_valid(&self, fact: B256) -> Result<bool, L1Error> {
        self.client.is_fact_valid(fact).await
    }

    async fn register_fact(&self, fact: B256, proof: &RangeProof) -> Result<TxOutcome, L1Error> {
        let artifact = proof.artifact.as_deref().ok_or(L1Error::NoProof)?;
        let verification = self.plans.verification(artifact).await?;
        if verification.registry != self.client.deployment()?.registry {
            return Err(L1Error::Proof {
                artifact: artifact.into(),
                message: format!(
                    "planned for registry {}, not the deployment's",
                    verification.registry
                ),
            });
        }
        let sent = self
            .client
            .send_verification(&verification, self.metrics.as_ref())
            .await?;
        // The proof registers its own claim's fact: a proof of another range (or program)
        // verifies, yet leaves this range's fact invalid, and the range must not settle.
        if !self.client.is_fact_valid(fact).await? {
            return Err(L1Error::Proof {
                artifact: artifact.into(),
                message: format!("verified, but its fact is not the range's {fact}"),
            });
        }
        let gas_used = sent
            .iter()
            .filter_map(|p| p.outcome.as_ref())
            .map(|o| o.gas_used)
            .sum();
        let last = sent
            .into_iter()
            .rev()
            .find_map(|p| p.outcome)
            .ok_or(L1Error::Receipt {
                call: "verifyProof",
                what: "a transaction",
            })?;
        Ok(TxOutcome { gas_used, ..last })
    }

    async fn update_state(&self, output: &[Felt]) -> Result<TxOutcome, L1Error> {
        self.client.update_state(output).await
    }
}
