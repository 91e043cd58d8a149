//! The IR as stable, reviewable text: one line per node (`n7: e = n3 * n5`), then the
//! constraints and logup entries that point into them. Deterministic: a change to cairo-air's
//! constraints shows up as a diff of this file.

use std::fmt::Write;

use crate::ir::{Air, Component, LogSize, Op, Ty};

pub fn dump(air: &Air) -> String {
    let mut out = String::new();
    let nodes: usize = air.components.iter().map(|c| c.nodes.len()).sum();
    let _ = writeln!(out, "# The Cairo AIR, extracted from {}.", air.source);
    let _ = writeln!(
        out,
        "# {} components, {} constraints, {} nodes. Regenerate: cargo run -p starfarm-air --bin air-codegen",
        air.components.len(),
        air.n_constraints(),
        nodes
    );
    for r in &air.relations {
        let _ = writeln!(out, "relation {} (alpha powers used: {})", r.name, r.size);
    }
    for v in &air.variants {
        let _ = writeln!(
            out,
            "\nvariant {}: {} preprocessed columns; components: {}",
            v.name,
            v.preprocessed.len(),
            v.components.join(" ")
        );
        for (i, (id, log)) in v.preprocessed.iter().enumerate() {
            let _ = writeln!(out, "  pp{i} {id} (log size {log})");
        }
    }
    for c in &air.components {
        component(&mut out, air, c);
    }
    out
}

fn component(out: &mut String, air: &Air, c: &Component) {
    let size = match c.log_size {
        LogSize::Fixed(l) => l.to_string(),
        LogSize::Claimed => "claimed".into(),
    };
    let _ = writeln!(out, "\ncomponent {}", c.name);
    let _ = writeln!(
        out,
        "  log size {size}; constraint log degree bound: log size + {}",
        c.log_blowup
    );
    if !c.claim_params.is_empty() {
        let _ = writeln!(out, "  claim params: {}", c.claim_params.join(", "));
    }
    if !c.preprocessed.is_empty() {
        let _ = writeln!(out, "  preprocessed: {}", c.preprocessed.join(", "));
    }
    for (i, columns) in c.columns.iter().enumerate() {
        let mut masks = String::new();
        for (j, offsets) in columns.iter().enumerate() {
            if offsets != &[0] {
                let _ = write!(masks, " {j}:{offsets:?}");
            }
        }
        let _ = writeln!(
            out,
            "  interaction {}: {} columns{}{}",
            i + 1,
            columns.len(),
            if masks.is_empty() { "" } else { "; masks" },
            masks
        );
    }
    for (i, node) in c.nodes.iter().enumerate() {
        let ty = match node.ty {
            Ty::Base => 'b',
            Ty::Ext => 'e',
        };
        let _ = writeln!(out, "  n{i}: {ty} = {}", op_text(air, c, &node.op));
    }
    for (i, k) in c.constraints.iter().enumerate() {
        let _ = writeln!(
            out,
            "  constraint {i} = n{} (degree bound {})",
            k.node, k.degree_bound
        );
    }
    for (i, e) in c.logup.iter().enumerate() {
        let values: Vec<String> = e.values.iter().map(|v| format!("n{v}")).collect();
        let _ = writeln!(
            out,
            "  logup {i}: {} multiplicity n{} values ({})",
            air.relations[e.relation as usize].name,
            e.multiplicity,
            values.join(", ")
        );
    }
}

fn op_text(air: &Air, c: &Component, op: &Op) -> String {
    let relation = |r: &u32| air.relations[*r as usize].name.as_str();
    match op {
        Op::Trace {
            interaction,
            column,
            offset,
        } => format!("trace{interaction}[{column}]@{offset}"),
        Op::Preprocessed(i) => format!("preprocessed[{}]", c.preprocessed[*i as usize]),
        Op::ClaimParam(i) => format!("claim.{}", c.claim_params[*i as usize]),
        Op::ColumnSize => "column_size".into(),
        Op::Const(v) => v.to_string(),
        Op::ExtConst([a, b, c, d]) => format!("qm31({a}, {b}, {c}, {d})"),
        Op::RelationZ(r) => format!("{}.z", relation(r)),
        Op::RelationAlpha { relation: r, power } => format!("{}.alpha^{power}", relation(r)),
        Op::ClaimedSum => "claimed_sum".into(),
        Op::Lift(x) => format!("lift n{x}"),
        Op::Combine([a, b, c, d]) => format!("combine(n{a}, n{b}, n{c}, n{d})"),
        Op::Add(x, y) => format!("n{x} + n{y}"),
        Op::Sub(x, y) => format!("n{x} - n{y}"),
        Op::Mul(x, y) => format!("n{x} * n{y}"),
        Op::Neg(x) => format!("-n{x}"),
        Op::Inv(x) => format!("1 / n{x}"),
    }
}
