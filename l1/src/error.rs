//! Errors of the L1 client.

/// What can go wrong talking to Ethereum.
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    /// The node refused the call because the contract reverted; `reason` is the decoded
    /// `require` message (e.g. `FACT_NOT_REGISTERED`) or a description of the raw data.
    #[error("{call} reverted: {reason}")]
    Reverted { call: &'static str, reason: String },
    /// The transaction was mined but failed (status 0).
    #[error("{call}: transaction {tx} failed on chain (status 0)")]
    Failed { call: &'static str, tx: String },
    /// Transport, RPC or ABI trouble that retrying did not cure.
    #[error("{call}: {message}")]
    Rpc { call: &'static str, message: String },
    #[error("invalid RPC URL {url}: {message}")]
    Url { url: String, message: String },
    #[error("invalid private key: {0}")]
    Key(String),
    #[error("signing failed: {0}")]
    Signer(String),
    #[error("the client has no deployment: deploy the contracts or attach to some first")]
    NotDeployed,
    #[error("{call}: the receipt lacks {what}")]
    Receipt {
        call: &'static str,
        what: &'static str,
    },
    #[error("value out of range: {0}")]
    Range(String),
    /// A transaction of a proof's on-chain verification failed; `phase` names it
    /// (`statements`, `merkle[2]`, `quotients[0..8]`, `fri`, `verifyProof`).
    #[error("verification phase {phase}: {source}")]
    Verification {
        phase: String,
        #[source]
        source: Box<L1Error>,
    },
    /// A transaction estimated above EIP-7825's per-transaction gas cap (2^24): not sent.
    #[error("{call}: estimated {estimate} gas, above the {cap} a transaction may use (EIP-7825)")]
    OverGasCap {
        call: &'static str,
        estimate: u64,
        cap: u64,
    },
    /// The range has no proof to verify (its source keeps none): it cannot settle through
    /// the verifying registry.
    #[error("the range has no proof artifact: it cannot settle through the verifier")]
    NoProof,
    /// The range's proof could not be fetched, decoded or planned, or is not the range's.
    #[error("proof {artifact}: {message}")]
    Proof { artifact: String, message: String },
}

impl L1Error {
    /// Whether a transaction was refused for exceeding EIP-7825's cap (retrying cannot help:
    /// the plan must split it further).
    pub fn over_gas_cap(&self) -> bool {
        match self {
            Self::OverGasCap { .. } => true,
            Self::Verification { source, .. } => source.over_gas_cap(),
            _ => false,
        }
    }

    /// The revert reason, when the contract reverted.
    pub fn revert_reason(&self) -> Option<&str> {
        match self {
            Self::Reverted { reason, .. } => Some(reason),
            Self::Verification { source, .. } => source.revert_reason(),
            _ => None,
        }
    }
}
