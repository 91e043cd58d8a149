//! Lowering of `ExprEvaluator` expression trees to the IR's straight-line program: identical
//! subexpressions become one node, exact field identities (`x + 0`, `x * 1`, constants, base
//! operations under a lift) are folded.
//!
//! Two evaluations of the same component are lowered side by side: one at log size / claim
//! values `a`, one at `b`. Where the trees differ, the difference must be a claim value (a
//! constant that is the sentinel in both) or a preprocessed id naming the log size; anything
//! else is an error. This is how claim-dependent constants become parameters without reading
//! the AIR's source.

use std::collections::HashMap;

use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo_constraint_framework::expr::{BaseExpr, ExprEvaluator, ExtExpr};

use crate::ir::{Node, NodeId, Op, Relation, Ty};
use crate::ExtractError;

/// What differs between the two evaluations.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    pub log_size: (u32, u32),
    /// Sentinel of the claim parameter, when the component has one.
    pub sentinel: Option<(u32, u32)>,
}

pub struct Lowering<'a> {
    pub component: &'a str,
    a: &'a ExprEvaluator,
    b: &'a ExprEvaluator,
    pair: Pair,
    /// Columns of interaction 1; the evaluator numbers all columns in one sequence.
    n_trace_columns: usize,
    pub nodes: Vec<Node>,
    index: HashMap<Node, NodeId>,
    intermediates: HashMap<String, NodeId>,
    columns: HashMap<String, (u32, u32, i32)>,
    pub preprocessed: Vec<String>,
    pub relations: &'a mut Vec<Relation>,
}

fn m31(v: u32) -> M31 {
    M31::from_u32_unchecked(v)
}

impl<'a> Lowering<'a> {
    pub fn new(
        component: &'a str,
        a: &'a ExprEvaluator,
        b: &'a ExprEvaluator,
        pair: Pair,
        n_trace_columns: usize,
        relations: &'a mut Vec<Relation>,
    ) -> Self {
        Self {
            component,
            a,
            b,
            pair,
            n_trace_columns,
            nodes: vec![],
            index: HashMap::new(),
            intermediates: HashMap::new(),
            columns: HashMap::new(),
            preprocessed: vec![],
            relations,
        }
    }

    fn err(&self, what: String) -> ExtractError {
        ExtractError::Lowering {
            component: self.component.to_string(),
            what,
        }
    }

    pub fn ty(&self, id: NodeId) -> Ty {
        self.nodes[id as usize].ty
    }

    fn op(&self, id: NodeId) -> &Op {
        &self.nodes[id as usize].op
    }

    fn intern(&mut self, ty: Ty, op: Op) -> NodeId {
        let node = Node { ty, op };
        if let Some(id) = self.index.get(&node) {
            return *id;
        }
        let id = self.nodes.len() as NodeId;
        self.nodes.push(node.clone());
        self.index.insert(node, id);
        id
    }

    fn base_const(&self, id: NodeId) -> Option<M31> {
        match self.op(id) {
            Op::Const(c) => Some(m31(*c)),
            _ => None,
        }
    }

    fn ext_const(&self, id: NodeId) -> Option<QM31> {
        match self.op(id) {
            Op::ExtConst([a, b, c, d]) => {
                Some(QM31::from_m31_array([m31(*a), m31(*b), m31(*c), m31(*d)]))
            }
            _ => None,
        }
    }

    fn constant(&self, id: NodeId) -> Option<QM31> {
        match self.ty(id) {
            Ty::Base => self.base_const(id).map(QM31::from),
            Ty::Ext => self.ext_const(id),
        }
    }

    fn lifted(&self, id: NodeId) -> Option<NodeId> {
        match self.op(id) {
            Op::Lift(b) => Some(*b),
            _ => None,
        }
    }

    fn make_const(&mut self, ty: Ty, value: QM31) -> NodeId {
        let [a, b, c, d] = value.to_m31_array();
        match ty {
            Ty::Base => self.intern(Ty::Base, Op::Const(a.0)),
            Ty::Ext => self.intern(Ty::Ext, Op::ExtConst([a.0, b.0, c.0, d.0])),
        }
    }

    fn same_ty(&mut self, x: NodeId, y: NodeId) -> (Ty, NodeId, NodeId) {
        match (self.ty(x), self.ty(y)) {
            (Ty::Base, Ty::Ext) => (Ty::Ext, self.lift(x), y),
            (Ty::Ext, Ty::Base) => (Ty::Ext, x, self.lift(y)),
            (t, _) => (t, x, y),
        }
    }

    pub fn lift(&mut self, x: NodeId) -> NodeId {
        if self.ty(x) == Ty::Ext {
            return x;
        }
        if let Some(c) = self.base_const(x) {
            return self.make_const(Ty::Ext, c.into());
        }
        self.intern(Ty::Ext, Op::Lift(x))
    }

    pub fn add(&mut self, x: NodeId, y: NodeId) -> NodeId {
        let (ty, x, y) = self.same_ty(x, y);
        match (self.constant(x), self.constant(y)) {
            (Some(a), Some(b)) => return self.make_const(ty, a + b),
            (Some(a), _) if a == QM31::from(0) => return y,
            (_, Some(b)) if b == QM31::from(0) => return x,
            _ => {}
        }
        if let (Some(a), Some(b)) = (self.lifted(x), self.lifted(y)) {
            let s = self.add(a, b);
            return self.lift(s);
        }
        self.intern(ty, Op::Add(x, y))
    }

    pub fn sub(&mut self, x: NodeId, y: NodeId) -> NodeId {
        let (ty, x, y) = self.same_ty(x, y);
        match (self.constant(x), self.constant(y)) {
            (Some(a), Some(b)) => return self.make_const(ty, a - b),
            (Some(a), _) if a == QM31::from(0) => return self.neg(y),
            (_, Some(b)) if b == QM31::from(0) => return x,
            _ => {}
        }
        if let (Some(a), Some(b)) = (self.lifted(x), self.lifted(y)) {
            let s = self.sub(a, b);
            return self.lift(s);
        }
        self.intern(ty, Op::Sub(x, y))
    }

    pub fn mul(&mut self, x: NodeId, y: NodeId) -> NodeId {
        let (ty, x, y) = self.same_ty(x, y);
        let (zero, one) = (QM31::from(0), QM31::from(1));
        match (self.constant(x), self.constant(y)) {
            (Some(a), Some(b)) => return self.make_const(ty, a * b),
            (Some(a), _) | (_, Some(a)) if a == zero => return self.make_const(ty, zero),
            (Some(a), _) if a == one => return y,
            (_, Some(b)) if b == one => return x,
            _ => {}
        }
        if let (Some(a), Some(b)) = (self.lifted(x), self.lifted(y)) {
            let s = self.mul(a, b);
            return self.lift(s);
        }
        self.intern(ty, Op::Mul(x, y))
    }

    pub fn neg(&mut self, x: NodeId) -> NodeId {
        let ty = self.ty(x);
        if let Some(c) = self.constant(x) {
            return self.make_const(ty, -c);
        }
        match *self.op(x) {
            Op::Neg(inner) => inner,
            Op::Lift(b) => {
                let n = self.neg(b);
                self.lift(n)
            }
            _ => self.intern(ty, Op::Neg(x)),
        }
    }

    fn inv(&mut self, x: NodeId) -> NodeId {
        if let Some(c) = self.base_const(x) {
            if c != M31::from(0) {
                return self.make_const(Ty::Base, c.inverse().into());
            }
        }
        self.intern(Ty::Base, Op::Inv(x))
    }

    fn combine(&mut self, parts: [NodeId; 4]) -> NodeId {
        let consts: Vec<Option<M31>> = parts.iter().map(|p| self.base_const(*p)).collect();
        if let [Some(a), Some(b), Some(c), Some(d)] = consts[..] {
            return self.make_const(Ty::Ext, QM31::from_m31_array([a, b, c, d]));
        }
        if consts[1..].iter().all(|c| *c == Some(M31::from(0))) {
            return self.lift(parts[0]);
        }
        self.intern(Ty::Ext, Op::Combine(parts))
    }

    /// Interaction, per-interaction column and offset of a column expression.
    fn column(&mut self, col: &BaseExpr) -> Result<(u32, u32, i32), ExtractError> {
        let text = col.format_expr();
        if let Some(c) = self.columns.get(&text) {
            return Ok(*c);
        }
        let parse = || -> Option<(u32, usize, i32)> {
            let rest = text.strip_prefix("trace_")?;
            let (interaction, rest) = rest.split_once("_column_")?;
            let (idx, offset) = rest.split_once("_offset_")?;
            let offset = match offset.strip_prefix("neg_") {
                Some(abs) => -abs.parse::<i32>().ok()?,
                None => offset.parse().ok()?,
            };
            Some((interaction.parse().ok()?, idx.parse().ok()?, offset))
        };
        let (interaction, idx, offset) =
            parse().ok_or_else(|| self.err(format!("unexpected column {text}")))?;
        // Interaction 1 columns come first, then the interaction trace (logup).
        let column = match interaction {
            1 if idx < self.n_trace_columns => idx,
            2 if idx >= self.n_trace_columns => idx - self.n_trace_columns,
            _ => {
                return Err(self.err(format!(
                    "column {text} out of the expected interaction order"
                )))
            }
        };
        let c = (interaction, column as u32, offset);
        self.columns.insert(text, c);
        Ok(c)
    }

    /// `k` when the two constants are `k * 2^log_size` at both log sizes (the AIR computed
    /// them from its log size, as `memory_address_to_id` does for its split).
    fn column_size_multiple(&self, x: u32, y: u32) -> Option<u32> {
        let (la, lb) = self.pair.log_size;
        if la == lb || x == y {
            return None;
        }
        let k = x >> la;
        (k << la == x && y >> lb == k && k << lb == y).then_some(k)
    }

    fn preprocessed_index(&mut self, id: String) -> u32 {
        match self.preprocessed.iter().position(|p| *p == id) {
            Some(i) => i as u32,
            None => {
                self.preprocessed.push(id);
                self.preprocessed.len() as u32 - 1
            }
        }
    }

    fn base_param(&mut self, pa: &str, pb: &str) -> Result<NodeId, ExtractError> {
        if pa.starts_with("intermediate") && pa == pb {
            return self.intermediate(pa);
        }
        if pa == "column_size" && pb == "column_size" {
            return Ok(self.intern(Ty::Base, Op::ColumnSize));
        }
        let id = if pa == pb {
            pa.to_string()
        } else {
            let (la, lb) = self.pair.log_size;
            let ia = pa.replace(&la.to_string(), "{log_size}");
            let ib = pb.replace(&lb.to_string(), "{log_size}");
            if ia != ib || !ia.contains("{log_size}") {
                return Err(self.err(format!("parameters {pa} / {pb} differ")));
            }
            ia
        };
        let index = self.preprocessed_index(id);
        Ok(self.intern(Ty::Base, Op::Preprocessed(index)))
    }

    fn intermediate(&mut self, name: &str) -> Result<NodeId, ExtractError> {
        if let Some(id) = self.intermediates.get(name) {
            return Ok(*id);
        }
        let (a, b) = (self.a, self.b);
        let id = match (a.intermediates.get(name), b.intermediates.get(name)) {
            (Some(ea), Some(eb)) => self.base(ea, eb)?,
            _ => match (a.ext_intermediates.get(name), b.ext_intermediates.get(name)) {
                (Some(ea), Some(eb)) => self.ext(ea, eb)?,
                _ => return Err(self.err(format!("unknown intermediate {name}"))),
            },
        };
        self.intermediates.insert(name.to_string(), id);
        Ok(id)
    }

    pub fn base(&mut self, a: &BaseExpr, b: &BaseExpr) -> Result<NodeId, ExtractError> {
        use BaseExpr as E;
        Ok(match (a, b) {
            (E::Col(_), E::Col(_)) if a == b => {
                let (interaction, column, offset) = self.column(a)?;
                self.intern(
                    Ty::Base,
                    Op::Trace {
                        interaction,
                        column,
                        offset,
                    },
                )
            }
            (E::Const(x), E::Const(y)) if x == y => self.intern(Ty::Base, Op::Const(x.0)),
            (E::Const(x), E::Const(y)) if self.pair.sentinel == Some((x.0, y.0)) => {
                self.intern(Ty::Base, Op::ClaimParam(0))
            }
            (E::Const(x), E::Const(y)) if self.column_size_multiple(x.0, y.0).is_some() => {
                let k = self.column_size_multiple(x.0, y.0).unwrap_or_default();
                let (k, size) = (
                    self.intern(Ty::Base, Op::Const(k)),
                    self.intern(Ty::Base, Op::ColumnSize),
                );
                self.mul(k, size)
            }
            (E::Param(pa), E::Param(pb)) => self.base_param(pa, pb)?,
            (E::Add(a1, a2), E::Add(b1, b2)) => {
                let (x, y) = (self.base(a1, b1)?, self.base(a2, b2)?);
                self.add(x, y)
            }
            (E::Sub(a1, a2), E::Sub(b1, b2)) => {
                let (x, y) = (self.base(a1, b1)?, self.base(a2, b2)?);
                self.sub(x, y)
            }
            (E::Mul(a1, a2), E::Mul(b1, b2)) => {
                let (x, y) = (self.base(a1, b1)?, self.base(a2, b2)?);
                self.mul(x, y)
            }
            (E::Neg(a1), E::Neg(b1)) => {
                let x = self.base(a1, b1)?;
                self.neg(x)
            }
            (E::Inv(a1), E::Inv(b1)) => {
                let x = self.base(a1, b1)?;
                self.inv(x)
            }
            _ => {
                return Err(self.err(format!(
                    "the evaluations differ: {} / {}",
                    a.format_expr(),
                    b.format_expr()
                )))
            }
        })
    }

    fn relation(&mut self, name: &str, power: Option<u32>) -> u32 {
        let index = match self.relations.iter().position(|r| r.name == name) {
            Some(i) => i,
            None => {
                self.relations.push(Relation {
                    name: name.to_string(),
                    size: 0,
                });
                self.relations.len() - 1
            }
        };
        if let Some(p) = power {
            let r = &mut self.relations[index];
            r.size = r.size.max(p + 1);
        }
        index as u32
    }

    fn ext_param(&mut self, pa: &str, pb: &str) -> Result<NodeId, ExtractError> {
        if pa != pb {
            return Err(self.err(format!("parameters {pa} / {pb} differ")));
        }
        if pa.starts_with("intermediate") {
            return self.intermediate(pa);
        }
        if pa == "claimed_sum" {
            return Ok(self.intern(Ty::Ext, Op::ClaimedSum));
        }
        if let Some(name) = pa.strip_suffix("_z") {
            let relation = self.relation(name, None);
            return Ok(self.intern(Ty::Ext, Op::RelationZ(relation)));
        }
        if let Some((name, power)) = pa.rsplit_once("_alpha") {
            if let Ok(power) = power.parse::<u32>() {
                let relation = self.relation(name, Some(power));
                return Ok(self.intern(Ty::Ext, Op::RelationAlpha { relation, power }));
            }
        }
        Err(self.err(format!("unknown parameter {pa}")))
    }

    pub fn ext(&mut self, a: &ExtExpr, b: &ExtExpr) -> Result<NodeId, ExtractError> {
        use ExtExpr as E;
        Ok(match (a, b) {
            (E::SecureCol(pa), E::SecureCol(pb)) => {
                let mut parts = [0; 4];
                for i in 0..4 {
                    parts[i] = self.base(&pa[i], &pb[i])?;
                }
                self.combine(parts)
            }
            (E::Const(x), E::Const(y)) if x == y => self.make_const(Ty::Ext, *x),
            (E::Param(pa), E::Param(pb)) => self.ext_param(pa, pb)?,
            (E::Add(a1, a2), E::Add(b1, b2)) => {
                let (x, y) = (self.ext(a1, b1)?, self.ext(a2, b2)?);
                self.add(x, y)
            }
            (E::Sub(a1, a2), E::Sub(b1, b2)) => {
                let (x, y) = (self.ext(a1, b1)?, self.ext(a2, b2)?);
                self.sub(x, y)
            }
            (E::Mul(a1, a2), E::Mul(b1, b2)) => {
                let (x, y) = (self.ext(a1, b1)?, self.ext(a2, b2)?);
                self.mul(x, y)
            }
            (E::Neg(a1), E::Neg(b1)) => {
                let x = self.ext(a1, b1)?;
                self.neg(x)
            }
            _ => {
                return Err(self.err(format!(
                    "the evaluations differ: {} / {}",
                    a.format_expr(),
                    b.format_expr()
                )))
            }
        })
    }

    /// The values and relation of a logup denominator `sum(alpha_i * v_i) - z`, as
    /// `ExprEvaluator` builds it.
    pub fn combination(
        &mut self,
        a: &ExtExpr,
        b: &ExtExpr,
    ) -> Result<(u32, Vec<NodeId>), ExtractError> {
        let bad = |s: &Self| s.err(format!("unexpected logup term {}", a.format_expr()));
        let (ExtExpr::Sub(fold_a, z), ExtExpr::Sub(fold_b, _)) = (a, b) else {
            return Err(bad(self));
        };
        let ExtExpr::Param(z) = &**z else {
            return Err(bad(self));
        };
        let name = z.strip_suffix("_z").ok_or_else(|| bad(self))?.to_string();
        let relation = self.relation(&name, None);
        let mut values = vec![];
        let (mut fa, mut fb) = (&**fold_a, &**fold_b);
        while let (ExtExpr::Add(ra, ta), ExtExpr::Add(rb, tb)) = (fa, fb) {
            let (ExtExpr::Mul(_, va), ExtExpr::Mul(_, vb)) = (&**ta, &**tb) else {
                return Err(bad(self));
            };
            let (ExtExpr::SecureCol(va), ExtExpr::SecureCol(vb)) = (&**va, &**vb) else {
                return Err(bad(self));
            };
            values.push(self.base(&va[0], &vb[0])?);
            (fa, fb) = (&**ra, &**rb);
        }
        values.reverse();
        Ok((relation, values))
    }
}

/// The nodes `roots` depend on (folding leaves constants and lifts nobody reads), renumbered
/// in order; `remap[old]` is the new id of a kept node.
pub fn prune(nodes: &[Node], roots: &[NodeId]) -> (Vec<Node>, Vec<Option<NodeId>>) {
    let mut live = vec![false; nodes.len()];
    for r in roots {
        live[*r as usize] = true;
    }
    for i in (0..nodes.len()).rev() {
        if live[i] {
            for o in nodes[i].op.operands() {
                live[o as usize] = true;
            }
        }
    }
    let mut remap = vec![None; nodes.len()];
    let mut kept = vec![];
    for (i, node) in nodes.iter().enumerate() {
        if live[i] {
            remap[i] = Some(kept.len() as NodeId);
            let op = node.op.map_operands(|o| remap[o as usize].unwrap_or(o));
            kept.push(Node { ty: node.ty, op });
        }
    }
    (kept, remap)
}

#[cfg(test)]
mod tests {
    use stwo::core::fields::m31::M31;
    use stwo_constraint_framework::expr::{BaseExpr, ExprEvaluator, ExtExpr};

    use super::{prune, Lowering, Pair};
    use crate::ir::{Op, Ty};

    fn col(idx: usize) -> BaseExpr {
        use stwo_constraint_framework::EvalAtRow;
        let mut e = ExprEvaluator::new();
        e.cur_var_index = idx;
        e.next_trace_mask()
    }

    fn with_lowering(f: impl FnOnce(&mut Lowering)) {
        let (a, b) = (ExprEvaluator::new(), ExprEvaluator::new());
        let pair = Pair {
            log_size: (13, 17),
            sentinel: Some((1000, 2000)),
        };
        let mut relations = vec![];
        let mut lowering = Lowering::new("test", &a, &b, pair, 4, &mut relations);
        f(&mut lowering);
    }

    #[test]
    fn identical_subexpressions_are_one_node_and_identities_fold() {
        with_lowering(|l| {
            let x = col(0) * col(1);
            let e = x.clone()
                + x.clone() * BaseExpr::from(M31::from(1u32))
                + BaseExpr::from(M31::from(0u32));
            let id = l.base(&e, &e).expect("lowers");
            // x (three nodes: two columns, one product) and x + x: nothing else is read.
            let (nodes, remap) = prune(&l.nodes, &[id]);
            assert_eq!(nodes.len(), 4);
            let id = remap[id as usize].expect("kept");
            assert!(matches!(nodes[id as usize].op, Op::Add(p, q) if p == q));
        });
    }

    #[test]
    fn base_operations_under_a_lift_stay_in_the_base_field() {
        with_lowering(|l| {
            let (x, y) = (ExtExpr::from(col(0)), ExtExpr::from(col(1)));
            let id = l.ext(&(x.clone() * y.clone()), &(x * y)).expect("lowers");
            let node = &l.nodes[id as usize];
            assert_eq!(node.ty, Ty::Ext);
            let Op::Lift(inner) = node.op else {
                panic!("a lift of the base product, not {:?}", node.op)
            };
            assert!(matches!(l.nodes[inner as usize].op, Op::Mul(..)));
        });
    }

    #[test]
    fn differences_between_the_evaluations_become_parameters_or_fail() {
        with_lowering(|l| {
            let c = |v: u32| BaseExpr::from(M31::from_u32_unchecked(v));
            let id = l.base(&c(1000), &c(2000)).expect("the sentinel");
            assert_eq!(l.nodes[id as usize].op, Op::ClaimParam(0));
            let id = l.base(&c(3 << 13), &c(3 << 17)).expect("3 * 2^log_size");
            assert!(matches!(l.nodes[id as usize].op, Op::Mul(..)));
            let seq = |n: u32| BaseExpr::Param(format!("seq_{n}"));
            let id = l.base(&seq(13), &seq(17)).expect("a sized column");
            assert_eq!(l.nodes[id as usize].op, Op::Preprocessed(0));
            assert_eq!(l.preprocessed, ["seq_{log_size}"]);
            assert!(l.base(&c(5), &c(6)).is_err(), "any other difference fails");
            assert!(l.base(&seq(13), &seq(16)).is_err());
        });
    }
}
