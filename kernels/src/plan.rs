//! How a lifted leaf computation is cut into device-sized pieces, shared by both backends.
//!
//! Leaf `i` of a commitment with lifting log size `L` hashes, for every column in order,
//! the value at [`lifted_index`]`(i, L, n)` of that column (log size `n`), as one Blake2s
//! message. Blake2s is a chain over 64-byte blocks (16 columns), so the work splits two ways:
//! - *tiles*: aligned ranges of leaves, each with its own chaining values on the device;
//! - *passes*: runs of whole 16-column blocks within a tile, each uploading only the slice of
//!   every column that the tile's leaves read, and continuing the chain from the previous pass.
//!
//! [`plan_leaves`] picks the largest tile and the longest passes that fit the memory budget.

use crate::error::{KernelError, Result};

/// Columns per Blake2s block (16 `u32` words).
pub const COLUMNS_PER_BLOCK: usize = 16;
/// Device bytes per leaf chaining value.
pub const STATE_BYTES: u64 = 32;
/// Device bytes per column descriptor ([`ColumnDesc`]).
pub const DESC_BYTES: u64 = 16;
/// Bytes of the small parameter block every dispatch binds.
pub const PARAMS_BYTES: u64 = 64;

/// Index into a column of log size `log_size` read by leaf `leaf` of a tree lifted to
/// `lifting_log_size` (`1 <= log_size <= lifting_log_size`). This is Stwo's lifting: the
/// column, in bit-reversed order, is repeated so that consecutive pairs stay together.
pub const fn lifted_index(leaf: usize, lifting_log_size: u32, log_size: u32) -> usize {
    let shift = lifting_log_size - log_size + 1;
    ((leaf >> shift) << 1) | (leaf & 1)
}

/// How much device memory one call may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBudget {
    /// Total bytes of all buffers alive at once.
    pub total: u64,
    /// Largest single buffer (binding) the device accepts.
    pub max_buffer: u64,
}

/// Largest buffer whose words the kernels can index with `u32` offsets.
pub const MAX_INDEXABLE_BYTES: u64 = 4 * u32::MAX as u64;

impl MemoryBudget {
    /// A budget of `total` bytes with buffers of at most `max_buffer` bytes (and never more than
    /// `total` or [`MAX_INDEXABLE_BYTES`]).
    pub fn new(total: u64, max_buffer: u64) -> Self {
        Self {
            total,
            max_buffer: max_buffer.min(total).min(MAX_INDEXABLE_BYTES),
        }
    }
}

/// Column `col` (index in the commitment), as laid out in a pass's data buffer: the slice
/// `[start, start + len)` of the column sits at word `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnSlice {
    pub col: usize,
    pub start: usize,
    pub len: usize,
    pub offset: usize,
}

/// What the kernel reads per column: `data[offset + lifted_index(leaf) - start]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ColumnDesc {
    pub offset: u32,
    pub log_size: u32,
    pub start: u32,
    pub pad: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pass {
    /// First column (a multiple of [`COLUMNS_PER_BLOCK`]).
    pub col_begin: usize,
    /// One past the last column: a multiple of [`COLUMNS_PER_BLOCK`], or the column count.
    pub col_end: usize,
    pub slices: Vec<ColumnSlice>,
    /// Words of the pass's data buffer.
    pub data_words: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tile {
    pub row_offset: usize,
    pub rows: usize,
    pub passes: Vec<Pass>,
}

/// Words of column `log_size` that a tile of `rows` aligned leaves reads, starting at tile
/// offset `row_offset`: `(start, len)`.
fn slice_for(
    row_offset: usize,
    rows: usize,
    lifting_log_size: u32,
    log_size: u32,
) -> (usize, usize) {
    let shift = lifting_log_size - log_size + 1;
    let start = (row_offset >> shift) << 1;
    let end = (((row_offset + rows - 1) >> shift) << 1) + 2;
    (start, end - start)
}

/// Checks the column shapes: lengths are powers of two, at least 2, at most
/// `2^lifting_log_size`, and indices fit the kernels' `u32` arithmetic.
pub fn column_log_sizes(lens: &[usize], lifting_log_size: u32) -> Result<Vec<u32>> {
    if lifting_log_size > 31 {
        return Err(KernelError::InvalidInput(format!(
            "lifting log size {lifting_log_size} > 31"
        )));
    }
    lens.iter()
        .enumerate()
        .map(|(i, &len)| {
            if len < 2 || !len.is_power_of_two() {
                return Err(KernelError::InvalidInput(format!(
                    "column {i} has length {len}; lengths must be powers of two >= 2"
                )));
            }
            let log = len.ilog2();
            if log > lifting_log_size {
                return Err(KernelError::InvalidInput(format!(
                    "column {i} (log size {log}) is longer than the lifting size 2^{lifting_log_size}"
                )));
            }
            Ok(log)
        })
        .collect()
}

/// Cuts the leaves of a lifted commitment of columns with `log_sizes` into tiles and passes
/// that fit `budget`. `log_sizes` must be non-empty and checked by [`column_log_sizes`].
pub fn plan_leaves(
    log_sizes: &[u32],
    lifting_log_size: u32,
    budget: MemoryBudget,
) -> Result<Vec<Tile>> {
    let n_leaves = 1usize << lifting_log_size;
    let n_cols = log_sizes.len();
    let block_words = |rows: usize, block: usize| -> u64 {
        let begin = block * COLUMNS_PER_BLOCK;
        let end = (begin + COLUMNS_PER_BLOCK).min(n_cols);
        log_sizes[begin..end]
            .iter()
            .map(|&n| slice_for(0, rows, lifting_log_size, n).1 as u64)
            .sum()
    };
    let n_blocks = n_cols.div_ceil(COLUMNS_PER_BLOCK);
    let fixed = PARAMS_BYTES + DESC_BYTES * COLUMNS_PER_BLOCK as u64;
    // The largest tile in which every single block fits next to the chaining values.
    let mut rows = n_leaves;
    loop {
        let state = STATE_BYTES * rows as u64;
        let worst_block = (0..n_blocks)
            .map(|b| 4 * block_words(rows, b))
            .max()
            .unwrap_or(0);
        let fits = state <= budget.max_buffer
            && worst_block <= budget.max_buffer
            && state + worst_block + fixed <= budget.total;
        if fits {
            break;
        }
        if rows == 1 {
            return Err(KernelError::OutOfMemory(format!(
                "one leaf and one block of {COLUMNS_PER_BLOCK} columns need more than {budget:?}"
            )));
        }
        rows /= 2;
    }
    let state_bytes = STATE_BYTES * rows as u64;
    let mut tiles = Vec::with_capacity(n_leaves / rows);
    for row_offset in (0..n_leaves).step_by(rows) {
        let mut passes: Vec<Pass> = Vec::new();
        let mut current: Option<Pass> = None;
        for block in 0..n_blocks {
            let begin = block * COLUMNS_PER_BLOCK;
            let end = (begin + COLUMNS_PER_BLOCK).min(n_cols);
            let words = block_words(rows, block) as usize;
            if let Some(pass) = &current {
                let n_desc = (end - pass.col_begin) as u64;
                let bytes = 4 * (pass.data_words + words) as u64;
                let fits = bytes <= budget.max_buffer
                    && DESC_BYTES * n_desc <= budget.max_buffer
                    && state_bytes + bytes + PARAMS_BYTES + DESC_BYTES * n_desc <= budget.total;
                if !fits {
                    passes.extend(current.take());
                }
            }
            let pass = current.get_or_insert_with(|| Pass {
                col_begin: begin,
                col_end: begin,
                slices: Vec::new(),
                data_words: 0,
            });
            for (col, &n) in log_sizes.iter().enumerate().take(end).skip(begin) {
                let (start, len) = slice_for(row_offset, rows, lifting_log_size, n);
                pass.slices.push(ColumnSlice {
                    col,
                    start,
                    len,
                    offset: pass.data_words,
                });
                pass.data_words += len;
            }
            pass.col_end = end;
        }
        passes.extend(current.take());
        tiles.push(Tile {
            row_offset,
            rows,
            passes,
        });
    }
    Ok(tiles)
}

impl Pass {
    /// The descriptors the kernel reads, in column order.
    pub fn descs(&self, log_sizes: &[u32]) -> Vec<ColumnDesc> {
        self.slices
            .iter()
            .map(|s| ColumnDesc {
                offset: s.offset as u32,
                log_size: log_sizes[s.col],
                start: s.start as u32,
                pad: 0,
            })
            .collect()
    }

    /// The pass's data buffer: every column slice, back to back.
    pub fn gather(&self, columns: &[&[u32]]) -> Vec<u32> {
        let mut data = Vec::with_capacity(self.data_words);
        for s in &self.slices {
            data.extend_from_slice(&columns[s.col][s.start..s.start + s.len]);
        }
        data
    }
}

/// Parameters of one leaf pass, in the layout both kernels read (`LeafParams` in the sources).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LeafParams {
    pub rows: u32,
    pub row_offset: u32,
    pub lifting_log_size: u32,
    pub col_begin: u32,
    pub col_end: u32,
    pub n_cols: u32,
    pub first: u32,
    pub pad: u32,
}

impl LeafParams {
    pub fn new(tile: &Tile, pass: &Pass, lifting_log_size: u32, n_cols: usize) -> Self {
        Self {
            rows: tile.rows as u32,
            row_offset: tile.row_offset as u32,
            lifting_log_size,
            col_begin: pass.col_begin as u32,
            col_end: pass.col_end as u32,
            n_cols: n_cols as u32,
            first: u32::from(pass.col_begin == 0),
            pad: 0,
        }
    }
}

/// Host run of one leaf pass, line for line what the kernels do per invocation. Used by the
/// unit tests to check the plan (and the kernels' index arithmetic) without a device.
pub fn run_pass_on_host(
    params: &LeafParams,
    descs: &[ColumnDesc],
    data: &[u32],
    states: &mut [[u32; 8]],
) {
    use crate::blake2s::{compress, INITIAL_STATE};
    for (gid, state) in states.iter_mut().enumerate().take(params.rows as usize) {
        let leaf = params.row_offset as usize + gid;
        let mut h = if params.first == 1 {
            INITIAL_STATE
        } else {
            *state
        };
        let mut c = params.col_begin;
        while c < params.col_end {
            let block_end = (c + 16).min(params.n_cols);
            let mut m = [0u32; 16];
            for (j, word) in m.iter_mut().enumerate() {
                let col = c + j as u32;
                if col < block_end {
                    let d = descs[(col - params.col_begin) as usize];
                    let pos = lifted_index(leaf, params.lifting_log_size, d.log_size);
                    *word = data[d.offset as usize + pos - d.start as usize];
                }
            }
            h = compress(h, m, 4 * block_end, block_end == params.n_cols);
            c += 16;
        }
        *state = h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifted_index_composes_like_stwo() {
        // Stwo lifts step by step: a column of log size n, lifted to n + 1, then to n + 2, ...
        for l in 1..8u32 {
            for n in 1..=l {
                for leaf in 0..1usize << l {
                    let mut idx = leaf;
                    for step in (n..l).rev() {
                        // One lifting step from log size `step` to `step + 1`.
                        idx = ((idx >> 2) << 1) | (idx & 1);
                        let _ = step;
                    }
                    assert_eq!(lifted_index(leaf, l, n), idx, "leaf {leaf} l {l} n {n}");
                }
            }
        }
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(column_log_sizes(&[1], 3).is_err());
        assert!(column_log_sizes(&[6], 3).is_err());
        assert!(column_log_sizes(&[16], 3).is_err());
        assert_eq!(column_log_sizes(&[2, 8], 3).ok(), Some(vec![1, 3]));
    }

    #[test]
    fn plans_never_exceed_the_budget() {
        let mut seed = 5u64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let mut planned = 0;
        for _ in 0..200 {
            let lifting = 1 + next(14) as u32;
            let mut logs: Vec<u32> = (0..1 + next(60))
                .map(|_| 1 + next(lifting as u64) as u32)
                .collect();
            logs.sort();
            let total = 1 << (8 + next(14));
            let budget = MemoryBudget::new(total, total >> next(3));
            let Ok(tiles) = plan_leaves(&logs, lifting, budget) else {
                continue;
            };
            let mut rows_seen = 0;
            for tile in &tiles {
                rows_seen += tile.rows;
                let state = STATE_BYTES * tile.rows as u64;
                let mut col = 0;
                for pass in &tile.passes {
                    assert_eq!(pass.col_begin, col);
                    col = pass.col_end;
                    let data = 4 * pass.data_words as u64;
                    let descs = DESC_BYTES * (pass.col_end - pass.col_begin) as u64;
                    assert!(state <= budget.max_buffer && data <= budget.max_buffer);
                    assert!(
                        state + data + descs + PARAMS_BYTES <= budget.total,
                        "{budget:?}"
                    );
                    for s in &pass.slices {
                        assert!(s.start + s.len <= 1 << logs[s.col]);
                    }
                }
                assert_eq!(col, logs.len());
            }
            assert_eq!(rows_seen, 1 << lifting);
            planned += 1;
        }
        assert!(planned > 100, "only {planned} shapes fit");
        let tiny = MemoryBudget::new(64, 64);
        assert!(matches!(
            plan_leaves(&[4; 16], 4, tiny),
            Err(KernelError::OutOfMemory(_))
        ));
    }

    #[test]
    fn tight_budget_splits_tiles_and_passes() {
        let logs = vec![3u32; 40];
        let budget = MemoryBudget {
            total: 1 << 9,
            max_buffer: 1 << 9,
        };
        let tiles = plan_leaves(&logs, 5, budget).expect("plan");
        assert!(tiles.len() > 1);
        assert!(tiles.iter().all(|t| t.passes.len() > 1));
        for t in &tiles {
            assert_eq!(t.passes.first().map(|p| p.col_begin), Some(0));
            assert_eq!(t.passes.last().map(|p| p.col_end), Some(40));
        }
        let roomy = MemoryBudget {
            total: 1 << 30,
            max_buffer: 1 << 30,
        };
        let tiles = plan_leaves(&logs, 5, roomy).expect("plan");
        assert_eq!(tiles.len(), 1);
        assert_eq!(tiles[0].passes.len(), 1);
    }
}
