//! The AIR as data: per component, its columns, a straight-line program of field operations
//! (common subexpressions shared) and the constraints and logup entries that point into it.
//!
//! Values are typed: a *base* node is an M31 on the trace domain (a QM31 at an out-of-domain
//! point, where columns are sampled in the extension); an *ext* node is always a QM31.

use serde::{Deserialize, Serialize};

/// Index of a node in [`Component::nodes`]; operands always precede their users.
pub type NodeId = u32;

/// The whole Cairo AIR.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Air {
    /// The crates the IR was extracted from.
    pub source: String,
    /// The logup relations the components use (name and number of alpha powers).
    pub relations: Vec<Relation>,
    /// In the order of `CairoComponents` (the order of the composition polynomial).
    pub components: Vec<Component>,
    pub variants: Vec<Variant>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    pub name: String,
    pub size: u32,
}

/// How many rows a component has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogSize {
    /// Fixed by the AIR (lookup tables).
    Fixed(u32),
    /// Stated by the proof's claim.
    Claimed,
}

/// One component: its columns, its program and what the program's nodes mean.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    pub log_size: LogSize,
    /// `max_constraint_log_degree_bound - log_size`.
    pub log_blowup: u32,
    /// Values of the proof's claim the constraints use (builtin segment starts, memory id
    /// offsets), in the order of [`Op::ClaimParam`].
    pub claim_params: Vec<String>,
    /// Preprocessed columns by id, in the order of [`Op::Preprocessed`]. `seq_{log_size}` is the
    /// sequence column of the component's own log size.
    pub preprocessed: Vec<String>,
    /// Per interaction (index 0: the trace, 1: the interaction trace), per column, the mask
    /// offsets sampled, as the component reads them.
    pub columns: Vec<Vec<Vec<i32>>>,
    pub nodes: Vec<Node>,
    pub constraints: Vec<Constraint>,
    /// The logup entries (`add_to_relation` calls), in order.
    pub logup: Vec<LogupEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ty {
    Base,
    Ext,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Node {
    pub ty: Ty,
    pub op: Op,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// Base: column `column` of interaction `interaction` (1 or 2) at row offset `offset`.
    Trace {
        interaction: u32,
        column: u32,
        offset: i32,
    },
    /// Base: a preprocessed column, index into [`Component::preprocessed`].
    Preprocessed(u32),
    /// Base: index into [`Component::claim_params`].
    ClaimParam(u32),
    /// Base: `2^log_size`.
    ColumnSize,
    /// Base constant (canonical, < 2^31 - 1).
    Const(u32),
    /// Ext constant, as `QM31::from_m31_array`.
    ExtConst([u32; 4]),
    /// Ext: the logup `z` of relation `relation` (index into [`Air::relations`]).
    RelationZ(u32),
    /// Ext: `alpha^power` of relation `relation`.
    RelationAlpha {
        relation: u32,
        power: u32,
    },
    /// Ext: the component's claimed logup sum.
    ClaimedSum,
    /// Ext from a base value.
    Lift(NodeId),
    /// Ext from four base values, as `QM31::from_partial_evals`.
    Combine([NodeId; 4]),
    /// Operations; the result is ext when any operand is.
    Add(NodeId, NodeId),
    Sub(NodeId, NodeId),
    Mul(NodeId, NodeId),
    Neg(NodeId),
    /// Base only.
    Inv(NodeId),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    /// An ext node; the constraint holds where it is zero.
    pub node: NodeId,
    /// Degree bound relative to the trace size (as `ExprEvaluator::constraint_degree_bounds`).
    pub degree_bound: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogupEntry {
    pub relation: u32,
    /// Ext node.
    pub multiplicity: NodeId,
    /// Base nodes, combined as `sum(alpha^i * values[i]) - z`.
    pub values: Vec<NodeId>,
}

/// A preprocessed trace the prover can use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub name: String,
    /// The preprocessed columns in commitment order: (id, log size).
    pub preprocessed: Vec<(String, u32)>,
    /// Components whose preprocessed columns this trace has (for the ones sized by the claim,
    /// at some log size the trace has a sequence column for).
    pub components: Vec<String>,
}

impl Op {
    /// The nodes this operation reads.
    pub fn operands(&self) -> Vec<NodeId> {
        match self {
            Op::Lift(x) | Op::Neg(x) | Op::Inv(x) => vec![*x],
            Op::Add(x, y) | Op::Sub(x, y) | Op::Mul(x, y) => vec![*x, *y],
            Op::Combine(parts) => parts.to_vec(),
            _ => vec![],
        }
    }

    /// The same operation on renumbered operands.
    pub fn map_operands(&self, f: impl Fn(NodeId) -> NodeId) -> Op {
        match self {
            Op::Lift(x) => Op::Lift(f(*x)),
            Op::Neg(x) => Op::Neg(f(*x)),
            Op::Inv(x) => Op::Inv(f(*x)),
            Op::Add(x, y) => Op::Add(f(*x), f(*y)),
            Op::Sub(x, y) => Op::Sub(f(*x), f(*y)),
            Op::Mul(x, y) => Op::Mul(f(*x), f(*y)),
            Op::Combine(parts) => Op::Combine(parts.map(f)),
            other => other.clone(),
        }
    }
}

impl Component {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The preprocessed column id at `log_size` (substitutes the component's own log size).
    pub fn preprocessed_id(&self, index: usize, log_size: u32) -> String {
        self.preprocessed[index].replace("{log_size}", &log_size.to_string())
    }

    /// Position of `offset` in the mask of (`interaction`, `column`).
    pub fn mask_position(&self, interaction: u32, column: u32, offset: i32) -> Option<usize> {
        self.columns
            .get(interaction as usize - 1)?
            .get(column as usize)?
            .iter()
            .position(|o| *o == offset)
    }
}

impl Air {
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn n_constraints(&self) -> usize {
        self.components.iter().map(|c| c.constraints.len()).sum()
    }
}
