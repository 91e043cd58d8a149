//! What the L1 watcher calls: deposits seen on L1 and blocks settled on L1.

use super::sequencer::Sequencer;
use crate::chain::{AdmissionError, TxSubmitter};
use crate::store::{StoreError, META_L1_ACCEPTED};
use crate::tx::{Deposit, Transaction};

impl Sequencer {
    /// Admits a deposit seen on L1, once: the L1 watcher delivers events at least once, and a
    /// deposit admitted before (pending or in a block) is not an error.
    pub async fn admit_l1_deposit(&self, deposit: Deposit) -> Result<(), AdmissionError> {
        match self.submit_deposit(Transaction::Deposit(deposit)).await {
            Ok(_) | Err(AdmissionError::Duplicate(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Marks blocks up to `number` as settled on L1 (called by the L1 watcher). Never moves
    /// back: a restarted watcher replaying older events leaves the mark where it is.
    pub fn mark_accepted_on_l1(&self, number: u64) -> Result<(), StoreError> {
        let mut chain = self.lock();
        if chain.l1_accepted.is_some_and(|known| known >= number) {
            return Ok(());
        }
        self.store.set_meta(META_L1_ACCEPTED, number)?;
        chain.l1_accepted = Some(number);
        Ok(())
    }
}
