//! Reads: `ChainReader` over the pre-confirmed block, the mempool and the database.

use starknet_types_core::felt::Felt;

use super::sequencer::{now_secs, Sequencer};
use crate::block::{Block, BlockHeader};
use crate::chain::{BlockId, ChainReader, PreConfirmed, ReadError, TxRecord, TxStatus};
use crate::state::AccountState;
use crate::store::{Store, StoreError};

impl Sequencer {
    pub fn store(&self) -> &Store {
        &self.store
    }
}

fn read_err(e: StoreError) -> ReadError {
    ReadError::Storage(e.0)
}

impl ChainReader for Sequencer {
    fn latest_header(&self) -> Result<Option<BlockHeader>, ReadError> {
        Ok(self.lock().latest.clone())
    }

    fn l1_accepted_number(&self) -> Result<Option<u64>, ReadError> {
        Ok(self.lock().l1_accepted)
    }

    fn next_nonce(&self, address: Felt) -> Result<u64, ReadError> {
        let chain = self.lock();
        let state = self
            .current_account(&chain, &address)
            .map_err(read_err)?
            .nonce;
        Ok(chain.mempool.next_nonce(&address, state))
    }

    fn block(&self, id: BlockId) -> Result<Option<Block>, ReadError> {
        let number = match id {
            BlockId::Latest => match self.lock().latest.as_ref() {
                Some(h) => h.number,
                None => return Ok(None),
            },
            BlockId::PreConfirmed => return Ok(None),
            BlockId::Number(n) => n,
            BlockId::Hash(h) => match self.store.block_number_of(&h).map_err(read_err)? {
                Some(n) => n,
                None => return Ok(None),
            },
        };
        self.store.block(number).map_err(read_err)
    }

    fn pre_confirmed(&self) -> Result<PreConfirmed, ReadError> {
        let chain = self.lock();
        Ok(PreConfirmed {
            number: chain.pre.number,
            parent_hash: chain.pre.parent_hash,
            timestamp: if chain.pre.started.is_some() {
                chain.pre.timestamp
            } else {
                now_secs()
            },
            transactions: chain.pre.transactions.clone(),
            receipts: chain.pre.receipts.clone(),
        })
    }

    fn transaction(&self, hash: Felt) -> Result<Option<TxRecord>, ReadError> {
        let chain = self.lock();
        if let Some(tx) = chain.mempool.find(&hash) {
            return Ok(Some(TxRecord {
                transaction: tx.clone(),
                status: TxStatus::Received,
                receipt: None,
                block: None,
            }));
        }
        if chain.pre.hashes.contains(&hash) {
            let i = chain
                .pre
                .receipts
                .iter()
                .position(|r| r.transaction_hash == hash);
            if let Some(i) = i {
                return Ok(Some(TxRecord {
                    transaction: chain.pre.transactions[i].clone(),
                    status: TxStatus::PreConfirmed,
                    receipt: Some(chain.pre.receipts[i].clone()),
                    block: None,
                }));
            }
        }
        let l1 = chain.l1_accepted;
        drop(chain);
        let mut record = self.store.transaction(&hash).map_err(read_err)?;
        if let Some(r) = &mut record {
            if r.block.is_some_and(|(n, _)| l1.is_some_and(|l1| n <= l1)) {
                r.status = TxStatus::AcceptedOnL1;
            }
        }
        Ok(record)
    }

    fn account(&self, address: Felt, id: BlockId) -> Result<Option<AccountState>, ReadError> {
        let chain = self.lock();
        let number = match id {
            BlockId::PreConfirmed => {
                return self
                    .current_account(&chain, &address)
                    .map(Some)
                    .map_err(read_err)
            }
            BlockId::Latest => match Self::latest_number(&chain) {
                Some(n) => n,
                None => return Ok(Some(AccountState::default())),
            },
            BlockId::Number(n) => {
                if Self::latest_number(&chain).is_none_or(|l| n > l) {
                    return Ok(None);
                }
                n
            }
            BlockId::Hash(h) => match self.store.block_number_of(&h).map_err(read_err)? {
                Some(n) => n,
                None => return Ok(None),
            },
        };
        drop(chain);
        self.store
            .account(&address, number)
            .map(Some)
            .map_err(read_err)
    }
}
