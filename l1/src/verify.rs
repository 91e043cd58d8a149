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

/// EIP-7825's cap on one transaction's gas (active on Ethereum since Fusaka): a verification
/// transaction estimated above it is never sent ([`L1Error::OverGasCap`]); the plan must split
/// it further.
pub const MAX_TX_GAS: u64 = 1 << 24;

/// Refuses an estimate above [`MAX_TX_GAS`].
pub fn within_gas_cap(call: &'static str, estimate: u64) -> Result<u64, L1Error> {
    if estimate > MAX_TX_GAS {
        return Err(L1Error::OverGasCap {
            call,
            estimate,
            cap: MAX_TX_GAS,
        });
    }
    Ok(estimate)
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

impl VerificationTx {
    /// The transaction of statement `phase` (its display, e.g. `merkle[1]`) whose kind is
    /// `label` (`starfarm_verifier::PhaseKind::label`: `merkle`, `quotients`, …). The one
    /// place a plan's phases become the sender's; a label this crate does not know is
    /// refused rather than counted under another kind.
    pub fn new(
        phase: impl std::fmt::Display,
        label: &str,
        to: Address,
        calldata: Bytes,
    ) -> Result<Self, UnknownPhase> {
        Ok(Self {
            phase: phase.to_string(),
            kind: label.parse()?,
            to,
            calldata,
        })
    }
}

/// A statement label that is not in [`STATEMENT_KINDS`].
#[derive(Debug, thiserror::Error)]
#[error("unknown verification phase {0:?} (not in starfarm_l1::verify::STATEMENT_KINDS)")]
pub struct UnknownPhase(pub String);

/// A statement kind: its metrics label (the verifier's `PhaseKind::label`) and its call's
/// name in the submission metrics and errors.
#[derive(Debug, PartialEq, Eq)]
pub struct StatementKind {
    pub label: &'static str,
    pub call: &'static str,
}

/// Every statement kind the sender knows. A new statement kind of the verifier is one line
/// here.
pub const STATEMENT_KINDS: &[StatementKind] = &[
    StatementKind {
        label: "merkle",
        call: "verify: Merkle statement",
    },
    StatementKind {
        label: "quotients",
        call: "verify: quotient statement",
    },
    StatementKind {
        label: "fri",
        call: "verify: FRI statement",
    },
    // The composition check at the out-of-domain point.
    StatementKind {
        label: "composition",
        call: "verify: composition statement",
    },
    // A program's root kept (once per program): `CairoClaim.registerProgramRoot`.
    StatementKind {
        label: "program_root",
        call: "registerProgramRoot",
    },
    // The public memory's logup sum over a range of its entries.
    StatementKind {
        label: "public_memory",
        call: "verify: public memory statement",
    },
];

/// A transaction's kind, for metrics and logs: a statement (an entry of
/// [`STATEMENT_KINDS`]) or the registry's `verifyProof`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhaseLabel {
    /// An entry of [`STATEMENT_KINDS`].
    Statement(&'static StatementKind),
    /// The registry's `verifyProof`.
    Register,
}

impl std::str::FromStr for PhaseLabel {
    type Err = UnknownPhase;

    fn from_str(label: &str) -> Result<Self, UnknownPhase> {
        STATEMENT_KINDS
            .iter()
            .find(|k| k.label == label)
            .map(Self::Statement)
            .ok_or_else(|| UnknownPhase(label.to_owned()))
    }
}

impl PhaseLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Statement(k) => k.label,
            Self::Register => "verifyProof",
        }
    }

    fn call_name(self) -> &'static str {
        match self {
            Self::Statement(k) => k.call,
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

impl ProofVerification {
    /// The verification of a plan given as plain data (`starfarm_verifier`'s
    /// `VerificationPlan::transactions(..).into_parts()`, whose types this crate does not
    /// name): the registry, the `statements` calldata, each phase as (its display, its
    /// label, target, calldata) and `verifyProof`'s calldata. The one place a plan becomes the
    /// sender's; a phase whose label this crate does not know is refused
    /// ([`VerificationTx::new`]).
    #[allow(clippy::type_complexity)]
    pub fn from_plan_parts(
        (registry, statements, phases, finish): (
            Address,
            Bytes,
            Vec<(String, &str, Address, Bytes)>,
            Bytes,
        ),
    ) -> Result<Self, UnknownPhase> {
        Ok(Self {
            registry,
            statements,
            phases: phases
                .into_iter()
                .map(|(phase, label, to, calldata)| VerificationTx::new(phase, label, to, calldata))
                .collect::<Result<_, _>>()?,
            finish,
        })
    }
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
                // Estimated first: a transaction above EIP-7825's cap would be refused by
                // Ethereum, so it is refused here, before anything is sent.
                let name = tx.kind.call_name();
                let outcome = match retry(name, || call.estimate_gas())
                    .await
                    .and_then(|gas| within_gas_cap(name, gas))
                {
                    Ok(gas) => transact(name, self, &call.clone().gas(gas)).await,
                    Err(e) => Err(e),
                };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_label_maps_to_its_kind_and_an_unknown_one_is_refused() {
        for kind in STATEMENT_KINDS {
            let label: PhaseLabel = kind.label.parse().expect("known");
            assert_eq!(label.as_str(), kind.label);
            assert_eq!(label.call_name(), kind.call);
        }
        let tx =
            VerificationTx::new("merkle[2]", "merkle", Address::ZERO, Bytes::new()).expect("known");
        assert_eq!(
            (tx.phase.as_str(), tx.kind.as_str()),
            ("merkle[2]", "merkle")
        );
        let unknown =
            VerificationTx::new("relations[0..3]", "relations", Address::ZERO, Bytes::new());
        assert_eq!(unknown.expect_err("unknown").0, "relations");
    }

    #[test]
    fn a_plan_in_plain_data_becomes_the_senders_verification() {
        let registry = Address::repeat_byte(1);
        let (merkle, composition) = (Address::repeat_byte(2), Address::repeat_byte(3));
        let v = ProofVerification::from_plan_parts((
            registry,
            Bytes::from_static(b"statements"),
            vec![
                (
                    "merkle[0]".into(),
                    "merkle",
                    merkle,
                    Bytes::from_static(b"m"),
                ),
                (
                    "composition[0..19]".into(),
                    "composition",
                    composition,
                    Bytes::from_static(b"c"),
                ),
            ],
            Bytes::from_static(b"finish"),
        ))
        .expect("known labels");
        assert_eq!(v.registry, registry);
        assert_eq!(
            (&v.statements[..], &v.finish[..]),
            (&b"statements"[..], &b"finish"[..])
        );
        let phases: Vec<_> = v
            .phases
            .iter()
            .map(|t| (t.phase.as_str(), t.kind.as_str(), t.to, &t.calldata[..]))
            .collect();
        assert_eq!(
            phases,
            [
                ("merkle[0]", "merkle", merkle, &b"m"[..]),
                ("composition[0..19]", "composition", composition, &b"c"[..]),
            ]
        );
        let unknown = ProofVerification::from_plan_parts((
            registry,
            Bytes::new(),
            vec![("relations[0..3]".into(), "relations", merkle, Bytes::new())],
            Bytes::new(),
        ));
        assert_eq!(unknown.expect_err("unknown").0, "relations");
    }

    #[test]
    fn an_estimate_above_eip_7825s_cap_is_refused_and_stops_the_line() {
        assert_eq!(
            within_gas_cap("verifyProof", MAX_TX_GAS).expect("at the cap"),
            1 << 24
        );
        let err = within_gas_cap("verifyProof", MAX_TX_GAS + 1).expect_err("above the cap");
        assert!(
            err.to_string()
                .contains("estimated 16777217 gas, above the 16777216"),
            "{err}"
        );
        let wrapped = L1Error::Verification {
            phase: "program_root".into(),
            source: Box::new(err),
        };
        assert!(wrapped.over_gas_cap());
        assert!(crate::settlement::SettleError::L1(wrapped).stops_the_line());
        assert!(!L1Error::NoProof.over_gas_cap());
    }
}
