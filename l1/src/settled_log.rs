//! The blocks settled on L1, as the core contract announced them (`LogStateUpdate`: global
//! root, block number, block hash, emitted when a block's last range settles). An l1 node
//! applies a block only once it is here, and only if it reaches the same root and hash.
//!
//! [`SettledLog`] reads the events incrementally (`confirmations` blocks behind L1's head,
//! like the [`crate::watch::Watcher`]) and keeps every settled block in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use starknet_types_core::felt::Felt;

use crate::watch::{confirmed_range, state_updates};
use crate::{L1Client, L1Error};

/// Most L1 blocks read per event query (RPC providers limit log ranges).
const MAX_RANGE: u64 = 2_000;

/// One `LogStateUpdate`: block `block_number` is settled, with this root and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateUpdate {
    pub block_number: u64,
    /// The global root after the block.
    pub global_root: Felt,
    pub block_hash: Felt,
}

/// Where the reading stands.
#[derive(Default)]
struct Scan {
    next_block: u64,
    settled: BTreeMap<u64, StateUpdate>,
}

/// The settled blocks of one deployment, read from an L1 block on.
pub struct SettledLog {
    client: L1Client,
    confirmations: u64,
    scan: Mutex<Scan>,
}

impl SettledLog {
    /// `client` must be attached to the deployment; `from_block` is where it was deployed.
    pub fn new(client: L1Client, from_block: u64, confirmations: u64) -> Self {
        SettledLog {
            client,
            confirmations,
            scan: Mutex::new(Scan {
                next_block: from_block,
                ..Scan::default()
            }),
        }
    }

    fn scan(&self) -> std::sync::MutexGuard<'_, Scan> {
        // Every writer leaves the scan consistent (one insert, then the position).
        self.scan.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the confirmed events since the last call; the last settled block.
    pub async fn refresh(&self) -> Result<Option<u64>, L1Error> {
        loop {
            let next = self.scan().next_block;
            let range = confirmed_range(&self.client, next, self.confirmations, MAX_RANGE);
            let Some((from, to)) = range.await? else {
                return Ok(self.last());
            };
            let updates = state_updates(&self.client, from, to).await?;
            let mut scan = self.scan();
            for update in updates {
                scan.settled.insert(update.block_number, update);
            }
            scan.next_block = scan.next_block.max(to + 1);
        }
    }

    /// The last settled block read so far.
    pub fn last(&self) -> Option<u64> {
        self.scan().settled.keys().next_back().copied()
    }

    /// What L1 recorded for block `number` (read from L1 when not known yet).
    pub async fn get(&self, number: u64) -> Result<Option<StateUpdate>, L1Error> {
        if let Some(update) = self.scan().settled.get(&number) {
            return Ok(Some(*update));
        }
        self.refresh().await?;
        Ok(self.scan().settled.get(&number).copied())
    }
}
