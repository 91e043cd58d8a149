//! The constraints for the EVM, as data: each component's program compiled to a compact
//! bytecode (`evm/<name>.hex`), run by one small evaluator contract (`evm/AirEvaluator.sol`).
//! The bytecode is deployed as the runtime code of data contracts (SSTORE2 style: a `STOP`
//! byte, then at most [`CHUNK_BYTES`] bytes of program, so each fits EIP-170's 24,576 bytes)
//! and read with `EXTCODECOPY`. A straight-line contract per component is ~6 MB of runtime
//! code, most of it over the size limit; the programs are ~7 % of that (docs/air.md).
//!
//! At the out-of-domain point every value is a QM31, packed into a `uint256` as
//! `a | b << 32 | c << 64 | d << 96` (`QM31::from_m31_array([a, b, c, d])`). A component
//! reads three arrays ([`Layout`]):
//! - `mask`: its preprocessed columns (IR order), then for each trace column and then each
//!   interaction column, its samples in mask order;
//! - `params`: `log_size`, the claim parameters, the claimed sum;
//! - `relations`, shared by all components of a call: per relation `z` and `alpha^0..`
//!   ([`crate::ir::Relation::size`] of them).
//!
//! The evaluator copies them into memory slots `0..n_mask+n_params+n_relations`; the program
//! computes into
//! further slots (reused once a value is dead) and ends with one [`Opcode::Out`] per
//! constraint, in order: `acc = acc * coeff + constraint`, stwo's accumulation with the random
//! coefficient, continued across components. The composition value is that sum over all
//! component instances of a proof divided by the vanishing polynomial of the composition
//! domain at the point (`AirEvaluator.composition`).
//!
//! Program: header `n_mask, n_params, n_relations, n_slots` (u16 each, big-endian), then instructions: an
//! opcode byte and its operands (slots, u16 big-endian; `Const` a u32, `ExtConst` the packed
//! value's 16 bytes), then [`Opcode::Stop`].

use stwo::core::fields::qm31::QM31;

use crate::interpret::{Lookup, Mask, Params};
use crate::ir::{Air, Component, NodeId, Op};
use crate::CodegenError;

/// Program bytes per data contract: EIP-170's 24,576 bytes less the leading `STOP`.
pub const CHUNK_BYTES: usize = 24_575;

/// `Opcode` and `OPCODES` (every opcode, indexed by its value) from one list.
macro_rules! opcodes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// The instructions of the evaluator. Slots are `d` (destination) and `a, b, c, e`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Opcode {
            $($(#[$doc])* $name = $value,)*
        }

        const OPCODES: &[Opcode] = &[$(Opcode::$name,)*];
    };
}

opcodes! {
    /// End of the program.
    Stop = 0,
    /// `d = a * b`.
    Mul = 1,
    /// `d = a + b`.
    Add = 2,
    /// `d = a - b`.
    Sub = 3,
    /// `d = a * b` where `b` is an M31 (its other coordinates are zero): 4 products, not 16.
    MulBase = 4,
    /// `d = -a`.
    Neg = 5,
    /// `d = 1 / a`.
    Inv = 6,
    /// `d = a + b * i + c * u + e * iu` (`QM31::from_partial_evals`).
    Combine = 7,
    /// `d = k`, an M31 (u32 operand).
    Const = 8,
    /// `d = k`, a QM31 (16-byte operand, packed).
    ExtConst = 9,
    /// `d = 2^a` (the column size from the log size).
    Pow2 = 10,
    /// `acc = acc * coeff + a`.
    Out = 11,
    /// `d = 1 / a` where `a` is an M31: one M31 inverse, not a QM31 one.
    InvBase = 12,
}

/// Where a component's inputs sit in `mask` and `params`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub n_mask: usize,
    /// Per interaction (0: trace), per column, the index of its first sample in `mask`.
    pub column_start: Vec<Vec<usize>>,
    /// Index in `params` of the first claim parameter (`log_size` is at 0).
    pub claim_at: usize,
    pub claimed_sum_at: usize,
    pub n_params: usize,
    /// Per relation, the index of `z` in `relations`; `alpha^k` follows at `+ 1 + k`.
    pub relation_at: Vec<usize>,
    pub n_relations: usize,
}

impl Layout {
    pub fn of(air: &Air, c: &Component) -> Layout {
        let mut next = c.preprocessed.len();
        let column_start = c
            .columns
            .iter()
            .map(|columns| {
                columns
                    .iter()
                    .map(|offsets| {
                        let start = next;
                        next += offsets.len();
                        start
                    })
                    .collect()
            })
            .collect();
        let claimed_sum_at = 1 + c.claim_params.len();
        let mut at = 0;
        let relation_at = air
            .relations
            .iter()
            .map(|r| {
                let z = at;
                at += 1 + r.size as usize;
                z
            })
            .collect();
        Layout {
            n_mask: next,
            column_start,
            claim_at: 1,
            claimed_sum_at,
            n_params: claimed_sum_at + 1,
            relation_at,
            n_relations: at,
        }
    }
}

/// `a | b << 32 | c << 64 | d << 96` for `QM31::from_m31_array([a, b, c, d])`.
pub fn pack(v: QM31) -> u128 {
    v.to_m31_array()
        .iter()
        .rev()
        .fold(0, |acc, m| acc << 32 | m.0 as u128)
}

/// The evaluator's `mask` for component `c` (the [`Layout`] order).
pub fn mask_words(c: &Component, mask: &impl Mask) -> Vec<u128> {
    let preprocessed = (0..c.preprocessed.len() as u32).map(|p| mask.preprocessed(p));
    let trace = c.columns.iter().enumerate().flat_map(|(tree, columns)| {
        columns
            .iter()
            .enumerate()
            .flat_map(move |(column, offsets)| {
                (0..offsets.len())
                    .map(move |position| mask.trace(tree as u32 + 1, column as u32, position))
            })
    });
    preprocessed.chain(trace).map(pack).collect()
}

/// The evaluator's `params` (the [`Layout`] order).
pub fn params_words(params: &Params) -> Vec<u128> {
    let mut words = vec![params.log_size as u128];
    words.extend(params.claim_params.iter().map(|p| *p as u128));
    words.push(pack(params.claimed_sum));
    words
}

/// The evaluator's `relations`: per relation `z`, then its alpha powers.
pub fn relations_words(relations: &[Lookup]) -> Vec<u128> {
    relations
        .iter()
        .flat_map(|r| std::iter::once(r.z).chain(r.alpha_powers.iter().copied()))
        .map(pack)
        .collect()
}

/// A component's compiled program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub bytes: Vec<u8>,
    pub n_slots: usize,
    pub n_instructions: usize,
}

/// Where a node's value is: an input slot (mask or params) or computed by an instruction.
#[derive(Clone, Copy)]
enum Value {
    Input(usize),
    /// An alias of another node (a lift is the identity on packed QM31s).
    Same(NodeId),
    Computed,
}

/// Compiles `c` to the evaluator's bytecode.
pub fn compile(air: &Air, c: &Component) -> Result<Program, CodegenError> {
    let layout = Layout::of(air, c);
    let n_inputs = layout.n_mask + layout.n_params + layout.n_relations;
    let values = c
        .nodes
        .iter()
        .map(|node| input(c, &layout, &node.op).map(|v| v.unwrap_or(Value::Computed)))
        .collect::<Result<Vec<_>, _>>()?;
    let root = |mut id: NodeId| {
        while let Value::Same(x) = values[id as usize] {
            id = x;
        }
        id
    };
    let live = live_nodes(c, &root);
    // The last instruction reading each node (constraints are read by the final `Out`s).
    let mut last_use = vec![0usize; c.nodes.len()];
    for (i, node) in c.nodes.iter().enumerate() {
        if live[i] && matches!(values[i], Value::Computed) {
            for x in node.op.operands() {
                last_use[root(x) as usize] = i;
            }
        }
    }
    for k in &c.constraints {
        last_use[root(k.node) as usize] = usize::MAX;
    }
    let m31 = m31_nodes(c);

    let mut slots = Slots {
        of: vec![usize::MAX; c.nodes.len()],
        free: vec![],
        next: n_inputs,
    };
    for (i, v) in values.iter().enumerate() {
        if let Value::Input(slot) = v {
            slots.of[i] = *slot;
        }
    }
    let mut code = Code::default();
    for (i, node) in c.nodes.iter().enumerate() {
        if !live[i] || !matches!(values[i], Value::Computed) {
            continue;
        }
        let operands: Vec<usize> = node
            .op
            .operands()
            .iter()
            .map(|x| slots.of[root(*x) as usize])
            .collect();
        // Operands are read before the result is written: the result may take a dead one's slot.
        let mut read: Vec<NodeId> = node.op.operands().into_iter().map(&root).collect();
        read.sort_unstable();
        read.dedup();
        for x in read {
            if last_use[x as usize] == i && matches!(values[x as usize], Value::Computed) {
                slots.release(x as usize);
            }
        }
        let d = slots.allocate(i);
        code.instruction(c, &node.op, d, &operands, &m31, &layout)?;
    }
    for k in &c.constraints {
        code.op(Opcode::Out, &[slots.of[root(k.node) as usize]]);
    }
    code.op(Opcode::Stop, &[]);
    let n_slots = slots.next;
    let mut bytes = vec![];
    for n in [layout.n_mask, layout.n_params, layout.n_relations, n_slots] {
        bytes.extend(u16_of(c, n)?);
    }
    if let Some(slot) = code.slots.iter().find(|s| **s > u16::MAX as usize) {
        return Err(CodegenError::TooManySlots {
            component: c.name.clone(),
            slots: *slot,
        });
    }
    bytes.extend(code.bytes);
    Ok(Program {
        bytes,
        n_slots,
        n_instructions: code.n_instructions,
    })
}

fn u16_of(c: &Component, n: usize) -> Result<[u8; 2], CodegenError> {
    u16::try_from(n)
        .map(u16::to_be_bytes)
        .map_err(|_| CodegenError::TooManySlots {
            component: c.name.clone(),
            slots: n,
        })
}

/// The input slot a leaf node reads, `Same` for a lift, `None` for what needs an instruction.
fn input(c: &Component, layout: &Layout, op: &Op) -> Result<Option<Value>, CodegenError> {
    let param = |i: usize| Some(Value::Input(layout.n_mask + i));
    Ok(match op {
        Op::Trace {
            interaction,
            column,
            offset,
        } => {
            let position = c
                .mask_position(*interaction, *column, *offset)
                .ok_or_else(|| CodegenError::Mask(c.name.clone()))?;
            let start = layout.column_start[*interaction as usize - 1][*column as usize];
            Some(Value::Input(start + position))
        }
        Op::Preprocessed(p) => Some(Value::Input(*p as usize)),
        Op::ClaimParam(p) => param(layout.claim_at + *p as usize),
        Op::ClaimedSum => param(layout.claimed_sum_at),
        Op::RelationZ(r) => param(layout.n_params + relation(c, layout, *r)?),
        Op::RelationAlpha { relation: r, power } => {
            param(layout.n_params + relation(c, layout, *r)? + 1 + *power as usize)
        }
        Op::Lift(x) => Some(Value::Same(*x)),
        _ => None,
    })
}

fn relation(c: &Component, layout: &Layout, r: u32) -> Result<usize, CodegenError> {
    layout
        .relation_at
        .get(r as usize)
        .copied()
        .ok_or_else(|| CodegenError::Relation(c.name.clone(), r))
}

/// The nodes some constraint depends on (the logup entries' nodes feed the logup constraints).
fn live_nodes(c: &Component, root: &impl Fn(NodeId) -> NodeId) -> Vec<bool> {
    let mut live = vec![false; c.nodes.len()];
    for k in &c.constraints {
        live[root(k.node) as usize] = true;
    }
    for i in (0..c.nodes.len()).rev() {
        if live[i] {
            for x in c.nodes[i].op.operands() {
                live[root(x) as usize] = true;
            }
        }
    }
    live
}

/// Nodes whose value is an M31 even at the out-of-domain point (built from constants, claim
/// parameters and the column size only).
fn m31_nodes(c: &Component) -> Vec<bool> {
    let mut m31 = vec![false; c.nodes.len()];
    for (i, node) in c.nodes.iter().enumerate() {
        m31[i] = match &node.op {
            Op::Const(_) | Op::ClaimParam(_) | Op::ColumnSize => true,
            Op::Lift(_) | Op::Add(..) | Op::Sub(..) | Op::Mul(..) | Op::Neg(_) | Op::Inv(_) => {
                node.op.operands().iter().all(|x| m31[*x as usize])
            }
            _ => false,
        };
    }
    m31
}

struct Slots {
    /// The slot of each node (`usize::MAX` until computed).
    of: Vec<usize>,
    free: Vec<usize>,
    next: usize,
}

impl Slots {
    fn release(&mut self, node: usize) {
        self.free.push(self.of[node]);
    }

    fn allocate(&mut self, node: usize) -> usize {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        });
        self.of[node] = slot;
        slot
    }
}

#[derive(Default)]
struct Code {
    bytes: Vec<u8>,
    /// Every slot written, checked against the u16 encoding once.
    slots: Vec<usize>,
    n_instructions: usize,
}

impl Code {
    fn op(&mut self, op: Opcode, slots: &[usize]) {
        self.bytes.push(op as u8);
        for s in slots {
            self.bytes.extend((*s as u16).to_be_bytes());
        }
        self.slots.extend(slots);
        self.n_instructions += 1;
    }

    fn instruction(
        &mut self,
        c: &Component,
        op: &Op,
        d: usize,
        x: &[usize],
        m31: &[bool],
        layout: &Layout,
    ) -> Result<(), CodegenError> {
        match op {
            Op::Mul(_, b) if m31[*b as usize] => self.op(Opcode::MulBase, &[d, x[0], x[1]]),
            Op::Mul(a, _) if m31[*a as usize] => self.op(Opcode::MulBase, &[d, x[1], x[0]]),
            Op::Mul(..) => self.op(Opcode::Mul, &[d, x[0], x[1]]),
            Op::Add(..) => self.op(Opcode::Add, &[d, x[0], x[1]]),
            Op::Sub(..) => self.op(Opcode::Sub, &[d, x[0], x[1]]),
            Op::Neg(_) => self.op(Opcode::Neg, &[d, x[0]]),
            Op::Inv(a) if m31[*a as usize] => self.op(Opcode::InvBase, &[d, x[0]]),
            Op::Inv(_) => self.op(Opcode::Inv, &[d, x[0]]),
            Op::Combine(_) => self.op(Opcode::Combine, &[d, x[0], x[1], x[2], x[3]]),
            Op::ColumnSize => self.op(Opcode::Pow2, &[d, layout.n_mask]),
            Op::Const(k) => {
                self.op(Opcode::Const, &[d]);
                self.bytes.extend(k.to_be_bytes());
            }
            Op::ExtConst([a, b, cc, e]) => {
                self.op(Opcode::ExtConst, &[d]);
                for limb in [e, cc, b, a] {
                    self.bytes.extend(limb.to_be_bytes());
                }
            }
            other => {
                return Err(CodegenError::Unexpected(
                    c.name.clone(),
                    format!("{other:?}"),
                ))
            }
        }
        Ok(())
    }
}

/// The program split into data contracts' runtime code: a `STOP` byte, then the chunk.
pub fn chunks(program: &[u8]) -> Vec<Vec<u8>> {
    program
        .chunks(CHUNK_BYTES)
        .map(|chunk| [&[0u8][..], chunk].concat())
        .collect()
}

/// Lower-case hex, 64 characters a line.
fn hex_lines(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + bytes.len() / 32 + 1);
    for line in bytes.chunks(32) {
        for b in line {
            out.push_str(&format!("{b:02x}"));
        }
        out.push('\n');
    }
    out
}

/// Parses [`generate`]'s hex files back to bytes.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// (file name, contents): `AirEvaluator.sol`, then `<name>.hex` per component.
pub fn generate(air: &Air) -> Result<Vec<(String, String)>, CodegenError> {
    let mut files = vec![("AirEvaluator.sol".to_string(), evaluator_source())];
    for c in &air.components {
        let program = compile(air, c)?;
        files.push((format!("{}.hex", c.name), hex_lines(&program.bytes)));
    }
    Ok(files)
}

/// The evaluator, with the opcodes of [`Opcode`] and the field functions in its two assembly
/// blocks.
pub fn evaluator_source() -> String {
    OPCODES
        .iter()
        .fold(EVALUATOR.replace("{Field}", FIELD.trim()), |text, op| {
            text.replace(&format!("{{{op:?}}}"), &(*op as u8).to_string())
        })
}

const EVALUATOR: &str = include_str!("evm_evaluator.sol");

/// QM31 arithmetic in Yul on packed values with canonical coordinates (< P = 2^31 - 1).
/// Additions are done on all four coordinates at once: the sums stay below 2^32, and a
/// coordinate is at least P exactly when adding 1 to it sets its bit 31. Products are summed
/// unreduced (with multiples of P^2 added to stay non-negative) and reduced once.
const FIELD: &str = r#"
            // Each coordinate of r is below 2P; those at P or more (bit 31 set by adding 1) less P.
            function qadd(x, y) -> r {
                r := add(x, y)
                r := sub(r, mul(shr(31, and(add(r, 0x00000001000000010000000100000001), 0x80000000800000008000000080000000)), 0x7fffffff))
            }
            function qsub(x, y) -> r {
                r := add(x, sub(0x7fffffff7fffffff7fffffff7fffffff, y))
                r := sub(r, mul(shr(31, and(add(r, 0x00000001000000010000000100000001), 0x80000000800000008000000080000000)), 0x7fffffff))
            }
            function qneg(x) -> r {
                r := sub(0x7fffffff7fffffff7fffffff7fffffff, x)
                r := sub(r, mul(shr(31, and(add(r, 0x00000001000000010000000100000001), 0x80000000800000008000000080000000)), 0x7fffffff))
            }
            function qmulBase(x, y) -> r {
                y := and(y, 0xffffffff)
                r := mulmod(and(x, 0xffffffff), y, 0x7fffffff)
                r := or(r, shl(32, mulmod(and(shr(32, x), 0xffffffff), y, 0x7fffffff)))
                r := or(r, shl(64, mulmod(and(shr(64, x), 0xffffffff), y, 0x7fffffff)))
                r := or(r, shl(96, mulmod(shr(96, x), y, 0x7fffffff)))
            }
            // (x0 + x1 u)(y0 + y1 u) = x0 y0 + (2 + i) x1 y1 + (x0 y1 + x1 y0) u, with
            // x0 = a0 + a1 i, x1 = a2 + a3 i (a3 kept in x, b3 in y: few stack slots).
            function qmul(x, y) -> r {
                let a0 := and(x, 0xffffffff)
                let a1 := and(shr(32, x), 0xffffffff)
                let a2 := and(shr(64, x), 0xffffffff)
                x := shr(96, x)
                let b0 := and(y, 0xffffffff)
                let b1 := and(shr(32, y), 0xffffffff)
                let b2 := and(shr(64, y), 0xffffffff)
                y := shr(96, y)
                {
                    // x1 y1 = p1r + p1i i, p1r offset by P^2 to stay non-negative.
                    let p1r := sub(add(mul(a2, b2), 0x3fffffff00000001), mul(x, y))
                    let p1i := add(mul(a2, y), mul(x, b2))
                    r := mod(sub(add(add(mul(a0, b0), 0xbffffffd00000003), shl(1, p1r)), add(mul(a1, b1), p1i)), 0x7fffffff)
                    r := or(r, shl(32, mod(add(add(mul(a0, b1), mul(a1, b0)), add(shl(1, p1i), p1r)), 0x7fffffff)))
                }
                r := or(r, shl(64, mod(sub(add(add(mul(a0, b2), mul(a2, b0)), 0x7ffffffe00000002), add(mul(a1, y), mul(x, b1))), 0x7fffffff)))
                r := or(r, shl(96, mod(add(add(mul(a0, y), mul(a1, b2)), add(mul(a2, b1), mul(x, b0))), 0x7fffffff)))
            }
            // a + b i + c u + e iu (i^2 = -1, u^2 = 2 + i): each coordinate a sum of coordinates,
            // negated ones as P less them.
            function qcombine(a, b, c, e) -> r {
                r := mod(add(add(add(and(a, 0xffffffff), shl(1, and(shr(64, c), 0xffffffff))), sub(0x7fffffff, and(shr(32, b), 0xffffffff))), add(add(sub(0x7fffffff, shr(96, c)), sub(0xfffffffe, shl(1, shr(96, e)))), sub(0x7fffffff, and(shr(64, e), 0xffffffff)))), 0x7fffffff)
                r := or(r, shl(32, mod(add(add(add(and(shr(32, a), 0xffffffff), and(b, 0xffffffff)), add(shl(1, shr(96, c)), and(shr(64, c), 0xffffffff))), add(shl(1, and(shr(64, e), 0xffffffff)), sub(0x7fffffff, shr(96, e)))), 0x7fffffff)))
                r := or(r, shl(64, mod(add(add(and(shr(64, a), 0xffffffff), sub(0x7fffffff, shr(96, b))), add(and(c, 0xffffffff), sub(0x7fffffff, and(shr(32, e), 0xffffffff)))), 0x7fffffff)))
                r := or(r, shl(96, mod(add(add(shr(96, a), and(shr(64, b), 0xffffffff)), add(and(shr(32, c), 0xffffffff), and(e, 0xffffffff))), 0x7fffffff)))
            }
            function minv(v) -> r {
                r := 1
                for { let e := 0x7ffffffd } e { e := shr(1, e) } {
                    if and(e, 1) { r := mulmod(r, v, 0x7fffffff) }
                    v := mulmod(v, v, 0x7fffffff)
                }
            }
            // 1 / (x0 + x1 u) = (x0 - x1 u) / n, n = x0^2 - (2 + i) x1^2; 1 / (r + s i) = (r - s i) / (r^2 + s^2).
            function qinv(x) -> r {
                let a0 := and(x, 0xffffffff)
                let a1 := and(shr(32, x), 0xffffffff)
                let a2 := and(shr(64, x), 0xffffffff)
                let a3 := shr(96, x)
                let nr := 0
                let ni := 0
                {
                    let s1r := addmod(mulmod(a2, a2, 0x7fffffff), sub(0x7fffffff, mulmod(a3, a3, 0x7fffffff)), 0x7fffffff)
                    let s1i := mulmod(shl(1, a2), a3, 0x7fffffff)
                    let s0r := addmod(mulmod(a0, a0, 0x7fffffff), sub(0x7fffffff, mulmod(a1, a1, 0x7fffffff)), 0x7fffffff)
                    nr := addmod(s0r, sub(0xfffffffe, addmod(shl(1, s1r), sub(0x7fffffff, s1i), 0x7fffffff)), 0x7fffffff)
                    ni := addmod(mulmod(shl(1, a0), a1, 0x7fffffff), sub(0xfffffffe, addmod(shl(1, s1i), s1r, 0x7fffffff)), 0x7fffffff)
                }
                let k := minv(addmod(mulmod(nr, nr, 0x7fffffff), mulmod(ni, ni, 0x7fffffff), 0x7fffffff))
                nr := mulmod(nr, k, 0x7fffffff)
                ni := mulmod(sub(0x7fffffff, ni), k, 0x7fffffff)
                r := addmod(mulmod(a0, nr, 0x7fffffff), sub(0x7fffffff, mulmod(a1, ni, 0x7fffffff)), 0x7fffffff)
                r := or(r, shl(32, addmod(mulmod(a0, ni, 0x7fffffff), mulmod(a1, nr, 0x7fffffff), 0x7fffffff)))
                r := or(r, shl(64, addmod(mulmod(a3, ni, 0x7fffffff), sub(0x7fffffff, mulmod(a2, nr, 0x7fffffff)), 0x7fffffff)))
                r := or(r, shl(96, mod(sub(0x7fffffff, addmod(mulmod(a2, ni, 0x7fffffff), mulmod(a3, nr, 0x7fffffff), 0x7fffffff)), 0x7fffffff)))
            }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opcode_is_substituted() {
        let source = evaluator_source();
        let placeholder = source
            .as_bytes()
            .windows(2)
            .any(|w| w[0] == b'{' && w[1].is_ascii_uppercase());
        assert!(!placeholder, "no {{Name}} left in the evaluator");
        for op in OPCODES {
            assert_eq!(OPCODES[*op as usize], *op, "OPCODES is indexed by opcode");
        }
    }

    #[test]
    fn pack_puts_the_first_coordinate_lowest() {
        assert_eq!(
            pack(QM31::from_u32_unchecked(1, 2, 3, 4)),
            1 | 2 << 32 | 3 << 64 | 4 << 96
        );
    }

    #[test]
    fn hex_round_trips_and_chunks_fit_eip_170() {
        let bytes: Vec<u8> = (0..60_000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(parse_hex(&hex_lines(&bytes)), Some(bytes.clone()));
        let chunks = chunks(&bytes);
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.len() <= 24_576 && c[0] == 0));
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c[1..].to_vec()).collect();
        assert_eq!(joined, bytes);
        assert_eq!(parse_hex("0g"), None);
    }
}
