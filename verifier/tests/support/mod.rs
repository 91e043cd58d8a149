//! What the verifier's on-chain tests share: asking a node why a call reverts.

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;

/// The revert reason of a call with `calldata` to `to`, or `None` when it passes.
pub async fn call_reason<P: Provider>(p: &P, to: Address, calldata: Bytes) -> Option<String> {
    use alloy::sol_types::{Revert, SolError};
    let request = alloy::rpc::types::TransactionRequest::default()
        .to(to)
        .input(calldata.into());
    match p.call(request).await {
        Ok(_) => None,
        Err(e) => Some(
            e.as_error_resp()
                .and_then(|r| r.as_revert_data())
                .and_then(|d| Revert::abi_decode(&d).ok())
                .map(|r| r.reason)
                .unwrap_or_else(|| e.to_string()),
        ),
    }
}
