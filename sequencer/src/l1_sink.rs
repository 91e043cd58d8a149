//! [`SequencerSink`]: the sequencer as the L1 watcher drives it (the
//! [`L2Sink`] port of `starfarm-common`): bridge deposits become DEPOSIT transactions,
//! admitted once however often they are delivered, and settled blocks are marked
//! ACCEPTED_ON_L1.

use std::sync::Arc;

use starfarm_common::settlement::{L1Deposit, L2Sink};

use crate::chain::AdmissionError;
use crate::service::Sequencer;
use crate::store::StoreError;
use crate::tx::Deposit;

/// Why the sequencer refused an L1 event (the watcher delivers it again).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Admission(#[from] AdmissionError),
}

/// The watcher's L2: one sequencer.
#[derive(Clone)]
pub struct SequencerSink(pub Arc<Sequencer>);

impl L2Sink for SequencerSink {
    type Error = SinkError;

    async fn settled(&self, number: u64) -> Result<(), SinkError> {
        Ok(self.0.mark_accepted_on_l1(number)?)
    }

    async fn deposit(&self, deposit: L1Deposit) -> Result<(), SinkError> {
        Ok(self.0.admit_l1_deposit(l2_deposit(deposit)).await?)
    }
}

/// The DEPOSIT transaction an L1 deposit becomes.
pub fn l2_deposit(deposit: L1Deposit) -> Deposit {
    Deposit {
        l1_sender: deposit.l1_sender,
        recipient: deposit.recipient,
        amount: deposit.amount,
        l1_nonce: deposit.nonce,
    }
}
