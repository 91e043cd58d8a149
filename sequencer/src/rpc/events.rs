//! `starknet_getEvents`: the events of a block range ([`crate::events`]), filtered by emitter
//! and keys, a page at a time.
//!
//! A continuation token is `"<block number>-<event index in that block>"`: closed blocks never
//! change and the pre-confirmed block only grows (and keeps its order when it closes), so a
//! token stays valid. A page holds at most `chunk_size` events and scans at most
//! [`MAX_BLOCKS_PER_PAGE`] blocks; a page may hold fewer events than asked and still carry a
//! token (the spec allows it), so a sparse filter over a long chain never makes one call slow.

use serde_json::{json, Map, Value};
use starknet_types_core::felt::Felt;

use super::error::{codes, RpcError};
use super::params::{block_ref, felt, kind, u64_number, BlockRef, Params};
use super::read::ReadCtx;
use super::render::{event, hex};
use super::SpecVersion;
use crate::chain::BlockId;
use crate::events::{emitted, Event};
use crate::execute::Receipt;
use crate::tx::Transaction;

/// Largest `chunk_size` accepted (Pathfinder's and Juno's default).
pub const MAX_CHUNK_SIZE: u64 = 1024;
/// Most key positions a filter may constrain.
pub const MAX_KEY_POSITIONS: usize = 16;
/// Most blocks one page reads.
pub const MAX_BLOCKS_PER_PAGE: u64 = 4096;

/// `EVENT_FILTER` + `RESULT_PAGE_REQUEST`, checked.
struct Filter {
    from_block: Option<BlockRef>,
    to_block: Option<BlockRef>,
    /// Emitters to match; empty for any.
    addresses: Vec<Felt>,
    keys: Vec<Vec<Felt>>,
    chunk_size: u64,
    continuation: Option<Position>,
}

/// Where a page starts: a block and an event index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    block: u64,
    event: usize,
}

impl Position {
    fn token(self) -> String {
        format!("{}-{}", self.block, self.event)
    }

    fn parse(token: &str) -> Option<Self> {
        let (block, event) = token.split_once('-')?;
        Some(Self {
            block: block.parse().ok()?,
            event: event.parse().ok()?,
        })
    }
}

fn invalid_token(token: &str, why: &str) -> RpcError {
    RpcError::new(
        codes::INVALID_CONTINUATION_TOKEN,
        "The supplied continuation token is invalid or unknown",
        format!("continuation_token {token:?}: {why}"),
    )
}

/// The read method.
pub(crate) fn get_events(ctx: &ReadCtx, params: &Params) -> Result<Value, RpcError> {
    let version = ctx.version;
    let filter = params
        .bind(&["filter"])?
        .required("filter", |v| parse_filter(v, version))?;
    check_limits(&filter)?;
    let Some((first, last, pre_confirmed)) = range(ctx, &filter)? else {
        return Ok(json!({ "events": [] }));
    };
    let start = match filter.continuation {
        Some(p) if p.block < first || p.block > last => {
            return Err(invalid_token(
                &p.token(),
                &format!("block {} is outside the range {first}..={last}", p.block),
            ))
        }
        Some(p) => p,
        None => Position {
            block: first,
            event: 0,
        },
    };
    let mut events = Vec::new();
    let scan_end = last.min(start.block.saturating_add(MAX_BLOCKS_PER_PAGE - 1));
    for number in start.block..=scan_end {
        let skip = if number == start.block {
            start.event
        } else {
            0
        };
        let block = if pre_confirmed == Some(number) {
            page_block_pre_confirmed(ctx)?
        } else {
            page_block_closed(ctx, number)?
        };
        if let Some(next) = block.collect(&filter, version, skip, &mut events) {
            let token = Position {
                block: number,
                event: next,
            }
            .token();
            return Ok(json!({ "events": events, "continuation_token": token }));
        }
    }
    let mut page = json!({ "events": events });
    if scan_end < last {
        page["continuation_token"] = json!(Position {
            block: scan_end + 1,
            event: 0
        }
        .token());
    }
    Ok(page)
}

fn check_limits(filter: &Filter) -> Result<(), RpcError> {
    if filter.chunk_size > MAX_CHUNK_SIZE {
        return Err(RpcError::new(
            codes::PAGE_SIZE_TOO_BIG,
            "Requested page size is too big",
            format!("chunk_size {} is above {MAX_CHUNK_SIZE}", filter.chunk_size),
        ));
    }
    if filter.keys.len() > MAX_KEY_POSITIONS {
        return Err(RpcError::new(
            codes::TOO_MANY_KEYS_IN_FILTER,
            "Too many keys provided in a filter",
            format!(
                "keys constrain {} positions; at most {MAX_KEY_POSITIONS}",
                filter.keys.len()
            ),
        ));
    }
    if filter.chunk_size == 0 {
        return Err(RpcError::invalid_params(
            "filter.chunk_size: must be at least 1",
        ));
    }
    Ok(())
}

/// The block numbers to read, and the pre-confirmed block's number when the range reaches
/// it; `None` when the range is empty (no block yet, or `from` after `to`).
fn range(ctx: &ReadCtx, filter: &Filter) -> Result<Option<(u64, u64, Option<u64>)>, RpcError> {
    let first = match filter.from_block {
        None => 0,
        Some(id) => match number_of(ctx, id)? {
            Some(n) => n,
            None => return Ok(None),
        },
    };
    let to = filter.to_block.unwrap_or(BlockRef::Latest);
    let Some(last) = number_of(ctx, to)? else {
        return Ok(None);
    };
    // Asked by tag or by number, the pre-confirmed block is read as such.
    let pre_confirmed = ctx.reader.pre_confirmed()?.number;
    let pre_confirmed = (last == pre_confirmed).then_some(last);
    Ok((first <= last).then_some((first, last, pre_confirmed)))
}

/// The number a block id stands for; `None` for `latest` before the first block closes.
fn number_of(ctx: &ReadCtx, id: BlockRef) -> Result<Option<u64>, RpcError> {
    let not_found = |what: String| Err(RpcError::block_not_found(what));
    match id {
        BlockRef::Latest => Ok(ctx.reader.latest_header()?.map(|h| h.number)),
        BlockRef::PreConfirmed => Ok(Some(ctx.reader.pre_confirmed()?.number)),
        BlockRef::L1Accepted => match ctx.reader.l1_accepted_number()? {
            Some(n) => Ok(Some(n)),
            None => not_found("no block has been accepted on L1 yet".into()),
        },
        BlockRef::Hash(hash) => match ctx.reader.header(BlockId::Hash(hash))? {
            Some(header) => Ok(Some(header.number)),
            None => not_found(format!("no block with hash {hash:#x}")),
        },
        BlockRef::Number(n) => {
            let pre_confirmed = ctx.reader.pre_confirmed()?.number;
            if n > pre_confirmed {
                return not_found(format!("no block number {n} (the next is {pre_confirmed})"));
            }
            Ok(Some(n))
        }
    }
}

/// One block's transactions and receipts, with what `EMITTED_EVENT` says of the block.
struct PageBlock {
    number: u64,
    hash: Option<Felt>,
    transactions: Vec<Transaction>,
    receipts: Vec<Receipt>,
}

fn page_block_closed(ctx: &ReadCtx, number: u64) -> Result<PageBlock, RpcError> {
    let block = ctx
        .reader
        .block(BlockId::Number(number))?
        .ok_or_else(|| RpcError::block_not_found(format!("no block number {number}")))?;
    Ok(PageBlock {
        number,
        hash: Some(block.header.block_hash),
        transactions: block.transactions,
        receipts: block.receipts,
    })
}

fn page_block_pre_confirmed(ctx: &ReadCtx) -> Result<PageBlock, RpcError> {
    let block = ctx.reader.pre_confirmed()?;
    Ok(PageBlock {
        number: block.number,
        hash: None,
        transactions: block.transactions,
        receipts: block.receipts,
    })
}

impl PageBlock {
    /// Appends the block's matching events from index `skip` on; returns the index where
    /// the next page starts once `events` is full.
    fn collect(
        &self,
        filter: &Filter,
        version: SpecVersion,
        skip: usize,
        events: &mut Vec<Value>,
    ) -> Option<usize> {
        let all = self
            .transactions
            .iter()
            .zip(&self.receipts)
            .enumerate()
            .flat_map(|(tx_index, (tx, receipt))| {
                let hash = receipt.transaction_hash;
                let emitted = emitted(tx, receipt).into_iter().enumerate();
                emitted.map(move |(event_index, e)| {
                    (
                        Origin {
                            hash,
                            tx_index,
                            event_index,
                        },
                        e,
                    )
                })
            });
        for (index, (origin, e)) in all.enumerate().skip(skip) {
            if events.len() as u64 == filter.chunk_size {
                return Some(index);
            }
            if matches(filter, &e) {
                events.push(self.render(origin, version, &e));
            }
        }
        None
    }

    /// `EMITTED_EVENT`; 0.10 adds where in the block the event is.
    fn render(&self, origin: Origin, version: SpecVersion, e: &Event) -> Value {
        let mut place = Map::new();
        if let Some(hash) = self.hash {
            place.insert("block_hash".into(), hex(hash));
        }
        place.insert("block_number".into(), json!(self.number));
        place.insert("transaction_hash".into(), hex(origin.hash));
        if version >= SpecVersion::V0_10 {
            place.insert("transaction_index".into(), json!(origin.tx_index));
            place.insert("event_index".into(), json!(origin.event_index));
        }
        event(e, place)
    }
}

/// Which transaction of a block emitted an event, and the event's index in it.
#[derive(Clone, Copy)]
struct Origin {
    hash: Felt,
    tx_index: usize,
    event_index: usize,
}

/// The spec's matching: the emitter if given; at each key position with a non-empty list,
/// the event has a key there and it is one of the list.
fn matches(filter: &Filter, e: &Event) -> bool {
    (filter.addresses.is_empty() || filter.addresses.contains(&e.from_address))
        && filter.keys.iter().enumerate().all(|(position, allowed)| {
            allowed.is_empty() || e.keys.get(position).is_some_and(|k| allowed.contains(k))
        })
}

const FILTER_FIELDS: &[&str] = &[
    "from_block",
    "to_block",
    "address",
    "keys",
    "chunk_size",
    "continuation_token",
];

fn parse_filter(value: &Value, version: SpecVersion) -> Result<Filter, String> {
    let Value::Object(map) = value else {
        return Err(format!("expected an object, got {}", kind(value)));
    };
    if let Some(unknown) = map.keys().find(|k| !FILTER_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown field {unknown:?} (expected: {})",
            FILTER_FIELDS.join(", ")
        ));
    }
    let field = |name: &str| map.get(name).filter(|v| !v.is_null());
    let with_name = |name: &str, e: String| format!("{name}: {e}");
    let block = |name: &str| {
        field(name)
            .map(|v| block_ref(v).map_err(|e| with_name(name, e)))
            .transpose()
    };
    Ok(Filter {
        from_block: block("from_block")?,
        to_block: block("to_block")?,
        addresses: field("address")
            .map(|v| addresses(v, version).map_err(|e| with_name("address", e)))
            .transpose()?
            .unwrap_or_default(),
        keys: field("keys")
            .map(parse_keys)
            .transpose()?
            .unwrap_or_default(),
        chunk_size: u64_number(field("chunk_size").ok_or("missing field \"chunk_size\"")?)
            .map_err(|e| with_name("chunk_size", e))?,
        continuation: field("continuation_token").map(parse_token).transpose()?,
    })
}

/// One address, or (0.10) an array of them.
fn addresses(value: &Value, version: SpecVersion) -> Result<Vec<Felt>, String> {
    match value {
        Value::Array(items) if version >= SpecVersion::V0_10 => items.iter().map(felt).collect(),
        Value::Array(_) => {
            Err("one address (a list of addresses needs RPC 0.10: /rpc/v0_10)".into())
        }
        one => Ok(vec![felt(one)?]),
    }
}

fn parse_keys(value: &Value) -> Result<Vec<Vec<Felt>>, String> {
    let outer = value
        .as_array()
        .ok_or_else(|| format!("keys: expected an array of arrays, got {}", kind(value)))?;
    outer
        .iter()
        .enumerate()
        .map(|(i, position)| {
            let values = position.as_array().ok_or_else(|| {
                format!(
                    "keys[{i}]: expected an array of felts, got {}",
                    kind(position)
                )
            })?;
            values
                .iter()
                .map(|v| felt(v).map_err(|e| format!("keys[{i}]: {e}")))
                .collect()
        })
        .collect()
}

fn parse_token(value: &Value) -> Result<Position, String> {
    let token = value
        .as_str()
        .ok_or_else(|| format!("continuation_token: expected a string, got {}", kind(value)))?;
    Position::parse(token).ok_or_else(|| {
        format!("continuation_token {token:?}: not a token this server gave (\"<block>-<index>\")")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let p = Position {
            block: 12,
            event: 3,
        };
        assert_eq!(Position::parse(&p.token()), Some(p));
        for bad in ["", "12", "x-1", "1-", "-1", "1-2-3"] {
            assert_eq!(Position::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_match_by_position_with_empty_lists_as_wildcards() {
        let e = Event {
            from_address: Felt::from(7u32),
            keys: vec![Felt::from(1u32), Felt::from(2u32)],
            data: Vec::new(),
        };
        let filter = |address: Option<u32>, keys: Vec<Vec<u32>>| Filter {
            from_block: None,
            to_block: None,
            addresses: address.into_iter().map(Felt::from).collect(),
            keys: keys
                .into_iter()
                .map(|k| k.into_iter().map(Felt::from).collect())
                .collect(),
            chunk_size: 10,
            continuation: None,
        };
        assert!(matches(&filter(None, vec![]), &e));
        assert!(matches(&filter(Some(7), vec![vec![], vec![2, 9]]), &e));
        assert!(!matches(&filter(Some(8), vec![]), &e));
        assert!(!matches(&filter(None, vec![vec![2]]), &e));
        assert!(!matches(&filter(None, vec![vec![], vec![], vec![5]]), &e));
        assert!(matches(&filter(None, vec![vec![], vec![], vec![]]), &e));
    }
}
