//! The block program's output (`docs/sequencer.md`, "Block program output"): the output a
//! range must give, from native execution; the felts the program writes; and parsing them
//! back, for example from a proof's artifact.

use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use super::input::RangeInput;
use crate::block::block_hash;
use crate::execute::{MessageToL1, MessageToL2};
use crate::state::global_root;
use crate::tx::hex_u64;

/// Felts of the output header before the messages-to-L1 segment.
pub const OUTPUT_HEADER_LEN: usize = 11;

/// The block program's output (`docs/sequencer.md`, "Block program output").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockOutput {
    pub previous_state_root: Felt,
    pub new_state_root: Felt,
    #[serde(with = "hex_u64")]
    pub block_number: u64,
    pub parent_hash: Felt,
    /// The block hash when the range ends the block, else 0.
    pub block_hash: Felt,
    #[serde(with = "hex_u64")]
    pub timestamp: u64,
    #[serde(with = "hex_u64")]
    pub tx_start: u64,
    #[serde(with = "hex_u64")]
    pub tx_end: u64,
    #[serde(with = "hex_u64")]
    pub tx_count: u64,
    pub tx_commitment_start: Felt,
    pub tx_commitment_end: Felt,
    pub messages_to_l1: Vec<MessageToL1>,
    pub messages_to_l2: Vec<MessageToL2>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("block program output ends before its {0}")]
    Truncated(&'static str),
    #[error("block program output: {field} = {value:#x} is not a 64-bit integer")]
    NotU64 { field: &'static str, value: Felt },
    #[error("block program output: {0} felts follow the messages")]
    Trailing(usize),
    #[error("block program output: the {segment} segment {reason}")]
    Segment {
        segment: &'static str,
        reason: String,
    },
}

impl RangeInput {
    /// The output the program must give on this input, from native execution.
    pub fn expected_output(&self) -> BlockOutput {
        let new_state_root = global_root(self.new_contracts_root);
        let block_hash = if self.tx_end == self.tx_count {
            block_hash(
                self.block_number,
                self.parent_hash,
                self.timestamp,
                new_state_root,
                self.tx_count,
                self.tx_commitment_end,
            )
        } else {
            Felt::ZERO
        };
        BlockOutput {
            previous_state_root: global_root(self.previous_contracts_root),
            new_state_root,
            block_number: self.block_number,
            parent_hash: self.parent_hash,
            block_hash,
            timestamp: self.timestamp,
            tx_start: self.tx_start,
            tx_end: self.tx_end,
            tx_count: self.tx_count,
            tx_commitment_start: self.tx_commitment_start,
            tx_commitment_end: self.tx_commitment_end,
            messages_to_l1: self
                .receipts
                .iter()
                .flat_map(|r| r.messages_sent.clone())
                .collect(),
            messages_to_l2: self
                .receipts
                .iter()
                .filter_map(|r| r.message_consumed.clone())
                .collect(),
        }
    }
}

impl BlockOutput {
    /// The output as felts, as the program writes it.
    pub fn to_felts(&self) -> Vec<Felt> {
        let mut felts = vec![
            self.previous_state_root,
            self.new_state_root,
            Felt::from(self.block_number),
            self.parent_hash,
            self.block_hash,
            Felt::from(self.timestamp),
            Felt::from(self.tx_start),
            Felt::from(self.tx_end),
            Felt::from(self.tx_count),
            self.tx_commitment_start,
            self.tx_commitment_end,
        ];
        let mut l1 = Vec::new();
        for m in &self.messages_to_l1 {
            l1.extend([m.from_address, m.to_address, Felt::from(m.payload.len())]);
            l1.extend(m.payload.iter().copied());
        }
        felts.push(Felt::from(l1.len()));
        felts.extend(l1);
        let mut l2 = Vec::new();
        for m in &self.messages_to_l2 {
            l2.extend([
                m.from_address,
                m.to_address,
                Felt::from(m.nonce),
                m.selector,
                Felt::from(m.payload.len()),
            ]);
            l2.extend(m.payload.iter().copied());
        }
        felts.push(Felt::from(l2.len()));
        felts.extend(l2);
        felts
    }

    /// Parses the program's output (for example a proof artifact's), refusing any felt more
    /// or less than the layout has.
    pub fn from_felts(felts: &[Felt]) -> Result<Self, OutputError> {
        let mut reader = Reader { felts, at: 0 };
        let previous_state_root = reader.felt("previous state root")?;
        let new_state_root = reader.felt("new state root")?;
        let block_number = reader.u64("block number")?;
        let parent_hash = reader.felt("parent hash")?;
        let block_hash = reader.felt("block hash")?;
        let timestamp = reader.u64("timestamp")?;
        let tx_start = reader.u64("tx_start")?;
        let tx_end = reader.u64("tx_end")?;
        let tx_count = reader.u64("tx_count")?;
        let tx_commitment_start = reader.felt("tx commitment before tx_start")?;
        let tx_commitment_end = reader.felt("tx commitment after tx_end")?;

        let segment = "messages-to-L1";
        let mut l1 = reader.segment(segment)?;
        let mut messages_to_l1 = Vec::new();
        while !l1.done() {
            let from_address = l1.felt("message sender")?;
            let to_address = l1.felt("message recipient")?;
            let payload = l1.payload()?;
            messages_to_l1.push(MessageToL1 {
                from_address,
                to_address,
                payload,
            });
        }

        let segment = "messages-to-L2";
        let mut l2 = reader.segment(segment)?;
        let mut messages_to_l2 = Vec::new();
        while !l2.done() {
            let from_address = l2.felt("message sender")?;
            let to_address = l2.felt("message recipient")?;
            let nonce = l2.u64("message nonce")?;
            let selector = l2.felt("message selector")?;
            let payload = l2.payload()?;
            messages_to_l2.push(MessageToL2 {
                from_address,
                to_address,
                nonce,
                selector,
                payload,
            });
        }
        if !reader.done() {
            return Err(OutputError::Trailing(felts.len() - reader.at));
        }
        Ok(Self {
            previous_state_root,
            new_state_root,
            block_number,
            parent_hash,
            block_hash,
            timestamp,
            tx_start,
            tx_end,
            tx_count,
            tx_commitment_start,
            tx_commitment_end,
            messages_to_l1,
            messages_to_l2,
        })
    }
}

/// Reads felts in order; inside a segment, running out names the segment.
struct Reader<'a> {
    felts: &'a [Felt],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at == self.felts.len()
    }

    fn felt(&mut self, what: &'static str) -> Result<Felt, OutputError> {
        let felt = *self
            .felts
            .get(self.at)
            .ok_or(OutputError::Truncated(what))?;
        self.at += 1;
        Ok(felt)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, OutputError> {
        let value = self.felt(field)?;
        u64::try_from(value).map_err(|_| OutputError::NotU64 { field, value })
    }

    /// A size-prefixed segment, as a reader of its own.
    fn segment(&mut self, segment: &'static str) -> Result<Reader<'a>, OutputError> {
        let size = self.felt(segment)?;
        let size = u64::try_from(size)
            .ok()
            .and_then(|s| usize::try_from(s).ok())
            .filter(|s| *s <= self.felts.len() - self.at)
            .ok_or_else(|| OutputError::Segment {
                segment,
                reason: format!("size {size:#x} exceeds the output"),
            })?;
        let felts = &self.felts[self.at..self.at + size];
        self.at += size;
        Ok(Reader { felts, at: 0 })
    }

    fn payload(&mut self) -> Result<Vec<Felt>, OutputError> {
        let size = self.u64("message payload size")?;
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= self.felts.len() - self.at)
            .ok_or(OutputError::Truncated("message payload"))?;
        let payload = self.felts[self.at..self.at + size].to_vec();
        self.at += size;
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::deposit_selector;

    #[test]
    fn output_round_trips_and_refuses_bad_sizes() {
        let output = BlockOutput {
            previous_state_root: Felt::from(1u8),
            new_state_root: Felt::from(2u8),
            block_number: 3,
            parent_hash: Felt::from(4u8),
            block_hash: Felt::ZERO,
            timestamp: 5,
            tx_start: 0,
            tx_end: 2,
            tx_count: 4,
            tx_commitment_start: Felt::ZERO,
            tx_commitment_end: Felt::from(6u8),
            messages_to_l1: vec![MessageToL1 {
                from_address: Felt::from(7u8),
                to_address: Felt::from(8u8),
                payload: vec![Felt::from(9u8)],
            }],
            messages_to_l2: vec![MessageToL2 {
                from_address: Felt::from(10u8),
                to_address: Felt::from(11u8),
                nonce: 12,
                selector: deposit_selector(),
                payload: vec![Felt::from(13u8)],
            }],
        };
        let felts = output.to_felts();
        assert_eq!(felts.len(), OUTPUT_HEADER_LEN + 1 + 4 + 1 + 6);
        assert_eq!(BlockOutput::from_felts(&felts), Ok(output));
        assert!(matches!(
            BlockOutput::from_felts(&felts[..felts.len() - 1]),
            Err(OutputError::Segment { .. })
        ));
        let mut longer = felts.clone();
        longer.push(Felt::ZERO);
        assert_eq!(
            BlockOutput::from_felts(&longer),
            Err(OutputError::Trailing(1))
        );
        assert_eq!(
            BlockOutput::from_felts(&felts[..5]),
            Err(OutputError::Truncated("timestamp"))
        );
    }
}
