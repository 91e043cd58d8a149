//! Sending a proof's split verification (`starfarm-verifier`'s `VerificationPlan`, as raw
//! transactions: this crate does not build the Stwo stack): the statements the chain does
//! not hold yet, each in its own transaction, then the registry's `verifyProof`, which
//! registers the fact. Which statements are on chain is asked of the registry
//! (`statements`), so a verification interrupted by a restart resumes where it stopped and
//! never pays for a statement twice.

use alloy::contract::RawCallBuilder;
use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;

use crate::client::{retry, transact, L1Client, TxOutcome};
use crate::metrics::SettleMetrics;
use crate::L1Error;

alloy::sol! {
    /// The return of `StwoFactRegistry.statements(header, parts)` (its arguments are sent
    /// pre-encoded).
    function statements() external view returns (bytes32[] needed, bool[] done, bytes32 proofId);
}

/// One statement's transaction.
#[derive(Clone, Debug)]
pub struct VerificationTx {
    /// `merkle[1]`, `quotients[0..12]`, `fri`, `composition[0..20]` (a range of component
    /// instances): which statement.
    pub phase: String,
    /// `merkle`, `quotients`, `fri` or `composition`: the metrics' label (every range of a
    /// kind under one label, so the label set stays fixed).
    pub kind: PhaseLabel,
    pub to: Address,
    pub calldata: Bytes,
}

/// A statement's kind, for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhaseLabel {
    Merkle,
    Quotients,
    Fri,
    /// The composition check at the out-of-domain point.
    Composition,
    /// `CairoClaim.registerProgramRoot`: a program's root kept (once per program).
    ProgramRoot,
    /// The public memory's logup sum over a range of its entries.
    PublicMemory,
    /// The registry's `verifyProof`.
    Register,
}

impl PhaseLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merkle => "merkle",
            Self::Quotients => "quotients",
            Self::Fri => "fri",
            Self::Composition => "composition",
            Self::ProgramRoot => "program_root",
            Self::PublicMemory => "public_memory",
            Self::Register => "verifyProof",
        }
    }

    fn call_name(self) -> &'static str {
        match self {
            Self::Merkle => "verify: Merkle statement",
            Self::Quotients => "verify: quotient statement",
            Self::Fri => "verify: FRI statement",
            Self::Composition => "verify: composition statement",
            Self::ProgramRoot => "registerProgramRoot",
            Self::PublicMemory => "verify: public memory statement",
            Self::Register => "verifyProof",
        }
    }
}

/// A proof's verification as transactions.
#[derive(Clone, Debug)]
pub struct ProofVerification {
    /// `StwoFactRegistry`.
    pub registry: Address,
    /// `statements(header, parts)`'s calldata: which statements are on chain.
    pub statements: Bytes,
    /// In the order `statements` answers.
    pub phases: Vec<VerificationTx>,
    /// `verifyProof(...)`'s calldata.
    pub finish: Bytes,
}

/// What one transaction of a verification did.
#[derive(Clone, Debug)]
pub struct SentPhase {
    pub phase: String,
    pub kind: PhaseLabel,
    pub calldata_bytes: usize,
    /// `None`: the statement was on chain already (not sent).
    pub outcome: Option<TxOutcome>,
}

impl L1Client {
    /// Which statements of `v` the chain holds already.
    pub async fn statements_done(&self, v: &ProofVerification) -> Result<Vec<bool>, L1Error> {
        let request = TransactionRequest::default()
            .to(v.registry)
            .input(v.statements.clone().into());
        let p = self.provider();
        let data = retry("statements", || p.call(request.clone())).await?;
        let done = statementsCall::abi_decode_returns(&data)
            .map_err(|e| L1Error::Rpc {
                call: "statements",
                message: format!("undecodable answer: {e}"),
            })?
            .done;
        if done.len() != v.phases.len() {
            return Err(L1Error::Rpc {
                call: "statements",
                message: format!(
                    "{} statements on chain for a plan of {}",
                    done.len(),
                    v.phases.len()
                ),
            });
        }
        Ok(done)
    }

    /// Sends the statements of `v` the chain lacks, one transaction each, then `verifyProof`;
    /// counts each transaction's gas in `metrics` (per phase, and the proof's total). An
    /// error is [`L1Error::Verification`], naming the phase that failed.
    pub async fn send_verification(
        &self,
        v: &ProofVerification,
        metrics: Option<&SettleMetrics>,
    ) -> Result<Vec<SentPhase>, L1Error> {
        let done = self
            .statements_done(v)
            .await
            .map_err(|e| L1Error::Verification {
                phase: "statements".into(),
                source: Box::new(e),
            })?;
        let mut sent = Vec::with_capacity(v.phases.len() + 1);
        let steps = v.phases.iter().zip(done);
        let finish = VerificationTx {
            phase: "verifyProof".into(),
            kind: PhaseLabel::Register,
            to: v.registry,
            calldata: v.finish.clone(),
        };
        let mut total = 0;
        for (tx, done) in steps.chain(std::iter::once((&finish, false))) {
            let outcome = if done {
                tracing::info!(phase = %tx.phase, "statement on chain already: not sent");
                None
            } else {
                let call = RawCallBuilder::new_raw(self.provider(), tx.calldata.clone()).to(tx.to);
                let outcome = transact(tx.kind.call_name(), self, &call).await;
                if let Some(m) = metrics {
                    m.submitted(tx.kind.call_name(), &outcome);
                    if let Ok(o) = &outcome {
                        m.verification_gas
                            .with_label_values(&[tx.kind.as_str()])
                            .observe(o.gas_used as f64);
                    }
                }
                let outcome = outcome.map_err(|e| L1Error::Verification {
                    phase: tx.phase.clone(),
                    source: Box::new(e),
                })?;
                tracing::info!(phase = %tx.phase, gas = outcome.gas_used, "verification transaction mined");
                total += outcome.gas_used;
                Some(outcome)
            };
            sent.push(SentPhase {
                phase: tx.phase.clone(),
                kind: tx.kind,
                calldata_bytes: tx.calldata.len(),
                outcome,
            });
        }
        if let Some(m) = metrics {
            m.proof_verification_gas.observe(total as f64);
        }
        Ok(sent)
    }
}
