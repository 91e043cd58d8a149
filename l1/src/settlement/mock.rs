//! [`MockSettlement`]: an L1 in memory that settles like `StarfarmCore` over a fact registry
//! (the checks the line relies on: the range continues L1's root and position, its fact is
//! valid), with failures injected per call. For tests of what drives a
//! [`SettlementClient`]; no Ethereum node needed.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use alloy::primitives::{TxHash, B256};
use starknet_types_core::felt::Felt;

use super::{RangeProof, SettlementClient};
use crate::client::{L1State, TxOutcome};
use crate::L1Error;

/// Block-program output offsets (docs/sequencer.md, "Block program output").
const PREVIOUS_ROOT: usize = 0;
const NEW_ROOT: usize = 1;
const BLOCK_NUMBER: usize = 2;
const BLOCK_HASH: usize = 4;
const TX_START: usize = 6;
const TX_END: usize = 7;
const TX_COUNT: usize = 8;
const COMMITMENT_AFTER: usize = 10;

/// Gas every mocked transaction reports.
pub const MOCK_GAS: u64 = 50_000;

/// What the mocked L1 holds and saw.
#[derive(Debug, Default)]
pub struct MockL1 {
    pub state: L1State,
    /// Wallet transactions not mined yet.
    pub in_flight: u64,
    pub valid_facts: HashSet<B256>,
    /// Facts registered, in order (a registration of a valid fact is counted too).
    pub registered: Vec<B256>,
    /// The proofs the facts above were registered from, in order.
    pub proofs: Vec<RangeProof>,
    /// Outputs settled by `updateState`, in order.
    pub settled: Vec<Vec<Felt>>,
    /// Errors the next call of that name returns (`registerFact`, `updateState`, `state`,
    /// `isValid`, `inFlight`), each once.
    pub failures: HashMap<&'static str, L1Error>,
}

/// An in-memory [`SettlementClient`] checking facts of `program_hash`.
#[derive(Debug, Default)]
pub struct MockSettlement {
    pub program_hash: Felt,
    l1: Mutex<MockL1>,
}

impl MockSettlement {
    /// A deployment of `program_hash` whose state root starts at `initial_root`.
    pub fn new(program_hash: Felt, initial_root: Felt) -> Self {
        let state = L1State {
            state_root: initial_root,
            ..L1State::default()
        };
        let l1 = MockL1 {
            state,
            ..MockL1::default()
        };
        Self {
            program_hash,
            l1: Mutex::new(l1),
        }
    }

    /// The mocked L1, to inspect or change.
    pub fn l1(&self) -> MutexGuard<'_, MockL1> {
        // Every call leaves the state consistent (checks first, then the writes).
        self.l1.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next call named `call` fails with `error`.
    pub fn fail_once(&self, call: &'static str, error: L1Error) {
        self.l1().failures.insert(call, error);
    }

    fn call(&self, call: &'static str) -> Result<MutexGuard<'_, MockL1>, L1Error> {
        let mut l1 = self.l1();
        match l1.failures.remove(call) {
            Some(error) => Err(error),
            None => Ok(l1),
        }
    }
}

fn reverted(call: &'static str, reason: &str) -> L1Error {
    L1Error::Reverted {
        call,
        reason: reason.to_owned(),
    }
}

fn mined() -> TxOutcome {
    TxOutcome {
        tx_hash: TxHash::ZERO,
        gas_used: MOCK_GAS,
        block_number: None,
    }
}

/// Word `index` of `output` as a u64, or the revert `StarfarmCore` gives a short output.
fn word(output: &[Felt], index: usize) -> Result<u64, L1Error> {
    let felt = output
        .get(index)
        .ok_or_else(|| reverted("updateState", "OUTPUT_TOO_SHORT"))?;
    u64::try_from(felt.to_biguint()).map_err(|_| reverted("updateState", "OUTPUT_TOO_SHORT"))
}

impl SettlementClient for MockSettlement {
    async fn in_flight(&self) -> Result<u64, L1Error> {
        Ok(self.call("inFlight")?.in_flight)
    }

    async fn state(&self) -> Result<L1State, L1Error> {
        Ok(self.call("state")?.state)
    }

    async fn is_fact_valid(&self, fact: B256) -> Result<bool, L1Error> {
        Ok(self.call("isValid")?.valid_facts.contains(&fact))
    }

    async fn register_fact(&self, fact: B256, proof: &RangeProof) -> Result<TxOutcome, L1Error> {
        let mut l1 = self.call("registerFact")?;
        l1.valid_facts.insert(fact);
        l1.registered.push(fact);
        l1.proofs.push(proof.clone());
        Ok(mined())
    }

    async fn update_state(&self, output: &[Felt]) -> Result<TxOutcome, L1Error> {
        let mut l1 = self.call("updateState")?;
        let fact = crate::fact::fact(self.program_hash, output);
        let (block, tx_start) = (word(output, BLOCK_NUMBER)?, word(output, TX_START)?);
        let (tx_end, tx_count) = (word(output, TX_END)?, word(output, TX_COUNT)?);
        let state = l1.state;
        let refusal = if block < state.next_block_number {
            Some("BLOCK_ALREADY_SETTLED")
        } else if block != state.next_block_number {
            Some("INVALID_BLOCK_NUMBER")
        } else if tx_start < state.tx_index {
            Some("RANGE_ALREADY_SETTLED")
        } else if tx_start != state.tx_index {
            Some("INVALID_TX_START")
        } else if output[PREVIOUS_ROOT] != state.state_root {
            Some("INVALID_PREVIOUS_ROOT")
        } else if tx_end <= tx_start || tx_end > tx_count {
            Some("INVALID_TX_END")
        } else if !l1.valid_facts.contains(&fact) {
            Some("FACT_NOT_REGISTERED")
        } else {
            None
        };
        if let Some(reason) = refusal {
            return Err(reverted("updateState", reason));
        }
        let commitment = *output
            .get(COMMITMENT_AFTER)
            .ok_or_else(|| reverted("updateState", "OUTPUT_TOO_SHORT"))?;
        l1.state.state_root = output[NEW_ROOT];
        if tx_end == tx_count {
            l1.state.next_block_number += 1;
            l1.state.block_hash = output[BLOCK_HASH];
            l1.state.tx_index = 0;
            l1.state.tx_commitment = Felt::ZERO;
        } else {
            l1.state.tx_index = tx_end;
            l1.state.tx_commitment = commitment;
        }
        l1.settled.push(output.to_vec());
        Ok(mined())
    }
}
