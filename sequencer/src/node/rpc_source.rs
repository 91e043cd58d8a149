//! A node's source over the sequencer's JSON-RPC: the latest block number
//! (`starknet_blockNumber`) and each closed block as published (`starfarm_getBlock`: the
//! Starknet-shaped reads lack the state before each change, which the diff modes check).

use serde_json::json;

use super::{BlockSource, Published, SourceError};
use crate::block::Block;
use crate::chain::BoxFuture;
use crate::client::{Client, ClientError};
use crate::rpc::codes;

/// The blocks a sequencer (or another node) serves over JSON-RPC.
pub struct RpcSource {
    client: Client,
}

impl RpcSource {
    /// `url`: the JSON-RPC endpoint (`http://host:port`).
    pub fn new(url: impl Into<String>) -> Self {
        RpcSource {
            client: Client::new(url),
        }
    }
}

/// `Ok(None)` for the error code meaning "not there yet", else the source's error.
fn absent<T>(answer: Result<T, ClientError>, absent_code: i64) -> Result<Option<T>, SourceError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(ClientError::Rpc { code, .. }) if code == absent_code => Ok(None),
        // A malformed answer is the source's fault: the block it stands for is refused.
        Err(e @ ClientError::Answer { .. }) => Err(SourceError::Invalid(e.to_string())),
        Err(e) => Err(SourceError::Unavailable(e.to_string())),
    }
}

impl BlockSource for RpcSource {
    fn highest(&self) -> BoxFuture<'_, Result<Option<u64>, SourceError>> {
        Box::pin(async move {
            let number = self.client.call("starknet_blockNumber", json!([])).await;
            absent(number, codes::NO_BLOCKS)
        })
    }

    fn fetch(&self, number: u64) -> BoxFuture<'_, Result<Option<Published>, SourceError>> {
        Box::pin(async move {
            let id = json!([{ "block_number": number }]);
            let block: Option<Block> = absent(
                self.client.call("starfarm_getBlock", id).await,
                codes::BLOCK_NOT_FOUND,
            )?;
            Ok(block.map(|block| Published {
                manifest: None,
                block,
                settled: None,
            }))
        })
    }
}
